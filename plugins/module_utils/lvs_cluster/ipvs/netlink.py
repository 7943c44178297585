# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel's IPVS over generic netlink, packed and parsed with ``struct``.

One socket per run. Reads are dumps (services, then each service's destinations); writes are
pipelined: many messages per ``send``, an acknowledgement asked for only on the last message of
each batch. The kernel still answers every *failed* message with an error carrying its sequence
number, so no failure is lost, and success costs no round trip.

pyroute2's high-level IPVS API reads back wrong values (forwarding method, thresholds, flags,
timeout) and is one round trip per object; this module reads the raw attributes and is the
project's only path to the kernel's IPVS table. It imports nothing outside the standard library.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from .. import vocabulary
from .model import Destination, Service

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

IPVS_GENL_NAME = b"IPVS"
IPVS_GENL_VERSION = 1

CMD_NEW_SERVICE, CMD_SET_SERVICE, CMD_DEL_SERVICE, CMD_GET_SERVICE = 1, 2, 3, 4
CMD_NEW_DEST, CMD_SET_DEST, CMD_DEL_DEST, CMD_GET_DEST = 5, 6, 7, 8
CMD_NEW_DAEMON, CMD_DEL_DAEMON, CMD_GET_DAEMON = 9, 10, 11
CMD_SET_CONFIG, CMD_GET_CONFIG, CMD_GET_INFO = 12, 13, 15

CMD_ATTR_SERVICE, CMD_ATTR_DEST, CMD_ATTR_DAEMON = 1, 2, 3
CMD_ATTR_TIMEOUT_TCP, CMD_ATTR_TIMEOUT_TCP_FIN, CMD_ATTR_TIMEOUT_UDP = 4, 5, 6

SVC_AF, SVC_PROTOCOL, SVC_ADDR, SVC_PORT, SVC_FWMARK = 1, 2, 3, 4, 5
SVC_SCHED_NAME, SVC_FLAGS, SVC_TIMEOUT, SVC_NETMASK, SVC_STATS = 6, 7, 8, 9, 10
SVC_PE_NAME, SVC_STATS64 = 11, 12

DEST_ADDR, DEST_PORT, DEST_FWD_METHOD, DEST_WEIGHT, DEST_U_THRESH = 1, 2, 3, 4, 5
DEST_L_THRESH, DEST_ACTIVE_CONNS, DEST_INACT_CONNS, DEST_PERSIST_CONNS = 6, 7, 8, 9
DEST_STATS, DEST_ADDR_FAMILY, DEST_STATS64 = 10, 11, 12
DEST_TUN_TYPE, DEST_TUN_PORT, DEST_TUN_FLAGS = 13, 14, 15

DAEMON_STATE, DAEMON_MCAST_IFN, DAEMON_SYNC_ID, DAEMON_SYNC_MAXLEN = 1, 2, 3, 4
DAEMON_MCAST_GROUP, DAEMON_MCAST_GROUP6, DAEMON_MCAST_PORT, DAEMON_MCAST_TTL = 5, 6, 7, 8

INFO_VERSION, INFO_CONN_TAB_SIZE = 1, 2

STATS_FIELDS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes", "cps", "inpps",
                "outpps", "inbps", "outbps")

FLAG_BITS = vocabulary.SERVICE_FLAGS
FLAG_HASHED = 0x2
FLAG_SCHED1, FLAG_SCHED2 = 0x8, 0x10
FORWARDING = vocabulary.FORWARDING
FORWARDING_NAMES = {v: k for k, v in FORWARDING.items()}
FWD_MASK = 0x7
TUNNEL_TYPES = vocabulary.TUNNEL_TYPES
TUNNEL_TYPE_NAMES = {v: k for k, v in TUNNEL_TYPES.items()}
TUNNEL_FLAG_BITS = {name: bit for name, bit in vocabulary.TUNNEL_FLAGS.items() if bit}
PROTOCOLS = vocabulary.PROTOCOLS
PROTOCOL_NAMES = {v: k for k, v in PROTOCOLS.items()}
FAMILIES = vocabulary.FAMILIES
FAMILY_NAMES = {v: k for k, v in FAMILIES.items()}
DAEMON_STATES = {"master": 1, "backup": 2}

