# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What goes on the wire to the kernel's IPVS: its generic netlink commands and attributes,
services, destinations, timeouts and sync daemons packed into requests and read back from
replies, and the spelling the kernel reads back (``normalize_*``).

Pure functions and values: the socket is ``ipvs/netlink.py`` (``IpvsNetlink``), the framing
``lvs_cluster/netlink.py``. Standard library only.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import socket
import struct
from dataclasses import dataclass, field, replace

from .. import vocabulary
from ..netlink import (
    GENLHDR,
    NLA_TYPE_MASK,
    NLATTR,
    Request,
    address,
    attr,
    be16,
    nested,
    parse_attrs,
    scan_attrs,
    string,
    text,
    u8,
    u16,
    u32,
    unpack,
)
from .model import Destination, Service, canonical_address

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
# What the kernel fills in for a sync daemon option left out (net/netfilter/ipvs/ip_vs_sync.c).
DAEMON_DEFAULTS = {"group": "224.0.0.81", "port": 8848, "ttl": 1}


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


def decode_stats(raw: bytes | None, wide: bool) -> Stats:
    if raw is None:
        return Stats()
    values = parse_attrs(raw)
    fmt = "=Q" if wide else None
    out = {}
    for index, name in enumerate(STATS_FIELDS, start=1):
        value = values.get(index)
        if value is None:
            continue
        out[name] = unpack(value, fmt or ("=Q" if len(value) == 8 else "=I"))
    return Stats(**out)


_U16 = struct.Struct("=H").unpack_from
_U32 = struct.Struct("=I").unpack_from
_BE16 = struct.Struct("!H").unpack_from
_BE32 = struct.Struct("!I").unpack_from
_ZERO32 = b"\0\0\0\0"
# what a table read decodes of a destination: not its counters and stats
DEST_OPTIONS = frozenset({DEST_ADDR, DEST_PORT, DEST_FWD_METHOD, DEST_WEIGHT, DEST_U_THRESH,
                          DEST_L_THRESH, DEST_ADDR_FAMILY, DEST_TUN_TYPE, DEST_TUN_PORT,
                          DEST_TUN_FLAGS})


def kernel_address(raw: bytes, family: int) -> str:
    """An address attribute as the model's canonical text."""
    if family == socket.AF_INET6:
        return _ipv6_text(bytes(raw[:16]))
    return socket.inet_ntop(socket.AF_INET, raw[:4])


@functools.lru_cache(maxsize=1 << 16)
def _ipv6_text(raw: bytes) -> str:
    # Python's spelling, the model's: it differs from inet_ntop's for IPv4-mapped addresses
    found = canonical_address(socket.inet_ntop(socket.AF_INET6, raw))
    if found is None:  # never: 16 bytes are always an IPv6 address
        raise ValueError(f"not an IPv6 address: {raw.hex()}")
    return found[0]


def decode_service(attrs: dict[int, bytes]) -> tuple[Service, Stats]:
    family = _U16(attrs[SVC_AF])[0]
    flag_word = _U32(attrs[SVC_FLAGS])[0] if SVC_FLAGS in attrs else 0
    scheduler = text(attrs.get(SVC_SCHED_NAME, vocabulary.DEFAULT_SCHEDULER.encode()))
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
    netmask: int | None = None
    if SVC_NETMASK in attrs:
        if family == socket.AF_INET:  # a mask in network order; IPv6: a prefix length
            netmask = bin(_BE32(attrs[SVC_NETMASK])[0]).count("1")
        else:
            netmask = _U32(attrs[SVC_NETMASK])[0]
        if netmask == (32 if family == socket.AF_INET else 128):
            netmask = None
    pe_name = text(attrs[SVC_PE_NAME]) if SVC_PE_NAME in attrs else None
    fwmark = _U32(attrs[SVC_FWMARK])[0] if SVC_FWMARK in attrs else 0
    protocol = address = port = None
    if not fwmark:
        protocol = PROTOCOL_NAMES[_U16(attrs[SVC_PROTOCOL])[0]]
        address = kernel_address(attrs[SVC_ADDR], family)
        port = _BE16(attrs[SVC_PORT])[0]
    service = Service.from_kernel(
        FAMILY_NAMES[family], protocol, address, port, fwmark or None, scheduler,
        frozenset(flags), _U32(attrs[SVC_TIMEOUT])[0] if SVC_TIMEOUT in attrs else 0, netmask,
        pe_name or None)
    if SVC_STATS64 in attrs:
        return service, decode_stats(attrs[SVC_STATS64], True)
    return service, decode_stats(attrs.get(SVC_STATS), False)


