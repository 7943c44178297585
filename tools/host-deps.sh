#!/usr/bin/env bash
# Install the Debian/Ubuntu host packages the lab and the test suite need, when any is missing.
# Idempotent and quiet when everything is present. Needs root.
set -euo pipefail

# command-or-file  package
needs=(
  "linux user-mode-linux"
  "debootstrap debootstrap"
  "modprobe kmod"
  "ip iproute2"
  "ssh openssh-client"
  "ssh-keygen openssh-client"
  "ipvsadm ipvsadm"
  "nft nftables"
  "mkfs.ext4 e2fsprogs"
  "nc netcat-openbsd"
  "git git"
  "tar tar"
  "shellcheck shellcheck"
  "chromium chromium"
)
missing=()
for pair in "${needs[@]}"; do
  read -r cmd package <<<"$pair"
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$package")
done
python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
  missing+=(python3 python3-venv)
elif ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
# Packages wanted for a command only, whose Debian package would start a daemon on this host:
# FRR's vtysh checks the router role's frr.conf in the unit tests (the package starts zebra),
# Prometheus's promtool checks files/monitoring (the package starts a Prometheus server). They
# are installed with no daemon started and their services disabled.
# command  package  service
daemon_packages=(
  "vtysh frr frr.service"
  "promtool prometheus prometheus.service"
)
quiet_missing=() quiet_services=()
for triple in "${daemon_packages[@]}"; do
  read -r cmd package service <<<"$triple"
  if ! command -v "$cmd" >/dev/null 2>&1; then
    quiet_missing+=("$package")
    quiet_services+=("$service")
  fi
done
[ ${#missing[@]} -eq 0 ] && [ ${#quiet_missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "host-deps: missing packages (${missing[*]}${missing[*]:+ }${quiet_missing[*]});" \
    "run as root to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t unique < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "host-deps: installing ${unique[*]}"
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${unique[@]}" >/dev/null
fi
if [ ${#quiet_missing[@]} -gt 0 ]; then
  echo "host-deps: installing ${quiet_missing[*]} (their commands only: no daemon is started)"
  # policy-rc.d's exit 101 keeps the packages' scripts from starting their daemons; a policy
  # already there (container images ship one) is set aside and put back afterwards.
  policy=/usr/sbin/policy-rc.d
  saved=
  if [ -e "$policy" ]; then
    saved=$(mktemp /usr/sbin/.policy-rc.d.XXXXXX)
    cp -p "$policy" "$saved"
  fi
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  trap 'if [ -n "$saved" ]; then mv -f "$saved" "$policy"; else rm -f "$policy"; fi' EXIT
  [ ${#missing[@]} -eq 0 ] && apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${quiet_missing[@]}" >/dev/null
  for service in "${quiet_services[@]}"; do
    systemctl disable "$service" >/dev/null 2>&1 || true
  done
fi
