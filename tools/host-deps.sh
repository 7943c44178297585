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
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "host-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi
mapfile -t unique < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "host-deps: installing ${unique[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${unique[@]}" >/dev/null
