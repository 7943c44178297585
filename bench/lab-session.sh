# shellcheck shell=bash
# Sourced by the bench scripts that boot a lab ($LAB_NAME, lab/labctl): take it down on every
# exit (success, failure, Ctrl-C, SIGTERM) and, for a guest whose process grows past ~250 MiB,
# raise the host's vm.max_map_count for the run. UML maps each page of a guest process separately
# on the host: such a process reaches the default 65530 and the guest dies ("UML ran out of
# memory on the host side").
labctl=lab/labctl
bench_name=$(basename "$0" .sh)
map_count_before=$(cat /proc/sys/vm/max_map_count)
map_count_needed=1048576
map_count_raised=0

raise_map_count() {
  if [ "$map_count_before" -lt "$map_count_needed" ]; then
    echo "$bench_name: vm.max_map_count $map_count_before -> $map_count_needed for the run"
    sysctl -q -w vm.max_map_count="$map_count_needed"
    map_count_raised=1
  fi
}

restore_map_count() {
  if [ "$map_count_raised" = 1 ]; then
    sysctl -q -w vm.max_map_count="$map_count_before" || true
    map_count_raised=0
  fi
}

lab_down_done=0
lab_down() {
  [ "$lab_down_done" = 1 ] && return 0
  lab_down_done=1
  "$labctl" down || {
    echo "$bench_name: could not take the lab down; run: LAB_NAME=$LAB_NAME $labctl down" >&2
    return 1
  }
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM HUP
  lab_down || rc=1
  restore_map_count
  exit "$rc"
}

# the lab is taken down and the host setting restored however the script ends
guard_lab() {
  trap on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
}

# after the lab is down: nothing left to guard
release_lab() {
  restore_map_count
  trap - EXIT INT TERM HUP
}

# the commit of the tree the guest runs, +dirty when PATHS differ from it
tree_commit() {
  local commit
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  if ! git diff --quiet HEAD -- "$@" 2>/dev/null; then
    commit="$commit+dirty"
  fi
  echo "$commit"
}
