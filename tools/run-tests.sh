#!/usr/bin/env bash
# `make test`: every stage CI runs, each timed; a failed stage does not hide the later ones.
# Ends with the time table and one line summing the pytest results of all stages, the stages that
# are not pytest (lint, sanity, build) counting as one check each.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
junit=build/junit
rm -rf "$junit"
mkdir -p "$junit"

names=() times=() results=()
stage() {
  local name=$1
  shift
  echo
  echo "=== stage $name: $*"
  local start=$SECONDS rc
  "$@"
  rc=$?
  names+=("$name")
  times+=($((SECONDS - start)))
  results+=("$([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)")")
  echo "=== stage $name: $([ $rc -eq 0 ] && echo ok || echo "FAILED, exit $rc") in $((SECONDS - start)) s"
}

stage lint make --no-print-directory lint
# Property tests and fuzzing run thousands of examples here (tests/unit/conftest.py).
export HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-ci}"
stage unit python -m pytest -q -ra tests/unit lab/tests --junitxml="$junit/unit.xml"
stage sanity bash tools/sanity.sh
stage build bash tools/check-build.sh
stage integration python -m pytest -ra -s -p no:cacheprovider tests/integration \
  --junitxml="$junit/integration.xml"

echo
echo "=== make test: time per stage"
failed=0 checks=()
for i in "${!names[@]}"; do
  printf '  %-12s %5d s  %s\n' "${names[$i]}" "${times[$i]}" "${results[$i]}"
  [ "${results[$i]}" = ok ] || failed=1
  case ${names[$i]} in
    unit|integration) ;;
    *) checks+=("${names[$i]}=$([ "${results[$i]}" = ok ] && echo ok || echo failed)") ;;
  esac
done
printf '  %-12s %5d s\n' total "$SECONDS"
python tools/junit-total.py "$junit"/*.xml "${checks[@]}"
exit $failed
