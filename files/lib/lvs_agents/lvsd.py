# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvsd: lvs.cf -> desired IPVS table, with every real server's health verdict -> reconcile.

Piranha's lvsd flushed the whole table at start, created services, and left real servers to
one nanny process each. Ours (section 3 of the reference, its flaws fixed):

* never flushes: it reconciles, within the services its lvs.cf declares (and, after a reload,
  those the previous file declared), with the shared engine; other tools' services survive;
* runs every health check in-process (``checks.Scheduler``), judges with ``health``;
* a health change reconciles only the affected service, at once; a full reconcile every
  ``--resync`` seconds corrects drift made by hand and retries failed applies;
* the sorry server is health-checked too, and stands in only while no real server is up;
* SIGHUP reconciles in place: unchanged services keep their destinations and connections,
  servers that stay keep their health; a bad file keeps the old configuration;
* SIGTERM/SIGINT exit 0 and leave the table (``--clear-on-exit``: delete our services);
* a restart adopts what the kernel has: healthy servers stay, their slow start goes on.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, replace

from lvs_cluster.ipvs import netlink as nl
from lvs_cluster.ipvs.model import Destination, Service, ServiceKey
from lvs_cluster.ipvs.reconcile import ApplyError, MemoryTable, Operation, Plan, Scope, plan
from lvs_cluster.ipvs.reconcile import apply as apply_plan
from lvs_cluster.lvs_cf.errors import LvsCfError
from lvs_cluster.lvs_cf.ipvs import (
    destination_for_server,
    service_for_virtual,
    sorry_destination,
)
from lvs_cluster.lvs_cf.model import LvsConfig, VirtualService

from . import runtime
from .checks import CheckResult, CheckSpec, Scheduler
from .health import DEFAULT_STEP, HealthPolicy, ServerHealth, load_command, read_load
from .status import service_label

VERSION = "lvs.cluster lvsd 1.0"
NAME = "lvsd"
log = logging.getLogger(NAME)

KernelFactory = Callable[[], nl.IpvsNetlink]


# --- the table we talk to: the kernel, or a shadow for --test-start ----------------------------

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
        self.kernel.set_timeouts(timeouts)


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
    text = f"{described['action']} {described['service']}"
    if "destination" in described:
        text += f" destination {described['destination']}"
    if operation.destination is not None and operation.action != "delete_destination":
        text += f" weight {operation.destination.weight}"
    if "changes" in described:
        text += f" {described['changes']}"
    return text


# --- what lvsd knows about each virtual and server ---------------------------------------------

@dataclass
class Member:
    """One checked server of a virtual: a real server, or the virtual's sorry server."""

    key: Hashable
    name: str
    virtual: str
    service_key: ServiceKey
    destination: Destination  # at full weight
    spec: CheckSpec
    health: ServerHealth
    sorry: bool = False
    load_argv: list[str] | None = None
    loading: bool = False


@dataclass
class VirtualState:
    virtual: VirtualService
    service: Service
    members: list[Member]
    sorry: Member | None

    def sorry_active(self) -> bool:
        return self.sorry is not None and self.sorry.health.in_table and not any(
            m.health.in_table and m.health.weight > 0 for m in self.members)

    def desired(self) -> tuple[Destination, ...]:
        """Servers whose health says in the table, at their current weight; the sorry server
        (while healthy) when none of them is up."""
        out = [replace(m.destination, weight=m.health.weight)
               for m in self.members if m.health.in_table]
        if self.sorry is not None and self.sorry_active():
            keys = {d.key for d in out}
            if self.sorry.destination.key not in keys:
                out.append(self.sorry.destination)
        return tuple(out)


def _declared_keys(config: LvsConfig) -> set[ServiceKey]:
    """Every service the file declares (active or not): ours to create, edit or delete."""
    keys = set()
    if config.service != "lvs":
        return keys
    for virtual in config.virtuals:
        if virtual.address is not None:
            keys.add(service_for_virtual(virtual).key)
    return keys