BATCH_BYTES = 60 * 1024  # per send(); the kernel takes each send as one buffer
SOCKET_BUFFER = 8 * 1024 * 1024
RECV_BUFFER = 1 << 20  # larger than any netlink datagram the kernel sends
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33

_NLMSGHDR = struct.Struct("=IHHII")
_GENLHDR = struct.Struct("=BBH")
_NLATTR = struct.Struct("=HH")


class IpvsNetlinkError(OSError):
    """The kernel refused a request; ``errno`` is its reason, ``what`` names the object.

    ``index`` is the request's position in what ``pipeline`` was given (None elsewhere).
    """

    def __init__(self, code: int, what: str, index: int | None = None) -> None:
        super().__init__(code, f"{what}: {os.strerror(code)}")
        self.what = what
        self.index = index


@dataclass(frozen=True)
class Stats:
    """Counters of a service or destination (never part of identity or desired state)."""

    conns: int = 0
    inpkts: int = 0
    outpkts: int = 0
    inbytes: int = 0
    outbytes: int = 0
    cps: int = 0
    inpps: int = 0
    outpps: int = 0
    inbps: int = 0
    outbps: int = 0


@dataclass(frozen=True)
class DestinationState:
    """What the kernel reports about a destination beyond its definition."""

    active_conns: int = 0
    inactive_conns: int = 0
    persistent_conns: int = 0
    stats: Stats = field(default_factory=Stats)


@dataclass(frozen=True)
class SyncDaemon:
    state: str  # master | backup
    interface: str
    sync_id: int = 0
    max_len: int | None = None
    group: str | None = None
    port: int | None = None
    ttl: int | None = None


@dataclass(frozen=True)
class Timeouts:
    tcp: int
    tcp_fin: int
    udp: int


# --- attribute packing -------------------------------------------------------------------------

def attr(kind: int, payload: bytes) -> bytes:
    length = _NLATTR.size + len(payload)
    return _NLATTR.pack(length, kind) + payload + b"\0" * (-length % 4)


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
    packed = socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    return attr(kind, packed.ljust(16, b"\0"))


def parse_attrs(data: bytes | memoryview) -> dict[int, bytes]:
    """Attributes by type (nested flag masked); later duplicates win, like the kernel's parser."""
    view = memoryview(data)
    found: dict[int, bytes] = {}
    offset = 0
    while offset + _NLATTR.size <= len(view):
        length, kind = _NLATTR.unpack_from(view, offset)
        if length < _NLATTR.size or offset + length > len(view):
            break
        found[kind & NLA_TYPE_MASK] = bytes(view[offset + _NLATTR.size:offset + length])
        offset += (length + 3) & ~3
    return found


def _u(value: bytes, fmt: str = "=I") -> int:
    return struct.unpack_from(fmt, value)[0]


def _text(value: bytes) -> str:
    return value.split(b"\0", 1)[0].decode(errors="replace")


def _address(value: bytes, family: int) -> str:
    if family == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, value[:16])
    return socket.inet_ntop(socket.AF_INET, value[:4])


# --- services and destinations <-> attributes ----------------------------------------------

def service_identity(service: Service) -> bytes:
    family = FAMILIES[service.family]
    parts = [u16(SVC_AF, family)]
    if service.fwmark is not None:
        parts.append(u32(SVC_FWMARK, service.fwmark))
    else:
        if service.protocol is None or service.address is None or service.port is None:
            raise ValueError("a service without fwmark needs protocol, address and port")
        parts += [u16(SVC_PROTOCOL, PROTOCOLS[service.protocol]),
                  address(SVC_ADDR, service.address), be16(SVC_PORT, service.port)]
    return b"".join(parts)


def _flag_bits(service: Service) -> int:
    bits = 0
    for flag in service.flags:
        bits |= FLAG_BITS[flag]
    return bits


def _netmask_value(service: Service) -> int:
    # IPv4: the mask as its four bytes in network order; IPv6: the prefix length (host order).
    if service.family == "inet":
        prefix = 32 if service.netmask is None else service.netmask
        mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
        return struct.unpack("=I", struct.pack("!I", mask))[0]
    return 128 if service.netmask is None else service.netmask


