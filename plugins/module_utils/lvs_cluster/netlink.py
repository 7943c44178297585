# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Netlink framing with ``struct``: message headers, attributes, replies, and a generic netlink
socket that sends requests one at a time or pipelined.

Nothing here knows IPVS: the framing (``message``, ``messages``, ``error_code``) and the
attribute helpers (``attr``, ``nested``, ``u32``, ``parse_attrs`` ...) serve any netlink
protocol (rtnetlink too); ``GenericNetlink`` is a socket bound to one generic netlink family,
resolved by name. ``ipvs/netlink.py`` builds the IPVS client on it. Standard library only.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time (start-up)
if TYPE_CHECKING:
    from typing import Any, TypeVar

NETLINK_GENERIC = 16
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLMSG_ERROR = 0x2
NLMSG_DONE = 0x3
NLA_F_NESTED = 0x8000
NLA_TYPE_MASK = 0x3FFF
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2

BATCH_BYTES = 60 * 1024  # per send(); the kernel takes each send as one buffer
SOCKET_BUFFER = 8 * 1024 * 1024
RECV_BUFFER = 1 << 20  # larger than any netlink datagram the kernel sends
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33
if TYPE_CHECKING:
    T = TypeVar("T")

NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, seq, pid
GENLHDR = struct.Struct("=BBH")  # command, version, reserved
NLATTR = struct.Struct("=HH")  # length, type
_NLATTR_UNPACK = NLATTR.unpack_from


class NetlinkError(OSError):
    """The kernel refused a request; ``errno`` is its reason, ``what`` names the object.

    ``index`` is the request's position in what ``pipeline`` was given (None elsewhere).
    """

    def __init__(self, code: int, what: str, index: int | None = None) -> None:
        super().__init__(code, f"{what}: {os.strerror(code)}")
        self.what = what
        self.index = index


# --- attributes --------------------------------------------------------------------------------

def attr(kind: int, payload: bytes) -> bytes:
    length = NLATTR.size + len(payload)
    return NLATTR.pack(length, kind) + payload + b"\0" * (-length % 4)


def nested(kind: int, *parts: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(parts))


