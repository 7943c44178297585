# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether lvsd's status file may be believed (``agent_status.judge_lvsd_status``): the drift
playbook refuses an lvsd.json older than the bound derived from how often lvsd writes it, one
that is missing while pulse (lvsd's parent) runs, and waits for lvsd to load a corrected lvs.cf
and check its servers."""

from __future__ import annotations

import pytest

from plugins.module_utils.lvs_cluster import agent_status
from plugins.module_utils.lvs_cluster.agent_status import (
    STALE_AFTER,
    STATUS_INTERVAL,
    judge_lvsd_status,
    status_age,
)

PATH = "/run/lvs-cluster/lvsd.json"
NOW = 1_800_000_000.0


def lvsd_json(age=0.5, checks=3, **extra):
    """lvsd.json as lvsd writes it, ``age`` seconds before NOW."""
    servers = [{"name": "web1", "address": "10.0.0.21", "port": 80, "state": "up",
                "weight": 1, "configured_weight": 1, "checks": checks, "sorry": False},
               {"name": "sorry_server", "address": "10.0.0.99", "port": 80, "state": "down",
                "weight": 0, "configured_weight": 1, "checks": 0, "sorry": True}]
    return {"version": 1, "pid": 4242, "updated": NOW - age, "config": "/etc/sysconfig/ha/lvs.cf",
            "reloads": 0, "config_loaded_at": NOW - 100.0, "ready": True,
            "virtuals": [{"name": "web", "sorry_active": False, "servers": servers}], **extra}


def judge(document, running=True, loaded_after=None, now=NOW):
    return judge_lvsd_status(document, now, pulse_running=running, path=PATH,
                             loaded_after=loaded_after)


def test_the_bound_is_derived_from_how_often_lvsd_writes():
    assert STATUS_INTERVAL > 0
    assert STALE_AFTER == agent_status.MISSED_WRITES * STATUS_INTERVAL
    assert agent_status.MISSED_WRITES >= 3  # a busy router may miss a write or two


def test_a_fresh_status_is_used():
    document = lvsd_json()
    verdict = judge(document)
    assert verdict.problem is None and verdict.status is document


@pytest.mark.parametrize("age", [0.0, STALE_AFTER - 0.01])
def test_a_status_within_the_bound_is_used(age):
    assert judge(lvsd_json(age)).problem is None


@pytest.mark.parametrize("age", [STALE_AFTER + 0.01, 42.0, 86400.0])
def test_a_stale_status_is_refused_naming_the_file_and_its_age(age):
    verdict = judge(lvsd_json(age))
    assert verdict.status is None
    assert verdict.problem.startswith(f"{PATH} is {age:.1f} s old")
    assert f"every {STATUS_INTERVAL:g} s" in verdict.problem
    assert f"{STALE_AFTER:g} s" in verdict.problem


def test_a_status_from_the_future_is_refused():
    verdict = judge(lvsd_json(-(STALE_AFTER + 30.0)))
    assert verdict.status is None
    assert verdict.problem.startswith(f"{PATH} was written {STALE_AFTER + 30.0:.1f} s after now")


def test_a_missing_status_is_refused_while_pulse_runs():
    verdict = judge(None)
    assert verdict.status is None
    assert verdict.problem.startswith(f"{PATH} is missing")
    assert "pulse is running" in verdict.problem


def test_without_pulse_there_is_no_lvsd_and_no_status():
    assert judge(None, running=False) == (None, None)


def test_a_file_left_behind_by_a_stopped_lvsd_is_not_read():
    assert judge(lvsd_json(3600.0), running=False) == (None, None)


def test_a_fresh_status_is_lvsd_s_word_even_when_pulse_is_not_seen_running():
    document = lvsd_json()
    assert judge(document, running=False) == (document, None)


@pytest.mark.parametrize("updated", [None, "yesterday", True, float("nan")])
def test_a_status_without_a_usable_update_time_is_refused(updated):
    document = lvsd_json()
    if updated is None:
        del document["updated"]
    else:
        document["updated"] = updated
    verdict = judge(document)
    assert verdict.status is None
    assert verdict.problem.startswith(f"{PATH}: no update time")


@pytest.mark.parametrize("document", [[], "lvsd", 3])
def test_a_status_that_is_not_a_dictionary_is_refused(document):
    verdict = judge(document)
    assert verdict.status is None
    assert verdict.problem.startswith(f"{PATH}: not lvsd's status")


def test_a_status_older_than_the_corrected_lvs_cf_is_waited_for():
    verdict = judge(lvsd_json(), loaded_after=NOW - 10.0)
    assert verdict.status is None
    assert verdict.problem.startswith(f"{PATH}: lvsd has not loaded the corrected lvs.cf yet")
    assert judge(lvsd_json(), loaded_after=NOW - 200.0).problem is None


def test_a_status_of_servers_lvsd_has_not_checked_yet_is_waited_for():
    verdict = judge(lvsd_json(checks=0))
    assert verdict.status is None
    assert verdict.problem == f"{PATH}: lvsd has not checked every real server yet (web1 of web)"


def test_the_age_of_a_status():
    assert status_age(lvsd_json(2.5), NOW) == pytest.approx(2.5)
    assert status_age({"updated": "x"}, NOW) is None
    assert status_age(None, NOW) is None
