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
labctl=lab/labctl
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/results
out=bench/results/module-scale-$stamp.json

lab_down_done=0
lab_down() {
  [ "$lab_down_done" = 1 ] && return 0
  lab_down_done=1
  "$labctl" down || {
    echo "run-module-scale: could not take the lab down; run: LAB_NAME=$LAB_NAME $labctl down" >&2
    return 1
  }
}
on_exit() {
  local rc=$?
  trap - EXIT INT TERM HUP
  lab_down || rc=1
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

"$labctl" up
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git diff --quiet HEAD -- plugins 2>/dev/null; then
  commit="$commit+dirty"
fi
BENCH_ENGINE_COMMIT=$commit .venv/bin/python bench/module_scale.py run --lab "$LAB_NAME" \
  --out "$out" "$@"
lab_down
trap - EXIT INT TERM HUP
echo "result: $out"
.venv/bin/python bench/module_scale.py report "$out"
