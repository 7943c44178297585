# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hypothesis strategies for valid lvs.cf models (they pass validate_lvs_cf).

Strings are samples with blanks, quotes ', #, lvs.cf punctuation and non-ASCII characters,
never the double quote or control characters, which lvs.cf cannot express. The strategies are
built once at import: building strategies inside draws is slow.
"""

import ipaddress
from dataclasses import replace

from hypothesis import strategies as st

from plugins.module_utils.lvs_cluster.lvs_cf.model import (
    NETWORKS,
    SCHEDULERS,
    DeviceAddress,
    FailoverService,
    LvsConfig,
    RealServer,
    VirtualService,
)

MAX_INT = 0x7FFFFFFF
MAX_PERSISTENCE_TIMEOUT = 4294967  # (2**32 - 1) // HZ at HZ=1000: longer wraps in the kernel
MAX_CONNECTION_TIMEOUT = 2147483  # INT_MAX // HZ at HZ=1000: the kernel refuses longer

# Values are drawn from samples (one draw each: whole models need hundreds of draws already);
# arbitrary strings get their own round-trip test in test_lvs_cf_render.py.
STRING_SAMPLES = (
    "", " ", "'", "#", "=", "{", "}", "[", "]", ",", "\\", "%", "a b", "'x'", "#x", "it's",
    "\t", "a\tb ", " lead", "GET / HTTP/1.0\\r\\n\\r\\n", "^HTTP/1\\.[01] 200",
    "/usr/local/bin/check %h %p", "caf\u00e9 \u4e2d", "\u00a0", "\u2028", "\U0001f600", "x" * 300,
)
NAME_SAMPLES = ("web", "web_https", "a b", "{", "}", "=", "'q", "#1", "\u00e9", "x" * 40, "s1",
                "s2", "db", "mail", "v6", "\u4e2d")
strings = st.sampled_from(STRING_SAMPLES)
optional_strings = st.none() | strings
names = st.sampled_from(NAME_SAMPLES)
devices = st.text(st.sampled_from("abehtx0189.:_-"), min_size=1, max_size=15)
seconds = st.integers(min_value=0, max_value=MAX_INT)
connection_timeouts = st.integers(min_value=0, max_value=MAX_CONNECTION_TIMEOUT)
keepalive_seconds = st.floats(0.001, 1e6) | st.integers(1, 3600).map(float)


def _one_host(address):
    """Not multicast, IPv4-mapped or link-local: IPv6 addresses that no VIP or real server can
    have (issue #12, point 8)."""
    parsed = ipaddress.IPv6Address(address)
    return not parsed.is_multicast and parsed.ipv4_mapped is None and not parsed.is_link_local


ADDRESSES = {
    # 1.0.0.0-223.255.255.255 and 240.0.0.0-255.255.255.254: neither 0.0.0.0/8, multicast nor
    # the broadcast address
    4: (st.integers(0x01000000, 0xDFFFFFFF) | st.integers(0xF0000000, 0xFFFFFFFE))
    .map(lambda n: str(ipaddress.IPv4Address(n))),
    # Mostly one /64 (cheap to draw), sometimes anywhere.
    6: st.integers(1, 2**16).map(lambda n: str(ipaddress.IPv6Address(0x20010DB8 << 96 | n)))
    | st.integers(1, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n))).filter(_one_host),
}
OPTIONAL_ADDRESSES = {version: st.none() | ADDRESSES[version] for version in (4, 6)}
NETMASKS = {
    4: st.integers(0, 32).map(lambda p: str(ipaddress.IPv4Network(f"0.0.0.0/{p}").netmask)),
    6: st.integers(0, 128),
}
PERSISTENCE_MASKS = {4: NETMASKS[4], 6: st.integers(1, 128)}


def _optional(strategy):
    return st.none() | strategy


def _server_options():
    return st.fixed_dictionaries({
        "active": st.booleans(),
        "weight": st.integers(0, MAX_INT),
        "port": st.none() | st.integers(0, 65535),
        "forwarding": _optional(st.sampled_from(NETWORKS)),
        "drain": st.booleans(),
    })


