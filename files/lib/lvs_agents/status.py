# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``lvs-status`` and the Prometheus metrics: what the running agents and the kernel say.

Three sources, each read without side effects:

* ``pulse.json`` and ``lvsd.json`` (``runtime.read_status``), the agents' own view: who is
  active, the peer, the VIPs, heartbeat counters, each real server's health;
* the live IPVS table over netlink (``IpvsNetlink``), the kernel's view: current weights and
  connection counts. The kernel is the authority on weights; lvsd.json on health.

An agent counts as running when its file exists, was rewritten within ``STALE_AFTER`` seconds
(agents rewrite it at least every second) and its pid is alive. A stale file is still shown,
labelled as such; in the metrics a dead agent exports only ``lvs_cluster_agent_up 0`` so that no
alert fires on (or is silenced by) a frozen value.

The metrics follow the Prometheus text exposition format 0.0.4: one HELP and one TYPE line per
family, then its samples, label values escaped (backslash, double quote, newline).
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import math
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, TextIO

from lvs_cluster.ipvs.model import Destination, Service
from lvs_cluster.ipvs.netlink import IpvsNetlink
from lvs_cluster.vocabulary import canonical_ip

if TYPE_CHECKING:
    from lvs_cluster.ipvs.netlink import DestinationState

from . import runtime

STALE_AFTER = 5.0
AGENTS = ("pulse", "lvsd")
DEFAULT_METRICS_HOST = "127.0.0.1"
DEFAULT_METRICS_PORT = 9539
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
EXIT_OK, EXIT_IPVS_UNREADABLE, EXIT_USAGE, EXIT_AGENT_DOWN = 0, 1, 2, 3
REJECT_REASONS = ("bad_mac", "replay", "stale", "legacy", "malformed", "unknown_source")
KNOWN_FLAGS = ("CHILDFAIL", "LINKFAIL")

log = logging.getLogger("lvs-status")

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


def pid_alive(pid: object) -> bool:
    """Whether a process with this pid exists (EPERM: it exists, owned by someone else)."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


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
    updated = _number(data.get("updated"))
    age = None if updated is None else max(0.0, now - updated)
    pid = data.get("pid")
    if not alive(pid):
        return AgentState(name, data, False, f"not running (pid {pid} is gone)", age)
    if age is None:
        return AgentState(name, data, False, "stale (no update time)", age)
    if age > STALE_AFTER:
        return AgentState(name, data, False, f"stale (last update {age:.1f} s ago)", age)
    return AgentState(name, data, True, "running", age)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


# --- matching lvsd.json to the kernel table ----------------------------------------------------

_SERVICE_TEXT = re.compile(r"^\s*(TCP|UDP|SCTP)\s+\[?([0-9A-Fa-f.:]+?)\]?:(\d+)\s*$", re.I)
_FWMARK_TEXT = re.compile(r"^\s*FWM\s+(\d+)(\s+IPv6)?\s*$", re.I)


def service_label(service: Service) -> str:
    """ipvsadm's name of a service: ``TCP 10.0.0.1:80``, ``UDP [2001:db8::1]:53``, ``FWM 5``."""
    if service.fwmark is not None:
        return f"FWM {service.fwmark}" + (" IPv6" if service.family == "inet6" else "")
    host = f"[{service.address}]" if service.family == "inet6" else service.address
    return f"{(service.protocol or '').upper()} {host}:{service.port}"


def service_key(text: object) -> tuple[Any, ...] | None:
    """A comparable key of a service label as lvsd.json writes it (None when not one)."""
    if not isinstance(text, str):
        return None
    match = _SERVICE_TEXT.match(text)
    if match:
        address = canonical_ip(match.group(2))
        return None if address is None else (match.group(1).lower(), address,
                                             int(match.group(3)))
    match = _FWMARK_TEXT.match(text)
    if match:
        return ("fwmark", "inet6" if match.group(2) else "inet", int(match.group(1)))
    return None


