#!/usr/bin/env python3
# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout benchmark's report (bench/run-rollout-time.sh): the demo lab's rollout and its
idempotent re-run, before and after, in total and per task (the slowest tasks first).

    rollout_time.py combine --out FILE --before-commit C --after-commit C B1 B2 A1 A2
    rollout_time.py report FILE
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict

RUNS = ("before_first", "before_rerun", "after_first", "after_rerun")


def task_times(run: dict) -> dict[str, float]:
    """Each task's time by its name (a task that moved to another file is the same task): from
    its start to its last host's result (hosts run in parallel); the sum of tasks of one name."""
    longest: dict[str, float] = defaultdict(float)
    for entry in run["tasks"]:
        if entry["since_task_start_s"] >= entry["end_s"] - 0.001:
            continue  # a handler timed from the play's start (the callback before 2026-12-08)
        longest[entry["task"]] = max(longest[entry["task"]], entry["since_task_start_s"])
    out: dict[str, float] = defaultdict(float)
    for task, seconds in longest.items():
        out[task.split("|", 1)[-1]] += seconds
    return dict(out)


def combine(args: argparse.Namespace) -> int:
    document: dict = {"before_commit": args.before_commit, "after_commit": args.after_commit}
    for name, path in zip(RUNS, args.files, strict=True):
        with open(path) as stream:
            document[name] = json.load(stream)
    with open(args.out, "w") as stream:
        json.dump(document, stream, indent=1)
    return 0


def report(path: str) -> int:
    with open(path) as stream:
        document = json.load(stream)
    print(f"rollout of the demo lab, before {document['before_commit']} -> after "
          f"{document['after_commit']}")
    for run in ("first", "rerun"):
        before, after = document[f"before_{run}"], document[f"after_{run}"]
        print(f"\n{run} run: {before['total_s']:.1f} s -> {after['total_s']:.1f} s")
        times_before, times_after = task_times(before), task_times(after)
        names = sorted(set(times_before) | set(times_after),
                       key=lambda name: -max(times_before.get(name, 0), times_after.get(name, 0)))
        print(f"  {'before s':>9} {'after s':>9}  task (slowest 15)")
        for name in names[:15]:
            print(f"  {times_before.get(name, 0):9.2f} {times_after.get(name, 0):9.2f}  {name}")
        ours_before, ours_after = (sum(seconds for name, seconds in times.items()
                                       if name.startswith("lvs.cluster."))
                                   for times in (times_before, times_after))
        print(f"  tasks of lvs.cluster's roles (summed): {ours_before:.1f} s -> "
              f"{ours_after:.1f} s; other tasks: {sum(times_before.values()) - ours_before:.1f} "
              f"-> {sum(times_after.values()) - ours_after:.1f} s")
    print()
    for run in ("first", "rerun"):
        print(f"rollout_{run}_s: {document[f'before_{run}']['total_s']:.1f} -> "
              f"{document[f'after_{run}']['total_s']:.1f}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("combine")
    c.add_argument("--out", required=True)
    c.add_argument("--before-commit", required=True)
    c.add_argument("--after-commit", required=True)
    c.add_argument("files", nargs=4)
    r = sub.add_parser("report")
    r.add_argument("file")
    args = parser.parse_args()
    return combine(args) if args.command == "combine" else report(args.file)


if __name__ == "__main__":
    sys.exit(main())
