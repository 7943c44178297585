# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every probe kind shares: the probe in flight (``Probe``: one ``done`` call, a deadline
by ``expire()``), its phase for the timeout message, the ``expect`` matcher of socket checks,
and non-blocking sockets closed with a reset."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
from collections.abc import Callable

from .spec import CheckResult, CheckSpec


class ProbeState:
    """Where a check is (for the timeout message) and whether its deadline cancelled it."""

    __slots__ = ("expired", "phase")

    def __init__(self) -> None:
        self.expired = False
        self.phase = "connect"


Done = Callable[["CheckResult | BaseException"], None]


class Probe:
    """One check in flight; ``done`` is called exactly once, with a result or, for a bug in
    the engine, the exception. ``expire()`` ends it as timed out (the deadline)."""

    __slots__ = ("done", "loop", "spec", "start", "state")

    def __init__(self, spec: CheckSpec, loop: asyncio.AbstractEventLoop, done: Done) -> None:
        self.spec = spec
        self.loop = loop
        self.done: Done | None = done
        self.start = loop.time()
        self.state = ProbeState()

    def finish(self, reason: str) -> None:
        done, self.done = self.done, None
        if done is not None:
            done(CheckResult(reason == "ok", reason, self.loop.time() - self.start))

    def crash(self, error: BaseException) -> None:
        done, self.done = self.done, None
        if done is not None:
            done(error)

    def timeout_reason(self) -> str:
        return f"{self.state.phase} timed out after {self.spec.timeout:g} s"

    def expire(self) -> None:
        raise NotImplementedError


_LINGER_RESET = struct.pack("ii", 1, 0)


def close_quickly(sock: socket.socket) -> None:
    """Close with a reset (SO_LINGER 0), as HAProxy's checks do: no FIN exchange and no
    TIME_WAIT entry per check, which at 1,000 checks a second is real kernel work."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    sock.close()


def new_socket(address: str, kind: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    # SOCK_NONBLOCK at creation: no separate fcntl/ioctl system call
    return socket.socket(family, kind | socket.SOCK_NONBLOCK)


def matcher(spec: CheckSpec) -> Callable[[bytes, bool], str | None]:
    """f(reply so far, final) -> None (undecided), "" (matched) or the failure reason."""
    expect = spec.expect or b""
    if expect == b"*":
        return lambda reply, final: "" if reply else ("no reply" if final else None)
    if spec.use_regex:
        try:
            pattern = re.compile(expect)
        except re.error as error:
            reason = f"bad regex {expect!r}: {error}"
            return lambda reply, final: reason
        return lambda reply, final: "" if pattern.search(reply) else (
            f"reply does not match {expect.decode('latin-1')!r}" if final else None)

    def prefix(reply: bytes, final: bool) -> str | None:
        if len(reply) >= len(expect):
            return "" if reply.startswith(expect) else \
                f"reply does not start with {expect.decode('latin-1')!r}"
        if not expect.startswith(reply):
            return f"reply does not start with {expect.decode('latin-1')!r}"
        return f"reply too short ({len(reply)} bytes)" if final else None
    return prefix
