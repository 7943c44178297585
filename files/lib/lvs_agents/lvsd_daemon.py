# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvsd's daemon: its state and reactions (start, reconcile, health results, reload, status
file) and its life on an asyncio loop. The command line is ``lvsd.py``'s."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import time
from collections.abc import Callable, Hashable

from lvs_cluster.agent_status import STATUS_INTERVAL
from lvs_cluster.ipvs import netlink as nl
from lvs_cluster.ipvs.model import Destination, Service, ServiceKey
from lvs_cluster.ipvs.reconcile import (
    ApplyError,
    Operation,
    Plan,
    Scope,
    plan,
    without_collector_passes,
)
from lvs_cluster.lvs_cf.errors import LvsCfError
from lvs_cluster.lvs_cf.model import LvsConfig
from lvs_cluster.lvs_cf.ownership import owned_scope

from . import runtime
from .checks import CheckResult, Scheduler
from .health import DEFAULT_STEP, read_load
from .last_good import ConfigSource, default_path
from .lvsd_load import load_planned
from .lvsd_orphan import OrphanWatch
from .lvsd_pacing import ResyncPacer
from .lvsd_plan import Planned, plan_config
from .lvsd_state import Member, VirtualState, build_virtuals, shown
from .lvsd_status import StatusCache, document_parts
from .lvsd_table import KernelTable, ShadowTable

NAME = "lvsd"
log = logging.getLogger(NAME)


# --- the daemon --------------------------------------------------------------------------------

