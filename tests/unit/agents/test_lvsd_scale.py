# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvsd's costs that grow with the table (issue #15): a health change programs the kernel
without reading it, lvsd.json is serialized per virtual and only where something changed, the
resync's period stretches to its CPU budget, equal servers share their objects."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from lvs_agents import lvsd, runtime
from lvs_agents.checks.spec import CheckResult
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
            self.value = 0

        def status(self):
            return {"value": self.value}

    virtuals = {n: Entry() for n in range(500)}
    cache = StatusCache(refresh_per_write=100)
    assert len(list(cache.entries(virtuals))) == 500
    assert cache.serialized == 500
    list(cache.entries(virtuals))
    assert cache.serialized == 500  # nothing changed: nothing serialized
    virtuals[7].value = 1
    cache.changed(7)
    texts = list(cache.entries(virtuals))
    assert cache.serialized == 501 and texts[7] == '{"value": 1}'
    for key in virtuals:  # every virtual's counters moved: 100 refreshed per write
        virtuals[key].value = 2
        cache.counted(key)
    list(cache.entries(virtuals))
    assert cache.serialized == 601
    assert [json.loads(text)["value"] for text in cache.entries(virtuals)].count(2) == 200
    for _write in range(3):
        list(cache.entries(virtuals))
    assert cache.serialized == 1001  # all 500 refreshed, each once
    del virtuals[3]
    assert len(list(cache.entries(virtuals))) == 499
    assert 3 not in cache.texts


def test_a_check_that_changes_nothing_shown_only_counts(tmp_path):
    harness = started(tmp_path)
    cache = harness.daemon.status_cache
    harness.daemon.write_status()
    key = key_of(harness, "127.0.0.2")
    harness.daemon._on_result(key, OK)  # down -> up: serialized at once
    assert not cache.texts and not cache.counting
    harness.daemon.write_status()
    harness.daemon._on_result(key, OK)  # up -> up: only its counters
    assert list(cache.counting) == [key[0]] and cache.texts


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
