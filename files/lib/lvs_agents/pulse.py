# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pulse: the router HA daemon (Piranha §2, with the agents' contracts in docs/agents.md).

Differences from Piranha: authenticated heartbeats, fractional timers, lvsd runs on both nodes
(warm standby), SIGHUP re-reads lvs.cf, ``--norun`` touches nothing, the role is found on any
address of the host (not only an interface's first one, G23), a killed and restarted pulse
resumes as active when it still holds every VIP, and a stopping active node hands over at once.

This module is the command: ``main(argv, netops=None)``. The parts, one job each:
``pulse_setup`` (command line, lvs.cf → floating addresses and heartbeat paths, the key),
``pulse_daemon`` (the loop), ``pulse_heartbeats`` (the heartbeat sockets),
``pulse_state`` (the state machine, a pure function), ``pulse_takeover`` (addresses, ARP,
hooks, sync daemon), ``pulse_tiebreak``, ``pulse_lvsd`` (lvsd as pulse's child) and
``pulse_net`` (the network operations pulse needs, as a protocol: the real ones are
``lvs_agents.netops``; tests pass a recorder as ``netops``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from lvs_cluster.vocabulary import unmapped

from . import runtime
from .last_good import ConfigSource
from .pulse_daemon import STARTUP_GRACE_MIN, Pulse
from .pulse_net import PulseNetops
from .pulse_setup import (
    NAME,
    UsageError,
    address_specs,
    heartbeat_paths,
    load_key,
    parse_args,
    prefix_length,
    split_host_port,
)

log = logging.getLogger(NAME)


def prepare(args: argparse.Namespace, net: PulseNetops | None, source: ConfigSource
            ) -> tuple[Any, PulseNetops, dict[str, str]] | int:
    """Config (lvs.cf, or its last good copy when lvs.cf is bad), netops (``net``, else the
    real ``lvs_agents.netops``) and host addresses, or an exit status (0: backup not
    active)."""
    config = source.load()
    if net is None:
        from . import netops  # noqa: PLC0415 - scapy-free, but only needed for real

        net = netops
    host = {unmapped(a): d for a, d in net.local_addresses().items()}
    paths = heartbeat_paths(config, host)
    if not paths.master and not config.backup_active:
        log.info("backup is marked inactive (backup_active = 0): exiting")
        return 0
    return config, net, host


def main(argv: list[str] | None = None, netops: PulseNetops | None = None) -> int:
    """Run pulse; ``netops`` replaces ``lvs_agents.netops`` (any ``PulseNetops``)."""
    args = parse_args(argv)
    runtime.setup_logging(NAME, args.verbose)
    if args.run_dir:
        os.environ["LVS_CLUSTER_RUN_DIR"] = args.run_dir
    if args.state_dir:
        os.environ["LVS_CLUSTER_STATE_DIR"] = args.state_dir
    source = ConfigSource(args.configfile, args.last_good, log)
    if args.mode == "bgp":
        return run_bgp(args, source)
    try:
        prepared = prepare(args, netops, source)
        if isinstance(prepared, int):
            return prepared
        config, net, host = prepared
        key = load_key(args, config)
        pulse = Pulse(args, config, net, key, host, source)
    except (runtime.ConfigError, UsageError) as error:
        log.error("%s", error)
        return 2
    except ImportError as error:
        log.error("cannot load the network operations: %s", error)
        return 1
    except OSError as error:
        log.error("%s", error)
        return 1
    log.info("starting as %s (%s), heartbeat %s on port %d", "primary" if pulse.paths.master
             else "backup", ", ".join(pulse.paths.own),
             "v2" if key is not None else "legacy", config.heartbeat_port)
    try:
        return pulse.run()
    except OSError as error:
        log.error("%s", error)
        return 1


def run_bgp(args: argparse.Namespace, source: ConfigSource) -> int:
    """bgp mode: no peer, no heartbeat key; the routes instead of addresses and ARP."""
    from . import netops_routes  # noqa: PLC0415 - pyroute2, bgp mode only
    from .pulse_bgp import BgpPulse  # noqa: PLC0415

    try:
        config = source.load()
    except runtime.ConfigError as error:
        log.error("%s", error)
        return 2
    pulse = BgpPulse(args, config, netops_routes, source)
    log.info("starting in bgp mode: %d VIP(s), min_healthy %d", len(pulse.vips),
             args.min_healthy)
    try:
        return pulse.run()
    except OSError as error:
        log.error("%s", error)
        return 1


__all__ = ["NAME", "STARTUP_GRACE_MIN", "Pulse", "PulseNetops", "UsageError", "address_specs",
           "heartbeat_paths", "main", "parse_args", "prefix_length", "split_host_port"]

if __name__ == "__main__":
    sys.exit(main())
