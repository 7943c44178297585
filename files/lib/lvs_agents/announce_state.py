# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which VIPs a router announces in bgp mode (``router_ha: bgp``), as pure functions: no I/O and
no clock, like ``pulse_state.step``.

A VIP is announced while lvsd has programmed its table (READY), every virtual on the VIP has had
its first round of checks, and at least one of those virtuals has ``min_healthy`` real servers
passing (the sorry server does not count). It is withdrawn otherwise, when lvsd is gone, and
first thing on a planned stop. "At least one virtual" rather than "every virtual": the routers
share their real servers, so a pool that is down everywhere would make every router withdraw
the VIP, and with it the VIP's other services; give services that must fail apart their own
VIPs.

``step`` returns the withdrawals before the announcements, so that a router never announces
more than it can serve, even for an instant."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

ANNOUNCE = "ANNOUNCE"
WITHDRAW = "WITHDRAW"

Action = tuple[str, str]  # (ANNOUNCE or WITHDRAW, VIP)


@dataclass(frozen=True)
class VirtualHealth:
    """One virtual service as lvsd last reported it."""

    vip: str
    checked: bool  # each of its real servers has had a first check
    healthy: int  # real servers passing their checks


@dataclass(frozen=True)
class Inputs:
    lvsd_ready: bool
    virtuals: tuple[VirtualHealth, ...] = field(default_factory=tuple)
    min_healthy: int = 1
    stopping: bool = False

    def __post_init__(self) -> None:
        if self.min_healthy < 1:
            raise ValueError(f"min_healthy must be at least 1, not {self.min_healthy}")


def wanted(inputs: Inputs) -> frozenset[str]:
    """The VIPs this router should announce now."""
    if inputs.stopping or not inputs.lvsd_ready:
        return frozenset()
    by_vip: dict[str, list[VirtualHealth]] = {}
    for virtual in inputs.virtuals:
        by_vip.setdefault(virtual.vip, []).append(virtual)
    return frozenset(
        vip for vip, virtuals in by_vip.items()
        if all(v.checked for v in virtuals)
        and any(v.healthy >= inputs.min_healthy for v in virtuals))


def step(announced: frozenset[str], inputs: Inputs) -> tuple[frozenset[str], list[Action]]:
    """The VIPs announced after this step, and the actions that get there, withdrawals first."""
    target = wanted(inputs)
    actions = [(WITHDRAW, vip) for vip in sorted(announced - target)]
    actions += [(ANNOUNCE, vip) for vip in sorted(target - announced)]
    return target, actions


def virtual_health(vip_of: Mapping[str, str], lvsd_virtuals: Iterable[object]
                   ) -> tuple[VirtualHealth, ...]:
    """``VirtualHealth`` of each virtual in lvsd.json's ``virtuals`` whose name ``vip_of``
    knows (the virtual's address in lvs.cf; a fwmark service has one too). An entry of another
    shape counts as a virtual with no healthy server, never as a healthy one."""
    result = []
    for entry in lvsd_virtuals:
        if not isinstance(entry, dict) or entry.get("name") not in vip_of:
            continue
        servers = entry.get("servers")
        real = [s for s in servers if isinstance(s, dict) and not s.get("sorry")] \
            if isinstance(servers, list) else []
        checked = isinstance(servers, list) and all(s.get("last_check") is not None
                                                    for s in real)
        healthy = sum(1 for s in real if s.get("healthy") is True)
        result.append(VirtualHealth(vip_of[entry["name"]], checked, healthy))
    return tuple(result)
