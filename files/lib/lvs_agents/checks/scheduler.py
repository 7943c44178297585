# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scheduler: runs thousands of checks on one asyncio loop, each every ``timeout``
seconds (the period is also the deadline, as in Piranha), grouped into slots so that the loop
wakes 50 times a second whatever the number of servers."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

from .probe import Probe
from .run import TaskProbe, start_probe
from .spec import CheckResult, CheckSpec

log = logging.getLogger("lvs_agents.checks")

ResultCallback = Callable[[Hashable, CheckResult], None]
FailureCallback = Callable[[Hashable, BaseException], None]


@dataclass
class _Entry:
    spec: CheckSpec
    slot: _Slot
    probe: Probe | None = None
    paused: bool = False


@dataclass
class _Slot:
    """Keys that start together, every ``period`` seconds. The next start of a slot is also
    the deadline of its previous checks (period = timeout, as in Piranha), so no check needs
    a timer of its own, and the loop wakes once per slot instead of twice per check."""

    period: float
    keys: dict[Hashable, None]
    next_time: float = 0.0
    handle: asyncio.TimerHandle | None = None


class Scheduler:
    """Runs each spec every ``timeout`` seconds, first starts spread over the first period.

    Starts are grouped into slots ``granularity`` seconds apart (20 ms: 50 wake-ups a second
    whatever the number of servers). ``on_result(key, result)`` gets every verdict. An
    exception other than an OS error out of a check is a bug in the engine:
    ``on_failure(key, exception)`` is called and that key is not checked again (lvsd applies
    ``hard_shutdown``).
    """

    def __init__(self, on_result: ResultCallback, on_failure: FailureCallback | None = None,
                 granularity: float = 0.02) -> None:
        self.on_result = on_result
        self.on_failure = on_failure
        self.granularity = granularity
        self.entries: dict[Hashable, _Entry] = {}
        self.total = 0
        self.failed = 0
        self._slots: dict[tuple[float, int], _Slot] = {}
        self._cursor: dict[float, int] = {}
        self._anchor = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> int:
        return sum(1 for entry in self.entries.values() if entry.probe is not None)

    def start(self, specs: Mapping[Hashable, CheckSpec]) -> None:
        """Schedule ``specs`` (same as ``update`` on an empty scheduler)."""
        self.update(specs)

    def update(self, specs: Mapping[Hashable, CheckSpec]) -> None:
        """Make the scheduled set ``specs``: new keys are spread over their first period,
        removed keys stop (a running check is abandoned), a changed spec applies from its next
        run (a changed period moves the key), unchanged keys keep their rhythm."""
        loop = self._running_loop()
        for key in [key for key in self.entries if key not in specs]:
            self.remove(key)
        new_by_period: dict[float, list[Hashable]] = {}
        for key, spec in specs.items():
            entry = self.entries.get(key)
            if entry is not None and entry.slot.period == spec.timeout:
                entry.spec = spec
                continue
            if entry is not None:
                self.remove(key)
            new_by_period.setdefault(spec.timeout, []).append(key)
        for period, keys in new_by_period.items():
            self._place(loop, period, keys, specs)

    def _place(self, loop: asyncio.AbstractEventLoop, period: float, keys: list[Hashable],
               specs: Mapping[Hashable, CheckSpec]) -> None:
        count = max(1, int(round(period / self.granularity)))
        base = self._cursor.get(period, 0)
        self._cursor[period] = (base + 1) % count
        for position, key in enumerate(keys):
            index = (base + position * count // len(keys)) % count
            slot = self._slots.get((period, index))
            if slot is None:
                slot = _Slot(period, {})
                self._slots[(period, index)] = slot
                now = loop.time()
                if not self._anchor:
                    self._anchor = now
                offset = self._anchor + index * period / count
                laps = max(0.0, -(-(now - offset) // period))
                slot.next_time = offset + laps * period
                slot.handle = loop.call_at(slot.next_time, self._fire, slot)
            slot.keys[key] = None
            self.entries[key] = _Entry(specs[key], slot)

    def remove(self, key: Hashable) -> None:
        entry = self.entries.pop(key, None)
        if entry is None:
            return
        entry.slot.keys.pop(key, None)
        if entry.probe is not None:
            probe, entry.probe = entry.probe, None
            probe.done = None  # abandoned: no result
            probe.expire()

    def pause(self, key: Hashable, paused: bool = True) -> None:
        """Stop (or resume) checking ``key`` without forgetting it (nanny's SIGUSR1/2)."""
        self.entries[key].paused = paused

    def stop(self) -> None:
        for key in list(self.entries):
            self.remove(key)
        for slot in self._slots.values():
            if slot.handle is not None:
                slot.handle.cancel()
        self._slots.clear()

    async def drain(self) -> None:
        """Stop, and give cancelled checks (and their killed programs) time to end."""
        tasks = [e.probe.task for e in self.entries.values() if isinstance(e.probe, TaskProbe)]
        self.stop()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def _fire(self, slot: _Slot) -> None:
        loop = self._running_loop()
        for key in list(slot.keys):
            entry = self.entries.get(key)
            if entry is None:
                continue
            if entry.probe is not None:
                entry.probe.expire()  # its deadline: this slot's start one period ago
            if entry.paused or self.entries.get(key) is not entry:
                continue
            entry.probe = start_probe(entry.spec, loop, functools.partial(self._done, key,
                                                                          entry))
        slot.next_time += slot.period
        now = loop.time()
        if slot.next_time < now:  # the loop was stalled for over a period: do not catch up
            slot.next_time += -(-(now - slot.next_time) // slot.period) * slot.period
        if slot.keys:
            slot.handle = loop.call_at(slot.next_time, self._fire, slot)
        else:
            slot.handle = None
            for position, candidate in list(self._slots.items()):
                if candidate is slot:
                    del self._slots[position]

    def _done(self, key: Hashable, entry: _Entry, outcome: CheckResult | BaseException) -> None:
        entry.probe = None
        if self.entries.get(key) is not entry:
            return
        if isinstance(outcome, BaseException):
            self.remove(key)
            log.error("check engine failure on %s: %r", entry.spec.describe(), outcome)
            if self.on_failure is not None:
                self.on_failure(key, outcome)
            return
        self.total += 1
        if not outcome.ok:
            self.failed += 1
        self.on_result(key, outcome)
