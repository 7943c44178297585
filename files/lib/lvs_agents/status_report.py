# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What lvs-status reads and how it joins it: the agents' status files (is each agent
running?) and the kernel's IPVS table, lvsd.json's health matched to the table by service key,
and the report that the text, the JSON document and the exit status are made from.

An agent counts as running when its file exists, was rewritten within ``STALE_AFTER`` seconds
(the core's ``agent_status``: agents rewrite it every ``STATUS_INTERVAL``) and its pid is alive.
"""

from __future__ import annotations

import errno
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lvs_cluster.agent_status import STALE_AFTER, status_age
from lvs_cluster.ipvs.model import Destination, Service, ServiceKey
from lvs_cluster.ipvs.netlink import IpvsNetlink
from lvs_cluster.vocabulary import canonical_ip

if TYPE_CHECKING:
    from lvs_cluster.ipvs.netlink import DestinationState

from . import runtime
from .runtime import pid_alive
from .service_names import service_key, service_label

AGENTS = ("pulse", "lvsd")
EXIT_OK, EXIT_IPVS_UNREADABLE, EXIT_USAGE, EXIT_AGENT_DOWN = 0, 1, 2, 3
REJECT_REASONS = ("bad_mac", "replay", "stale", "legacy", "malformed", "unknown_source",
                  "queue_full")

DestinationRow = tuple[Destination, "DestinationState | None"]


# --- the sources -------------------------------------------------------------------------------

@dataclass(frozen=True)
class IpvsTable:
    """The kernel's table, or why it could not be read (``error`` set, ``services`` empty)."""

    services: Sequence[tuple[Service, Sequence[DestinationRow]]] = ()
    error: str | None = None


def read_ipvs_table(connect: Callable[[], IpvsNetlink] = IpvsNetlink) -> IpvsTable:
    """Read every service and its destinations with their counters; errors become text."""
    try:
        with connect() as kernel:
            services = [(service, kernel.destinations(service, with_state=True))
                        for service, _stats in kernel.services()]
    except OSError as error:
        return IpvsTable(error=describe_ipvs_error(error))
    return IpvsTable(services=services)


def describe_ipvs_error(error: OSError) -> str:
    if error.errno == errno.ENOENT:
        return "IPVS is not available in this kernel (is the ip_vs module loaded?)"
    if error.errno in (errno.EPERM, errno.EACCES):
        return "cannot read the IPVS table: permission denied (needs root or CAP_NET_ADMIN)"
    if error.errno in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
        return "cannot read the IPVS table: this system has no generic netlink"
    return f"cannot read the IPVS table: {error.strerror or error}"


@dataclass(frozen=True)
class AgentState:
    """An agent's status document and whether it is to be believed."""

    name: str
    data: dict[str, Any] | None
    running: bool
    reason: str  # "running", "not running (…)", "stale (…)"
    age: float | None = None  # seconds since the file's ``updated``


def judge_agent(name: str, data: dict[str, Any] | None, now: float,
                alive: Callable[[object], bool] = pid_alive) -> AgentState:
    """Is the agent that wrote ``data`` running? Missing file, dead pid or old file: no."""
    if data is None:
        return AgentState(name, None, False, f"not running (no {name}.json)")
    age = status_age(data, now)
    age = None if age is None else max(0.0, age)
    pid = data.get("pid")
    if not alive(pid):
        return AgentState(name, data, False, f"not running (pid {pid} is gone)", age)
    if age is None:
        return AgentState(name, data, False, "stale (no update time)", age)
    if age > STALE_AFTER:
        return AgentState(name, data, False, f"stale (last update {age:.1f} s ago)", age)
    return AgentState(name, data, True, "running", age)


def as_number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def as_int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def reject_reasons(rejected: dict[str, Any]) -> list[str]:
    return list(REJECT_REASONS) + sorted(set(rejected) - set(REJECT_REASONS))


# --- matching lvsd.json to the kernel table: by ``service_key`` (see service_names) -----------

@dataclass
class ServerHealth:
    virtual: str
    name: str
    entry: dict[str, Any]


def health_index(lvsd: dict[str, Any] | None) -> dict[ServiceKey, dict[tuple[str, int],
                                                                       ServerHealth]]:
    """lvsd.json's servers by service key, then by (address, port). A virtual without a
    readable ``service_key`` (an lvsd.json of an older lvsd) matches nothing."""
    index: dict[ServiceKey, dict[tuple[str, int], ServerHealth]] = {}
    for virtual in as_list(as_dict(lvsd).get("virtuals")):
        virtual = as_dict(virtual)
        key = service_key(virtual.get("service_key"))
        if key is None:
            continue
        servers = index.setdefault(key, {})
        for server in as_list(virtual.get("servers")):
            server = as_dict(server)
            address = canonical_ip(str(server.get("address")))
            if address is not None:
                servers[(address, as_int(server.get("port")))] = ServerHealth(
                    str(virtual.get("name", "")), str(server.get("name", "")), server)
    return index


def virtual_names(lvsd: dict[str, Any] | None) -> dict[ServiceKey, str]:
    names = {}
    for virtual in as_list(as_dict(lvsd).get("virtuals")):
        virtual = as_dict(virtual)
        key = service_key(virtual.get("service_key"))
        if key is not None:
            names[key] = str(virtual.get("name", ""))
    return names


def unkeyed_virtuals(lvsd: dict[str, Any] | None) -> list[str]:
    """Names of lvsd.json's virtuals that cannot be matched to the table (no ``service_key``)."""
    return [str(as_dict(v).get("name", "?")) for v in as_list(as_dict(lvsd).get("virtuals"))
            if service_key(as_dict(v).get("service_key")) is None]


# --- the report (one structure for the text, JSON and exit status) ----------------------------

@dataclass
class Report:
    now: float
    agents: dict[str, AgentState]
    table: IpvsTable
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_status(self) -> int:
        if not all(agent.running for agent in self.agents.values()):
            return EXIT_AGENT_DOWN
        return EXIT_IPVS_UNREADABLE if self.table.error else EXIT_OK


def gather(now: float | None = None, read_table: Callable[[], IpvsTable] = read_ipvs_table,
           alive: Callable[[object], bool] = pid_alive) -> Report:
    now = time.time() if now is None else now
    agents = {name: judge_agent(name, runtime.read_status(name), now, alive) for name in AGENTS}
    return Report(now, agents, read_table())


def table_document(table: IpvsTable, lvsd: dict[str, Any] | None) -> dict[str, Any]:
    """The IPVS table joined with lvsd.json's health, as plain data."""
    health = health_index(lvsd)
    names = virtual_names(lvsd)
    services = []
    for service, rows in table.services:
        key = service.key
        servers = health.get(key, {})
        destinations = []
        for dest, state in rows:
            known = servers.get((dest.address, dest.port))
            destinations.append({
                "address": dest.address, "port": dest.port, "forwarding": dest.forwarding,
                "weight": dest.weight,
                "active_connections": None if state is None else state.active_conns,
                "inactive_connections": None if state is None else state.inactive_conns,
                "server": known.name if known else None,
                "health": known.entry.get("state") if known else None,
                "healthy": known.entry.get("healthy") if known else None,
                "configured_weight": known.entry.get("configured_weight") if known else None})
        in_table = {(d["address"], d["port"]) for d in destinations}
        missing = [{"server": s.name, "address": a, "port": p, "health": s.entry.get("state"),
                    "healthy": s.entry.get("healthy"),
                    "configured_weight": s.entry.get("configured_weight")}
                   for (a, p), s in servers.items() if (a, p) not in in_table]
        services.append({"service": service_label(service), "scheduler": service.scheduler,
                         "virtual": names.get(key), "destinations": destinations,
                         "not_in_table": missing})
    return {"available": table.error is None, "error": table.error, "services": services}


def report_document(report: Report) -> dict[str, Any]:
    lvsd = report.agents["lvsd"].data
    return {
        "time": report.now,
        "agents": {name: {"running": agent.running, "status": agent.reason,
                          "age": agent.age, "data": agent.data}
                   for name, agent in report.agents.items()},
        "ipvs": table_document(report.table, lvsd),
        "exit_status": report.exit_status,
    }
