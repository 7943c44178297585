#!/usr/bin/env bash
# Build the collection tarball and prove it carries no lab state, virtualenv or cache.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/dist
rm -rf "$out"
mkdir -p "$out"
ansible-galaxy collection build --force --output-path "$out" >/dev/null
tarball=$(ls "$out"/lvs-cluster-*.tar.gz)
junk=$(tar tzf "$tarball" | grep -E '^(\.venv|\.lab|\.git|\.ci|build|lab|bench|tools|tests/output)(/|$)|(^|/)(__pycache__|\.pytest_cache|\.ruff_cache|\.hypothesis)(/|$)' || true)
if [ -n "$junk" ]; then
  echo "check-build: the tarball carries files that are not the collection:" >&2
  head -20 <<<"$junk" >&2  # no pipe: under pipefail, head leaving early would fail echo
  exit 1
fi
echo "check-build: $tarball ($(du -k "$tarball" | cut -f1) KiB, $(tar tzf "$tarball" | wc -l) entries)"
