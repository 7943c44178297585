# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reconcile the kernel's IPVS table with a desired one: read, compare, change only what differs.

* Identity is ``Service.key`` / ``Destination.key``; every other field is an option, and a
  changed option is an edit in place (never delete + add, which would drop connections).
* Order: services are added or edited before their destinations; destinations are deleted
  before their services.
* Ownership scope: only services inside the scope (listed VIPs and fwmarks, or everything) are
  ever deleted, so other tools' services survive.
* Transactional: every operation carries its inverse, computed from the live table; when the
  kernel refuses one, the operations already applied are undone in reverse order.
* Beside the table, the kernel's connection timeouts and its sync daemons are operations too
  (``plan_timeouts``, ``plan_sync_daemons``), with their inverses; ``apply`` sends them
  first, in their own batch, then the table.
* Check mode is the plan alone: it needs the read, never a write.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from . import codec
from . import netlink as nl
from .model import Destination, DestinationKey, Service, ServiceKey

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time (start-up)
if TYPE_CHECKING:  # an alias evaluated at import would need Python 3.9 on the target
    from typing import NoReturn, TypeVar

    R = TypeVar("R")

    LiveTable = dict[Service, tuple[Destination, ...]]


@dataclass(frozen=True)
class Scope:
    """Which services a reconcile owns: all of them, or those of the listed VIPs and fwmarks."""

    addresses: frozenset[str] | None = None  # None: every address
    fwmarks: frozenset[int] | None = None  # None: every fwmark
    services: frozenset[ServiceKey] = frozenset()  # these services too, whatever their address

    @classmethod
    def everything(cls) -> Scope:
        return cls()

    @classmethod
    def of(cls, addresses: Iterable[str] = (), fwmarks: Iterable[int] = ()) -> Scope:
        return cls(frozenset(addresses), frozenset(fwmarks))

    @classmethod
    def of_table(cls, table: Mapping[Service, object]) -> Scope:
        return cls.of((s.address for s in table if s.address is not None),
                      (s.fwmark for s in table if s.fwmark is not None))

    @classmethod
    def only(cls, *services: Service) -> Scope:
        """Exactly these services (what a module managing one service owns)."""
        return cls(frozenset(), frozenset(), frozenset(s.key for s in services))

    def owns(self, service: Service) -> bool:
        if service.key in self.services:
            return True
        if service.fwmark is not None:
            return self.fwmarks is None or service.fwmark in self.fwmarks
        return self.addresses is None or service.address in self.addresses

    def union(self, other: Scope) -> Scope:
        """What either scope owns (lvsd after a reload: the old file's and the new one's)."""
        return Scope(_either(self.addresses, other.addresses), _either(self.fwmarks, other.fwmarks),
                     self.services | other.services)


def _either(mine: frozenset | None, theirs: frozenset | None) -> frozenset | None:
    return None if mine is None or theirs is None else mine | theirs


# Operations beside the table: the kernel's settings. They go first, in their own batch.
SETTINGS = frozenset({"set_timeouts", "start_sync_daemon", "stop_sync_daemon"})
TIMEOUT_NAMES = ("tcp", "tcp_fin", "udp")


@dataclass(frozen=True)
class Operation:
    """One change: what to send, what undoes it, and how to report it.

    A table operation names its ``service`` (and ``destination``); ``set_timeouts`` carries
    ``timeouts``, the sync daemon operations their ``daemon``. ``before`` is the live value
    an edit, a deletion, a stop or a timeout change replaces (for a start: the daemon of the
    same state that was running, if any).
    """

    action: str  # add_service edit_service delete_service add_destination ... set_timeouts ...
    service: Service | None = None
    destination: Destination | None = None
    before: Service | Destination | nl.Timeouts | nl.SyncDaemon | None = None
    timeouts: nl.Timeouts | None = None
    daemon: nl.SyncDaemon | None = None

    @property
    def setting(self) -> bool:
        """A change of the kernel's settings, not of the table."""
        return self.action in SETTINGS

    def request(self) -> nl.Request:
        return _REQUEST[self.action](self)

    def inverse(self) -> list[Operation]:
        return _INVERSE[self.action](self)

    def describe(self) -> dict[str, object]:
        if self.setting:
            return _describe_setting(self)
        out: dict[str, object] = {"action": self.action,
                                  "service": nl.describe_service(self.service)}
        if self.destination is not None:
            out["destination"] = f"{self.destination.address}:{self.destination.port}"
        if self.before is not None and self.action.startswith("edit"):
            after = self.destination if self.destination is not None else self.service
            out["changes"] = changed_fields(self.before, after)
        return out


