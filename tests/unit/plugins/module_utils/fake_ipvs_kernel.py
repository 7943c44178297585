# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake of the Linux kernel's IPVS generic netlink family, behind a socket-like object.

The project's rule is that unit tests may fake only the netlink socket; ``FakeIpvsKernel`` is
that socket. It decodes the bytes a client sends with its own small parser (nothing of the
client's codec is used, only the numeric constants of ``_ipvs_netlink``, which are the uapi's),
keeps an IPVS table the way ``net/netfilter/ipvs/ip_vs_ctl.c`` does, and answers with bytes
laid out the way the kernel lays them out.

Modelled on Linux 6.1 (the lab's UML kernel):

* netlink: every message of one ``send()`` is processed in order (``netlink_rcv_skb``); a
  failed message is answered with NLMSG_ERROR (negative errno, the original message echoed),
  a succeeded one with an ack (error 0, header only, NLM_F_CAPPED) only if it asked with
  NLM_F_ACK; each error/ack/reply is its own datagram; a dump is a series of datagrams of
  several NLM_F_MULTI messages ending with NLMSG_DONE, produced as the reader drains the
  queue; ``send`` larger than the send buffer fails with EMSGSIZE; replies that overflow the
  receive buffer are dropped and the next ``recv`` fails with ENOBUFS;
* generic netlink: CTRL_CMD_GETFAMILY resolves "IPVS" (ENOENT when ``ipvs_loaded=False``),
  an unknown family id is ENOENT, a command without a do/dump handler EOPNOTSUPP, every IPVS
  command needs CAP_NET_ADMIN (EPERM when ``privileged=False``);
* attribute policies (``ip_vs_*_policy``, liberal/deprecated parsing): integers shorter than
  their type are ERANGE, strings without a NUL within their maximum EINVAL, binaries longer
  than their maximum ERANGE, later duplicates win;
* services keyed by af+protocol+address+port or af+fwmark; NEW on an existing key EEXIST,
  anything else on a missing one ESRCH; NEW/SET need SCHED_NAME, FLAGS, TIMEOUT and NETMASK
  (EINVAL); unknown scheduler or persistence engine ENOENT; IPv6 netmask (a prefix length)
  outside 1..128 EINVAL; flags are applied through their mask and read back with the
  kernel-internal HASHED bit (0x2); the timeout is kept in jiffies (``hz``), so it wraps at
  2**32 / hz seconds as it does in the kernel;
* destinations keyed by af+address+port; NEW existing EEXIST, SET/DEL missing ENOENT, on a
  missing service ESRCH; NEW/SET need FWD_METHOD, WEIGHT, U_THRESH and L_THRESH (EINVAL);
  weight >= 2**31 (negative in the kernel's int) ERANGE; lower threshold > upper threshold
  ERANGE (unconditionally: ``if (udest->l_threshold > udest->u_threshold)``, an upper
  threshold of 0 is no exception); a GUE tunnel without a port EINVAL; a destination of
  another family than its service only with tunnel forwarding and no sync daemon (EINVAL);
  a new destination at a multicast, broadcast, unspecified or link-local address EINVAL;
  dumps list a service's destinations newest first (``list_add`` at the head); a destination
  dump for a missing service is empty, not an error;
* GET_CONFIG / SET_CONFIG timeouts (0 leaves a value unchanged, above INT_MAX / hz EINVAL);
  NEW / DEL / GET daemon (EEXIST when running, ESRCH when not, ENODEV for an unknown
  interface, the kernel's defaults for group, port, TTL and max length filled in; with
  ``sync_threads_run=False`` a stop is -EINTR: done, but answered with nothing, not even an
  ack requested with NLM_F_ACK);
  GET_INFO; FLUSH; ZERO.

Test hooks: ``fail_on(nth_write_or_predicate, errno)`` makes writes fail without touching the
table; ``sends``, ``sent_bytes``, ``recvs``, ``messages``, ``writes`` and ``batches`` (per
send: (command, flags, seq) of each message) count what the client did; ``snapshot()`` is
the whole table as plain values; ``load(table)`` fills the table from model objects without
going through netlink.
"""

from __future__ import annotations

import errno
import ipaddress
import struct
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from plugins.module_utils.lvs_cluster.ipvs.netlink import (
    CMD_ATTR_DAEMON,
    CMD_ATTR_DEST,
    CMD_ATTR_SERVICE,
    CMD_ATTR_TIMEOUT_TCP,
    CMD_ATTR_TIMEOUT_TCP_FIN,
    CMD_ATTR_TIMEOUT_UDP,
    CMD_DEL_DAEMON,
    CMD_DEL_DEST,
    CMD_DEL_SERVICE,
    CMD_GET_CONFIG,
    CMD_GET_DAEMON,
    CMD_GET_DEST,
    CMD_GET_INFO,
    CMD_GET_SERVICE,
    CMD_NEW_DAEMON,
    CMD_NEW_DEST,
    CMD_NEW_SERVICE,
    CMD_SET_CONFIG,
    CMD_SET_DEST,
    CMD_SET_SERVICE,
    CTRL_ATTR_FAMILY_ID,
    CTRL_ATTR_FAMILY_NAME,
    CTRL_CMD_GETFAMILY,
    DAEMON_MCAST_GROUP,
    DAEMON_MCAST_GROUP6,
    DAEMON_MCAST_IFN,
    DAEMON_MCAST_PORT,
    DAEMON_MCAST_TTL,
    DAEMON_STATE,
    DAEMON_SYNC_ID,
    DAEMON_SYNC_MAXLEN,
    DEST_ACTIVE_CONNS,
    DEST_ADDR,
    DEST_ADDR_FAMILY,
    DEST_FWD_METHOD,
    DEST_INACT_CONNS,
    DEST_L_THRESH,
    DEST_PERSIST_CONNS,
    DEST_PORT,
    DEST_STATS,
    DEST_STATS64,
    DEST_TUN_FLAGS,
    DEST_TUN_PORT,
    DEST_TUN_TYPE,
    DEST_U_THRESH,
    DEST_WEIGHT,
    GENL_ID_CTRL,
    INFO_CONN_TAB_SIZE,
    INFO_VERSION,
    NLM_F_ACK,
    NLM_F_DUMP,
    NLM_F_MULTI,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    SVC_ADDR,
    SVC_AF,
    SVC_FLAGS,
    SVC_FWMARK,
    SVC_NETMASK,
    SVC_PE_NAME,
    SVC_PORT,
    SVC_PROTOCOL,
    SVC_SCHED_NAME,
    SVC_STATS,
    SVC_STATS64,
    SVC_TIMEOUT,
)

# Constants the client does not use (include/uapi/linux/ip_vs.h, netlink.h, genetlink.h).
CMD_SET_INFO, CMD_ZERO, CMD_FLUSH = 14, 16, 17
CTRL_CMD_NEWFAMILY = 1
CTRL_ATTR_VERSION, CTRL_ATTR_HDRSIZE, CTRL_ATTR_MAXATTR = 3, 4, 5
NLMSG_MIN_TYPE = 0x10
NLM_F_CAPPED = 0x100
STATS_ATTR_PAD = 11
AF_INET, AF_INET6 = 2, 10
IPPROTO_TCP = 6
HASHED = 0x2
FWD_MASK = 0x7
FWD_MASQ, FWD_LOCAL, FWD_TUNNEL, FWD_DROUTE = 0, 1, 2, 3
TUN_IPIP, TUN_GUE, TUN_GRE = 0, 1, 2
STATE_MASTER, STATE_BACKUP = 1, 2
SYNC_GROUP, SYNC_PORT = "224.0.0.81", 8848
IP_VS_VERSION_CODE = 0x010201
INT_MAX = 0x7FFFFFFF
RMEM_MAX = WMEM_MAX = 212992  # net.core.{r,w}mem_max and _default
SKB_OVERHEAD = 768  # what a small netlink skb costs the receive buffer beyond its data
NLMSG_GOODSIZE = 4096 - 320
MAX_RECVMSG_LEN = 32768 - 320
SO_RCVBUF, SO_SNDBUF, SO_RCVBUFFORCE, SO_SNDBUFFORCE = 8, 7, 33, 32
SOL_SOCKET = 1

KERNEL_SCHEDULERS = frozenset(
    {"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
     "twos"})
WRITE_COMMANDS = {CMD_NEW_SERVICE: "NEW_SERVICE", CMD_SET_SERVICE: "SET_SERVICE",
                  CMD_DEL_SERVICE: "DEL_SERVICE", CMD_NEW_DEST: "NEW_DEST",
                  CMD_SET_DEST: "SET_DEST", CMD_DEL_DEST: "DEL_DEST",
                  CMD_NEW_DAEMON: "NEW_DAEMON", CMD_DEL_DAEMON: "DEL_DAEMON",
                  CMD_SET_CONFIG: "SET_CONFIG", CMD_ZERO: "ZERO", CMD_FLUSH: "FLUSH"}
COMMAND_NAMES = {**WRITE_COMMANDS, CMD_GET_SERVICE: "GET_SERVICE", CMD_GET_DEST: "GET_DEST",
                 CMD_GET_DAEMON: "GET_DAEMON", CMD_GET_CONFIG: "GET_CONFIG",
                 CMD_GET_INFO: "GET_INFO"}

# --- our own wire format -----------------------------------------------------------------------

_HDR = struct.Struct("=IHHII")  # struct nlmsghdr
_GENL = struct.Struct("=BBH")  # struct genlmsghdr
_NLA = struct.Struct("=HH")  # struct nlattr
_TYPE_MASK = 0x3FFF  # nla_type(): without NLA_F_NESTED / NLA_F_NET_BYTEORDER


def _align(n: int) -> int:
    return (n + 3) & ~3


class KernelError(Exception):
    """A handler's negative return value."""

    def __init__(self, code: int) -> None:
        super().__init__(errno.errorcode.get(code, str(code)))
        self.code = code


# Attribute policies: type -> (kind, len) as in ip_vs_ctl.c's nla_policy tables.
_MIN = {"u8": 1, "u16": 2, "u32": 4, "u64": 8}
CMD_POLICY = {CMD_ATTR_SERVICE: ("nested", 0), CMD_ATTR_DEST: ("nested", 0),
              CMD_ATTR_DAEMON: ("nested", 0), CMD_ATTR_TIMEOUT_TCP: ("u32", 0),
              CMD_ATTR_TIMEOUT_TCP_FIN: ("u32", 0), CMD_ATTR_TIMEOUT_UDP: ("u32", 0)}
SVC_POLICY = {SVC_AF: ("u16", 0), SVC_PROTOCOL: ("u16", 0), SVC_ADDR: ("binary", 16),
              SVC_PORT: ("u16", 0), SVC_FWMARK: ("u32", 0), SVC_SCHED_NAME: ("nul_string", 15),
              SVC_PE_NAME: ("nul_string", 16), SVC_FLAGS: ("binary", 8),
              SVC_TIMEOUT: ("u32", 0), SVC_NETMASK: ("u32", 0), SVC_STATS: ("nested", 0)}
DEST_POLICY = {DEST_ADDR: ("binary", 16), DEST_PORT: ("u16", 0), DEST_FWD_METHOD: ("u32", 0),
               DEST_WEIGHT: ("u32", 0), DEST_U_THRESH: ("u32", 0), DEST_L_THRESH: ("u32", 0),
               DEST_ACTIVE_CONNS: ("u32", 0), DEST_INACT_CONNS: ("u32", 0),
               DEST_PERSIST_CONNS: ("u32", 0), DEST_STATS: ("nested", 0),
               DEST_ADDR_FAMILY: ("u16", 0), DEST_TUN_TYPE: ("u8", 0),
               DEST_TUN_PORT: ("u16", 0), DEST_TUN_FLAGS: ("u16", 0)}
DAEMON_POLICY = {DAEMON_STATE: ("u32", 0), DAEMON_MCAST_IFN: ("nul_string", 15),
                 DAEMON_SYNC_ID: ("u32", 0), DAEMON_SYNC_MAXLEN: ("u16", 0),
                 DAEMON_MCAST_GROUP: ("u32", 0), DAEMON_MCAST_GROUP6: ("min", 16),
                 DAEMON_MCAST_PORT: ("u16", 0), DAEMON_MCAST_TTL: ("u8", 0)}
CTRL_POLICY = {CTRL_ATTR_FAMILY_ID: ("u16", 0), CTRL_ATTR_FAMILY_NAME: ("nul_string", 15)}


def parse_attrs(data: bytes, policy: Mapping[int, tuple[str, int]]) -> dict[int, bytes]:
    """nla_parse_deprecated(): validate against ``policy``; unknown types are skipped, later
    duplicates win, a truncated tail is ignored."""
    found: dict[int, bytes] = {}
    offset = 0
    while offset + 4 <= len(data):
        length, kind = _NLA.unpack_from(data, offset)
        if length < 4 or offset + length > len(data):
            break
        kind &= _TYPE_MASK
        value = data[offset + 4:offset + length]
        rule = policy.get(kind)
        if rule is not None:
            _validate(value, *rule)
            found[kind] = value
        offset += _align(length)
    return found


def _validate(value: bytes, kind: str, limit: int) -> None:
    size = len(value)
    if kind in _MIN:
        if size < _MIN[kind]:
            raise KernelError(errno.ERANGE)
    elif kind == "nul_string":
        window = min(size, limit + 1) if limit else size
        if not window or b"\0" not in value[:window]:
            raise KernelError(errno.EINVAL)
        if size and value[-1:] == b"\0":
            size -= 1
        if limit and size > limit:
            raise KernelError(errno.ERANGE)
    elif kind == "binary":
        if limit and size > limit:
            raise KernelError(errno.ERANGE)
    elif kind == "min":
        if size < limit:
            raise KernelError(errno.ERANGE)
    elif kind == "nested" and 0 < size < 4:
        raise KernelError(errno.ERANGE)


def get_u8(value: bytes) -> int:
    return value[0]


def get_u16(value: bytes) -> int:
    return struct.unpack_from("=H", value)[0]


def get_be16(value: bytes) -> int:
    return struct.unpack_from("!H", value)[0]


def get_u32(value: bytes) -> int:
    return struct.unpack_from("=I", value)[0]


def get_string(value: bytes) -> str:
    return value.split(b"\0", 1)[0].decode()


def put(kind: int, payload: bytes) -> bytes:
    return _NLA.pack(4 + len(payload), kind) + payload + b"\0" * (-len(payload) % 4)


def put_nest(kind: int, *parts: bytes) -> bytes:
    """nla_nest_start_noflag(): IPVS nests without NLA_F_NESTED."""
    return put(kind, b"".join(parts))


def put_u8(kind: int, value: int) -> bytes:
    return put(kind, bytes([value]))


def put_u16(kind: int, value: int) -> bytes:
    return put(kind, struct.pack("=H", value))


def put_be16(kind: int, value: int) -> bytes:
    return put(kind, struct.pack("!H", value))


def put_u32(kind: int, value: int) -> bytes:
    return put(kind, struct.pack("=I", value & 0xFFFFFFFF))


def put_u64(kind: int, value: int) -> bytes:
    return put(kind, struct.pack("=Q", value))


def put_string(kind: int, value: str) -> bytes:
    return put(kind, value.encode() + b"\0")


def nlmsg(kind: int, flags: int, seq: int, pid: int, body: bytes) -> bytes:
    length = _HDR.size + len(body)
    return _HDR.pack(length, kind, flags, seq, pid) + body + b"\0" * (-length % 4)


def split_messages(data: bytes) -> list[tuple[int, int, int, int, bytes]]:
    """(type, flags, seq, pid, whole message) of each message, as netlink_rcv_skb walks them."""
    out = []
    offset = 0
    while len(data) - offset >= _HDR.size:
        length, kind, flags, seq, pid = _HDR.unpack_from(data, offset)
        if length < _HDR.size or length > len(data) - offset:
            break
        out.append((kind, flags, seq, pid, data[offset:offset + length]))
        offset += _align(length)
    return out


def _address_bytes(text: str) -> tuple[int, bytes]:
    parsed = ipaddress.ip_address(text)
    if parsed.version == 4:
        return AF_INET, parsed.packed
    return AF_INET6, parsed.packed


def _address_text(af: int, raw: bytes) -> str:
    return str(ipaddress.ip_address(raw[:4] if af == AF_INET else raw[:16]))


def _addr16(af: int, raw: bytes) -> bytes:
    """nla_memcpy() into a zeroed union nf_inet_addr, then ip_vs_addr_copy(af, ...)."""
    raw = raw[:16].ljust(16, b"\0")
    return raw[:4] + b"\0" * 12 if af == AF_INET else raw


# --- the table ---------------------------------------------------------------------------------

@dataclass
class FakeDest:
    af: int
    addr: bytes  # 16 bytes (union nf_inet_addr)
    port: int
    conn_flags: int
    weight: int
    u_threshold: int
    l_threshold: int
    tun_type: int = 0
    tun_port: int = 0
    tun_flags: int = 0
    activeconns: int = 0
    inactconns: int = 0
    persistconns: int = 0
    stats: dict[int, int] = field(default_factory=dict)

    @property
    def key(self) -> tuple[int, bytes, int]:
        return self.af, self.addr, self.port

    @property
    def address(self) -> str:
        return _address_text(self.af, self.addr)

    def state(self) -> tuple:
        return (self.conn_flags & FWD_MASK, self.weight, self.u_threshold, self.l_threshold,
                self.tun_type, self.tun_port, self.tun_flags)


@dataclass
class FakeService:
    af: int
    protocol: int
    addr: bytes  # 16 bytes
    port: int
    fwmark: int
    sched_name: str
    flags: int
    timeout: int  # jiffies
    netmask: bytes  # the 4 raw bytes of the __be32
    pe_name: str | None
    hz: int
    dests: dict[tuple, FakeDest] = field(default_factory=dict)  # in the order added
    stats: dict[int, int] = field(default_factory=dict)

    @property
    def key(self) -> tuple:
        if self.fwmark:
            return self.af, self.fwmark
        return self.af, self.protocol, self.addr, self.port

    @property
    def address(self) -> str | None:
        return None if self.fwmark else _address_text(self.af, self.addr)

    @property
    def timeout_seconds(self) -> int:
        return self.timeout // self.hz

    @property
    def netmask_host_u32(self) -> int:
        """The netmask as the kernel's (__force __u32) sees it (the IPv6 prefix length)."""
        return struct.unpack("=I", self.netmask)[0]

    def find_dest(self, af: int, addr: bytes, port: int) -> FakeDest | None:
        return self.dests.get((af, addr, port))

    def dump_order(self) -> list[FakeDest]:
        """list_add_rcu() puts a new destination at the head: newest first."""
        return list(reversed(self.dests.values()))


@dataclass(frozen=True)
class SyncConfig:
    state: int
    ifname: str
    syncid: int
    sync_maxlen: int
    mcast_af: int
    mcast_group: bytes
    mcast_port: int
    mcast_ttl: int


@dataclass(frozen=True)
class Write:
    """What a fault predicate sees: one write message, its attributes parsed (unvalidated)."""

    command: int
    name: str  # NEW_SERVICE SET_SERVICE DEL_SERVICE NEW_DEST SET_DEST DEL_DEST ...
    seq: int
    flags: int
    index: int  # 1-based count of writes since the fake was created
    service: dict[int, bytes]
    dest: dict[int, bytes]

    @property
    def service_port(self) -> int | None:
        return get_be16(self.service[SVC_PORT]) if SVC_PORT in self.service else None

    @property
    def fwmark(self) -> int | None:
        return get_u32(self.service[SVC_FWMARK]) if SVC_FWMARK in self.service else None

    @property
    def dest_port(self) -> int | None:
        return get_be16(self.dest[DEST_PORT]) if DEST_PORT in self.dest else None

    @property
    def dest_address(self) -> str | None:
        if DEST_ADDR not in self.dest:
            return None
        af = get_u16(self.dest[DEST_ADDR_FAMILY]) if DEST_ADDR_FAMILY in self.dest else \
            get_u16(self.service.get(SVC_AF, b"\2\0"))
        return _address_text(af, _addr16(af, self.dest[DEST_ADDR]))


@dataclass
class _Fault:
    matches: Callable[[Write], bool]
    code: int
    remaining: int | None  # None: forever


class _Dumping(Exception):
    """A dump was started: no ack (netlink_rcv_skb's -EINTR)."""


# --- the socket --------------------------------------------------------------------------------

class FakeIpvsKernel:
    """A netlink socket whose other end is a fake of the kernel's IPVS."""

    def __init__(self, *, family_id: int = 0x1C, ipvs_loaded: bool = True,
                 privileged: bool = True, schedulers: Iterable[str] = KERNEL_SCHEDULERS,
                 persistence_engines: Iterable[str] = ("sip",),
                 interfaces: Mapping[str, int] | None = None, hz: int = 250,
                 pad_u64: bool = False, sync_threads_run: bool = True) -> None:
        self.family_id = family_id
        self.ipvs_loaded = ipvs_loaded
        self.privileged = privileged
        self.schedulers = frozenset(schedulers)
        self.persistence_engines = frozenset(persistence_engines)
        self.interfaces = dict(interfaces if interfaces is not None
                               else {"lo": 65536, "eth0": 1500, "eth1": 9000})
        self.hz = hz
        self.pad_u64 = pad_u64
        # False: a sync daemon's threads have not run yet, so stopping one returns -EINTR
        # (kthread_stop() of a never-woken thread), which netlink answers with nothing at all
        self.sync_threads_run = sync_threads_run
        self.portid = 0
        self.closed = False
        self.timeout: float | None = None
        self.rcvbuf = RMEM_MAX
        self.sndbuf = WMEM_MAX
        self.services: dict[tuple, FakeService] = {}
        self.tcp_timeout, self.tcp_fin_timeout, self.udp_timeout = 900 * hz, 120 * hz, 300 * hz
        self.daemons: dict[int, SyncConfig] = {}
        self.mixed_address_family_dests = 0
        # what the client did
        self.sends = 0
        self.recvs = 0
        self.messages = 0
        self.writes = 0
        self.batches: list[list[tuple[int, int, int]]] = []  # per send: (cmd, flags, seq)
        self.sent_bytes: list[int] = []  # per send
        # what it will read
        self._queue: deque[bytes] = deque()
        self._rmem = 0
        self._overrun = False
        self._dump_rest: deque[bytes] = deque()
        self._max_recvmsg_len = 0
        self._faults: list[_Fault] = []

    # --- socket API ----------------------------------------------------------------------------

    def bind(self, address: tuple[int, int]) -> None:
        self._check_open()
        self.portid = address[0] or 4242

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self._check_open()
        if level != SOL_SOCKET:
            return
        if option in (SO_RCVBUFFORCE, SO_SNDBUFFORCE) and not self.privileged:
            raise PermissionError(errno.EPERM, "Operation not permitted")
        if option in (SO_RCVBUF, SO_RCVBUFFORCE):
            self.rcvbuf = 2 * (value if option == SO_RCVBUFFORCE else min(value, RMEM_MAX))
        elif option in (SO_SNDBUF, SO_SNDBUFFORCE):
            self.sndbuf = 2 * (value if option == SO_SNDBUFFORCE else min(value, WMEM_MAX))

    def settimeout(self, value: float | None) -> None:
        self.timeout = value

    def close(self) -> None:
        self.closed = True

    def fileno(self) -> int:
        return -1

    def send(self, data: bytes) -> int:
        self._check_open()
        data = bytes(data)
        if len(data) > self.sndbuf - 32:
            raise OSError(errno.EMSGSIZE, "Message too long")
        if not self.portid:
            self.portid = 4242  # autobind
        self.sends += 1
        self.sent_bytes.append(len(data))
        batch: list[tuple[int, int, int]] = []
        self.batches.append(batch)
        for kind, flags, seq, _pid, raw in split_messages(data):
            self.messages += 1
            command = raw[_HDR.size] if len(raw) > _HDR.size else -1
            batch.append((command, flags, seq))
            self._receive(kind, flags, seq, raw)
        return len(data)

    sendall = send

    def recv_into(self, buffer: bytearray, nbytes: int = 0, flags: int = 0) -> int:
        data = self.recv(nbytes or len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def recv(self, bufsize: int) -> bytes:
        self._check_open()
        self._max_recvmsg_len = min(max(self._max_recvmsg_len, bufsize), MAX_RECVMSG_LEN)
        if self._overrun:
            self._overrun = False
            raise OSError(errno.ENOBUFS, "No buffer space available")
        if not self._queue and self._dump_rest:
            self._enqueue(self._dump_rest.popleft())
        if not self._queue:
            raise TimeoutError("fake IPVS kernel: recv() with nothing queued (a real socket "
                               "would block)")
        datagram = self._queue.popleft()
        self.recvs += 1
        self._rmem -= len(datagram) + SKB_OVERHEAD
        if not self._queue and self._dump_rest:
            self._enqueue(self._dump_rest.popleft())
        return datagram[:bufsize]

    def _check_open(self) -> None:
        if self.closed:
            raise OSError(errno.EBADF, "Bad file descriptor")

    def _enqueue(self, datagram: bytes) -> None:
        cost = len(datagram) + SKB_OVERHEAD
        if self._rmem + cost > self.rcvbuf:
            self._overrun = True  # netlink_overrun(): dropped, ENOBUFS on the next recv
            return
        self._rmem += cost
        self._queue.append(datagram)

    # --- test hooks ----------------------------------------------------------------------------

    def fail_on(self, when: int | Callable[[Write], bool], code: int = errno.ENOMEM,
                times: int | None = 1) -> None:
        """Make writes fail with ``code`` before they touch the table.

        ``when`` is N (the Nth write message from now on, counting failed ones) or a predicate
        on ``Write``; ``times`` is how many matching writes fail (None: all of them).
        """
        if isinstance(when, int):
            target = self.writes + when
            self._faults.append(_Fault(lambda w: w.index == target, code, 1))
        else:
            self._faults.append(_Fault(when, code, times))

    def snapshot(self) -> dict[tuple, tuple]:
        """The whole table as plain, readable values (counters left out)::

            {(af, protocol, address, port) or (af, "fwmark", mark):
                ((scheduler, flags, timeout in jiffies, netmask bytes as hex, pe_name),
                 {(af, address, port): (forwarding, weight, upper, lower, tunnel type,
                                        tunnel port, tunnel flags)})}
        """
        out: dict[tuple, tuple] = {}
        for svc in self.services.values():
            key = (svc.af, "fwmark", svc.fwmark) if svc.fwmark else \
                (svc.af, svc.protocol, svc.address, svc.port)
            options = (svc.sched_name, svc.flags, svc.timeout, svc.netmask.hex(), svc.pe_name)
            dests = {(d.af, d.address, d.port): d.state() for d in svc.dests.values()}
            out[key] = (options, dests)
        return out

    def service(self, address: str | None = None, port: int | None = None,
                protocol: int = IPPROTO_TCP, fwmark: int | None = None,
                af: int | None = None) -> FakeService:
        """The service with this key (KeyError if none)."""
        if fwmark is not None:
            return self.services[(af or AF_INET, fwmark)]
        assert address is not None and port is not None
        family, raw = _address_bytes(address)
        return self.services[(family, protocol, _addr16(family, raw), port)]

    def load(self, table: Mapping[object, Iterable[object]]) -> FakeIpvsKernel:
        """Put model Services and Destinations (read by attribute) straight into the table."""
        for svc, dests in table.items():
            service = self._service_from_model(svc)
            if service.key in self.services:
                raise ValueError(f"duplicate service {service.key}")
            self.services[service.key] = service
            for dest in dests:
                fake = self._dest_from_model(dest)
                if service.find_dest(fake.af, fake.addr, fake.port):
                    raise ValueError(f"duplicate destination {fake.key}")
                if fake.af != service.af:
                    self.mixed_address_family_dests += 1
                service.dests[fake.key] = fake
        return self

    def _service_from_model(self, svc) -> FakeService:
        af = {"inet": AF_INET, "inet6": AF_INET6}[svc.family]
        bits = {"persistent": 0x1, "one-packet": 0x4, "sh-fallback": 0x8, "mh-fallback": 0x8,
                "sh-port": 0x10, "mh-port": 0x10}
        flags = HASHED
        for name in svc.flags:
            flags |= bits[name]
        if af == AF_INET:
            prefix = 32 if svc.netmask is None else svc.netmask
            netmask = ((0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF).to_bytes(4, "big")
        else:
            netmask = struct.pack("=I", 128 if svc.netmask is None else svc.netmask)
        if svc.fwmark is not None:
            protocol, addr, port, fwmark = IPPROTO_TCP, b"\0" * 16, 0, svc.fwmark
        else:
            protocol = {"tcp": 6, "udp": 17, "sctp": 132}[svc.protocol]
            addr = _addr16(af, _address_bytes(svc.address)[1])
            port, fwmark = svc.port, 0
        return FakeService(af, protocol, addr, port, fwmark, svc.scheduler, flags,
                           (svc.timeout * self.hz) & 0xFFFFFFFF, netmask, svc.pe_name or None,
                           self.hz)

    @staticmethod
    def _dest_from_model(dest) -> FakeDest:
        af, raw = _address_bytes(dest.address)
        forwarding = {"nat": FWD_MASQ, "local": FWD_LOCAL, "tunnel": FWD_TUNNEL,
                      "direct": FWD_DROUTE}[dest.forwarding]
        tun_type = {None: TUN_IPIP, "ipip": TUN_IPIP, "gue": TUN_GUE,
                    "gre": TUN_GRE}[dest.tunnel_type]
        tun_flags = 0
        for name in dest.tunnel_flags:
            tun_flags |= {"nocsum": 0, "csum": 1, "remcsum": 2}[name]
        return FakeDest(af, _addr16(af, raw), dest.port, forwarding, dest.weight,
                        dest.upper_threshold, dest.lower_threshold, tun_type,
                        dest.tunnel_port or 0, tun_flags)

    # --- netlink_rcv_skb -----------------------------------------------------------------------

    def _receive(self, kind: int, flags: int, seq: int, raw: bytes) -> None:
        code = 0
        if flags & NLM_F_REQUEST and kind >= NLMSG_MIN_TYPE:
            try:
                if len(raw) < _HDR.size + _GENL.size:
                    raise KernelError(errno.EINVAL)
                if kind == GENL_ID_CTRL:
                    self._ctrl(flags, seq, raw)
                elif kind == self.family_id and self.ipvs_loaded:
                    self._ipvs(flags, seq, raw)
                else:
                    raise KernelError(errno.ENOENT)
            except KernelError as error:
                code = error.code
            except _Dumping:
                return
        if code == errno.EINTR:  # netlink_rcv_skb(): goto skip, neither error nor ack
            return
        if code or flags & NLM_F_ACK:
            self._ack(seq, raw, code)

    def _ack(self, seq: int, raw: bytes, code: int) -> None:
        if code:  # the whole request echoed
            body, flags = struct.pack("=i", -code) + raw, 0
        else:
            body, flags = struct.pack("=i", 0) + raw[:_HDR.size], NLM_F_CAPPED
        self._enqueue(nlmsg(NLMSG_ERROR, flags, seq, self.portid, body))

    def _reply(self, seq: int, command: int, attrs: bytes, family: int | None = None,
               flags: int = 0) -> bytes:
        body = _GENL.pack(command, 1, 0) + attrs
        return nlmsg(self.family_id if family is None else family, flags, seq, self.portid,
                     body)

    def _ctrl(self, flags: int, seq: int, raw: bytes) -> None:
        command = raw[_HDR.size]
        if command != CTRL_CMD_GETFAMILY or (flags & NLM_F_DUMP) == NLM_F_DUMP:
            raise KernelError(errno.EOPNOTSUPP)
        attrs = parse_attrs(raw[_HDR.size + _GENL.size:], CTRL_POLICY)
        if CTRL_ATTR_FAMILY_NAME in attrs:
            found = get_string(attrs[CTRL_ATTR_FAMILY_NAME]) == "IPVS"
        elif CTRL_ATTR_FAMILY_ID in attrs:
            found = get_u16(attrs[CTRL_ATTR_FAMILY_ID]) == self.family_id
        else:
            raise KernelError(errno.EINVAL)
        if not (found and self.ipvs_loaded):
            raise KernelError(errno.ENOENT)
        reply = b"".join([put_string(CTRL_ATTR_FAMILY_NAME, "IPVS"),
                          put_u16(CTRL_ATTR_FAMILY_ID, self.family_id),
                          put_u32(CTRL_ATTR_VERSION, 1), put_u32(CTRL_ATTR_HDRSIZE, 0),
                          put_u32(CTRL_ATTR_MAXATTR, 6)])
        self._enqueue(nlmsg(GENL_ID_CTRL, 0, seq, self.portid,
                            _GENL.pack(CTRL_CMD_NEWFAMILY, 2, 0) + reply))

    # --- genl_family_rcv_msg for IPVS ----------------------------------------------------------

    def _ipvs(self, flags: int, seq: int, raw: bytes) -> None:
        command = raw[_HDR.size]
        payload = raw[_HDR.size + _GENL.size:]
        doit = {CMD_NEW_SERVICE, CMD_SET_SERVICE, CMD_DEL_SERVICE, CMD_GET_SERVICE,
                CMD_NEW_DEST, CMD_SET_DEST, CMD_DEL_DEST, CMD_NEW_DAEMON, CMD_DEL_DAEMON,
                CMD_SET_CONFIG, CMD_GET_CONFIG, CMD_GET_INFO, CMD_ZERO, CMD_FLUSH}
        dumpit = {CMD_GET_SERVICE: self._dump_services, CMD_GET_DEST: self._dump_dests,
                  CMD_GET_DAEMON: self._dump_daemons}
        if command not in doit and command not in dumpit:
            raise KernelError(errno.EOPNOTSUPP)
        if not self.privileged:  # GENL_ADMIN_PERM on every IPVS operation
            raise KernelError(errno.EPERM)
        if (flags & NLM_F_DUMP) == NLM_F_DUMP:
            if command not in dumpit:
                raise KernelError(errno.EOPNOTSUPP)
            if self._dump_rest:
                raise KernelError(errno.EBUSY)
            self._start_dump(seq, dumpit[command](seq, payload))
            raise _Dumping
        if command not in doit:
            raise KernelError(errno.EOPNOTSUPP)
        if command in WRITE_COMMANDS:
            self.writes += 1
            self._inject(command, flags, seq, payload)
        attrs = parse_attrs(payload, CMD_POLICY)
        if command in (CMD_NEW_DAEMON, CMD_DEL_DAEMON):
            self._set_daemon(command, attrs)
        elif command == CMD_GET_SERVICE:
            svc = self._parse_service(attrs.get(CMD_ATTR_SERVICE), full=False)[1]
            if svc is None:
                raise KernelError(errno.ESRCH)
            self._enqueue(self._reply(seq, CMD_NEW_SERVICE, self._fill_service(svc)))
        elif command == CMD_GET_CONFIG:
            self._enqueue(self._reply(seq, CMD_SET_CONFIG, b"".join([
                put_u32(CMD_ATTR_TIMEOUT_TCP, self.tcp_timeout // self.hz),
                put_u32(CMD_ATTR_TIMEOUT_TCP_FIN, self.tcp_fin_timeout // self.hz),
                put_u32(CMD_ATTR_TIMEOUT_UDP, self.udp_timeout // self.hz)])))
        elif command == CMD_GET_INFO:
            self._enqueue(self._reply(seq, CMD_SET_INFO, put_u32(
                INFO_VERSION, IP_VS_VERSION_CODE) + put_u32(INFO_CONN_TAB_SIZE, 4096)))
        else:
            self._set_cmd(command, attrs)

    def _inject(self, command: int, flags: int, seq: int, payload: bytes) -> None:
        if not self._faults:
            return

        def loose(data: bytes | None, policy) -> dict[int, bytes]:
            try:
                return parse_attrs(data or b"", policy)
            except KernelError:
                return {}

        top = loose(payload, CMD_POLICY)
        write = Write(command, WRITE_COMMANDS[command], seq, flags, self.writes,
                      loose(top.get(CMD_ATTR_SERVICE), SVC_POLICY),
                      loose(top.get(CMD_ATTR_DEST), DEST_POLICY))
        for fault in self._faults:
            if fault.remaining != 0 and fault.matches(write):
                if fault.remaining is not None:
                    fault.remaining -= 1
                raise KernelError(fault.code)

    # --- ip_vs_genl_set_cmd --------------------------------------------------------------------

    def _set_cmd(self, command: int, attrs: dict[int, bytes]) -> None:
        if command == CMD_FLUSH:
            for svc in list(self.services.values()):
                self._del_service(svc)
            return
        if command == CMD_SET_CONFIG:
            self._set_config(attrs)
            return
        if command == CMD_ZERO and CMD_ATTR_SERVICE not in attrs:
            for svc in self.services.values():
                svc.stats.clear()
                for dest in svc.dests.values():
                    dest.stats.clear()
            return
        full = command in (CMD_NEW_SERVICE, CMD_SET_SERVICE)
        usvc, svc = self._parse_service(attrs.get(CMD_ATTR_SERVICE), full=full)
        if command != CMD_NEW_SERVICE and svc is None:
            raise KernelError(errno.ESRCH)
        udest: dict[str, int | bytes] = {}
        if command in (CMD_NEW_DEST, CMD_SET_DEST, CMD_DEL_DEST):
            assert svc is not None
            udest = self._parse_dest(attrs.get(CMD_ATTR_DEST), full=command != CMD_DEL_DEST)
            if udest["af"] == 0:
                udest["af"] = svc.af
            if udest["af"] not in (AF_INET, AF_INET6):
                raise KernelError(errno.EAFNOSUPPORT)
            if udest["af"] != svc.af and command != CMD_DEL_DEST and (
                    self.daemons or udest["conn_flags"] != FWD_TUNNEL):
                raise KernelError(errno.EINVAL)
        if command == CMD_NEW_SERVICE:
            if svc is not None:
                raise KernelError(errno.EEXIST)
            self._add_service(usvc)
        elif command == CMD_SET_SERVICE:
            self._edit_service(svc, usvc)
        elif command == CMD_DEL_SERVICE:
            self._del_service(svc)
        elif command == CMD_NEW_DEST:
            self._add_dest(svc, udest)
        elif command == CMD_SET_DEST:
            self._edit_dest(svc, udest)
        elif command == CMD_DEL_DEST:
            self._del_dest(svc, udest)
        elif command == CMD_ZERO:
            svc.stats.clear()
            for dest in svc.dests.values():
                dest.stats.clear()
        else:
            raise KernelError(errno.EINVAL)

    def _parse_service(self, nla: bytes | None, full: bool
                       ) -> tuple[dict[str, object], FakeService | None]:
        """ip_vs_genl_parse_service(): the user's service and the existing one, if any."""
        if nla is None:
            raise KernelError(errno.EINVAL)
        try:
            attrs = parse_attrs(nla, SVC_POLICY)
        except KernelError:
            raise KernelError(errno.EINVAL) from None
        if SVC_AF not in attrs or not (SVC_FWMARK in attrs or all(
                a in attrs for a in (SVC_PORT, SVC_PROTOCOL, SVC_ADDR))):
            raise KernelError(errno.EINVAL)
        usvc: dict[str, object] = {"af": get_u16(attrs[SVC_AF])}
        if usvc["af"] not in (AF_INET, AF_INET6):
            raise KernelError(errno.EAFNOSUPPORT)
        if SVC_FWMARK in attrs:
            usvc.update(protocol=IPPROTO_TCP, addr=b"\0" * 16, port=0,
                        fwmark=get_u32(attrs[SVC_FWMARK]))
        else:
            usvc.update(protocol=get_u16(attrs[SVC_PROTOCOL]),
                        addr=_addr16(usvc["af"], attrs[SVC_ADDR]),
                        port=get_be16(attrs[SVC_PORT]), fwmark=0)
        if usvc["fwmark"]:
            key = (usvc["af"], usvc["fwmark"])
        else:
            key = (usvc["af"], usvc["protocol"], usvc["addr"], usvc["port"])
        svc = self.services.get(key)
        if full:
            needed = (SVC_SCHED_NAME, SVC_FLAGS, SVC_TIMEOUT, SVC_NETMASK)
            if not all(a in attrs for a in needed):
                raise KernelError(errno.EINVAL)
            raw_flags = attrs[SVC_FLAGS].ljust(8, b"\0")
            flags, mask = struct.unpack_from("=II", raw_flags)
            current = svc.flags if svc is not None else 0
            usvc.update(flags=(current & ~mask) | (flags & mask),
                        sched_name=get_string(attrs[SVC_SCHED_NAME]),
                        pe_name=get_string(attrs[SVC_PE_NAME]) if SVC_PE_NAME in attrs
                        else None,
                        timeout=get_u32(attrs[SVC_TIMEOUT]),
                        netmask=attrs[SVC_NETMASK][:4])
        return usvc, svc

    def _check_service_options(self, usvc: dict[str, object]) -> None:
        if usvc["sched_name"] != "none" and usvc["sched_name"] not in self.schedulers:
            raise KernelError(errno.ENOENT)
        if usvc["pe_name"] and usvc["pe_name"] not in self.persistence_engines:
            raise KernelError(errno.ENOENT)
        if usvc["af"] == AF_INET6:
            prefix = struct.unpack("=I", usvc["netmask"])[0]
            if not 1 <= prefix <= 128:
                raise KernelError(errno.EINVAL)

    def _add_service(self, usvc: dict[str, object]) -> None:
        self._check_service_options(usvc)
        svc = FakeService(
            usvc["af"], usvc["protocol"], usvc["addr"], usvc["port"], usvc["fwmark"],
            usvc["sched_name"], (usvc["flags"] & ~HASHED) | HASHED,
            (usvc["timeout"] * self.hz) & 0xFFFFFFFF, usvc["netmask"],
            usvc["pe_name"] or None, self.hz)
        self.services[svc.key] = svc

    def _edit_service(self, svc: FakeService, usvc: dict[str, object]) -> None:
        self._check_service_options(usvc)
        svc.sched_name = usvc["sched_name"]
        svc.flags = usvc["flags"] | HASHED
        svc.timeout = (usvc["timeout"] * self.hz) & 0xFFFFFFFF
        svc.netmask = usvc["netmask"]
        svc.pe_name = usvc["pe_name"] or None

    def _del_service(self, svc: FakeService) -> None:
        for dest in svc.dests.values():
            if dest.af != svc.af:
                self.mixed_address_family_dests -= 1
        del self.services[svc.key]

    def _parse_dest(self, nla: bytes | None, full: bool) -> dict[str, int | bytes]:
        """ip_vs_genl_parse_dest()."""
        if nla is None:
            raise KernelError(errno.EINVAL)
        try:
            attrs = parse_attrs(nla, DEST_POLICY)
        except KernelError:
            raise KernelError(errno.EINVAL) from None
        if DEST_ADDR not in attrs or DEST_PORT not in attrs:
            raise KernelError(errno.EINVAL)
        udest: dict[str, int | bytes] = {
            "raw_addr": attrs[DEST_ADDR], "port": get_be16(attrs[DEST_PORT]),
            "af": get_u16(attrs[DEST_ADDR_FAMILY]) if DEST_ADDR_FAMILY in attrs else 0,
            "conn_flags": 0, "weight": 0, "u_threshold": 0, "l_threshold": 0,
            "tun_type": 0, "tun_port": 0, "tun_flags": 0}
        if full:
            needed = (DEST_FWD_METHOD, DEST_WEIGHT, DEST_U_THRESH, DEST_L_THRESH)
            if not all(a in attrs for a in needed):
                raise KernelError(errno.EINVAL)
            weight = get_u32(attrs[DEST_WEIGHT])
            udest.update(conn_flags=get_u32(attrs[DEST_FWD_METHOD]) & FWD_MASK,
                         weight=weight - (1 << 32) if weight > INT_MAX else weight,
                         u_threshold=get_u32(attrs[DEST_U_THRESH]),
                         l_threshold=get_u32(attrs[DEST_L_THRESH]))
            if DEST_TUN_TYPE in attrs:
                udest["tun_type"] = get_u8(attrs[DEST_TUN_TYPE])
            if DEST_TUN_PORT in attrs:
                udest["tun_port"] = get_be16(attrs[DEST_TUN_PORT])
            if DEST_TUN_FLAGS in attrs:
                udest["tun_flags"] = get_u16(attrs[DEST_TUN_FLAGS])
        return udest

    @staticmethod
    def _check_dest_options(udest: dict[str, int | bytes]) -> None:
        if udest["weight"] < 0:
            raise KernelError(errno.ERANGE)
        if udest["l_threshold"] > udest["u_threshold"]:
            raise KernelError(errno.ERANGE)
        if udest["tun_type"] == TUN_GUE and udest["tun_port"] == 0:
            raise KernelError(errno.EINVAL)

    def _add_dest(self, svc: FakeService, udest: dict[str, int | bytes]) -> None:
        self._check_dest_options(udest)
        af = udest["af"]
        addr = _addr16(af, udest["raw_addr"])
        if svc.find_dest(af, addr, udest["port"]) is not None:
            raise KernelError(errno.EEXIST)
        parsed = ipaddress.ip_address(addr[:4] if af == AF_INET else addr)
        if parsed.is_multicast or parsed.is_unspecified or (
                af == AF_INET and (parsed in ipaddress.ip_network("0.0.0.0/8")
                                   or parsed == ipaddress.ip_address("255.255.255.255"))) or (
                af == AF_INET6 and parsed.is_link_local):
            raise KernelError(errno.EINVAL)  # ip_vs_new_dest(): not a unicast address
        dest = FakeDest(af, addr, udest["port"], 0, 0, 0, 0)
        self._update_dest(dest, udest)
        if af != svc.af:
            self.mixed_address_family_dests += 1
        svc.dests[dest.key] = dest

    def _edit_dest(self, svc: FakeService, udest: dict[str, int | bytes]) -> None:
        self._check_dest_options(udest)
        dest = svc.find_dest(udest["af"], _addr16(udest["af"], udest["raw_addr"]),
                             udest["port"])
        if dest is None:
            raise KernelError(errno.ENOENT)
        self._update_dest(dest, udest)

    @staticmethod
    def _update_dest(dest: FakeDest, udest: dict[str, int | bytes]) -> None:
        """__ip_vs_update_dest(): every option is replaced, tunnel fields included."""
        dest.conn_flags = udest["conn_flags"]
        dest.weight = udest["weight"]
        dest.u_threshold = udest["u_threshold"]
        dest.l_threshold = udest["l_threshold"]
        dest.tun_type = udest["tun_type"]
        dest.tun_port = udest["tun_port"]
        dest.tun_flags = udest["tun_flags"]

    def _del_dest(self, svc: FakeService, udest: dict[str, int | bytes]) -> None:
        dest = svc.find_dest(udest["af"], _addr16(udest["af"], udest["raw_addr"]),
                             udest["port"])
        if dest is None:
            raise KernelError(errno.ENOENT)
        if dest.af != svc.af:
            self.mixed_address_family_dests -= 1
        del svc.dests[dest.key]

    def _set_config(self, attrs: dict[int, bytes]) -> None:
        """ip_vs_genl_set_config() and ip_vs_set_timeout(): 0 leaves a timeout as it is."""
        values = {a: get_u32(attrs[a]) for a in (CMD_ATTR_TIMEOUT_TCP, CMD_ATTR_TIMEOUT_TCP_FIN,
                                                 CMD_ATTR_TIMEOUT_UDP) if a in attrs}
        signed = {a: v - (1 << 32) if v > INT_MAX else v for a, v in values.items()}
        if any(v < 0 or v > INT_MAX // self.hz for v in signed.values()):
            raise KernelError(errno.EINVAL)
        if signed.get(CMD_ATTR_TIMEOUT_TCP):
            self.tcp_timeout = signed[CMD_ATTR_TIMEOUT_TCP] * self.hz
        if signed.get(CMD_ATTR_TIMEOUT_TCP_FIN):
            self.tcp_fin_timeout = signed[CMD_ATTR_TIMEOUT_TCP_FIN] * self.hz
        if signed.get(CMD_ATTR_TIMEOUT_UDP):
            self.udp_timeout = signed[CMD_ATTR_TIMEOUT_UDP] * self.hz

    # --- the sync daemon -----------------------------------------------------------------------

    def _set_daemon(self, command: int, attrs: dict[int, bytes]) -> None:
        if CMD_ATTR_DAEMON not in attrs:
            raise KernelError(errno.EINVAL)
        daemon = parse_attrs(attrs[CMD_ATTR_DAEMON], DAEMON_POLICY)
        if command == CMD_DEL_DAEMON:
            if DAEMON_STATE not in daemon:
                raise KernelError(errno.EINVAL)
            state = get_u32(daemon[DAEMON_STATE])
            if state not in self.daemons:
                raise KernelError(errno.ESRCH)
            del self.daemons[state]
            if not self.sync_threads_run:
                raise KernelError(errno.EINTR)
            return
        if not all(a in daemon for a in (DAEMON_STATE, DAEMON_MCAST_IFN, DAEMON_SYNC_ID)):
            raise KernelError(errno.EINVAL)
        ifname = get_string(daemon[DAEMON_MCAST_IFN])
        mcast_af, group = 0, b""
        if DAEMON_MCAST_GROUP in daemon:
            mcast_af, group = AF_INET, daemon[DAEMON_MCAST_GROUP][:4]
            if not ipaddress.IPv4Address(group).is_multicast:
                raise KernelError(errno.EINVAL)
        elif DAEMON_MCAST_GROUP6 in daemon:
            mcast_af, group = AF_INET6, daemon[DAEMON_MCAST_GROUP6][:16]
            if not ipaddress.IPv6Address(group).is_multicast:
                raise KernelError(errno.EINVAL)
        if self.mixed_address_family_dests > 0:
            raise KernelError(errno.EINVAL)
        state = get_u32(daemon[DAEMON_STATE])
        # start_sync_thread()
        if state not in (STATE_MASTER, STATE_BACKUP):
            raise KernelError(errno.EINVAL)
        if state in self.daemons:
            raise KernelError(errno.EEXIST)
        if not mcast_af:
            mcast_af, group = AF_INET, ipaddress.IPv4Address(SYNC_GROUP).packed
        port = get_u16(daemon[DAEMON_MCAST_PORT]) if DAEMON_MCAST_PORT in daemon else 0
        ttl = get_u8(daemon[DAEMON_MCAST_TTL]) if DAEMON_MCAST_TTL in daemon else 0
        if ifname not in self.interfaces:
            raise KernelError(errno.ENODEV)
        header = 28 if mcast_af == AF_INET else 48
        if state == STATE_BACKUP:
            mtu, least = min(max(self.interfaces[ifname], 1500), 65535), 1024
        else:
            mtu, least = 1500, 1
        maxlen = get_u16(daemon[DAEMON_SYNC_MAXLEN]) if DAEMON_SYNC_MAXLEN in daemon else 0
        maxlen = min(max(maxlen, least), 65535 - header) if maxlen else mtu - header
        self.daemons[state] = SyncConfig(state, ifname, get_u32(daemon[DAEMON_SYNC_ID]),
                                         maxlen, mcast_af, group, port or SYNC_PORT, ttl or 1)

    # --- dumps ---------------------------------------------------------------------------------

    def _start_dump(self, seq: int, messages: list[bytes]) -> None:
        """netlink_dump(): fill skbs of max(NLMSG_GOODSIZE, the reader's buffer) bytes, the
        DONE message in the last one if it fits; the first now, the rest as the reader
        drains the queue."""
        size = max(NLMSG_GOODSIZE, self._max_recvmsg_len)
        done = nlmsg(NLMSG_DONE, NLM_F_MULTI, seq, self.portid, struct.pack("=i", 0))
        chunks: list[bytes] = []
        current = b""
        for message in [*messages, done]:
            if current and len(current) + len(message) > size:
                chunks.append(current)
                current = b""
            current += message
        chunks.append(current)
        self._enqueue(chunks[0])
        self._dump_rest.extend(chunks[1:])

    def _dump_services(self, seq: int, payload: bytes) -> list[bytes]:
        # ip_vs_genl_dump_services() walks ip_vs_svc_table, then ip_vs_svc_fwm_table
        table = [svc for svc in self.services.values() if not svc.fwmark]
        table += [svc for svc in self.services.values() if svc.fwmark]
        return [self._reply(seq, CMD_NEW_SERVICE, self._fill_service(svc), flags=NLM_F_MULTI)
                for svc in table]

    def _dump_dests(self, seq: int, payload: bytes) -> list[bytes]:
        try:
            attrs = parse_attrs(payload, CMD_POLICY)
            svc = self._parse_service(attrs.get(CMD_ATTR_SERVICE), full=False)[1]
        except KernelError:
            return []  # ip_vs_genl_dump_dests(): goto out_err, an empty dump
        if svc is None:
            return []
        return [self._reply(seq, CMD_NEW_DEST, self._fill_dest(dest), flags=NLM_F_MULTI)
                for dest in svc.dump_order()]

    def _dump_daemons(self, seq: int, payload: bytes) -> list[bytes]:
        out = []
        for state in (STATE_MASTER, STATE_BACKUP):
            config = self.daemons.get(state)
            if config is None:
                continue
            parts = [put_u32(DAEMON_STATE, state), put_string(DAEMON_MCAST_IFN, config.ifname),
                     put_u32(DAEMON_SYNC_ID, config.syncid),
                     put_u16(DAEMON_SYNC_MAXLEN, config.sync_maxlen),
                     put_u16(DAEMON_MCAST_PORT, config.mcast_port),
                     put_u8(DAEMON_MCAST_TTL, config.mcast_ttl)]
            if config.mcast_af == AF_INET6:
                parts.append(put(DAEMON_MCAST_GROUP6, config.mcast_group))
            else:
                parts.append(put(DAEMON_MCAST_GROUP, config.mcast_group))
            out.append(self._reply(seq, CMD_NEW_DAEMON, put_nest(CMD_ATTR_DAEMON, *parts),
                                   flags=NLM_F_MULTI))
        return out

    def _stats(self, kind: int, values: dict[int, int], wide: bool) -> bytes:
        parts = []
        for index in range(1, 11):
            value = values.get(index, 0)
            if wide or index in (4, 5):  # INBYTES / OUTBYTES are u64 in both
                if self.pad_u64:  # nla_put_u64_64bit() on an architecture that aligns
                    parts.append(put(STATS_ATTR_PAD, b""))
                parts.append(put_u64(index, value))
            else:
                parts.append(put_u32(index, value))
        return put_nest(kind, *parts)

    def _fill_service(self, svc: FakeService) -> bytes:
        parts = [put_u16(SVC_AF, svc.af)]
        if svc.fwmark:
            parts.append(put_u32(SVC_FWMARK, svc.fwmark))
        else:
            parts += [put_u16(SVC_PROTOCOL, svc.protocol), put(SVC_ADDR, svc.addr),
                      put_be16(SVC_PORT, svc.port)]
        parts.append(put_string(SVC_SCHED_NAME, svc.sched_name))
        if svc.pe_name:
            parts.append(put_string(SVC_PE_NAME, svc.pe_name))
        parts += [put(SVC_FLAGS, struct.pack("=II", svc.flags, 0xFFFFFFFF)),
                  put_u32(SVC_TIMEOUT, svc.timeout // self.hz), put(SVC_NETMASK, svc.netmask),
                  self._stats(SVC_STATS, svc.stats, False),
                  self._stats(SVC_STATS64, svc.stats, True)]
        return put_nest(CMD_ATTR_SERVICE, *parts)

    def _fill_dest(self, dest: FakeDest) -> bytes:
        return put_nest(CMD_ATTR_DEST, *[
            put(DEST_ADDR, dest.addr), put_be16(DEST_PORT, dest.port),
            put_u32(DEST_FWD_METHOD, dest.conn_flags & FWD_MASK),
            put_u32(DEST_WEIGHT, dest.weight), put_u8(DEST_TUN_TYPE, dest.tun_type),
            put_be16(DEST_TUN_PORT, dest.tun_port), put_u16(DEST_TUN_FLAGS, dest.tun_flags),
            put_u32(DEST_U_THRESH, dest.u_threshold), put_u32(DEST_L_THRESH, dest.l_threshold),
            put_u32(DEST_ACTIVE_CONNS, dest.activeconns),
            put_u32(DEST_INACT_CONNS, dest.inactconns),
            put_u32(DEST_PERSIST_CONNS, dest.persistconns),
            put_u16(DEST_ADDR_FAMILY, dest.af),
            self._stats(DEST_STATS, dest.stats, False),
            self._stats(DEST_STATS64, dest.stats, True)])