def _virtual_options(version):
    return st.fixed_dictionaries({
        "active": st.booleans(),
        "address": st.builds(DeviceAddress, ADDRESSES[version], devices),
        "vip_nmask": _optional(NETMASKS[version]),
        "sorry_server": OPTIONAL_ADDRESSES[version],
        "port": st.integers(1, 65535),
        "protocol": st.sampled_from(("tcp", "udp")),
        "fwmark": _optional(st.integers(1, 0xFFFFFFFF)),
        "persistent": st.sampled_from((0, 300, MAX_PERSISTENCE_TIMEOUT))
        | st.integers(0, MAX_PERSISTENCE_TIMEOUT),
        "pmask": _optional(PERSISTENCE_MASKS[version]),
        "timeout": st.integers(0, 3600),
        "reentry": seconds,
        "rise": _optional(st.integers(1, 1000)),
        "fall": _optional(st.integers(1, 1000)),
        "send": optional_strings,
        "expect": optional_strings,
        "use_regex": st.booleans(),
        "send_program": optional_strings,
        "load_monitor": optional_strings,
        "quiesce_server": st.booleans(),
        "client_monitor": st.just("/usr/sbin/nanny") | strings,
        "master": OPTIONAL_ADDRESSES[4],
        "dirs": st.lists(names, max_size=3).map(tuple),
        "start_cmd": optional_strings,
        "stop_cmd": optional_strings,
    })


def _failover_options(version):
    return st.fixed_dictionaries({
        "active": st.booleans(),
        "address": st.builds(DeviceAddress, ADDRESSES[version], devices),
        "vip_nmask": _optional(NETMASKS[version]),
        "port": st.integers(0, 65535),
        "protocol": st.sampled_from(("tcp", "udp")),
        "timeout": st.integers(0, 3600),
        "send": optional_strings,
        "expect": optional_strings,
        "send_program": optional_strings,
        "start_cmd": optional_strings,
        "stop_cmd": optional_strings,
    })


SERVER_OPTIONS = _server_options()
SCHEDULER_FLAGS = {
    scheduler: st.frozensets(st.sampled_from((f"{scheduler}-fallback", f"{scheduler}-port")))
    for scheduler in ("sh", "mh")
}
VIRTUAL_OPTIONS = {version: _virtual_options(version) for version in (4, 6)}
FAILOVER_OPTIONS = {version: _failover_options(version) for version in (4, 6)}
SERVER_IDENTITIES = {
    version: st.lists(st.tuples(names, ADDRESSES[version]), max_size=3,
                      unique_by=(lambda pair: pair[0], lambda pair: pair[1]))
    for version in (4, 6)
}
VERSIONS = st.sampled_from((4, 4, 6))


@st.composite
def _unnamed_virtual_services(draw):
    version = draw(VERSIONS)
    scheduler = draw(st.sampled_from(SCHEDULERS))
    flags = draw(SCHEDULER_FLAGS[scheduler]) if scheduler in SCHEDULER_FLAGS else frozenset()
    servers = tuple(
        RealServer(name=server_name, address=address, **draw(SERVER_OPTIONS))
        for server_name, address in draw(SERVER_IDENTITIES[version])
    )
    return VirtualService(name="", scheduler=scheduler, scheduler_flags=flags,
                          servers=servers, **draw(VIRTUAL_OPTIONS[version]))


@st.composite
def _unnamed_failover_services(draw):
    return FailoverService(name="", **draw(FAILOVER_OPTIONS[draw(VERSIONS)]))


UNNAMED_VIRTUALS = _unnamed_virtual_services()
UNNAMED_FAILOVERS = _unnamed_failover_services()


def _failover_for(failover, name, service, first):
    """With service = fos, the first failover is active; active ones have both commands."""
    active = failover.active or (service == "fos" and first)
    changes = {"name": name, "active": active}
    if service == "fos" and active:
        changes["start_cmd"] = failover.start_cmd or "/sbin/service app start"
        changes["stop_cmd"] = failover.stop_cmd or "/sbin/service app stop"
    return replace(failover, **changes)