def destination_options(body: bytes | memoryview, service_family: int) -> Destination | None:
    """The destination of one destination dump reply (the message after its netlink header),
    options only: what a table read needs, decoded without the counters."""
    data = bytes(body)
    offset, end = GENLHDR.size, len(data)
    while offset + NLATTR.size <= end:
        length, kind = NLATTR.unpack_from(data, offset)
        if length < NLATTR.size or offset + length > end:
            return None
        if kind & NLA_TYPE_MASK == CMD_ATTR_DEST:
            return _destination(_options(data, offset + NLATTR.size, offset + length),
                                service_family)
        offset += (length + 3) & ~3
    return None


class _OptionsLayout:
    """Where a destination's options are in its attributes. The kernel writes every destination
    with the same attributes in the same order and sizes (``ip_vs_genl_fill_dest``): learned
    from one reply's walk, the next ones are read with one struct unpack, checked against every
    learned attribute header (a reply that differs is walked)."""

    def __init__(self, data: bytes, start: int, end: int) -> None:
        parts, headers, header_at, value_at = ["="], [], [], {}
        offset = start
        while offset < end:
            length, kind = NLATTR.unpack_from(data, offset) if offset + 4 <= end else (0, 0)
            padded = (length + 3) & ~3
            if length < NLATTR.size or offset + padded > end:
                raise ValueError("not a whole list of attributes")
            header_at += [len(headers) + len(value_at), len(headers) + len(value_at) + 1]
            headers += [length, kind]
            if kind & NLA_TYPE_MASK in DEST_OPTIONS:
                value_at[kind & NLA_TYPE_MASK] = len(headers) + len(value_at)
                parts.append(f"HH{length - NLATTR.size}s{padded - length}x")
            else:
                parts.append(f"HH{padded - NLATTR.size}x")
            offset += padded
        if len(value_at) < 2:
            raise ValueError("too few options to learn")
        self.struct = struct.Struct("".join(parts))
        self.headers = operator.itemgetter(*header_at)
        self.expected = tuple(headers)
        self.kinds = tuple(value_at)
        self.values = operator.itemgetter(*value_at.values())

    def read(self, data: bytes, start: int) -> dict[int, bytes] | None:
        fields = self.struct.unpack_from(data, start)
        if self.headers(fields) != self.expected:
            return None
        return dict(zip(self.kinds, self.values(fields)))  # noqa: B905 - Python 3.9


_LAYOUTS: dict[int, _OptionsLayout] = {}  # by the length of the destination's attributes


def _options(data: bytes, start: int, end: int) -> dict[int, bytes]:
    """The options of the destination whose attributes are ``data[start:end]``."""
    layout = _LAYOUTS.get(end - start)
    if layout is not None:
        found = layout.read(data, start)
        if found is not None:
            return found
    elif len(_LAYOUTS) < 8:
        with contextlib.suppress(ValueError):
            _LAYOUTS[end - start] = _OptionsLayout(data, start, end)
    return scan_attrs(data, start, end, DEST_OPTIONS)


