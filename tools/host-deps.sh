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
# FRR's vtysh checks the router role's frr.conf in the unit tests; installed with no daemon
# started (Debian's package would start zebra on this host).
frr_missing=false
command -v vtysh >/dev/null 2>&1 || frr_missing=true
[ ${#missing[@]} -eq 0 ] && [ "$frr_missing" = false ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "host-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t unique < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "host-deps: installing ${unique[*]}"
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${unique[@]}" >/dev/null
fi
if [ "$frr_missing" = true ]; then
  echo "host-deps: installing frr (vtysh only: no FRR daemon is started)"
  # policy-rc.d's exit 101 keeps the package's scripts from starting FRR's daemons; a policy
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
  apt-get install -y -q --no-install-recommends frr >/dev/null
  systemctl disable frr.service >/dev/null 2>&1 || true
fi
