# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scheduler: runs thousands of checks on one asyncio loop, each every ``timeout``
seconds (the period is also the deadline, as in Piranha), grouped into slots so that the loop
wakes 50 times a second whatever the number of servers.

Checks are shared: the keys (lvsd's (service, server) pairs) whose specs are equal, every
field alike (``CheckSpec`` is a frozen dataclass: its equality and hash are the check's
identity), get one probe per period and each the same verdict. Piranha and keepalived probed
a real server once per virtual service it is in. A key's pause or removal takes it off its
check; the check probes while one key that is not paused holds it, and goes when none does.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Hashable, Mapping

from .probe import Probe
from .run import Starter, TaskProbe, prepare
from .spec import CheckResult, CheckSpec

log = logging.getLogger("lvs_agents.checks")

ResultCallback = Callable[[Hashable, CheckResult], None]
FailureCallback = Callable[[Hashable, BaseException], None]


class _Entry:
    """One key: the shared check it gets its verdicts from, and whether it is paused."""

    __slots__ = ("check", "paused")

    def __init__(self, check: _Check, paused: bool) -> None:
        self.check = check
        self.paused = paused

    @property
    def spec(self) -> CheckSpec:
        return self.check.spec

    @property
    def probe(self) -> Probe | None:
        return self.check.probe


class _Check:
    """One spec probed every period, for the keys in ``keys``; ``active`` counts those not
    paused (the references that keep it probing)."""

    __slots__ = ("active", "done", "keys", "probe", "slot", "spec", "start")

    def __init__(self, spec: CheckSpec, done: Callable[[_Check, object], None]) -> None:
        self.spec = spec
        self.start: Starter = prepare(spec)
        self.keys: dict[Hashable, _Entry] = {}
        self.active = 0
        self.probe: Probe | None = None
        self.slot: _Slot | None = None
        # made once, not a partial per probe
        self.done = functools.partial(done, self)


class _Slot:
    """Checks that start together, every ``period`` seconds. The next start of a slot is also
    the deadline of its previous probes (period = timeout, as in Piranha), so no probe needs
    a timer of its own, and the loop wakes once per slot instead of twice per probe."""

    __slots__ = ("checks", "handle", "next_time", "period", "position")

    def __init__(self, period: float, position: tuple[float, int]) -> None:
        self.period = period
        self.position = position
        self.checks: dict[_Check, None] = {}
        self.next_time = 0.0
        self.handle: asyncio.TimerHandle | None = None


class Scheduler:
    """Runs each spec every ``timeout`` seconds, first starts spread over the first period.

    Starts are grouped into slots ``granularity`` seconds apart (20 ms: 50 wake-ups a second
    whatever the number of servers). ``on_result(key, result)`` gets every verdict, once per
    key of a shared check. An exception other than an OS error out of a check is a bug in the
    engine: ``on_failure(key, exception)`` is called for each key of that check and they are
    not checked again (lvsd applies ``hard_shutdown``). ``total`` and ``failed`` count probes
    (a shared one once).
    """

    def __init__(self, on_result: ResultCallback, on_failure: FailureCallback | None = None,
                 granularity: float = 0.02) -> None:
        self.on_result = on_result
        self.on_failure = on_failure
        self.granularity = granularity
        self.entries: dict[Hashable, _Entry] = {}
        self.checks: dict[CheckSpec, _Check] = {}
        self.total = 0
        self.failed = 0
        self._slots: dict[tuple[float, int], _Slot] = {}
        self._cursor: dict[float, int] = {}
        self._anchor = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> int:
        return sum(1 for check in self.checks.values() if check.probe is not None)

    def sharing(self) -> dict[CheckSpec, tuple[Hashable, ...]]:
        """Each check and the keys that share it."""
        return {spec: tuple(check.keys) for spec, check in self.checks.items()}

    def start(self, specs: Mapping[Hashable, CheckSpec]) -> None:
        """Schedule ``specs`` (same as ``update`` on an empty scheduler)."""
        self.update(specs)

    def update(self, specs: Mapping[Hashable, CheckSpec]) -> None:
        """Make the scheduled set ``specs``: removed keys leave their check (its running probe
        is abandoned when no key is left), new keys join the check of their spec or a new one
        spread over its first period, a key whose spec changed moves to the check of its new
        spec (alone on its check and with the same period, the check itself changes, keeping
        its rhythm; the running probe ends with the old spec), unchanged keys stay."""
        loop = self._running_loop()
        for key in [key for key in self.entries if key not in specs]:
            self.remove(key)
        new_by_period: dict[float, list[_Check]] = {}
        for key, spec in specs.items():
            entry = self.entries.get(key)
            if entry is not None and (entry.check.spec == spec or self._respec(entry, spec)):
                continue
            paused = entry is not None and entry.paused
            self.remove(key)
            check = self.checks.get(spec)
            if check is None:
                check = self.checks[spec] = _Check(spec, self._done)
                new_by_period.setdefault(spec.timeout, []).append(check)
            self._join(key, check, paused)
        for period, checks in new_by_period.items():
            self._place(loop, period, checks)

    def _respec(self, entry: _Entry, spec: CheckSpec) -> bool:
        check = entry.check
        if len(check.keys) != 1 or spec in self.checks or check.spec.timeout != spec.timeout:
            return False
        del self.checks[check.spec]
        check.spec, check.start = spec, prepare(spec)
        self.checks[spec] = check
        return True

    def _join(self, key: Hashable, check: _Check, paused: bool) -> None:
        entry = self.entries[key] = check.keys[key] = _Entry(check, paused)
        if not entry.paused:
            check.active += 1

    def _place(self, loop: asyncio.AbstractEventLoop, period: float, checks: list[_Check]
               ) -> None:
        count = max(1, int(round(period / self.granularity)))
        base = self._cursor.get(period, 0)
        self._cursor[period] = (base + 1) % count
        for position, check in enumerate(checks):
            index = (base + position * count // len(checks)) % count
            slot = self._slots.get((period, index))
            if slot is None:
                slot = self._slots[(period, index)] = _Slot(period, (period, index))
                now = loop.time()
                if not self._anchor:
                    self._anchor = now
                offset = self._anchor + index * period / count
                laps = max(0.0, -(-(now - offset) // period))
                slot.next_time = offset + laps * period
                slot.handle = loop.call_at(slot.next_time, self._fire, slot)
            slot.checks[check] = None
            check.slot = slot

    def remove(self, key: Hashable) -> None:
        """Take ``key`` off its check; the last key gone, the check goes (its running probe
        abandoned: no result, its socket closed)."""
        entry = self.entries.pop(key, None)
        if entry is None:
            return
        check = entry.check
        del check.keys[key]
        if not entry.paused:
            check.active -= 1
        if check.keys:
            return
        if self.checks.get(check.spec) is check:
            del self.checks[check.spec]
        if check.slot is not None:
            check.slot.checks.pop(check, None)
        if check.probe is not None:
            probe, check.probe = check.probe, None
            probe.done = None
            probe.expire()

    def pause(self, key: Hashable, paused: bool = True) -> None:
        """Stop (or resume) checking ``key`` without forgetting it (nanny's SIGUSR1/2); the
        other keys of its check go on being checked."""
        entry = self.entries[key]
        if entry.paused != paused:
            entry.paused = paused
            entry.check.active += -1 if paused else 1

    def stop(self) -> None:
        for key in list(self.entries):
            self.remove(key)
        for slot in self._slots.values():
            if slot.handle is not None:
                slot.handle.cancel()
        self._slots.clear()

    async def drain(self) -> None:
        """Stop, and give cancelled checks (and their killed programs) time to end."""
        tasks = [check.probe.task for check in self.checks.values()
                 if isinstance(check.probe, TaskProbe)]
        self.stop()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def _fire(self, slot: _Slot) -> None:
        loop = self._running_loop()
        for check in list(slot.checks):
            if check.probe is not None:
                check.probe.expire()  # its deadline: this slot's start one period ago
            if check.active:  # a key not paused holds it (none: paused, or removed)
                probe = check.start(loop, check.done)
                if probe.done is not None:  # not decided at once (connect refused)
                    check.probe = probe
        self._next(loop, slot)

    def _next(self, loop: asyncio.AbstractEventLoop, slot: _Slot) -> None:
        slot.next_time += slot.period
        now = loop.time()
        if slot.next_time < now:  # the loop was stalled for over a period: do not catch up
            slot.next_time += -(-(now - slot.next_time) // slot.period) * slot.period
        if slot.checks:
            slot.handle = loop.call_at(slot.next_time, self._fire, slot)
        else:
            slot.handle = None
            if self._slots.get(slot.position) is slot:
                del self._slots[slot.position]

    def _done(self, check: _Check, outcome: CheckResult | BaseException) -> None:
        check.probe = None
        if isinstance(outcome, BaseException):
            self._crashed(check, outcome)
            return
        self.total += 1
        if not outcome.ok:
            self.failed += 1
        on_result = self.on_result
        if len(check.keys) == 1:
            [(key, entry)] = check.keys.items()
            if not entry.paused:
                on_result(key, outcome)
            return
        # a copy: a verdict's reaction may change the keys (lvsd's engine failure, a test)
        for key, entry in list(check.keys.items()):
            if not entry.paused and self.entries.get(key) is entry:
                on_result(key, outcome)

    def _crashed(self, check: _Check, error: BaseException) -> None:
        keys = list(check.keys)
        for key in keys:
            self.remove(key)
        log.error("check engine failure on %s: %r", check.spec.describe(), error)
        if self.on_failure is not None:
            for key in keys:
                self.on_failure(key, error)