def _destination(attrs: dict[int, bytes], service_family: int) -> Destination:
    family = _U16(attrs[DEST_ADDR_FAMILY])[0] if DEST_ADDR_FAMILY in attrs else service_family
    forwarding = FORWARDING_NAMES.get(_U32(attrs[DEST_FWD_METHOD])[0] & FWD_MASK, "direct")
    tunnel_type = tunnel_port = None
    tunnel_flags: frozenset[str] = frozenset()
    if forwarding == "tunnel":
        # the kernel keeps (and reports) port and flags whatever the tunnel type
        kind = TUNNEL_TYPE_NAMES.get(attrs[DEST_TUN_TYPE][0], "ipip") \
            if DEST_TUN_TYPE in attrs else "ipip"
        if kind != "ipip":
            tunnel_type = kind
        tunnel_port = (_BE16(attrs[DEST_TUN_PORT])[0] if DEST_TUN_PORT in attrs else 0) or None
        bits = _U16(attrs[DEST_TUN_FLAGS])[0] if DEST_TUN_FLAGS in attrs else 0
        tunnel_flags = frozenset(n for n, b in TUNNEL_FLAG_BITS.items() if bits & b)
    get = attrs.get
    return Destination.from_kernel(
        kernel_address(attrs[DEST_ADDR], family), _BE16(attrs[DEST_PORT])[0], forwarding,
        _U32(get(DEST_WEIGHT, _ZERO32))[0], _U32(get(DEST_U_THRESH, _ZERO32))[0],
        _U32(get(DEST_L_THRESH, _ZERO32))[0], tunnel_type, tunnel_port, tunnel_flags)


def decode_destination(attrs: dict[int, bytes], service_family: int, with_state: bool = True
                       ) -> tuple[Destination, DestinationState | None]:
    dest = _destination(attrs, service_family)
    if not with_state:
        return dest, None
    state = DestinationState(
        active_conns=unpack(attrs.get(DEST_ACTIVE_CONNS, _ZERO32)),
        inactive_conns=unpack(attrs.get(DEST_INACT_CONNS, _ZERO32)),
        persistent_conns=unpack(attrs.get(DEST_PERSIST_CONNS, _ZERO32)),
        stats=decode_stats(attrs[DEST_STATS64], True) if DEST_STATS64 in attrs
        else decode_stats(attrs.get(DEST_STATS), False))
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


# --- timeouts and sync daemons -----------------------------------------------------------------

# The acknowledged request that changes nothing: sent after a request that takes no ack.
FENCE = Request(CMD_GET_CONFIG, b"", "IPVS timeouts")


def set_timeouts(timeouts: Timeouts) -> Request:
    """IPVS_CMD_SET_CONFIG (a timeout of 0 is left as it is, as ipvsadm --set does)."""
    return Request(CMD_SET_CONFIG, b"".join([
        u32(CMD_ATTR_TIMEOUT_TCP, timeouts.tcp), u32(CMD_ATTR_TIMEOUT_TCP_FIN, timeouts.tcp_fin),
        u32(CMD_ATTR_TIMEOUT_UDP, timeouts.udp)]), "IPVS timeouts")


def decode_timeouts(attrs: dict[int, bytes]) -> Timeouts:
    return Timeouts(tcp=unpack(attrs[CMD_ATTR_TIMEOUT_TCP]),
                    tcp_fin=unpack(attrs[CMD_ATTR_TIMEOUT_TCP_FIN]),
                    udp=unpack(attrs[CMD_ATTR_TIMEOUT_UDP]))


def start_daemon(daemon: SyncDaemon) -> Request:
    parts = [u32(DAEMON_STATE, DAEMON_STATES[daemon.state]),
             string(DAEMON_MCAST_IFN, daemon.interface), u32(DAEMON_SYNC_ID, daemon.sync_id)]
    if daemon.max_len is not None:
        parts.append(u16(DAEMON_SYNC_MAXLEN, daemon.max_len))
    if daemon.group is not None:
        if ":" in daemon.group:
            parts.append(attr(DAEMON_MCAST_GROUP6,
                              socket.inet_pton(socket.AF_INET6, daemon.group)))
        else:
            parts.append(attr(DAEMON_MCAST_GROUP, socket.inet_pton(socket.AF_INET, daemon.group)))
    if daemon.port is not None:  # host byte order, unlike every other port here
        parts.append(u16(DAEMON_MCAST_PORT, daemon.port))
    if daemon.ttl is not None:
        parts.append(u8(DAEMON_MCAST_TTL, daemon.ttl))
    return Request(CMD_NEW_DAEMON, nested(CMD_ATTR_DAEMON, *parts),
                   f"sync daemon {daemon.state} on {daemon.interface}")


