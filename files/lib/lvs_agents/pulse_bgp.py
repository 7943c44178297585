# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pulse in bgp mode (``pulse --mode bgp``, the router role's ``router_ha: bgp``): every router
active, no peer and no heartbeats. pulse runs lvsd as in the pair (``pulse_lvsd``), serves every
VIP (``netops_routes.serve``: the kernel takes its packets without an address) and announces a
VIP to FRR by its main-table route while ``announce_state`` says this router can serve it:
lvsd READY, its status fresh (written by the running lvsd, and changing: a hung lvsd stops
rewriting it), the first round of checks done, ``--min-healthy`` real servers up.

A planned stop (SIGTERM) withdraws first, keeps serving for ``--drain`` seconds while the
upstream moves the flows to the other routers, then stops lvsd and stops serving.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import selectors
import signal
import socket
import sys
import time
from typing import Any, Protocol

from lvs_cluster.agent_status import STATUS_INTERVAL
from lvs_cluster.vocabulary import unmapped

from . import announce_state as an
from . import runtime
from .last_good import ConfigSource
from .pulse_daemon import drain_signals, note_signal
from .pulse_lvsd import Lvsd, lvsd_status, start_lvsd
from .pulse_setup import NAME, start_metrics

EVALUATE_INTERVAL = 0.2  # how often lvsd's status is read and the announcement decided
# lvsd rewrites its status every STATUS_INTERVAL; this long without a new one is a hung lvsd
LVSD_SILENT_AFTER = max(3.0, 3 * STATUS_INTERVAL)

log = logging.getLogger(NAME)


class Routes(Protocol):
    """The route operations bgp mode needs (``lvs_agents.netops_routes``)."""

    def serve(self, ip: str) -> bool: ...

    def unserve(self, ip: str) -> bool: ...

    def announce(self, ip: str) -> bool: ...

    def withdraw(self, ip: str) -> bool: ...

    def announced(self) -> set[str]: ...


def vips_of(config: Any) -> dict[str, str]:
    """Each active virtual's name -> its VIP (canonical text)."""
    return {v.name: unmapped(v.address.ip) for v in config.virtuals
            if v.active and v.address is not None}


class LvsdReport:
    """lvsd's status file as bgp mode trusts it: written by the lvsd now running (its pid) and
    still being rewritten. Freshness is judged by when this process saw ``updated`` change
    (monotonic), not by comparing wall clocks: a clock step must not withdraw every router."""

    def __init__(self) -> None:
        self.updated: object = None
        self.seen_at = 0.0

    def virtuals(self, document: dict[str, Any] | None, pid: int | None, now: float
                 ) -> list[Any] | None:
        """The document's virtuals if it is fresh and from ``pid``, else None."""
        if document is None or pid is None or document.get("pid") != pid:
            return None
        if document.get("updated") != self.updated:
            self.updated, self.seen_at = document.get("updated"), now
        if now - self.seen_at > LVSD_SILENT_AFTER:
            return None
        virtuals = document.get("virtuals")
        return virtuals if isinstance(virtuals, list) else None


