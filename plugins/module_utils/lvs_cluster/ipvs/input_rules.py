# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the kernel refuses in a declared IPVS service or destination, or accepts and gets
wrong: each rule once, for the IPVS modules' options, lvs.cf and everything else that declares
services.

Each check returns the reason (one line, without the field's name) or None; the caller names
the field: a module option (``persistence_timeout``), or an lvs.cf file, line and key
(``persistent``). ``service_problem`` and ``destination_problem`` name the model's field.

The IPVS model itself holds whatever the kernel can hold, since it also carries the table read
back (a service on port 0 without persistence, made by hand, must still be read and removed):
these rules apply to what is declared, before anything is sent.
"""

from __future__ import annotations

import functools
import ipaddress

from .. import vocabulary

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time (start-up)
if TYPE_CHECKING:
    from .model import Destination, Service

# IP_VS_SCHEDNAME_MAXLEN and IP_VS_PENAME_MAXLEN: 16 bytes, the terminating NUL included.
MAX_NAME_BYTES = 15
# The kernel keeps a persistence timeout as seconds * HZ in an unsigned int (svc->timeout =
# u->timeout * HZ), so a longer one silently wraps to a short one. HZ is at most 1000 (CONFIG_HZ
# is 100, 250, 300 or 1000), and (2**32 - 1) // 1000 seconds (49.7 days) fits on every kernel.
MAX_PERSISTENCE_TIMEOUT = (2**32 - 1) // 1000
# Connection timeouts (ipvsadm --set) are seconds * HZ in an int: the kernel refuses more than
# INT_MAX / HZ seconds, 2147483 at HZ=1000.
MAX_CONNECTION_TIMEOUT = (2**31 - 1) // 1000

_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def zone_problem(text: str) -> str | None:
    """Why ``text`` has an IPv6 zone index (``fe80::1%eth0``), which IPVS addresses lack."""
    if "%" not in text:
        return None
    zone = text.partition("%")[2]
    return f"{text} has zone index %{zone}: IPVS addresses name no interface"


def _parsed(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The one parse of ``address`` the model and the checks share (``vocabulary.parsed_ip``:
    each of 110,000 addresses was parsed three times, once per cache); ValueError if none."""
    parsed = vocabulary.parsed_ip(address)
    if parsed is None:
        raise ValueError(f"{address!r} does not appear to be an IPv4 or IPv6 address")
    return parsed


@functools.lru_cache(maxsize=1 << 16)  # a large table names each address many times
def host_address_problem(address: str) -> str | None:
    """Why ``address`` (canonical, either family) names no single host, so can be neither a
    virtual address nor a real server: unspecified, 0.0.0.0/8, broadcast, multicast, or an
    IPv4 address in IPv6 clothing (IPv4 packets never reach an IPv6 service)."""
    parsed = _parsed(address)
    if parsed.is_unspecified:
        return f"{address} is not a usable address (the unspecified address)"
    if isinstance(parsed, ipaddress.IPv4Address):
        if parsed in _THIS_NETWORK:
            return f"{address} is in 0.0.0.0/8 (this network), which no host has"
        if parsed == _BROADCAST:
            return f"{address} is the broadcast address"
    elif parsed.ipv4_mapped is not None:
        return f"{address} is IPv4-mapped: write it as {parsed.ipv4_mapped} (an IPv4 service)"
    if parsed.is_multicast:
        return f"{address} is a multicast address"
    return None


def virtual_address_problem(address: str) -> str | None:
    """Why ``address`` cannot be a virtual address. A loopback address can: it serves this
    host's own clients (the kernel takes it)."""
    return host_address_problem(address)


@functools.lru_cache(maxsize=1 << 16)
def real_server_address_problem(address: str) -> str | None:
    """Why ``address`` cannot be a real server. Loopback can (a server on this host); IPv6
    link-local cannot: the kernel refuses it (EINVAL), having no interface to reach it by."""
    problem = host_address_problem(address)
    if problem:
        return problem
    parsed = _parsed(address)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.is_link_local:
        return f"{address} is link-local, which the kernel refuses for a real server"
    return None


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a scheduler or persistence engine name: the kernel reads it up
    to its NUL (``rr\\0x`` would be ``rr``, then drift on every run) and holds 15 bytes."""
    if "\0" in name:
        return f"{name!r} contains NUL"
    size = len(name.encode("utf-8", "surrogateescape"))
    if size > MAX_NAME_BYTES:
        return (f"{name!r} is longer than {MAX_NAME_BYTES} bytes ({size}), the most the kernel "
                "takes")
    return None


def persistence_timeout_problem(seconds: int) -> str | None:
    """Why ``seconds`` cannot be a persistence timeout (0: not persistent)."""
    if 0 <= seconds <= MAX_PERSISTENCE_TIMEOUT:
        return None
    return (f"0-{MAX_PERSISTENCE_TIMEOUT} seconds expected (the kernel keeps seconds x HZ in 32 "
            f"bits: a longer timeout wraps), got {seconds}")


def persistence_prefix_problem(prefix: int, family: str) -> str | None:
    """Why ``prefix`` cannot be the persistence granularity of a ``family`` service. IPv6
    takes 1-128 (the kernel refuses 0); IPv4 0-32 (0: one real server for every client)."""
    if family == "inet6":
        if 1 <= prefix <= 128:
            return None
        return f"an IPv6 persistence netmask is a prefix length 1-128, got {prefix}"
    if 0 <= prefix <= 32:
        return None
    return f"prefix length 0-32 expected, got {prefix}"


def connection_timeout_problem(seconds: int, low: int) -> str | None:
    """Why ``seconds`` cannot be a TCP, TCP FIN or UDP connection timeout (at least ``low``)."""
    if low <= seconds <= MAX_CONNECTION_TIMEOUT:
        return None
    return (f"{low}-{MAX_CONNECTION_TIMEOUT} seconds expected (the kernel refuses more than "
            f"INT_MAX / HZ), got {seconds}")


def sync_group_problem(group: str) -> str | None:
    """Why ``group`` cannot be the multicast group of a sync daemon."""
    problem = zone_problem(group)
    if problem:
        return problem
    try:
        parsed = ipaddress.ip_address(group)
    except ValueError:
        return f"invalid IP address {group!r}"
    if not parsed.is_multicast:
        return f"a multicast group expected, got {group}"
    return None


def service_problem(service: Service) -> tuple[str, str] | None:
    """``(model field, reason)`` of the first rule ``service`` breaks, or None."""
    if service.fwmark is None:
        problem = virtual_address_problem(service.address)
        if problem:
            return "address", problem
        if service.port == 0 and not service.persistent:
            return "port", ("port 0 (all ports) is only valid for a persistent service (the "
                            "kernel takes it, then schedules nothing through it)")
    for field in ("scheduler", "pe_name"):
        name = getattr(service, field)
        problem = name_problem(name) if name else None
        if problem:
            return field, problem
    problem = persistence_timeout_problem(service.timeout)
    if problem:
        return "timeout", problem
    if service.netmask is not None:
        problem = persistence_prefix_problem(service.netmask, service.family)
        if problem:
            return "netmask", problem
    return None


def destination_problem(dest: Destination) -> tuple[str, str] | None:
    """``(model field, reason)`` of the first rule ``dest`` breaks, or None. Its port may be 0:
    the kernel then keeps each packet's destination port."""
    problem = real_server_address_problem(dest.address)
    return ("address", problem) if problem else None