def service_attrs(service: Service) -> bytes:
    """The full service entry the kernel requires for add and edit."""
    parts = [service_identity(service), string(SVC_SCHED_NAME, service.scheduler),
             attr(SVC_FLAGS, struct.pack("=II", _flag_bits(service), 0xFFFFFFFF)),
             u32(SVC_TIMEOUT, service.timeout),
             u32(SVC_NETMASK, _netmask_value(service))]
    if service.pe_name:
        parts.append(string(SVC_PE_NAME, service.pe_name))
    return b"".join(parts)


def dest_identity(dest: Destination) -> bytes:
    return b"".join([address(DEST_ADDR, dest.address), be16(DEST_PORT, dest.port),
                     u16(DEST_ADDR_FAMILY, FAMILIES[dest.family])])


def dest_attrs(dest: Destination) -> bytes:
    parts = [dest_identity(dest), u32(DEST_FWD_METHOD, FORWARDING[dest.forwarding]),
             u32(DEST_WEIGHT, dest.weight), u32(DEST_U_THRESH, dest.upper_threshold),
             u32(DEST_L_THRESH, dest.lower_threshold)]
    if dest.forwarding == "tunnel":
        parts.append(u8(DEST_TUN_TYPE, TUNNEL_TYPES[dest.tunnel_type or "ipip"]))
        if dest.tunnel_port is not None:
            parts.append(be16(DEST_TUN_PORT, dest.tunnel_port))
        flags = 0
        for flag in dest.tunnel_flags:
            flags |= TUNNEL_FLAG_BITS.get(flag, 0)
        parts.append(u16(DEST_TUN_FLAGS, flags))
    return b"".join(parts)


def _stats(raw: bytes | None, wide: bool) -> Stats:
    if raw is None:
        return Stats()
    values = parse_attrs(raw)
    fmt = "=Q" if wide else None
    out = {}
    for index, name in enumerate(STATS_FIELDS, start=1):
        value = values.get(index)
        if value is None:
            continue
        out[name] = _u(value, fmt or ("=Q" if len(value) == 8 else "=I"))
    return Stats(**out)


def decode_service(attrs: dict[int, bytes]) -> tuple[Service, Stats]:
    family = _u(attrs[SVC_AF], "=H")
    flag_word = _u(attrs[SVC_FLAGS], "=I") if SVC_FLAGS in attrs else 0
    scheduler = _text(attrs.get(SVC_SCHED_NAME, vocabulary.DEFAULT_SCHEDULER.encode()))
    flags = set()
    if flag_word & 0x1:
        flags.add("persistent")
    if flag_word & 0x4:
        flags.add("one-packet")
    prefix = "mh" if scheduler == "mh" else "sh"
    if flag_word & FLAG_SCHED1:
        flags.add(f"{prefix}-fallback")
    if flag_word & FLAG_SCHED2:
        flags.add(f"{prefix}-port")
    raw_mask = _u(attrs[SVC_NETMASK], "=I") if SVC_NETMASK in attrs else None
    netmask: int | None = None
    if raw_mask is not None:
        if family == socket.AF_INET:
            netmask = bin(struct.unpack("!I", struct.pack("=I", raw_mask))[0]).count("1")
        else:
            netmask = raw_mask
    pe_name = _text(attrs[SVC_PE_NAME]) if SVC_PE_NAME in attrs else None
    options = {"scheduler": scheduler, "flags": frozenset(flags),
               "timeout": _u(attrs[SVC_TIMEOUT]) if SVC_TIMEOUT in attrs else 0,
               "netmask": netmask, "pe_name": pe_name or None}
    fwmark = _u(attrs[SVC_FWMARK]) if SVC_FWMARK in attrs else 0
    if fwmark:
        service = Service(FAMILY_NAMES[family], None, None, None, fwmark=fwmark, **options)
    else:
        service = Service(FAMILY_NAMES[family], PROTOCOL_NAMES[_u(attrs[SVC_PROTOCOL], "=H")],
                          _address(attrs[SVC_ADDR], family), _u(attrs[SVC_PORT], "!H"),
                          **options)
    if SVC_STATS64 in attrs:
        return service, _stats(attrs[SVC_STATS64], True)
    return service, _stats(attrs.get(SVC_STATS), False)


