# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPVS table a router running lvsd should have now: the services and destinations that
lvs.cf declares (``desired_ipvs``), adjusted by lvsd's health verdicts (its status file,
``/run/lvs-cluster/lvsd.json``), so that a real server lvsd took out for failing its checks,
or whose weight it is still ramping up, is not drift.

The core of the ``lvs_cf_expected_table`` filter; standard library only, no ansible imports.

For each destination of each active virtual, the status member of the same virtual (by name)
and the same real server (address and check port, that is the server's ``port`` or else the
virtual's; sorry members apart from real servers) decides:

* no status, or no such member (lvsd does not know the server yet): present, declared weight;
* ``up``: present, at the declared weight when the member is at its configured weight, else
  at the member's live weight (slow start or load monitor: lvsd's business, not drift);
* ``quiesced``: present at weight 0;
* ``down`` or ``rising``: absent.

The sorry server (weight 1, ``sorry_destination``) is present when lvsd has it standing in: the
virtual's ``sorry_active`` (without that field: the sorry member is ``up`` or ``quiesced`` and
no real server member is ``up``). When the status has no sorry member matching the declared
``sorry_server`` (or no status at all), it is taken as healthy: present only if no real server
of the virtual is expected present at a weight above 0. A sorry server that is also a present
real server is listed once, as the real server (as lvsd does).

The rule from verdicts to destinations is ``health_table``'s, the one lvsd programs the kernel
by; this module reads lvsd.json and turns its verdicts into that rule's standings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..health_table import Standing, sorry_stands_in, virtual_destinations
from ..ipvs.model import Destination, Service
from ..ipvs.results import destination_result, service_result
from ..vocabulary import canonical_ip
from .ipvs import (
    desired_ipvs,
    destination_for_server,
    service_for_virtual,
    sorry_destination,
)
from .model import LvsConfig, RealServer, VirtualService
from .shells import load

STATES = ("up", "quiesced", "rising", "down")


class StatusError(ValueError):
    """lvsd's status is not in the shape lvsd writes; the message names the bad entry
    (``status.virtuals[0].servers[1].state: ...``)."""


@dataclass(frozen=True)
class Verdict:
    """What lvsd says about one checked server."""

    state: str
    weight: int | None = None
    configured_weight: int | None = None


@dataclass
class VirtualVerdicts:
    """lvsd's verdicts for one virtual, by (canonical address, check port)."""

    servers: dict[tuple[str, int], Verdict] = field(default_factory=dict)
    sorry: dict[tuple[str, int], Verdict] = field(default_factory=dict)
    sorry_active: bool | None = None


# --- lvsd's status -----------------------------------------------------------------------------

