# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters lvs.cluster.lvs_cf_parse, lvs.cluster.lvs_cf_render,
lvs.cluster.lvs_cf_expected_table and lvs.cluster.lvs_cf_scope."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from plugins.filter import lvs_cf as filters
from plugins.module_utils.lvs_cluster.ipvs.model import Destination
from plugins.module_utils.lvs_cluster.ipvs.options import table_from_params
from plugins.module_utils.lvs_cluster.lvs_cf.expected import expected_ipvs
from plugins.module_utils.lvs_cluster.lvs_cf.ownership import owned_scope
from plugins.module_utils.lvs_cluster.lvs_cf.shells import canonical_text, load
from plugins.modules import ipvs_table

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lvs_cf"


@pytest.fixture
def example_b():
    return (FIXTURES / "example_b.cf").read_text()


@pytest.fixture
def shown(monkeypatch):
    warnings = []
    monkeypatch.setattr(filters.display, "warning", warnings.append)
    return warnings


def test_filters_are_registered():
    registered = filters.FilterModule().filters()
    assert registered == {
        "lvs_cf_parse": filters.lvs_cf_parse,
        "lvs_cf_render": filters.lvs_cf_render,
        "lvs_cf_expected_table": filters.lvs_cf_expected_table,
        "lvs_cf_scope": filters.lvs_cf_scope,
    }


def test_parse_returns_the_module_s_model(example_b, shown):
    config, _text, _warnings = canonical_text(content=example_b)
    assert filters.lvs_cf_parse(example_b) == config
    assert [v["name"] for v in config["virtuals"]] == ["web_bundle", "smtp", "dns"]


def test_render_of_parse_is_canonical(example_b, shown):
    _config, text, _warnings = canonical_text(content=example_b)
    assert filters.lvs_cf_render(filters.lvs_cf_parse(example_b)) == text
    # and canonical text is a fixed point
    assert filters.lvs_cf_render(filters.lvs_cf_parse(text)) == text


def test_parse_accepts_bytes(example_b, shown):
    assert filters.lvs_cf_parse(example_b.encode()) == filters.lvs_cf_parse(example_b)


def test_parse_error_has_the_source_and_line(shown):
    with pytest.raises(AnsibleFilterError) as err:
        filters.lvs_cf_parse("service = lvs\nweight = 3\n", "files/lvs.cf")
    assert "lvs_cf_parse: files/lvs.cf line 2" in str(err.value)


def test_parse_default_source_name(shown):
    with pytest.raises(AnsibleFilterError, match=r"lvs\.cf line 1, column 1: unknown command"):
        filters.lvs_cf_parse("bogus = 1\n")


def test_parse_rejects_non_text(shown):
    with pytest.raises(AnsibleFilterError, match="expects lvs.cf text, got dict"):
        filters.lvs_cf_parse({"service": "lvs"})


def test_render_error_names_the_field(example_b, shown):
    config = filters.lvs_cf_parse(example_b)
    config["virtuals"][0]["scheduler"] = "fastest"
    with pytest.raises(AnsibleFilterError) as err:
        filters.lvs_cf_render(config)
    assert "lvs_cf_render: config" in str(err.value)
    assert "virtuals[0].scheduler" in str(err.value)


def test_render_rejects_non_mapping(shown):
    with pytest.raises(AnsibleFilterError, match="expects the lvs.cf model as a dictionary"):
        filters.lvs_cf_render("service = lvs\n")


def test_warnings_are_displayed(example_b, shown):
    text = example_b.replace("deadtime = 12", "deadtime = 12\nkeepalive = 20")
    filters.lvs_cf_parse(text, "x.cf")
    assert shown, "expected a warning"
    assert all(w.startswith("x.cf") for w in shown)


# --- lvs_cf_expected_table ---------------------------------------------------------------------

def lvsd_status(*servers, sorry_active=False):
    """lvsd.json with the web_bundle virtual of example B (fwmark 80, NAT)."""
    entries = [{"name": name, "address": address, "port": 80, "healthy": state == "up",
                "state": state, "weight": weight, "configured_weight": 40, "last_check": 1.0,
                "last_result": "ok", "checks": 1, "failures": 0, "sorry": False}
               for name, address, state, weight in servers]
    return {"config": "/etc/sysconfig/ha/lvs.cf", "reloads": 0, "last_reconcile": 1.0,
            "ready": True, "checks": {"total": 4, "failed": 1, "running": 0},
            "virtuals": [{"name": "web_bundle", "service": "FWM 80", "sorry_active": sorry_active,
                          "servers": entries}]}


SLOW_AND_DOWN = lvsd_status(("app1", "10.20.0.11", "up", 5), ("app2", "10.20.0.12", "down", 0))


def test_expected_table_example_output(example_b, shown):
    services = filters.lvs_cf_expected_table(example_b, SLOW_AND_DOWN)
    assert services[0] == {
        "family": "inet", "fwmark": 80, "scheduler": "wlc", "persistence_timeout": 1800,
        "one_packet": False, "scheduler_flags": [],
        "destinations": [{"address": "10.20.0.11", "port": 80, "forwarding": "nat",
                          "weight": 5, "upper_threshold": 0, "lower_threshold": 0,
                          "tunnel_flags": []}]}
    assert [(s.get("protocol"), s.get("port"), len(s["destinations"])) for s in services] == [
        (None, None, 1), ("tcp", 25, 1), ("udp", 53, 2)]