def build_virtuals(config: LvsConfig, old: dict[Hashable, Member], step: float
                   ) -> dict[ServiceKey, VirtualState]:
    """The active virtuals with their members; a member whose (service, address, port) was
    there before keeps its health (reconfigured with the new policy)."""
    states: dict[ServiceKey, VirtualState] = {}
    if config.service != "lvs":
        return states
    for virtual in config.virtuals:
        if not virtual.active:
            continue
        service = service_for_virtual(virtual)
        members = []
        for server in virtual.servers:
            if not server.active or server.address is None:
                continue
            destination = destination_for_server(virtual, server, config)
            port = server.port if server.port is not None else virtual.port
            key = (service.key, server.address, port)
            member = _member(key, server.name, virtual, service, destination,
                             CheckSpec.for_server(virtual, server.address, port),
                             HealthPolicy.for_server(virtual, server, step), old)
            member.load_argv = load_command(virtual.load_monitor, config.rsh_command,
                                            server.address)
            members.append(member)
        sorry = None
        sorry_dest = sorry_destination(virtual, config)
        if sorry_dest is not None:
            key = (service.key, sorry_dest.address, sorry_dest.port, "sorry")
            policy = HealthPolicy(weight=1, rise=max(1, virtual.effective_rise),
                                  fall=max(1, virtual.effective_fall), step=step)
            sorry = _member(key, "sorry_server", virtual, service, sorry_dest,
                            CheckSpec.for_server(virtual, sorry_dest.address, sorry_dest.port),
                            policy, old, sorry=True)
        states[service.key] = VirtualState(virtual, service, members, sorry)
    return states


def _member(key: Hashable, name: str, virtual: VirtualService, service: Service,
            destination: Destination, spec: CheckSpec, policy: HealthPolicy,
            old: dict[Hashable, Member], sorry: bool = False) -> Member:
    previous = old.get(key)
    if previous is not None:
        health = previous.health
        health.reconfigure(policy)
    else:
        health = ServerHealth(policy)
    return Member(key, name, virtual.name, service.key, destination, spec, health, sorry)


# --- the daemon --------------------------------------------------------------------------------

