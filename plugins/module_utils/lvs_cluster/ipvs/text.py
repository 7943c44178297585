# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Text in the form of ``ipvsadm -S -n`` (ipvsadm-save), for diffs: one line per service or
destination, then the timeouts and sync daemons a run manages.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from .. import vocabulary
from . import codec
from .model import Destination, Service
from .options import SCHEDULER_FLAGS, host_port
from .results import dest_sort_key, sort_key

_PROTOCOL_SWITCH = vocabulary.IPVSADM_PROTOCOL_SWITCH
_FORWARDING_SWITCH = vocabulary.IPVSADM_FORWARDING_SWITCH


def _service_switch(service: Service) -> str:
    if service.fwmark is not None:
        return f"-f {service.fwmark}" + (" -6" if service.family == "inet6" else "")
    host = f"[{service.address}]" if service.family == "inet6" else service.address
    return f"{_PROTOCOL_SWITCH[service.protocol]} {host}:{service.port}"


def service_rule(service: Service) -> str:
    parts = [f"-A {_service_switch(service)} -s {service.scheduler}"]
    if service.persistent:
        parts.append(f"-p {service.timeout}")
    if service.netmask is not None:
        if service.family == "inet":
            mask = (0xFFFFFFFF << (32 - service.netmask)) & 0xFFFFFFFF
            parts.append(f"-M {ipaddress.IPv4Address(mask)}")
        else:
            parts.append(f"-M {service.netmask}")
    if service.pe_name:
        parts.append(f"--pe {service.pe_name}")
    if "one-packet" in service.flags:
        parts.append("-o")
    sched_flags = sorted(f for f in service.flags if f in SCHEDULER_FLAGS)
    if sched_flags:
        parts.append(f"-b {','.join(sched_flags)}")
    return " ".join(parts)


def destination_rule(service: Service, dest: Destination) -> str:
    parts = [f"-a {_service_switch(service)} -r {host_port(dest)}",
             _FORWARDING_SWITCH[dest.forwarding], f"-w {dest.weight}"]
    if dest.upper_threshold:
        parts.append(f"-x {dest.upper_threshold}")
    if dest.lower_threshold:
        parts.append(f"-y {dest.lower_threshold}")
    if dest.forwarding == "tunnel":
        parts.append(f"--tun-type {dest.tunnel_type or 'ipip'}")
        if dest.tunnel_type:
            if dest.tunnel_port:
                parts.append(f"--tun-port {dest.tunnel_port}")
            if "remcsum" in dest.tunnel_flags:
                parts.append("--tun-remcsum")
            elif "csum" in dest.tunnel_flags:
                parts.append("--tun-csum")
            else:
                parts.append("--tun-nocsum")
    if dest.forwarding == "local":
        parts.append("# local")
    return " ".join(parts)


def table_text(table: Mapping[Service, Iterable[Destination]]) -> str:
    """A table as ipvsadm-save rules, one line per object, services in a stable order."""
    lines = []
    for service in sorted(table, key=sort_key):
        lines.append(service_rule(service))
        lines += [destination_rule(service, d)
                  for d in sorted(table[service], key=dest_sort_key)]
    return "".join(line + "\n" for line in lines)


def daemon_line(daemon: codec.SyncDaemon) -> str:
    parts = [f"--start-daemon {daemon.state} --mcast-interface {daemon.interface}",
             f"--syncid {daemon.sync_id}"]
    for name, switch in (("max_len", "--sync-maxlen"), ("group", "--mcast-group"),
                         ("port", "--mcast-port"), ("ttl", "--mcast-ttl")):
        value = getattr(daemon, name)
        if value is not None:
            parts.append(f"{switch} {value}")
    return " ".join(parts)


def settings_text(timeouts: Mapping[str, int], daemons: Iterable[codec.SyncDaemon]) -> str:
    """Managed timeouts as a comment line (ipvsadm-save has none), then the sync daemons."""
    lines = []
    if timeouts:
        lines.append("# timeouts " + " ".join(f"{k}={v}" for k, v in sorted(timeouts.items())))
    lines += [daemon_line(d) for d in sorted(daemons, key=lambda d: d.state)]
    return "".join(line + "\n" for line in lines)
