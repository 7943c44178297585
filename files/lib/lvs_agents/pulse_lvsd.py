# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvsd under pulse: started at once on both nodes (warm standby), its READY read from a pipe
(CHILDFAIL lasts until then), restarted after a back-off when it exits, stopped on the way out.
A pulse restarted after a SIGKILL adopts the lvsd left running instead (``pulse_adopt``)."""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import runtime
from .pulse_adopt import AdoptedLvsd, fit_to_adopt, orphan_pids, stop_orphan
from .pulse_setup import NAME, default_lvsd

if TYPE_CHECKING:  # imported when lvsd starts: pulse's first heartbeat goes out before
    import subprocess

LVSD_RESTART_DELAY = 1.0
# lvsd (and its checks) yield the CPU to pulse: its start-up takes seconds of CPU on a small
# router (4 s in a lab guest), and pulse's heartbeats must not wait behind it.
LVSD_NICENESS = 5
LVSD_STOP_TIMEOUT = 5.0

log = logging.getLogger(NAME)


class Lvsd:
    """lvsd as pulse's child: started at once (warm standby), READY read from a pipe,
    restarted after a back-off when it exits."""

    def __init__(self, program: str, config_path: str, last_good: str, verbose: bool,
                 selector: selectors.BaseSelector, options: Sequence[str] = (),
                 pulse_program: str = "pulse") -> None:
        self.program = program
        self.pulse_program = pulse_program
        self.options = list(options)
        self.config_path = config_path
        self.last_good = last_good
        self.verbose = verbose
        self.selector = selector
        self.process: subprocess.Popen[bytes] | AdoptedLvsd | None = None
        self.ready = False
        self.restarts = 0
        self.started_once = False
        self.adopted = False  # the running lvsd is one a killed pulse left
        self.restart_at: float | None = None
        self.ready_fd: int | None = None
        self.buffer = b""

    def adopt(self) -> bool:
        """Take on the lvsd a killed pulse left running, if it is fit to adopt (the pid in
        ``lvsd.json``, READY, its status current); stop every other orphan. Whether one was
        adopted."""
        report = runtime.read_status("lvsd")
        chosen = report.get("pid") if isinstance(report, dict) else None
        adopted = False
        for pid in orphan_pids(self.program, self.config_path, self.pulse_program):
            unfit = fit_to_adopt(report, time.time()) if pid == chosen else \
                "it is not the lvsd in lvsd.json"
            try:
                process = AdoptedLvsd(pid)
            except OSError as error:
                log.warning("cannot watch the orphaned lvsd (pid %d: %s): stopping it", pid,
                            error.strerror or error)
                stop_orphan(pid, LVSD_STOP_TIMEOUT)
                continue
            if unfit is not None:
                log.warning("not adopting the orphaned lvsd (pid %d): %s; stopping it", pid,
                            unfit)
                self._terminate(process)
                continue
            self.process, self.ready, self.started_once, self.adopted = process, True, True, True
            self.restart_at = None
            self.selector.register(process.fileno(), selectors.EVENT_READ, "lvsd-ready")
            log.info("adopted lvsd (pid %d), READY, left running by the previous pulse", pid)
            adopted = True
        return adopted

    def start(self) -> None:
        if not self.started_once and self.adopt():
            return
        self.adopted = False
        read_end, write_end = os.pipe()
        # lvsd applies the same last-good rule (lvs_agents.last_good) to the same copy
        command = [self.program, "--nodaemon", "-c", self.config_path,
                   "--last-good", self.last_good, "--ready-fd", str(write_end)] \
            + (["-v"] if self.verbose else []) + self.options
        self.restart_at = None
        import subprocess  # noqa: PLC0415 - see the top of the module

        try:
            # systemd accepts notifications from pulse only (NotifyAccess=main); lvsd tells
            # pulse on its ready pipe instead.
            environment = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                            pass_fds=(write_end,), env=environment)
        except OSError as error:
            log.error("cannot start lvsd %s: %s", self.program, error.strerror or error)
            os.close(read_end)
            self.process = None
            return
        finally:
            os.close(write_end)
        try:
            niceness = os.getpriority(os.PRIO_PROCESS, 0) + LVSD_NICENESS
            os.setpriority(os.PRIO_PROCESS, self.process.pid, niceness)
        except OSError as error:
            log.warning("cannot lower lvsd's priority: %s", error.strerror or error)
        if self.started_once:
            self.restarts += 1
        self.started_once = True
        log.info("started lvsd (pid %d)", self.process.pid)
        os.set_blocking(read_end, False)
        self.ready_fd, self.buffer, self.ready = read_end, b"", False
        self.selector.register(read_end, selectors.EVENT_READ, "lvsd-ready")

    def on_readable(self) -> bool:
        """Read the readiness pipe; True when lvsd has just reported READY. (An adopted lvsd's
        pidfd wakes the loop too, when it exits: nothing to read, ``reap`` sees it.)"""
        if self.ready_fd is None:
            return False
        try:
            chunk = os.read(self.ready_fd, 256)
        except BlockingIOError:
            return False
        except OSError:
            chunk = b""
        self.buffer += chunk
        became_ready = not self.ready and b"READY\n" in self.buffer
        if became_ready:
            self.ready = True
            log.info("lvsd reported READY")
        if not chunk or became_ready:
            self._close_pipe()
        return became_ready

    def _close_pipe(self) -> None:
        if self.ready_fd is not None:
            self.selector.unregister(self.ready_fd)
            os.close(self.ready_fd)
            self.ready_fd = None

    def _forget(self, process: subprocess.Popen[bytes] | AdoptedLvsd | None) -> None:
        """Stop watching an adopted lvsd's pidfd."""
        if isinstance(process, AdoptedLvsd) and process.pidfd >= 0:
            with contextlib.suppress(KeyError):  # an unfit orphan, stopped, was never watched
                self.selector.unregister(process.fileno())
            process.close()

    def reap(self, now: float) -> int | str | None:
        """lvsd's exit status if it has just exited (restart scheduled), else None."""
        if self.process is None:
            if self.restart_at is None:
                self.restart_at = now + LVSD_RESTART_DELAY
                return -1  # could not even start
            return None
        status = self.process.poll()
        if status is None:
            return None
        self._forget(self.process)
        self.process = None
        self.ready = False
        self._close_pipe()
        self.restart_at = now + LVSD_RESTART_DELAY
        return status

    def supervise(self, now: float) -> tuple[bool, bool]:
        """Reap lvsd (its exit logged) and start it again once its back-off is over: whether
        it has just exited, and whether it has just been started."""
        status = self.reap(now)
        if status is not None and status != -1:
            log.error("lvsd exited with status %s; restarting it in %g s", status,
                      LVSD_RESTART_DELAY)
        started = self.due(now)
        if started:
            self.start()
        return status is not None, started

    def due(self, now: float) -> bool:
        return self.process is None and self.restart_at is not None and now >= self.restart_at

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def stop(self) -> None:
        """SIGTERM, up to 5 s, then SIGKILL; lvsd leaves the IPVS table as it is."""
        process, self.process = self.process, None
        self._close_pipe()
        if process is not None:
            self._terminate(process)

    def _terminate(self, process: subprocess.Popen[bytes] | AdoptedLvsd) -> None:
        if process.poll() is None:
            process.terminate()
            import subprocess  # noqa: PLC0415 - see the top of the module

            try:
                process.wait(LVSD_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("lvsd (pid %d) ignored SIGTERM for %g s: killing it", process.pid,
                            LVSD_STOP_TIMEOUT)
                process.kill()
                process.wait()
        self._forget(process)


def lvsd_status(lvsd: Lvsd | None) -> dict[str, Any]:
    """pulse.json's ``lvsd``: its pid (lvsd's orphan rule looks for its own there), READY,
    restarts, and whether it was adopted from a killed pulse."""
    return {"pid": lvsd.pid if lvsd else None, "ready": bool(lvsd and lvsd.ready),
            "restarts": lvsd.restarts if lvsd else 0, "adopted": bool(lvsd and lvsd.adopted)}


def start_lvsd(args: Any, selector: selectors.BaseSelector, argv0: str) -> Lvsd | None:
    """pulse's lvsd (either mode), started; None with ``--norun``."""
    if args.norun:
        return None
    program = args.lvsd or default_lvsd(argv0)
    lvsd = Lvsd(program, args.configfile, args.last_good, args.verbose, selector,
                args.lvsd_option, pulse_program=argv0)
    lvsd.start()
    return lvsd