@pytest.mark.parametrize("status", [None, {}, SLOW_AND_DOWN])
def test_expected_table_is_accepted_by_ipvs_table(example_b, shown, status):
    """What the filter returns passes ipvs_table's argument spec unchanged and gives back the
    same model objects."""
    services = filters.lvs_cf_expected_table(example_b, status)
    result = ArgumentSpecValidator(ipvs_table.argument_spec()).validate(
        {"services": copy.deepcopy(services), "scope": "declared"})
    assert result.error_messages == []
    config, _warnings = load(content=example_b)
    expected = expected_ipvs(config, status)
    assert table_from_params(result.validated_parameters["services"]) == expected
    assert table_from_params(services) == expected


def test_expected_table_applies_the_verdicts(example_b, shown):
    [bundle, _smtp, _dns] = table_from_params(
        filters.lvs_cf_expected_table(example_b, SLOW_AND_DOWN)).values()
    assert bundle == (Destination("10.20.0.11", 80, "nat", 5),)
    [bundle, _smtp, _dns] = table_from_params(
        filters.lvs_cf_expected_table(example_b)).values()
    assert bundle == (Destination("10.20.0.11", 80, "nat", 40),
                      Destination("10.20.0.12", 80, "nat", 40))


def test_expected_table_does_not_mutate_the_status(example_b, shown):
    status = copy.deepcopy(SLOW_AND_DOWN)
    filters.lvs_cf_expected_table(example_b, status)
    assert status == SLOW_AND_DOWN


def test_expected_table_accepts_bytes(example_b, shown):
    assert filters.lvs_cf_expected_table(example_b.encode(), SLOW_AND_DOWN) == \
        filters.lvs_cf_expected_table(example_b, SLOW_AND_DOWN)


def test_expected_table_error_has_the_source_and_line(shown):
    with pytest.raises(AnsibleFilterError) as err:
        filters.lvs_cf_expected_table("service = lvs\nweight = 3\n", None, "files/lvs.cf")
    assert "lvs_cf_expected_table: files/lvs.cf line 2" in str(err.value)


@pytest.mark.parametrize("status", [[], "lvsd.json", 3])
def test_expected_table_rejects_a_status_that_is_not_a_mapping(example_b, shown, status):
    with pytest.raises(AnsibleFilterError,
                       match=r"^lvs_cf_expected_table: status: lvsd's status \(a dictionary"):
        filters.lvs_cf_expected_table(example_b, status)


def test_expected_table_names_the_bad_status_entry(example_b, shown):
    status = copy.deepcopy(SLOW_AND_DOWN)
    status["virtuals"][0]["servers"][1]["state"] = "sick"
    with pytest.raises(AnsibleFilterError,
                       match=r"status\.virtuals\[0\]\.servers\[1\]\.state: one of up"):
        filters.lvs_cf_expected_table(example_b, status)


def test_expected_table_rejects_non_text(shown):
    with pytest.raises(AnsibleFilterError, match="expects lvs.cf text, got dict"):
        filters.lvs_cf_expected_table({"service": "lvs"})


def test_expected_table_warnings_are_displayed(example_b, shown):
    filters.lvs_cf_expected_table(example_b.replace("weight = 1\n", "weight = 0\n", 1), None,
                                  "x.cf")
    assert shown, "expected a warning"
    assert all(w.startswith("x.cf") for w in shown)


# --- lvs_cf_scope ------------------------------------------------------------------------------

def test_scope_lists_every_virtual_address_and_mark(example_b, shown):
    """Example B: web_bundle (fwmark 80 on 203.0.113.10), smtp and dns (203.0.113.11)."""
    assert filters.lvs_cf_scope(example_b) == {
        "scope_addresses": ["203.0.113.10", "203.0.113.11"], "scope_fwmarks": [80]}


def test_scope_is_what_ipvs_table_takes_and_owns_what_the_core_owns(example_b, shown):
    """Given to ipvs_table (scope=declared) with the expected table, the module owns exactly
    what lvsd owns: the core's owned_scope of the same file."""
    scope = filters.lvs_cf_scope(example_b)
    params = {"services": filters.lvs_cf_expected_table(example_b), "scope": "declared", **scope}
    result = ArgumentSpecValidator(ipvs_table.argument_spec()).validate(params)
    assert result.error_messages == []
    validated = result.validated_parameters
    module_scope = ipvs_table.scope_of(validated, table_from_params(validated["services"]))
    config, _warnings = load(content=example_b)
    assert module_scope == owned_scope(config)


def test_scope_of_an_inactive_virtual_is_kept(example_b, shown):
    text = example_b.replace("active = 1\n     address = 203.0.113.10", "active = 0\n"
                             "     address = 203.0.113.10", 1)
    assert filters.lvs_cf_scope(text)["scope_fwmarks"] == [80]
    assert "203.0.113.10" in filters.lvs_cf_scope(text)["scope_addresses"]


def test_scope_error_has_the_source_and_line(shown):
    with pytest.raises(AnsibleFilterError) as err:
        filters.lvs_cf_scope("service = lvs\nweight = 3\n", "files/lvs.cf")
    assert "lvs_cf_scope: files/lvs.cf line 2" in str(err.value)


def test_scope_rejects_non_text(shown):
    with pytest.raises(AnsibleFilterError, match="lvs_cf_scope: expects lvs.cf text, got dict"):
        filters.lvs_cf_scope({"service": "lvs"})
