# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter lvs.cluster.lvsd_status: lvsd.json as the router read it, judged by the core's rule
(``agent_status.judge_lvsd_status``) into the status to use and the reason not to use it."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from plugins.filter import lvsd_status as filters
from plugins.module_utils.lvs_cluster.agent_status import STALE_AFTER

PATH = "/run/lvs-cluster/lvsd.json"
NOW = 1_800_000_000.0


def lvsd_json(age):
    return {"version": 1, "pid": 4242, "updated": NOW - age, "config_loaded_at": NOW - 100.0,
            "virtuals": [{"name": "web", "servers": [
                {"name": "web1", "address": "10.0.0.21", "port": 80, "state": "up",
                 "weight": 1, "configured_weight": 1, "checks": 3, "sorry": False}]}]}


def test_the_filter_is_registered():
    assert filters.FilterModule().filters() == {"lvsd_status": filters.lvsd_status}


def test_a_fresh_status_is_returned_as_it_is():
    document = lvsd_json(0.5)
    assert filters.lvsd_status(document, now=NOW, pulse_running=True, path=PATH) == {
        "status": document, "problem": None}


def test_a_stale_status_comes_back_as_a_problem_naming_the_file_and_its_age():
    verdict = filters.lvsd_status(lvsd_json(STALE_AFTER + 37.0), now=NOW, pulse_running=True,
                                  path=PATH)
    assert verdict["status"] is None
    assert verdict["problem"].startswith(f"{PATH} is {STALE_AFTER + 37.0:.1f} s old")


def test_missing_while_pulse_runs_is_a_problem():
    verdict = filters.lvsd_status(None, now=NOW, pulse_running=True, path=PATH)
    assert verdict["status"] is None and verdict["problem"].startswith(f"{PATH} is missing")


def test_the_router_s_clock_may_come_as_text():
    """``date +%s.%N`` read through JSON is a number; through other routes it may be text."""
    document = lvsd_json(0.5)
    assert filters.lvsd_status(document, now=f"{NOW:.9f}", pulse_running=True,
                               path=PATH)["status"] == document


def test_loaded_after_waits_for_the_corrected_lvs_cf():
    verdict = filters.lvsd_status(lvsd_json(0.5), now=NOW, pulse_running=True, path=PATH,
                                  loaded_after=NOW - 1.0)
    assert verdict["problem"].startswith(f"{PATH}: lvsd has not loaded the corrected lvs.cf")


@pytest.mark.parametrize(("arguments", "message"), [
    ({"now": "soon", "pulse_running": True}, "lvsd_status: now: the router's clock"),
    ({"now": NOW, "pulse_running": "yes"}, "lvsd_status: pulse_running: true or false"),
    ({"now": NOW, "pulse_running": True, "loaded_after": "x"}, "lvsd_status: loaded_after:"),
])
def test_bad_arguments_are_named(arguments, message):
    with pytest.raises(AnsibleFilterError, match=f"^{message}"):
        filters.lvsd_status(lvsd_json(0.5), path=PATH, **arguments)
