# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Prometheus metrics of the agents' status files and the IPVS table, in the text
exposition format 0.0.4: one HELP and one TYPE line per family, then its samples, label values
escaped (backslash, double quote, newline). A dead agent exports only
``lvs_cluster_agent_up 0``, so that no alert fires on (or is silenced by) a frozen value.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from lvs_cluster.ipvs.model import Service

from . import runtime
from .service_names import service_label
from .status_report import (
    DestinationRow,
    IpvsTable,
    as_dict,
    as_int,
    as_list,
    as_number,
    health_index,
    judge_agent,
    pid_alive,
    read_ipvs_table,
    reject_reasons,
    virtual_names,
)

KNOWN_FLAGS = ("CHILDFAIL", "LINKFAIL")


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
    flags = [str(f) for f in as_list(pulse.get("flags"))]
    for flag in list(KNOWN_FLAGS) + sorted(set(flags) - set(KNOWN_FLAGS)):
        metrics.add("lvs_cluster_pulse_flag", "gauge",
                    "1 when pulse has this failure flag set (CHILDFAIL, LINKFAIL).",
                    1 if flag in flags else 0, [("flag", flag)])
    last_good_metric(metrics, "pulse", pulse)
    since = as_number(pulse.get("since"))
    if since is not None:
        metrics.add("lvs_cluster_pulse_last_transition_timestamp_seconds", "gauge",
                    "Unix time of pulse's last state transition.", since)
    metrics.add("lvs_cluster_transitions_total", "counter",
                "State transitions of pulse since it started.", as_int(pulse.get("transitions")))
    if pulse.get("mode") == "bgp":
        bgp_metrics(metrics, pulse)
    else:
        pair_metrics(metrics, pulse, now)
    child = as_dict(pulse.get("lvsd"))
    metrics.add("lvs_cluster_lvsd_ready", "gauge", "1 when pulse's lvsd child reported READY.",
                1 if child.get("ready") else 0)
    metrics.add("lvs_cluster_lvsd_restarts_total", "counter",
                "Times pulse restarted its lvsd child.", as_int(child.get("restarts")))


def bgp_metrics(metrics: Metrics, pulse: dict[str, Any]) -> None:
    """bgp mode (pulse_bgp): each VIP announced or not, and how often that changed."""
    for vip in as_list(pulse.get("vips")):
        vip = as_dict(vip)
        if vip.get("ip"):
            metrics.add("lvs_cluster_vip_announced", "gauge",
                        "1 while this router announces the VIP to its BGP neighbours.",
                        1 if vip.get("announced") else 0, [("vip", vip.get("ip", ""))])
    metrics.add("lvs_cluster_announcements_total", "counter",
                "VIP announcements since pulse started (bgp mode).",
                as_int(pulse.get("announcements")))
    metrics.add("lvs_cluster_withdrawals_total", "counter",
                "VIP withdrawals since pulse started (bgp mode).", as_int(pulse.get("withdrawals")))


def pair_metrics(metrics: Metrics, pulse: dict[str, Any], now: float) -> None:
    """The pair: the peer, the VIPs held, the heartbeats."""
    peer = as_dict(pulse.get("peer"))
    metrics.add("lvs_cluster_pulse_peer_running", "gauge",
                "1 when the peer's last heartbeat said it is running.",
                1 if peer.get("state") == "running" else 0)
    last = as_number(peer.get("last_heartbeat"))
    if last is not None:
        metrics.add("lvs_cluster_pulse_peer_heartbeat_age_seconds", "gauge",
                    "Seconds since the peer's last accepted heartbeat.", max(0.0, now - last))
    for vip in as_list(pulse.get("vips")):
        vip = as_dict(vip)
        if not vip.get("ip"):
            continue
        metrics.add("lvs_cluster_vip_present", "gauge",
                    "1 when the virtual IP address is configured on this router.",
                    1 if vip.get("present") else 0,
                    [("vip", vip.get("ip", "")), ("device", vip.get("device", ""))])
    heartbeat_metrics(metrics, as_dict(pulse.get("heartbeat")))


