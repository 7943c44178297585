# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The split-brain tie-breaker (``--tiebreaker ADDR``): before a takeover after a silent
deadtime, this node must not be the one cut off and the silent peer must not still hold the
VIPs. Run on a helper thread; blocking calls only."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .pulse_net import PulseNetops
from .pulse_setup import NAME

log = logging.getLogger(NAME)
T = TypeVar("T")


def at_once(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run the blocking calls each on a thread of its own; their results in order. The first
    exception raised by one of them is raised here, once all have ended."""
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            results[index] = calls[index]()
        except Exception as error:  # noqa: BLE001 - raised again below, on the caller's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def tiebreak_verdict(net: PulseNetops, targets: Sequence[str], vips: Sequence[Any],
                     deadtime: float, norun: bool) -> bool:
    """A majority of the tie-breakers (when there are any) answers ICMP echo, and no VIP is
    answered on its link (ARP for IPv4, neighbour solicitation for IPv6): an answer means the
    silent peer still holds it. All probes of a kind run at once: a silent one waits its whole
    timeout."""
    timeout = min(1.0, max(0.1, deadtime))
    answers = [bool(answer) for answer in at_once(
        [functools.partial(net.icmp_echo, address, timeout) for address in targets])]
    if targets and sum(answers) * 2 <= len(targets):
        log.warning("tie-breaker: %d of %d answered: staying standby", sum(answers),
                    len(targets))
        return False
    probed = [] if norun else list(vips)
    owners = at_once([functools.partial(net.arp_probe, spec.ip, spec.device, timeout)
                      for spec in probed])
    held = [(probed[i].ip, owner) for i, owner in enumerate(owners) if owner is not None]
    for ip, owner in held:
        log.warning("%s is still answered by %s: staying standby", ip, owner)
    if held:
        return False
    if targets:
        log.info("tie-breaker: %d of %d answered, no VIP in use: taking over", sum(answers),
                 len(targets))
    else:
        log.info("no VIP answers: taking over")
    return True