def u8(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=B", value))


def u16(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=H", value))


def be16(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("!H", value))


def u32(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=I", value))


def string(kind: int, value: str) -> bytes:
    return attr(kind, value.encode() + b"\0")


def address(kind: int, text: str) -> bytes:
    """An IPv4 or IPv6 address, padded to 16 bytes (the union the kernel reads)."""
    packed = socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    return attr(kind, packed.ljust(16, b"\0"))


def parse_attrs(data: bytes | memoryview) -> dict[int, bytes]:
    """Attributes by type (nested flag masked); later duplicates win, like the kernel's parser."""
    data = bytes(data)
    return scan_attrs(data, 0, len(data))


def scan_attrs(data: bytes, start: int, end: int, wanted: Container[int] | None = None
               ) -> dict[int, bytes]:
    """The attributes in ``data[start:end]`` by type (nested flag masked), only the ``wanted``
    types when given; later duplicates win. The loop of every table read: kept tight."""
    found: dict[int, bytes] = {}
    header = _NLATTR_UNPACK
    offset = start
    while offset + 4 <= end:
        length, kind = header(data, offset)
        if length < 4 or offset + length > end:
            break
        kind &= NLA_TYPE_MASK
        if wanted is None or kind in wanted:
            found[kind] = data[offset + 4:offset + length]
        offset += (length + 3) & ~3
    return found


def unpack(value: bytes, fmt: str = "=I") -> int:
    return struct.unpack_from(fmt, value)[0]


def text(value: bytes) -> str:
    """A NUL-terminated string attribute."""
    return value.split(b"\0", 1)[0].decode(errors="replace")


def ip_text(value: bytes, family: int) -> str:
    """An address attribute of ``family`` (socket.AF_INET or AF_INET6) as text."""
    if family == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, value[:16])
    return socket.inet_ntop(socket.AF_INET, value[:4])


# --- messages ----------------------------------------------------------------------------------

def message(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    """One netlink message: the header, then ``body``."""
    return NLMSGHDR.pack(NLMSGHDR.size + len(body), kind, flags, seq, 0) + body


def messages(view: memoryview) -> Iterator[tuple[int, int, int, memoryview]]:
    """(type, flags, seq, body) of each message in one received datagram."""
    offset = 0
    while offset + NLMSGHDR.size <= len(view):
        length, kind, flags, seq, _pid = NLMSGHDR.unpack_from(view, offset)
        if length < NLMSGHDR.size:
            break
        yield kind, flags, seq, view[offset + NLMSGHDR.size:offset + length]
        offset += (length + 3) & ~3


def error_code(body: bytes | memoryview) -> int:
    """The errno of an NLMSG_ERROR message (0: an acknowledgement)."""
    return -struct.unpack_from("=i", body)[0]


@dataclass(frozen=True)
class Request:
    """One write: a command, its attributes, and the object it concerns (for error messages).

    ``ack``: whether the request may carry an acknowledgement. Some requests may end with no
    answer at all (netlink_rcv_skb() sends nothing for -EINTR), so asking for an ack on them
    could wait for ever; ``pipeline`` never ends a batch with one.
    """

    command: int
    payload: bytes
    what: str
    ack: bool = True


# --- the socket --------------------------------------------------------------------------------

class GenericNetlink:
    """A generic netlink socket bound to one family, resolved by name when it opens.

    Subclasses name the family (``family_name``, ``version``), the error class they raise,
    and a harmless acknowledged request (``fence``) that ``pipeline`` sends after a batch
    whose last request must not carry the ack.
    """

    family_name = ""
    version = 1
    missing_hint = ""  # appended to the "no such family" error
    error: type[NetlinkError] = NetlinkError
    fence: Request | None = None

    def __init__(self, sock: socket.socket | None = None) -> None:
        if sock is None:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
            sock.bind((0, 0))
            for option, fallback in ((SO_SNDBUFFORCE, socket.SO_SNDBUF),
                                     (SO_RCVBUFFORCE, socket.SO_RCVBUF)):
                try:  # root may exceed the sysctl maximum
                    sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)
                except OSError:
                    sock.setsockopt(socket.SOL_SOCKET, fallback, SOCKET_BUFFER)
        self.sock = sock
        self.seq = 0
        # One buffer for every recv: allocating a fresh large one per datagram costs an mmap and
        # page faults each time, most of a table read under User-Mode Linux.
        self._buffer = bytearray(RECV_BUFFER)
        self.family = self._resolve_family()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        return self.seq

    def _message(self, family: int, command: int, flags: int, payload: bytes,
                 version: int | None = None) -> tuple[int, bytes]:
        seq = self._next_seq()
        body = GENLHDR.pack(command, self.version if version is None else version, 0) + payload
        return seq, message(family, flags, seq, body)

    def _replies(self) -> Iterator[tuple[int, int, int, memoryview]]:
        """(type, flags, seq, body) of each message in the next datagram.

        The bodies are views of the socket's one receive buffer: use them before the next call.
        """
        size = self.sock.recv_into(self._buffer)
        return messages(memoryview(self._buffer)[:size])

    def _resolve_family(self) -> int:
        what = f"{self.family_name} generic netlink family"
        seq, request = self._message(GENL_ID_CTRL, CTRL_CMD_GETFAMILY,
                                     NLM_F_REQUEST | NLM_F_ACK,
                                     string(CTRL_ATTR_FAMILY_NAME, self.family_name), version=1)
        self.sock.send(request)
        family = None
        while True:
            for kind, _flags, reply_seq, body in self._replies():
                if reply_seq != seq:
                    continue
                if kind == NLMSG_ERROR:
                    code = error_code(body)
                    if code:
                        if code == errno.ENOENT:
                            raise self.error(code, what + self.missing_hint)
                        raise self.error(code, what)
                    if family is None:
                        raise self.error(errno.ENOENT, what)
                    return family
                attrs = parse_attrs(body[GENLHDR.size:])
                family = unpack(attrs[CTRL_ATTR_FAMILY_ID], "=H")

    def dump(self, command: int, payload: bytes = b"") -> list[dict[int, bytes]]:
        """Every reply of a dump, as its top-level attributes."""
        return self._exchange(command, payload, NLM_F_DUMP,
                              f"{self.family_name} dump (command {command})")

    def dump_decoded(self, command: int, payload: bytes,
                     decode: Callable[[memoryview], T | None]) -> list[T]:
        """Every reply of a dump through ``decode`` (the message after its netlink header, a
        view of the receive buffer: valid during the call), Nones left out."""
        return self._exchange(command, payload, NLM_F_DUMP,
                              f"{self.family_name} dump (command {command})", decode)

    def request(self, command: int, payload: bytes, what: str) -> list[dict[int, bytes]]:
        """One acknowledged request; returns the attributes of any reply before the ack."""
        return self._exchange(command, payload, NLM_F_ACK, what)

    def _exchange(self, command: int, payload: bytes, flags: int, what: str,
                  decode: Callable[[memoryview], Any] | None = None) -> list[Any]:
        """Send one message; collect its replies until NLMSG_DONE or the ack (error 0), each
        as its top-level attributes or what ``decode`` makes of it."""
        seq, request = self._message(self.family, command, NLM_F_REQUEST | flags, payload)
        self.sock.send(request)
        found: list[Any] = []
        while True:
            for kind, _flags, reply_seq, body in self._replies():
                if reply_seq != seq:
                    continue
                if kind == NLMSG_DONE:
                    return found
                if kind == NLMSG_ERROR:
                    code = error_code(body)
                    if code:
                        raise self.error(code, what)
                    return found
                if decode is None:
                    found.append(parse_attrs(body[GENLHDR.size:]))
                else:
                    item = decode(body)
                    if item is not None:
                        found.append(item)

    def pipeline(self, requests: Iterable[Request], stop_on_failure: bool = True
                 ) -> tuple[int, list[NetlinkError]]:
        """Send requests in batches of at most BATCH_BYTES (or one request), an ack asked for
        only on each batch's last message (or on the ``fence`` sent after it, when that
        request takes no ack).

        The kernel goes on with a batch after a failed message, so every request of a sent
        batch has either failed or succeeded. Unless ``stop_on_failure`` is false, nothing is
        sent after a batch with a failure. Returns how many requests were sent and the
        failures in order, each with the request's ``what`` and ``index``.
        """
        pending = list(requests)
        sent = 0
        failures: list[NetlinkError] = []
        header = NLMSGHDR.size + GENLHDR.size
        while sent < len(pending):
            end, size = sent, 0
            while end < len(pending):
                length = (header + len(pending[end].payload) + 3) & ~3
                if end > sent and size + length > BATCH_BYTES:
                    break
                size += length
                end += 1
            batch: list[bytes] = []
            by_seq: dict[int, int | None] = {}
            last_seq = 0
            fenced = not pending[end - 1].ack and self.fence is not None
            for index in range(sent, end):
                ack = index == end - 1 and not fenced
                last_seq, request = self._message(
                    self.family, pending[index].command,
                    NLM_F_REQUEST | (NLM_F_ACK if ack else 0), pending[index].payload)
                by_seq[last_seq] = index
                batch.append(request)
            if fenced:
                last_seq, request = self._message(self.family, self.fence.command,
                                                  NLM_F_REQUEST | NLM_F_ACK, self.fence.payload)
                by_seq[last_seq] = None  # its refusal, if any, is nobody's failure
                batch.append(request)
            self.sock.send(b"".join(batch))
            failed = False
            done = False
            while not done:
                for kind, _flags, reply_seq, body in self._replies():
                    if kind != NLMSG_ERROR or reply_seq not in by_seq:
                        continue
                    code = error_code(body)
                    index = by_seq[reply_seq]
                    if code and index is not None:
                        failures.append(self.error(code, pending[index].what, index))
                        failed = True
                    if reply_seq == last_seq:
                        done = True
            sent = end
            if failed and stop_on_failure:
                break
        return sent, failures