class BgpPulse:
    """One bgp-mode run: lvsd, the serve and announce routes, signals, status."""

    def __init__(self, args: argparse.Namespace, config: Any, routes: Routes,
                 source: ConfigSource) -> None:
        self.args = args
        self.config = config
        self.source = source
        self.routes = routes
        self.vip_of = vips_of(config)
        self.announced: frozenset[str] = frozenset()
        self.report = LvsdReport()
        self.selector = selectors.DefaultSelector()
        self.signal_read, self.signal_write = socket.socketpair()
        self.lvsd: Lvsd | None = None
        self.metrics: Any = None
        self.stopping = False
        self.drain_until: float | None = None
        self.exiting = False
        self.ready_notified = False
        self.withdrawals = self.announcements = 0
        self.since = time.time()
        self.next_evaluate = self.next_status = time.monotonic()

    @property
    def vips(self) -> list[str]:
        return sorted(set(self.vip_of.values()))

    # --- life -----------------------------------------------------------------------------

    def run(self) -> int:
        for end in (self.signal_read, self.signal_write):
            end.setblocking(False)
        signal.set_wakeup_fd(self.signal_write.fileno(), warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(signum, note_signal)
        self.selector.register(self.signal_read, selectors.EVENT_READ, "signal")
        # What a previous run left announced is withdrawn until this run's lvsd is ready.
        self.announced = frozenset(self.routes.announced())
        self.evaluate(time.monotonic())
        for vip in self.vips:
            self._route("serve", vip)
        if self.args.metrics != "off":
            self.metrics = start_metrics(*self.args.metrics_address,
                                         auth=self.args.status_auth)
        self.lvsd = start_lvsd(self.args, self.selector, sys.argv[0])
        try:
            while not self.exiting:
                for key, _mask in self.selector.select(self.timeout()):
                    self.on_readable(key.data)
                self.tick()
        finally:
            self.shutdown()
        return 0

    def timeout(self) -> float:
        timers = [self.next_evaluate, self.next_status]
        if self.drain_until is not None:
            timers.append(self.drain_until)
        if self.lvsd is not None and self.lvsd.restart_at is not None:
            timers.append(self.lvsd.restart_at)
        return max(0.0, min(timers) - time.monotonic())

    def on_readable(self, kind: str) -> None:
        if kind == "signal":
            for signum in drain_signals(self.signal_read):
                self.on_signal(signum)
        elif kind == "lvsd-ready" and self.lvsd is not None and self.lvsd.on_readable():
            self.evaluate(time.monotonic())

    def tick(self) -> None:
        now = time.monotonic()
        self.check_lvsd(now)
        if now >= self.next_evaluate:
            self.evaluate(now)
        if self.drain_until is not None and now >= self.drain_until:
            self.exiting = True
        if now >= self.next_status:
            self.write_status()

    def on_signal(self, signum: int) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT) and not self.stopping:
            log.info("%s: withdrawing every VIP, serving for %g s more while the upstream "
                     "moves the flows, then stopping", signal.Signals(signum).name,
                     self.args.drain)
            self.stopping = True
            self.evaluate(time.monotonic())
            self.drain_until = time.monotonic() + self.args.drain
        elif signum == signal.SIGHUP:
            self.reload()

    def check_lvsd(self, now: float) -> None:
        if self.lvsd is None or self.stopping:
            return
        exited, _started = self.lvsd.supervise(now)
        if exited:
            self.evaluate(now)

    # --- the announcement -----------------------------------------------------------------

    def inputs(self, now: float) -> an.Inputs:
        lvsd = self.lvsd
        ready = lvsd is not None and lvsd.ready and lvsd.pid is not None
        virtuals = self.report.virtuals(runtime.read_status("lvsd"),
                                        lvsd.pid if lvsd else None, now) if ready else None
        if self.args.norun:  # nothing runs: decide as if lvsd were up and every check passed
            return an.Inputs(True, tuple(an.VirtualHealth(vip, True, self.args.min_healthy)
                                         for vip in self.vips), self.args.min_healthy,
                             self.stopping)
        return an.Inputs(ready and virtuals is not None,
                         an.virtual_health(self.vip_of, virtuals or []),
                         self.args.min_healthy, self.stopping)

    def evaluate(self, now: float) -> None:
        self.next_evaluate = now + EVALUATE_INTERVAL
        inputs = self.inputs(now)
        self.announced, actions = an.step(self.announced, inputs)
        for kind, vip in actions:
            if kind == an.WITHDRAW:
                self.withdrawals += 1
                log.info("withdrawing %s", vip)
                self._route("withdraw", vip)
            else:
                self.announcements += 1
                log.info("announcing %s", vip)
                self._route("announce", vip)
        if actions:
            self.since = time.time()
            self.write_status()
            runtime.notify(f"STATUS={self.systemd_status()}")
        if not self.ready_notified and inputs.lvsd_ready \
                and all(v.checked for v in inputs.virtuals):
            # Ready once announced what it can: a rolling restart (systemctl restart returns
            # at READY) then never has two routers withdrawn at once.
            self.ready_notified = True
            runtime.notify("READY=1", f"STATUS={self.systemd_status()}")

    def _route(self, operation: str, vip: str) -> None:
        if self.args.norun:
            log.info("would %s %s (--norun)", operation, vip)
            return
        try:
            getattr(self.routes, operation)(vip)
        except OSError as error:
            log.error("%s %s failed: %s", operation, vip, error)

    # --- reload ---------------------------------------------------------------------------

    def reload(self) -> None:
        """Re-read lvs.cf: new VIPs are served (announced once lvsd reports them healthy),
        dropped ones withdrawn and no longer served; a bad file changes nothing."""
        try:
            config = self.source.reload()
        except runtime.ConfigError as error:
            log.error("%s (reload refused, keeping the running configuration)", error)
        else:
            before = set(self.vips)
            self.config, self.vip_of = config, vips_of(config)
            self.evaluate(time.monotonic())  # withdraws what is gone
            for vip in sorted(before - set(self.vips)):
                self._route("unserve", vip)
            for vip in sorted(set(self.vips) - before):
                self._route("serve", vip)
            log.info("reloaded %s: %d VIP(s)", self.args.configfile, len(self.vips))
        self.reassert()
        if self.lvsd is not None:
            self.lvsd.signal(signal.SIGHUP)

    def reassert(self) -> None:
        """Undo hand edits of the routes (a reload; the drift playbook's correction): every VIP
        served, an announce route for each VIP announced, none for the others."""
        if self.args.norun:
            return
        try:
            present = set(self.routes.announced())
            for vip in self.vips:
                if self.routes.serve(vip):
                    log.warning("VIP %s was not served (its local route was gone): served "
                                "again", vip)
            for vip in sorted(self.announced - present):
                self.routes.announce(vip)
                log.warning("VIP %s's announce route was gone: announced again", vip)
            for vip in sorted(present - self.announced):
                self.routes.withdraw(vip)
                log.warning("VIP %s had an announce route pulse did not make: withdrawn", vip)
        except OSError as error:
            log.error("putting the VIP routes back failed: %s", error)

    # --- outputs --------------------------------------------------------------------------

    def systemd_status(self) -> str:
        if self.stopping:
            return "draining: every VIP withdrawn"
        return f"bgp: announcing {len(self.announced)} of {len(self.vips)} VIP(s)"

    def status(self) -> dict[str, Any]:
        return {
            "mode": "bgp",
            "node": "bgp",
            "state": "draining" if self.stopping else
            ("active" if self.announced else "standby"),
            "flags": [],
            "since": self.since,
            "vips": [{"ip": vip, "announced": vip in self.announced} for vip in self.vips],
            "announcements": self.announcements,
            "withdrawals": self.withdrawals,
            "min_healthy": self.args.min_healthy,
            "lvsd": lvsd_status(self.lvsd),
            "last_good": self.source.status(),
        }

    def write_status(self) -> None:
        self.next_status = time.monotonic() + STATUS_INTERVAL
        try:
            runtime.write_status(NAME, self.status())
        except OSError as error:
            log.error("cannot write the status file: %s", error)

    def shutdown(self) -> None:
        runtime.notify("STOPPING=1")
        self.stopping = True
        self.evaluate(time.monotonic())  # withdraws, whatever ended the loop
        if self.lvsd is not None:
            self.lvsd.stop()
        if self.drain_until is not None:  # a planned stop: this router leaves
            for vip in self.vips:
                self._route("unserve", vip)
        if self.metrics is not None:
            with contextlib.suppress(Exception):
                self.metrics.close()
        self.write_status()
        signal.set_wakeup_fd(-1)
        log.info("stopped")
