# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pulse daemon's loop: one thread runs a selector over the heartbeat sockets, the signal
wakeup fd, lvsd's readiness pipe and a wake pipe for the helper threads (tie-break probes, ARP
warm-up), with monotonic timers for sending, the dead peer and link checks. Every decision is
made by ``pulse_state.step``; this module turns events into inputs and hands the actions to
``pulse_takeover`` (addresses, ARP, hooks), ``pulse_lvsd`` and ``pulse_tiebreak``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import queue
import selectors
import signal
import socket
import sys
import threading
import time
from typing import Any

from lvs_cluster.agent_status import STATUS_INTERVAL

from . import heartbeat as hb
from . import pulse_state as ps
from . import runtime
from .heartbeat_store import HeartbeatStore
from .last_good import ConfigSource
from .pulse_heartbeats import HeartbeatLink
from .pulse_lvsd import Lvsd, lvsd_status, start_lvsd
from .pulse_net import PulseNetops, net_call
from .pulse_setup import (
    NAME,
    UsageError,
    address_specs,
    heartbeat_paths,
    load_key,
    start_metrics,
)
from .pulse_takeover import Takeover, reap_hooks
from .pulse_tiebreak import tiebreak_verdict

LINK_CHECK_INTERVAL = 0.2
STARTUP_GRACE_MIN = 1.0  # a starting backup gives the master max(deadtime, this) to claim

log = logging.getLogger(NAME)


