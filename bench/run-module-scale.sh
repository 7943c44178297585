#!/usr/bin/env bash
# ipvs_table at scale: whole Ansible tasks against the engine alone (see bench/README.md).
#
# Boots the lab `benchmodule` (topology lab/topologies/bench-large.yml: lvs1 alone, 1536 MiB),
# runs bench/module_scale.py (ansible-playbook inside the lab's namespace, then the engine and
# the module's pieces on the guest), writes bench/results/module-scale-<UTC timestamp>.json,
# takes the lab down (always: on success, on failure and on interrupt) and prints the report.
# Extra arguments go to `module_scale.py run` (e.g. --services 100 --runs 2). Needs root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export LAB_NAME=benchmodule
export LAB_TOPOLOGY=lab/topologies/bench-large.yml
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/results
out=bench/results/module-scale-$stamp.json

# shellcheck source=bench/lab-session.sh
source bench/lab-session.sh
guard_lab

raise_map_count  # the engine's 10,000 x 10 run on the guest grows past ~250 MiB
"$labctl" up
commit=$(tree_commit plugins)
BENCH_ENGINE_COMMIT=$commit .venv/bin/python bench/module_scale.py run --lab "$LAB_NAME" \
  --out "$out" "$@"
lab_down
release_lab
echo "result: $out"
.venv/bin/python bench/module_scale.py report "$out"
