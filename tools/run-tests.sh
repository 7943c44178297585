#!/usr/bin/env bash
# `make test`: every stage CI runs, each timed; a failed stage does not hide the later ones.
# Ends with the time table and one line summing the pytest results of all stages, the stages that
# are not pytest (lint, sanity, build) counting as one check each.
#
# Lanes side by side (the machine has two cores; each lane's lines carry its name): the agents'
# tests on their lab from the start, beside the unit tests and the checks (lint, sanity, build);
# when those two are done, the lab's life cycle and the Molecule scenarios on their labs. Lanes
# of UML guests mostly wait on timers, so two labs at once cost far less than one after the
# other (README, "Tests"); more labs at once made Ansible's systemd calls in the guests time out.
# The stage functions run only through lane (shellcheck cannot follow that).
# shellcheck disable=SC2317
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
# Nothing here reads a terminal. Ansible refuses a non-blocking stdin, and an inherited stdin is
# one open file shared by every process: ssh (or another program on the same terminal) makes it
# non-blocking, and one that is killed never undoes it. The tests also give Molecule, Ansible and
# labctl stdins of their own.
exec </dev/null
junit=build/junit
stages=build/stages
rm -rf "$junit" "$stages"
mkdir -p "$junit" "$stages"

# stage NAME COMMAND...: run it, record "exit-code seconds" in build/stages/NAME and its output
# in build/stages/NAME.log.
stage() {
  local name=$1
  shift
  echo "=== stage $name: $*"
  local start=$SECONDS rc
  "$@" 2>&1 | tee "$stages/$name.log"
  rc=${PIPESTATUS[0]}
  echo "$rc $((SECONDS - start))" >"$stages/$name"
  echo "=== stage $name: $([ "$rc" -eq 0 ] && echo ok || echo "FAILED, exit $rc") in $((SECONDS - start)) s"
}

# lane NAME NICENESS STAGE-CALLS...: a background lane at that niceness (its guests and Ansible
# runs inherit it); every line it prints starts with [NAME].
lane() {
  local name=$1 niceness=$2
  shift 2
  { renice -n "$niceness" -p "$BASHPID" >/dev/null && "$@"; } 2>&1 | sed -u "s/^/[$name] /" &
}

# Property tests and fuzzing run thousands of examples here (tests/unit/conftest.py).
export HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-ci}"

checks() {
  stage lint make --no-print-directory lint
  stage sanity bash tools/sanity.sh
  stage build bash tools/check-build.sh
  stage monitoring bash tools/check-monitoring.sh
}
integration() {
  local name=$1
  shift
  stage "$name" python -m pytest -ra -s -p no:cacheprovider "$@" --junitxml="$junit/$name.xml"
}
# The agents' tests measure what a client loses (killed pulse, failover): their lab comes first
# when the two cores are short. Beside the Molecule lane at the same priority the client guest's
# probe stalled (69 answers in 9 s instead of ~300, CI on 6a12e69).
lane agents 0 integration agents tests/integration/agents
lane unit 0 stage unit python -m pytest -q -ra tests/unit lab/tests --junitxml="$junit/unit.xml"
unit_lane=$!
lane checks 0 checks
checks_lane=$!
wait "$unit_lane" "$checks_lane"
# The Molecule scenario with a five-guest lab of its own waits for the agents' lab to be gone
# (tests/integration/test_molecule.py, AFTER_AGENTS).
export LVS_CLUSTER_AGENTS_DONE="$PWD/$stages/agents"
lane labs 10 integration labs tests/integration/lab tests/integration/test_molecule.py
wait

# CI shows only the end of the output: name every failure there, briefly.
python tools/stage-failures.py "$stages"
echo
echo "=== make test: time per stage"
failed=0 checks=()
for name in lint unit sanity build monitoring agents labs; do
  if [ -f "$stages/$name" ]; then
    read -r rc seconds <"$stages/$name"
  else
    rc=missing seconds=0
  fi
  result=$([ "$rc" = 0 ] && echo ok || echo "FAILED (exit $rc)")
  printf '  %-12s %5d s  %s\n' "$name" "$seconds" "$result"
  [ "$rc" = 0 ] || failed=1
  case $name in
    unit | agents | labs) ;;
    *) checks+=("$name=$([ "$rc" = 0 ] && echo ok || echo failed)") ;;
  esac
done
printf '  %-12s %5d s\n' total "$SECONDS"
python tools/junit-total.py "$junit"/*.xml "${checks[@]}"
exit $failed
