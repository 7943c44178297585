# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvs-status's text: the agents, then the IPVS table with each server's health."""

from __future__ import annotations

import time
from typing import Any

from .status_report import (
    AgentState,
    Report,
    as_dict,
    as_int,
    as_list,
    as_number,
    reject_reasons,
    table_document,
    unkeyed_virtuals,
)


def ago(now: float, then: object) -> str:
    value = as_number(then)
    if value is None:
        return "never"
    return f"{max(0.0, now - value):.1f} s ago"


def clock(then: object) -> str:
    value = as_number(then)
    if value is None:
        return "unknown"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))


def pulse_lines(agent: AgentState, now: float) -> list[str]:
    lines = [f"pulse: {agent.reason}" + (f" (pid {agent.data.get('pid')})" if agent.data else "")]
    pulse = agent.data
    if pulse is None:
        return lines
    flags = ", ".join(str(f) for f in as_list(pulse.get("flags"))) or "none"
    lines.append(f"  this node: {pulse.get('node', '?')}, {pulse.get('state', '?')}"
                 f" since {clock(pulse.get('since'))} ({ago(now, pulse.get('since'))}),"
                 f" flags: {flags}, transitions: {as_int(pulse.get('transitions'))}")
    lines += last_good_lines(pulse)
    lines += bgp_lines(pulse) if pulse.get("mode") == "bgp" else heartbeat_lines(pulse, now)
    child = as_dict(pulse.get("lvsd"))
    lines.append(f"  lvsd child: pid {child.get('pid')}, "
                 f"{'ready' if child.get('ready') else 'NOT ready'},"
                 f" restarts {as_int(child.get('restarts'))}"
                 f"{', adopted from a killed pulse' if child.get('adopted') else ''}")
    return lines


def bgp_lines(pulse: dict[str, Any]) -> list[str]:
    """bgp mode: each VIP announced to the upstream or not (pulse_bgp)."""
    lines = [f"  bgp mode: min_healthy {pulse.get('min_healthy', '?')},"
             f" announcements {as_int(pulse.get('announcements'))},"
             f" withdrawals {as_int(pulse.get('withdrawals'))}"]
    for vip in as_list(pulse.get("vips")):
        vip = as_dict(vip)
        announced = "announced" if vip.get("announced") else "WITHDRAWN"
        lines.append(f"  VIP {vip.get('ip')}: {announced}")
    return lines


def heartbeat_lines(pulse: dict[str, Any], now: float) -> list[str]:
    """The pair: the peer, the VIPs held, the heartbeat counters."""
    lines = []
    peer = as_dict(pulse.get("peer"))
    addresses = ", ".join(str(a) for a in as_list(peer.get("addresses"))) or "?"
    lines.append(f"  peer {addresses}: {peer.get('state', 'unknown')},"
                 f" last heartbeat {ago(now, peer.get('last_heartbeat'))}")
    for vip in as_list(pulse.get("vips")):
        vip = as_dict(vip)
        where = f" on {vip.get('label') or vip.get('device') or '?'}"
        present = "present" if vip.get("present") else "ABSENT"
        lines.append(f"  VIP {vip.get('ip')}/{vip.get('prefix', '?')}{where}: {present}")
    beat = as_dict(pulse.get("heartbeat"))
    rejected = as_dict(beat.get("rejected"))
    reasons = ", ".join(f"{reason} {as_int(rejected.get(reason))}" for reason in
                        reject_reasons(rejected))
    lines.append(f"  heartbeat: port {beat.get('port', '?')}, keepalive {beat.get('keepalive')}"
                 f" s, deadtime {beat.get('deadtime')} s,"
                 f" {'authenticated' if beat.get('authenticated') else 'NOT authenticated'}")
    lines.append(f"    sent {as_int(beat.get('sent'))}, received {as_int(beat.get('received'))},"
                 f" rejected: {reasons}")
    return lines


def last_good_lines(document: dict[str, Any]) -> list[str]:
    """Loud lines while the agent runs the last good lvs.cf (lvs_agents.last_good)."""
    last_good = as_dict(document.get("last_good"))
    if not last_good.get("in_use"):
        return []
    return [f"  LAST GOOD lvs.cf IN USE, from {clock(last_good.get('saved_at'))}"
            f" ({last_good.get('path', '?')})",
            f"    lvs.cf refused: {last_good.get('problem')}"]


def lvsd_lines(agent: AgentState, now: float) -> list[str]:
    lines = [f"lvsd: {agent.reason}" + (f" (pid {agent.data.get('pid')})" if agent.data else "")]
    lvsd = agent.data
    if lvsd is None:
        return lines
    checks = as_dict(lvsd.get("checks"))
    lines.append(f"  config {lvsd.get('config', '?')}, reloads {as_int(lvsd.get('reloads'))},"
                 f" last reconcile {ago(now, lvsd.get('last_reconcile'))}")
    lines += last_good_lines(lvsd)
    lines.append(f"  checks: {as_int(checks.get('total'))} total, {as_int(checks.get('failed'))}"
                 f" failed, {as_int(checks.get('running'))} running")
    for virtual in as_list(lvsd.get("virtuals")):
        virtual = as_dict(virtual)
        if virtual.get("sorry_active"):
            lines.append(f"  virtual {virtual.get('name')}: SORRY SERVER ACTIVE")
    unkeyed = unkeyed_virtuals(lvsd)
    if unkeyed:
        lines.append(f"  no service key for {', '.join(unkeyed)} (lvsd.json of an older lvsd?):"
                     " their health is not matched to the IPVS table")
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
                f" weight {dest['weight']:<5} active {count_text(dest['active_connections']):<6}"
                f" inactive {count_text(dest['inactive_connections'])}")
        for server in service["not_in_table"]:
            lines.append(f"    (not in table) {server['address']}:{server['port']}"
                         f" {server['server'] or '-'} {server['health'] or 'unknown'}")
    return lines


def count_text(value: int | None) -> str:
    return "?" if value is None else str(value)


def render_text(report: Report) -> str:
    document = table_document(report.table, report.agents["lvsd"].data)
    lines = pulse_lines(report.agents["pulse"], report.now)
    lines += lvsd_lines(report.agents["lvsd"], report.now)
    lines += table_lines(document)
    return "\n".join(lines) + "\n"