def _without_duplicate_services(virtuals):
    """Drop active virtuals that would program the same IPVS service as an earlier one."""
    kept, keys = [], set()
    for virtual in virtuals:
        key = ("fwmark", virtual.fwmark) if virtual.fwmark is not None else \
            (virtual.protocol, virtual.address.ip, virtual.port)
        if virtual.active and key in keys:
            continue
        if virtual.active:
            keys.add(key)
        kept.append(virtual)
    return kept


GLOBAL_OPTIONS = st.fixed_dictionaries({
    "serial_no": st.integers(-MAX_INT - 1, MAX_INT),
    "heartbeat": st.booleans(),
    "heartbeat_port": st.integers(1, 65535),
    "keepalive": keepalive_seconds,
    "deadtime": keepalive_seconds,
    "network": st.sampled_from(NETWORKS),
    "debug_level": st.just("NONE") | strings,
    "rsh_command": st.sampled_from(("rsh", "ssh")),
    "monitor_links": st.integers(0, MAX_INT),
    "syncdaemon": st.booleans(),
    "syncd_iface": devices,
    "syncd_id": st.integers(0, 255),
    "tcp_timeout": connection_timeouts,
    "tcpfin_timeout": connection_timeouts,
    "udp_timeout": connection_timeouts,
    "hard_shutdown": st.booleans(),
    "active_cmd": optional_strings,
    "inactive_cmd": optional_strings,
    "ipvsadm": st.just("/sbin/ipvsadm") | strings,
    "sync": st.booleans(),
    "primary_shared": optional_strings,
    "backup_shared": optional_strings,
    "reservation_conflict_action": _optional(st.sampled_from(("preempt", "nothing"))),
    "heartbeat_key_file": _optional(strings.map(lambda s: "/" + s)),
})
SERVICE_TYPES = st.sampled_from(("lvs", "lvs", "fos"))
BLOCK_NAMES = st.lists(names, min_size=2, max_size=4, unique=True)


@st.composite
def _routers(draw):
    version = draw(VERSIONS)
    private_version = draw(st.sampled_from((4, 6)))
    backup = draw(OPTIONAL_ADDRESSES[version])
    primary_private = draw(OPTIONAL_ADDRESSES[private_version])
    backup_private = draw(OPTIONAL_ADDRESSES[private_version])
    if primary_private is not None and backup is not None and backup_private is None:
        backup_private = draw(ADDRESSES[private_version])
    return {
        "primary": draw(ADDRESSES[version]),
        "primary_private": primary_private,
        "backup": backup,
        "backup_private": backup_private,
        "backup_active": backup is not None and draw(st.booleans()),
    }


def _nat(version):
    return st.just({"nat_router": None, "nat_nmask": None}) | st.fixed_dictionaries({
        "nat_router": st.builds(DeviceAddress, ADDRESSES[version], devices),
        "nat_nmask": _optional(NETMASKS[version]),
    })


ROUTERS = _routers()
NAT = _nat(4) | _nat(6)


@st.composite
def valid_configs(draw):
    """A model that validate_lvs_cf accepts: up to 2 virtuals (3 with service = fos) and 2
    failovers; interactions of more blocks are covered by the unit tests."""
    service = draw(SERVICE_TYPES)
    block_names = draw(BLOCK_NAMES)
    if service == "fos":
        split = draw(st.integers(1, len(block_names) - 1))
    else:
        split = draw(st.integers(1, min(len(block_names), 2)))
    virtuals = [replace(draw(UNNAMED_VIRTUALS), name=name) for name in block_names[:split]]
    if service == "lvs":
        virtuals[0] = replace(virtuals[0], active=True)
    failovers = [_failover_for(draw(UNNAMED_FAILOVERS), name, service, index == 0)
                 for index, name in enumerate(block_names[split:][:2])]
    return LvsConfig(service=service, virtuals=tuple(_without_duplicate_services(virtuals)),
                     failovers=tuple(failovers), **draw(ROUTERS), **draw(NAT),
                     **draw(GLOBAL_OPTIONS))
