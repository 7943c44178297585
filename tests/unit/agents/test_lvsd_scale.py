# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvsd's costs that grow with the table (issue #15): a health change programs the kernel
without reading it, lvsd.json is serialized per virtual and only where something changed, the
resync's period stretches to its CPU budget, equal servers share their objects."""

from __future__ import annotations

import asyncio
import gc
import json
from dataclasses import replace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lvs_agents import lvsd, runtime
from lvs_agents.checks.spec import CheckResult
from lvs_agents.health import HealthPolicy, ServerHealth
from lvs_agents.lvsd_pacing import ResyncPacer
from lvs_agents.lvsd_status import StatusCache
from lvs_cluster.ipvs import codec
from lvs_cluster.ipvs import netlink as nl
from lvs_cluster.ipvs.model import Service
from test_lvsd import VIP, Harness, lvs_cf
from test_lvsd_shared_checks import lvs_cf as shared_lvs_cf

OK = CheckResult(True, "ok", 0.01)
FAILED = CheckResult(False, "connection refused", 0.01)
SERVICE = Service("inet", "tcp", VIP, 8080)


@pytest.fixture(autouse=True)
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LVS_CLUSTER_RUN_DIR", str(tmp_path / "run"))


def dumps_since(harness, command=nl.CMD_GET_DEST):
    return sum(1 for batch in harness.fake.batches[harness.mark:]
               for sent, _flags, _seq in batch if sent == command)


def started(tmp_path, servers=(("a", "127.0.0.2", 1), ("b", "127.0.0.3", 1))):
    """lvsd after its first reconcile (no loop, no checks running): every server down."""
    harness = Harness(tmp_path, lvs_cf(servers))
    assert harness.daemon.full_reconcile()
    harness.set_mark()
    return harness


def key_of(harness, address):
    return next(key for key in harness.daemon.members if key[1] == address)


def test_a_health_change_is_programmed_without_reading_the_kernel(tmp_path):
    harness = started(tmp_path)
    harness.daemon._on_result(key_of(harness, "127.0.0.2"), OK)
    harness.daemon._on_result(key_of(harness, "127.0.0.3"), OK)
    harness.daemon._on_result(key_of(harness, "127.0.0.2"), FAILED)
    assert dumps_since(harness) == 0
    assert harness.writes_since_mark() == ["add_destination", "add_destination",
                                           "delete_destination"]
    assert harness.dests() == {"127.0.0.3": 1}


def test_a_hand_edit_in_the_way_makes_it_read_the_service_and_plan_again(tmp_path):
    harness = started(tmp_path)
    # by hand, while lvsd believes the service empty: the server lvsd is about to add
    member = harness.daemon.members[key_of(harness, "127.0.0.2")]
    harness.kernel.write(codec.add_destination(SERVICE, replace(member.destination, weight=7)))
    harness.set_mark()
    harness.daemon._on_result(key_of(harness, "127.0.0.2"), OK)
    assert dumps_since(harness) == 1
    assert harness.writes_since_mark() == ["add_destination", "edit_destination"]
    assert harness.dests() == {"127.0.0.2": 1}  # added: refused (it exists); read; edited
    # lvsd knows the service again: the next change reads nothing
    harness.set_mark()
    harness.daemon._on_result(key_of(harness, "127.0.0.2"), FAILED)
    assert dumps_since(harness) == 0
    assert harness.dests() == {}


def test_after_a_failed_resync_a_health_change_reads_the_kernel_again(tmp_path):
    harness = started(tmp_path)
    harness.daemon.applied.clear()  # what a failed full reconcile leaves
    harness.daemon._on_result(key_of(harness, "127.0.0.2"), OK)
    assert dumps_since(harness) == 1
    assert harness.dests() == {"127.0.0.2": 1}


def test_lvsd_json_is_what_status_says(tmp_path):
    harness = started(tmp_path)
    harness.daemon._on_result(key_of(harness, "127.0.0.2"), OK)
    harness.daemon.write_status()
    written = runtime.read_status("lvsd")
    assert written is not None
    expected = json.loads(json.dumps(harness.daemon.status()))
    assert {k: v for k, v in written.items() if k not in ("pid", "updated", "version")} == \
        expected


def test_an_entry_is_serialized_again_only_when_it_changed():
    class Entry:
        def __init__(self):
            self.value, self.status_text, self.status_waiting = 0, None, False

        def status(self):
            return {"value": self.value}

    virtuals = [Entry() for _n in range(500)]
    cache = StatusCache(refresh_per_write=100)
    assert len(list(cache.entries(virtuals))) == 500
    assert cache.serialized == 500
    list(cache.entries(virtuals))
    assert cache.serialized == 500  # nothing changed: nothing serialized
    virtuals[7].value = 1
    cache.changed(virtuals[7])
    texts = list(cache.entries(virtuals))
    assert cache.serialized == 501 and texts[7] == '{"value": 1}'
    for entry in virtuals:  # every virtual's counters moved: 100 refreshed per write
        entry.value = 2
        cache.counted(entry)
        cache.counted(entry)  # twice: still once in the queue
    list(cache.entries(virtuals))
    assert cache.serialized == 601
    assert [json.loads(text)["value"] for text in cache.entries(virtuals)].count(2) == 200
    for _write in range(3):
        list(cache.entries(virtuals))
    assert cache.serialized == 1001  # all 500 refreshed, each once