def key_of(service: Service) -> tuple[Any, ...]:
    if service.fwmark is not None:
        return ("fwmark", service.family, service.fwmark)
    return (service.protocol, service.address, service.port)


@dataclass
class ServerHealth:
    virtual: str
    name: str
    entry: dict[str, Any]


def health_index(lvsd: dict[str, Any] | None) -> dict[tuple[Any, ...], dict[tuple[str, int],
                                                                            ServerHealth]]:
    """lvsd.json's servers by service key, then by (address, port)."""
    index: dict[tuple[Any, ...], dict[tuple[str, int], ServerHealth]] = {}
    for virtual in _list(_dict(lvsd).get("virtuals")):
        virtual = _dict(virtual)
        key = service_key(virtual.get("service"))
        if key is None:
            continue
        servers = index.setdefault(key, {})
        for server in _list(virtual.get("servers")):
            server = _dict(server)
            address = canonical_ip(str(server.get("address")))
            if address is not None:
                servers[(address, _int(server.get("port")))] = ServerHealth(
                    str(virtual.get("name", "")), str(server.get("name", "")), server)
    return index


def virtual_names(lvsd: dict[str, Any] | None) -> dict[tuple[Any, ...], str]:
    names = {}
    for virtual in _list(_dict(lvsd).get("virtuals")):
        virtual = _dict(virtual)
        key = service_key(virtual.get("service"))
        if key is not None:
            names[key] = str(virtual.get("name", ""))
    return names


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
        key = key_of(service)
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
                "healthy": known.entry.get("healthy") if known else None})
        in_table = {(d["address"], d["port"]) for d in destinations}
        missing = [{"server": s.name, "address": a, "port": p, "health": s.entry.get("state"),
                    "healthy": s.entry.get("healthy")}
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


# --- text --------------------------------------------------------------------------------------

def _ago(now: float, then: object) -> str:
    value = _number(then)
    if value is None:
        return "never"
    return f"{max(0.0, now - value):.1f} s ago"


def _clock(then: object) -> str:
    value = _number(then)
    if value is None:
        return "unknown"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))


def pulse_lines(agent: AgentState, now: float) -> list[str]:
    lines = [f"pulse: {agent.reason}" + (f" (pid {agent.data.get('pid')})" if agent.data else "")]
    pulse = agent.data
    if pulse is None:
        return lines
    flags = ", ".join(str(f) for f in _list(pulse.get("flags"))) or "none"
    lines.append(f"  this node: {pulse.get('node', '?')}, {pulse.get('state', '?')}"
                 f" since {_clock(pulse.get('since'))} ({_ago(now, pulse.get('since'))}),"
                 f" flags: {flags}, transitions: {_int(pulse.get('transitions'))}")
    peer = _dict(pulse.get("peer"))
    addresses = ", ".join(str(a) for a in _list(peer.get("addresses"))) or "?"
    lines.append(f"  peer {addresses}: {peer.get('state', 'unknown')},"
                 f" last heartbeat {_ago(now, peer.get('last_heartbeat'))}")
    for vip in _list(pulse.get("vips")):
        vip = _dict(vip)
        where = f" on {vip.get('label') or vip.get('device') or '?'}"
        present = "present" if vip.get("present") else "ABSENT"
        lines.append(f"  VIP {vip.get('ip')}/{vip.get('prefix', '?')}{where}: {present}")
    beat = _dict(pulse.get("heartbeat"))
    rejected = _dict(beat.get("rejected"))
    reasons = ", ".join(f"{reason} {_int(rejected.get(reason))}" for reason in
                        _reject_reasons(rejected))
    lines.append(f"  heartbeat: port {beat.get('port', '?')}, keepalive {beat.get('keepalive')}"
                 f" s, deadtime {beat.get('deadtime')} s,"
                 f" {'authenticated' if beat.get('authenticated') else 'NOT authenticated'}")
    lines.append(f"    sent {_int(beat.get('sent'))}, received {_int(beat.get('received'))},"
                 f" rejected: {reasons}")
    child = _dict(pulse.get("lvsd"))
    lines.append(f"  lvsd child: pid {child.get('pid')}, "
                 f"{'ready' if child.get('ready') else 'NOT ready'},"
                 f" restarts {_int(child.get('restarts'))}")
    return lines


