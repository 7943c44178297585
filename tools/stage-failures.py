"""Name what failed in each failed stage of `make test`, a few short lines a stage.

CI shows only the last lines of a run, and the lanes' output is interleaved: without this, a
failure in a stage that ended early is out of sight. Reads build/stages/NAME ("exit-code seconds")
and build/stages/NAME.log; prints, for each stage whose exit code is not 0, pytest's `FAILED`/
`ERROR` summary lines, ansible-test's `ERROR:` lines and Ansible's `fatal:`/`failed:` task
lines (its `FAILED - RETRYING` lines are progress, not failures), else the stage's last lines.
An Ansible failure is shown as its task, message, exit status and error output (its result's
other fields, such as checksums, would push the error itself past the line's end); one that
Ansible marks `...ignoring` is a test's expected failure, not shown.
"""

import json
import re
import sys
from pathlib import Path

STAGES = ("lint", "unit", "sanity", "monitoring", "build", "agents", "labs")
FAILURE_LINE = re.compile(r"^(FAILED |ERROR[: ]|\s*fatal: \[|\s*failed: \[)")
RETRYING = re.compile(r"^\s*FAILED - RETRYING")
LANE_PREFIX = re.compile(r"^\[[a-z]+\] ")
TASK_LINE = re.compile(r"^\s*(?:TASK|RUNNING HANDLER) \[(.*)\]")
# `fatal: [host]: FAILED! => {...}` and `failed: [host] (item=x) => {...}`
ANSIBLE_FAILURE = re.compile(
    r"^\s*(fatal|failed): (\[[^\]]*\](?: \(item=[^)]*\))?)(?::? FAILED!)? => (\{.*\})\s*$")
WIDTH = 200
ANSIBLE_WIDTH = 500
LINES_PER_STAGE = 6


def ansible_failure(line: str, task: str | None) -> str | None:
    """`fatal: [host] (task: T): message | exit_status N | stderr: ... | stdout: ...`, or None
    when the line's result is not JSON."""
    match = ANSIBLE_FAILURE.match(line)
    if not match:
        return None
    kind, host, text = match.groups()
    try:
        result = json.loads(text)
    except ValueError:
        return None
    if not isinstance(result, dict):
        return None
    parts = [str(result.get("msg", "")).strip() or "failed"]
    for key in ("exit_status", "rc"):
        if result.get(key) not in (None, 0):
            parts.append(f"{key} {result[key]}")
    for key in ("stderr", "stdout"):
        output = " / ".join(str(result.get(key) or "").strip().splitlines())
        if output:
            parts.append(f"{key}: {output}")
    where = f" (task: {task})" if task else ""
    summary = f"{kind}: {host}{where}: " + " | ".join(parts)
    return summary if len(summary) <= ANSIBLE_WIDTH else summary[: ANSIBLE_WIDTH - 3] + "..."


def ignored(log: list[str], index: int) -> bool:
    """Whether Ansible marked the failure at ``index`` `...ignoring` (ignore_errors: a test
    that expects it, e.g. a bad file refused by validate)."""
    for line in log[index + 1:index + 3]:
        text = LANE_PREFIX.sub("", line).strip()
        if text:
            return text == "...ignoring"
    return False


def failure_lines(log: list[str]) -> list[str]:
    found: list[str] = []
    task = None
    for index, line in enumerate(log):
        header = TASK_LINE.match(line)
        if header:
            task = header.group(1)
            continue
        if not FAILURE_LINE.match(line) or RETRYING.match(line) or ignored(log, index):
            continue
        line = ansible_failure(line, task) or line
        if line not in found:  # the same failure twice (CI of 980f2a6: lvs3's) is one
            found.append(line)
    # Ansible's task failures first: pytest's lines only name the test that saw them
    found.sort(key=lambda line: not line.lstrip().startswith(("fatal:", "failed:")))
    if not found:
        found = [line for line in log if line.strip() and not line.startswith("=== stage ")][-3:]
    return found


def clip(line: str) -> str:
    line = line.strip()
    if line.startswith(("fatal:", "failed:")) and len(line) <= ANSIBLE_WIDTH:
        return line  # condensed by ansible_failure: the error output is the point
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
