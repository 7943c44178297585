# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvs.cf.j2 with the maintenance state (router_maintenance_state, read from
router_maintenance_path): a draining real server gets ``drain = 1``, a drained one ``active = 0``,
per virtual service; the rest of the file is the declared one."""

from __future__ import annotations

from tests.unit.roles.test_role_templates import WEB, parsed, render, router_vars

API = {**WEB, "name": "api", "port": 8080, "real_servers": [
    {"name": "web1", "address": "10.0.0.21"}, {"name": "web2", "address": "10.0.0.22"}]}


def servers(state: dict | None, **overrides) -> dict[tuple[str, str], tuple[bool, bool, int]]:
    """(virtual, server) -> (active, drain, weight) as lvs.cf says."""
    variables = router_vars(router_virtual_servers=[WEB, API], **overrides)
    if state is not None:
        variables["router_maintenance_state"] = state
    config = parsed(render("router", "lvs.cf.j2", variables))
    return {(virtual["name"], server["name"]): (server["active"], server["drain"], server["weight"])
            for virtual in config["virtuals"] for server in virtual["servers"]}


def test_without_a_state_lvs_cf_is_the_declared_one():
    declared = servers(None)
    assert servers({}) == declared
    assert declared[("web", "web1")] == (True, False, 3)
    assert declared[("api", "web1")] == (True, False, 1)


def test_draining_and_drained_apply_per_virtual_service():
    found = servers({"web1": {"web": "draining", "api": "drained"}})
    assert found[("web", "web1")] == (True, True, 3)  # weight kept: drain makes it 0 in IPVS
    assert found[("api", "web1")] == (False, False, 1)
    assert found[("api", "web2")] == (True, False, 1)
    assert found[("web", "web2")] == (False, False, 1)  # declared inactive, stays so


def test_a_state_for_an_unknown_server_or_service_changes_nothing():
    assert servers({"web9": {"web": "drained"}, "web1": {"nope": "drained"}}) == servers(None)


def test_drain_declared_in_the_inventory_is_rendered_once():
    declared = {**WEB, "real_servers": [{"name": "web1", "address": "10.0.0.21", "drain": True}]}
    text = render("router", "lvs.cf.j2", router_vars(
        router_virtual_servers=[declared],
        router_maintenance_state={"web1": {"web": "draining"}}))
    assert text.count("drain = 1") == 1
    assert parsed(text)["virtuals"][0]["servers"][0]["drain"] is True
