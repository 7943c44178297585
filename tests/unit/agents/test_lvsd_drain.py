# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvs.cf's ``drain = 1`` (a real server drained for maintenance): lvsd keeps the healthy server
at weight 0, through a restart and its resyncs, and gives it its weight back when the key goes;
the drift playbook's expected table says the same."""

from __future__ import annotations

import asyncio
import json

import pytest
from lvs_agents import lvsd
from lvs_cluster.ipvs.model import Destination, Service
from lvs_cluster.lvs_cf.expected import expected_ipvs
from lvs_cluster.lvs_cf.ipvs import desired_ipvs
from lvs_cluster.lvs_cf.shells import load
from test_lvsd import (
    PORT,
    VIP,
    Harness,
    Listener,
    lvs_cf,
    run,
    until,
)

SERVICE = Service("inet", "tcp", VIP, 8080)


@pytest.fixture(autouse=True)
def run_dir(tmp_path, monkeypatch):
    """lvsd.json under the test's tmp_path."""
    monkeypatch.setenv("LVS_CLUSTER_RUN_DIR", str(tmp_path / "run"))


TWO = (("a", "127.0.0.2", 1), ("b", "127.0.0.3", 1))  # no slow start: weight 1


def draining(text: str, name: str = "a") -> str:
    """``text`` with server ``name`` given ``drain = 1``."""
    marker = f"     server {name} {{\n"
    assert marker in text
    return text.replace(marker, marker + "         drain = 1\n")


def test_a_draining_server_stays_at_weight_0_and_comes_back_in_place(tmp_path):
    async def main():
        listeners = [await Listener("127.0.0.2").start(), await Listener("127.0.0.3").start()]
        harness = await Harness(tmp_path, lvs_cf(TWO)).start()
        await until(lambda: harness.dests() == {"127.0.0.2": 1, "127.0.0.3": 1})
        harness.set_mark()
        assert harness.reload(draining(lvs_cf(TWO)))
        drained = harness.dests()
        status = json.loads(json.dumps(harness.daemon.status()))
        harness.daemon.full_reconcile()  # a resync keeps it
        resynced = harness.dests()
        drain_writes = harness.writes_since_mark()
        harness.set_mark()
        assert harness.reload(lvs_cf(TWO))
        back = harness.dests()
        back_writes = harness.writes_since_mark()
        await harness.stop()
        for listener in listeners:
            await listener.stop()
        return drained, status, resynced, drain_writes, back, back_writes
    drained, status, resynced, drain_writes, back, back_writes = run(main())
    assert drained == resynced == {"127.0.0.2": 0, "127.0.0.3": 1}
    assert drain_writes == ["edit_destination"]  # in place: its connections are not cut
    server = status["virtuals"][0]["servers"][0]
    assert (server["name"], server["weight"], server["drain"]) == ("a", 0, True)
    assert back == {"127.0.0.2": 1, "127.0.0.3": 1}
    assert back_writes == ["edit_destination"]


def test_a_restarted_lvsd_keeps_a_draining_server_it_finds_at_weight_0(tmp_path):
    preload = {SERVICE: (Destination("127.0.0.2", PORT, weight=0),
                         Destination("127.0.0.3", PORT, weight=1))}

    async def main():
        listeners = [await Listener("127.0.0.2").start(), await Listener("127.0.0.3").start()]
        harness = await Harness(tmp_path, draining(lvs_cf(TWO)), preload=preload).start()
        immediately = harness.dests()
        await asyncio.sleep(1.5)  # a few checks
        later = harness.dests()
        writes = harness.writes_since_mark()
        await harness.stop()
        for listener in listeners:
            await listener.stop()
        return immediately, later, writes
    immediately, later, writes = run(main())
    assert immediately == later == {"127.0.0.2": 0, "127.0.0.3": 1}
    assert "delete_destination" not in writes


def test_a_draining_server_that_fails_its_check_leaves_the_table(tmp_path):
    async def main():
        a = await Listener("127.0.0.2").start()
        b = await Listener("127.0.0.3").start()
        harness = await Harness(tmp_path, draining(lvs_cf(TWO))).start()
        await until(lambda: harness.dests() == {"127.0.0.2": 0, "127.0.0.3": 1})
        await a.stop()
        await until(lambda: harness.dests() == {"127.0.0.3": 1})
        await harness.stop()
        await b.stop()
    run(main())


def test_the_declared_table_and_the_expected_one_have_a_draining_server_at_weight_0():
    config, _warnings = load(content=draining(lvs_cf(TWO)))
    weights = {d.address: d.weight for d in desired_ipvs(config)[SERVICE]}
    assert weights == {"127.0.0.2": 0, "127.0.0.3": 1}
    # without lvsd's status (pulse stopped) and with it: the table lvsd programs
    without = {d.address: d.weight for d in expected_ipvs(config)[SERVICE]}
    assert without == weights
    [state] = lvsd.build_virtuals(config, {}, 20.0).values()
    for member in state.members:
        member.health.in_table = member.health.healthy = True
        member.health.weight = member.health.policy.weight
    status = {"virtuals": [json.loads(json.dumps(state.status()))]}
    assert expected_ipvs(config, status)[state.service] == state.desired()
    assert {d.address: d.weight for d in state.desired()} == weights