def _describe_setting(op: Operation) -> dict[str, object]:
    out: dict[str, object] = {"action": op.action}
    if op.action == "set_timeouts":
        out["changes"] = {name: [getattr(op.before, name), getattr(op.timeouts, name)]
                          for name in TIMEOUT_NAMES
                          if getattr(op.before, name) != getattr(op.timeouts, name)}
        return out
    if op.action == "stop_sync_daemon":
        out["sync_daemon"] = dataclasses.asdict(op.daemon)
        return out
    running = op.before if isinstance(op.before, nl.SyncDaemon) else None
    new = dataclasses.asdict(codec.expected_daemon(op.daemon, running))
    out["sync_daemon"] = new
    if running is not None:
        old = dataclasses.asdict(running)
        out["changes"] = {k: [old[k], new[k]] for k in new
                          if new[k] is not None and old[k] != new[k]}
    return out


_REQUEST = {
    "add_service": lambda op: nl.add_service(op.service),
    "edit_service": lambda op: nl.edit_service(op.service),
    "delete_service": lambda op: nl.delete_service(op.service),
    "add_destination": lambda op: nl.add_destination(op.service, op.destination),
    "edit_destination": lambda op: nl.edit_destination(op.service, op.destination),
    "delete_destination": lambda op: nl.delete_destination(op.service, op.destination),
    "set_timeouts": lambda op: codec.set_timeouts(op.timeouts),
    "start_sync_daemon": lambda op: codec.start_daemon(op.daemon),
    "stop_sync_daemon": lambda op: codec.stop_daemon(op.daemon.state),
}

_INVERSE = {
    "add_service": lambda op: [Operation("delete_service", op.service)],
    "edit_service": lambda op: [Operation("edit_service", op.before, before=op.service)],
    "delete_service": lambda op: [Operation("add_service", op.service)],
    "add_destination": lambda op: [Operation("delete_destination", op.service,
                                             op.destination)],
    "edit_destination": lambda op: [Operation("edit_destination", op.service, op.before,
                                              before=op.destination)],
    "delete_destination": lambda op: [Operation("add_destination", op.service,
                                                op.destination)],
    "set_timeouts": lambda op: [Operation("set_timeouts", timeouts=op.before,
                                          before=op.timeouts)],
    "start_sync_daemon": lambda op: [Operation("stop_sync_daemon", daemon=op.daemon,
                                               before=op.daemon)],
    "stop_sync_daemon": lambda op: [Operation("start_sync_daemon", daemon=op.before or op.daemon)],
}


def changed_fields(before: object, after: object) -> dict[str, list[object]]:
    """{field: [before, after]} of the option fields that differ."""
    out = {}
    for name in getattr(before, "__dataclass_fields__", {}):
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            out[name] = [_plain(old), _plain(new)]
    return out


def _plain(value: object) -> object:
    return sorted(value) if isinstance(value, frozenset) else value


@dataclass
class Plan:
    operations: list[Operation] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.operations)


