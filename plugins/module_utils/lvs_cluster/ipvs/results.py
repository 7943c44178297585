# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPVS model as the modules' results: services and destinations in the modules' option
names (valid input again), counters, timeouts, sync daemons, operations, and a stable order.
"""

from __future__ import annotations

import ipaddress

from . import codec
from . import reconcile as rc
from .model import Destination, Service
from .options import SCHEDULER_FLAGS, host_port


def _present(values: dict) -> dict:
    # Options that do not apply are left out rather than null: Ansible refuses null for an
    # option with choices, and results must be usable as options again.
    return {k: v for k, v in values.items() if v is not None}


def service_result(service: Service) -> dict:
    """A service as the options of ipvs_service / an entry of ipvs_table's ``services``
    (address, protocol and port, or fwmark; persistence_netmask and pe_name only when set)."""
    return _present({
        "family": service.family,
        "protocol": service.protocol,
        "address": service.address,
        "port": service.port,
        "fwmark": service.fwmark,
        "scheduler": service.scheduler,
        "persistence_timeout": service.timeout if service.persistent else 0,
        "persistence_netmask": service.netmask,
        "one_packet": "one-packet" in service.flags,
        "scheduler_flags": sorted(f for f in service.flags if f in SCHEDULER_FLAGS),
        "pe_name": service.pe_name,
    })


def destination_result(dest: Destination) -> dict:
    """A destination as the options of ipvs_real_server / an entry of ``destinations``
    (tunnel_type only with forwarding tunnel, tunnel_port only when set)."""
    tunnel = dest.forwarding == "tunnel"
    return _present({
        "address": dest.address,
        "port": dest.port,
        "forwarding": dest.forwarding,
        "weight": dest.weight,
        "upper_threshold": dest.upper_threshold,
        "lower_threshold": dest.lower_threshold,
        "tunnel_type": (dest.tunnel_type or "ipip") if tunnel else None,
        "tunnel_port": dest.tunnel_port,
        "tunnel_flags": sorted(dest.tunnel_flags),
    })


def stats_result(stats: codec.Stats) -> dict:
    """Traffic counters: totals (conns, packets, bytes) and rates (per second)."""
    return {name: getattr(stats, name) for name in codec.STATS_FIELDS}


def destination_state_result(state: codec.DestinationState) -> dict:
    return {
        "active_connections": state.active_conns,
        "inactive_connections": state.inactive_conns,
        "persistent_connections": state.persistent_conns,
        "stats": stats_result(state.stats),
    }


def timeouts_result(timeouts: codec.Timeouts) -> dict:
    return {"tcp": timeouts.tcp, "tcp_fin": timeouts.tcp_fin, "udp": timeouts.udp}


def daemon_result(daemon: codec.SyncDaemon) -> dict:
    return {"state": daemon.state, "interface": daemon.interface, "sync_id": daemon.sync_id,
            "max_len": daemon.max_len, "group": daemon.group, "port": daemon.port,
            "ttl": daemon.ttl}


def _changes(before: dict, after: dict) -> dict:
    return {k: [before.get(k), after.get(k)] for k in {**before, **after}
            if before.get(k) != after.get(k)}


def operation_result(op: rc.Operation) -> dict:
    """Operation.describe() in the modules' vocabulary: option names in ``changes``."""
    out = dict(op.describe())
    if op.destination is not None:
        out["destination"] = host_port(op.destination)
    changes = None
    if op.action == "edit_service" and isinstance(op.before, Service):
        changes = _changes(service_result(op.before), service_result(op.service))
    elif op.action == "edit_destination" and isinstance(op.before, Destination):
        changes = _changes(destination_result(op.before), destination_result(op.destination))
    if changes:  # else a difference the options cannot express: keep the model's fields
        out["changes"] = changes
    return out


def sort_key(service: Service) -> tuple:
    """Services in a stable order: address services by family, address, protocol, port; then
    fwmark services."""
    if service.fwmark is not None:
        return (1, service.family, 0, service.fwmark, "", 0)
    return (0, service.family, int(ipaddress.ip_address(service.address)), 0,
            service.protocol, service.port)


def dest_sort_key(dest: Destination) -> tuple:
    parsed = ipaddress.ip_address(dest.address)
    return (parsed.version, int(parsed), dest.port)
