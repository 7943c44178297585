# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What lvsd knows about each virtual and checked server: built from lvs.cf (keeping the health
of servers that stay across a reload), turned into the desired destinations by the core's
health rule (``health_table``) and into lvsd.json's entries."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from lvs_cluster.health_table import Standing, sorry_stands_in, virtual_destinations
from lvs_cluster.ipvs.model import Destination, Service, ServiceKey
from lvs_cluster.lvs_cf.model import LvsConfig, VirtualService

from .checks import CheckSpec
from .health import ServerHealth
from .lvsd_plan import MemberPlan, Planned, plan_config
from .service_names import service_key_document, service_label


class Member:
    """One checked server of a virtual: a real server, or the virtual's sorry server."""

    # slots: one per server of every virtual (100,000 at 10,000 virtuals); what does not
    # change is its plan's (kept whole: copying it left the plans' memory full of holes)
    __slots__ = ("plan", "virtual", "health", "loading", "state")

    def __init__(self, plan: MemberPlan, virtual: str, health: ServerHealth) -> None:
        self.plan = plan
        self.virtual = virtual
        self.health = health
        self.loading = False
        self.state: VirtualState | None = None  # its virtual's, set once that is built

    @property
    def key(self) -> Hashable:
        return self.plan.key

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def destination(self) -> Destination:
        """At full weight."""
        return self.plan.destination

    @property
    def spec(self) -> CheckSpec:
        return self.plan.spec

    @property
    def sorry(self) -> bool:
        return self.plan.sorry

    @property
    def load_argv(self) -> tuple[str, ...] | None:
        return self.plan.load_argv

    @property
    def drain(self) -> bool:
        """lvs.cf's ``drain = 1``: in the table at weight 0 while healthy."""
        return self.plan.drain

    @property
    def service_key(self) -> ServiceKey:
        return self.plan.key[0]  # type: ignore[index, no-any-return]

    @property
    def weight(self) -> int:
        """The weight it has in the table: its health's, 0 while it drains or is out."""
        return 0 if self.plan.drain or not self.health.in_table else self.health.weight

    @property
    def standing(self) -> Standing:
        return Standing(self.health.in_table, self.weight)


@dataclass
class VirtualState:
    virtual: VirtualService
    service: Service
    members: list[Member]
    sorry: Member | None
    # its entry in lvsd.json as last serialized, and whether it waits for a refresh of its
    # counters (``lvsd_status``)
    status_text: str | None = field(default=None, repr=False, compare=False)
    status_waiting: bool = field(default=False, repr=False, compare=False)

    def sorry_active(self) -> bool:
        return self.sorry is not None and sorry_stands_in(
            self.sorry.health.in_table, (m.standing for m in self.members))

    def desired(self) -> tuple[Destination, ...]:
        """Servers whose health says in the table, at their current weight; the sorry server
        (while healthy) when none of them is up."""
        return virtual_destinations(
            ((m.destination, m.standing) for m in self.members),
            None if self.sorry is None else self.sorry.destination,
            sorry_healthy=self.sorry is not None and self.sorry.health.in_table)

    def status(self) -> dict[str, object]:
        """This virtual's entry in lvsd.json."""
        return {"name": self.virtual.name,
                "service": service_label(self.service),
                "service_key": service_key_document(self.service),
                "sorry_active": self.sorry_active(),
                "servers": [member_status(m) for m in self.members]
                + ([member_status(self.sorry)] if self.sorry else [])}


def shown(member: Member) -> tuple[object, ...]:
    """What of ``member_status`` a reader acts on: all but the check counters and time."""
    health = member.health
    return health.healthy, health.state, member.weight, health.last_result


def member_status(member: Member) -> dict[str, object]:
    health = member.health
    return {"name": member.name, "address": member.destination.address,
            "port": member.spec.port, "healthy": health.healthy, "state": health.state,
            "weight": member.weight, "drain": member.drain,
            "configured_weight": health.policy.weight, "last_check": health.last_check,
            "last_result": health.last_result, "checks": health.checks,
            "failures": health.failed_checks, "sorry": member.sorry}


def build_virtuals(config: LvsConfig | Planned, old: dict[Hashable, Member], step: float
                   ) -> dict[ServiceKey, VirtualState]:
    """The active virtuals with their members (``config`` planned by ``lvsd_plan`` unless it
    is already); a member whose (service, address, port) was there before keeps its health
    (reconfigured with the new policy)."""
    planned = config if isinstance(config, Planned) else plan_config(config, step)
    states: dict[ServiceKey, VirtualState] = {}
    for plan in planned.virtuals:
        members = [_member(member, plan.virtual, old) for member in plan.members]
        sorry = None if plan.sorry is None else _member(plan.sorry, plan.virtual, old)
        state = states[plan.service.key] = VirtualState(plan.virtual, plan.service, members,
                                                        sorry)
        for member in members + ([sorry] if sorry else []):
            member.state = state
    return states


def _member(plan: MemberPlan, virtual: VirtualService, old: dict[Hashable, Member]) -> Member:
    previous = old.get(plan.key)
    if previous is not None:
        health = previous.health
        health.reconfigure(plan.policy)
    else:
        health = ServerHealth(plan.policy)
    return Member(plan, virtual.name, health)