class MemoryTable:
    """A table held in memory that operations change as they would change the kernel's: what a
    plan would leave (check and diff mode), or the table a dry run works on (lvsd --test-start).
    An operation on a service the table does not hold changes nothing. Destinations are listed
    as the kernel lists them, newest first (``initial`` too)."""

    def __init__(self, initial: Mapping[Service, Iterable[Destination]] = ()) -> None:
        # each service's destinations oldest first: an add goes to the end, an edit stays put
        self._table: dict[ServiceKey, tuple[Service, dict[DestinationKey, Destination]]] = {
            s.key: (s, {d.key: d for d in reversed(tuple(dests))})
            for s, dests in dict(initial).items()}

    def apply(self, operations: Iterable[Operation]) -> MemoryTable:
        for op in operations:
            if op.service is None:  # a setting: no table to change
                continue
            key = op.service.key
            if op.action == "add_service":
                self._table[key] = (op.service, {})
            elif op.action == "delete_service":
                self._table.pop(key, None)
            elif key not in self._table:
                continue
            elif op.action == "edit_service":
                self._table[key] = (op.service, self._table[key][1])
            elif op.destination is not None:
                dests = self._table[key][1]
                if op.action == "delete_destination":
                    dests.pop(op.destination.key, None)
                else:
                    dests[op.destination.key] = op.destination
        return self

    def services(self) -> dict[ServiceKey, Service]:
        return {key: service for key, (service, _dests) in self._table.items()}

    def destinations(self, service: Service) -> tuple[Destination, ...]:
        entry = self._table.get(service.key)
        return tuple(reversed(entry[1].values())) if entry else ()

    def table(self) -> LiveTable:
        return {service: tuple(reversed(dests.values()))
                for service, dests in self._table.values()}


def simulate(live: Mapping[Service, Iterable[Destination]], operations: Iterable[Operation]
             ) -> LiveTable:
    """The table that ``operations`` would leave, starting from ``live``."""
    return MemoryTable(live).apply(operations).table()


def without_collector_passes(function: Callable[..., R]) -> Callable[..., R]:
    """Run ``function`` with Python's cyclic garbage collector off. A large table is hundreds of
    thousands of objects without reference cycles; while they are made, the collector walks the
    ones already made again and again (measured: a 10,000 x 10 plan 35 % and a read 20 % faster
    without it). The collector is switched back on if it was on, whatever happens."""

    @functools.wraps(function)
    def run(*args: object, **kwargs: object) -> R:
        was_on = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if was_on:
                gc.enable()
    return run


@without_collector_passes
def read_table(kernel: nl.IpvsNetlink) -> LiveTable:
    return {service: tuple(d for d, _state in kernel.destinations(service, with_state=False))
            for service, _stats in kernel.services()}


@without_collector_passes
def plan(desired: Mapping[Service, Iterable[Destination]], live: Mapping[Service,
         Iterable[Destination]], scope: Scope, purge: bool = True,
         purge_destinations: bool = True) -> Plan:
    """The ordered operations that turn ``live`` into ``desired`` within ``scope``.

    ``purge``: delete live services in scope that ``desired`` does not list.
    ``purge_destinations``: delete live destinations of a desired service that it does not list.
    """
    live_by_key = {s.key: (s, tuple(d)) for s, d in live.items()}
    desired_by_key: dict[ServiceKey, tuple[Service, tuple[Destination, ...]]] = {}
    for service, dests in desired.items():
        # compare what the kernel will read back, or an equivalent spelling (tunnel type ipip,
        # sh-* flags on mh, ...) would be an edit on every run
        desired_by_key[service.key] = (nl.normalize_service(service),
                                       tuple(nl.normalize_destination(d) for d in dests))
    operations: list[Operation] = []
    removals: list[Operation] = []
    for key, (service, dests) in desired_by_key.items():
        current = live_by_key.get(key)
        if current is None:
            operations.append(Operation("add_service", service))
            operations += [Operation("add_destination", service, d) for d in dests]
            continue
        live_service, live_dests = current
        if live_service != service:
            operations.append(Operation("edit_service", service, before=live_service))
        operations += _destination_changes(service, dests, live_dests, purge_destinations)
    if purge:
        for key, (live_service, _dests) in live_by_key.items():
            if key not in desired_by_key and scope.owns(live_service):
                removals.append(Operation("delete_service", live_service, before=live_service))
    return Plan(operations + removals)


