# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The status page (Piranha's monitoring screen) of the metrics endpoint: ``/`` and
``/status.json``.

Both come from one *view*: the lvs-status report (``status_report``: the agents judged running
or not, the IPVS table joined with lvsd.json's health) laid out as sections of rows of cells,
each cell a text and a tone (``ok``, ``warn``, ``bad`` or none). The server renders the view as
HTML (every value through ``html.escape``), so the page shows everything without JavaScript;
``/status.json`` is the same view plus lvs-status's JSON document, which the page's small
script fetches every ``REFRESH_SECONDS`` to redraw itself with ``textContent`` only. Every rule
about what a value means lives in the Python side; the script only draws cells.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
from typing import Any

from .status_report import (
    AgentState,
    Report,
    as_dict,
    as_int,
    as_list,
    reject_reasons,
    report_document,
    table_document,
    unkeyed_virtuals,
)
from .status_text import ago, clock, count_text

REFRESH_SECONDS = 5
HTML_CONTENT_TYPE = "text/html; charset=utf-8"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"

Cell = dict[str, str]
Section = dict[str, Any]


def cell(text: object, tone: str = "") -> Cell:
    return {"text": "" if text is None else str(text), "tone": tone}


def section(title: str, rows: list[list[Cell]], columns: list[str] | None = None,
            note: Cell | None = None) -> Section:
    """``columns`` None: a list of (label, value) rows; else a table with these headings."""
    return {"title": title, "kind": "pairs" if columns is None else "table",
            "columns": columns or [], "rows": rows, "note": note}


def pair(label: str, value: object, tone: str = "") -> list[Cell]:
    return [cell(label), cell(value, tone)]


# --- the view -----------------------------------------------------------------------------------

def build_view(report: Report, host: str) -> dict[str, Any]:
    pulse_agent, lvsd_agent = report.agents["pulse"], report.agents["lvsd"]
    pulse = pulse_agent.data if pulse_agent.data is not None else {}
    sections = [agents_section(report), router_section(pulse_agent, report.now)]
    if pulse_agent.data is not None:
        if pulse.get("mode") == "bgp":
            sections += [bgp_section(pulse), vip_section(pulse)]
        else:
            sections += [peer_section(pulse, report.now), vip_section(pulse),
                         heartbeat_section(pulse)]
    sections.append(lvsd_section(lvsd_agent, report.now))
    sections += service_sections(report)
    return {"title": f"{host}: {headline_text(pulse_agent)}", "host": host,
            "headline": headline(pulse_agent, host),
            "generated": clock(report.now), "refresh_seconds": REFRESH_SECONDS,
            "sections": sections}


def headline_text(agent: AgentState) -> str:
    if agent.data is None or not agent.running:
        return f"pulse {agent.reason}"
    return str(agent.data.get("state", "unknown")).upper()


def headline(agent: AgentState, host: str) -> Cell:
    text = f"{host} is {headline_text(agent)}"
    if agent.data is None or not agent.running:
        return cell(text, "bad")
    pulse = agent.data
    mode = "bgp mode" if pulse.get("mode") == "bgp" else f"{pulse.get('node', '?')} of the pair"
    return cell(f"{text} ({mode})", state_tone(pulse))


def state_tone(pulse: dict[str, Any]) -> str:
    state = pulse.get("state")
    if state == "active":
        return "ok"
    return "warn" if state == "draining" else ""


def running_tone(agent: AgentState) -> str:
    return "ok" if agent.running else "bad"


def agents_section(report: Report) -> Section:
    rows = []
    for name, agent in report.agents.items():
        data = agent.data or {}
        age = "" if agent.age is None else f"{agent.age:.1f} s"
        rows.append([cell(name), cell(agent.reason, running_tone(agent)),
                     cell(data.get("pid", "")), cell(age)])
    return section("Agents", rows, ["agent", "status", "pid", "status file age"])


def router_section(agent: AgentState, now: float) -> Section:
    pulse = agent.data
    if pulse is None:
        return section("This router", [pair("state", "unknown: no pulse.json", "bad")])
    flags = [str(flag) for flag in as_list(pulse.get("flags"))]
    child = as_dict(pulse.get("lvsd"))
    rows = [pair("state", pulse.get("state", "unknown"), state_tone(pulse)),
            pair("node", pulse.get("node", "?")),
            pair("mode", pulse.get("mode", "pair")),
            pair("since", f"{clock(pulse.get('since'))} ({ago(now, pulse.get('since'))})"),
            pair("transitions", as_int(pulse.get("transitions"))),
            pair("flags", ", ".join(flags) or "none", "bad" if flags else ""),
            pair("lvsd child", f"pid {child.get('pid')}, "
                 f"{'ready' if child.get('ready') else 'NOT ready'},"
                 f" restarts {as_int(child.get('restarts'))}"
                 f"{', adopted from a killed pulse' if child.get('adopted') else ''}",
                 "" if child.get("ready") else "bad")]
    rows += last_good_rows(pulse)
    return section("This router", rows)


def last_good_rows(document: dict[str, Any]) -> list[list[Cell]]:
    last_good = as_dict(document.get("last_good"))
    if not last_good.get("in_use"):
        return []
    return [pair("lvs.cf", f"REFUSED: {last_good.get('problem')}", "bad"),
            pair("running", f"the last good lvs.cf from {clock(last_good.get('saved_at'))}"
                 f" ({last_good.get('path', '?')})", "warn")]


# pulse's peer states: its last heartbeat's flag (running: it holds the VIPs), or unknown once
# no heartbeat came for deadtime (pulse_daemon).
PEER_STATES = {"running": "running (holds the VIPs)",
               "stopped": "stopped (standby, heartbeats arrive)",
               "unknown": "unknown (no heartbeat within deadtime)"}


def active_router(pulse: dict[str, Any]) -> Cell:
    """Who holds the VIPs, as this router sees it."""
    here = pulse.get("state") == "active"
    peer = as_dict(pulse.get("peer")).get("state") == "running"
    if here and peer:
        return cell("BOTH this router and the peer", "bad")
    if here or peer:
        return cell("this router" if here else "the peer", "ok")
    return cell("NONE known", "bad")


def peer_section(pulse: dict[str, Any], now: float) -> Section:
    peer = as_dict(pulse.get("peer"))
    state = str(peer.get("state", "unknown"))
    return section("Peer", [
        pair("addresses", ", ".join(str(a) for a in as_list(peer.get("addresses"))) or "?"),
        pair("state", PEER_STATES.get(state, state), "bad" if state == "unknown" else ""),
        pair("last heartbeat", ago(now, peer.get("last_heartbeat"))),
        [cell("active router"), active_router(pulse)]])


def bgp_section(pulse: dict[str, Any]) -> Section:
    return section("BGP", [pair("min healthy", pulse.get("min_healthy", "?")),
                           pair("announcements", as_int(pulse.get("announcements"))),
                           pair("withdrawals", as_int(pulse.get("withdrawals")))])


def vip_section(pulse: dict[str, Any]) -> Section:
    active = pulse.get("state") == "active"
    rows = []
    for vip in as_list(pulse.get("vips")):
        vip = as_dict(vip)
        if pulse.get("mode") == "bgp":
            announced = bool(vip.get("announced"))
            rows.append([cell(vip.get("ip")), cell(""),
                         cell("announced" if announced else "WITHDRAWN",
                              "ok" if announced else "bad")])
            continue
        present = bool(vip.get("present"))
        rows.append([cell(f"{vip.get('ip')}/{vip.get('prefix', '?')}"),
                     cell(vip.get("label") or vip.get("device") or "?"),
                     cell("present" if present else "absent",
                          "ok" if present else ("bad" if active else ""))])
    return section("Virtual IP addresses", rows, ["address", "on", "here"],
                   None if rows else cell("none"))


def heartbeat_section(pulse: dict[str, Any]) -> Section:
    beat = as_dict(pulse.get("heartbeat"))
    rejected = as_dict(beat.get("rejected"))
    rows = [pair("port", beat.get("port", "?")),
            pair("keepalive / deadtime", f"{beat.get('keepalive')} s / {beat.get('deadtime')} s"),
            pair("authenticated", "yes" if beat.get("authenticated") else "NO",
                 "" if beat.get("authenticated") else "bad"),
            pair("sent", as_int(beat.get("sent"))),
            pair("received", as_int(beat.get("received"))),
            pair("refused by the peer's host", as_int(beat.get("peer_refused")))]
    for reason in reject_reasons(rejected):
        count = as_int(rejected.get(reason))
        rows.append(pair(f"rejected: {reason}", count, "warn" if count else ""))
    return section("Heartbeats", rows)


def lvsd_section(agent: AgentState, now: float) -> Section:
    lvsd = agent.data
    if lvsd is None:
        return section("lvsd", [pair("state", "unknown: no lvsd.json", "bad")])
    checks = as_dict(lvsd.get("checks"))
    failed = as_int(checks.get("failed"))
    rows = [pair("config", lvsd.get("config", "?")),
            pair("reloads", as_int(lvsd.get("reloads"))),
            pair("last reconcile", ago(now, lvsd.get("last_reconcile"))),
            pair("checks", f"{as_int(checks.get('total'))} total, {failed} failed,"
                 f" {as_int(checks.get('running'))} running", "warn" if failed else "")]
    rows += last_good_rows(lvsd)
    unkeyed = unkeyed_virtuals(lvsd)
    if unkeyed:
        rows.append(pair("not matched", f"no service key for {', '.join(unkeyed)} (lvsd.json of"
                         " an older lvsd?): their health is not shown", "warn"))
    return section("lvsd", rows)


SERVER_COLUMNS = ["server", "address", "health", "forwarding", "configured weight", "weight",
                  "active connections", "inactive connections"]


def health_tone(healthy: object) -> str:
    if healthy is None:
        return ""
    return "ok" if healthy else "bad"


def sorry_virtuals(lvsd: dict[str, Any] | None) -> set[str]:
    return {str(as_dict(v).get("name")) for v in as_list(as_dict(lvsd).get("virtuals"))
            if as_dict(v).get("sorry_active")}


def service_sections(report: Report) -> list[Section]:
    lvsd = report.agents["lvsd"].data
    document = table_document(report.table, lvsd)
    if not document["available"]:
        return [section("IPVS", [], SERVER_COLUMNS, cell(document["error"], "bad"))]
    if not document["services"]:
        return [section("IPVS", [], SERVER_COLUMNS, cell("the IPVS table is empty", "warn"))]
    sorry = sorry_virtuals(lvsd)
    sections = []
    for service in document["services"]:
        title = f"{service['service']} {service['scheduler']}"
        if service["virtual"]:
            title += f" (virtual {service['virtual']})"
        rows = [[cell(dest["server"] or "-"), cell(host_port(dest["address"], dest["port"])),
                 cell(dest["health"] or "unknown", health_tone(dest["healthy"])),
                 cell(dest["forwarding"]), cell(count_text(dest["configured_weight"])),
                 cell(dest["weight"]), cell(count_text(dest["active_connections"])),
                 cell(count_text(dest["inactive_connections"]))]
                for dest in service["destinations"]]
        rows += [[cell(server["server"] or "-"),
                  cell(host_port(server["address"], server["port"])),
                  cell(server["health"] or "unknown", health_tone(server["healthy"])),
                  cell("not in the table", "warn"), cell(count_text(server["configured_weight"])),
                  cell("-"), cell("-"), cell("-")] for server in service["not_in_table"]]
        note = (cell("SORRY SERVER ACTIVE", "bad") if service["virtual"] in sorry
                else None if rows else cell("no real server", "warn"))
        sections.append(section(title, rows, SERVER_COLUMNS, note))
    return sections


def host_port(address: str, port: object) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def status_json(report: Report, host: str | None = None) -> str:
    """``/status.json``: the view the page draws and lvs-status's JSON document."""
    view = build_view(report, host or os.uname().nodename)
    return json.dumps({**view, "report": report_document(report)}, sort_keys=True)


# --- HTML ---------------------------------------------------------------------------------------

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1f2328;background:#fff}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .3em}
table{border-collapse:collapse;margin:.2em 0}
th,td{border:1px solid #d0d7de;padding:.2em .6em;text-align:left;vertical-align:top}
thead th{background:#f6f8fa}tbody th{font-weight:normal;color:#57606a}
.ok{color:#1a7f37}.warn{color:#9a6700;font-weight:bold}.bad{color:#cf222e;font-weight:bold}
#refresh{color:#57606a;font-size:.9em}
#sections{display:flex;flex-wrap:wrap;align-items:flex-start;gap:0 2.5em}
"""

SCRIPT = """
(function () {
  "use strict";
  var refreshed = 0;
  function node(tag, text, tone) {
    var element = document.createElement(tag);
    if (text !== undefined) element.textContent = text;
    if (tone) element.className = tone;
    return element;
  }
  function row(cells, labelled) {
    var tr = node("tr");
    cells.forEach(function (c, i) {
      tr.appendChild(node(labelled && i === 0 ? "th" : "td", c.text, c.tone));
    });
    return tr;
  }
  function drawSection(s) {
    var part = node("section");
    part.appendChild(node("h2", s.title));
    if (s.note) part.appendChild(node("p", s.note.text, s.note.tone));
    if (!s.rows.length) return part;
    var table = node("table");
    if (s.kind === "table") {
      var head = node("tr");
      s.columns.forEach(function (c) { head.appendChild(node("th", c)); });
      table.appendChild(node("thead")).appendChild(head);
    }
    var body = table.appendChild(node("tbody"));
    s.rows.forEach(function (r) { body.appendChild(row(r, s.kind === "pairs")); });
    part.appendChild(table);
    return part;
  }
  function draw(view) {
    document.title = view.title;
    var headline = document.getElementById("headline");
    headline.textContent = view.headline.text;
    headline.className = view.headline.tone;
    var sections = document.getElementById("sections");
    sections.replaceChildren.apply(sections, view.sections.map(drawSection));
  }
  function say(text, tone) {
    var line = document.getElementById("refresh");
    line.textContent = text;
    line.className = tone || "";
  }
  function refresh(seconds) {
    fetch("status.json", {cache: "no-store", credentials: "same-origin"})
      .then(function (answer) {
        if (!answer.ok) throw new Error("HTTP " + answer.status);
        return answer.json();
      })
      .then(function (view) {
        draw(view);
        seconds = view.refresh_seconds || seconds;
        refreshed += 1;
        document.body.setAttribute("data-refreshes", String(refreshed));
        say("as of " + view.generated + ", refreshed every " + seconds + " s");
      })
      .catch(function (error) {
        say("refresh failed (" + error.message + "): the page shows older data", "bad");
      })
      .then(function () { setTimeout(function () { refresh(seconds); }, seconds * 1000); });
  }
  refresh(Number(document.body.getAttribute("data-refresh-seconds")) || 5);
})();
"""


def _csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


# The inline script and style are allowed by their hashes, nothing else at all: no other
# script, no frame, no form, no connection but to this endpoint.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; script-src {_csp_hash(SCRIPT)}; style-src {_csp_hash(STYLE)}; "
    "connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'")


def _escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def _tone(value: Cell) -> str:
    return f' class="{_escape(value["tone"])}"' if value["tone"] else ""


def _cell_html(value: Cell, tag: str) -> str:
    return f"<{tag}{_tone(value)}>{_escape(value['text'])}</{tag}>"


def section_html(part: Section) -> list[str]:
    out = ["<section>", f"<h2>{_escape(part['title'])}</h2>"]
    if part["note"]:
        out.append(f"<p{_tone(part['note'])}>{_escape(part['note']['text'])}</p>")
    if not part["rows"]:
        return [*out, "</section>"]
    out.append("<table>")
    if part["kind"] == "table":
        out.append("<thead><tr>" + "".join(f"<th>{_escape(c)}</th>" for c in part["columns"])
                   + "</tr></thead>")
    out.append("<tbody>")
    labelled = part["kind"] == "pairs"
    for cells in part["rows"]:
        out.append("<tr>" + "".join(_cell_html(c, "th" if labelled and i == 0 else "td")
                                    for i, c in enumerate(cells)) + "</tr>")
    out.append("</tbody></table></section>")
    return out


def render_page(report: Report, host: str | None = None) -> str:
    """The whole page, readable as it comes (the script only keeps it current)."""
    view = build_view(report, host or os.uname().nodename)
    body = [f'<h1 id="headline"{_tone(view["headline"])}>{_escape(view["headline"]["text"])}'
            "</h1>",
            f'<p id="refresh">as of {_escape(view["generated"])}'
            " (served by pulse; without JavaScript, reload to refresh)</p>",
            '<div id="sections">']
    for part in view["sections"]:
        body += section_html(part)
    body.append("</div>")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_escape(view['title'])}</title>",
        f"<style>{STYLE}</style></head>",
        f'<body data-refresh-seconds="{REFRESH_SECONDS}">',
        *body,
        f"<script>{SCRIPT}</script>",
        "</body></html>", ""])