def _reject_reasons(rejected: dict[str, Any]) -> list[str]:
    return list(REJECT_REASONS) + sorted(set(rejected) - set(REJECT_REASONS))


def lvsd_lines(agent: AgentState, now: float) -> list[str]:
    lines = [f"lvsd: {agent.reason}" + (f" (pid {agent.data.get('pid')})" if agent.data else "")]
    lvsd = agent.data
    if lvsd is None:
        return lines
    checks = _dict(lvsd.get("checks"))
    lines.append(f"  config {lvsd.get('config', '?')}, reloads {_int(lvsd.get('reloads'))},"
                 f" last reconcile {_ago(now, lvsd.get('last_reconcile'))}")
    lines.append(f"  checks: {_int(checks.get('total'))} total, {_int(checks.get('failed'))}"
                 f" failed, {_int(checks.get('running'))} running")
    for virtual in _list(lvsd.get("virtuals")):
        virtual = _dict(virtual)
        if virtual.get("sorry_active"):
            lines.append(f"  virtual {virtual.get('name')}: SORRY SERVER ACTIVE")
    return lines


def table_lines(document: dict[str, Any]) -> list[str]:
    if not document["available"]:
        return [f"IPVS: {document['error']}"]
    if not document["services"]:
        return ["IPVS table: empty"]
    lines = ["IPVS table:"]
    for service in document["services"]:
        virtual = f" (virtual {service['virtual']})" if service["virtual"] else ""
        lines.append(f"  {service['service']} {service['scheduler']}{virtual}")
        for dest in service["destinations"]:
            host = f"[{dest['address']}]" if ":" in dest["address"] else dest["address"]
            lines.append(
                f"    -> {host}:{dest['port']:<5} {dest['server'] or '-':<12}"
                f" {dest['health'] or 'unknown':<9} {dest['forwarding']:<7}"
                f" weight {dest['weight']:<5} active {_count(dest['active_connections']):<6}"
                f" inactive {_count(dest['inactive_connections'])}")
        for server in service["not_in_table"]:
            lines.append(f"    (not in table) {server['address']}:{server['port']}"
                         f" {server['server'] or '-'} {server['health'] or 'unknown'}")
    return lines


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)


def render_text(report: Report) -> str:
    document = table_document(report.table, report.agents["lvsd"].data)
    lines = pulse_lines(report.agents["pulse"], report.now)
    lines += lvsd_lines(report.agents["lvsd"], report.now)
    lines += table_lines(document)
    return "\n".join(lines) + "\n"


