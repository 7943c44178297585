# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift tasks' refusal of lvsd's status (roles/router/tasks/drift.yml), evaluated by
Ansible's own templating with the collection's filters: the expressions of drift.yml itself
(the judged status, the read task's ``until``, the refusal's ``when`` and ``msg``), for the live
state the read task would register.

They run in a child Python process: the collection loader (which resolves
``lvs.cluster.lvsd_status``) is configured once per process, and this one must not be bent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
DRIFT_TASKS = REPO / "roles" / "router" / "tasks" / "drift.yml"
PATH = "/run/lvs-cluster/lvsd.json"
NOW = 1_800_000_000.0
STARTED = NOW - 20.0  # when the drift tasks began, by the router's clock (router_drift_started)

EVALUATE = r"""
import json, sys
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader([sys.argv[1]])
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

request = json.load(sys.stdin)
answers = []
for variables in request["cases"]:
    for name, text in request["block_vars"].items():  # templated lazily, as Ansible does
        variables[name] = trust_as_template(text) if isinstance(text, str) else text
    templar = Templar(loader=DataLoader(), variables=variables)
    answer = {"until": templar.evaluate_conditional(trust_as_template(request["until"]))}
    if not variables["router_live"].get("failed"):  # after a failed read the play stops
        answer.update({
            "refused": templar.evaluate_conditional(trust_as_template(request["when"])),
            "msg": templar.template(trust_as_template(request["msg"])),
            "kept": templar.template(trust_as_template(request["kept"])),
        })
    answers.append(answer)
print(json.dumps(answers))
"""


def lvsd_json(age, checks=3, loaded=NOW - 100.0):
    return {"version": 1, "pid": 4242, "updated": NOW - age, "config_loaded_at": loaded,
            "reloads": 0, "ready": True,
            "virtuals": [{"name": "web", "sorry_active": False, "servers": [
                {"name": "web1", "address": "10.0.0.21", "port": 80, "state": "up",
                 "weight": 1, "configured_weight": 1, "checks": checks, "sorry": False}]}]}


# name: (lvsd.json or None, pulse running, attempts, check mode, lvs.cf corrected)
CASES = {
    "fresh": (lvsd_json(0.4), True, 1, False, False),
    "stale": (lvsd_json(60.0), True, 1, False, False),
    "stale, last attempt": (lvsd_json(60.0), True, 31, False, False),
    "missing while pulse runs": (None, True, 31, False, False),
    "left behind, pulse stopped": (lvsd_json(3600.0), False, 1, True, False),
    "corrected lvs.cf not loaded yet": (lvsd_json(0.4, loaded=STARTED - 5.0), True, 31, False,
                                        True),
    "corrected lvs.cf, check mode": (lvsd_json(0.4, loaded=STARTED - 5.0), True, 1, True, True),
    "unchecked servers": (lvsd_json(0.4, checks=0), True, 31, False, False),
}
# name: what a read that failed registers (seen under load: an empty stdout)
FAILED_READS = {
    "failed, empty output": {"failed": True, "rc": 1, "stdout": "", "attempts": 1},
    "module failure": {"failed": True, "msg": "MODULE FAILURE", "module_stdout": "",
                       "attempts": 1},
    "failed, last attempt": {"failed": True, "rc": 1, "stdout": "", "attempts": 31},
}


def _tasks(tasks, parents=()):
    for task in tasks:
        yield task, parents
        yield from _tasks(task.get("block", []), (*parents, task))


def drift_expressions() -> dict:
    """The read task's ``until``, the refusal, and the variables of their block."""
    found = {}
    for task, parents in _tasks(yaml.safe_load(DRIFT_TASKS.read_text())):
        if task.get("register") == "router_live":
            found["until"] = task["until"]
            found["block_vars"] = {k: v for parent in parents for k, v in
                                   parent.get("vars", {}).items()}
        if "ansible.builtin.fail" in task:
            found["when"] = task["when"]
            found["msg"] = task["ansible.builtin.fail"]["msg"]
        if "router_lvsd_status" in task.get("ansible.builtin.set_fact", {}):
            found["kept"] = task["ansible.builtin.set_fact"]["router_lvsd_status"]
    assert set(found) == {"until", "block_vars", "when", "msg", "kept"}, \
        f"drift.yml: expected a read task registering router_live in a block, a refusal " \
        f"(ansible.builtin.fail) and router_lvsd_status; found {sorted(found)}"
    return found