def heartbeat_metrics(metrics: Metrics, beat: dict[str, Any]) -> None:
    metrics.add("lvs_cluster_heartbeats_sent_total", "counter", "Heartbeats sent to the peer.",
                as_int(beat.get("sent")))
    metrics.add("lvs_cluster_heartbeats_received_total", "counter",
                "Heartbeats received from the peer and accepted.", as_int(beat.get("received")))
    metrics.add("lvs_cluster_heartbeats_peer_refused_total", "counter",
                "Heartbeats the peer's host refused (ICMP port unreachable: its pulse is down).",
                as_int(beat.get("peer_refused")))
    rejected = as_dict(beat.get("rejected"))
    for reason in reject_reasons(rejected):
        metrics.add("lvs_cluster_heartbeats_rejected_total", "counter",
                    "Heartbeats rejected, by reason.", as_int(rejected.get(reason)),
                    [("reason", reason)])


def last_good_metric(metrics: Metrics, agent: str, document: dict[str, Any]) -> None:
    metrics.add("lvs_cluster_config_last_good_in_use", "gauge",
                "1 when lvs.cf was refused and the agent runs the last good copy of it.",
                1 if as_dict(document.get("last_good")).get("in_use") else 0,
                [("agent", agent)])


def lvsd_metrics(metrics: Metrics, lvsd: dict[str, Any]) -> None:
    last_good_metric(metrics, "lvsd", lvsd)
    metrics.add("lvs_cluster_config_reloads_total", "counter",
                "Times lvsd re-read lvs.cf (SIGHUP).", as_int(lvsd.get("reloads")))
    reconcile = as_number(lvsd.get("last_reconcile"))
    if reconcile is not None:
        metrics.add("lvs_cluster_last_reconcile_timestamp_seconds", "gauge",
                    "Unix time of lvsd's last reconcile of the IPVS table.", reconcile)
    checks = as_dict(lvsd.get("checks"))
    metrics.add("lvs_cluster_checks_total", "counter", "Health checks run by lvsd.",
                as_int(checks.get("total")))
    metrics.add("lvs_cluster_check_failures_total", "counter", "Health checks that failed.",
                as_int(checks.get("failed")))
    metrics.add("lvs_cluster_checks_running", "gauge", "Health checks in progress.",
                as_int(checks.get("running")))
    for virtual in as_list(lvsd.get("virtuals")):
        virtual = as_dict(virtual)
        metrics.add("lvs_cluster_virtual_sorry_active", "gauge",
                    "1 when the virtual service is served by its sorry server.",
                    1 if virtual.get("sorry_active") else 0,
                    [("virtual", virtual.get("name", "")), ("service", virtual.get("service", ""))])
        for server in as_list(virtual.get("servers")):
            server_metrics(metrics, virtual, as_dict(server))


def _server_labels(virtual: str, service: str, server: str, address: str,
                   port: object) -> list[tuple[str, object]]:
    return [("virtual", virtual), ("service", service), ("server", server),
            ("address", address), ("port", port)]


def server_metrics(metrics: Metrics, virtual: dict[str, Any], server: dict[str, Any]) -> None:
    labels = _server_labels(str(virtual.get("name", "")), str(virtual.get("service", "")),
                            str(server.get("name", "")), str(server.get("address", "")),
                            as_int(server.get("port")))
    metrics.add("lvs_cluster_real_server_healthy", "gauge",
                "1 when lvsd's health checks consider the real server healthy.",
                1 if server.get("healthy") else 0, labels)
    metrics.add("lvs_cluster_real_server_configured_weight", "gauge",
                "The real server's weight in lvs.cf.", as_int(server.get("configured_weight")),
                labels)
    metrics.add("lvs_cluster_real_server_checks_total", "counter",
                "Health checks of the real server.", as_int(server.get("checks")), labels)
    metrics.add("lvs_cluster_real_server_check_failures_total", "counter",
                "Failed health checks of the real server.", as_int(server.get("failures")), labels)


def table_metrics(metrics: Metrics, table: IpvsTable, lvsd: dict[str, Any] | None) -> None:
    health = health_index(lvsd)
    names = virtual_names(lvsd)
    for service, rows in table.services:
        key = service.key
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