def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _is_list(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _int(entry: Mapping[str, Any], key: str, path: str, high: int = 0x7FFFFFFF) -> int:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise StatusError(f"{path}.{key}: an integer 0-{high} expected, got {value!r}")
    return value


def _server(entry: object, path: str) -> tuple[tuple[str, int], Verdict, bool]:
    if not isinstance(entry, Mapping):
        raise StatusError(f"{path}: a dictionary expected, got {_type_name(entry)}")
    address = entry.get("address")
    canonical = canonical_ip(address) if isinstance(address, str) else None
    if canonical is None:
        raise StatusError(f"{path}.address: an IP address expected, got {address!r}")
    port = _int(entry, "port", path, 65535)
    state = entry.get("state")
    if state not in STATES:
        raise StatusError(f"{path}.state: one of {', '.join(STATES)} expected, got {state!r}")
    sorry = entry.get("sorry", False)
    if not isinstance(sorry, bool):
        raise StatusError(f"{path}.sorry: true or false expected, got {sorry!r}")
    verdict = Verdict(state)
    if state == "up":
        verdict = Verdict(state, _int(entry, "weight", path),
                          _int(entry, "configured_weight", path))
    return (canonical, port), verdict, sorry


def read_status(status: object) -> dict[str, VirtualVerdicts]:
    """lvsd's status (the dict of lvsd.json) -> its verdicts by virtual name; None or an empty
    dict (lvsd not running) -> no verdicts. Raises StatusError for any other shape."""
    if status is None:
        return {}
    if not isinstance(status, Mapping):
        raise StatusError(f"status: lvsd's status (a dictionary, as in lvsd.json) expected, "
                          f"got {_type_name(status)}")
    if not status:
        return {}
    virtuals = status.get("virtuals")
    if not _is_list(virtuals):
        raise StatusError(f"status.virtuals: a list expected, got {_type_name(virtuals)} "
                          "(is this lvsd's status, lvsd.json?)")
    out: dict[str, VirtualVerdicts] = {}
    for index, virtual in enumerate(virtuals):
        path = f"status.virtuals[{index}]"
        if not isinstance(virtual, Mapping):
            raise StatusError(f"{path}: a dictionary expected, got {_type_name(virtual)}")
        name = virtual.get("name")
        if not isinstance(name, str):
            raise StatusError(f"{path}.name: a virtual's name expected, got {name!r}")
        servers = virtual.get("servers")
        if not _is_list(servers):
            raise StatusError(f"{path}.servers: a list expected, got {_type_name(servers)}")
        sorry_active = virtual.get("sorry_active")
        if sorry_active is not None and not isinstance(sorry_active, bool):
            raise StatusError(f"{path}.sorry_active: true or false expected, "
                              f"got {sorry_active!r}")
        verdicts = VirtualVerdicts(sorry_active=sorry_active)
        for sindex, entry in enumerate(servers):
            key, verdict, sorry = _server(entry, f"{path}.servers[{sindex}]")
            (verdicts.sorry if sorry else verdicts.servers)[key] = verdict
        out.setdefault(name, verdicts)
    return out


# --- the expected table ------------------------------------------------------------------------

def _check_port(virtual: VirtualService, server: RealServer) -> int:
    """The port lvsd checks and reports a server under (not always the IPVS real port)."""
    return server.port if server.port is not None else virtual.port


def _standing(verdict: Verdict | None) -> Standing:
    """A verdict as the table sees it: no verdict is in at full weight, ``up`` at the member's
    configured weight is in at full (declared) weight."""
    if verdict is None:
        return Standing(True)
    if verdict.state == "up":
        return Standing(True, None if verdict.weight == verdict.configured_weight
                        else verdict.weight)
    if verdict.state == "quiesced":
        return Standing(True, 0)
    return Standing(False)  # down, rising


def _destinations(virtual: VirtualService, config: LvsConfig,
                  verdicts: VirtualVerdicts | None) -> tuple[Destination, ...]:
    members = []
    for server in virtual.servers:
        if not server.active:
            continue
        verdict = None
        if verdicts is not None:
            address = canonical_ip(server.address or "") or server.address
            verdict = verdicts.servers.get((address, _check_port(virtual, server)))
        members.append((destination_for_server(virtual, server, config), _standing(verdict)))
    sorry = sorry_destination(virtual, config)
    if sorry is None or verdicts is None or (sorry.address, sorry.port) not in verdicts.sorry:
        return virtual_destinations(members, sorry)  # a sorry server is taken as healthy
    sorry_verdict = verdicts.sorry[(sorry.address, sorry.port)]
    standing = verdicts.sorry_active
    if standing is None:  # derived from lvsd's own members
        standing = sorry_stands_in(_standing(sorry_verdict).in_table,
                                   map(_standing, verdicts.servers.values()))
    return virtual_destinations(members, sorry, sorry_standing=standing)


def expected_ipvs(config: LvsConfig, status: object = None
                  ) -> dict[Service, tuple[Destination, ...]]:
    """The services of ``desired_ipvs(config)`` (file order) with the destinations lvsd's
    ``status`` implies (see the module's docstring). Raises StatusError for a bad status,
    LvsCfError for a configuration ``desired_ipvs`` refuses."""
    verdicts = read_status(status)
    desired_ipvs(config)  # refuses two virtuals on one service, two servers on one destination
    table: dict[Service, tuple[Destination, ...]] = {}
    if config.service != "lvs":  # a failover-only (fos) file: no IPVS services
        return table
    for virtual in config.virtuals:
        if not virtual.active:
            continue
        service = service_for_virtual(virtual)
        table[service] = _destinations(virtual, config, verdicts.get(virtual.name))
    return table


def services_params(table: Mapping[Service, Sequence[Destination]]) -> list[dict[str, Any]]:
    """A table as the ``services`` option of ipvs_table (each with its ``destinations``)."""
    return [{**service_result(service),
             "destinations": [destination_result(d) for d in destinations]}
            for service, destinations in table.items()]


def expected_table(content: str | bytes, status: object = None, source: str = "lvs.cf"
                   ) -> tuple[list[dict[str, Any]], list[object]]:
    """(ipvs_table ``services``, lvs.cf warnings) for lvs.cf text and lvsd's status.

    Raises LvsCfError (file, line, reason) for text that does not parse or validate, and
    StatusError for a status that is not in lvsd's shape."""
    config, warnings = load(content=content, source=source or "lvs.cf")
    return services_params(expected_ipvs(config, status)), warnings