# --- Prometheus text format --------------------------------------------------------------------

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def escape_label_value(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class Metrics:
    """Metric families in the order first declared; samples grouped under their family.

    A second sample of the same series (e.g. a server listed twice in lvsd.json) is dropped:
    Prometheus rejects a whole scrape with a duplicate series.
    """

    def __init__(self) -> None:
        self._families: dict[str, tuple[str, str, list[str]]] = {}
        self._series: set[str] = set()

    def add(self, name: str, kind: str, help_text: str, value: float,
            labels: Iterable[tuple[str, object]] = ()) -> None:
        if not _METRIC_NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        family = self._families.setdefault(name, (kind, help_text, []))
        rendered = ",".join(f'{key}="{escape_label_value(val)}"' for key, val in labels)
        series = f"{name}{{{rendered}}}" if rendered else name
        if series in self._series:
            return
        self._series.add(series)
        family[2].append(f"{series} {format_value(value)}")

    def render(self) -> str:
        out = []
        for name, (kind, help_text, samples) in self._families.items():
            out.append(f"# HELP {name} {escape_help(help_text)}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(samples)
        return "\n".join(out) + "\n" if out else ""


def render_metrics(pulse: dict[str, Any] | None, lvsd: dict[str, Any] | None,
                   table: IpvsTable | Sequence[tuple[Service, Sequence[DestinationRow]]] | None,
                   *, now: float | None = None,
                   alive: Callable[[object], bool] = pid_alive) -> str:
    """The Prometheus text (format 0.0.4) of the agents' status documents and the IPVS table.

    ``table`` is an IpvsTable, a plain list of (service, [(destination, state)]) or None (not
    readable). An agent whose document is missing, stale or whose pid is gone is ``agent_up 0``
    and exports nothing else.
    """
    now = time.time() if now is None else now
    if table is None:
        table = IpvsTable(error="not read")
    elif not isinstance(table, IpvsTable):
        table = IpvsTable(services=list(table))
    states = {name: judge_agent(name, data, now, alive)
              for name, data in (("pulse", pulse), ("lvsd", lvsd))}
    metrics = Metrics()
    for name, agent in states.items():
        metrics.add("lvs_cluster_agent_up", "gauge",
                    "1 when the agent's status file is fresh and its process alive.",
                    1 if agent.running else 0, [("agent", name)])
    metrics.add("lvs_cluster_ipvs_up", "gauge", "1 when the kernel's IPVS table could be read.",
                0 if table.error else 1)
    if states["pulse"].running:
        pulse_metrics(metrics, states["pulse"].data or {}, now)
    live_lvsd = states["lvsd"].data if states["lvsd"].running else None
    if live_lvsd is not None:
        lvsd_metrics(metrics, live_lvsd)
    table_metrics(metrics, table, live_lvsd)
    return metrics.render()


def pulse_metrics(metrics: Metrics, pulse: dict[str, Any], now: float) -> None:
    metrics.add("lvs_cluster_pulse_active", "gauge",
                "1 when this router is the active one (holds the VIPs).",
                1 if pulse.get("state") == "active" else 0)
    metrics.add("lvs_cluster_pulse_info", "gauge",
                "Always 1; this router's role in lvs.cf and pulse's state as labels.", 1,
                [("node", pulse.get("node", "")), ("state", pulse.get("state", ""))])
    flags = [str(f) for f in _list(pulse.get("flags"))]
    for flag in list(KNOWN_FLAGS) + sorted(set(flags) - set(KNOWN_FLAGS)):
        metrics.add("lvs_cluster_pulse_flag", "gauge",
                    "1 when pulse has this failure flag set (CHILDFAIL, LINKFAIL).",
                    1 if flag in flags else 0, [("flag", flag)])
    since = _number(pulse.get("since"))
    if since is not None:
        metrics.add("lvs_cluster_pulse_last_transition_timestamp_seconds", "gauge",
                    "Unix time of pulse's last state transition.", since)
    metrics.add("lvs_cluster_transitions_total", "counter",
                "State transitions of pulse since it started.", _int(pulse.get("transitions")))
    peer = _dict(pulse.get("peer"))
    metrics.add("lvs_cluster_pulse_peer_running", "gauge",
                "1 when the peer's last heartbeat said it is running.",
                1 if peer.get("state") == "running" else 0)
    last = _number(peer.get("last_heartbeat"))
    if last is not None:
        metrics.add("lvs_cluster_pulse_peer_heartbeat_age_seconds", "gauge",
                    "Seconds since the peer's last accepted heartbeat.", max(0.0, now - last))
    for vip in _list(pulse.get("vips")):
        vip = _dict(vip)
        if not vip.get("ip"):
            continue
        metrics.add("lvs_cluster_vip_present", "gauge",
                    "1 when the virtual IP address is configured on this router.",
                    1 if vip.get("present") else 0,
                    [("vip", vip.get("ip", "")), ("device", vip.get("device", ""))])
    heartbeat_metrics(metrics, _dict(pulse.get("heartbeat")))
    child = _dict(pulse.get("lvsd"))
    metrics.add("lvs_cluster_lvsd_ready", "gauge", "1 when pulse's lvsd child reported READY.",
                1 if child.get("ready") else 0)
    metrics.add("lvs_cluster_lvsd_restarts_total", "counter",
                "Times pulse restarted its lvsd child.", _int(child.get("restarts")))


def heartbeat_metrics(metrics: Metrics, beat: dict[str, Any]) -> None:
    metrics.add("lvs_cluster_heartbeats_sent_total", "counter", "Heartbeats sent to the peer.",
                _int(beat.get("sent")))
    metrics.add("lvs_cluster_heartbeats_received_total", "counter",
                "Heartbeats received from the peer and accepted.", _int(beat.get("received")))
    rejected = _dict(beat.get("rejected"))
    for reason in _reject_reasons(rejected):
        metrics.add("lvs_cluster_heartbeats_rejected_total", "counter",
                    "Heartbeats rejected, by reason.", _int(rejected.get(reason)),
                    [("reason", reason)])


def lvsd_metrics(metrics: Metrics, lvsd: dict[str, Any]) -> None:
    metrics.add("lvs_cluster_config_reloads_total", "counter",
                "Times lvsd re-read lvs.cf (SIGHUP).", _int(lvsd.get("reloads")))
    reconcile = _number(lvsd.get("last_reconcile"))
    if reconcile is not None:
        metrics.add("lvs_cluster_last_reconcile_timestamp_seconds", "gauge",
                    "Unix time of lvsd's last reconcile of the IPVS table.", reconcile)
    checks = _dict(lvsd.get("checks"))
    metrics.add("lvs_cluster_checks_total", "counter", "Health checks run by lvsd.",
                _int(checks.get("total")))
    metrics.add("lvs_cluster_check_failures_total", "counter", "Health checks that failed.",
                _int(checks.get("failed")))
    metrics.add("lvs_cluster_checks_running", "gauge", "Health checks in progress.",
                _int(checks.get("running")))
    for virtual in _list(lvsd.get("virtuals")):
        virtual = _dict(virtual)
        metrics.add("lvs_cluster_virtual_sorry_active", "gauge",
                    "1 when the virtual service is served by its sorry server.",
                    1 if virtual.get("sorry_active") else 0,
                    [("virtual", virtual.get("name", "")), ("service", virtual.get("service", ""))])
        for server in _list(virtual.get("servers")):
            server_metrics(metrics, virtual, _dict(server))


def _server_labels(virtual: str, service: str, server: str, address: str,
                   port: object) -> list[tuple[str, object]]:
    return [("virtual", virtual), ("service", service), ("server", server),
            ("address", address), ("port", port)]


def server_metrics(metrics: Metrics, virtual: dict[str, Any], server: dict[str, Any]) -> None:
    labels = _server_labels(str(virtual.get("name", "")), str(virtual.get("service", "")),
                            str(server.get("name", "")), str(server.get("address", "")),
                            _int(server.get("port")))
    metrics.add("lvs_cluster_real_server_healthy", "gauge",
                "1 when lvsd's health checks consider the real server healthy.",
                1 if server.get("healthy") else 0, labels)
    metrics.add("lvs_cluster_real_server_configured_weight", "gauge",
                "The real server's weight in lvs.cf.", _int(server.get("configured_weight")),
                labels)
    metrics.add("lvs_cluster_real_server_checks_total", "counter",
                "Health checks of the real server.", _int(server.get("checks")), labels)
    metrics.add("lvs_cluster_real_server_check_failures_total", "counter",
                "Failed health checks of the real server.", _int(server.get("failures")), labels)


def table_metrics(metrics: Metrics, table: IpvsTable, lvsd: dict[str, Any] | None) -> None:
    health = health_index(lvsd)
    names = virtual_names(lvsd)
    for service, rows in table.services:
        key = key_of(service)
        label = service_label(service)
        for dest, state in rows:
            known = health.get(key, {}).get((dest.address, dest.port))
            labels = _server_labels(names.get(key, ""), label, known.name if known else "",
                                    dest.address, dest.port)
            metrics.add("lvs_cluster_real_server_weight", "gauge",
                        "The real server's current weight in the kernel's IPVS table.",
                        dest.weight, labels)
            if state is None:
                continue
            for kind, count in (("active", state.active_conns),
                                ("inactive", state.inactive_conns)):
                metrics.add("lvs_cluster_real_server_connections", "gauge",
                            "Connections to the real server in the IPVS table, by state.",
                            count, labels + [("state", kind)])


def current_metrics(read_table: Callable[[], IpvsTable] = read_ipvs_table) -> str:
    return render_metrics(runtime.read_status("pulse"), runtime.read_status("lvsd"),
                          read_table())


# --- the HTTP endpoint -------------------------------------------------------------------------

class MetricsServer:
    """A ThreadingHTTPServer on a daemon thread; ``port`` is the bound port."""

    def __init__(self, server: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.host, self.port = server.server_address[:2]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(read_table: Callable[[], IpvsTable]) -> type[BaseHTTPRequestHandler]:
    class MetricsHandler(BaseHTTPRequestHandler):
        server_version = "lvs-cluster-metrics"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.split("?", 1)[0] != "/metrics":
                self._answer(404, "text/plain; charset=utf-8", b"not found; try /metrics\n")
                return
            try:
                body = current_metrics(read_table).encode()
            except Exception:  # a scrape must never kill the thread silently
                log.exception("rendering the metrics failed")
                self._answer(500, "text/plain; charset=utf-8", b"internal error\n")
                return
            self._answer(200, CONTENT_TYPE, body)

        def _answer(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.debug("metrics: %s %s", self.address_string(), format % args)

    return MetricsHandler


def start_metrics_server(host: str = DEFAULT_METRICS_HOST, port: int = DEFAULT_METRICS_PORT,
                         read_table: Callable[[], IpvsTable] = read_ipvs_table) -> MetricsServer:
    """Serve GET /metrics on host:port (port 0: any free one) until ``close()``."""
    server_class = type("MetricsHTTPServer", (ThreadingHTTPServer,), {
        "daemon_threads": True,
        "address_family": _family(host),
    })
    server = server_class((host, port), _handler(read_table))
    thread = threading.Thread(target=server.serve_forever, name="lvs-metrics", daemon=True)
    thread.start()
    return MetricsServer(server, thread)


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


# --- the command -------------------------------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    command = argparse.ArgumentParser(
        prog="lvs-status",
        description="Show the router agents' state (pulse, lvsd) and the live IPVS table.",
        epilog="Exit status: 0 all readable, 1 IPVS table not readable, 2 usage error, "
               "3 an agent is not running (what is known is still shown).")
    output = command.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON document")
    output.add_argument("--metrics", action="store_true",
                        help="print the Prometheus metrics once (exit 0 when printed)")
    command.add_argument("--run-dir", metavar="DIR",
                         help="the agents' status directory (default $LVS_CLUSTER_RUN_DIR or "
                              f"{runtime.DEFAULT_RUN_DIR})")
    return command


def main(argv: list[str] | None = None, *, stdout: TextIO | None = None,
         read_table: Callable[[], IpvsTable] = read_ipvs_table,
         now: float | None = None) -> int:
    """``lvs-status [--json | --metrics] [--run-dir DIR]``."""
    stdout = sys.stdout if stdout is None else stdout
    try:
        options = parser().parse_args(argv)
    except SystemExit as leaving:  # argparse: 0 for --help, 2 for usage errors
        return leaving.code if isinstance(leaving.code, int) else EXIT_USAGE
    if options.run_dir:
        os.environ["LVS_CLUSTER_RUN_DIR"] = options.run_dir
    if options.metrics:
        stdout.write(current_metrics(read_table))
        return EXIT_OK
    report = gather(now, read_table)
    if options.json:
        json.dump(report_document(report), stdout, indent=2, sort_keys=True)
        stdout.write("\n")
    else:
        stdout.write(render_text(report))
    return report.exit_status
