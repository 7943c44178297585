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

The parts: ``status_report`` (the sources, lvsd.json matched to the table, the report),
``status_text``, ``status_metrics`` (Prometheus text), ``status_http`` (the endpoint), and this
module (the command). Their names stay importable from here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from . import runtime
from .service_names import service_key, service_key_document, service_label
from .status_metrics import (
    KNOWN_FLAGS,
    Metrics,
    current_metrics,
    escape_help,
    escape_label_value,
    format_value,
    heartbeat_metrics,
    lvsd_metrics,
    pulse_metrics,
    render_metrics,
    server_metrics,
    table_metrics,
)
from .status_report import (
    AGENTS,
    EXIT_AGENT_DOWN,
    EXIT_IPVS_UNREADABLE,
    EXIT_OK,
    EXIT_USAGE,
    REJECT_REASONS,
    STALE_AFTER,
    AgentState,
    IpvsTable,
    Report,
    ServerHealth,
    describe_ipvs_error,
    gather,
    health_index,
    judge_agent,
    pid_alive,
    read_ipvs_table,
    report_document,
    table_document,
    virtual_names,
)
from .status_text import lvsd_lines, pulse_lines, render_text, table_lines

if TYPE_CHECKING:  # at run time through __getattr__ below
    from .status_http import (
        CONTENT_TYPE,
        DEFAULT_METRICS_HOST,
        DEFAULT_METRICS_PORT,
        MetricsServer,
        start_metrics_server,
    )

__all__ = [
    "AGENTS", "CONTENT_TYPE", "DEFAULT_METRICS_HOST", "DEFAULT_METRICS_PORT", "EXIT_AGENT_DOWN",
    "EXIT_IPVS_UNREADABLE", "EXIT_OK", "EXIT_USAGE", "KNOWN_FLAGS", "REJECT_REASONS",
    "STALE_AFTER", "AgentState", "IpvsTable", "Metrics", "MetricsServer", "Report",
    "ServerHealth", "current_metrics", "describe_ipvs_error", "escape_help",
    "escape_label_value", "format_value", "gather", "health_index", "heartbeat_metrics",
    "judge_agent", "lvsd_lines", "lvsd_metrics", "main", "parser", "pid_alive",
    "pulse_lines", "pulse_metrics", "read_ipvs_table", "render_metrics", "render_text",
    "report_document", "server_metrics", "service_key", "service_key_document",
    "service_label", "start_metrics_server", "table_document", "table_lines",
    "table_metrics", "virtual_names",
]

# status_http's names, imported on first use (PEP 562): the command serves nothing, and http.server
# with what it pulls in (email, ssl, html) is about half of lvs-status's start-up in a lab guest.
_HTTP_NAMES = frozenset({"CONTENT_TYPE", "DEFAULT_METRICS_HOST", "DEFAULT_METRICS_PORT",
                         "MetricsServer", "start_metrics_server"})


def __getattr__(name: str) -> object:
    if name in _HTTP_NAMES:
        from . import status_http  # noqa: PLC0415

        return getattr(status_http, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
