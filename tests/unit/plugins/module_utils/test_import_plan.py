# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""importing.plan: primary and backup from the routers' imports, group and host variables, and
one report naming what was not carried and where the routers disagree."""

from __future__ import annotations

from plugins.module_utils.lvs_cluster.importing.plan import import_plan

SERVICES = {"router_virtual_servers": [{"name": "web", "address": "10.0.0.100"}]}


def keepalived(state, priority, address=None, **router_vars):
    this = {"state": state, "priority": priority, **({"address": address} if address else {})}
    return {"format": "keepalived", "router_vars": {**SERVICES, **router_vars}, "hosts": {},
            "this_router": this, "unsupported": [], "sources": ["/etc/keepalived/keepalived.conf"]}


def test_keepalived_master_is_primary_whatever_the_inventory_order():
    plan = import_plan(["lb1", "lb2"], {"lb1": keepalived("BACKUP", 100, "10.0.0.1"),
                                        "lb2": keepalived("MASTER", 150, "10.0.0.2")},
                       {"lb1": "10.0.0.1", "lb2": "10.0.0.2"})
    assert (plan["group_vars"]["router_primary"], plan["group_vars"]["router_backup"]) == \
        ("lb2", "lb1")
    assert plan["host_vars"] == {"lb2": {"router_public_address": "10.0.0.2"},
                                 "lb1": {"router_public_address": "10.0.0.1"}}
    assert plan["report"] == ["lb2 primary, lb1 backup (1 virtual services)"]


def test_with_both_backup_the_higher_priority_is_primary():
    plan = import_plan(["lb1", "lb2"], {"lb1": keepalived("BACKUP", 90),
                                        "lb2": keepalived("BACKUP", 120)}, {})
    assert plan["group_vars"]["router_primary"] == "lb2"


def test_piranha_primary_is_the_router_at_lvs_cf_s_primary_address():
    result = {"format": "piranha", "router_vars": dict(SERVICES), "this_router": {},
              "hosts": {"primary": {"router_public_address": "10.0.0.2"},
                        "backup": {"router_public_address": "10.0.0.1"}},
              "unsupported": [], "sources": ["/etc/sysconfig/ha/lvs.cf"]}
    plan = import_plan(["a", "b"], {"a": result, "b": result}, {"a": "10.0.0.1", "b": "10.0.0.2"})
    assert plan["group_vars"]["router_primary"] == "b"
    assert plan["host_vars"] == {"b": {"router_public_address": "10.0.0.2"},
                                 "a": {"router_public_address": "10.0.0.1"}}


def test_routers_that_disagree_are_reported_and_the_same_construct_once_with_its_hosts():
    one = keepalived("MASTER", 150, router_keepalive=1)
    other = keepalived("BACKUP", 100, router_keepalive=2)
    entry = {"file": "/etc/keepalived/keepalived.conf", "line": 3, "construct": "router_id x",
             "reason": "a name only"}
    one["unsupported"] = [entry]
    other["unsupported"] = [dict(entry)]
    plan = import_plan(["lb1", "lb2"], {"lb1": one, "lb2": other}, {})
    assert plan["group_vars"]["router_keepalive"] == 1
    assert plan["report"][1:] == [
        "lb1,lb2: /etc/keepalived/keepalived.conf line 3: router_id x: a name only",
        "lb2: /etc/keepalived/keepalived.conf: router_keepalive: differs from lb1's, whose "
        "values are used"]


def test_a_value_ansible_would_template_is_reported_with_its_path():
    result = keepalived("MASTER", 150)
    result["router_vars"] = {"router_virtual_servers": [
        {"name": "web", "address": "10.0.0.100", "expect": "{{ not a template }}"}]}
    plan = import_plan(["lb1"], {"lb1": result}, {})
    assert plan["unsupported"][-1]["construct"] == "router_virtual_servers[0].expect"
    assert "!unsafe" in plan["report"][-1]


def test_an_lvs_cf_without_an_active_backup_is_one_router_and_the_other_host_is_named():
    result = {"format": "piranha", "router_vars": dict(SERVICES), "this_router": {},
              "hosts": {"primary": {"router_public_address": "10.0.0.1"}},
              "unsupported": [], "sources": ["/etc/sysconfig/ha/lvs.cf"]}
    plan = import_plan(["a", "b"], {"a": result, "b": result}, {"a": "10.0.0.1", "b": "10.0.0.2"})
    assert (plan["group_vars"]["router_primary"], plan["group_vars"]["router_backup"]) == ("a", "")
    assert list(plan["host_vars"]) == ["a"]
    assert plan["report"][-1].startswith("b: /etc/sysconfig/ha/lvs.cf: b: not a router")
