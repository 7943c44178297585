#!/usr/bin/env bash
# Run `ansible-test sanity` on lvs.cluster without reaching anything but PyPI.
#
# ansible-test needs the collection at .../ansible_collections/<namespace>/<name>, so the
# repository is copied to build/ansible_collections/lvs/cluster (fresh on every run) and
# ansible-test runs there. Extra arguments are passed on to `ansible-test sanity`, e.g.
#   tools/sanity.sh --test validate-modules
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv_bin="${repo_root}/.venv/bin"
python_version="3.11"
dest="${repo_root}/build/ansible_collections/lvs/cluster"

if [[ ! -x "${venv_bin}/ansible-test" ]]; then
    echo "sanity.sh: ${venv_bin}/ansible-test not found; create .venv first" >&2
    exit 2
fi

# 1. Fresh copy of the collection.
rm -rf "${repo_root}/build/ansible_collections"
mkdir -p "${dest}"
tar -C "${repo_root}" -cf - \
    --exclude=./.venv \
    --exclude=./.lab \
    --exclude=./build \
    --exclude=./tests/output \
    --exclude=./.git \
    --exclude=./.ruff_cache \
    --exclude=./.pytest_cache \
    --exclude=./.hypothesis \
    --exclude=__pycache__ \
    --exclude=./lab \
    --exclude=./bench \
    --exclude=./.ci \
    --exclude=./.cache \
    . | tar -C "${dest}" -xf -

# ansible-test takes the file list from the nearest enclosing git repository, found by walking
# up from the collection root. Without a repository of its own the copy would be judged by this
# repository's git, where build/ is ignored, and every sanity target would be skipped. A
# throw-away repository (no commits needed: untracked files are listed) keeps the copy self-contained.
git -C "${dest}" init -q

# 2. Stand-in for get-pip.py. ansible-test bootstraps pip in its sanity virtualenvs with a
#    get-pip script it downloads from a host that is not reachable here; it uses a cached
#    copy when one exists. The stand-in bootstraps pip with the standard library's ensurepip
#    and then installs the requested packages (the pinned pip) from PyPI.
pip_version="$("${venv_bin}/python" - <<'PY'
import re
from pathlib import Path

import ansible_test

source = Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
match = re.search(r"default_packages = dict\(\s*pip='([^']+)'", source.read_text())
print(match.group(1) if match else "")
PY
)"
if [[ -z "${pip_version}" ]]; then
    echo "sanity.sh: could not find the pip version ansible-test bootstraps" >&2
    exit 2
fi
get_pip="${HOME}/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [[ ! -e "${get_pip}" ]]; then
    mkdir -p "$(dirname "${get_pip}")"
    cat > "${get_pip}" <<'PY'
"""Offline stand-in for get-pip.py, written by lvs.cluster's tools/sanity.sh.

Bootstraps pip with ensurepip, then runs `pip install` with the arguments ansible-test
passes, less the get-pip-only flags --no-setuptools and --no-wheel.
"""

import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

if __name__ == "__main__":
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True)
    sys.exit(subprocess.run([sys.executable, "-m", "pip", "install", *args]).returncode)
PY
    echo "sanity.sh: wrote pip bootstrap stand-in ${get_pip}"
fi

# 3. Run the sanity tests from inside the copy.
cd "${dest}"
export PATH="${venv_bin}:${PATH}"
status=0
ansible-test sanity --local --python "${python_version}" --requirements "$@" || status=$?
exit "${status}"
