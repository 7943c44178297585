# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every probe kind shares: the probe in flight (``Probe``: one ``done`` call, a deadline
by ``expire()``, its phase for the timeout message), the ``expect`` matcher of socket checks,
and non-blocking sockets."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import time
from collections.abc import Callable

from .spec import CheckResult, CheckSpec


class ProbeState:
    """Where a check is (for the timeout message) and whether its deadline cancelled it."""

    __slots__ = ("expired", "phase")

    def __init__(self) -> None:
        self.expired = False
        self.phase = "connect"


Done = Callable[["CheckResult | BaseException"], None]


class Probe(ProbeState):
    """One check in flight, its own state (one object per check, not two); ``done`` is called
    exactly once, with a result or, for a bug in the engine, the exception. ``expire()`` ends
    it as timed out (the deadline)."""

    __slots__ = ("done", "loop", "spec", "start")

    def __init__(self, spec: CheckSpec, loop: asyncio.AbstractEventLoop, done: Done) -> None:
        self.spec = spec
        self.loop = loop
        self.done: Done | None = done
        self.start = time.monotonic()  # for the duration (not loop.time(): a call less)
        self.expired = False
        self.phase = "connect"

    @property
    def state(self) -> ProbeState:
        return self

    def finish(self, reason: str) -> None:
        done, self.done = self.done, None
        if done is not None:
            done(CheckResult(reason == "ok", reason, time.monotonic() - self.start))

    def crash(self, error: BaseException) -> None:
        done, self.done = self.done, None
        if done is not None:
            done(error)

    def timeout_reason(self) -> str:
        return f"{self.phase} timed out after {self.spec.timeout:g} s"

    def expire(self) -> None:
        raise NotImplementedError


# SO_LINGER on, 0 s: close() resets the connection (no FIN exchange, no TIME_WAIT entry)
LINGER_RESET = struct.pack("ii", 1, 0)


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
            search = re.compile(expect).search
        except re.error as error:
            reason = f"bad regex {expect!r}: {error}"
            return lambda reply, final: reason
        mismatch = f"reply does not match {expect.decode('latin-1')!r}"
        return lambda reply, final: "" if search(reply) else (mismatch if final else None)
    return _prefix(expect)


def _prefix(expect: bytes) -> Callable[[bytes, bool], str | None]:
    size = len(expect)
    mismatch = f"reply does not start with {expect.decode('latin-1')!r}"

    def prefix(reply: bytes, final: bool) -> str | None:
        if len(reply) >= size:
            return "" if reply.startswith(expect) else mismatch
        if not expect.startswith(reply):
            return mismatch
        return f"reply too short ({len(reply)} bytes)" if final else None
    return prefix
