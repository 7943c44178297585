# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A restarted pulse adopts the lvsd its killed predecessor left running.

lvsd outlives a SIGKILLed pulse (the unit's ``KillMode=process``; lvsd's side is
``lvsd_orphan``). Starting a second lvsd would be a second Python start-up and a full first
reconcile on the router while it forwards; in a UML guest that kernel work cost probes
(tests/integration/agents, the killed-pulse test). So pulse's first start of lvsd looks for
that orphan first: the pid in ``lvsd.json``, alive, running this lvsd program on this lvs.cf
with a readiness pipe (run by a pulse), not the child of a running pulse, its status current
and READY. It is then watched through a pidfd (not pulse's child: no SIGCHLD, no wait status)
and signalled through it (no pid reuse race).

An orphan that is not fit to adopt (not the pid in ``lvsd.json``, not READY, status stale, no
pidfd) is stopped before a new lvsd starts: two lvsd on one table would fight over it.
"""

from __future__ import annotations

import os
import select
import signal
import time
from typing import Any

from lvs_cluster.agent_status import STALE_AFTER, status_age

UNKNOWN_STATUS = "unknown (adopted: not pulse's child)"


class AdoptedLvsd:
    """An lvsd that pulse did not start, with the part of ``subprocess.Popen``'s interface
    that ``pulse_lvsd.Lvsd`` uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)  # OSError: gone, or no pidfd on this kernel
        self.returncode: int | str | None = None

    def fileno(self) -> int:
        return self.pidfd

    def poll(self) -> int | str | None:
        if self.returncode is None and self.pidfd >= 0 and \
                select.select([self.pidfd], [], [], 0)[0]:
            self.returncode = UNKNOWN_STATUS
        return self.returncode

    def close(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1

    def wait(self, timeout: float | None = None) -> int | str:
        if self.returncode is None:
            if not select.select([self.pidfd], [], [], timeout)[0]:
                import subprocess  # noqa: PLC0415 - as in pulse_lvsd: not on pulse's start path

                raise subprocess.TimeoutExpired(f"lvsd (pid {self.pid})", timeout or 0)
            self.poll()
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            signal.pidfd_send_signal(self.pidfd, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as stream:
            return stream.read().decode(errors="replace").split("\0")
    except OSError:
        return []


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as stream:
            # after "(comm)", which may hold spaces: state, then the parent's pid
            return int(stream.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def runs_lvsd(arguments: list[str], program: str, config_path: str) -> bool:
    """Whether a command line is this pulse's kind of lvsd: ``program`` on ``config_path``,
    with a readiness pipe (started by a pulse)."""
    pairs = {(arguments[n], arguments[n + 1]) for n in range(len(arguments) - 1)}
    return program in arguments and ("-c", config_path) in pairs and "--ready-fd" in arguments


def orphan_pids(program: str, config_path: str, pulse_program: str) -> list[int]:
    """Every process running ``program`` on ``config_path`` with a readiness pipe whose parent
    is not a running pulse (found in /proc, not only in ``lvsd.json``: a run directory removed
    with its unit must not hide an orphan, or two lvsd would run)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        pid = int(entry)
        if not runs_lvsd(_cmdline(pid), program, config_path):
            continue
        parent = _parent(pid)
        if parent is not None and parent != os.getpid() and pulse_program in _cmdline(parent):
            continue  # another pulse's child
        found.append(pid)
    return found


def fit_to_adopt(report: Any, now: float) -> str | None:
    """Why the orphan's status rules adoption out (None: adopt it)."""
    if not isinstance(report, dict) or report.get("ready") is not True:
        return "it has not reported READY"
    age = status_age(report, now)
    if age is None or not -STALE_AFTER <= age <= STALE_AFTER:
        return "its status is not current"
    return None


def stop_orphan(pid: int, timeout: float) -> None:
    """SIGTERM, up to ``timeout``, then SIGKILL (by pid: used when no pidfd could be had)."""
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
