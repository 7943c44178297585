"""Name what failed in each failed stage of `make test`, a few short lines a stage.

CI shows only the last lines of a run, and the lanes' output is interleaved: without this, a
failure in a stage that ended early is out of sight. Reads build/stages/NAME ("exit-code seconds")
and build/stages/NAME.log; prints, for each stage whose exit code is not 0, pytest's `FAILED`/
`ERROR` summary lines, ansible-test's `ERROR:` lines and Ansible's `fatal:`/`failed:` task
lines (its `FAILED - RETRYING` lines are progress, not failures), else the stage's last lines.
"""

import re
import sys
from pathlib import Path

STAGES = ("lint", "unit", "sanity", "build", "agents", "labs")
FAILURE_LINE = re.compile(r"^(FAILED |ERROR[: ]|\s*fatal: \[|\s*failed: \[)")
RETRYING = re.compile(r"^\s*FAILED - RETRYING")
WIDTH = 200
LINES_PER_STAGE = 6


def failure_lines(log: list[str]) -> list[str]:
    found = [line for line in log if FAILURE_LINE.match(line) and not RETRYING.match(line)]
    # Ansible's task failures first: pytest's lines only name the test that saw them
    found.sort(key=lambda line: not line.lstrip().startswith(("fatal:", "failed:")))
    if not found:
        found = [line for line in log if line.strip() and not line.startswith("=== stage ")][-3:]
    return found


def clip(line: str) -> str:
    line = line.strip()
    return line if len(line) <= WIDTH else line[: WIDTH - 3] + "..."


def report(stages: Path) -> list[str]:
    out: list[str] = []
    for name in STAGES:
        result = stages / name
        if not result.is_file() or result.read_text().split()[0] == "0":
            continue
        log_path = stages / f"{name}.log"
        log = log_path.read_text(errors="replace").splitlines() if log_path.is_file() else []
        lines = failure_lines(log)
        out.append(f"[{name}] failed:")
        out.extend("  " + clip(line) for line in lines[:LINES_PER_STAGE])
        if len(lines) > LINES_PER_STAGE:
            out.append(f"  (+{len(lines) - LINES_PER_STAGE} more in {log_path})")
    return out


def main(argv: list[str]) -> int:
    lines = report(Path(argv[0]))
    if lines:
        print("\n=== make test: what failed")
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
