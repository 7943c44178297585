#!/usr/bin/env python3
"""`make soak`: crash/boot cycles of the pair on the lab, alternating routers (not in `make test`).

Each cycle: long-lived HTTP connections are opened through the VIP and synced to the standby
(the sync daemon is on); a probe requests every 20 ms; the active router is crashed (its UML
guest killed); the standby takes over and the held connections are finished through it; the
crashed router boots again and comes back as standby (no failback), so the next cycle crashes
the other one. Throughout, a watcher counts samples in which both routers hold the VIP.

Prints per cycle what happened and at the end:
  soak_cycles, soak_split_brain_samples, soak_established_lost, soak_failover_gap_median/_max.
Exits 1 if a split brain was seen or a held connection was lost.

  lab/soak.py [--cycles 20] [--connections 3] [--lab soak] [--reuse]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lvslab.cluster import ROUTERS, Cluster, HeldConnection  # noqa: E402

KEEPALIVE = 0.5
DEADTIME = 2.0
SETTINGS = {"router_keepalive": KEEPALIVE, "router_deadtime": DEADTIME,
            "router_sync_daemon": True}


class SplitBrainWatcher:
    """Samples the VIP's holders every half second on a thread of its own."""

    def __init__(self, lab: Cluster) -> None:
        self.lab = lab
        self.samples = 0
        self.split: list[tuple[float, list[str]]] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.done.is_set():
            holders = self.lab.vip_holders(timeout=3)
            self.samples += 1
            if len(holders) > 1:
                self.split.append((time.time(), holders))
                print(f"  SPLIT BRAIN: {holders}", flush=True)
            self.done.wait(0.5)

    def __enter__(self) -> SplitBrainWatcher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(timeout=60)


def cycle(lab: Cluster, number: int, connections: int) -> tuple[float, int]:
    """One crash/boot cycle: (the probe's longest gap, held connections lost)."""
    active = lab.active_router()
    other = next(r for r in ROUTERS if r != active)
    held = [HeldConnection(lab) for _index in range(connections)]
    lab.wait_for("the held connections on the standby", lambda: all(
        connection.synced_to(lab, other) for connection in held), timeout=30)
    probe = lab.start_probe()
    try:
        time.sleep(1)
        started = time.monotonic()
        lab.crash(active)
        lab.wait_for(f"{other} active", lambda: lab.holds_vip(other), timeout=60)
        took = time.monotonic() - started
        time.sleep(1)
    finally:
        result = lab.finish_probe(probe)
    replies = [connection.finish() for connection in held]
    lost = sum(reply not in ("web1", "web2") for reply in replies)
    gap = result.longest_gap()
    lab.boot(active)
    lab.wait_for(f"{active} back as standby", lambda: (lab.status(active) or {}).get(
        "state") == "standby" and (lab.status(active) or {}).get("peer", {}).get(
        "state") == "running", timeout=300)
    time.sleep(2 * DEADTIME)
    print(f"cycle {number}: {active} crashed, {other} active after {took:.1f} s, probe gap "
          f"{gap:.3f} s, held connections {connections - lost}/{connections} finished"
          + ("" if not lost else f" ({replies})"), flush=True)
    return gap, lost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--connections", type=int, default=3, help="held per cycle")
    parser.add_argument("--lab", default="soak", help="lab name (default %(default)s)")
    parser.add_argument("--reuse", action="store_true",
                        help="use a running lab of that name, roll out again, leave it up")
    args = parser.parse_args(argv)
    lab = Cluster(args.lab)
    gaps: list[float] = []
    lost = 0
    try:
        if not args.reuse:
            lab.up()
            lab.deploy(**SETTINGS)
        else:
            lab.configure(**SETTINGS)
        with SplitBrainWatcher(lab) as watcher:
            for number in range(1, args.cycles + 1):
                gap, cycle_lost = cycle(lab, number, args.connections)
                gaps.append(gap)
                lost += cycle_lost
    finally:
        if not args.reuse:
            lab.down()
    print(f"soak_cycles: {len(gaps)}")
    print(f"soak_split_brain_samples: {len(watcher.split)} (of {watcher.samples})")
    print(f"soak_established_lost: {lost} (of {len(gaps) * args.connections})")
    print(f"soak_failover_gap_median: {statistics.median(gaps):.3f} s")
    print(f"soak_failover_gap_max: {max(gaps):.3f} s")
    return 1 if watcher.split or lost else 0


if __name__ == "__main__":
    sys.exit(main())