def decode_destination(attrs: dict[int, bytes], service_family: int, with_state: bool = True
                       ) -> tuple[Destination, DestinationState | None]:
    family = _u(attrs[DEST_ADDR_FAMILY], "=H") if DEST_ADDR_FAMILY in attrs else service_family
    forwarding = FORWARDING_NAMES.get(_u(attrs[DEST_FWD_METHOD]) & FWD_MASK, "direct")
    tunnel: dict[str, object] = {}
    if forwarding == "tunnel":
        # the kernel keeps (and reports) port and flags whatever the tunnel type
        kind = TUNNEL_TYPE_NAMES.get(_u(attrs[DEST_TUN_TYPE], "=B"), "ipip") \
            if DEST_TUN_TYPE in attrs else "ipip"
        if kind != "ipip":
            tunnel["tunnel_type"] = kind
        port = _u(attrs[DEST_TUN_PORT], "!H") if DEST_TUN_PORT in attrs else 0
        tunnel["tunnel_port"] = port or None
        bits = _u(attrs[DEST_TUN_FLAGS], "=H") if DEST_TUN_FLAGS in attrs else 0
        tunnel["tunnel_flags"] = frozenset(n for n, b in TUNNEL_FLAG_BITS.items() if bits & b)
    dest = Destination(
        address=_address(attrs[DEST_ADDR], family), port=_u(attrs[DEST_PORT], "!H"),
        forwarding=forwarding, weight=_u(attrs.get(DEST_WEIGHT, b"\0\0\0\0")),
        upper_threshold=_u(attrs.get(DEST_U_THRESH, b"\0\0\0\0")),
        lower_threshold=_u(attrs.get(DEST_L_THRESH, b"\0\0\0\0")), **tunnel)
    if not with_state:
        return dest, None
    state = DestinationState(
        active_conns=_u(attrs.get(DEST_ACTIVE_CONNS, b"\0\0\0\0")),
        inactive_conns=_u(attrs.get(DEST_INACT_CONNS, b"\0\0\0\0")),
        persistent_conns=_u(attrs.get(DEST_PERSIST_CONNS, b"\0\0\0\0")),
        stats=_stats(attrs[DEST_STATS64], True) if DEST_STATS64 in attrs
        else _stats(attrs.get(DEST_STATS), False))
    return dest, state


def normalize_service(service: Service) -> Service:
    """``service`` as the kernel reads it back: the scheduler flags named after the scheduler
    (the same bits are sh-* or mh-*), an empty persistence engine as none."""
    prefix = "mh-" if service.scheduler == "mh" else "sh-"
    flags = frozenset(prefix + f[3:] if f[:3] in ("sh-", "mh-") else f for f in service.flags)
    pe_name = service.pe_name or None
    if flags == service.flags and pe_name == service.pe_name:
        return service
    return replace(service, flags=flags, pe_name=pe_name)


def normalize_destination(dest: Destination) -> Destination:
    """``dest`` as the kernel reads it back: ipip is the default tunnel type (None), nocsum
    is no flag at all, tunnel port 0 is no port."""
    if dest.forwarding != "tunnel":
        return dest
    tunnel_type = None if dest.tunnel_type == "ipip" else dest.tunnel_type
    flags = dest.tunnel_flags - {"nocsum"}
    port = dest.tunnel_port or None
    if (tunnel_type, port, flags) == (dest.tunnel_type, dest.tunnel_port, dest.tunnel_flags):
        return dest
    return replace(dest, tunnel_type=tunnel_type, tunnel_port=port, tunnel_flags=flags)


# --- the socket --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    """One write: a command, its attributes, and the object it concerns (for error messages)."""

    command: int
    payload: bytes
    what: str