# Schedulers that build their lookup table walking the service's destination list, which the
# kernel keeps newest first: the same destinations added in another order give another table.
ORDERED_SCHEDULERS = frozenset({"mh", "sh"})


def _destination_changes(service: Service, wanted: tuple[Destination, ...],
                         live: tuple[Destination, ...], purge: bool) -> list[Operation]:
    # the common case, a service as declared: the same list needs nothing (the kernel lists
    # the destinations newest first; only the ordered schedulers' tables depend on the order)
    if wanted == live[::-1] or (wanted == live and service.scheduler not in ORDERED_SCHEDULERS):
        return []
    live_by_key: dict[DestinationKey, Destination] = {d.key: d for d in live}
    wanted_keys = {d.key for d in wanted}
    operations = []
    if purge:
        operations += [Operation("delete_destination", service, d, before=d)
                       for d in live if d.key not in wanted_keys]
    moved = _out_of_order(wanted, live) if service.scheduler in ORDERED_SCHEDULERS else []
    operations += [Operation("delete_destination", service, live_by_key[key],
                             before=live_by_key[key]) for key in moved]
    for dest in wanted:
        current = live_by_key.get(dest.key)
        if current is None or dest.key in moved:
            operations.append(Operation("add_destination", service, dest))
        elif current != dest:
            operations.append(Operation("edit_destination", service, dest, before=current))
    return operations


def _out_of_order(wanted: tuple[Destination, ...], live: tuple[Destination, ...]
                  ) -> list[DestinationKey]:
    """The live destinations to delete and add again so that the wanted ones are in the kernel's
    list in the declared order: those after the longest start of the declared order that the
    live list already has (``live`` as the kernel lists it, newest first), oldest first.
    Other live destinations (kept without purge) do not count."""
    wanted_keys = [d.key for d in wanted]
    declared = set(wanted_keys)
    added = [d.key for d in reversed(live) if d.key in declared]  # oldest first
    kept = 0
    while kept < len(added) and added[kept] == wanted_keys[kept]:
        kept += 1
    return added[kept:]


def plan_timeouts(wanted: nl.Timeouts | Mapping[str, int | None], live: nl.Timeouts
                  ) -> list[Operation]:
    """The operation that sets the timeouts ``wanted`` gives, if any differs from ``live``.

    A timeout left out, None or 0 keeps its live value (as ``ipvsadm --set`` takes 0).
    """
    if isinstance(wanted, nl.Timeouts):
        wanted = dataclasses.asdict(wanted)
    new = nl.Timeouts(**{name: wanted.get(name) or getattr(live, name)
                         for name in TIMEOUT_NAMES})
    return [] if new == live else [Operation("set_timeouts", timeouts=new, before=live)]


def plan_sync_daemons(wanted: Mapping[str, nl.SyncDaemon | None],
                      live: Iterable[nl.SyncDaemon]) -> list[Operation]:
    """The operations that make the sync daemons of the states ``wanted`` names (``master``,
    ``backup``) run as given, or not at all (None); a state not named is left alone.

    A running daemon with other settings is stopped, then started again with these.
    """
    running = {d.state: d for d in live}
    operations: list[Operation] = []
    for state, want in wanted.items():
        current = running.get(state)
        if want is not None and want.state != state:
            raise ValueError(f"sync daemon {state}: the daemon given is a {want.state} daemon")
        if want is not None and current is not None and codec.daemon_matches(current, want):
            continue
        if current is not None:
            operations.append(Operation("stop_sync_daemon", daemon=current, before=current))
        if want is not None:
            operations.append(Operation("start_sync_daemon", daemon=want, before=current))
    return operations


class ApplyError(Exception):
    """The kernel refused an operation; everything the transaction had applied was undone.

    ``failure`` is the refusal, ``rolled_back`` how many operations were undone,
    ``rollback_failures`` the undos the kernel refused as well.
    """

    def __init__(self, failure: nl.IpvsNetlinkError, rolled_back: int,
                 rollback_failures: list[nl.IpvsNetlinkError], detail: str | None = None
                 ) -> None:
        super().__init__(detail or _error_text(failure))
        self.failure = failure
        self.rolled_back = rolled_back
        self.rollback_failures = rollback_failures