@pytest.fixture(scope="module")
def answers(tmp_path_factory):
    collections = tmp_path_factory.mktemp("collections")
    (collections / "ansible_collections" / "lvs").mkdir(parents=True)
    (collections / "ansible_collections" / "lvs" / "cluster").symlink_to(REPO)
    cases = []
    for document, running, attempts, check_mode, corrected in CASES.values():
        live = {"pulse": {"state": "active"}, "lvsd": document, "links": [], "now": NOW,
                "pulse_running": running}
        cases.append({"router_live": {"stdout": json.dumps(live), "attempts": attempts},
                      "ansible_check_mode": check_mode,
                      "router_lvs_cf": {"changed": corrected},
                      "router_drift_started": {"stdout": f"{STARTED:.9f}"}})
    cases.extend({"router_live": live, "ansible_check_mode": False,
                  "router_lvs_cf": {"changed": False},
                  "router_drift_started": {"stdout": f"{STARTED:.9f}"}}
                 for live in FAILED_READS.values())
    request = {"cases": cases, **drift_expressions()}
    done = subprocess.run([sys.executable, "-c", EVALUATE, str(collections)],
                          input=json.dumps(request), capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return dict(zip([*CASES, *FAILED_READS], json.loads(done.stdout.splitlines()[-1]),
                    strict=True))


def test_a_fresh_status_is_used_at_once(answers):
    answer = answers["fresh"]
    assert answer["until"] is True and answer["refused"] is False
    assert answer["kept"] == CASES["fresh"][0]


def test_a_stale_status_is_retried_then_refused_naming_the_file_and_its_age(answers):
    assert answers["stale"]["until"] is False  # retried: lvsd may be busy for a moment
    last = answers["stale, last attempt"]
    assert last["until"] is True and last["refused"] is True
    assert last["msg"].startswith(f"{PATH} is 60.0 s old")


def test_a_missing_status_is_refused_while_pulse_runs(answers):
    answer = answers["missing while pulse runs"]
    assert answer["refused"] is True and answer["msg"].startswith(f"{PATH} is missing")


def test_a_file_left_behind_by_a_stopped_lvsd_is_not_used(answers):
    answer = answers["left behind, pulse stopped"]
    assert answer["until"] is True and answer["refused"] is False and answer["kept"] is None


def test_a_corrected_lvs_cf_is_waited_for_outside_check_mode(answers):
    answer = answers["corrected lvs.cf not loaded yet"]
    assert answer["refused"] is True
    assert answer["msg"].startswith(f"{PATH}: lvsd has not loaded the corrected lvs.cf yet")
    assert answers["corrected lvs.cf, check mode"]["refused"] is False


def test_servers_not_checked_yet_are_waited_for(answers):
    answer = answers["unchecked servers"]
    assert answer["refused"] is True and "has not checked every real server" in answer["msg"]


def test_the_table_is_compared_with_the_judged_status_only():
    text = DRIFT_TASKS.read_text()
    assert "lvs.cluster.lvs_cf_expected_table(router_lvsd_status" in text
    assert ").lvsd, source=" not in text  # the raw lvsd.json is never passed on


def test_a_failed_read_is_retried_then_fails_the_task(answers):
    # A read whose command failed has no JSON to judge: retry it (lvs1 under load, Molecule's
    # drift scenario), and after the last attempt let the task fail with the command's error.
    assert answers["failed, empty output"]["until"] is False
    assert answers["module failure"]["until"] is False
    assert answers["failed, last attempt"]["until"] is True