class Lvsd:
    """The daemon's state and reactions; ``run()`` is its life on an asyncio loop."""

    def __init__(self, config_path: str, config: LvsConfig, table: KernelTable | ShadowTable,
                 *, resync: float = 10.0, clear_on_exit: bool = False,
                 clock: Callable[[], float] = time.time, step: float = DEFAULT_STEP,
                 ready_fd: int | None = None) -> None:
        self.config_path = config_path
        self.config = config
        self.table = table
        self.resync = resync
        self.clear_on_exit = clear_on_exit
        self.clock = clock
        self.step = step
        self.ready_fd = ready_fd
        self.reloads = 0
        self.config_loaded_at = time.time()  # wall clock: when the running lvs.cf was read
        self.last_reconcile: float | None = None
        self.exit_code = 0
        self.ready = False
        self.virtuals = build_virtuals(config, {}, step)
        self.members = self._index_members()
        self.owned: set[ServiceKey] = _declared_keys(config)
        self.scheduler = Scheduler(self._on_result, self._on_engine_failure)
        self.stopping = asyncio.Event() if _has_loop() else None
        self._status_pending = False
        self._tasks: set[asyncio.Task] = set()

    def _index_members(self) -> dict[Hashable, Member]:
        out: dict[Hashable, Member] = {}
        for state in self.virtuals.values():
            for member in state.members + ([state.sorry] if state.sorry else []):
                out[member.key] = member
        return out

    # --- start ---------------------------------------------------------------------------

    def set_timeouts(self, previous: LvsConfig | None = None) -> None:
        """``tcp_timeout``/``tcpfin_timeout``/``udp_timeout`` when any is set (0: unchanged,
        as in ipvsadm --set); Piranha always ran ``--set``, even with zeros."""
        values = (self.config.tcp_timeout, self.config.tcpfin_timeout, self.config.udp_timeout)
        if not any(values):
            return
        if previous is not None and values == (previous.tcp_timeout, previous.tcpfin_timeout,
                                               previous.udp_timeout):
            return
        try:
            self.table.set_timeouts(nl.Timeouts(*values))
        except OSError as error:
            log.error("cannot set IPVS timeouts: %s", error)

    def adopt(self) -> None:
        """Servers already in the kernel (a restart): up at their kernel weight."""
        live = self._read_owned(self.owned)
        now = self.clock()
        for state in self.virtuals.values():
            dests = {d.key: d for d in live.get(state.service, ())}
            for member in state.members + ([state.sorry] if state.sorry else []):
                found = dests.get(member.destination.key)
                if found is None or member.health.checks:
                    continue
                if found.weight > 0 or (member.health.policy.quiesce and not member.sorry):
                    member.health.adopt(found.weight, now)
                    log.info("adopted %s %s:%d of %s at weight %d", member.name,
                             member.destination.address, member.destination.port,
                             state.virtual.name, found.weight)

    # --- reconcile -----------------------------------------------------------------------

    def _read_owned(self, keys: Iterable[ServiceKey]) -> dict[Service, tuple[Destination, ...]]:
        wanted = set(keys)
        return {service: self.table.destinations(service)
                for key, service in self.table.services().items() if key in wanted}

    def desired(self) -> dict[Service, tuple[Destination, ...]]:
        return {state.service: state.desired() for state in self.virtuals.values()}

    def full_reconcile(self) -> bool:
        """Read our services, plan, apply; False (logged) when the kernel refused."""
        try:
            live = self._read_owned(self.owned)
            the_plan = plan(self.desired(), live, Scope.everything(), purge=True)
            self.table.execute(the_plan, live)
        except (ApplyError, OSError, LvsCfError, ValueError) as error:
            log.error("reconcile failed, retried in %g s: %s", self.resync, error)
            return False
        self.owned = _declared_keys(self.config)
        self.last_reconcile = self.clock()
        self._status_changed()
        return True

    def reconcile_service(self, state: VirtualState) -> bool:
        """A health change: read this service's destinations only, change what differs."""
        service = nl.normalize_service(state.service)
        try:
            live = {service: self.table.destinations(service)}
            the_plan = plan({state.service: state.desired()}, live, Scope.everything(),
                            purge=False)
            self.table.execute(the_plan, live)
        except (ApplyError, OSError, ValueError) as error:
            log.error("%s: %s (retried at the next resync)", state.virtual.name, error)
            return False
        self.last_reconcile = self.clock()
        return True

    def clear(self) -> None:
        """Delete our own services (``--clear-on-exit``, or a hard shutdown)."""
        try:
            live = self._read_owned(self.owned | _declared_keys(self.config))
            the_plan = Plan([Operation("delete_service", s, before=s) for s in live])
            self.table.execute(the_plan, live)
        except (ApplyError, OSError) as error:
            log.error("cannot delete our services: %s", error)

    # --- health --------------------------------------------------------------------------

    def _on_result(self, key: Hashable, result: CheckResult) -> None:
        member = self.members.get(key)
        if member is None:
            return
        health = member.health
        was = health.state
        changed = health.record(result.ok, self.clock(), result.reason)
        if health.state != was:
            self._log_transition(member, was, result)
        if changed:
            self.reconcile_service(self.virtuals[member.service_key])
        if member.load_argv and health.wants_load(self.clock()) and not member.loading:
            self._spawn(self._adjust_load(member))
        self._status_changed()

    def _log_transition(self, member: Member, was: str, result: CheckResult) -> None:
        where = f"{member.destination.address}:{member.spec.port}"
        what = "sorry server" if member.sorry else member.name
        state = member.health.state
        if state == "up":
            log.info("[ active ] %s %s of %s up at weight %d", what, where, member.virtual,
                     member.health.weight)
        elif was in ("up", "quiesced") or state == "quiesced":
            log.warning("[inactive] %s %s of %s %s: %s", what, where, member.virtual, state,
                        result.reason)
        else:
            log.debug("%s %s of %s: %s -> %s (%s)", what, where, member.virtual, was, state,
                      result.reason)

    async def _adjust_load(self, member: Member) -> None:
        member.loading = True
        try:
            load = await read_load(member.load_argv or [], member.spec.timeout)
        finally:
            member.loading = False
        if self.members.get(member.key) is not member:
            return
        if member.health.apply_load(load, self.clock()):
            log.info("%s: load %s, weight %d", member.name, load, member.health.weight)
            self.reconcile_service(self.virtuals[member.service_key])
            self._status_changed()

    def _on_engine_failure(self, key: Hashable, error: BaseException) -> None:
        member = self.members.get(key)
        what = member.name if member else str(key)
        if self.config.hard_shutdown:
            log.critical("check engine failed on %s (%r): hard_shutdown, deleting our services "
                         "and exiting", what, error)
            self.clear()
            self.exit_code = 1
            self.stop()
        else:
            log.critical("check engine failed on %s (%r): manual action needed (its state in "
                         "the table is kept)", what, error)

    def _spawn(self, coroutine: object) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- reload --------------------------------------------------------------------------

    def reload(self) -> bool:
        """SIGHUP: re-read lvs.cf; keep the old config when it is bad."""
        try:
            config = runtime.load_config(self.config_path)
            _declared_keys(config)
        except (runtime.ConfigError, LvsCfError) as error:
            log.error("reload: %s; keeping the running configuration", error)
            return False
        previous = self.config
        self.owned |= _declared_keys(previous)
        self.config = config
        self.virtuals = build_virtuals(config, self.members, self.step)
        self.members = self._index_members()
        self.reloads += 1
        self.config_loaded_at = time.time()
        self.set_timeouts(previous)
        self.scheduler.update({key: m.spec for key, m in self.members.items()})
        self.full_reconcile()
        log.info("reloaded %s", self.config_path)
        return True

    # --- life ----------------------------------------------------------------------------

    def stop(self) -> None:
        if self.stopping is not None:
            self.stopping.set()

    def signal_ready(self) -> None:
        self.ready = True
        if self.ready_fd is not None:
            with contextlib.suppress(OSError):
                os.write(self.ready_fd, b"READY\n")
            with contextlib.suppress(OSError):
                os.close(self.ready_fd)
            self.ready_fd = None
        runtime.notify("READY=1", "STATUS=reconciled, checking")

    async def run(self, handle_signals: bool = True) -> int:
        loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        if handle_signals:
            loop.add_signal_handler(signal.SIGHUP, self.reload)
            loop.add_signal_handler(signal.SIGTERM, self.stop)
            loop.add_signal_handler(signal.SIGINT, self.stop)
        self.set_timeouts()
        self.adopt()
        self.full_reconcile()
        self.signal_ready()
        self.scheduler.start({key: m.spec for key, m in self.members.items()})
        self.write_status()
        next_resync = loop.time() + self.resync
        while not self.stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), 1.0)
            if loop.time() >= next_resync and not self.stopping.is_set():
                self.full_reconcile()
                next_resync = loop.time() + self.resync
            self.write_status()
        await self.scheduler.drain()
        for task in list(self._tasks):
            task.cancel()
        if self.clear_on_exit and self.exit_code == 0:
            self.clear()
        runtime.notify("STOPPING=1")
        self.write_status()
        return self.exit_code

    # --- status --------------------------------------------------------------------------

    def _status_changed(self) -> None:
        if self._status_pending or not _has_loop():
            return
        self._status_pending = True
        asyncio.get_running_loop().call_soon(self.write_status)

    def status(self) -> dict[str, object]:
        virtuals = []
        for state in self.virtuals.values():
            virtuals.append({
                "name": state.virtual.name,
                "service": service_label(state.service),
                "sorry_active": state.sorry_active(),
                "servers": [_member_status(m) for m in state.members]
                + ([_member_status(state.sorry)] if state.sorry else []),
            })
        return {"config": self.config_path, "reloads": self.reloads,
                "config_loaded_at": self.config_loaded_at,
                "last_reconcile": self.last_reconcile, "ready": self.ready,
                "virtuals": virtuals,
                "checks": {"total": self.scheduler.total, "failed": self.scheduler.failed,
                           "running": self.scheduler.running}}

    def write_status(self) -> None:
        self._status_pending = False
        try:
            runtime.write_status(NAME, self.status())
        except OSError as error:
            log.debug("cannot write the status file: %s", error)