def _error_text(failure: OSError) -> str:
    # an IpvsNetlinkError's strerror already starts with its ``what``
    return f"{getattr(failure, 'what', failure.strerror)}: {os.strerror(failure.errno)}"


class Transaction:
    """Operations applied in steps (``apply``); when the kernel refuses one, or the caller
    gives up (``abort``), every operation applied so far, in every step, is undone, newest
    first, and ApplyError raised.

    ``live`` is the table read before: undoing a deleted service adds its destinations back.
    """

    def __init__(self, kernel: nl.IpvsNetlink,
                 live: Mapping[Service, Iterable[Destination]] | None = None) -> None:
        self.kernel = kernel
        self.live = live
        self.applied: list[Operation] = []

    def apply(self, operations: Iterable[Operation]) -> None:
        """One step: the operations pipelined, in order; raises ApplyError on a refusal."""
        operations = list(operations)
        if not operations:
            return
        sent, failures = self.kernel.pipeline(op.request() for op in operations)
        # by position: two operations may well describe themselves alike
        failed = {f.index for f in failures}
        step = [op for index, op in enumerate(operations[:sent]) if index not in failed]
        self.applied += step
        if failures:
            self._roll_back(failures[0], operations[failures[0].index], step)

    def abort(self, failure: nl.IpvsNetlinkError) -> NoReturn:
        """Undo everything applied, for a failure outside ``apply`` (a read, say)."""
        self._roll_back(failure, None, [])

    def undo_operations(self) -> list[Operation]:
        undo: list[Operation] = []
        for op in reversed(self.applied):
            if op.action == "delete_service" and self.live is not None:
                # re-add the service first, then its destinations, oldest first (``live`` is
                # as the kernel lists them): the order mh and sh build their table from
                undo += [Operation("add_service", op.service)] + [
                    Operation("add_destination", op.service, d)
                    for d in reversed(tuple(self.live.get(op.service, ())))]
            else:
                undo += op.inverse()
        return undo

    def _roll_back(self, failure: nl.IpvsNetlinkError, failed: Operation | None,
                   step: Sequence[Operation]) -> NoReturn:
        applied, undo = self.applied, self.undo_operations()
        self.applied = []
        # best effort: one undo the kernel refuses must not keep the others from being tried
        _sent, refused = self.kernel.pipeline((op.request() for op in undo),
                                              stop_on_failure=False)
        undone = [(undo[f.index], f) for f in refused]
        detail = _error_text(failure) if failed is not None and not failed.setting \
            else str(failure)
        if failed is not None and not failed.setting:
            table_failures = [f for op, f in undone if not op.setting]
            table_step = [op for op in step if not op.setting]
            if table_failures:
                detail += "; rolling back failed too: " + "; ".join(
                    _error_text(f) for f in table_failures)
            elif table_step:
                detail += f"; the {len(table_step)} operations already applied were rolled back"
            else:
                detail += "; nothing had been applied, nothing was rolled back"
        if any(op.setting for op in applied):
            setting_failures = [str(f) for op, f in undone if op.setting]
            detail += ("; restoring timeouts and sync daemons failed: " + "; ".join(
                setting_failures) if setting_failures
                else "; timeouts and sync daemons changed by this run were restored")
        raise ApplyError(failure, len(applied), [f for _op, f in undone], detail)


@without_collector_passes
def apply(kernel: nl.IpvsNetlink, the_plan: Plan,
          live: Mapping[Service, Iterable[Destination]] | None = None) -> None:
    """Apply a plan, the settings first, then the table; on the first refused operation undo
    the applied ones and raise ApplyError."""
    transaction = Transaction(kernel, live)
    transaction.apply(op for op in the_plan.operations if op.setting)
    transaction.apply(op for op in the_plan.operations if not op.setting)
