#!/usr/bin/env bash
# Check files/monitoring with promtool (Debian package `prometheus`; make host-deps installs it).
#
#   tools/check-monitoring.sh                  the alert rules (promtool check rules), their unit
#                                              tests (promtool test rules), the dashboard and the
#                                              metric names (tests/unit/test_monitoring.py), and
#                                              promtool check metrics on the agents' metrics as
#                                              rendered from the unit tests' fixtures
#   tools/check-monitoring.sh --metrics FILE…  promtool check metrics on saved metrics text, e.g.
#                                              `curl -s http://127.0.0.1:9539/metrics >FILE` on a
#                                              router, or `lvs-status --metrics >FILE`
#
# Exit status 0 when every check passes, 1 when one fails, 2 on a usage error or a missing tool.
set -euo pipefail

die() {
  echo "check-monitoring: $*" >&2
  exit 2
}

# check_metrics FILE: promtool check metrics; an empty file (a failed curl) or any complaint fails.
check_metrics() {
  local file=$1 complaints line
  [ -f "$file" ] || { echo "check-monitoring: $file: no such file" >&2; return 1; }
  [ -s "$file" ] || { echo "check-monitoring: $file: empty (no metrics to check)" >&2; return 1; }
  if complaints=$(promtool check metrics <"$file" 2>&1) && [ -z "$complaints" ]; then
    echo "check-monitoring: $file: promtool check metrics: ok"
    return 0
  fi
  echo "check-monitoring: $file: promtool check metrics complains:" >&2
  while IFS= read -r line; do
    echo "  $line"
  done <<<"$complaints" >&2
  return 1
}

command -v promtool >/dev/null 2>&1 ||
  die "promtool not found: install Debian's prometheus package (make host-deps does, without starting the server)"

if [ "${1:-}" = --metrics ]; then
  shift
  [ $# -gt 0 ] || die "usage: $0 [--metrics FILE...]"
  failed=0
  for file in "$@"; do
    check_metrics "$file" || failed=1
  done
  exit $failed
fi
[ $# -eq 0 ] || die "usage: $0 [--metrics FILE...]"

cd "$(dirname "$0")/.."
rules=files/monitoring/prometheus/lvs-cluster-alerts.yml
failed=0
promtool check rules --lint=all --lint-fatal "$rules" || failed=1
promtool test rules files/monitoring/prometheus/tests/*.yml || failed=1
python3 -m pytest -q -p no:cacheprovider tests/unit/test_monitoring.py || failed=1
samples=$(mktemp -d)
trap 'rm -rf "$samples"' EXIT
if python3 tests/unit/monitoring_samples.py "$samples"; then
  for file in "$samples"/*.prom; do
    check_metrics "$file" || failed=1
  done
else
  echo "check-monitoring: rendering the sample metrics failed" >&2
  failed=1
fi
[ $failed -eq 0 ] && echo "check-monitoring: ok"
exit $failed