def _member_status(member: Member) -> dict[str, object]:
    health = member.health
    return {"name": member.name, "address": member.destination.address,
            "port": member.spec.port, "healthy": health.healthy, "state": health.state,
            "weight": health.weight if health.in_table else 0,
            "configured_weight": health.policy.weight, "last_check": health.last_check,
            "last_result": health.last_result, "checks": health.checks,
            "failures": health.failed_checks, "sorry": member.sorry}


def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# --- command line ------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lvsd", description="The LVS daemon: lvs.cf -> IPVS, with in-process health "
        "checks (Piranha's lvsd and nanny).")
    parser.add_argument("-c", "--configfile", default=runtime.DEFAULT_CONFIG,
                        help="lvs.cf (default %(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-n", "--nodaemon", action="store_true", help="stay in the foreground")
    parser.add_argument("-t", "--test-start", action="store_true",
                        help="log the IPVS operations instead of applying them")
    parser.add_argument("--nofork", action="store_true",
                        help="daemonize without forking (setsid, stdio to /dev/null)")
    parser.add_argument("--version", action="version", version=VERSION)
    parser.add_argument("--ready-fd", type=int, metavar="N",
                        help="write READY to this file descriptor after the first reconcile")
    parser.add_argument("--clear-on-exit", action="store_true",
                        help="delete our services on SIGTERM/SIGINT (Piranha's behaviour)")
    parser.add_argument("--resync", type=float, default=10.0, metavar="S",
                        help="full reconcile period in seconds (default %(default)s)")
    parser.add_argument("--run-dir", metavar="DIR",
                        help="where lvsd.json goes (default $LVS_CLUSTER_RUN_DIR or "
                        f"{runtime.DEFAULT_RUN_DIR})")
    return parser


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


