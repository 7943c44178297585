# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvsd run by pulse, when pulse is gone: wait to be adopted, or exit.

A SIGKILLed pulse is restarted by systemd at once and adopts the lvsd it left running
(``pulse_adopt``): no second lvsd start-up on a router that forwards. Until then lvsd is an
orphan (its parent is no longer the pulse that started it). It counts as adopted while the
pulse that ``pulse.json`` names is alive and names this lvsd as its own; an orphan that no pulse
adopts within ``grace`` seconds (pulse stopped for good while lvsd was orphaned, or a pulse that
cannot start) exits, leaving the IPVS table as it is, like any lvsd that stops.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from .runtime import pid_alive

ORPHAN_GRACE = 30.0


def adopted_by_pulse(pulse_status: Any, own_pid: int) -> bool:
    """Whether ``pulse.json`` is a running pulse's and names ``own_pid`` as its lvsd."""
    if not isinstance(pulse_status, dict):
        return False
    pid, lvsd = pulse_status.get("pid"), pulse_status.get("lvsd")
    return pid != 1 and isinstance(lvsd, dict) and lvsd.get("pid") == own_pid and \
        pid_alive(pid)


class OrphanWatch:
    """Decides, each time it is asked, whether lvsd should exit for want of a pulse."""

    def __init__(self, read_pulse_status: Callable[[], Any], log: logging.Logger,
                 grace: float = ORPHAN_GRACE, parent: int | None = None) -> None:
        self.read_pulse_status = read_pulse_status
        self.log = log
        self.grace = grace
        self.parent = os.getppid() if parent is None else parent
        self.orphaned_since: float | None = None

    def should_exit(self, now: float, parent: int | None = None) -> bool:
        """``now``: a monotonic clock; ``parent``: the current parent pid (default: ours)."""
        parent = os.getppid() if parent is None else parent
        if parent == self.parent:
            return False
        pulse_status = self.read_pulse_status()
        if adopted_by_pulse(pulse_status, os.getpid()):
            if self.orphaned_since is not None:
                self.log.info("adopted by pulse (pid %s)", pulse_status["pid"])
            self.orphaned_since = None
            return False
        if self.orphaned_since is None:
            self.orphaned_since = now
            self.log.warning("the pulse that started this lvsd is gone: exiting in %g s unless "
                             "a restarted pulse adopts it", self.grace)
        if now - self.orphaned_since < self.grace:
            return False
        self.log.error("no pulse adopted this lvsd within %g s: exiting (the IPVS table stays "
                       "as it is)", self.grace)
        return True