class IpvsNetlink:
    """A generic netlink socket bound to the kernel's IPVS family."""

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

    def __enter__(self) -> IpvsNetlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        return self.seq

    def _message(self, family: int, command: int, flags: int, payload: bytes,
                 version: int = IPVS_GENL_VERSION) -> tuple[int, bytes]:
        seq = self._next_seq()
        body = _GENLHDR.pack(command, version, 0) + payload
        return seq, _NLMSGHDR.pack(_NLMSGHDR.size + len(body), family, flags, seq, 0) + body

    def _replies(self) -> Iterator[tuple[int, int, int, memoryview]]:
        """(type, flags, seq, body) of each message in the next datagram.

        The bodies are views of the socket's one receive buffer: use them before the next call.
        """
        size = self.sock.recv_into(self._buffer)
        view = memoryview(self._buffer)[:size]
        offset = 0
        while offset + _NLMSGHDR.size <= len(view):
            length, kind, flags, seq, _pid = _NLMSGHDR.unpack_from(view, offset)
            if length < _NLMSGHDR.size:
                break
            yield kind, flags, seq, view[offset + _NLMSGHDR.size:offset + length]
            offset += (length + 3) & ~3

    def _resolve_family(self) -> int:
        seq, message = self._message(GENL_ID_CTRL, CTRL_CMD_GETFAMILY,
                                     NLM_F_REQUEST | NLM_F_ACK,
                                     string(CTRL_ATTR_FAMILY_NAME, IPVS_GENL_NAME.decode()),
                                     version=1)
        self.sock.send(message)
        family = None
        while True:
            for kind, _flags, reply_seq, body in self._replies():
                if reply_seq != seq:
                    continue
                if kind == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", body)[0]
                    if code:
                        if code == errno.ENOENT:
                            raise IpvsNetlinkError(code, "IPVS generic netlink family (is "
                                                   "the ip_vs kernel module loaded?)")
                        raise IpvsNetlinkError(code, "IPVS generic netlink family")
                    if family is None:
                        raise IpvsNetlinkError(errno.ENOENT, "IPVS generic netlink family")
                    return family
                attrs = parse_attrs(body[_GENLHDR.size:])
                family = _u(attrs[CTRL_ATTR_FAMILY_ID], "=H")

    def dump(self, command: int, payload: bytes = b"") -> list[dict[int, bytes]]:
        """Every reply of a dump, as its top-level attributes."""
        return self._exchange(command, payload, NLM_F_DUMP, f"IPVS dump (command {command})")

    def request(self, command: int, payload: bytes, what: str) -> list[dict[int, bytes]]:
        """One acknowledged request; returns the attributes of any reply before the ack."""
        return self._exchange(command, payload, NLM_F_ACK, what)

    def _exchange(self, command: int, payload: bytes, flags: int,
                  what: str) -> list[dict[int, bytes]]:
        """Send one message; collect its replies until NLMSG_DONE or the ack (error 0)."""
        seq, message = self._message(self.family, command, NLM_F_REQUEST | flags, payload)
        self.sock.send(message)
        found = []
        while True:
            for kind, _flags, reply_seq, body in self._replies():
                if reply_seq != seq:
                    continue
                if kind == NLMSG_DONE:
                    return found
                if kind == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", body)[0]
                    if code:
                        raise IpvsNetlinkError(code, what)
                    return found
                found.append(parse_attrs(body[_GENLHDR.size:]))

    def pipeline(self, requests: Iterable[Request], stop_on_failure: bool = True
                 ) -> tuple[int, list[IpvsNetlinkError]]:
        """Send requests in batches of at most BATCH_BYTES (or one request), an ack asked for
        only on each batch's last message.

        The kernel goes on with a batch after a failed message, so every request of a sent
        batch has either failed or succeeded. Unless ``stop_on_failure`` is false, nothing is
        sent after a batch with a failure. Returns how many requests were sent and the
        failures in order, each with the request's ``what`` and ``index``.
        """
        pending = list(requests)
        sent = 0
        failures: list[IpvsNetlinkError] = []
        header = _NLMSGHDR.size + _GENLHDR.size
        while sent < len(pending):
            end, size = sent, 0
            while end < len(pending):
                length = (header + len(pending[end].payload) + 3) & ~3
                if end > sent and size + length > BATCH_BYTES:
                    break
                size += length
                end += 1
            batch: list[bytes] = []
            by_seq: dict[int, int] = {}
            last_seq = 0
            for index in range(sent, end):
                flags = NLM_F_REQUEST | (NLM_F_ACK if index == end - 1 else 0)
                last_seq, message = self._message(self.family, pending[index].command, flags,
                                                  pending[index].payload)
                by_seq[last_seq] = index
                batch.append(message)
            self.sock.send(b"".join(batch))
            failed = False
            done = False
            while not done:
                for kind, _flags, reply_seq, body in self._replies():
                    if kind != NLMSG_ERROR or reply_seq not in by_seq:
                        continue
                    code = -struct.unpack_from("=i", body)[0]
                    if code:
                        index = by_seq[reply_seq]
                        failures.append(IpvsNetlinkError(code, pending[index].what, index))
                        failed = True
                    if reply_seq == last_seq:
                        done = True
            sent = end
            if failed and stop_on_failure:
                break
        return sent, failures

    # --- reads ---------------------------------------------------------------------------------

    def services(self) -> list[tuple[Service, Stats]]:
        out = []
        for reply in self.dump(CMD_GET_SERVICE):
            if CMD_ATTR_SERVICE in reply:
                out.append(decode_service(parse_attrs(reply[CMD_ATTR_SERVICE])))
        return out

    def destinations(self, service: Service, with_state: bool = True
                     ) -> list[tuple[Destination, DestinationState | None]]:
        """The service's destinations; without ``with_state`` counters are not decoded (None)."""
        family = FAMILIES[service.family]
        out = []
        for reply in self.dump(CMD_GET_DEST, nested(CMD_ATTR_SERVICE, service_identity(service))):
            if CMD_ATTR_DEST in reply:
                out.append(decode_destination(parse_attrs(reply[CMD_ATTR_DEST]), family,
                                              with_state))
        return out

    def timeouts(self) -> Timeouts:
        reply = self.request(CMD_GET_CONFIG, b"", "IPVS timeouts")[0]
        return Timeouts(tcp=_u(reply[CMD_ATTR_TIMEOUT_TCP]),
                        tcp_fin=_u(reply[CMD_ATTR_TIMEOUT_TCP_FIN]),
                        udp=_u(reply[CMD_ATTR_TIMEOUT_UDP]))

    def set_timeouts(self, timeouts: Timeouts) -> None:
        self.request(CMD_SET_CONFIG, b"".join([
            u32(CMD_ATTR_TIMEOUT_TCP, timeouts.tcp), u32(CMD_ATTR_TIMEOUT_TCP_FIN,
                                                         timeouts.tcp_fin),
            u32(CMD_ATTR_TIMEOUT_UDP, timeouts.udp)]), "IPVS timeouts")

    def daemons(self) -> list[SyncDaemon]:
        out = []
        for reply in self.dump(CMD_GET_DAEMON):
            if CMD_ATTR_DAEMON not in reply:
                continue
            attrs = parse_attrs(reply[CMD_ATTR_DAEMON])
            state = {1: "master", 2: "backup"}.get(_u(attrs[DAEMON_STATE]), "master")
            group = None
            if DAEMON_MCAST_GROUP6 in attrs:
                group = socket.inet_ntop(socket.AF_INET6, attrs[DAEMON_MCAST_GROUP6][:16])
            elif DAEMON_MCAST_GROUP in attrs:
                group = socket.inet_ntop(socket.AF_INET, attrs[DAEMON_MCAST_GROUP][:4])
            out.append(SyncDaemon(
                state=state, interface=_text(attrs[DAEMON_MCAST_IFN]),
                sync_id=_u(attrs[DAEMON_SYNC_ID]) if DAEMON_SYNC_ID in attrs else 0,
                max_len=_u(attrs[DAEMON_SYNC_MAXLEN], "=H") if DAEMON_SYNC_MAXLEN in attrs
                else None,
                group=group,
                port=_u(attrs[DAEMON_MCAST_PORT], "=H") if DAEMON_MCAST_PORT in attrs else None,
                ttl=_u(attrs[DAEMON_MCAST_TTL], "=B") if DAEMON_MCAST_TTL in attrs else None))
        return out

    def start_daemon(self, daemon: SyncDaemon) -> None:
        parts = [u32(DAEMON_STATE, DAEMON_STATES[daemon.state]),
                 string(DAEMON_MCAST_IFN, daemon.interface), u32(DAEMON_SYNC_ID, daemon.sync_id)]
        if daemon.max_len is not None:
            parts.append(u16(DAEMON_SYNC_MAXLEN, daemon.max_len))
        if daemon.group is not None:
            if ":" in daemon.group:
                parts.append(attr(DAEMON_MCAST_GROUP6,
                                  socket.inet_pton(socket.AF_INET6, daemon.group)))
            else:
                parts.append(attr(DAEMON_MCAST_GROUP,
                                  socket.inet_pton(socket.AF_INET, daemon.group)))
        if daemon.port is not None:  # host byte order, unlike every other port here
            parts.append(u16(DAEMON_MCAST_PORT, daemon.port))
        if daemon.ttl is not None:
            parts.append(u8(DAEMON_MCAST_TTL, daemon.ttl))
        self.request(CMD_NEW_DAEMON, nested(CMD_ATTR_DAEMON, *parts),
                     f"sync daemon {daemon.state} on {daemon.interface}")

    def stop_daemon(self, state: str) -> None:
        """Stop the master or backup sync daemon.

        Linux answers DEL_DAEMON with -EINTR when the daemon's thread has not run yet
        (kthread_stop() of a thread never woken), and netlink_rcv_skb() sends nothing at all
        for -EINTR: an acknowledged DEL_DAEMON would wait for ever. So the request goes
        without an ack, followed in the same send by a harmless acknowledged GET_CONFIG; a
        real refusal (ESRCH: not running) still comes back as an error. Stopped either way.
        """
        payload = nested(CMD_ATTR_DAEMON, u32(DAEMON_STATE, DAEMON_STATES[state]))
        _sent, failures = self.pipeline([Request(CMD_DEL_DAEMON, payload, f"sync daemon {state}"),
                                         Request(CMD_GET_CONFIG, b"", "IPVS timeouts")])
        if failures:
            raise failures[0]


