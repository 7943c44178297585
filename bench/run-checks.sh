#!/usr/bin/env bash
# Benchmark lvsd's check engine (see bench/checks.py):
#  1. host kernel: 1,000 endpoints (10.255.x.y on lo in a private network namespace that this
#     script creates and always deletes), one listener process for all of them, our engine in
#     the same namespace; its own CPU over the window, TCP connect then HTTP send/expect;
#  2. one UML guest (lab `benchchecks`, router topology): the same on ~200 endpoints, keepalived
#     (TCP_CHECK / HTTP_GET, delay_loop 1, checkers only) and our engine one after the other;
#     CPU per check of keepalived's checker process and of ours (/proc/PID/stat deltas).
# Writes bench/results/checks-<UTC timestamp>.json, prints a table, ends with
# `checks_cpu_percent:` and `checks_vs_keepalived:`. Always takes the lab down. Needs root.
# HOST_ONLY=1: part 1 only (no lab, no keepalived); the result has no `guest` and the report
# no `checks_vs_keepalived:` line.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export LAB_NAME=benchchecks
export LAB_TOPOLOGY=lab/topologies/router.yml
labctl=lab/labctl
ssh_config=.lab/$LAB_NAME/ssh_config
guest=lvs1
remote=/root/checksbench
netns=lvsbench-checks-$$
host_count=${HOST_COUNT:-1000}
guest_count=${GUEST_COUNT:-200}
duration=${DURATION:-12}
host_only=${HOST_ONLY:-0}
python=${PYTHON:-python3}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=$(mktemp -d)
mkdir -p bench/results
out=bench/results/checks-$stamp.json

listener_pid=
lab_started=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$listener_pid" ]; then kill "$listener_pid" 2>/dev/null || true; fi
  ip netns del "$netns" 2>/dev/null || true
  if [ "$lab_started" = 1 ]; then
    "$labctl" down || { echo "run-checks: lab not down; run: LAB_NAME=$LAB_NAME $labctl down" >&2; rc=1; }
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- 1. host kernel ----------------------------------------------------------------------------
echo "run-checks: host, $host_count endpoints, namespace $netns"
ip netns add "$netns"
ip -n "$netns" link set lo up
ip -n "$netns" addr add 10.255.0.1/16 dev lo
ip netns exec "$netns" "$python" bench/checks.py listen --count-file "$work/accepts" &
listener_pid=$!
sleep 1
for mode in tcp http; do
  ip netns exec "$netns" "$python" bench/checks.py engine --mode "$mode" --count "$host_count" \
    --duration "$duration" --count-file "$work/accepts" --lib files/lib >"$work/host_$mode.json"
  cat "$work/host_$mode.json"
done
kill "$listener_pid"; wait "$listener_pid" 2>/dev/null || true; listener_pid=
ip netns del "$netns"

# --- 2. one guest: keepalived vs ours ----------------------------------------------------------
guest_part() {
  on_guest() { ssh -F "$ssh_config" "$guest" "$@"; }
  lab_started=1
  "$labctl" up
  on_guest "rm -rf $remote && mkdir -p $remote/lib/lvs_agents"
  scp -q -F "$ssh_config" files/lib/lvs_agents/__init__.py "$guest:$remote/lib/lvs_agents/"
  tar -C files/lib/lvs_agents --exclude=__pycache__ -cf - checks | on_guest "tar -C $remote/lib/lvs_agents -xf -"
  scp -q -F "$ssh_config" bench/checks.py "$guest:$remote/"
  on_guest "ip addr add 10.255.0.1/16 dev lo; modprobe ip_vs || true; cd $remote &&
    (setsid python3 checks.py listen --count-file $remote/accepts </dev/null >listen.log 2>&1 &)"
  sleep 2
  for mode in tcp http; do
    echo "run-checks: guest, keepalived $mode, $guest_count endpoints"
    on_guest "cd $remote && python3 checks.py keepalived-conf --mode $mode --count $guest_count >ka-$mode.conf &&
      (setsid keepalived -n -C -l -f $remote/ka-$mode.conf -p $remote/ka.pid -c $remote/ka-checkers.pid </dev/null >ka-$mode.log 2>&1 &) &&
      sleep 3 && checker=\$(cat $remote/ka-checkers.pid) &&
      python3 checks.py cpu --mode $mode --count $guest_count --pid \$checker --warmup 2 \
        --duration $duration --count-file $remote/accepts; kill \$(cat $remote/ka.pid); sleep 2;
      ipvsadm -C" >"$work/ka_$mode.json"
    cat "$work/ka_$mode.json"
    echo "run-checks: guest, ours $mode"
    # The UML guest charges CPU time per 10 ms tick to whatever runs at the tick. The engine wakes
    # on 20 ms slots, locked in phase with the ticks, so its CPU reads anywhere from 0 to twice the
    # truth from run to run; 13.7 ms slots drift across the ticks and sample it without bias
    # (measured: 0.0 / 1400-1600 us per check at 20 ms, 770-800 us at 13.7 ms, repeatable).
    on_guest "cd $remote && python3 checks.py engine --mode $mode --count $guest_count \
      --duration $duration --count-file $remote/accepts --lib $remote/lib --granularity 0.0137" \
      >"$work/ours_$mode.json"
    cat "$work/ours_$mode.json"
  done
  lab_started=0
  "$labctl" down
}
if [ "$host_only" != 1 ]; then
  guest_part
fi

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- files/lib/lvs_agents bench 2>/dev/null || commit="$commit+dirty"
"$python" bench/checks.py combine --dir "$work" --out "$out" --commit "$commit" \
  --host-only "$host_only" --loadavg "$(cut -d' ' -f1-3 /proc/loadavg)"
echo "result: $out"
"$python" bench/checks.py report "$out"
