# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tables of bench/reconcile.py: a mixed IPVS table of any size, its changed copies, and
the same as ipvsadm-restore input (standard library only; runs on the guest).

Service i of a rung (the pattern repeats every 20 services):
  0-11  TCP, IPv4 VIP 10.10.x.y:80        12-14  UDP, IPv4 VIP 10.10.x.y:53
  15-16 fwmark i+1 (IPv4), direct routing 17-19  TCP, IPv6 VIP [fd00:10::i]:443
every 50th (i % 50 == 3) persistent for 300 s; scheduler wlc. Each service has ``dests``
real servers of its own (NAT, weight 1; IPv4 10.2x.y.z or IPv6 fd00:20::a:b).
"""

from __future__ import annotations

import dataclasses

FORWARDING_OPTION = {"nat": "-m", "direct": "-g", "tunnel": "-i"}


def build_desired(model, services: int, dests: int) -> dict:
    table = {}
    k = 0
    for i in range(services):
        kind = i % 20
        persistent = {"flags": {"persistent"}, "timeout": 300} if i % 50 == 3 else {}
        v4 = f"10.10.{i // 250}.{i % 250 + 1}"
        forwarding = "nat"
        if kind < 12:
            service = model.Service("inet", "tcp", v4, 80, scheduler="wlc", **persistent)
        elif kind < 15:
            service = model.Service("inet", "udp", v4, 53, scheduler="wlc", **persistent)
        elif kind < 17:
            service = model.Service("inet", None, None, None, fwmark=i + 1, scheduler="wlc",
                                    **persistent)
            forwarding = "direct"
        else:
            service = model.Service("inet6", "tcp", f"fd00:10::{i:x}", 443, scheduler="wlc",
                                    **persistent)
        port = service.port or 80
        members = []
        for _ in range(dests):
            address = (f"fd00:20::{k >> 16:x}:{k & 0xFFFF:x}" if service.family == "inet6"
                       else f"10.{20 + k // 62500}.{k // 250 % 250}.{k % 250 + 1}")
            members.append(model.Destination(address, port, forwarding=forwarding, weight=1))
            k += 1
        table[service] = tuple(members)
    return table


def changed_table(desired: dict, every: int) -> tuple[dict, int, int]:
    """Every ``every``-th service scheduler wlc -> rr, every ``every``-th destination (counted
    over the whole table, from the middle of the first stride) weight 1 -> 2: 1/every of
    the objects."""
    replace = dataclasses.replace
    out = {}
    services = destinations = 0
    k = 0
    for i, (service, dests) in enumerate(desired.items()):
        if i % every == 0:
            service = replace(service, scheduler="rr")
            services += 1
        new = []
        for dest in dests:
            if k % every == every // 2:
                dest = replace(dest, weight=dest.weight + 1)
                destinations += 1
            new.append(dest)
            k += 1
        out[service] = tuple(new)
    return out, services, destinations


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def service_option(service) -> str:
    if service.fwmark is not None:
        return f"-f {service.fwmark}" + (" -6" if service.family == "inet6" else "")
    flag = {"tcp": "-t", "udp": "-u", "sctp": "--sctp-service"}[service.protocol]
    return f"{flag} {_host(service.address)}:{service.port}"


def service_line(verb: str, service) -> str:
    """-A / -E: every option (an edit without -p would drop the persistence)."""
    line = f"{verb} {service_option(service)} -s {service.scheduler}"
    if service.timeout:
        line += f" -p {service.timeout}"
    return line


def destination_line(verb: str, service, dest) -> str:
    return (f"{verb} {service_option(service)} -r {_host(dest.address)}:{dest.port} "
            f"{FORWARDING_OPTION[dest.forwarding]} -w {dest.weight}")


def restore_lines(table: dict) -> list[str]:
    """The table as ipvsadm-restore input."""
    lines = []
    for service, dests in table.items():
        lines.append(service_line("-A", service))
        lines += [destination_line("-a", service, d) for d in dests]
    return lines


def change_lines(before: dict, after: dict) -> list[str]:
    """ipvsadm -R edits (-E / -e) that turn ``before`` into ``after`` (same keys, same order)."""
    old = {s.key: (s, d) for s, d in before.items()}
    lines = []
    for service, dests in after.items():
        old_service, old_dests = old[service.key]
        if old_service != service:
            lines.append(service_line("-E", service))
        lines += [destination_line("-e", service, d)
                  for d, o in zip(dests, old_dests, strict=True) if d != o]
    return lines


def count_objects(table: dict) -> int:
    return len(table) + sum(len(d) for d in table.values())