class Lvsd:
    """The daemon's state and reactions; ``run()`` is its life on an asyncio loop."""

    def __init__(self, config_path: str, config: LvsConfig | Planned,
                 table: KernelTable | ShadowTable,
                 *, resync: float = 10.0, resync_budget: float = 1.0,
                 clear_on_exit: bool = False,
                 clock: Callable[[], float] = time.time, step: float = DEFAULT_STEP,
                 ready_fd: int | None = None, source: ConfigSource | None = None,
                 orphan_watch: OrphanWatch | None = None) -> None:
        self.config_path = config_path
        planned = config if isinstance(config, Planned) else plan_config(config, step)
        self.config = planned.config  # without its server blocks: the members have them
        # where reloads read lvs.cf, by the last-good rule; ``config`` came from it at start
        self.source = source or ConfigSource(config_path, default_path(), log)
        self.table = table
        self.resync = resync
        self.pacer = ResyncPacer(resync, resync_budget)
        self.clear_on_exit = clear_on_exit
        self.clock = clock
        self.step = step
        self.ready_fd = ready_fd
        self.orphan_watch = orphan_watch
        self.reloads = 0
        self.config_loaded_at = time.time()  # wall clock: when the running lvs.cf was read
        self.last_reconcile: float | None = None
        self.exit_code = 0
        self.ready = False
        self.virtuals = build_virtuals(planned, {}, step)
        del planned
        self.members = self._index_members()
        self.config_scope = owned_scope(self.config)
        # each service's destinations as lvsd last programmed them: a health change is planned
        # against this, without reading the kernel (the resync finds what others changed)
        self.applied: dict[ServiceKey, tuple[Destination, ...]] = {}
        self.status_cache = StatusCache()
        # what the reconcile may delete: the core's rule (the drift playbook's too)
        self.scope: Scope = self.config_scope
        self.scheduler = Scheduler(self._on_result, self._on_engine_failure)
        self.stopping = asyncio.Event() if _has_loop() else None
        self._status_pending = False
        self._verdict: CheckResult | None = None
        self._verdict_at = 0.0
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
        except (OSError, ApplyError) as error:
            log.error("cannot set IPVS timeouts: %s", error)

    def adopt(self) -> None:
        """Servers already in the kernel (a restart): up at their kernel weight."""
        live = self._read_owned(self.scope)
        now = self.clock()
        for state in self.virtuals.values():
            dests = {d.key: d for d in live.get(state.service, ())}
            for member in state.members + ([state.sorry] if state.sorry else []):
                found = dests.get(member.destination.key)
                if found is None or member.health.checks:
                    continue
                # at weight 0 it is kept when lvs.cf keeps it so: quiesced, or draining (its
                # connections must not be cut by a restart)
                if found.weight > 0 or (not member.sorry and (member.health.policy.quiesce
                                                              or member.drain)):
                    member.health.adopt(found.weight, now)
                    self.status_cache.changed(state)
                    log.info("adopted %s %s:%d of %s at weight %d", member.name,
                             member.destination.address, member.destination.port,
                             state.virtual.name, found.weight)

    # --- reconcile -----------------------------------------------------------------------

    def _read_owned(self, scope: Scope) -> dict[Service, tuple[Destination, ...]]:
        return {service: self.table.destinations(service)
                for service in self.table.services().values() if scope.owns(service)}

    def desired(self) -> dict[Service, tuple[Destination, ...]]:
        return {state.service: state.desired() for state in self.virtuals.values()}

    @without_collector_passes
    def full_reconcile(self) -> bool:
        """Read the services we own, plan, apply; False (logged) when the kernel refused."""
        try:
            desired = self.desired()
            live = self._read_owned(self.scope)
            the_plan = plan(desired, live, self.scope, purge=True)
            self.table.execute(the_plan, live)
        except (ApplyError, OSError, LvsCfError, ValueError) as error:
            self.applied.clear()
            log.error("reconcile failed, retried in %g s: %s", self.pacer.period, error)
            return False
        self.applied = {service.key: destinations for service, destinations in desired.items()}
        self.scope = self.config_scope
        self.last_reconcile = self.clock()
        self._status_changed()
        return True

    def reconcile_service(self, state: VirtualState) -> bool:
        """A health change: change what differs in this service, planned against what lvsd
        last programmed; when the kernel refuses that (someone else changed the service), read
        its destinations and plan again."""
        service = nl.normalize_service(state.service)
        desired = state.desired()
        known = self.applied.pop(state.service.key, None)
        if known is not None:
            try:
                self._program(service, state, desired, known)
            except ApplyError as error:
                log.info("%s: the table is not as lvsd left it (%s); reading it",
                         state.virtual.name, error)
            except (OSError, ValueError) as error:
                log.error("%s: %s (retried at the next resync)", state.virtual.name, error)
                return False
            else:
                return self._programmed(state, desired)
        try:
            self._program(service, state, desired, self.table.destinations(service))
        except (ApplyError, OSError, ValueError) as error:
            log.error("%s: %s (retried at the next resync)", state.virtual.name, error)
            return False
        return self._programmed(state, desired)

    def _program(self, service: Service, state: VirtualState, desired: tuple[Destination, ...],
                 live_destinations: tuple[Destination, ...]) -> None:
        live = {service: live_destinations}
        the_plan = plan({state.service: desired}, live, Scope.everything(), purge=False)
        self.table.execute(the_plan, live)

    def _programmed(self, state: VirtualState, desired: tuple[Destination, ...]) -> bool:
        self.applied[state.service.key] = desired
        self.last_reconcile = self.clock()
        return True

    def clear(self) -> None:
        """Delete the services we own (``--clear-on-exit``, or a hard shutdown)."""
        try:
            live = self._read_owned(self.scope.union(self.config_scope))
            the_plan = Plan([Operation("delete_service", s, before=s) for s in live])
            self.table.execute(the_plan, live)
        except (ApplyError, OSError) as error:
            log.error("cannot delete our services: %s", error)
        self.applied.clear()

    # --- health --------------------------------------------------------------------------

    def _on_result(self, key: Hashable, result: CheckResult) -> None:
        member = self.members.get(key)
        if member is None:
            return
        health = member.health
        if result is not self._verdict:  # a shared check's verdict comes once per member: the
            self._verdict, self._verdict_at = result, self.clock()  # clock is read once for all
        if result.ok and member.load_argv is None and health.steady_ok(self._verdict_at):
            # up at full weight and checked ok again: only its counters moved
            self.status_cache.counted(member.state)  # type: ignore[arg-type]
            return
        was, before = health.state, shown(member)
        changed = health.record(result.ok, self.clock(), result.reason)
        if health.state != was:
            self._log_transition(member, was, result)
        if changed:
            self.reconcile_service(member.state)  # type: ignore[arg-type]
        if member.load_argv and health.wants_load(self.clock()) and not member.loading:
            self._spawn(self._adjust_load(member))
        if shown(member) != before:
            self.status_cache.changed(member.state)  # type: ignore[arg-type]
            self._status_changed()  # written at once; counters wait for the periodic write
        else:
            self.status_cache.counted(member.state)  # type: ignore[arg-type]

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
            self.status_cache.changed(member.state)  # type: ignore[arg-type]
            self.reconcile_service(member.state)  # type: ignore[arg-type]
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
        """SIGHUP: re-read lvs.cf; keep the old config when it is bad (the last good
        configuration goes on running)."""
        gc.unfreeze()  # the old configuration's objects may be collected again
        try:
            planned = load_planned(self.source, "reload", self.step)
            scope = owned_scope(planned.config)
        except (runtime.ConfigError, LvsCfError) as error:
            log.error("reload: %s; keeping the running configuration", error)
            self._status_changed()
            return False
        previous = self.config
        # until the next reconcile succeeds, the old file's services are ours to delete too
        self.scope = self.scope.union(scope)
        self.virtuals = build_virtuals(planned, self.members, self.step)
        self.members = self._index_members()
        self.config = planned.config
        self.config_scope = scope
        del planned
        self.status_cache.reset()
        self.reloads += 1
        self.config_loaded_at = time.time()
        self.set_timeouts(previous)
        self.scheduler.update({key: m.spec for key, m in self.members.items()})
        self.full_reconcile()
        settle_memory()
        log.info("reloaded %s", self.config_path)
        return True

    # --- life ----------------------------------------------------------------------------

    def stop(self) -> None:
        if self.stopping is not None:
            self.stopping.set()

    def signal_ready(self) -> None:
        self.ready = True
        # before the pipe: a pulse killed as soon as it reads READY leaves this lvsd to the next
        # pulse, which adopts only an lvsd that lvsd.json names READY (pulse_adopt)
        self.write_status()
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
        settle_memory()
        self.signal_ready()
        self.scheduler.start({key: m.spec for key, m in self.members.items()})
        self.write_status()
        next_resync = loop.time() + self.resync
        while not self.stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), STATUS_INTERVAL)
            if self.orphan_watch is not None and self.orphan_watch.should_exit(loop.time()):
                self.stopping.set()
            if loop.time() >= next_resync and not self.stopping.is_set():
                next_resync = loop.time() + self.paced_resync()
            self.write_status()
        await self.scheduler.drain()
        for task in list(self._tasks):
            task.cancel()
        if self.clear_on_exit and self.exit_code == 0:
            self.clear()
        runtime.notify("STOPPING=1")
        self.write_status()
        return self.exit_code

    def paced_resync(self) -> float:
        """A full reconcile; the seconds until the next one (``lvsd_pacing``)."""
        started = time.process_time()
        self.full_reconcile()
        was_stretched = self.pacer.stretched
        period = self.pacer.after(time.process_time() - started)
        if self.pacer.stretched != was_stretched:
            log.info("a resync took %.2f s of CPU: the next ones every %.0f s (the budget is "
                     "%g %% of a core, the least period %g s)", self.pacer.last_cpu, period,
                     self.pacer.budget * 100, self.resync)
        return period

    # --- status --------------------------------------------------------------------------

    def _status_changed(self) -> None:
        if self._status_pending or not _has_loop():
            return
        self._status_pending = True
        asyncio.get_running_loop().call_soon(self.write_status)

    def status(self) -> dict[str, object]:
        """lvsd.json's content (what ``write_status`` writes, every entry current)."""
        return {**self.status_header(),
                "virtuals": [state.status() for state in self.virtuals.values()]}

    def status_header(self) -> dict[str, object]:
        return {"config": self.config_path, "reloads": self.reloads,
                "config_loaded_at": self.config_loaded_at,
                "last_reconcile": self.last_reconcile, "ready": self.ready,
                "last_good": self.source.status(), "resync": self.pacer.status(),
                "checks": {"total": self.scheduler.total, "failed": self.scheduler.failed,
                           "running": self.scheduler.running}}

    def write_status(self) -> None:
        self._status_pending = False
        try:
            runtime.write_status_file(NAME, document_parts(
                runtime.stamped(self.status_header()),
                self.status_cache.entries(self.virtuals.values())))
        except OSError as error:
            log.debug("cannot write the status file: %s", error)


def settle_memory() -> None:
    """The objects made so far (the configuration, the members: at 10,000 virtuals half a
    million) are kept out of the cyclic collector's later passes, which would walk them all
    each time (``gc.freeze``); a reload unfreezes them first."""
    gc.collect()
    gc.freeze()


def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
