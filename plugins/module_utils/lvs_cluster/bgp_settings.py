# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The router role's bgp-mode variables (``router_ha: bgp``), checked before anything changes
on a router: each problem is one sentence that starts with the variable's name (and the
neighbour's index), so the role fails naming it. The ranges are FRR's (8.4) and BGP's own:
an AS number is 1-4294967295 (RFC 6793), the hold time 0 or 3-65535 s (RFC 4271), BFD's
detect multiplier 2-255 and its intervals 10-60000 ms."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

AS_RANGE = (1, 4294967295)
KEEPALIVE_RANGE = (0, 65535)
HOLDTIME_RANGE = (3, 65535)  # or 0: no keepalives at all
BFD_MULTIPLIER_RANGE = (2, 255)
BFD_INTERVAL_RANGE = (10, 60000)
DRAIN_RANGE = (0, 3600)
NEIGHBOR_KEYS = frozenset({"address", "remote_as", "bfd", "password", "description"})
PASSWORD_MAX = 80


def _integer(value: Any) -> int | None:
    """An int (not a bool), or a string of digits as YAML or -e gives it; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _in_range(name: str, value: Any, bounds: tuple[int, int], what: str) -> list[str]:
    number = _integer(value)
    low, high = bounds
    if number is None or not low <= number <= high:
        return [f"{name}: {value!r} is not {what} ({low}-{high})"]
    return []


def _address(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(str(value)) if isinstance(value, str) else None
    except ValueError:
        return None


def neighbor_problems(neighbors: Any) -> list[str]:
    name = "router_bgp_neighbors"
    if not isinstance(neighbors, list) or not neighbors:
        return [f"{name}: bgp mode needs at least one neighbour (the upstream routers), "
                "each {address, remote_as}"]
    problems: list[str] = []
    seen: set[str] = set()
    for index, neighbor in enumerate(neighbors):
        where = f"{name}[{index}]"
        if not isinstance(neighbor, Mapping):
            problems.append(f"{where}: expected a mapping with address and remote_as")
            continue
        unknown = sorted(str(key) for key in neighbor if key not in NEIGHBOR_KEYS)
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(unknown)} (known: "
                            f"{', '.join(sorted(NEIGHBOR_KEYS))})")
        address = _address(neighbor.get("address"))
        if address is None:
            problems.append(f"{where}.address: {neighbor.get('address')!r} is not an IP address")
        elif str(address) in seen:
            problems.append(f"{where}.address: {address} is listed twice")
        else:
            seen.add(str(address))
        problems += _in_range(f"{where}.remote_as", neighbor.get("remote_as"), AS_RANGE,
                              "an AS number")
        if not isinstance(neighbor.get("bfd", True), bool):
            problems.append(f"{where}.bfd: {neighbor.get('bfd')!r} is not true or false")
        password = neighbor.get("password", "")
        if not isinstance(password, str) or len(password) > PASSWORD_MAX \
                or any(c.isspace() for c in password):
            problems.append(f"{where}.password: a string of at most {PASSWORD_MAX} characters "
                            "without spaces is needed")
    return problems


def bgp_problems(settings: Mapping[str, Any]) -> list[str]:
    """Every problem of the role's bgp variables, given as a mapping of variable name -> value
    (``router_bgp_asn``, ``router_bgp_router_id``, ``router_bgp_neighbors``,
    ``router_bgp_keepalive``, ``router_bgp_holdtime``, ``router_bfd_detect_multiplier``,
    ``router_bfd_interval_ms``, ``router_bgp_min_healthy``, ``router_bgp_drain``)."""
    problems = _in_range("router_bgp_asn", settings.get("router_bgp_asn"), AS_RANGE,
                         "an AS number")
    router_id = settings.get("router_bgp_router_id", "")
    if router_id not in ("", None):
        address = _address(router_id)
        if address is None or address.version != 4:
            problems.append(f"router_bgp_router_id: {router_id!r} is not a dotted IPv4 address")
    problems += neighbor_problems(settings.get("router_bgp_neighbors"))
    problems += _in_range("router_bgp_keepalive", settings.get("router_bgp_keepalive"),
                          KEEPALIVE_RANGE, "a keepalive time in seconds")
    holdtime = settings.get("router_bgp_holdtime")
    if _integer(holdtime) != 0:
        problems += _in_range("router_bgp_holdtime", holdtime, HOLDTIME_RANGE,
                              "a hold time in seconds (or 0)")
    problems += _in_range("router_bfd_detect_multiplier",
                          settings.get("router_bfd_detect_multiplier"), BFD_MULTIPLIER_RANGE,
                          "a BFD detect multiplier")
    problems += _in_range("router_bfd_interval_ms", settings.get("router_bfd_interval_ms"),
                          BFD_INTERVAL_RANGE, "a BFD interval in milliseconds")
    min_healthy = _integer(settings.get("router_bgp_min_healthy"))
    if min_healthy is None or min_healthy < 1:
        problems.append(f"router_bgp_min_healthy: {settings.get('router_bgp_min_healthy')!r} "
                        "is not a number of real servers (1 or more)")
    drain = _number(settings.get("router_bgp_drain"))
    low, high = DRAIN_RANGE
    if drain is None or not low <= drain <= high:
        problems.append(f"router_bgp_drain: {settings.get('router_bgp_drain')!r} is not a "
                        f"number of seconds ({low}-{high})")
    return problems
