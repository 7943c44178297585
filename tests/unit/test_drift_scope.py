# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvsd and the drift playbook own the same services (issue #12, point 9).

A router's IPVS table is corrected by two users: lvsd (every ``--resync`` seconds) and the drift
playbook (``roles/router/tasks/drift.yml``: the ``lvs_cf_expected_table`` and ``lvs_cf_scope``
filters feeding ``ipvs_table``). For each service someone added by hand, both must keep it or
both remove it, or one would undo what the other leaves. Here both run for real on the fake
IPVS kernel (the only fake allowed: the netlink socket) from the same lvs.cf and the same live
table, and what they leave is compared.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "plugins" / "module_utils"))
sys.path.insert(0, str(HERE / "plugins" / "modules"))

from fake_ipvs_kernel import FakeIpvsKernel  # noqa: E402
from ipvs_helpers import install  # noqa: E402
from lvs_agents import lvsd, runtime  # noqa: E402
from lvs_cluster.ipvs import netlink as agent_netlink  # noqa: E402

from plugins.filter import lvs_cf as filters  # noqa: E402
from plugins.module_utils.lvs_cluster.ipvs.model import Destination, Service  # noqa: E402
from plugins.modules import ipvs_table  # noqa: E402

DRIFT_TASKS = HERE.parents[1] / "roles" / "router" / "tasks" / "drift.yml"

VIP, MARK_VIP, IDLE_VIP, ELSEWHERE = "192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.60"

# web: tcp VIP:80; mark: fwmark 7 on MARK_VIP; idle: an inactive virtual on IDLE_VIP.
LVS_CF = f"""\
service = lvs
primary = 192.0.2.1
network = direct
virtual web {{
    active = 1
    address = {VIP} eth0:1
    port = 80
    server web1 {{
        address = 10.0.0.21
        active = 1
    }}
}}
virtual mark {{
    active = 1
    address = {MARK_VIP} eth0:2
    fwmark = 7
    port = 80
    server m1 {{
        address = 10.0.0.22
        active = 1
    }}
}}
virtual idle {{
    active = 0
    address = {IDLE_VIP} eth0:3
    port = 80
    server i1 {{
        address = 10.0.0.23
        active = 1
    }}
}}
"""

DECLARED = {Service("inet", "tcp", VIP, 80): (Destination("10.0.0.21", 80),),
            Service("inet", None, None, None, fwmark=7): (Destination("10.0.0.22", 0),)}

HAND_ADDED = {
    "another port of the VIP": Service("inet", "tcp", VIP, 9999),
    "another protocol of the VIP": Service("inet", "udp", VIP, 53),
    "all ports of the VIP (persistent port 0)": Service(
        "inet", "tcp", VIP, 0, flags=frozenset({"persistent"}), timeout=300),
    "a port of the fwmark virtual's address": Service("inet", "tcp", MARK_VIP, 443),
    "the inactive virtual's service": Service("inet", "tcp", IDLE_VIP, 80),
    "another port of the inactive virtual's address": Service("inet", "tcp", IDLE_VIP, 8080),
    "the declared mark in IPv6": Service("inet6", None, None, None, fwmark=7),
    "another address": Service("inet", "udp", ELSEWHERE, 53),
    "another mark": Service("inet", None, None, None, fwmark=99),
}
OWNED = {"another port of the VIP", "another protocol of the VIP",
         "all ports of the VIP (persistent port 0)", "a port of the fwmark virtual's address",
         "the inactive virtual's service", "another port of the inactive virtual's address",
         "the declared mark in IPv6"}


def key_of(service: Service) -> tuple:
    """A service's key as ``FakeIpvsKernel.snapshot()`` writes it."""
    family = 2 if service.family == "inet" else 10
    if service.fwmark is not None:
        return (family, "fwmark", service.fwmark)
    return (family, {"tcp": 6, "udp": 17}[service.protocol], service.address, service.port)


def live_table(hand_added: Service) -> dict:
    dests = (Destination("10.9.9.9", hand_added.port or 0),) if hand_added.family == "inet" \
        else ()
    return {**DECLARED, hand_added: dests}


def lvsd_leaves(tmp_path: Path, hand_added: Service) -> set[tuple]:
    """The services lvsd leaves after its start (adoption, then a full reconcile)."""
    path = tmp_path / "lvs.cf"
    path.write_text(LVS_CF)
    fake = FakeIpvsKernel().load(live_table(hand_added))
    table = lvsd.KernelTable(agent_netlink.IpvsNetlink(fake))
    daemon = lvsd.Lvsd(str(path), runtime.load_config(str(path)), table, resync=3600)
    daemon.adopt()
    assert daemon.full_reconcile()
    return set(fake.snapshot())


def drift_leaves(monkeypatch, capsys, hand_added: Service) -> set[tuple]:
    """The services the drift tasks leave: ipvs_table with the filters' output, as drift.yml
    passes it (lvsd not running: no status)."""
    fake = install(monkeypatch, FakeIpvsKernel().load(live_table(hand_added)))
    arguments = {"services": filters.lvs_cf_expected_table(LVS_CF, None, "lvs.cf"),
                 "scope": "declared", **filters.lvs_cf_scope(LVS_CF, "lvs.cf")}
    with patch_module_args(arguments), pytest.raises(SystemExit) as exited:
        ipvs_table.main()
    result = json.loads(capsys.readouterr().out)
    assert exited.value.code == 0, result
    return set(fake.snapshot())


@pytest.mark.parametrize("case", list(HAND_ADDED))
def test_lvsd_and_drift_keep_or_remove_the_same_hand_added_service(
        case, tmp_path, monkeypatch, capsys):
    hand_added = HAND_ADDED[case]
    by_lvsd = lvsd_leaves(tmp_path, hand_added)
    by_drift = drift_leaves(monkeypatch, capsys, hand_added)
    assert by_lvsd == by_drift
    assert (key_of(hand_added) not in by_lvsd) == (case in OWNED)
    assert {key_of(service) for service in DECLARED} <= by_lvsd


def test_the_drift_tasks_give_ipvs_table_the_scope_of_lvs_cf():
    """drift.yml passes ipvs_table the lvs_cf_scope filter's addresses and marks (what the test
    above runs), not a list of its own."""
    tasks = yaml.safe_load(DRIFT_TASKS.read_text())
    found = [task for task in _all_tasks(tasks) if "lvs.cluster.ipvs_table" in task]
    assert len(found) == 1
    task = found[0]
    arguments = task["lvs.cluster.ipvs_table"]
    assert arguments["scope"] == "declared"
    assert set(arguments) == {"services", "scope", "scope_addresses", "scope_fwmarks"}
    text = yaml.safe_dump(task)
    assert "lvs.cluster.lvs_cf_scope" in text
    assert ".scope_addresses" in arguments["scope_addresses"]
    assert ".scope_fwmarks" in arguments["scope_fwmarks"]


def _all_tasks(tasks):
    for task in tasks:
        yield task
        yield from _all_tasks(task.get("block", []))
