# shellcheck shell=bash
# Sourced by the bench scripts whose guest process grows past ~250 MiB.
# UML maps each page of a guest process separately on the host: such a process reaches the host's
# default vm.max_map_count (65530) and the guest dies ("UML ran out of memory on the host side").
# raise_map_count raises it for the run; restore_map_count (call it on exit) puts it back.
map_count_before=$(cat /proc/sys/vm/max_map_count)
map_count_needed=1048576

raise_map_count() {
  if [ "$map_count_before" -lt "$map_count_needed" ]; then
    echo "bench: vm.max_map_count $map_count_before -> $map_count_needed for the run"
    sysctl -q -w vm.max_map_count="$map_count_needed"
  fi
}

restore_map_count() {
  if [ "$map_count_before" -lt "$map_count_needed" ]; then
    sysctl -q -w vm.max_map_count="$map_count_before" || true
  fi
}
