# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvsd against the fake IPVS kernel, with real listeners on loopback addresses.

Timeouts are lvs.cf's (whole seconds, 1 s here); waits poll with generous bounds.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "module_utils"))

from fake_ipvs_kernel import FakeIpvsKernel  # noqa: E402
from lvs_agents import lvsd, runtime  # noqa: E402
from lvs_agents.lvsd_table import KernelTable  # noqa: E402
from lvs_cluster.agent_status import STALE_AFTER, STATUS_INTERVAL  # noqa: E402
from lvs_cluster.ipvs import netlink as nl  # noqa: E402
from lvs_cluster.ipvs.model import Destination, Service  # noqa: E402
from lvs_cluster.lvs_cf.expected import expected_ipvs  # noqa: E402
from lvs_cluster.lvs_cf.shells import load  # noqa: E402

VIP = "127.0.0.100"
SORRY = "127.0.0.9"
WRITES = {nl.CMD_NEW_SERVICE: "add_service", nl.CMD_SET_SERVICE: "edit_service",
          nl.CMD_DEL_SERVICE: "delete_service", nl.CMD_NEW_DEST: "add_destination",
          nl.CMD_SET_DEST: "edit_destination", nl.CMD_DEL_DEST: "delete_destination"}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.2", 0))
        return sock.getsockname()[1]


PORT = free_port()


def lvs_cf(servers=(("a", "127.0.0.2", 1),), *, extra="", virtual_extra="", vport=8080,
           scheduler="wlc", second_virtual=False):
    blocks = "".join(f"""
     server {name} {{
         address = {address}
         port = {PORT}
         active = 1
         weight = {weight}
     }}""" for name, address, weight in servers)
    text = f"""serial_no = 1
primary = 10.254.0.2
service = lvs
backup = 10.254.0.3
network = nat
{extra}
virtual web {{
     active = 1
     address = {VIP} lo:1
     port = {vport}
     protocol = tcp
     scheduler = {scheduler}
     timeout = 1
     reentry = 2
{virtual_extra}{blocks}
}}
"""
    if second_virtual:
        text += f"""
virtual other {{
     active = 1
     address = 127.0.0.101 lo:2
     port = 8081
     protocol = tcp
     timeout = 1
     server b {{
         address = 127.0.0.3
         port = {PORT}
         active = 1
         weight = 1
     }}
}}
"""
    return text


class Listener:
    """A real TCP listener on one loopback address; stop() closes it (connects refused)."""

    def __init__(self, address, port=None):
        self.address, self.port = address, port or PORT
        self.server = None

    async def start(self):
        async def handle(reader, writer):
            writer.close()
        self.server = await asyncio.start_server(handle, self.address, self.port,
                                                 reuse_address=True)
        return self

    async def stop(self):
        self.server.close()
        await self.server.wait_closed()


class Harness:
    def __init__(self, tmp_path, text, preload=None, clock=None, step=20.0):
        self.path = tmp_path / "lvs.cf"
        self.path.write_text(text)
        self.fake = FakeIpvsKernel().load(preload or {})
        self.kernel = nl.IpvsNetlink(self.fake)
        config = runtime.load_config(str(self.path))
        options = {"clock": clock} if clock else {}
        self.daemon = lvsd.Lvsd(str(self.path), config, lvsd.KernelTable(self.kernel),
                                resync=3600, step=step, **options)
        self.task = None
        self.mark = len(self.fake.batches)  # after the generic netlink family look-up

    async def start(self):
        self.task = asyncio.get_running_loop().create_task(
            self.daemon.run(handle_signals=False))
        await until(lambda: self.daemon.ready)
        return self

    async def stop(self):
        self.daemon.stop()
        return await asyncio.wait_for(self.task, 10)

    def dests(self, port=8080, address=VIP):
        service = Service("inet", "tcp", address, port)
        return {d.address: d.weight for d, _stats in self.kernel.destinations(service)}

    def writes_since_mark(self):
        out = []
        for batch in self.fake.batches[self.mark:]:
            out += [WRITES[command] for command, _flags, _seq in batch if command in WRITES]
        return out

    def set_mark(self):
        self.mark = len(self.fake.batches)

    def reload(self, text):
        self.path.write_text(text)
        return self.daemon.reload()


