# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pulse: the router HA daemon (Piranha §2, with the agents' contracts in docs/agents.md).

One thread runs a selector loop over the heartbeat sockets, the signal wakeup fd, lvsd's
readiness pipe and a wake pipe for the helper threads (tie-break probes, ARP warm-up), with
monotonic timers for sending, the dead peer and link checks. Every decision is made by
``pulse_state.step``; this module only turns events into inputs and actions into effects.

Differences from Piranha: authenticated heartbeats, fractional timers, lvsd runs on both nodes
(warm standby), SIGHUP re-reads lvs.cf, ``--norun`` touches nothing, the role is found on any
address of the host (not only an interface's first one, G23), a killed and restarted pulse
resumes as active when it still holds every VIP, and a stopping active node hands over at once.

Test hook: with ``LVS_CLUSTER_FAKE_NETOPS=<file>`` every network operation goes to an
in-memory recorder that appends one JSON line per call to that file (no privileges needed);
``LVS_CLUSTER_FAKE_LOCAL_ADDRESSES=ip,ip`` then names this "host"'s addresses. Files next to
the log steer it: ``<file>.linkdown`` (links down), ``<file>.noecho`` (ICMP echo unanswered),
``<file>.arp-answer`` (someone answers the ARP probe).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import queue
import selectors
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lvs_cluster.vocabulary import canonical_ip, host_prefix_length, netmask_prefix_length, unmapped

from . import heartbeat as hb
from . import pulse_state as ps
from . import runtime
from .recording_netops import RecordingNetops

NAME = "pulse"
VERSION = "lvs.cluster pulse 1.0"
DEFAULT_LVSD = "/usr/sbin/lvsd"
DEFAULT_METRICS = "127.0.0.1:9539"
LINK_CHECK_INTERVAL = 0.2
LVSD_RESTART_DELAY = 1.0
LVSD_STOP_TIMEOUT = 5.0
STATUS_INTERVAL = 1.0
STARTUP_GRACE_MIN = 1.0  # a starting backup gives the master max(deadtime, this) to claim
FAKE_NETOPS_ENV = "LVS_CLUSTER_FAKE_NETOPS"
FAKE_LOCAL_ENV = "LVS_CLUSTER_FAKE_LOCAL_ADDRESSES"

log = logging.getLogger(NAME)


class UsageError(Exception):
    """A configuration or command-line problem: the text is the whole message, exit status 2."""


# --- command line -------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=NAME, description="LVS router failover daemon (heartbeats, VIPs, lvsd).")
    parser.add_argument("-c", "--configfile", default=runtime.DEFAULT_CONFIG,
                        help="lvs.cf to read (default %(default)s)")
    parser.add_argument("-n", "--nodaemon", action="store_true",
                        help="accepted for compatibility: pulse always runs in the foreground")
    parser.add_argument("-t", "--test-start", action="store_true", dest="norun",
                        help="same as --norun")
    parser.add_argument("--norun", action="store_true", dest="norun",
                        help="run no lvsd and no hooks, change no address, send no ARP: only "
                             "log what would be done")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--forceactive", action="store_true",
                        help="become active at start whatever the peer says")
    parser.add_argument("--lvsd", default=None,
                        help="lvsd program (default: lvsd next to this program, else "
                             f"{DEFAULT_LVSD})")
    parser.add_argument("--lvsd-option", action="append", default=[], metavar="OPTION",
                        help="one more argument for lvsd, e.g. --lvsd-option=--resync=60 "
                             "(repeat for several)")
    parser.add_argument("--fos", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--version", action="version", version=VERSION)
    parser.add_argument("--legacy-heartbeat", action="store_true",
                        help="speak only Piranha's unauthenticated 4-byte heartbeat (mixed pairs)")
    parser.add_argument("--failback", action="store_true",
                        help="the primary takes the VIPs back when it hears a running backup")
    parser.add_argument("--tiebreaker", action="append", default=[], metavar="ADDR",
                        help="before a takeover after a silent deadtime, a majority of these "
                             "must answer ICMP echo and no IPv4 VIP may answer ARP (repeatable)")
    parser.add_argument("--garp-count", type=int, default=5, metavar="N",
                        help="gratuitous ARP/NA per address on takeover (default %(default)s)")
    parser.add_argument("--garp-interval", type=float, default=1.0, metavar="S",
                        help="seconds between them (default %(default)s)")
    parser.add_argument("--metrics", default=DEFAULT_METRICS, metavar="ADDR:PORT",
                        help="Prometheus endpoint, or 'off' (default %(default)s)")
    parser.add_argument("--run-dir", default=None,
                        help=f"status directory (default $LVS_CLUSTER_RUN_DIR or "
                             f"{runtime.DEFAULT_RUN_DIR})")
    args = parser.parse_args(argv)
    if args.garp_count < 0 or args.garp_interval < 0:
        parser.error("--garp-count and --garp-interval must not be negative")
    if args.metrics != "off":
        try:
            args.metrics_address = split_host_port(args.metrics)
        except ValueError as error:
            parser.error(f"--metrics {args.metrics}: {error}")
    for address in args.tiebreaker:
        if canonical_ip(address) is None:
            parser.error(f"--tiebreaker {address}: not an IP address")
    return args


def split_host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise ValueError("ADDR:PORT expected, e.g. 127.0.0.1:9539")
    return host.strip("[]"), int(port)


def default_lvsd(argv0: str) -> str:
    """lvsd next to our own program (the launcher's links live together), else /usr/sbin."""
    beside = os.path.join(os.path.dirname(os.path.abspath(argv0)), "lvsd")
    return beside if os.access(beside, os.X_OK) else DEFAULT_LVSD


# --- the network side ---------------------------------------------------------------------------

def load_netops() -> Any:
    """The real netops module, or the recorder when the test hook is set."""
    fake = os.environ.get(FAKE_NETOPS_ENV)
    if fake:
        local = [a for a in os.environ.get(FAKE_LOCAL_ENV, "").split(",") if a]
        return RecordingNetops(fake, local)
    from . import netops  # noqa: PLC0415 - scapy-free, but only needed for real

    return netops


# --- what lvs.cf asks for -----------------------------------------------------------------------

def prefix_length(mask: str | int | None, ip: str) -> int:
    """``vip_nmask``/``nat_nmask`` (dotted or a prefix length) as a prefix length; unset means
    a host address (/32, /128), not Piranha's classful guess (G5)."""
    if mask is None:
        return host_prefix_length(ip)
    if isinstance(mask, int):
        return mask
    prefix = netmask_prefix_length(mask)  # the parser accepts contiguous masks only
    return host_prefix_length(ip) if prefix is None else prefix


def address_specs(config: Any, net: Any) -> list[Any]:
    """The floating addresses: each distinct VIP of an active virtual, then the NAT router."""
    specs: list[Any] = []
    seen: set[str] = set()
    wanted = [(v.address, v.vip_nmask, f"virtual {v.name}") for v in config.virtuals
              if v.active and v.address is not None]
    if config.network == "nat" and config.nat_router is not None:
        wanted.append((config.nat_router, config.nat_nmask, "nat_router"))
    for address, mask, where in wanted:
        ip = unmapped(address.ip)
        if ip in seen:
            continue
        seen.add(ip)
        try:
            prefix = prefix_length(mask, ip)
        except ValueError:
            raise UsageError(f"{where}: netmask {mask!r} is not valid for {ip}") from None
        label = address.device
        specs.append(net.AddressSpec(ip, prefix, label.split(":", 1)[0], label))
    return specs


@dataclass(frozen=True)
class Paths:
    """Heartbeat paths: (own address, peer address) pairs, public first."""

    master: bool
    pairs: tuple[tuple[str, str | None], ...]

    @property
    def own(self) -> list[str]:
        return [own for own, _peer in self.pairs]

    @property
    def peers(self) -> list[str]:
        return [peer for _own, peer in self.pairs if peer]


def heartbeat_paths(config: Any, host: dict[str, str]) -> Paths:
    """Master if ``primary`` is any address of this host; which addresses we bind and send to."""
    primary = unmapped(config.primary)
    backup = unmapped(config.backup) if config.backup else None
    master = primary in host
    if not master and (backup is None or backup not in host):
        raise UsageError(f"neither primary {primary} nor backup {backup or '(unset)'} is an "
                         "address of this host")
    if master:
        own = (primary, _canonical(config.effective_primary_private))
        peer = (backup, _canonical(config.effective_backup_private))
    else:
        own = (backup, _canonical(config.effective_backup_private))
        peer = (primary, _canonical(config.effective_primary_private))
    if not config.backup_active:
        peer = (None, None)
    pairs: list[tuple[str, str | None]] = [(own[0], peer[0])]
    if own[1] and own[1] != own[0]:
        pairs.append((own[1], peer[1] if peer[1] != peer[0] else None))
    return Paths(master, tuple(pairs))


def _canonical(address: str | None) -> str | None:
    return unmapped(address) if address else None


def check_config(config: Any) -> None:
    if config.service != "lvs":
        raise UsageError(f"service = {config.service}: only service = lvs is supported")
    if not any(v.active for v in config.virtuals):
        raise UsageError("no active virtual service (a virtual block with active = 1): "
                         "nothing to fail over")


# --- lvsd ---------------------------------------------------------------------------------------

class Lvsd:
    """lvsd as pulse's child: started at once (warm standby), READY read from a pipe,
    restarted after a back-off when it exits."""

    def __init__(self, program: str, config_path: str, verbose: bool,
                 selector: selectors.BaseSelector, options: Sequence[str] = ()) -> None:
        self.program = program
        self.options = list(options)
        self.config_path = config_path
        self.verbose = verbose
        self.selector = selector
        self.process: subprocess.Popen[bytes] | None = None
        self.ready = False
        self.restarts = 0
        self.started_once = False
        self.restart_at: float | None = None
        self.ready_fd: int | None = None
        self.buffer = b""

    def start(self) -> None:
        read_end, write_end = os.pipe()
        command = [self.program, "--nodaemon", "-c", self.config_path,
                   "--ready-fd", str(write_end)] + (["-v"] if self.verbose else []) + self.options
        self.restart_at = None
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
        if self.started_once:
            self.restarts += 1
        self.started_once = True
        log.info("started lvsd (pid %d)", self.process.pid)
        os.set_blocking(read_end, False)
        self.ready_fd, self.buffer, self.ready = read_end, b"", False
        self.selector.register(read_end, selectors.EVENT_READ, "lvsd-ready")

    def on_readable(self) -> bool:
        """Read the readiness pipe; True when lvsd has just reported READY."""
        assert self.ready_fd is not None
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

    def reap(self, now: float) -> int | None:
        """lvsd's exit status if it has just exited (restart scheduled), else None."""
        if self.process is None:
            if self.restart_at is None:
                self.restart_at = now + LVSD_RESTART_DELAY
                return -1  # could not even start
            return None
        status = self.process.poll()
        if status is None:
            return None
        self.process = None
        self.ready = False
        self._close_pipe()
        self.restart_at = now + LVSD_RESTART_DELAY
        return status

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
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(LVSD_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.warning("lvsd (pid %d) ignored SIGTERM for %g s: killing it", process.pid,
                        LVSD_STOP_TIMEOUT)
            process.kill()
            process.wait()


# --- the daemon ---------------------------------------------------------------------------------

class Pulse:
    """One pulse run: sockets, timers, the state machine and the actions' effects."""

    def __init__(self, args: argparse.Namespace, config: Any, net: Any, key: bytes | None,
                 host: dict[str, str]) -> None:
        self.args = args
        self.config = config
        self.net = net
        self.host = host
        self.paths = heartbeat_paths(config, host)
        self.vips = address_specs(config, net)
        self.options = ps.Options(master=self.paths.master, failback=args.failback,
                                  forceactive=args.forceactive,
                                  tiebreaker=bool(args.tiebreaker))
        self.state = ps.State()
        self.holding = False
        self.last_resend = float("-inf")
        self.selector = selectors.DefaultSelector()
        self.sockets: list[tuple[socket.socket, str, str | None]] = []
        role = hb.ROLE_PRIMARY if self.paths.master else hb.ROLE_BACKUP
        self.sender = hb.Sender(key, role)
        self.verifier = hb.Verifier(key, self.paths.peers, window=self.window(),
                                    legacy=args.legacy_heartbeat)
        self.sent = self.received = self.transitions = 0
        self.since = time.time()
        self.peer_state = "unknown"
        self.peer_last: float | None = None
        self.exiting = False
        self.ready_notified = False
        self.results: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.wake_read, self.wake_write = socket.socketpair()
        self.signal_read, self.signal_write = socket.socketpair()
        self.announcer: Any = None
        self.lvsd: Lvsd | None = None
        self.metrics: Any = None
        self.dirty = True
        self.rejection_logged: dict[str, float] = {}
        now = time.monotonic()
        self.next_send = now
        self.deadline = now + config.deadtime
        self.next_status = now
        self.next_link_check = now
        self.grace_at: float | None = None

    def window(self) -> float:
        return max(2.0, 2 * self.config.deadtime)

    # --- setup ----------------------------------------------------------------------------

    def open_sockets(self) -> None:
        for own, peer in self.paths.pairs:
            family = socket.AF_INET6 if ":" in own else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((own, self.config.heartbeat_port))
            except OSError as error:
                sock.close()
                raise OSError(f"cannot bind the heartbeat socket to {own} port "
                              f"{self.config.heartbeat_port}: {error.strerror or error}") from None
            sock.setblocking(False)
            self.sockets.append((sock, own, peer))
            self.selector.register(sock, selectors.EVENT_READ, "heartbeat")

    def install_signals(self) -> None:
        for end in (self.signal_read, self.signal_write, self.wake_read, self.wake_write):
            end.setblocking(False)
        signal.set_wakeup_fd(self.signal_write.fileno(), warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(signum, _note_signal)
        self.selector.register(self.signal_read, selectors.EVENT_READ, "signal")
        self.selector.register(self.wake_read, selectors.EVENT_READ, "wake")

    def start_helpers(self) -> None:
        self.announcer = self.net_call("Announcer", self.args.garp_count,
                                       self.args.garp_interval)
        if self.announcer is not None and not self.args.norun:
            threading.Thread(target=self._warm, name="garp-warm", daemon=True).start()
        if self.args.metrics != "off":
            self.metrics = start_metrics(*self.args.metrics_address)
        if not self.args.norun:
            program = self.args.lvsd or default_lvsd(sys.argv[0])
            self.lvsd = Lvsd(program, self.args.configfile, self.args.verbose, self.selector,
                             self.args.lvsd_option)
            self.lvsd.start()

    def _warm(self) -> None:
        try:
            self.announcer.warm()
            for spec in self.vips:  # frames built and cached before any takeover needs them
                self.announcer.frames(spec.ip, spec.device)
        except Exception as error:  # noqa: BLE001 - a helper thread must not die silently
            log.warning("gratuitous ARP warm-up failed: %s", error)

    # --- main loop ------------------------------------------------------------------------

    def run(self) -> int:
        self.open_sockets()
        self.install_signals()
        self.start_helpers()
        vips_present = bool(self.vips) and all(
            self.net_call("has_address", spec) for spec in self.vips)
        if vips_present:
            log.info("every VIP is already on this node: resuming as active")
        self.grace_at = time.monotonic() + max(self.config.deadtime, STARTUP_GRACE_MIN)
        self.dispatch(ps.Event(ps.START, vips_present=vips_present))
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
            self.receive(fileobj)
        elif kind == "signal":
            for signum in _drain(self.signal_read):
                self.on_signal(signum)
        elif kind == "wake":
            _drain(self.wake_read)
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
            self.dispatch(ps.Event(ps.DEADTIME_EXPIRED))
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
        for sock, own, peer in self.sockets:
            if peer is None:
                continue
            try:
                sock.sendto(self.sender.message(self.holding, own),
                            (peer, self.config.heartbeat_port))
                self.sent += 1
            except OSError as error:
                log.debug("heartbeat to %s: %s", peer, error)

    def receive(self, sock: socket.socket) -> None:
        while True:
            try:
                data, source = sock.recvfrom(512)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # e.g. ICMP port unreachable reported on the socket
                log.debug("heartbeat socket: %s", error)
                return
            try:
                beat = self.verifier.verify(data, source[0])
            except hb.Rejected as rejection:
                self.verifier.rejected[rejection.reason] += 1
                self.log_rejection(rejection, source[0])
                continue
            self.verifier.accepted += 1
            self.on_heartbeat(beat)

    def log_rejection(self, rejection: hb.Rejected, source: str) -> None:
        now = time.monotonic()
        if now - self.rejection_logged.get(rejection.reason, -60.0) >= 60.0:
            self.rejection_logged[rejection.reason] = now
            log.warning("heartbeat from %s rejected (%s); further ones are only counted for "
                        "a minute", source, rejection)
        else:
            log.debug("heartbeat from %s rejected (%s)", source, rejection)

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
            word = "active" if self.state.active else "standby"
            log.info("now %s (%s)", word, event.kind)
            runtime.notify(f"STATUS={word}")

    def perform(self, action: str) -> None:
        if action in (ps.ACTIVATE, ps.RESUME):
            self.take_over(resume=action == ps.RESUME)
        elif action == ps.DEACTIVATE:
            self.stand_down()
        elif action == ps.SEND_HEARTBEAT_NOW:
            self.send_heartbeats()
        elif action == ps.RESEND_ARPS_AND_ACTIVE_CMD:
            # Piranha did this on every heartbeat of an active peer: a burst storm while a
            # double-active lasts. Once per deadtime settles the neighbours just as well.
            if time.monotonic() - self.last_resend >= self.config.deadtime:
                self.last_resend = time.monotonic()
                log.info("partner active: resending ARPs")
                self.announce_all()
                self.run_hook("active_cmd", self.config.active_cmd)
        elif action == ps.START_TIEBREAK:
            log.info("partner silent for %g s: asking the tie-breaker", self.config.deadtime)
            threading.Thread(target=self._tiebreak, name="tiebreak", daemon=True).start()
        elif action == ps.EXIT:
            self.exiting = True

    def take_over(self, resume: bool = False) -> None:
        """Addresses and their first announcement first (they end the gap), then the rest."""
        log.info("%s lvs", "resuming" if resume else "activating")
        self.holding = True
        for spec in self.vips:
            self.change_address("ensure_address", spec)
            self.announce(spec)
        self.run_hook("active_cmd", self.config.active_cmd)
        self.sync_daemon("master")

    def stand_down(self) -> None:
        log.info("deactivating lvs")
        self.holding = False
        self.run_hook("inactive_cmd", self.config.inactive_cmd)
        if self.announcer is not None and not self.args.norun:
            self.net_call_on(self.announcer, "stop")
        for spec in self.vips:
            self.change_address("remove_address", spec)
        self.sync_daemon("backup")

    def announce_all(self) -> None:
        for spec in self.vips:
            self.announce(spec)

    def announce(self, spec: Any) -> None:
        if self.args.norun:
            log.info("norun: would announce %s on %s", spec.ip, spec.device)
        elif self.announcer is not None:
            if getattr(self.announcer, "ready", True):
                self.net_call_on(self.announcer, "announce", spec.ip, spec.device)
            else:  # scapy still loading (just started): never hold up the heartbeat loop
                threading.Thread(target=self.net_call_on, name="garp-late", daemon=True,
                                 args=(self.announcer, "announce", spec.ip, spec.device)).start()

    def change_address(self, operation: str, spec: Any) -> None:
        if self.args.norun:
            log.info("norun: would %s %s/%s on %s", operation.replace("_", " "), spec.ip,
                     spec.prefix, spec.label)
            return
        self.net_call(operation, spec)
        self.dirty = True

    def run_hook(self, name: str, command: str | None) -> None:
        if not command:
            return
        if self.args.norun:
            log.info("norun: would run %s: %s", name, command)
            return
        try:
            _children.append(subprocess.Popen(shlex.split(command), stdin=subprocess.DEVNULL))
        except (OSError, ValueError) as error:
            log.error("%s %r failed: %s", name, command, error)

    def sync_daemon(self, state: str) -> None:
        """Stop both sync daemons, start the one for our state (Piranha's stop/stop/start)."""
        if not self.config.syncdaemon:
            return
        interface, sync_id = self.config.syncd_iface, self.config.syncd_id & 0xFF
        if self.args.norun:
            log.info("norun: would start the %s sync daemon on %s", state, interface)
            return
        if hasattr(self.net, "sync_daemon"):
            self.net.sync_daemon(state, interface, sync_id)
            return
        try:
            from lvs_cluster.ipvs.netlink import IpvsNetlink, SyncDaemon  # noqa: PLC0415

            with IpvsNetlink() as ipvs:
                for old in ("backup", "master"):
                    with contextlib.suppress(OSError):  # ESRCH: it was not running
                        ipvs.stop_daemon(old)
                ipvs.start_daemon(SyncDaemon(state=state, interface=interface,
                                             sync_id=sync_id))
        except OSError as error:
            log.error("sync daemon %s on %s: %s", state, interface, error)

    def _tiebreak(self) -> None:
        try:
            verdict = self.tiebreak_verdict()
        except Exception as error:  # noqa: BLE001 - report, never die in a thread
            log.error("tie-breaker failed: %s", error)
            verdict = False
        self.results.put(("tiebreak", verdict))
        with contextlib.suppress(OSError):
            self.wake_write.send(b"t")

    def tiebreak_verdict(self) -> bool:
        """A majority of the tie-breakers answers ICMP echo, and no IPv4 VIP answers ARP
        (an answer means the silent peer still holds it)."""
        timeout = min(1.0, max(0.1, self.config.deadtime))
        targets = self.args.tiebreaker
        answers: list[bool] = []
        threads = [threading.Thread(target=lambda a=a: answers.append(
            bool(self.net.icmp_echo(a, timeout)))) for a in targets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if sum(answers) * 2 <= len(targets):
            log.warning("tie-breaker: %d of %d answered: staying standby", sum(answers),
                        len(targets))
            return False
        for spec in self.vips:
            if ":" in spec.ip or self.args.norun:
                continue
            owner = self.net.arp_probe(spec.ip, spec.device, timeout)
            if owner is not None:
                log.warning("tie-breaker: %s is still answered by %s: staying standby",
                            spec.ip, owner)
                return False
        log.info("tie-breaker: %d of %d answered, no VIP in use: taking over", sum(answers),
                 len(targets))
        return True

    # --- lvsd, links, reload --------------------------------------------------------------

    def check_lvsd(self, now: float) -> None:
        for child in list(_children):
            if child.poll() is not None:
                _children.remove(child)
        if self.lvsd is None or self.exiting:
            return
        status = self.lvsd.reap(now)
        if status is not None:
            if status != -1:
                log.error("lvsd exited with status %s; restarting it in %g s", status,
                          LVSD_RESTART_DELAY)
            self.dirty = True
            self.dispatch(ps.Event(ps.CHILD_EXITED))
        if self.lvsd.due(now):
            self.lvsd.start()
            self.dirty = True

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
        """Re-read lvs.cf: timers and VIPs change in place; a bad file changes nothing."""
        try:
            config = runtime.load_config(self.args.configfile)
            check_config(config)
            vips = address_specs(config, self.net)
        except (runtime.ConfigError, UsageError) as error:
            log.error("%s (reload refused, keeping the running configuration)", error)
        else:
            self.apply_reload(config, vips)
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
        self.config, self.vips = config, vips
        self.verifier.window_ms = int(self.window() * 1000)
        restored = self.reassert_addresses(dropped)
        log.info("reloaded %s: %d address(es), %d added, %d dropped, %d restored",
                 self.args.configfile, len(vips), len(added), len(dropped), restored)
        self.dirty = True

    def reassert_addresses(self, dropped: list[Any]) -> int:
        """A reload also corrects addresses changed by hand: the active router gets back every
        VIP it lacks (and announces it), the standby loses any VIP it holds. Returns how many
        addresses were restored or removed, not counting ``dropped`` ones."""
        fixed = 0
        if self.holding:
            for spec in dropped:
                self.change_address("remove_address", spec)
            for spec in self.vips:
                if self.args.norun or self.net_call("has_address", spec) is not False:
                    continue
                self.change_address("ensure_address", spec)
                self.announce(spec)
                fixed += 1
        else:
            for spec in [*dropped, *self.vips]:
                if self.args.norun or self.net_call("has_address", spec) is not True:
                    continue
                log.warning("standby holds %s: removing it", spec.ip)
                self.change_address("remove_address", spec)
                fixed += 1
        return fixed

    # --- outputs --------------------------------------------------------------------------

    def maybe_notify_ready(self) -> None:
        if self.ready_notified:
            return
        if self.lvsd is None or self.lvsd.ready:
            self.ready_notified = True
            runtime.notify("READY=1", f"STATUS={'active' if self.state.active else 'standby'}")

    def status(self) -> dict[str, Any]:
        lvsd = self.lvsd
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
                          "authenticated": self.verifier.key is not None,
                          "sent": self.sent, "received": self.received,
                          "rejected": dict(self.verifier.rejected)},
            "lvsd": {"pid": lvsd.pid if lvsd else None, "ready": bool(lvsd and lvsd.ready),
                     "restarts": lvsd.restarts if lvsd else 0},
        }

    def write_status(self) -> None:
        self.dirty = False
        self.next_status = time.monotonic() + STATUS_INTERVAL
        try:
            runtime.write_status(NAME, self.status())
        except OSError as error:
            log.error("cannot write the status file: %s", error)

    def net_call(self, name: str, *arguments: Any) -> Any:
        return self.net_call_on(self.net, name, *arguments)

    def net_call_on(self, target: Any, name: str, *arguments: Any) -> Any:
        """A network operation; failures are logged, never fatal (the loop must go on)."""
        try:
            return getattr(target, name)(*arguments)
        except Exception as error:  # noqa: BLE001 - any netops failure is logged, not fatal
            log.error("%s(%s) failed: %s", name, ", ".join(map(str, arguments)), error)
            return None

    def shutdown(self) -> None:
        runtime.notify("STOPPING=1")
        if self.lvsd is not None:
            self.lvsd.stop()
        if self.metrics is not None:
            with contextlib.suppress(Exception):
                self.metrics.close()
        self.write_status()
        for sock, _own, _peer in self.sockets:
            sock.close()
        signal.set_wakeup_fd(-1)
        log.info("stopped")


_children: list[subprocess.Popen[bytes]] = []


def _note_signal(signum: int, frame: Any) -> None:
    """Signals are handled by the loop, through the wakeup fd; this only arms it."""


def _drain(sock: socket.socket) -> bytes:
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


def start_metrics(host: str, port: int) -> Any:
    """The Prometheus endpoint from lvs_agents.status, if that module is there."""
    try:
        from .status import start_metrics_server  # noqa: PLC0415
    except ImportError as error:
        log.warning("metrics endpoint unavailable (%s); continuing without it", error)
        return None
    try:
        return start_metrics_server(host, port)
    except Exception as error:  # noqa: BLE001 - metrics are optional
        log.warning("metrics endpoint %s:%d: %s; continuing without it", host, port, error)
        return None


def load_key(args: argparse.Namespace, config: Any) -> bytes | None:
    if args.legacy_heartbeat:
        log.warning("legacy heartbeat: unauthenticated 4-byte packets (Piranha compatibility)")
        return None
    if not config.heartbeat_key_file:
        raise UsageError(f"{args.configfile}: heartbeat_key_file is not set; authenticated "
                         "heartbeats need a key (or run with --legacy-heartbeat)")
    try:
        return hb.HeartbeatKey.load(config.heartbeat_key_file).secret
    except hb.KeyFileError as error:
        raise UsageError(str(error)) from None


def prepare(args: argparse.Namespace) -> tuple[Any, Any, dict[str, str]] | int:
    """Config, netops and host addresses, or an exit status (0: backup not active)."""
    config = runtime.load_config(args.configfile)
    check_config(config)
    net = load_netops()
    host = {unmapped(a): d for a, d in net.local_addresses().items()}
    paths = heartbeat_paths(config, host)
    if not paths.master and not config.backup_active:
        log.info("backup is marked inactive (backup_active = 0): exiting")
        return 0
    return config, net, host


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runtime.setup_logging(NAME, args.verbose)
    if args.run_dir:
        os.environ["LVS_CLUSTER_RUN_DIR"] = args.run_dir
    try:
        prepared = prepare(args)
        if isinstance(prepared, int):
            return prepared
        config, net, host = prepared
        key = load_key(args, config)
        pulse = Pulse(args, config, net, key, host)
    except (runtime.ConfigError, UsageError) as error:
        log.error("%s", error)
        return 2
    except ImportError as error:
        log.error("cannot load the network operations: %s", error)
        return 1
    except OSError as error:
        log.error("%s", error)
        return 1
    log.info("starting as %s (%s), heartbeat %s on port %d", "primary" if pulse.paths.master
             else "backup", ", ".join(pulse.paths.own),
             "v1" if key is not None else "legacy", config.heartbeat_port)
    try:
        return pulse.run()
    except OSError as error:
        log.error("%s", error)
        return 1


if __name__ == "__main__":
    sys.exit(main())
