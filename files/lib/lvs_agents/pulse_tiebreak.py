# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The split-brain tie-breaker (``--tiebreaker ADDR``): before a takeover after a silent
deadtime, this node must not be the one cut off and the silent peer must not still hold the
VIPs. Run on a helper thread; blocking calls only."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from .pulse_net import PulseNetops
from .pulse_setup import NAME

log = logging.getLogger(NAME)


def tiebreak_verdict(net: PulseNetops, targets: Sequence[str], vips: Sequence[Any],
                     deadtime: float, norun: bool) -> bool:
    """A majority of the tie-breakers (when there are any) answers ICMP echo, and no IPv4 VIP
    answers ARP (an answer means the silent peer still holds it)."""
    timeout = min(1.0, max(0.1, deadtime))
    answers: list[bool] = []
    threads = [threading.Thread(target=lambda a=a: answers.append(
        bool(net.icmp_echo(a, timeout)))) for a in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if targets and sum(answers) * 2 <= len(targets):
        log.warning("tie-breaker: %d of %d answered: staying standby", sum(answers),
                    len(targets))
        return False
    for spec in vips:
        if ":" in spec.ip or norun:
            continue
        owner = net.arp_probe(spec.ip, spec.device, timeout)
        if owner is not None:
            log.warning("%s is still answered by %s: staying standby", spec.ip, owner)
            return False
    if targets:
        log.info("tie-breaker: %d of %d answered, no VIP in use: taking over", sum(answers),
                 len(targets))
    else:
        log.info("no VIP answers: taking over")
    return True
