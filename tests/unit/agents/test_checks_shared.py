# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared checks: a real server checked the same way (the same ``CheckSpec``) by several
virtual services is probed once per period, and every one of them gets that verdict.

Probes are counted where they touch the kernel: every TCP probe opens one socket, so the
tests wrap the engine's socket factory (``tcp.stream_socket``) with a counter; the sockets stay
real and talk to a real loopback server. No assertion depends on timing: a count is read
when a verdict arrives, and the period (1 s) is far longer than a loopback check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

from lvs_agents.checks import CheckResult, CheckSpec, Scheduler

HOST = "127.0.0.1"
REPLY = b"HTTP/1.0 200 OK\r\n\r\n"


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 30))  # a bound against hangs, not a check


async def http_server():
    async def handle(reader, writer):
        await reader.read(1024)
        writer.write(REPLY)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, HOST, 0)
    return server, server.sockets[0].getsockname()[1]


def http(port, expect="HTTP", timeout=1.0):
    return CheckSpec.build(HOST, port, virtual_port=port, send="GET / HTTP/1.0\\r\\n\\r\\n",
                           expect=expect, timeout=timeout)


def services(count):
    return [("vs", n) for n in range(count)]


class Recorder:
    """Each key's verdicts, and the probe count at each of them; ``until(n)`` waits for every
    key in ``keys`` to have ``n`` verdicts."""

    def __init__(self, sockets: list[int]) -> None:
        self.sockets = sockets
        self.results: dict[Hashable, list[CheckResult]] = {}
        self.opened_at: dict[Hashable, list[int]] = {}
        self.changed = asyncio.Event()

    def __call__(self, key: Hashable, result: CheckResult) -> None:
        self.results.setdefault(key, []).append(result)
        self.opened_at.setdefault(key, []).append(self.sockets[0])
        self.changed.set()

    async def until(self, keys, count: int) -> None:
        while any(len(self.results.get(key, ())) < count for key in keys):
            self.changed.clear()
            await self.changed.wait()


def test_a_server_in_20_services_is_probed_once_per_period(sockets):
    async def main():
        server, port = await http_server()
        recorder = Recorder(sockets)
        async with server:
            scheduler = Scheduler(recorder)
            scheduler.start({("vs", n): http(port) for n in range(20)})
            await recorder.until(services(20), 2)
            scheduler.stop()
        return recorder
    recorder = run(main())
    # the first verdict of all 20 came from the first probe, the second from the second
    assert {key: opened[:2] for key, opened in recorder.opened_at.items()} == \
        {key: [1, 2] for key in services(20)}
    assert all(r.ok for rs in recorder.results.values() for r in rs), recorder.results


def test_a_different_expect_in_one_service_is_a_second_probe(sockets):
    async def main():
        server, port = await http_server()
        recorder = Recorder(sockets)
        async with server:
            scheduler = Scheduler(recorder)
            specs = {("vs", n): http(port) for n in range(20)}
            specs[("vs", 7)] = http(port, expect="HTTP/1.0 200")
            scheduler.start(specs)
            await recorder.until(services(20), 1)
            scheduler.stop()
        return recorder
    recorder = run(main())
    # in the first period: one probe for the 19 alike, one for the odd one, not 20
    firsts = {key: at[0] for key, at in recorder.opened_at.items()}
    odd = firsts.pop(("vs", 7))
    assert len(set(firsts.values())) == 1 and {odd, *firsts.values()} == {1, 2}
    assert all(r.ok for rs in recorder.results.values() for r in rs), recorder.results


def test_pausing_or_removing_one_service_keeps_probing_for_the_others(sockets):
    async def main():
        server, port = await http_server()
        recorder = Recorder(sockets)
        spec = http(port)
        async with server:
            scheduler = Scheduler(recorder)
            scheduler.start({"a": spec, "b": spec, "c": spec})
            await recorder.until("abc", 1)
            scheduler.pause("a")
            scheduler.update({"a": spec, "c": spec})  # b's service removed (a reload)
            seen = {key: len(recorder.results[key]) for key in "abc"}
            await recorder.until("c", seen["c"] + 2)
            after_pause = {key: len(recorder.results[key]) for key in "ab"}
            scheduler.pause("a", False)
            await recorder.until("a", after_pause["a"] + 1)
            scheduler.stop()
        return recorder, seen, after_pause
    recorder, seen, after_pause = run(main())
    assert after_pause == {"a": seen["a"], "b": seen["b"]}  # nothing for the paused or gone
    c_at = recorder.opened_at["c"]
    assert c_at == list(range(1, len(c_at) + 1))  # one probe per verdict, none skipped
    assert any(recorder.results["a"][-1] is result for result in recorder.results["c"])


def test_a_reload_moves_services_between_shared_checks(sockets):
    async def main():
        server, port = await http_server()
        recorder = Recorder(sockets)
        same, other, changed = http(port), http(port, expect="HTTP/1"), http(port, expect="H")
        async with server:
            scheduler = Scheduler(recorder)
            scheduler.start({"a": same, "b": same, "c": other})
            before = scheduler.sharing()
            await recorder.until("abc", 1)
            # c removed, b changed, d added with a's check
            scheduler.update({"a": same, "b": changed, "d": same})
            after = scheduler.sharing()
            mark = sockets[0]
            await recorder.until("abd", len(recorder.results["a"]) + 1)
            await recorder.until("d", 2)
            opened = sockets[0] - mark
            scheduler.stop()
            emptied = scheduler.sharing()
        return before, after, recorder, opened, emptied
    before, after, recorder, opened, emptied = run(main())
    spec_a = next(spec for spec, keys in before.items() if "a" in keys)
    assert sorted(map(sorted, before.values())) == [["a", "b"], ["c"]]
    assert after[spec_a] == ("a", "d") and sorted(after.values()) == [("a", "d"), ("b",)]
    assert not emptied
    assert opened <= 4  # a+d's probe and b's, two periods at most, never one per key
    # a and d share one verdict per probe from the reload on
    assert any(recorder.results["d"][0] is result for result in recorder.results["a"])
