# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPVS table lvsd talks to: the kernel over netlink, or (``--test-start``) a shadow copy
that logs every operation and applies it to memory only."""

from __future__ import annotations

import logging
from collections.abc import Callable

from lvs_cluster.ipvs import netlink as nl
from lvs_cluster.ipvs.model import Destination, Service, ServiceKey
from lvs_cluster.ipvs.reconcile import MemoryTable, Operation, Plan, plan_timeouts
from lvs_cluster.ipvs.reconcile import apply as apply_plan

log = logging.getLogger("lvsd")

KernelFactory = Callable[[], nl.IpvsNetlink]


class KernelTable:
    """The kernel's IPVS table through netlink."""

    def __init__(self, kernel: nl.IpvsNetlink) -> None:
        self.kernel = kernel

    def services(self) -> dict[ServiceKey, Service]:
        return {service.key: service for service, _stats in self.kernel.services()}

    def destinations(self, service: Service) -> tuple[Destination, ...]:
        return tuple(d for d, _state in self.kernel.destinations(service, with_state=False))

    def execute(self, the_plan: Plan, live: dict[Service, tuple[Destination, ...]]) -> None:
        for operation in the_plan.operations:
            log.info("ipvs: %s", _describe(operation))
        apply_plan(self.kernel, the_plan, live)

    def set_timeouts(self, timeouts: nl.Timeouts) -> None:
        """An operation of the reconcile engine: only when a timeout differs, undone if the
        kernel refuses it (0 keeps the live value, as ``ipvsadm --set``)."""
        self.execute(Plan(plan_timeouts(timeouts, self.kernel.timeouts())), {})


class ShadowTable(MemoryTable):
    """``--test-start``: operations are logged and applied to a copy, never to the kernel."""

    def execute(self, the_plan: Plan, live: dict[Service, tuple[Destination, ...]]) -> None:
        for operation in the_plan.operations:
            log.info("test-start, not applied: %s", _describe(operation))
        self.apply(the_plan.operations)

    def set_timeouts(self, timeouts: nl.Timeouts) -> None:
        log.info("test-start, not applied: set timeouts tcp %d tcpfin %d udp %d",
                 timeouts.tcp, timeouts.tcp_fin, timeouts.udp)


def _describe(operation: Operation) -> str:
    described = operation.describe()
    if operation.setting:
        return f"{described['action']} {described.get('changes', '')}".rstrip()
    text = f"{described['action']} {described['service']}"
    if "destination" in described:
        text += f" destination {described['destination']}"
    if operation.destination is not None and operation.action != "delete_destination":
        text += f" weight {operation.destination.weight}"
    if "changes" in described:
        text += f" {described['changes']}"
    return text


def open_table(kernel_factory: KernelFactory, test_start: bool) -> KernelTable | ShadowTable:
    """The kernel's table; with --test-start a shadow copy of it (empty without IPVS)."""
    if not test_start:
        return KernelTable(kernel_factory())
    try:
        kernel = kernel_factory()
        table = KernelTable(kernel)
        initial = {s: table.destinations(s) for s in table.services().values()}
        kernel.close()
    except OSError as error:
        log.info("test-start: cannot read IPVS (%s); starting from an empty table", error)
        initial = {}
    return ShadowTable(initial)
