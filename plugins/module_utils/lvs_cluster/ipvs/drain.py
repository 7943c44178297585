# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Draining destinations before they are removed: weight 0 first, then wait until their
connections end or a timeout passes. The weight changes are operations of the caller's
transaction, so a later refusal gives the weights back with everything else.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping

from . import netlink as nl
from . import reconcile as rc
from .model import Destination, Service
from .options import host_port

DRAIN_POLL_SECONDS = 1.0


def connections(kernel_: nl.IpvsNetlink, service: Service,
                keys: Iterable[object]) -> dict[object, int]:
    """Active + inactive connections of the given destinations (absent ones count 0)."""
    wanted = set(keys)
    out = dict.fromkeys(wanted, 0)
    for dest, state in kernel_.destinations(service):
        if dest.key in wanted:
            out[dest.key] = state.active_conns + state.inactive_conns
    return out


# How drain() waits and tells time (unit tests replace them).
_sleep: Callable[[float], None] = time.sleep
_clock: Callable[[], float] = time.monotonic


def drain(kernel_: nl.IpvsNetlink, targets: Mapping[Service, Iterable[Destination]],
          timeout: float, transaction: rc.Transaction | None = None) -> list[dict]:
    """Set the live destinations ``targets`` to weight 0 (a step of ``transaction``), then wait
    until each has no active or inactive connection, or ``timeout`` seconds have passed.

    Raises rc.ApplyError if the kernel refuses a weight change (the transaction is rolled
    back). Returns one report per destination: service, destination, connections left,
    seconds waited.
    """
    edits = [rc.Operation("edit_destination", service, dataclasses.replace(dest, weight=0),
                          before=dest)
             for service, dests in targets.items() for dest in dests if dest.weight != 0]
    (transaction or rc.Transaction(kernel_)).apply(edits)
    sleep, clock = _sleep, _clock
    start = clock()
    left: dict[tuple[Service, object], int] = {}
    while True:
        for service, dests in targets.items():
            counts = connections(kernel_, service, [d.key for d in dests])
            for key, count in counts.items():
                left[(service, key)] = count
        waited = clock() - start
        if not any(left.values()) or waited >= timeout:
            break
        sleep(min(DRAIN_POLL_SECONDS, max(timeout - waited, 0)))
    seconds = round(clock() - start, 1)
    return [{"service": nl.describe_service(service), "destination": host_port(dest),
             "connections": left.get((service, dest.key), 0), "seconds": seconds}
            for service, dests in targets.items() for dest in dests]
