#!/usr/bin/env bash
# Benchmark the IPVS reconcile engine against ipvsadm in one UML guest (see bench/README.md).
#
# Boots the lab `bench` (topology bench-large: lvs1 alone, 1.5 GiB for the 10,000 x 10 rung), copies the core package plugins/module_utils/lvs_cluster
# into a package on the guest, runs bench/reconcile.py there, copies the JSON result to
# bench/results/reconcile-<UTC timestamp>.json, takes the lab down (always: on success, on
# failure and on interrupt) and prints the report. Extra arguments go to `reconcile.py measure`
# (e.g. --runs 3). Needs root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export LAB_NAME=bench
export LAB_TOPOLOGY=lab/topologies/bench-large.yml
ssh_config=.lab/$LAB_NAME/ssh_config
guest=lvs1
remote=/root/lvsbench
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/results
out=bench/results/reconcile-$stamp.json
profile=bench/results/reconcile-$stamp.profile.txt

# shellcheck source=bench/lab-session.sh
source bench/lab-session.sh
guard_lab

on_guest() {
  ssh -F "$ssh_config" "$guest" "$@"
}

raise_map_count
"$labctl" up
commit=$(tree_commit plugins/module_utils)
on_guest "rm -rf $remote && mkdir -p $remote"
tar -C plugins/module_utils --exclude=__pycache__ -cf - lvs_cluster | on_guest "tar -C $remote -xf -"
scp -q -F "$ssh_config" bench/reconcile.py bench/reconcile_table.py bench/reconcile_breakdown.py \
  "$guest:$remote/"
host_load=$(cut -d' ' -f1-3 /proc/loadavg)
on_guest "cd $remote && BENCH_ENGINE_COMMIT=$commit BENCH_HOST_LOADAVG='$host_load'" \
  "python3 reconcile.py measure" \
  "--engine $remote/lvs_cluster --out $remote/result.json $*"
scp -q -F "$ssh_config" "$guest:$remote/result.json" "$out"
python3 - "$out" "$profile" <<'EOF'
import json, sys
result = json.load(open(sys.argv[1]))
with open(sys.argv[2], "w") as f:
    for name, rung in result["rungs"].items():
        f.write(f"==== {name}\n{rung.get('profile', '')}\n")
EOF
lab_down
release_lab
echo "result: $out (cProfile of a no-op read: $profile)"
python3 bench/reconcile.py report "$out"
