# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What lvsd takes from lvs.cf, and nothing more: each active virtual (without its server
blocks) with its service and, for each checked server, what does not change while lvsd runs
(its destination at full weight, its check, its health policy, its load command).

Immutable and picklable, so that a large lvs.cf can be read in a child process
(``lvsd_load``): lvsd then holds these plans' few objects instead of the whole parsed file (at
10,000 virtuals the server blocks alone, with their key lines, are ~90 MB) and none of the
parse's garbage. Equal values are one object: a server in 1,000 virtuals has one check, one
destination and one policy.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, replace
from typing import TypeVar

from lvs_cluster.ipvs.model import Destination, Service
from lvs_cluster.lvs_cf.ipvs import (
    destination_for_server,
    service_for_virtual,
    sorry_destination,
)
from lvs_cluster.lvs_cf.model import LvsConfig, VirtualService

from .checks import CheckSpec
from .health import HealthPolicy, load_command

T = TypeVar("T")


class _Pickled:
    """Pickled as its fields in order: a frozen class with slots cannot be restored field by
    field (Python 3.9 has no ``dataclass(slots=True)``, which adds this)."""

    __slots__ = ()

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return type(self), tuple(getattr(self, name) for name in self.__slots__)


@dataclass(frozen=True)
class MemberPlan(_Pickled):
    """One checked server of a virtual: a real server, or the virtual's sorry server."""

    __slots__ = ("key", "name", "destination", "spec", "policy", "load_argv", "drain", "sorry")
    key: Hashable
    name: str
    destination: Destination  # at full weight
    spec: CheckSpec
    policy: HealthPolicy
    load_argv: tuple[str, ...] | None
    drain: bool
    sorry: bool


@dataclass(frozen=True)
class VirtualPlan(_Pickled):
    __slots__ = ("virtual", "service", "members", "sorry")
    virtual: VirtualService  # without its server blocks
    service: Service
    members: tuple[MemberPlan, ...]
    sorry: MemberPlan | None


@dataclass(frozen=True)
class Planned(_Pickled):
    """lvs.cf as lvsd runs it: ``config`` without server blocks, and the virtuals' plans."""

    __slots__ = ("config", "virtuals")
    config: LvsConfig
    virtuals: tuple[VirtualPlan, ...]


def plan_config(config: LvsConfig, step: float) -> Planned:
    """The plans of ``config``'s active virtuals (none unless ``service = lvs``)."""
    alike: dict[object, object] = {}
    slim = [replace(virtual, servers=()) for virtual in config.virtuals]
    plans = []
    if config.service == "lvs":
        plans = [_plan_virtual(virtual, without_servers, config, step, alike)
                 for virtual, without_servers in zip(config.virtuals, slim)  # noqa: B905 - 3.9
                 if virtual.active]
    return Planned(replace(config, virtuals=tuple(slim)), tuple(plans))


def _plan_virtual(virtual: VirtualService, without_servers: VirtualService, config: LvsConfig,
                  step: float, alike: dict[object, object]) -> VirtualPlan:
    service = service_for_virtual(virtual)
    service_key = service.key
    members = []
    for server in virtual.servers:
        if not server.active or server.address is None:
            continue
        port = server.port if server.port is not None else virtual.port
        argv = load_command(virtual.load_monitor, config.rsh_command, server.address)
        members.append(MemberPlan(
            (service_key, server.address, port), server.name,
            _one(alike, destination_for_server(virtual, server, config)),
            _one(alike, CheckSpec.for_server(virtual, server.address, port)),
            _one(alike, HealthPolicy.for_server(virtual, server, step)),
            None if argv is None else _one(alike, tuple(argv)), server.drain, False))
    sorry = None
    sorry_dest = sorry_destination(virtual, config)
    if sorry_dest is not None:
        policy = HealthPolicy(weight=1, rise=max(1, virtual.effective_rise),
                              fall=max(1, virtual.effective_fall), step=step)
        sorry = MemberPlan((service_key, sorry_dest.address, sorry_dest.port, "sorry"),
                           "sorry_server", sorry_dest,
                           CheckSpec.for_server(virtual, sorry_dest.address, sorry_dest.port),
                           policy, None, False, True)
    return VirtualPlan(without_servers, service, tuple(members), sorry)


def _one(alike: dict[object, object], value: T) -> T:
    """``value``, or the equal one met before."""
    return alike.setdefault(value, value)  # type: ignore[return-value]
