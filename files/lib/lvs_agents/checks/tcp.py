# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TCP checks, nearly all of them: connect within the deadline; send ``send`` if set; when
``expect`` is set, read until the answer can be decided (not one single ``read()``: a reply
split over several segments passes), at most 4 KiB. Callback state machines on a private epoll
set, with no task, future or timer each: the cost of a check is its system calls."""

from __future__ import annotations

import asyncio
import errno
import os
import select
import socket
import weakref
from collections.abc import Callable

from .probe import Done, Probe, close_quickly, matcher, new_socket
from .spec import READ_LIMIT, CheckSpec


class TcpPoller:
    """A private epoll set for TCP probes, itself one reader on the asyncio loop.

    A socket is registered once, edge-triggered for both directions, and never modified or
    unregistered: closing it drops it from the set. Compared with the loop's add_reader/
    add_writer this saves system calls and the selector's bookkeeping per check, and wakes the
    loop once per batch. Edge-triggered: a probe that could not decide yet reads until EAGAIN,
    then the next segment (or FIN, or error) reports the socket again.
    """

    EVENTS = select.EPOLLIN | select.EPOLLOUT | select.EPOLLET

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.epoll = select.epoll()
        self.probes: dict[int, TcpProbe] = {}
        loop.add_reader(self.epoll.fileno(), self._ready)

    def watch(self, fd: int, probe: TcpProbe) -> None:
        self.epoll.register(fd, self.EVENTS)
        self.probes[fd] = probe

    def _ready(self) -> None:
        for fd, events in self.epoll.poll(0):
            probe = self.probes.get(fd)
            if probe is not None:
                probe.handle(events)


_POLLERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def poller_of(loop: asyncio.AbstractEventLoop) -> TcpPoller:
    poller = _POLLERS.get(loop)
    if poller is None:
        poller = _POLLERS[loop] = TcpPoller(loop)
    return poller


_FAILED = select.EPOLLERR | select.EPOLLHUP
_READABLE = select.EPOLLIN | _FAILED
_WRITABLE = select.EPOLLOUT | _FAILED


class TcpProbe(Probe):
    """A TCP check as a small state machine on plain callbacks: connect, write ``send``, read
    until the ``expect`` verdict is decided, close with a reset. No task, no future, no timer
    (the scheduler's slot tick is the deadline): the cost of a check is its system calls."""

    __slots__ = ("fd", "matcher", "poller", "reply", "sock", "unsent")

    def __init__(self, spec: CheckSpec, loop: asyncio.AbstractEventLoop, done: Done) -> None:
        super().__init__(spec, loop, done)
        self.fd = -1
        self.poller = poller_of(loop)
        self.unsent: bytes | memoryview = spec.send or b""
        self.reply = b""
        self.matcher: Callable[[bytes, bool], str | None] | None = None
        self.sock: socket.socket | None = None
        try:
            self.sock = new_socket(spec.address, socket.SOCK_STREAM)
            code = self.sock.connect_ex((spec.address, spec.port))
            if code in (0, errno.EINPROGRESS, errno.EAGAIN):
                self.fd = self.sock.fileno()
                self.poller.watch(self.fd, self)  # already connected: reported at once
                return
        except OSError as error:
            self._end(f"connect: {error.strerror or error}")
            return
        self._end(f"connect: {os.strerror(code)}")

    def handle(self, events: int) -> None:
        """Advance as far as ``events`` allow; OS errors are the verdict of the phase."""
        try:
            self._advance(events)
        except BlockingIOError:
            pass  # the next edge reports the socket again
        except OSError as error:
            self._end(f"{self.state.phase}: {error.strerror or error}")
        except Exception as error:  # a bug in the engine: the scheduler stops this key
            self._close()
            self.crash(error)

    def _advance(self, events: int) -> None:
        state = self.state
        if state.phase == "connect":
            if events & _FAILED and self.sock is not None:
                code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    self._end(f"connect: {os.strerror(code)}")
                    return
            if not self.unsent and self.spec.expect is None:
                self._end("ok")
                return
            state.phase = "send" if self.unsent else "read"
        if state.phase == "send" and events & _WRITABLE:
            self._send()
        if state.phase == "read" and events & _READABLE:
            self._read()

    def _send(self) -> None:
        sent = self.sock.send(self.unsent) if self.sock is not None else 0
        if sent < len(self.unsent):
            self.unsent = memoryview(self.unsent)[sent:]  # no copy of a large remainder
            return
        self.unsent = b""
        if self.spec.expect is None:
            self._end("ok")
        else:
            self.state.phase = "read"

    def _read(self) -> None:
        """Read until the verdict is decided or EAGAIN (edge-triggered: drain, then wait)."""
        if self.matcher is None:
            self.matcher = matcher(self.spec)
        while self.sock is not None:
            chunk = self.sock.recv(READ_LIMIT - len(self.reply))
            if chunk:
                self.reply += chunk
            verdict = self.matcher(self.reply, not chunk or len(self.reply) >= READ_LIMIT)
            if verdict is not None:
                self._end(verdict or "ok")

    def _end(self, reason: str) -> None:
        self._close()
        self.finish(reason)

    def _close(self) -> None:
        if self.fd >= 0:
            if self.poller.probes.get(self.fd) is self:
                del self.poller.probes[self.fd]
            self.fd = -1
        if self.sock is not None:
            close_quickly(self.sock)
            self.sock = None

    def expire(self) -> None:
        """The deadline, or the check abandoned (``done`` cleared): the socket closes either
        way, so a silent server never keeps a descriptor."""
        if self.sock is not None:
            self._end(self.timeout_reason())