def stop_daemon(state: str) -> Request:
    """IPVS_CMD_DEL_DAEMON, which must not carry an ack.

    Linux answers DEL_DAEMON with -EINTR when the daemon's thread has not run yet
    (kthread_stop() of a thread never woken), and netlink_rcv_skb() sends nothing at all for
    -EINTR: an acknowledged DEL_DAEMON would wait for ever. Sent without an ack (the pipeline
    adds the ``FENCE`` after it when it ends a batch), a real refusal (ESRCH: not running)
    still comes back as an error. Stopped either way.
    """
    return Request(CMD_DEL_DAEMON, nested(CMD_ATTR_DAEMON, u32(DAEMON_STATE, DAEMON_STATES[state])),
                   f"sync daemon {state}", ack=False)


def decode_daemon(attrs: dict[int, bytes]) -> SyncDaemon:
    state = {1: "master", 2: "backup"}.get(unpack(attrs[DAEMON_STATE]), "master")
    group = None
    if DAEMON_MCAST_GROUP6 in attrs:
        group = socket.inet_ntop(socket.AF_INET6, attrs[DAEMON_MCAST_GROUP6][:16])
    elif DAEMON_MCAST_GROUP in attrs:
        group = socket.inet_ntop(socket.AF_INET, attrs[DAEMON_MCAST_GROUP][:4])
    return SyncDaemon(
        state=state, interface=text(attrs[DAEMON_MCAST_IFN]),
        sync_id=unpack(attrs[DAEMON_SYNC_ID]) if DAEMON_SYNC_ID in attrs else 0,
        max_len=unpack(attrs[DAEMON_SYNC_MAXLEN], "=H") if DAEMON_SYNC_MAXLEN in attrs else None,
        group=group,
        port=unpack(attrs[DAEMON_MCAST_PORT], "=H") if DAEMON_MCAST_PORT in attrs else None,
        ttl=unpack(attrs[DAEMON_MCAST_TTL], "=B") if DAEMON_MCAST_TTL in attrs else None)


def expected_daemon(daemon: SyncDaemon, running: SyncDaemon | None = None) -> SyncDaemon:
    """``daemon`` as the kernel will read it back once started: the kernel's defaults for the
    multicast group, port and TTL left out; a ``max_len`` left out is the kernel's choice
    (from the interface's MTU), taken as the running daemon's when there is one."""
    max_len = daemon.max_len
    if max_len is None and running is not None:
        max_len = running.max_len
    return replace(daemon, group=daemon.group or DAEMON_DEFAULTS["group"],
                   port=daemon.port or DAEMON_DEFAULTS["port"],
                   ttl=daemon.ttl or DAEMON_DEFAULTS["ttl"], max_len=max_len)


def daemon_matches(running: SyncDaemon, wanted: SyncDaemon) -> bool:
    """Whether the running daemon has the settings ``wanted`` asks for (its state aside; a
    ``max_len`` left out is not compared)."""
    return (running.interface == wanted.interface and running.sync_id == wanted.sync_id
            and (wanted.max_len is None or running.max_len == wanted.max_len)
            and running.group == (wanted.group or DAEMON_DEFAULTS["group"])
            and running.port == (wanted.port or DAEMON_DEFAULTS["port"])
            and running.ttl == (wanted.ttl or DAEMON_DEFAULTS["ttl"]))
