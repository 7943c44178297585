#!/usr/bin/env bash
# lvsd at scale (issue #15; see bench/README.md, `make bench-scale`).
#
# Boots the lab `benchlvsd` (lab/topologies/bench-large.yml: lvs1 alone, 1536 MiB), copies the
# agents (files/lib/lvs_agents) and the core (plugins/module_utils/lvs_cluster) onto the guest,
# runs bench/lvsd_scale.py there: per scale an lvs.cf of SERVICES x SERVERS over 20 shared real
# server addresses (listeners on the guest's lo), lvsd started, its table programmed, a steady
# window with --resync 10 and one with --resync 3600, a SIGHUP with 1 % of the services changed,
# RSS, a cProfile window. Copies the JSON to bench/results/lvsd-scale-<UTC stamp>.json, takes the
# lab down (always: success, failure, interrupt) and prints the report. Extra arguments go to
# `lvsd_scale.py measure` (e.g. --scales 100x10 --window 20). Needs root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export LAB_NAME=benchlvsd
export LAB_TOPOLOGY=lab/topologies/bench-large.yml
ssh_config=.lab/$LAB_NAME/ssh_config
guest=lvs1
remote=/root/lvsdscale
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/results
out=bench/results/lvsd-scale-$stamp.json

# shellcheck source=bench/lab-session.sh
source bench/lab-session.sh
guard_lab

on_guest() {
  ssh -F "$ssh_config" -o ServerAliveInterval=30 "$guest" "$@"
}

raise_map_count
"$labctl" up
commit=$(tree_commit plugins/module_utils files/lib)
on_guest "rm -rf $remote && mkdir -p $remote/lib"
tar -C files/lib --exclude=__pycache__ -cf - lvs_agents | on_guest "tar -C $remote/lib -xf -"
tar -C plugins/module_utils --exclude=__pycache__ -cf - lvs_cluster | on_guest "tar -C $remote/lib -xf -"
scp -q -F "$ssh_config" bench/lvsd_scale.py "$guest:$remote/"
host_load=$(cut -d' ' -f1-3 /proc/loadavg)
measure_rc=0
on_guest "cd $remote && BENCH_COMMIT=$commit BENCH_HOST_LOADAVG='$host_load'" \
  "python3 lvsd_scale.py measure --lib $remote/lib --out $remote/result.json $*" || measure_rc=$?
scp -q -F "$ssh_config" "$guest:$remote/result.json" "$out"
python3 - "$out" <<'PY'
import json, sys
for scale in json.load(open(sys.argv[1]))["scales"]:
    if scale.get("profile"):
        profile = scale["profile"]
        with open(sys.argv[1].replace(".json", ".profile.txt"), "w") as stream:
            stream.write(profile)
PY
lab_down
release_lab
echo "result: $out"
python3 bench/lvsd_scale.py report "$out"
exit "$measure_rc"