def test_a_check_that_changes_nothing_shown_only_counts(tmp_path):
    harness = started(tmp_path)
    cache = harness.daemon.status_cache
    state = next(iter(harness.daemon.virtuals.values()))
    harness.daemon.write_status()
    key = key_of(harness, "127.0.0.2")
    harness.daemon._on_result(key, OK)  # down -> up: serialized at once
    assert state.status_text is None and not cache.waiting
    harness.daemon.write_status()
    harness.daemon._on_result(key, OK)  # up -> up: only its counters
    assert list(cache.waiting) == [state] and state.status_text is not None


def health_states():
    """Any state of a server's health machine, as fields."""
    return st.fixed_dictionaries({
        "healthy": st.booleans(), "in_table": st.booleans(), "weight": st.integers(0, 12),
        "failures": st.integers(0, 3), "successes": st.integers(0, 3),
        "checks": st.integers(0, 5), "failed_checks": st.integers(0, 5),
        "forced": st.sampled_from([None, True, False]),
        "last_result": st.sampled_from([None, "ok", "connection refused"]),
        "last_check": st.sampled_from([None, 5.0]), "_last_step": st.sampled_from([0.0, 90.0])})


STEADY = {"healthy": True, "in_table": True, "weight": 3, "failures": 0, "successes": 4,
          "checks": 9, "failed_checks": 1, "forced": None, "last_result": "ok",
          "last_check": 5.0, "_last_step": 0.0}


@settings(max_examples=500, deadline=None)
@example(STEADY, 3, 1, False)
@example({**STEADY, "weight": 2}, 3, 1, False)  # slow start not finished: record's
@example({**STEADY, "last_result": "connection refused", "failures": 0}, 3, 1, False)
@given(health_states(), st.integers(1, 8), st.integers(1, 3), st.booleans())
def test_the_steady_path_leaves_the_health_as_record_would(fields, weight, fall, quiesce):
    policy = HealthPolicy(weight=weight, rise=2, fall=fall, quiesce=quiesce, step=20.0, scale=1)
    steady, recorded = ServerHealth(policy), ServerHealth(policy)
    for health in (steady, recorded):
        for name, value in fields.items():
            setattr(health, name, value)
    if steady.steady_ok(100.0):
        assert recorded.record(True, 100.0) is False
        assert {name: getattr(steady, name) for name in ServerHealth.__slots__} == \
            {name: getattr(recorded, name) for name in ServerHealth.__slots__}
    else:
        assert {name: getattr(steady, name) for name in fields} == fields  # untouched


def test_the_resync_period_stretches_to_its_budget():
    pacer = ResyncPacer(10.0, 0.04)
    assert pacer.after(0.2) == 10.0 and not pacer.stretched
    assert pacer.after(3.0) == pytest.approx(75.0) and pacer.stretched
    assert pacer.after(0.1) == 10.0 and not pacer.stretched
    assert pacer.status() == {"period": 10.0, "minimum": 10.0, "budget_percent": 4.0,
                              "last_cpu_seconds": 0.1}
    with pytest.raises(ValueError):
        ResyncPacer(10.0, 0)


def test_the_command_line_refuses_a_budget_out_of_range(tmp_path, capsys):
    assert lvsd.main(["-n", "-c", str(tmp_path / "none.cf"), "--resync-budget", "0"]) == 2
    assert "--resync-budget" in capsys.readouterr().err


def test_a_server_in_many_virtuals_shares_its_check_destination_and_policy(tmp_path):
    harness = Harness(tmp_path, shared_lvs_cf([1] * 4))  # one server in four virtuals
    members = list(harness.daemon.members.values())
    assert len(members) == 4
    assert len({id(m.spec) for m in members}) == 1
    assert len({id(m.destination) for m in members}) == 1
    assert len({id(m.health.policy) for m in members}) == 1
    assert len({id(m.health) for m in members}) == 4  # its health is its own in each


def test_an_up_server_checked_ok_takes_the_steady_path():
    health = ServerHealth(HealthPolicy(weight=3, rise=1, fall=1, step=20.0, scale=1))
    for name, value in STEADY.items():
        setattr(health, name, value)
    assert health.steady_ok(100.0)
    assert (health.checks, health.successes, health.last_check) == (10, 5, 100.0)


def test_the_state_built_at_start_and_at_a_reload_is_frozen_out_of_the_collector(tmp_path):
    gc.unfreeze()
    harness = Harness(tmp_path, lvs_cf())

    async def main():
        await harness.start()
        frozen_at_start = gc.get_freeze_count()
        assert harness.reload(lvs_cf(scheduler="rr"))
        frozen_after_reload = gc.get_freeze_count()
        await harness.stop()
        return frozen_at_start, frozen_after_reload

    try:
        at_start, after_reload = asyncio.run(main())
    finally:
        gc.unfreeze()
    assert at_start > 0 and after_reload > 0
