# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One check of one server: the probe kind for its spec (TCP on the epoll set; UDP and
programs as one task each), and ``run_check`` to run a single check within its deadline."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

from .probe import Done, Probe
from .program import program_check
from .spec import CheckResult, CheckSpec
from .tcp import TcpPlan
from .udp import udp_check


class TaskProbe(Probe):
    """UDP checks and programs: one task each (rare, so simplicity wins over cost)."""

    __slots__ = ("task",)

    def __init__(self, spec: CheckSpec, loop: asyncio.AbstractEventLoop, done: Done) -> None:
        super().__init__(spec, loop, done)
        self.task = loop.create_task(self._talk())
        self.task.add_done_callback(self._ended)

    async def _talk(self) -> str:
        spec, state = self.spec, self.state
        try:
            if spec.send_program:
                return await program_check(spec, state)
            return await udp_check(spec, asyncio.get_running_loop(), state)
        except OSError as error:
            return f"{state.phase}: {error.strerror or error}"

    def _ended(self, task: asyncio.Task) -> None:
        if task.cancelled():
            self.finish(self.timeout_reason())
            return
        error = task.exception()
        if error is not None:
            self.crash(error)
            return
        self.finish(task.result())

    def expire(self) -> None:
        """The deadline, or the check abandoned (``done`` cleared): cancel either way."""
        if not self.task.done():
            self.state.expired = True
            self.task.cancel()


Starter = Callable[[asyncio.AbstractEventLoop, Done], Probe]


def prepare(spec: CheckSpec) -> Starter:
    """What starts the probes of ``spec``, made once per check (the scheduler keeps it)."""
    if spec.protocol == "tcp" and not spec.send_program:
        return TcpPlan(spec).start
    return functools.partial(TaskProbe, spec)


def start_probe(spec: CheckSpec, loop: asyncio.AbstractEventLoop, done: Done) -> Probe:
    """Start one check; ``done`` gets its result. The caller owns the deadline: it calls
    ``expire()`` on the returned probe when ``spec.timeout`` has passed."""
    return prepare(spec)(loop, done)


async def run_check(spec: CheckSpec) -> CheckResult:
    """Run one check within its deadline; OS errors are a failed check, never an exception."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()

    def done(outcome: CheckResult | BaseException) -> None:
        if future.done():
            return
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    probe = start_probe(spec, loop, done)
    timer = loop.call_later(spec.timeout, probe.expire)
    try:
        return await future
    finally:
        timer.cancel()
        probe.done = None
        probe.expire()  # no-op after a verdict; a cancelled check closes its socket now
