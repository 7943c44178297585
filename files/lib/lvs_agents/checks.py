# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The check engine: one health check of one real server, and a scheduler that runs thousands.

Piranha ran one ``nanny`` process per real server; lvsd must check 1,000 servers a second on a
fraction of one core, so every check runs in-process on the asyncio loop with non-blocking
sockets (no streams, no threads). TCP checks, nearly all of them, are callback state machines
on a private epoll set (no task, future or timer each); UDP checks and programs are tasks.

What a check does (Piranha's nanny, section 4 of the reference, with its flaws fixed):

* TCP: connect within the deadline; send ``send`` if set; when ``expect`` is set, read until
  the answer can be decided (not one single ``read()``: a reply split over several segments
  passes), at most 4 KiB: plain ``expect`` is a prefix of the reply, ``*`` is any byte,
  ``use_regex`` searches the regex anywhere in what was read.
* UDP: send ``send`` (an empty datagram without one) and require a reply, with the same
  ``expect`` semantics (no ``expect``: any reply).
* ``send_program``: ``%h``/``%p`` are replaced by the address and port, also inside words
  (``http://%h:%p/``, which Piranha did not do); run without a shell; the exit status is
  authoritative: a timeout (the program is killed) or a non-zero exit is a failure, exit 0 is
  healthy when there is no ``expect`` or the output, less one trailing newline, equals it
  (or matches it with ``use_regex``). Piranha counted a timed-out checker as healthy.

One deadline, ``timeout`` seconds after the start, bounds the whole check; the same value is
the period between checks, as in Piranha.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import os
import re
import select
import signal
import socket
import struct
import weakref
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

HTTP_SEND = "GET / HTTP/1.0\r\n\r\n"
HTTP_EXPECT = "HTTP"
READ_LIMIT = 4096
_ESCAPES = {"\\": "\\", "r": "\r", "n": "\n", "t": "\t", "'": "'", '"': '"'}

log = logging.getLogger("lvs_agents.checks")


def decode_escapes(text: str) -> str:
    """Piranha's backslash decoding: ``\\\\ \\r \\n \\t \\' \\"``; other pairs (``\\.``) stay,
    so regex escapes get through."""
    out = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in _ESCAPES:
            out.append(_ESCAPES[text[index + 1]])
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


@dataclass(frozen=True)
class CheckSpec:
    """Everything one check needs, normalised as nanny did at startup (section 4.2)."""

    address: str
    port: int
    protocol: str = "tcp"
    timeout: float = 10.0
    send: bytes | None = None
    expect: bytes | None = None
    use_regex: bool = False
    send_program: str | None = None

    @classmethod
    def build(cls, address: str, port: int, *, virtual_port: int, protocol: str = "tcp",
              timeout: float = 10.0, send: str | None = None, expect: str | None = None,
              use_regex: bool = False, send_program: str | None = None,
              decode: bool = True) -> CheckSpec:
        """Apply Piranha's normalisation: the built-in HTTP check on virtual port 80 when
        nothing is configured, ``send`` dropped with a ``send_program``, escapes decoded."""
        send, expect, send_program = send or None, expect or None, send_program or None
        if virtual_port == 80 and send is None and expect is None and send_program is None:
            send, expect = HTTP_SEND, HTTP_EXPECT
        if send_program is not None:
            send = None
        if decode:
            send = decode_escapes(send) if send is not None else None
            expect = decode_escapes(expect) if expect is not None else None
        return cls(address=address, port=port, protocol=protocol, timeout=float(timeout),
                   send=_bytes(send), expect=_bytes(expect), use_regex=use_regex,
                   send_program=send_program)

    @classmethod
    def for_server(cls, virtual: object, address: str, port: int) -> CheckSpec:
        """The check of a real (or sorry) server at ``address:port`` of an lvs.cf ``virtual``."""
        return cls.build(address, port, virtual_port=virtual.port,  # type: ignore[attr-defined]
                         protocol=virtual.protocol,  # type: ignore[attr-defined]
                         timeout=virtual.timeout,  # type: ignore[attr-defined]
                         send=virtual.send, expect=virtual.expect,  # type: ignore[attr-defined]
                         use_regex=virtual.use_regex,  # type: ignore[attr-defined]
                         send_program=virtual.send_program)  # type: ignore[attr-defined]

    def describe(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        kind = "program" if self.send_program else self.protocol
        return f"{kind} {host}:{self.port}"


def _bytes(text: str | None) -> bytes | None:
    # latin-1: one byte per character, as nanny's C strings were
    return None if text is None else text.encode("latin-1", "replace")


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check: ``reason`` is ``ok`` or why it failed."""

    ok: bool
    reason: str
    duration: float


class _State:
    """Where a check is (for the timeout message) and whether its deadline cancelled it."""

    __slots__ = ("expired", "phase")

    def __init__(self) -> None:
        self.expired = False
        self.phase = "connect"


Done = Callable[["CheckResult | BaseException"], None]


class _Probe:
    """One check in flight; ``done`` is called exactly once, with a result or, for a bug in
    the engine, the exception. ``expire()`` ends it as timed out (the deadline)."""

    __slots__ = ("done", "loop", "spec", "start", "state")

    def __init__(self, spec: CheckSpec, loop: asyncio.AbstractEventLoop, done: Done) -> None:
        self.spec = spec
        self.loop = loop
        self.done: Done | None = done
        self.start = loop.time()
        self.state = _State()

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


class _TcpPoller:
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
        self.probes: dict[int, _TcpProbe] = {}
        loop.add_reader(self.epoll.fileno(), self._ready)

    def watch(self, fd: int, probe: _TcpProbe) -> None:
        self.epoll.register(fd, self.EVENTS)
        self.probes[fd] = probe

    def _ready(self) -> None:
        for fd, events in self.epoll.poll(0):
            probe = self.probes.get(fd)
            if probe is not None:
                probe.handle(events)


_POLLERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _poller(loop: asyncio.AbstractEventLoop) -> _TcpPoller:
    poller = _POLLERS.get(loop)
    if poller is None:
        poller = _POLLERS[loop] = _TcpPoller(loop)
    return poller


_FAILED = select.EPOLLERR | select.EPOLLHUP
_READABLE = select.EPOLLIN | _FAILED
_WRITABLE = select.EPOLLOUT | _FAILED


class _TcpProbe(_Probe):
    """A TCP check as a small state machine on plain callbacks: connect, write ``send``, read
    until the ``expect`` verdict is decided, close with a reset. No task, no future, no timer
    (the scheduler's slot tick is the deadline): the cost of a check is its system calls."""

    __slots__ = ("fd", "matcher", "poller", "reply", "sock", "unsent")

    def __init__(self, spec: CheckSpec, loop: asyncio.AbstractEventLoop, done: Done) -> None:
        super().__init__(spec, loop, done)
        self.fd = -1
        self.poller = _poller(loop)
        self.unsent: bytes | memoryview = spec.send or b""
        self.reply = b""
        self.matcher: Callable[[bytes, bool], str | None] | None = None
        self.sock: socket.socket | None = None
        try:
            self.sock = _new_socket(spec.address, socket.SOCK_STREAM)
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
            self.matcher = _matcher(self.spec)
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
            _close_quickly(self.sock)
            self.sock = None

    def expire(self) -> None:
        """The deadline, or the check abandoned (``done`` cleared): the socket closes either
        way, so a silent server never keeps a descriptor."""
        if self.sock is not None:
            self._end(self.timeout_reason())


class _TaskProbe(_Probe):
    """UDP checks and programs: one task each (rare, so simplicity wins over cost)."""

    __slots__ = ("task",)

    def __init__(self, spec: CheckSpec, loop: asyncio.AbstractEventLoop, done: Done) -> None:
        super().__init__(spec, loop, done)
        self.task = loop.create_task(_talk(spec, self.state))
        self.task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task) -> None:
        if task.cancelled():
            self.finish(self.timeout_reason())
            return
        error = task.exception()
        if error is not None:
            self.crash(error)
            return
        self.finish(task.result())

    def expire(self) -> None:
        """The deadline, or the check abandoned (``done`` cleared): cancel either way."""
        if not self.task.done():
            self.state.expired = True
            self.task.cancel()


def start_probe(spec: CheckSpec, loop: asyncio.AbstractEventLoop, done: Done) -> _Probe:
    """Start one check; ``done`` gets its result. The caller owns the deadline: it calls
    ``expire()`` on the returned probe when ``spec.timeout`` has passed."""
    if spec.protocol == "tcp" and not spec.send_program:
        return _TcpProbe(spec, loop, done)
    return _TaskProbe(spec, loop, done)


async def run_check(spec: CheckSpec) -> CheckResult:
    """Run one check within its deadline; OS errors are a failed check, never an exception."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()

    def done(outcome: CheckResult | BaseException) -> None:
        if future.done():
            return
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    probe = start_probe(spec, loop, done)
    timer = loop.call_at(probe.start + spec.timeout, probe.expire)
    try:
        return await future
    finally:
        timer.cancel()
        probe.done = None
        probe.expire()  # no-op after a verdict; a cancelled check closes its socket now


async def _talk(spec: CheckSpec, state: _State) -> str:
    loop = asyncio.get_running_loop()
    try:
        if spec.send_program:
            return await _program_check(spec, state)
        return await _udp_check(spec, loop, state)
    except OSError as error:
        return f"{state.phase}: {error.strerror or error}"


_LINGER_RESET = struct.pack("ii", 1, 0)


def _close_quickly(sock: socket.socket) -> None:
    """Close with a reset (SO_LINGER 0), as HAProxy's checks do: no FIN exchange and no
    TIME_WAIT entry per check, which at 1,000 checks a second is real kernel work."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    sock.close()


def _new_socket(address: str, kind: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    # SOCK_NONBLOCK at creation: no separate fcntl/ioctl system call
    return socket.socket(family, kind | socket.SOCK_NONBLOCK)


def _matcher(spec: CheckSpec) -> Callable[[bytes, bool], str | None]:
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


async def _udp_check(spec: CheckSpec, loop: asyncio.AbstractEventLoop, state: _State) -> str:
    sock = _new_socket(spec.address, socket.SOCK_DGRAM)
    try:
        sock.connect((spec.address, spec.port))  # UDP: no handshake, never blocks
        state.phase = "send"
        await loop.sock_sendall(sock, spec.send or b"")
        state.phase = "read"
        reply = await loop.sock_recv(sock, READ_LIMIT)
        if spec.expect is None:
            return "ok"
        return _matcher(spec)(reply, True) or "ok"
    finally:
        sock.close()


def program_argv(command: str, address: str, port: int) -> list[str]:
    """The argv of a ``send_program``: words split on white space, ``%h``/``%p`` replaced
    wherever they appear; no shell, no quoting (as Piranha, which split on spaces)."""
    return [word.replace("%h", address).replace("%p", str(port)) for word in command.split()]


async def _program_check(spec: CheckSpec, state: _State) -> str:
    argv = program_argv(spec.send_program or "", spec.address, spec.port)
    if not argv:
        return "send_program is empty"
    state.phase = "send_program"
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, start_new_session=True)
    except OSError as error:
        return f"cannot run {argv[0]}: {error.strerror or error}"
    try:
        output, _rest = await process.communicate()
    except asyncio.CancelledError:
        _kill(process)
        with contextlib.suppress(Exception):
            await asyncio.shield(process.wait())
        raise
    if process.returncode != 0:
        return _exit_reason(argv[0], process.returncode)
    return _program_verdict(spec, output[:READ_LIMIT])


def _kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL the checker and whatever it started (it leads its own session)."""
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()


def _exit_reason(program: str, code: int | None) -> str:
    if code is not None and code < 0:
        return f"{program} killed by signal {-code}"
    return f"{program} exited with status {code}"


def _program_verdict(spec: CheckSpec, output: bytes) -> str:
    if spec.expect is None:
        return "ok"
    if output.endswith(b"\n"):
        output = output[:-1]
    if spec.use_regex:
        try:
            matched = re.search(spec.expect, output) is not None
        except re.error as error:
            return f"bad regex {spec.expect!r}: {error}"
    else:
        matched = output == spec.expect
    if matched:
        return "ok"
    shown = output[:60].decode("latin-1")
    return f"output {shown!r} does not match {spec.expect.decode('latin-1')!r}"


# --- the scheduler -----------------------------------------------------------------------------

ResultCallback = Callable[[Hashable, CheckResult], None]
FailureCallback = Callable[[Hashable, BaseException], None]


@dataclass
class _Entry:
    spec: CheckSpec
    slot: _Slot
    probe: _Probe | None = None
    paused: bool = False


@dataclass
class _Slot:
    """Keys that start together, every ``period`` seconds. The next start of a slot is also
    the deadline of its previous checks (period = timeout, as in Piranha), so no check needs
    a timer of its own, and the loop wakes once per slot instead of twice per check."""

    period: float
    keys: dict[Hashable, None]
    next_time: float = 0.0
    handle: asyncio.TimerHandle | None = None


class Scheduler:
    """Runs each spec every ``timeout`` seconds, first starts spread over the first period.

    Starts are grouped into slots ``granularity`` seconds apart (20 ms: 50 wake-ups a second
    whatever the number of servers). ``on_result(key, result)`` gets every verdict. An
    exception other than an OS error out of a check is a bug in the engine:
    ``on_failure(key, exception)`` is called and that key is not checked again (lvsd applies
    ``hard_shutdown``).
    """

    def __init__(self, on_result: ResultCallback, on_failure: FailureCallback | None = None,
                 granularity: float = 0.02) -> None:
        self.on_result = on_result
        self.on_failure = on_failure
        self.granularity = granularity
        self.entries: dict[Hashable, _Entry] = {}
        self.total = 0
        self.failed = 0
        self._slots: dict[tuple[float, int], _Slot] = {}
        self._cursor: dict[float, int] = {}
        self._anchor = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> int:
        return sum(1 for entry in self.entries.values() if entry.probe is not None)

    def start(self, specs: Mapping[Hashable, CheckSpec]) -> None:
        """Schedule ``specs`` (same as ``update`` on an empty scheduler)."""
        self.update(specs)

    def update(self, specs: Mapping[Hashable, CheckSpec]) -> None:
        """Make the scheduled set ``specs``: new keys are spread over their first period,
        removed keys stop (a running check is abandoned), a changed spec applies from its next
        run (a changed period moves the key), unchanged keys keep their rhythm."""
        loop = self._running_loop()
        for key in [key for key in self.entries if key not in specs]:
            self.remove(key)
        new_by_period: dict[float, list[Hashable]] = {}
        for key, spec in specs.items():
            entry = self.entries.get(key)
            if entry is not None and entry.slot.period == spec.timeout:
                entry.spec = spec
                continue
            if entry is not None:
                self.remove(key)
            new_by_period.setdefault(spec.timeout, []).append(key)
        for period, keys in new_by_period.items():
            self._place(loop, period, keys, specs)

    def _place(self, loop: asyncio.AbstractEventLoop, period: float, keys: list[Hashable],
               specs: Mapping[Hashable, CheckSpec]) -> None:
        count = max(1, int(round(period / self.granularity)))
        base = self._cursor.get(period, 0)
        self._cursor[period] = (base + 1) % count
        for position, key in enumerate(keys):
            index = (base + position * count // len(keys)) % count
            slot = self._slots.get((period, index))
            if slot is None:
                slot = _Slot(period, {})
                self._slots[(period, index)] = slot
                now = loop.time()
                if not self._anchor:
                    self._anchor = now
                offset = self._anchor + index * period / count
                laps = max(0.0, -(-(now - offset) // period))
                slot.next_time = offset + laps * period
                slot.handle = loop.call_at(slot.next_time, self._fire, slot)
            slot.keys[key] = None
            self.entries[key] = _Entry(specs[key], slot)

    def remove(self, key: Hashable) -> None:
        entry = self.entries.pop(key, None)
        if entry is None:
            return
        entry.slot.keys.pop(key, None)
        if entry.probe is not None:
            probe, entry.probe = entry.probe, None
            probe.done = None  # abandoned: no result
            probe.expire()

    def pause(self, key: Hashable, paused: bool = True) -> None:
        """Stop (or resume) checking ``key`` without forgetting it (nanny's SIGUSR1/2)."""
        self.entries[key].paused = paused

    def stop(self) -> None:
        for key in list(self.entries):
            self.remove(key)
        for slot in self._slots.values():
            if slot.handle is not None:
                slot.handle.cancel()
        self._slots.clear()

    async def drain(self) -> None:
        """Stop, and give cancelled checks (and their killed programs) time to end."""
        tasks = [e.probe.task for e in self.entries.values() if isinstance(e.probe, _TaskProbe)]
        self.stop()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def _fire(self, slot: _Slot) -> None:
        loop = self._running_loop()
        for key in list(slot.keys):
            entry = self.entries.get(key)
            if entry is None:
                continue
            if entry.probe is not None:
                entry.probe.expire()  # its deadline: this slot's start one period ago
            if entry.paused or self.entries.get(key) is not entry:
                continue
            entry.probe = start_probe(entry.spec, loop, functools.partial(self._done, key,
                                                                          entry))
        slot.next_time += slot.period
        now = loop.time()
        if slot.next_time < now:  # the loop was stalled for over a period: do not catch up
            slot.next_time += -(-(now - slot.next_time) // slot.period) * slot.period
        if slot.keys:
            slot.handle = loop.call_at(slot.next_time, self._fire, slot)
        else:
            slot.handle = None
            for position, candidate in list(self._slots.items()):
                if candidate is slot:
                    del self._slots[position]

    def _done(self, key: Hashable, entry: _Entry, outcome: CheckResult | BaseException) -> None:
        entry.probe = None
        if self.entries.get(key) is not entry:
            return
        if isinstance(outcome, BaseException):
            self.remove(key)
            log.error("check engine failure on %s: %r", entry.spec.describe(), outcome)
            if self.on_failure is not None:
                self.on_failure(key, outcome)
            return
        self.total += 1
        if not outcome.ok:
            self.failed += 1
        self.on_result(key, outcome)


__all__ = ["HTTP_EXPECT", "HTTP_SEND", "CheckResult", "CheckSpec", "Scheduler",
           "decode_escapes", "program_argv", "run_check"]