def _detach(fork: bool) -> None:
    """Background like Piranha: fork (unless --nofork), new session, stdio to /dev/null."""
    if fork and os.fork() > 0:
        os._exit(0)
    with contextlib.suppress(OSError):
        os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def main(argv: list[str] | None = None,
         kernel_factory: KernelFactory = nl.IpvsNetlink) -> int:
    args = build_parser().parse_args(argv)
    if args.resync <= 0:
        print("lvsd: --resync: a positive number of seconds is required", file=sys.stderr)
        return 2
    if args.run_dir:
        os.environ["LVS_CLUSTER_RUN_DIR"] = args.run_dir
    runtime.setup_logging(NAME, args.verbose)
    if args.ready_fd is not None:  # run by pulse: go when pulse goes
        runtime.exit_with_parent()
    try:
        config = runtime.load_config(args.configfile)
        _declared_keys(config)
    except (runtime.ConfigError, LvsCfError) as error:
        print(f"lvsd: {error}", file=sys.stderr)
        return 2
    try:
        table = open_table(kernel_factory, args.test_start)
    except OSError as error:
        log.error("cannot open IPVS: %s", error)
        return 1
    if not args.nodaemon:
        _detach(fork=not args.nofork)
    daemon = Lvsd(args.configfile, config, table, resync=args.resync,
                  clear_on_exit=args.clear_on_exit, ready_fd=args.ready_fd)
    return asyncio.run(daemon.run())


if __name__ == "__main__":
    sys.exit(main())