class Pulse:
    """One pulse run: sockets, timers, the state machine and the actions' effects."""

    def __init__(self, args: argparse.Namespace, config: Any, net: PulseNetops,
                 keys: hb.HeartbeatKeys | None, host: dict[str, str],
                 source: ConfigSource) -> None:
        self.args = args
        self.config = config
        self.source = source
        self.net = net
        self.host = host
        self.paths = heartbeat_paths(config, host)
        self.takeover = Takeover(args, config, net, address_specs(config, net), self.changed)
        self.options = ps.Options(master=self.paths.master, failback=args.failback,
                                  forceactive=args.forceactive,
                                  tiebreaker=bool(args.tiebreaker))
        self.state = ps.State()
        self.selector = selectors.DefaultSelector()
        self.link = HeartbeatLink(self.paths, config.heartbeat_port, keys,
                                  args.legacy_heartbeat, self.window(),
                                  HeartbeatStore.in_state_dir())
        self.received = self.transitions = 0
        self.since = time.time()
        self.peer_state = "unknown"
        self.peer_last: float | None = None
        self.exiting = False
        self.ready_notified = False
        self.results: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.wake_read, self.wake_write = socket.socketpair()
        self.signal_read, self.signal_write = socket.socketpair()
        self.lvsd: Lvsd | None = None
        self.metrics: Any = None
        self.dirty = True
        now = time.monotonic()
        self.next_send = now
        self.deadline = now + config.deadtime
        self.next_status = now
        self.next_link_check = now
        self.grace_at: float | None = None

    @property
    def vips(self) -> list[Any]:
        return self.takeover.vips

    def changed(self) -> None:
        self.dirty = True

    def window(self) -> float:
        return max(2.0, 2 * self.config.deadtime)

    # --- setup ----------------------------------------------------------------------------

    def install_signals(self) -> None:
        for end in (self.signal_read, self.signal_write, self.wake_read, self.wake_write):
            end.setblocking(False)
        signal.set_wakeup_fd(self.signal_write.fileno(), warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(signum, note_signal)
        self.selector.register(self.signal_read, selectors.EVENT_READ, "signal")
        self.selector.register(self.wake_read, selectors.EVENT_READ, "wake")

    def start_helpers(self) -> None:
        """What is not needed for the first heartbeat: the warm-up of the address library
        (pyroute2) and the announcer (scapy), the metrics endpoint and lvsd. They start after
        it, so a restarted pulse (systemd, after a crash) is heard again before its peer's
        deadtime runs out on a slow router."""
        self.takeover.warm()
        if self.args.metrics != "off":
            self.metrics = start_metrics(*self.args.metrics_address,
                                         auth=self.args.status_auth)
        self.lvsd = start_lvsd(self.args, self.selector, sys.argv[0])
        if self.lvsd is not None and self.lvsd.ready:  # adopted: no READY on a pipe to wait for
            self.dispatch(ps.Event(ps.CHILD_READY))

    # --- main loop ------------------------------------------------------------------------

    def run(self) -> int:
        self.link.open(self.selector)
        self.install_signals()
        self.takeover.start_announcer()
        vips_present = bool(self.vips) and all(
            self.net_call("has_address", spec) for spec in self.vips)
        if vips_present:
            log.info("every VIP is already on this node: resuming as active")
        # The peer's silence counts from now, when this pulse can hear it: a start slower
        # than deadtime (a loaded machine) must not read as a dead peer at the first tick.
        now = time.monotonic()
        self.deadline = now + self.config.deadtime
        self.next_send = now
        self.grace_at = now + max(self.config.deadtime, STARTUP_GRACE_MIN)
        self.dispatch(ps.Event(ps.START, vips_present=vips_present))
        if self.next_send <= now:  # START did not send one already
            self.send_heartbeats()
        self.start_helpers()
        self.maybe_notify_ready()
        try:
            while not self.exiting:
                for key, _mask in self.selector.select(self.timeout()):
                    self.on_readable(key.data, key.fileobj)
                self.tick()
        finally:
            self.shutdown()
        return 0

    def timeout(self) -> float:
        timers = [self.next_send, self.deadline, self.next_status]
        if self.grace_at is not None:
            timers.append(self.grace_at)
        if self.lvsd is not None and self.lvsd.restart_at is not None:
            timers.append(self.lvsd.restart_at)
        if self.config.monitor_links:
            timers.append(self.next_link_check)
        return max(0.0, min(timers) - time.monotonic())

    def on_readable(self, kind: str, fileobj: Any) -> None:
        if kind == "heartbeat":
            self.link.receive(fileobj, self.on_heartbeat)
        elif kind == "signal":
            for signum in drain_signals(self.signal_read):
                self.on_signal(signum)
        elif kind == "wake":
            drain_signals(self.wake_read)
        elif kind == "lvsd-ready" and self.lvsd is not None and self.lvsd.on_readable():
            self.dirty = True
            self.dispatch(ps.Event(ps.CHILD_READY))
            self.maybe_notify_ready()

    def tick(self) -> None:
        """Timers and non-fd inputs, once per loop pass."""
        now = time.monotonic()
        self.check_lvsd(now)
        while not self.results.empty():
            kind, value = self.results.get_nowait()
            if kind == "tiebreak":
                self.dispatch(ps.Event(ps.TIEBREAK_RESULT, ok=value))
        if self.config.monitor_links and self.config.backup_active and \
                now >= self.next_link_check:
            self.next_link_check = now + LINK_CHECK_INTERVAL
            self.check_links()
        if self.grace_at is not None and now >= self.grace_at and not self.exiting:
            self.grace_at = None
            self.dispatch(ps.Event(ps.STARTUP_GRACE_EXPIRED))
        if now >= self.deadline and not self.exiting:
            self.deadline = now + self.config.deadtime
            if self.peer_state != "unknown" or self.paths.peers:
                if self.peer_state != "unknown":
                    log.warning("no heartbeat from the peer for %g s: partner dead",
                                self.config.deadtime)
                self.peer_state = "unknown"
                self.dirty = True
            self.dispatch(ps.Event(ps.DEADTIME_EXPIRED,
                                   peer_host_up=self.link.refused_since_heard))
        if now >= self.next_send and not self.exiting:
            self.send_heartbeats()
        if self.dirty or now >= self.next_status:
            self.write_status()

    def on_signal(self, signum: int) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            log.info("%s: stopping", signal.Signals(signum).name)
            self.dispatch(ps.Event(ps.TERMINATE))
        elif signum == signal.SIGHUP:
            self.reload()

    # --- heartbeats -----------------------------------------------------------------------

    def send_heartbeats(self) -> None:
        self.next_send = time.monotonic() + self.config.keepalive
        self.link.send(self.takeover.holding)

    def on_heartbeat(self, beat: hb.Heartbeat) -> None:
        self.received += 1
        self.peer_last = time.time()
        self.deadline = time.monotonic() + self.config.deadtime
        state = "running" if beat.running else "stopped"
        if state != self.peer_state:
            log.info("peer is %s", state)
            self.peer_state = state
            self.dirty = True
        self.dispatch(ps.Event(ps.PEER_HEARTBEAT, running=beat.running))

    # --- state machine --------------------------------------------------------------------

    def dispatch(self, event: ps.Event) -> None:
        before = self.state
        self.state, actions = ps.step(self.options, self.state, event)
        if actions:
            log.debug("%s -> %s", event.kind, ", ".join(actions))
        for action in actions:
            self.perform(action)
        if self.state != before:
            self.dirty = True
        if self.state.active != before.active:
            self.transitions += 1
            self.since = time.time()
            log.info("now %s (%s)", "active" if self.state.active else "standby", event.kind)
            runtime.notify(f"STATUS={self.systemd_status()}")

    def perform(self, action: str) -> None:
        if action in (ps.ACTIVATE, ps.RESUME):
            self.takeover.take_over(resume=action == ps.RESUME)
        elif action == ps.DEACTIVATE:
            self.takeover.stand_down()
        elif action == ps.SEND_HEARTBEAT_NOW:
            self.send_heartbeats()
        elif action == ps.RESEND_ARPS_AND_ACTIVE_CMD:
            self.takeover.resend(time.monotonic())
        elif action == ps.START_TIEBREAK:
            if self.link.refused_since_heard:
                log.warning("partner silent for %g s but its host refuses the heartbeats "
                            "(pulse killed or restarting): checking that no VIP still answers "
                            "before taking over", self.config.deadtime)
            else:
                log.info("partner silent for %g s: asking the tie-breaker",
                         self.config.deadtime)
            threading.Thread(target=self._tiebreak, name="tiebreak", daemon=True).start()
        elif action == ps.EXIT:
            self.exiting = True

    def _tiebreak(self) -> None:
        try:
            verdict = tiebreak_verdict(self.net, self.args.tiebreaker, self.vips,
                                       self.config.deadtime, self.args.norun)
        except Exception as error:  # noqa: BLE001 - report, never die in a thread
            log.error("tie-breaker failed: %s", error)
            verdict = False
        self.results.put(("tiebreak", verdict))
        with contextlib.suppress(OSError):
            self.wake_write.send(b"t")

    # --- lvsd, links, reload --------------------------------------------------------------

    def check_lvsd(self, now: float) -> None:
        reap_hooks()
        if self.lvsd is None or self.exiting:
            return
        exited, started = self.lvsd.supervise(now)
        if exited or started:
            self.dirty = True
        if exited:
            self.dispatch(ps.Event(ps.CHILD_EXITED))

    def check_links(self) -> None:
        devices = {self.host.get(own, "") for own in self.paths.own} - {""}
        down = [device for device in sorted(devices)
                if self.net_call("link_is_up", device) is False]
        if down and not self.state.linkfail:
            log.error("link down on %s", ", ".join(down))
            self.dispatch(ps.Event(ps.LINK_DOWN))
        elif not down and self.state.linkfail:
            log.info("links up again")
            self.dispatch(ps.Event(ps.LINK_UP))

    def reload(self) -> None:
        """Re-read lvs.cf and the heartbeat keys: timers, VIPs and keys change in place; a bad
        file changes nothing (the last good configuration goes on running)."""
        try:
            config = self.source.reload()
            vips = address_specs(config, self.net)
            keys = load_key(self.args, config) if self.link.authenticated else None
        except (runtime.ConfigError, UsageError) as error:
            log.error("%s (reload refused, keeping the running configuration)", error)
        else:
            if keys is not None:
                self.link.use_keys(keys)
            self.apply_reload(config, vips)
        self.dirty = True
        runtime.notify(f"STATUS={self.systemd_status()}")
        if self.lvsd is not None:
            self.lvsd.signal(signal.SIGHUP)

    def apply_reload(self, config: Any, vips: list[Any]) -> None:
        old = self.config
        for key in ("primary", "backup", "primary_private", "backup_private", "backup_active",
                    "heartbeat_port"):
            if getattr(old, key) != getattr(config, key):
                log.warning("reload: %s changed; restart pulse to apply it", key)
                config = _replace_key(config, key, getattr(old, key))
        kept = {spec.ip for spec in vips}
        dropped = [spec for spec in self.vips if spec.ip not in kept]
        added = [spec for spec in vips if spec not in self.vips]
        self.config = self.takeover.config = config
        self.takeover.vips = vips
        self.link.verifier.window_ms = int(self.window() * 1000)
        restored = self.takeover.reassert(dropped)
        self.takeover.sync_settings_changed(old)
        log.info("reloaded %s: %d address(es), %d added, %d dropped, %d restored",
                 self.args.configfile, len(vips), len(added), len(dropped), restored)
        self.dirty = True

    # --- outputs --------------------------------------------------------------------------

    def maybe_notify_ready(self) -> None:
        if self.ready_notified:
            return
        if self.lvsd is None or self.lvsd.ready:
            self.ready_notified = True
            runtime.notify("READY=1", f"STATUS={self.systemd_status()}")

    def systemd_status(self) -> str:
        """``systemctl status``'s Status: line."""
        word = "active" if self.state.active else "standby"
        if self.source.in_use:
            return f"{word}; lvs.cf refused, running the last good configuration"
        return word

    def status(self) -> dict[str, Any]:
        return {
            "node": "primary" if self.paths.master else "backup",
            "state": "active" if self.state.active else "standby",
            "flags": self.state.flags,
            "since": self.since,
            "transitions": self.transitions,
            "peer": {"addresses": self.paths.peers, "state": self.peer_state,
                     "last_heartbeat": self.peer_last},
            "vips": [{"ip": spec.ip, "prefix": spec.prefix, "device": spec.device,
                      "label": spec.label, "present": bool(self.net_call("has_address", spec))}
                     for spec in self.vips],
            "heartbeat": {"keepalive": self.config.keepalive, "deadtime": self.config.deadtime,
                          "port": self.config.heartbeat_port,
                          "authenticated": self.link.verifier.key is not None,
                          "key_ids": self.link.key_ids,
                          "epoch": self.link.sender.epoch, "sent": self.link.sent,
                          "received": self.received,
                          "rejected": dict(self.link.verifier.rejected),
                          "peer_refused": self.link.refused},
            "lvsd": lvsd_status(self.lvsd),
            "last_good": self.source.status(),
        }

    def write_status(self) -> None:
        self.dirty = False
        self.next_status = time.monotonic() + STATUS_INTERVAL
        try:
            runtime.write_status(NAME, self.status())
        except OSError as error:
            log.error("cannot write the status file: %s", error)

    def net_call(self, name: str, *arguments: Any) -> Any:
        return net_call(self.net, name, *arguments)

    def shutdown(self) -> None:
        runtime.notify("STOPPING=1")
        if self.lvsd is not None:
            self.lvsd.stop()
        if self.metrics is not None:
            with contextlib.suppress(Exception):
                self.metrics.close()
        self.write_status()
        self.link.close()
        signal.set_wakeup_fd(-1)
        log.info("stopped")


def note_signal(signum: int, frame: Any) -> None:
    """Signals are handled by the loop, through the wakeup fd; this only arms it."""


def drain_signals(sock: socket.socket) -> bytes:
    """Everything waiting on the signal wakeup socket (or the wake pipe): one byte per signal
    number."""
    data = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return data
        if not chunk:
            return data
        data += chunk


def _replace_key(config: Any, key: str, value: Any) -> Any:
    from dataclasses import replace  # noqa: PLC0415

    return replace(config, **{key: value})