# --- write requests ----------------------------------------------------------------------------

def describe_service(service: Service) -> str:
    if service.fwmark is not None:
        return f"service fwmark {service.fwmark} ({service.family})"
    host = f"[{service.address}]" if service.family == "inet6" else service.address
    return f"service {service.protocol} {host}:{service.port}"


def describe_destination(service: Service, dest: Destination) -> str:
    host = f"[{dest.address}]" if ":" in dest.address else dest.address
    return f"destination {host}:{dest.port} of {describe_service(service)}"


def add_service(service: Service) -> Request:
    return Request(CMD_NEW_SERVICE, nested(CMD_ATTR_SERVICE, service_attrs(service)),
                   f"add {describe_service(service)}")


def edit_service(service: Service) -> Request:
    return Request(CMD_SET_SERVICE, nested(CMD_ATTR_SERVICE, service_attrs(service)),
                   f"edit {describe_service(service)}")


def delete_service(service: Service) -> Request:
    return Request(CMD_DEL_SERVICE, nested(CMD_ATTR_SERVICE, service_identity(service)),
                   f"delete {describe_service(service)}")


def add_destination(service: Service, dest: Destination) -> Request:
    return Request(CMD_NEW_DEST, nested(CMD_ATTR_SERVICE, service_identity(service))
                   + nested(CMD_ATTR_DEST, dest_attrs(dest)),
                   f"add {describe_destination(service, dest)}")


def edit_destination(service: Service, dest: Destination) -> Request:
    return Request(CMD_SET_DEST, nested(CMD_ATTR_SERVICE, service_identity(service))
                   + nested(CMD_ATTR_DEST, dest_attrs(dest)),
                   f"edit {describe_destination(service, dest)}")


def delete_destination(service: Service, dest: Destination) -> Request:
    return Request(CMD_DEL_DEST, nested(CMD_ATTR_SERVICE, service_identity(service))
                   + nested(CMD_ATTR_DEST, dest_identity(dest)),
                   f"delete {describe_destination(service, dest)}")
