# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pulse's heartbeat transport: one UDP socket per path (public, then private), sending our
state to the peer and verifying what arrives (``heartbeat.Verifier``: rejections are counted
by reason and logged at most once a minute per reason)."""

from __future__ import annotations

import logging
import selectors
import socket
import time
from collections.abc import Callable

from . import heartbeat as hb
from .pulse_setup import NAME, Paths

log = logging.getLogger(NAME)


class HeartbeatLink:
    """The heartbeat sockets of ``paths`` on ``port``, registered in ``selector`` as
    ``"heartbeat"``; ``sent`` counts datagrams sent, the verifier what was accepted/rejected."""

    def __init__(self, paths: Paths, port: int, key: bytes | None, legacy: bool,
                 window: float) -> None:
        self.paths = paths
        self.port = port
        self.sockets: list[tuple[socket.socket, str, str | None]] = []
        role = hb.ROLE_PRIMARY if paths.master else hb.ROLE_BACKUP
        self.sender = hb.Sender(key, role)
        self.verifier = hb.Verifier(key, paths.peers, window=window, legacy=legacy)
        self.sent = 0
        self.rejection_logged: dict[str, float] = {}

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
            self.sockets.append((sock, own, peer))
            selector.register(sock, selectors.EVENT_READ, "heartbeat")

    def send(self, holding: bool) -> None:
        for sock, own, peer in self.sockets:
            if peer is None:
                continue
            try:
                sock.sendto(self.sender.message(holding, own), (peer, self.port))
                self.sent += 1
            except OSError as error:
                log.debug("heartbeat to %s: %s", peer, error)

    def receive(self, sock: socket.socket, on_heartbeat: Callable[[hb.Heartbeat], None]) -> None:
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
            on_heartbeat(beat)

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
