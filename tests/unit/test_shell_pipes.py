# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""No shell command in the repository pipes into a reader that may leave early under pipefail.

`set -o pipefail; ip -o addr show dev lo | grep -q ADDRESS || ip addr add ...` fails at random:
`grep -q` (or `head`, `grep -m`) exits at the first match, the writer dies of SIGPIPE, pipefail
makes the whole test false, and the `||` branch runs although the address is there. Read the
output completely (`grep ... >/dev/null`), test a file, or capture the output first.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", ".lab", "build", "node_modules", ".ruff_cache", ".pytest_cache",
             ".hypothesis", "__pycache__", "output", ".ansible"}  # .ansible: ansible-test's copies
SUFFIXES = {".yml", ".yaml", ".sh", ".j2", ".py", ".cfg"}
NAMES = {"Makefile", "run", "labctl"}
# a pipe into grep with -q or -m (alone or among other letters: -qF, -m1), or into head
EARLY_READER = re.compile(r"\|\s*(?:grep\s+(?:-\w+\s+)*-[A-Za-z]*[qm][A-Za-z]*\d*|head)\b")


def risky_lines(text: str) -> list[tuple[int, str]]:
    """The lines of `text` that pipe into an early-leaving reader, when `text` sets pipefail
    (comment lines aside)."""
    if "pipefail" not in text:
        return []
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1)
            if not line.lstrip().startswith("#") and EARLY_READER.search(line)]


def repository_files() -> list[Path]:
    found = []
    for path in REPO.rglob("*"):
        if any(part in SKIP_DIRS for part in path.relative_to(REPO).parts):
            continue
        if path.is_file() and (path.suffix in SUFFIXES or path.name in NAMES):
            found.append(path)
    return found


def test_the_pattern_is_recognised():
    old = ("cmd: set -o pipefail; ip -o addr show dev lo | grep -q ' 10.254.0.100/' "
           "|| ip addr add 10.254.0.100/32 dev lo")
    assert risky_lines(old) == [(1, old)]
    assert risky_lines("set -euo pipefail\nx=$(ls | head -1)\n") == [(2, "x=$(ls | head -1)")]
    assert risky_lines("set -o pipefail; ip route | grep -m1 default\n")
    assert risky_lines("set -o pipefail\nip -o addr | grep -qF ' 10.0.0.1/32 ' && exit\n")
    # a reader that reads everything, a file instead of a pipe, or no pipefail: fine
    assert not risky_lines("set -o pipefail; ip -o addr show | grep ' 10.0.0.1/' >/dev/null\n")
    assert not risky_lines("set -o pipefail; grep -q '^x$' /etc/file\n")
    assert not risky_lines("ip -o addr show dev lo | grep -qF ' 10.0.0.1/32 '\n")


@pytest.mark.skipif(not Path("/bin/bash").exists(), reason="needs bash")
def test_the_pattern_really_fails_under_pipefail():
    # the writer outlives grep -q's early exit, dies of SIGPIPE, and pipefail reports it
    script = "set -o pipefail; yes found | grep -q found"
    result = subprocess.run(["/bin/bash", "-c", script], check=False)
    assert result.returncode == 141


def test_no_command_in_the_repository_pipes_into_an_early_reader():
    here = Path(__file__).resolve()
    offenders = [f"{path.relative_to(REPO)}:{number}: {line}"
                 for path in repository_files() if path.resolve() != here
                 for number, line in risky_lines(path.read_text(errors="replace"))]
    assert not offenders, "\n".join(offenders)