async def until(condition, timeout=8.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.fixture(autouse=True)
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LVS_CLUSTER_RUN_DIR", str(tmp_path / "run"))


def run(coroutine):
    return asyncio.run(coroutine)


def test_server_down_within_one_timeout_and_back_after_rise(tmp_path):
    async def main():
        a = await Listener("127.0.0.2").start()
        harness = await Harness(tmp_path, lvs_cf()).start()
        await until(lambda: harness.dests() == {"127.0.0.2": 1})
        await a.stop()
        loop = asyncio.get_running_loop()
        stopped = loop.time()
        await until(lambda: harness.dests() == {})
        removed_after = loop.time() - stopped
        await a.start()
        restarted = loop.time()
        await until(lambda: harness.dests() == {"127.0.0.2": 1})
        back_after = loop.time() - restarted
        member = next(iter(harness.daemon.members.values()))
        assert await harness.stop() == 0
        await a.stop()
        return removed_after, back_after, member
    removed_after, back_after, member = run(main())
    assert removed_after < 1.0 + 0.5  # one timeout (1 s), plus scheduling slack
    assert back_after >= 1.0  # rise = reentry 2 / timeout 1 = 2 good checks
    assert member.health.failed_checks >= 1


def test_quiesce_sets_weight_zero(tmp_path):
    async def main():
        a = await Listener("127.0.0.2").start()
        harness = await Harness(tmp_path, lvs_cf(virtual_extra="     quiesce_server = 1\n"
                                                 )).start()
        await until(lambda: harness.dests() == {"127.0.0.2": 1})
        await a.stop()
        await until(lambda: harness.dests() == {"127.0.0.2": 0})
        status = json.loads((tmp_path / "run" / "lvsd.json").read_text())
        await harness.stop()
        return status
    status = run(main())
    assert status["virtuals"][0]["servers"][0]["state"] in ("quiesced", "up")


def test_sorry_server_when_all_down_and_gone_when_one_recovers(tmp_path):
    async def main():
        a = await Listener("127.0.0.2").start()
        sorry = await Listener(SORRY, 8080).start()
        harness = await Harness(tmp_path, lvs_cf(virtual_extra=f"     sorry_server = {SORRY}\n"
                                                 )).start()
        await until(lambda: harness.dests() == {"127.0.0.2": 1})
        await a.stop()
        await until(lambda: harness.dests() == {SORRY: 1})
        assert harness.daemon.status()["virtuals"][0]["sorry_active"]
        await a.start()
        await until(lambda: harness.dests() == {"127.0.0.2": 1})
        # a sorry server that fails its check is not added
        await sorry.stop()
        await a.stop()
        await until(lambda: not harness.daemon.members[
            next(k for k in harness.daemon.members if len(k) == 4)].health.healthy)
        await until(lambda: harness.dests() == {})
        await harness.stop()
    run(main())


def test_reload_keeps_unchanged_destinations_and_edits_in_place(tmp_path):
    other = Service("inet", "tcp", "192.0.2.50", 80)

    async def main():
        a = await Listener("127.0.0.2").start()
        b = await Listener("127.0.0.3").start()
        servers = (("a", "127.0.0.2", 1), ("b", "127.0.0.3", 1))
        harness = await Harness(tmp_path, lvs_cf(servers),
                                preload={other: (Destination("10.9.9.9", 80),)}).start()
        await until(lambda: harness.dests() == {"127.0.0.2": 1, "127.0.0.3": 1})
        harness.set_mark()
        before = time.time()
        assert harness.reload(lvs_cf(servers))  # same file
        assert harness.writes_since_mark() == []
        status = harness.daemon.status()
        assert status["reloads"] == 1 and before <= status["config_loaded_at"] <= time.time()
        harness.set_mark()
        edited = (("a", "127.0.0.2", 1), ("b", "127.0.0.3", 4))
        assert harness.reload(lvs_cf(edited, scheduler="rr", second_virtual=True))
        writes = harness.writes_since_mark()
        await until(lambda: harness.dests(8081, "127.0.0.101") == {"127.0.0.3": 1})
        snapshot = harness.fake.snapshot()
        a_health = harness.daemon.members[
            next(k for k in harness.daemon.members if k[1] == "127.0.0.2")].health
        await harness.stop()
        await a.stop()
        await b.stop()
        return writes, snapshot, a_health, harness
    writes, snapshot, a_health, harness = run(main())
    assert "delete_service" not in writes and "delete_destination" not in writes
    assert writes.count("edit_service") == 1 and writes.count("edit_destination") == 1
    assert harness.dests() == {"127.0.0.2": 1, "127.0.0.3": 4}
    assert a_health.checks > 1  # kept its history
    assert any(key[2] == "192.0.2.50" for key in snapshot if len(key) == 4)


def test_removed_virtual_is_deleted_with_its_address_and_foreign_services_survive(tmp_path):
    """A reload owns the previous file's addresses until its reconcile: the removed virtual's
    service and another service on its address go; after that the address is not ours."""
    on_removed_vip = Service("inet", "tcp", "127.0.0.101", 7777)
    foreign = Service("inet", "udp", "192.0.2.60", 53)
    later = Service("inet", "tcp", "127.0.0.101", 7778)

    async def main():
        a = await Listener("127.0.0.2").start()
        b = await Listener("127.0.0.3").start()
        preload = {foreign: (Destination("10.9.9.9", 53),)}
        harness = await Harness(tmp_path, lvs_cf(second_virtual=True), preload=preload).start()
        await until(lambda: harness.dests(8081, "127.0.0.101") == {"127.0.0.3": 1})
        harness.kernel.write(nl.add_service(on_removed_vip))  # by hand, after lvsd's start
        assert harness.reload(lvs_cf())
        services = {s.key for s, _stats in harness.kernel.services()}
        harness.kernel.write(nl.add_service(later))
        harness.daemon.full_reconcile()
        after = {s.key for s, _stats in harness.kernel.services()}
        await harness.stop()
        await a.stop()
        await b.stop()
        return services, after
    services, after = run(main())
    assert on_removed_vip.key not in services and foreign.key in services
    assert Service("inet", "tcp", "127.0.0.101", 8081).key not in services
    assert Service("inet", "tcp", VIP, 8080).key in services
    assert later.key in after and foreign.key in after


def test_a_hand_added_service_on_a_vip_is_removed_one_elsewhere_is_kept(tmp_path):
    """The one ownership rule (core ``lvs_cf.ownership``, the drift playbook's too): lvsd owns
    every service on a virtual's address, not only the declared ones; another address is not
    the cluster's."""
    other_port = Service("inet", "tcp", VIP, 9999)
    other_protocol = Service("inet", "udp", VIP, 53)
    elsewhere = Service("inet", "tcp", "192.0.2.60", 8080)

    async def main():
        a = await Listener("127.0.0.2").start()
        preload = {other_port: (Destination("10.9.9.9", 9999),), other_protocol: (),
                   elsewhere: (Destination("10.9.9.9", 8080),)}
        harness = await Harness(tmp_path, lvs_cf(), preload=preload).start()
        await until(lambda: harness.dests() == {"127.0.0.2": 1})
        services = {s.key for s, _stats in harness.kernel.services()}
        await harness.stop()
        await a.stop()
        return services
    services = run(main())
    assert other_port.key not in services and other_protocol.key not in services
    assert elsewhere.key in services and Service("inet", "tcp", VIP, 8080).key in services


def test_bad_file_on_reload_keeps_the_old_table(tmp_path, caplog):
    async def main():
        a = await Listener("127.0.0.2").start()
        harness = await Harness(tmp_path, lvs_cf()).start()
        await until(lambda: harness.dests() == {"127.0.0.2": 1})
        harness.set_mark()
        ok = harness.reload("virtual broken {\n   scheduler = nope\n}\n")
        await asyncio.sleep(1.5)
        writes = harness.writes_since_mark()
        dests = harness.dests()
        await harness.stop()
        await a.stop()
        return ok, writes, dests
    ok, writes, dests = run(main())
    assert not ok and writes == [] and dests == {"127.0.0.2": 1}
    assert any("keeping the running configuration" in r.message for r in caplog.records)


def test_slow_start_weights_with_an_injected_clock(tmp_path):
    now = [1000.0]

    async def main():
        a = await Listener("127.0.0.2").start()
        harness = await Harness(tmp_path, lvs_cf((("a", "127.0.0.2", 100),)),
                                clock=lambda: now[0]).start()
        seen = []
        for _attempt in range(4):
            await until(lambda: harness.dests().get("127.0.0.2") not in (None, *seen[-1:]))
            seen.append(harness.dests()["127.0.0.2"])
            now[0] += 20
        await harness.stop()
        await a.stop()
        return seen
    assert run(main()) == [3, 6, 12, 24]


def test_adoption_at_start_keeps_servers_and_their_weight(tmp_path):
    service = Service("inet", "tcp", VIP, 8080)

    async def main():
        a = await Listener("127.0.0.2").start()
        preload = {service: (Destination("127.0.0.2", PORT, weight=48),)}
        harness = Harness(tmp_path, lvs_cf((("a", "127.0.0.2", 100),)), preload=preload)
        await harness.start()
        immediately = harness.dests()
        await asyncio.sleep(1.5)
        later = harness.dests()
        writes = harness.writes_since_mark()
        await harness.stop()
        await a.stop()
        return immediately, later, writes
    immediately, later, writes = run(main())
    assert immediately == later == {"127.0.0.2": 48}
    assert writes == []


def test_sigterm_leaves_the_table_and_clear_on_exit_deletes_ours(tmp_path):
    async def main(clear):
        a = await Listener("127.0.0.2").start()
        harness = Harness(tmp_path, lvs_cf())
        harness.daemon.clear_on_exit = clear
        await harness.start()
        await until(lambda: harness.dests() == {"127.0.0.2": 1})
        await harness.stop()
        await a.stop()
        return [s.key for s, _stats in harness.kernel.services()]
    assert run(main(False)) == [Service("inet", "tcp", VIP, 8080).key]
    assert run(main(True)) == []


def test_engine_failure_with_hard_shutdown_exits_1_and_deletes(tmp_path):
    async def main(hard):
        harness = Harness(tmp_path, lvs_cf(extra=f"hard_shutdown = {hard}"))
        await harness.start()
        harness.daemon._on_engine_failure(next(iter(harness.daemon.members)),
                                          RuntimeError("bug"))
        if hard:
            code = await asyncio.wait_for(harness.task, 5)
        else:
            code = await harness.stop()
        return code, [s.key for s, _stats in harness.kernel.services()]
    assert run(main(1)) == (1, [])
    assert run(main(0)) == (0, [Service("inet", "tcp", VIP, 8080).key])


def test_status_file_follows_the_schema(tmp_path):
    async def main():
        a = await Listener("127.0.0.2").start()
        harness = await Harness(tmp_path, lvs_cf()).start()
        await until(lambda: harness.dests() == {"127.0.0.2": 1})
        await asyncio.sleep(0.2)
        status = json.loads((tmp_path / "run" / "lvsd.json").read_text())
        await harness.stop()
        await a.stop()
        return status
    status = run(main())
    assert status["config"].endswith("lvs.cf") and status["reloads"] == 0
    assert set(status["checks"]) == {"total", "failed", "running"}
    (virtual,) = status["virtuals"]
    assert virtual["service"] == f"TCP {VIP}:8080" and virtual["sorry_active"] is False
    assert virtual["service_key"] == {"family": "inet", "protocol": "tcp", "address": VIP,
                                      "port": 8080}
    (server,) = virtual["servers"]
    assert {k: server[k] for k in ("name", "address", "port", "healthy", "state", "weight",
                                   "configured_weight", "last_result")} == {
        "name": "a", "address": "127.0.0.2", "port": PORT, "healthy": True, "state": "up",
        "weight": 1, "configured_weight": 1, "last_result": "ok"}


def test_status_is_rewritten_well_within_the_bound_its_readers_use(tmp_path):
    """lvsd rewrites lvsd.json every STATUS_INTERVAL even when nothing happens, so that the
    drift playbook and lvs-status may call one older than STALE_AFTER stale."""
    path = tmp_path / "run" / "lvsd.json"

    async def main():
        harness = await Harness(tmp_path, lvs_cf((("a", "127.0.0.2", 1),))).start()
        seen = []
        end = asyncio.get_running_loop().time() + 3 * STATUS_INTERVAL
        while asyncio.get_running_loop().time() < end:
            updated = json.loads(path.read_text())["updated"]
            if not seen or seen[-1] != updated:
                seen.append(updated)
            await asyncio.sleep(0.05)
        await harness.stop()
        return seen
    seen = run(main())
    gaps = [later - earlier for earlier, later in zip(seen, seen[1:], strict=False)]
    assert len(seen) >= 3 and max(gaps) < STALE_AFTER


# --- lvsd and the expected table (the drift playbook) agree -------------------------------------

AGREE_CF = lvs_cf((("a", "127.0.0.2", 1), ("b", "127.0.0.3", 40), ("c", "127.0.0.4", 7)),
                  virtual_extra=f"     sorry_server = {SORRY}\n     quiesce_server = 1\n")

health_states = st.one_of(st.tuples(st.just("up"), st.integers(1, 400)),
                          st.tuples(st.sampled_from(["quiesced", "down", "rising"]),
                                    st.just(0)))


def set_health(health, state, weight):
    health.in_table = state in ("up", "quiesced")
    health.healthy = state == "up"
    health.weight = weight
    health.checks = health.successes = 1 if state == "rising" else 0


@given(st.lists(health_states, min_size=4, max_size=4), st.booleans())
def test_expected_table_from_lvsd_json_is_what_lvsd_programs(states, keep_sorry_active):
    """Whatever the verdicts, the drift playbook expects the destinations lvsd programs: both
    go by the core's health_table rule (with or without lvsd.json's ``sorry_active``)."""
    config, _warnings = load(content=AGREE_CF)
    [state] = lvsd.build_virtuals(config, {}, 20.0).values()
    for member, (verdict, weight) in zip(state.members + [state.sorry], states, strict=True):
        set_health(member.health, verdict, weight)
    entry = json.loads(json.dumps(state.status()))
    if not keep_sorry_active:
        del entry["sorry_active"]
    expected = expected_ipvs(config, {"virtuals": [entry]})[state.service]
    assert expected == state.desired()


# --- main() ------------------------------------------------------------------------------------

def test_main_bad_file_exits_2(tmp_path, capsys):
    path = tmp_path / "lvs.cf"
    path.write_text("virtual x {\n  scheduler = nope\n}\n")
    assert lvsd.main(["-n", "-c", str(path)], kernel_factory=lambda: None) == 2
    error = capsys.readouterr().err
    assert error.startswith("lvsd: ") and "scheduler" in error and len(error.splitlines()) == 1


def test_main_test_start_logs_and_ready_fd(tmp_path, capfd):
    path = tmp_path / "lvs.cf"
    path.write_text(lvs_cf(extra="tcp_timeout = 900"))
    read_end, write_end = os.pipe()
    fake = FakeIpvsKernel()

    def stop_soon():
        loop = asyncio.get_event_loop()
        loop.call_later(1.5, os.kill, os.getpid(), 15)

    original = lvsd.Lvsd.signal_ready

    def ready(self):
        original(self)
        stop_soon()

    lvsd.Lvsd.signal_ready = ready
    try:
        code = lvsd.main(["-n", "-t", "-c", str(path), "--ready-fd", str(write_end),
                          "--run-dir", str(tmp_path / "run")],
                         kernel_factory=lambda: nl.IpvsNetlink(fake))
    finally:
        lvsd.Lvsd.signal_ready = original
    assert code == 0
    assert os.read(read_end, 100) == b"READY\n"
    assert fake.writes == 0  # nothing applied
    messages = capfd.readouterr().err
    assert "test-start, not applied: add_service service tcp 127.0.0.100:8080" in messages
    assert "set timeouts tcp 900" in messages


def test_lvsd_json_says_ready_before_the_readiness_pipe_does(tmp_path, monkeypatch):
    """pulse learns READY from the pipe and may be killed at once; the pulse restarted after it
    adopts the orphan that lvsd.json names READY, so that file must say so first."""
    read_end, write_end = os.pipe()
    harness = Harness(tmp_path, lvs_cf())
    harness.daemon.ready_fd = write_end
    seen_when_the_pipe_said_ready = []
    write = os.write

    def watching_the_pipe(fd, data):
        if fd == write_end:
            seen_when_the_pipe_said_ready.append(runtime.read_status("lvsd"))
        return write(fd, data)

    monkeypatch.setattr(os, "write", watching_the_pipe)
    try:
        harness.daemon.signal_ready()
    finally:
        monkeypatch.undo()
        os.close(read_end)
    status = seen_when_the_pipe_said_ready[0]
    assert status is not None and status["ready"] is True and status["pid"] == os.getpid()


def test_help_and_version(capsys):
    with pytest.raises(SystemExit) as stop:
        lvsd.main(["--help"])
    assert stop.value.code == 0 and "--resync" in capsys.readouterr().out


def test_kernel_timeouts_are_a_reconcile_operation_only_when_they_differ(caplog):
    kernel = nl.IpvsNetlink(FakeIpvsKernel())
    before = kernel.timeouts()
    table = KernelTable(kernel)
    caplog.set_level("INFO", logger="lvsd")
    table.set_timeouts(nl.Timeouts(1234, 0, 0))  # 0: keep the live value, as ipvsadm --set
    assert kernel.timeouts() == nl.Timeouts(1234, before.tcp_fin, before.udp)
    assert [r.getMessage() for r in caplog.records] == [
        f"ipvs: set_timeouts {{'tcp': [{before.tcp}, 1234]}}"]
    caplog.clear()
    table.set_timeouts(nl.Timeouts(1234, 0, 0))
    assert caplog.records == []  # nothing differs: no operation
