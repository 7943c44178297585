# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The check engine against real loopback servers started by each test, and real programs."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time

import pytest
from lvs_agents.checks import (
    HTTP_EXPECT,
    HTTP_SEND,
    CheckSpec,
    Scheduler,
    decode_escapes,
    program_argv,
    run_check,
)

HOST = "127.0.0.1"


def run(coroutine):
    return asyncio.run(coroutine)


async def serve(reply=b"", *, parts=(), pause=0.0, read=True):
    """A TCP server on a free loopback port: reads one chunk, writes ``reply`` or ``parts``
    with ``pause`` between them, closes."""

    async def handle(reader, writer):
        if read:
            await reader.read(1024)
        for index, part in enumerate(parts or (reply,)):
            if index and pause:
                await asyncio.sleep(pause)
            writer.write(part)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, HOST, 0)
    return server, server.sockets[0].getsockname()[1]


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def spec(port, **options):
    options.setdefault("virtual_port", port)
    options.setdefault("timeout", 2)
    return CheckSpec.build(HOST, port, **options)


# --- normalisation -----------------------------------------------------------------------------


def test_builtin_http_check_on_virtual_port_80_only():
    built = CheckSpec.build(HOST, 8080, virtual_port=80)
    assert (built.send, built.expect) == (HTTP_SEND.encode(), HTTP_EXPECT.encode())
    assert CheckSpec.build(HOST, 80, virtual_port=8080).send is None


def test_send_program_drops_send_and_escapes_are_decoded():
    built = CheckSpec.build(HOST, 1, virtual_port=80, send="x", send_program="prog %h")
    assert built.send is None and built.expect is None
    assert decode_escapes(r"a\r\n\t\\\'\"\.") == "a\r\n\t\\'\"\\."
    assert CheckSpec.build(HOST, 1, virtual_port=1, expect=r"OK\r\n").expect == b"OK\r\n"


def test_program_argv_replaces_tokens_inside_words():
    assert program_argv("check -u http://%h:%p/ %h", "10.0.0.1", 8080) == \
        ["check", "-u", "http://10.0.0.1:8080/", "10.0.0.1"]


# --- TCP ---------------------------------------------------------------------------------------


def test_tcp_connect_ok_and_refused():
    async def main():
        server, port = await serve(read=False)
        async with server:
            good = await run_check(spec(port))
        bad = await run_check(spec(free_port()))
        return good, bad
    good, bad = run(main())
    assert good.ok and good.reason == "ok"
    assert not bad.ok and "refused" in bad.reason.lower()


