#!/usr/bin/env bash
# The demo lab's rollout and its idempotent re-run, timed per task: the tree of commit
# $BENCH_ROLLOUT_BEFORE (default c08c317, 2026-12-06) against the working tree (issue #15; see
# bench/README.md, `make bench-rollout`).
#
# For each side: a fresh lab `benchrollout` (lab/topologies/default.yml: two routers, two web
# servers, a client), the lab's collection link pointed at that side's tree, the web servers
# set up, then `lvs.cluster.site` twice with the lvs_bench_timer callback (bench/callback_plugins);
# the lab is taken down after each side (always, also on failure). The "before" tree is a
# `git archive` of that commit. Writes bench/results/rollout-<UTC stamp>.json and prints the
# report (bench/rollout_time.py). Needs root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/.venv/bin:$PATH"
export LAB_NAME=benchrollout
export LAB_TOPOLOGY=lab/topologies/default.yml
before_commit=${BENCH_ROLLOUT_BEFORE:-c08c317}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=$(mktemp -d /tmp/rollout-bench.XXXXXX)
mkdir -p bench/results
out=bench/results/rollout-$stamp.json

# shellcheck source=bench/lab-session.sh
source bench/lab-session.sh
guard_lab

mkdir -p "$work/before"
git archive "$before_commit" | tar -C "$work/before" -xf -
after_commit=$(tree_commit plugins roles files playbooks)

rollout() {  # side tree
  local side=$1 tree=$2
  # shellcheck disable=SC2034  # lab-session.sh's lab_down reads it
  lab_down_done=0
  "$labctl" up
  ln -sfn "$tree" ".lab/$LAB_NAME/collections/ansible_collections/lvs/cluster"
  local inventory=(-i ".lab/$LAB_NAME/inventory.yml" -i "$tree/lab/cluster/inventory")
  export ANSIBLE_CONFIG=".lab/$LAB_NAME/ansible.cfg" PYTHONWARNINGS=ignore
  ansible-playbook "${inventory[@]}" "$tree/lab/cluster/web.yml" > "$work/$side-web.log"
  for run in first rerun; do
    echo "run-rollout-time: $side ($tree), $run run of lvs.cluster.site"
    LVS_BENCH_TIMER_OUT="$work/$side-$run.json" ANSIBLE_CALLBACKS_ENABLED=lvs_bench_timer \
      ANSIBLE_CALLBACK_PLUGINS="$PWD/bench/callback_plugins" \
      ansible-playbook "${inventory[@]}" lvs.cluster.site > "$work/$side-$run.log" \
      || { tail -30 "$work/$side-$run.log"; return 1; }
    grep -A6 '^PLAY RECAP' "$work/$side-$run.log"
  done
  lab_down
}

rollout before "$work/before"
rollout after "$PWD"
release_lab
python3 bench/rollout_time.py combine --out "$out" --before-commit "$(git rev-parse --short "$before_commit")" \
  --after-commit "$after_commit" "$work"/{before,after}-{first,rerun}.json
python3 bench/rollout_time.py report "$out"
rm -rf "$work"
echo "result: $out"
