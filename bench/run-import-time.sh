#!/usr/bin/env bash
# Python start-up and import cost in a lab guest, before/after (issue #15; see bench/README.md,
# `make bench-import`).
#
# Boots the lab `benchimport` (lab/topologies/router.yml), copies two trees onto the
# guest (the core plugins/module_utils/lvs_cluster and the agents files/lib/lvs_agents): the
# working tree, and the one of commit $BENCH_IMPORT_BEFORE (default c08c317, the last commit of
# 2026-12-06, when the issue measured ~1.0 s for the engine's import), and runs
# bench/import_time.py there, the two trees' runs interleaved. Copies the JSON to
# bench/results/import-<UTC stamp>.json, takes the lab down (always) and prints the report; its
# last lines are engine_import_min_s / engine_import_s `<before> -> <after>`. Extra arguments go
# to import_time.py (e.g. --runs 9). Needs root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export LAB_NAME=benchimport
export LAB_TOPOLOGY=lab/topologies/router.yml
ssh_config=.lab/$LAB_NAME/ssh_config
guest=lvs1
remote=/root/importbench
before_commit=${BENCH_IMPORT_BEFORE:-c08c317}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/results
out=bench/results/import-$stamp.json

# shellcheck source=bench/lab-session.sh
source bench/lab-session.sh
guard_lab

on_guest() {
  ssh -F "$ssh_config" "$guest" "$@"
}

"$labctl" up
commit=$(tree_commit plugins/module_utils files/lib)
on_guest "rm -rf $remote && mkdir -p $remote/after $remote/before"
tar -C plugins/module_utils --exclude=__pycache__ -cf - lvs_cluster | on_guest "tar -C $remote/after -xf -"
tar -C files/lib --exclude=__pycache__ -cf - lvs_agents | on_guest "tar -C $remote/after -xf -"
git archive "$before_commit" plugins/module_utils/lvs_cluster files/lib/lvs_agents \
  | on_guest "tar -C $remote/before -xf - && mv $remote/before/plugins/module_utils/lvs_cluster" \
    "$remote/before/files/lib/lvs_agents $remote/before/ && rm -rf $remote/before/plugins" \
    "$remote/before/files"
scp -q -F "$ssh_config" bench/import_time.py "$guest:$remote/"
host_load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "run-import-time: after = $commit, before = $(git rev-parse --short "$before_commit"), host load $host_load"
on_guest "cd $remote && python3 import_time.py --path $remote/after --before-path $remote/before" \
  "--json $remote/result.json $*"
scp -q -F "$ssh_config" "$guest:$remote/result.json" "$out"
python3 - "$out" "$commit" "$(git rev-parse --short "$before_commit")" "$host_load" <<'PY'
import json, sys
path, after, before, load = sys.argv[1:]
document = json.load(open(path))
document.update({"after_commit": after, "before_commit": before, "host_loadavg": load})
json.dump(document, open(path, "w"), indent=1)
PY
lab_down
release_lab
echo "result: $out"