class FullListener:
    """A listener whose accept queue is full: the kernel drops new SYNs, connects hang."""

    def __enter__(self):
        self.sock = socket.socket()
        self.sock.bind((HOST, 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers = []
        for _attempt in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex((HOST, self.port))
            self.fillers.append(filler)
        time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        for filler in self.fillers:
            filler.close()
        self.sock.close()


def test_tcp_connect_timeout():
    with FullListener() as full:
        result = run(run_check(spec(full.port, timeout=0.3)))
    assert not result.ok and result.reason == "connect timed out after 0.3 s"
    assert result.duration < 1


@pytest.mark.parametrize("expect,reply,ok", [
    ("HTTP", b"HTTP/1.0 200 OK\r\n\r\n", True),
    ("HTTP", b"FTP ready\r\n", False),
    ("*", b"x", True),
    ("*", b"", False),
    ("HTTP/1.1 200", b"HTTP/1.1", False),  # too short: the server closed
])
def test_tcp_send_expect_prefix_and_star(expect, reply, ok):
    async def main():
        server, port = await serve(reply)
        async with server:
            return await run_check(spec(port, send="GET / HTTP/1.0\\r\\n\\r\\n", expect=expect))
    result = run(main())
    assert result.ok is ok, result.reason


def test_regex_searches_anywhere_in_the_reply():
    async def main():
        server, port = await serve(b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nhealthy: yes\n")
        async with server:
            good = await run_check(spec(port, send="GET /", expect=r"healthy: (yes|ok)",
                                        use_regex=True))
            bad = await run_check(spec(port, send="GET /", expect=r"^healthy", use_regex=True))
        return good, bad
    good, bad = run(main())
    assert good.ok, good.reason
    assert not bad.ok and "does not match" in bad.reason


def test_fragmented_reply_passes():
    async def main():
        server, port = await serve(parts=(b"HT", b"TP/1.0 200 OK\r\n\r\n"), pause=0.2)
        async with server:
            prefix = await run_check(spec(port, send="GET /", expect="HTTP/1.0 200"))
            regex = await run_check(spec(port, send="GET /", expect="TP/1.0 2..",
                                         use_regex=True))
        return prefix, regex
    prefix, regex = run(main())
    assert prefix.ok, prefix.reason
    assert regex.ok, regex.reason


def test_silent_server_is_a_read_timeout():
    async def main():
        async def handle(reader, writer):
            await asyncio.sleep(5)

        server = await asyncio.start_server(handle, HOST, 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await run_check(spec(port, send="hi", expect="HI", timeout=0.4))
    result = run(main())
    assert not result.ok and result.reason.startswith("read timed out")


def test_reply_in_many_fragments_through_the_state_machine():
    parts = (b"HT", b"TP/1.", b"0 20", b"0 O", b"K\r\n\r\n")

    async def main():
        server, port = await serve(parts=parts, pause=0.05)
        async with server:
            return [await run_check(spec(port, send="GET /", **options)) for options in (
                {"expect": "HTTP/1.0 200 OK"},
                {"expect": "*"},
                {"expect": r"200 OK\r\n", "use_regex": True},  # split over three parts
                {"expect": "HTTP/1.1"},  # decided wrong at the 8th byte, in the 2nd part
            )]
    prefix, star, regex, wrong = run(main())
    assert prefix.ok and star.ok and regex.ok, (prefix.reason, star.reason, regex.reason)
    assert not wrong.ok and wrong.reason == "reply does not start with 'HTTP/1.1'"


def test_regex_is_decided_at_4_kib_without_waiting_for_the_close():
    async def main():
        async def handle(reader, writer):
            await reader.read(1024)
            for _attempt in range(10):
                writer.write(b"x" * 600)
                await writer.drain()
                await asyncio.sleep(0.01)
            await asyncio.sleep(5)  # keeps the connection open

        server = await asyncio.start_server(handle, HOST, 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await run_check(spec(port, send="GET /", expect="healthy", use_regex=True,
                                        timeout=3))
    result = run(main())
    assert not result.ok and result.reason == "reply does not match 'healthy'"
    assert result.duration < 2


def test_banner_expect_without_send():
    async def main():
        server, port = await serve(b"220 ready\r\n", read=False)
        async with server:
            return await run_check(spec(port, expect="220"))
    result = run(main())
    assert result.ok, result.reason


def test_send_without_expect_is_ok_once_written():
    async def main():
        server, port = await serve(read=False)  # closes at once
        async with server:
            return await run_check(spec(port, send="GET / HTTP/1.0\\r\\n\\r\\n"))
    result = run(main())
    assert result.ok, result.reason


def test_server_that_closes_before_replying():
    async def main():
        server, port = await serve(read=False)
        async with server:
            return [await run_check(spec(port, send="GET /", expect=expect))
                    for expect in ("HTTP", "*")]
    prefix, star = run(main())
    assert not prefix.ok and (prefix.reason == "reply too short (0 bytes)"
                              or prefix.reason.startswith("read: ")), prefix.reason
    assert not star.ok and (star.reason == "no reply"
                            or star.reason.startswith("read: ")), star.reason


def test_deadline_during_write_and_during_a_partial_reply():
    async def main():
        stalled = []

        async def handle(reader, writer):
            stalled.append(writer)
            writer.write(b"HT")  # then silence, and never reads what is sent
            await asyncio.sleep(5)

        server = await asyncio.start_server(handle, HOST, 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            # 64 MiB: more than both socket buffers hold, so the send cannot finish
            write = await run_check(CheckSpec(HOST, port, timeout=0.5, send=b"x" * (64 << 20),
                                              expect=b"HTTP"))
            read = await run_check(spec(port, send="GET /", expect="HTTP", timeout=0.5))
        return write, read
    write, read = run(main())
    assert not write.ok and write.reason == "send timed out after 0.5 s"
    assert not read.ok and read.reason == "read timed out after 0.5 s"
    assert write.duration < 2 and read.duration < 2


def test_scheduler_runs_send_expect_checks_every_period():
    async def main():
        server, port = await serve(b"HTTP/1.0 200 OK\r\n\r\n")
        results: dict[int, list] = {}
        async with server:
            scheduler = Scheduler(lambda key, result: results.setdefault(key, []).append(result))
            scheduler.start({n: spec(port, send="GET /", expect="HTTP", timeout=0.4)
                             for n in range(20)})
            await asyncio.sleep(1.0)
            scheduler.stop()
        return results
    results = run(main())
    assert len(results) == 20
    assert all(len(rs) >= 2 and all(r.ok for r in rs) for rs in results.values()), results


# --- UDP ---------------------------------------------------------------------------------------

class _Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(b"PONG " + data, addr)


def test_udp_echo_and_silence():
    async def main():
        loop = asyncio.get_running_loop()
        transport, _rest = await loop.create_datagram_endpoint(_Echo, local_addr=(HOST, 0))
        port = transport.get_extra_info("sockname")[1]
        try:
            echo = await run_check(spec(port, protocol="udp", send="PING", expect="PONG"))
            any_reply = await run_check(spec(port, protocol="udp", send="PING"))
            wrong = await run_check(spec(port, protocol="udp", send="PING", expect="ACK"))
        finally:
            transport.close()
        silent_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent_sock.bind((HOST, 0))  # bound, never answers
        try:
            silent = await run_check(spec(silent_sock.getsockname()[1], protocol="udp",
                                          send="PING", timeout=0.4))
        finally:
            silent_sock.close()
        closed = await run_check(spec(free_port(socket.SOCK_DGRAM), protocol="udp",
                                      send="PING", timeout=1))
        return echo, any_reply, wrong, silent, closed
    echo, any_reply, wrong, silent, closed = run(main())
    assert echo.ok and any_reply.ok, (echo.reason, any_reply.reason)
    assert not wrong.ok
    assert not silent.ok and "timed out" in silent.reason
    assert not closed.ok  # ICMP port unreachable: refused


# --- send_program ------------------------------------------------------------------------------

def program(tmp_path, body):
    path = tmp_path / "check.sh"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize("body,expect,ok", [
    ("exit 0\n", None, True),
    ("exit 1\n", None, False),
    ("echo up\n", "up", True),
    ("echo down\n", "up", False),
    ("echo up; exit 3\n", "up", False),  # Piranha: healthy; ours: the exit status counts
])
def test_send_program_exit_status_is_authoritative(tmp_path, body, expect, ok):
    result = run(run_check(spec(80, send_program=program(tmp_path, body), expect=expect)))
    assert result.ok is ok, result.reason


def test_send_program_gets_address_and_port_and_regex(tmp_path):
    path = program(tmp_path, 'echo "checked $1 port=$2"\n')
    result = run(run_check(spec(8080, send_program=f"{path} url=http://%h:%p/ %p",
                                expect=r"127\.0\.0\.1:8080/ port=8080$", use_regex=True)))
    assert result.ok, result.reason


def test_send_program_timeout_kills_it(tmp_path):
    marker = tmp_path / "still-running"
    path = program(tmp_path, f"sleep 3; touch {marker}\n")
    started = time.monotonic()
    result = run(run_check(spec(80, send_program=path, timeout=0.5)))
    assert not result.ok and "timed out" in result.reason
    assert time.monotonic() - started < 2.5
    time.sleep(3)
    assert not marker.exists()  # the whole session was killed, not just the shell


# Runs one check or load reading in a fresh interpreter and prints its peak RSS in KiB.
BOUNDED_OUTPUT = r"""
import asyncio, sys
sys.path[0:0] = sys.argv[1].split(":")
from lvs_agents.checks import CheckSpec, run_check
from lvs_agents.health import read_load
if sys.argv[2] == "check":
    spec = CheckSpec.build("127.0.0.1", 80, virtual_port=80, send_program="yes", expect="y",
                           timeout=2.0)
    print(asyncio.run(run_check(spec)).reason, file=sys.stderr)
else:
    print(asyncio.run(read_load(["yes"], 2.0)), file=sys.stderr)
# VmHWM: this process's peak RSS (ru_maxrss would count the parent's, kept across exec)
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


@pytest.mark.parametrize("what", ["check", "load"])
def test_a_program_streaming_endless_output_costs_bounded_memory(what):
    """lvsd reads a send_program's or a load monitor's output: a real server that answers
    with an endless stream must not make lvsd's memory grow (it would on both routers)."""
    import subprocess  # noqa: PLC0415

    paths = ":".join(sys.path)
    result = subprocess.run([sys.executable, "-c", BOUNDED_OUTPUT, paths, what],
                            capture_output=True, text=True, timeout=30, check=True)
    peak_kib = int(result.stdout.split()[-1])
    assert peak_kib < 80 * 1024, f"peak RSS {peak_kib // 1024} MiB ({result.stderr.strip()})"


def test_send_program_missing_is_unhealthy():
    result = run(run_check(spec(80, send_program="/nonexistent/checker %h")))
    assert not result.ok and "cannot run" in result.reason


# --- the scheduler -----------------------------------------------------------------------------


def test_scheduler_spreads_and_repeats_every_period():
    async def main():
        servers = [await serve(read=False) for _server in range(10)]  # 10 distinct checks
        seen: dict[int, list[float]] = {}
        loop = asyncio.get_running_loop()

        def on_result(key, result):
            assert result.ok, result.reason
            seen.setdefault(key, []).append(loop.time())

        scheduler = Scheduler(on_result)
        start = loop.time()
        scheduler.start({n: spec(port, timeout=0.5) for n, (_server, port) in enumerate(servers)})
        await asyncio.sleep(1.3)
        scheduler.stop()
        for server, _port in servers:
            server.close()
            await server.wait_closed()
        return start, seen
    start, seen = run(main())
    assert len(seen) == 10
    firsts = sorted(times[0] - start for times in seen.values())
    assert firsts[0] < 0.1 and firsts[-1] > 0.3  # spread over the first period
    for times in seen.values():
        assert len(times) >= 2
        assert all(0.3 < b - a < 0.8 for a, b in zip(times[:-1], times[1:], strict=True))


def test_scheduler_times_out_a_check_at_its_next_start():
    async def main():
        results = []
        scheduler = Scheduler(lambda key, result: results.append(result))
        with FullListener() as full:
            scheduler.start({"x": spec(full.port, timeout=0.3)})
            await asyncio.sleep(0.8)
            scheduler.stop()
        return results
    results = run(main())
    assert results and all(r.reason.startswith("connect timed out") for r in results)


def test_scheduler_reports_engine_bugs_and_stops_that_key(monkeypatch):
    from lvs_agents.checks import tcp

    def broken(*args):
        raise RuntimeError("bug")

    async def main():
        failures, results = [], []
        monkeypatch.setattr(tcp, "matcher", broken)
        server, port = await serve(b"HTTP")
        async with server:
            scheduler = Scheduler(lambda k, r: results.append(r),
                                  lambda k, e: failures.append((k, e)))
            scheduler.start({"x": spec(port, send="a", expect="HTTP", timeout=0.3)})
            await asyncio.sleep(0.8)
            scheduler.stop()
        return failures, results
    failures, results = run(main())
    assert len(failures) == 1 and failures[0][0] == "x" and not results


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def test_no_file_descriptor_leak():
    from lvs_agents.checks import tcp

    async def main():
        server, port = await serve(b"HTTP/1.0 200 OK")
        silent = await asyncio.start_server(lambda r, w: asyncio.sleep(5), HOST, 0)
        silent_port = silent.sockets[0].getsockname()[1]
        async with server, silent:
            for _attempt in range(20):
                await run_check(spec(port))
                await run_check(spec(port, send="x", expect="HTTP"))
                await run_check(spec(port, send="x", expect="HT.P", use_regex=True))
                await run_check(spec(port, send="x"))
            await run_check(spec(free_port()))
            await run_check(spec(free_port(), send="x", expect="HTTP"))
            await run_check(spec(silent_port, send="x", expect="HTTP", timeout=0.2))
        poller = tcp._POLLERS.get(asyncio.get_running_loop())
        assert poller is not None and not poller.probes
    run(main())
    before = open_fds()
    run(main())
    assert open_fds() <= before + 1


def test_abandoned_checks_close_their_sockets_at_once():
    """A check abandoned in flight (Scheduler.stop: lvsd's SIGHUP removing a server, or its
    exit; a cancelled run_check) closes its socket then, not when the server would answer."""
    from lvs_agents.checks import tcp

    async def main():
        async def handle(reader, writer):
            await asyncio.sleep(10)

        server = await asyncio.start_server(handle, HOST, 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            scheduler = Scheduler(lambda key, result: None)
            scheduler.start({"x": spec(port, send="x", expect="HTTP", timeout=5)})
            await asyncio.sleep(0.2)
            probe = scheduler.entries["x"].probe
            sock, phase = probe.sock, probe.state.phase
            scheduler.stop()
            poller = tcp._POLLERS[asyncio.get_running_loop()]
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(run_check(spec(port, send="x", expect="H", timeout=5)),
                                       0.2)
            return sock, phase, dict(poller.probes)
    sock, phase, waiting = run(main())
    assert phase == "read" and sock.fileno() == -1 and not waiting


def test_drain_cancels_silent_udp_checks():
    async def main():
        silent_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent_sock.bind((HOST, 0))
        try:
            scheduler = Scheduler(lambda key, result: None)
            scheduler.start({"u": spec(silent_sock.getsockname()[1], protocol="udp",
                                       send="PING", timeout=5)})
            await asyncio.sleep(0.1)
            started = time.monotonic()
            await scheduler.drain()
            return time.monotonic() - started
        finally:
            silent_sock.close()
    assert run(main()) < 2


if sys.platform != "linux":  # pragma: no cover
    pytest.skip("Linux only", allow_module_level=True)
