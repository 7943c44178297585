# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The words of the trade, once: address families, protocols, schedulers, forwarding methods,
service and tunnel flags (each name with the kernel's number, where it has one), and the helpers
that read IP addresses and netmasks.

Every other module takes these from here: the IPVS model checks against the names, the netlink
codec packs the numbers, the modules' argument specs offer the names as choices, lvs.cf's model
takes the subsets Piranha knew, and the agents read addresses and netmasks with the same helpers.
Standard library only.
"""

from __future__ import annotations

import functools
import ipaddress

# name -> the kernel's number (socket.AF_*, IPPROTO_*, IP_VS_* of include/uapi/linux/ip_vs.h).
# The order of each mapping is the order in which choices are listed to users.
FAMILIES = {"inet": 2, "inet6": 10}
PROTOCOLS = {"tcp": 6, "udp": 17, "sctp": 132}
FORWARDING = {"nat": 0, "direct": 3, "tunnel": 2, "local": 1}  # IP_VS_CONN_F_MASQ ... DROUTE
# The scheduler flags are IP_VS_SVC_F_SCHED1/2: sh and mh give the same two bits their own names.
SERVICE_FLAGS = {"persistent": 0x1, "one-packet": 0x4, "sh-fallback": 0x8, "sh-port": 0x10,
                 "mh-fallback": 0x8, "mh-port": 0x10}
SCHEDULER_FLAGS = ("sh-fallback", "sh-port", "mh-fallback", "mh-port")
TUNNEL_TYPES = {"ipip": 0, "gue": 1, "gre": 2}
TUNNEL_FLAGS = {"nocsum": 0x0, "csum": 0x1, "remcsum": 0x2}

# The schedulers Piranha's lvs.cf documented, then the ones later kernels added.
PIRANHA_SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh")
EXTENSION_SCHEDULERS = ("sed", "nq", "mh", "fo", "ovf")
SCHEDULERS = PIRANHA_SCHEDULERS + EXTENSION_SCHEDULERS
DEFAULT_SCHEDULER = "wlc"  # ipvsadm's and Piranha's default
DEFAULT_FORWARDING = "direct"  # ipvsadm's default (-g)

# ipvsadm's spelling (-t/-u/--sctp-service, -g/-m/-i), for messages an operator can paste.
IPVSADM_PROTOCOL_SWITCH = {"tcp": "-t", "udp": "-u", "sctp": "--sctp-service"}
IPVSADM_FORWARDING_SWITCH = {"nat": "-m", "direct": "-g", "tunnel": "-i", "local": "-g"}


def parsed_ip(text: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``ipaddress.ip_address(text)``, or None when it is no IP address."""
    if isinstance(text, str):
        return _parsed_text(text)
    try:
        return ipaddress.ip_address(text)  # type: ignore[arg-type]
    except ValueError:
        return None


@functools.lru_cache(maxsize=1 << 16)  # a large configuration names each address many times
def _parsed_text(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def canonical_ip(text: str) -> str | None:
    """The canonical form of a strictly written IP literal (as Python reads it), or None."""
    parsed = parsed_ip(text)
    return None if parsed is None else str(parsed)


def ip_family(address: str) -> str | None:
    """``inet`` or ``inet6`` for an IP address, else None."""
    parsed = parsed_ip(address)
    if parsed is None:
        return None
    return "inet" if parsed.version == 4 else "inet6"


def family_of(address: str) -> str:
    """``inet`` or ``inet6``; ValueError naming the text when it is no IP address."""
    family = ip_family(address)
    if family is None:
        raise ValueError(f"invalid IP address {address!r}")
    return family


def host_prefix_length(address: str) -> int:
    """The prefix length of one host: 32 for IPv4, 128 for IPv6."""
    return 32 if family_of(address) == "inet" else 128


def netmask_prefix_length(dotted: str) -> int | None:
    """The prefix length of a contiguous dotted IPv4 netmask, or None if not contiguous."""
    try:
        number = int(ipaddress.IPv4Address(dotted))
    except ValueError:
        return None
    inverted = number ^ 0xFFFFFFFF
    if inverted & (inverted + 1):
        return None
    return 32 - inverted.bit_length()


def unmapped(address: str) -> str:
    """The address as ``ipaddress`` prints it, an IPv4-mapped IPv6 address as its IPv4 form."""
    parsed = parsed_ip(address)
    if parsed is None:
        raise ValueError(f"{address!r} does not appear to be an IPv4 or IPv6 address")
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(parsed)
