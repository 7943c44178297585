# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TCP checks, nearly all of them: connect within the deadline; send ``send`` if set; when
``expect`` is set, read until the answer can be decided (not one single ``read()``: a reply
split over several segments passes), at most 4 KiB. Callback state machines on a private epoll
set, with no task, future or timer each: the cost of a check is its system calls.

At 1,000 checks a second every Python call per check is about 1 % of a core on a small VM,
so the path of a check is kept short: what all probes of a check share is made once
(``TcpPlan``), the socket is the C socket type (``socket.SocketType``: no Python wrapper to
create and close), and a probe's events are handled in one method."""

from __future__ import annotations

import asyncio
import errno
import functools
import os
import select
import socket
import time
import weakref
from collections.abc import Callable

from .probe import LINGER_RESET, Done, Probe, matcher
from .spec import READ_LIMIT, CheckSpec

# the socket factory of TCP probes; socket.socket (socket.py) would add a Python __init__ and
# a Python close() per check
stream_socket: Callable[[int, int], socket.socket] = socket.SocketType  # type: ignore[assignment]

_STREAM = socket.SOCK_STREAM | socket.SOCK_NONBLOCK  # no separate fcntl system call
_SOL_SOCKET, _SO_LINGER, _SO_ERROR = socket.SOL_SOCKET, socket.SO_LINGER, socket.SO_ERROR


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
        probes = self.probes
        for fd, events in self.epoll.poll(0):
            probe = probes.get(fd)
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
_CONNECTING = (0, errno.EINPROGRESS, errno.EAGAIN)


class TcpPlan:
    """What every probe of one check shares, made once per check rather than per probe: the
    socket's family and address, the bytes to send, the reply's matcher (made at the first
    reply), the poller of the loop the probes run on."""

    __slots__ = ("expect", "family", "loop", "match", "poller", "send", "sockaddr", "spec",
                 "start")

    def __init__(self, spec: CheckSpec) -> None:
        self.spec = spec
        self.family = socket.AF_INET6 if ":" in spec.address else socket.AF_INET
        self.sockaddr = (spec.address, spec.port)
        self.send = spec.send or b""
        self.expect = spec.expect is not None
        self.match: Callable[[bytes, bool], str | None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.poller: TcpPoller | None = None
        # start(loop, done) -> a running TcpProbe; a partial of the class: no Python frame
        self.start = functools.partial(TcpProbe, self)

    def matcher(self) -> Callable[[bytes, bool], str | None]:
        if self.match is None:
            self.match = matcher(self.spec)
        return self.match

    def poller_of(self, loop: asyncio.AbstractEventLoop) -> TcpPoller:
        if self.loop is not loop or self.poller is None:
            self.loop, self.poller = loop, poller_of(loop)
        return self.poller


class TcpProbe(Probe):
    """A TCP check as a small state machine on plain callbacks: connect, write ``send``, read
    until the ``expect`` verdict is decided, close with a reset. No task, no future, no timer
    (the scheduler's slot tick is the deadline): the cost of a check is its system calls."""

    __slots__ = ("fd", "plan", "poller", "reply", "sock", "unsent")

    def __init__(self, plan: TcpPlan, loop: asyncio.AbstractEventLoop, done: Done) -> None:
        # Probe.__init__, inline (a call less per check)
        self.spec, self.loop, self.done = plan.spec, loop, done
        self.start, self.expired, self.phase = time.monotonic(), False, "connect"
        self.plan = plan
        self.fd = -1
        self.poller = poller = plan.poller if plan.loop is loop else plan.poller_of(loop)
        self.unsent: bytes | memoryview = plan.send
        self.reply = b""
        self.sock: socket.socket | None = None
        try:
            sock = self.sock = stream_socket(plan.family, _STREAM)
            code = sock.connect_ex(plan.sockaddr)
            if code in _CONNECTING:
                self.fd = fd = sock.fileno()
                poller.epoll.register(fd, TcpPoller.EVENTS)  # connected: reported at once
                poller.probes[fd] = self
                return
        except OSError as error:
            self._end(f"connect: {error.strerror or error}")
            return
        self._end(f"connect: {os.strerror(code)}")

    def handle(self, events: int) -> None:
        """Advance as far as ``events`` allow; OS errors are the verdict of the phase."""
        try:
            phase = self.phase
            if phase == "connect":
                if events & _FAILED and self._refused():
                    return
                if self.unsent:
                    phase = self.phase = "send"
                elif self.plan.expect:
                    phase = self.phase = "read"
                else:
                    self._end("ok")
                    return
            if phase == "send" and events & _WRITABLE:
                self._send()
            if self.phase == "read" and events & _READABLE:
                self._read()
        except BlockingIOError:
            pass  # the next edge reports the socket again
        except OSError as error:
            self._end(f"{self.phase}: {error.strerror or error}")
        except Exception as error:  # a bug in the engine: the scheduler stops this check
            self._close()
            self.crash(error)

    def _refused(self) -> bool:
        """The connect failed (the verdict given): True."""
        code = self.sock.getsockopt(_SOL_SOCKET, _SO_ERROR) if self.sock is not None else 0
        if code:
            self._end(f"connect: {os.strerror(code)}")
        return bool(code)

    def _send(self) -> None:
        unsent = self.unsent
        sent = self.sock.send(unsent) if self.sock is not None else 0
        if sent < len(unsent):
            self.unsent = memoryview(unsent)[sent:]  # no copy of a large remainder
            return
        self.unsent = b""
        if self.plan.expect:
            self.phase = "read"
        else:
            self._end("ok")

    def _read(self) -> None:
        """Read until the verdict is decided or EAGAIN (edge-triggered: drain, then wait)."""
        match = self.plan.match or self.plan.matcher()
        sock = self.sock
        while sock is not None:
            reply = self.reply
            chunk = sock.recv(READ_LIMIT - len(reply))
            if chunk:
                self.reply = reply = reply + chunk if reply else chunk
            verdict = match(reply, not chunk or len(reply) >= READ_LIMIT)
            if verdict is not None:
                self._end(verdict or "ok")
                return

    def _end(self, reason: str) -> None:
        self._close()
        self.finish(reason)

    def _close(self) -> None:
        """Close with a reset (SO_LINGER 0), as HAProxy's checks do: no FIN exchange and no
        TIME_WAIT entry per check, which at 1,000 checks a second is real kernel work."""
        if self.fd >= 0:
            probes = self.poller.probes
            if probes.get(self.fd) is self:
                del probes[self.fd]
            self.fd = -1
        sock = self.sock
        if sock is not None:
            self.sock = None
            try:  # noqa: SIM105 (contextlib.suppress: an object and two calls per check)
                sock.setsockopt(_SOL_SOCKET, _SO_LINGER, LINGER_RESET)
            except OSError:
                pass
            sock.close()

    def expire(self) -> None:
        """The deadline, or the check abandoned (``done`` cleared): the socket closes either
        way, so a silent server never keeps a descriptor."""
        if self.sock is not None:
            self._end(self.timeout_reason())
