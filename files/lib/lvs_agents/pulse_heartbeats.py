# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pulse's heartbeat transport: one UDP socket per path (public, then private), sending our
state to the peer and verifying what arrives (``heartbeat.Verifier``: rejections are counted
by reason and logged at most once a minute per reason).

Under a flood (anyone can send UDP to the heartbeat port):

* with authenticated heartbeats each socket is connected to the peer's heartbeat address and
  port, so the kernel delivers nothing else to it (the rest is counted by the kernel as UDP
  ``NoPorts``); legacy sockets stay unconnected (a Piranha peer's source port is not known);
* one wake-up reads at most ``BATCH`` datagrams, so the loop's timers (sending heartbeats, the
  deadtime) run between batches however many arrive;
* the kernel's count of datagrams dropped on a full receive queue (``SO_RXQ_OVFL``) is kept as
  the rejection reason ``queue_full``.

A connected socket also learns when the peer's host answers a heartbeat with ICMP port
unreachable (``ECONNREFUSED`` on the socket): the host is up, its pulse is not (killed,
restarting). ``refused`` counts them, ``refused_since_heard`` says whether one came after the
last heartbeat heard (pulse then checks the VIPs before a takeover).
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import struct
import time
from collections.abc import Callable

from . import heartbeat as hb
from .heartbeat_store import HeartbeatStore
from .pulse_setup import NAME, Paths

log = logging.getLogger(NAME)

BATCH = 32  # datagrams per socket per wake-up
SO_RXQ_OVFL = 40
_OVERFLOW = struct.Struct("=I")


class HeartbeatLink:
    """The heartbeat sockets of ``paths`` on ``port``, registered in ``selector`` as
    ``"heartbeat"``; ``sent`` counts datagrams sent, the verifier what was accepted/rejected.
    With ``store``, the epoch and the peers' last sequences survive restarts
    (``heartbeat_store``)."""

    def __init__(self, paths: Paths, port: int, keys: hb.HeartbeatKeys | None, legacy: bool,
                 window: float, store: HeartbeatStore | None = None) -> None:
        self.paths = paths
        self.port = port
        self.sockets: list[tuple[socket.socket, str, str | None]] = []
        role = hb.ROLE_PRIMARY if paths.master else hb.ROLE_BACKUP
        key = keys.send if keys is not None else None
        self.store = store if key is not None else None
        stored = self.store.load() if self.store is not None else None
        epoch = hb.first_epoch(stored.epoch if stored else None, time.time())
        if self.store is not None:
            self.store.use_epoch(epoch)
        self.sender = hb.Sender(key, role, epoch=epoch)
        self.verifier = hb.Verifier(key, paths.peers, window=window, legacy=legacy,
                                    known=stored.peers if stored else None,
                                    also=keys.also if keys is not None else ())
        self.key_ids = keys.ids if keys is not None else []
        self.sent = 0
        self.rejection_logged: dict[str, float] = {}
        self.authenticated = key is not None
        self.connected: set[int] = set()  # sockets the kernel filters for us (by fileno)
        self.overflow: dict[int, int] = {}  # the kernel's drop count, per socket
        self.refused = 0
        self.refused_since_heard = False

    def use_keys(self, keys: hb.HeartbeatKeys) -> None:
        """New keys (a SIGHUP during a rotation): send with ``keys.send`` from now on."""
        if keys.ids != self.key_ids:
            log.info("heartbeat keys: sending with %s%s", keys.ids[0],
                     f", also accepting {', '.join(keys.ids[1:])}" if keys.also else "")
        self.sender.key = self.verifier.key = keys.send
        self.verifier.also = keys.also
        self.key_ids = keys.ids

    def open(self, selector: selectors.BaseSelector) -> None:
        for own, peer in self.paths.pairs:
            family = socket.AF_INET6 if ":" in own else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((own, self.port))
            except OSError as error:
                sock.close()
                raise OSError(f"cannot bind the heartbeat socket to {own} port "
                              f"{self.port}: {error.strerror or error}") from None
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
            if self.authenticated and peer is not None:
                try:
                    sock.connect((peer, self.port))
                    self.connected.add(sock.fileno())
                except OSError as error:  # no route yet: unfiltered, still verified
                    log.warning("heartbeat socket %s: cannot connect to %s: %s", own, peer,
                                error.strerror or error)
            self.sockets.append((sock, own, peer))
            selector.register(sock, selectors.EVENT_READ, "heartbeat")

    def send(self, holding: bool) -> None:
        for sock, own, peer in self.sockets:
            if peer is None:
                continue
            message = self.sender.message(holding, own)
            try:
                if sock.fileno() in self.connected:
                    sock.send(message)
                else:
                    sock.sendto(message, (peer, self.port))
                self.sent += 1
            except ConnectionRefusedError:
                self.note_refused(peer)
            except OSError as error:
                log.debug("heartbeat to %s: %s", peer, error)

    def receive(self, sock: socket.socket, on_heartbeat: Callable[[hb.Heartbeat], None]) -> None:
        """At most ``BATCH`` datagrams; the selector wakes the loop again for the rest."""
        for _datagram in range(BATCH):
            try:
                data, ancillary, _flags, source = sock.recvmsg(512, socket.CMSG_SPACE(4))
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:  # ICMP port unreachable from the peer's host
                self.note_refused(sock.getpeername()[0] if sock.fileno() in self.connected
                                  else "the peer")
                continue
            except OSError as error:
                log.debug("heartbeat socket: %s", error)
                return
            self.count_overflow(sock, ancillary)
            try:
                beat = self.verifier.verify(data, source[0])
            except hb.Rejected as rejection:
                self.verifier.rejected[rejection.reason] += 1
                self.log_rejection(rejection, source[0])
                continue
            self.verifier.accepted += 1
            if self.store is not None:
                self.store.save_peers(self.verifier.last_seen())
            if self.verifier.is_news(beat):
                self.refused_since_heard = False
                on_heartbeat(beat)

    def note_refused(self, peer: str) -> None:
        if not self.refused_since_heard:
            log.info("heartbeat to %s: port unreachable (its host is up, its pulse is not)",
                     peer)
        self.refused += 1
        self.refused_since_heard = True

    def count_overflow(self, sock: socket.socket, ancillary: list[tuple[int, int, bytes]]
                       ) -> None:
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(value) >= 4:
                total = _OVERFLOW.unpack_from(value)[0]
                previous = self.overflow.get(sock.fileno(), 0)
                self.verifier.rejected["queue_full"] += (total - previous) & 0xFFFFFFFF
                self.overflow[sock.fileno()] = total

    def log_rejection(self, rejection: hb.Rejected, source: str) -> None:
        now = time.monotonic()
        if now - self.rejection_logged.get(rejection.reason, -60.0) >= 60.0:
            self.rejection_logged[rejection.reason] = now
            log.warning("heartbeat from %s rejected (%s); further ones are only counted for "
                        "a minute", source, rejection)
        else:
            log.debug("heartbeat from %s rejected (%s)", source, rejection)

    def close(self) -> None:
        for sock, _own, _peer in self.sockets:
            sock.close()
        if self.store is not None:
            self.store.flush()
