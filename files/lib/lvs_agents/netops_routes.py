# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bgp mode's two routes per VIP, over rtnetlink (pyroute2's ``IPRoute``, the socket and the
error rules of ``netops_addresses``).

* **serve**: ``local VIP dev lo table local`` - the kernel takes the VIP's packets (IPVS sees
  them) without an address on any interface, so nothing announces the VIP by itself (FRR's
  import check does not look in the local table: measured, docs/scaleout-design.md).
* **announce**: ``VIP dev lo proto 252`` in the main table - FRR's ``network VIP/32`` is
  announced exactly while this route is in the RIB. The protocol number marks the routes as
  ours: ``announced`` lists them, so a restarted pulse knows what it left announced.

Serving outlives announcing: a withdrawn VIP still takes the packets the upstream sends until
it has moved the flows elsewhere.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Any

from .netops_addresses import _call
from .netops_base import NetopsError

PROTO_LVS = 252  # rtnetlink protocol of our announce routes (unassigned in rt_protos)
RT_TABLE_MAIN, RT_TABLE_LOCAL = 254, 255
RTN_UNICAST, RTN_LOCAL = 1, 2
RT_SCOPE_LINK, RT_SCOPE_HOST = 253, 254
LOOPBACK = "lo"


def _vip(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(ip)
    except ValueError:
        raise NetopsError(errno.EINVAL, f"VIP {ip!r}") from None


def _route(ip: str, table: int, kind: int, scope: int, proto: int) -> dict[str, Any]:
    address = _vip(ip)
    return {"family": socket.AF_INET if address.version == 4 else socket.AF_INET6,
            "dst": str(address), "dst_len": address.max_prefixlen,
            "oif": socket.if_nametoindex(LOOPBACK), "table": table, "type": kind,
            "scope": scope, "proto": proto}


def _serve_route(ip: str) -> dict[str, Any]:
    return _route(ip, RT_TABLE_LOCAL, RTN_LOCAL, RT_SCOPE_HOST, 4)  # proto static, as `ip` adds


def _announce_route(ip: str) -> dict[str, Any]:
    return _route(ip, RT_TABLE_MAIN, RTN_UNICAST, RT_SCOPE_LINK, PROTO_LVS)


def _add(what: str, route: dict[str, Any]) -> bool:
    try:
        _call(what, lambda ipr: ipr.route("add", **route))
    except NetopsError as error:
        if error.errno == errno.EEXIST:
            return False
        raise
    return True


def _delete(what: str, route: dict[str, Any]) -> bool:
    try:
        _call(what, lambda ipr: ipr.route("del", **route))
    except NetopsError as error:
        if error.errno == errno.ESRCH:
            return False
        raise
    return True


def serve(ip: str) -> bool:
    """Accept the VIP's packets on this host; True if the route was added."""
    return _add(f"serve VIP {ip}", _serve_route(ip))


def unserve(ip: str) -> bool:
    """Stop accepting the VIP's packets; True if the route was there."""
    return _delete(f"stop serving VIP {ip}", _serve_route(ip))


def announce(ip: str) -> bool:
    """Put the VIP's route in the main table (FRR announces it); True if it was added."""
    return _add(f"announce VIP {ip}", _announce_route(ip))


def withdraw(ip: str) -> bool:
    """Take the VIP's route out of the main table (FRR withdraws it); True if it was there."""
    return _delete(f"withdraw VIP {ip}", _announce_route(ip))


def announced() -> set[str]:
    """The VIPs whose announce route is in the main table, both families."""
    found: set[str] = set()
    for family in (socket.AF_INET, socket.AF_INET6):
        routes = _call("list announced VIPs", lambda ipr, family=family: ipr.route(
            "dump", family=family, table=RT_TABLE_MAIN))
        for route in routes:
            if route["proto"] != PROTO_LVS:
                continue
            destination = route.get_attr("RTA_DST")
            if destination is not None and route["dst_len"] in (32, 128):
                found.add(str(ipaddress.ip_address(destination)))
    return found
