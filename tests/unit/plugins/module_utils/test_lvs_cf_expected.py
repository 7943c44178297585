# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPVS table a router should have: lvs.cf's services and destinations with lvsd's health
verdicts (lvsd.json) applied, as ipvs_table's ``services``."""

from __future__ import annotations

import copy
import re

import pytest

from plugins.module_utils.lvs_cluster.ipvs.model import Destination, Service
from plugins.module_utils.lvs_cluster.ipvs.options import (
    destination_spec,
    service_spec,
    table_from_params,
)
from plugins.module_utils.lvs_cluster.lvs_cf.errors import LvsCfError
from plugins.module_utils.lvs_cluster.lvs_cf.expected import (
    StatusError,
    expected_ipvs,
    expected_table,
    read_status,
    services_params,
)
from plugins.module_utils.lvs_cluster.lvs_cf.ipvs import desired_ipvs
from plugins.module_utils.lvs_cluster.lvs_cf.shells import load

# web: direct routing, a sorry server, server b checked on 8080 (its real port is forced to 80);
# v6: IPv6; mark: fwmark with a NAT server on its own port; idle: not active.
LVS_CF = """\
service = lvs
primary = 192.0.2.1
network = direct
virtual web {
    active = 1
    address = 192.0.2.10 eth0:1
    port = 80
    sorry_server = 192.0.2.99
    server a {
        address = 10.0.0.1
        active = 1
        weight = 10
    }
    server b {
        address = 10.0.0.2
        active = 1
        weight = 20
        port = 8080
    }
    server off {
        address = 10.0.0.9
        active = 0
    }
}
virtual v6 {
    active = 1
    address = 2001:db8::10 eth0
    port = 443
    server a6 {
        address = 2001:db8:0:0::1
        active = 1
        weight = 5
    }
}
virtual mark {
    active = 1
    address = 192.0.2.11 eth0:2
    fwmark = 7
    port = 80
    persistent = 300
    server m1 {
        address = 10.0.0.3
        port = 8000
        active = 1
        forwarding = nat
        weight = 3
    }
}
virtual idle {
    active = 0
    address = 192.0.2.12 eth0:3
    port = 80
    server i1 {
        address = 10.0.0.4
        active = 1
    }
}
"""

WEB = Service("inet", "tcp", "192.0.2.10", 80)
V6 = Service("inet6", "tcp", "2001:db8::10", 443)
MARK = Service("inet", None, None, None, fwmark=7, flags=frozenset({"persistent"}), timeout=300)

A = Destination("10.0.0.1", 80, "direct", 10)
B = Destination("10.0.0.2", 80, "direct", 20)
A6 = Destination("2001:db8::1", 443, "direct", 5)
M1 = Destination("10.0.0.3", 8000, "nat", 3)
SORRY = Destination("192.0.2.99", 80, "direct", 1)


def config_of(text=LVS_CF):
    config, _warnings = load(content=text)
    return config


def member(address, port, state, weight=None, configured=None, name="s", sorry=False):
    """A server entry as lvsd (lvsd_state.member_status) writes it."""
    in_table = state in ("up", "quiesced")
    if weight is None:
        weight = configured if state == "up" else 0
    return {"name": name, "address": address, "port": port, "healthy": state == "up",
            "state": state, "weight": weight if in_table else 0,
            "configured_weight": configured if configured is not None else max(weight, 1),
            "last_check": 1700000000.0, "last_result": "ok", "checks": 3, "failures": 0,
            "sorry": sorry}


def status(*virtuals):
    """lvsd.json: {"virtuals": [(name, [servers], sorry_active or None), ...]} and the rest."""
    out = []
    for name, servers, *rest in virtuals:
        entry = {"name": name, "service": "TCP 192.0.2.10:80", "servers": servers}
        if rest and rest[0] is not None:
            entry["sorry_active"] = rest[0]
        out.append(entry)
    return {"config": "/etc/sysconfig/ha/lvs.cf", "reloads": 0, "last_reconcile": 1.0,
            "ready": True, "virtuals": out, "checks": {"total": 9, "failed": 0, "running": 0}}


def web(*servers, sorry_active=None):
    return expected_ipvs(config_of(), status(("web", list(servers), sorry_active)))[WEB]


# --- without lvsd ------------------------------------------------------------------------------

@pytest.mark.parametrize("no_status", [None, {}])
def test_without_status_the_steady_state(no_status):
    config = config_of()
    assert expected_ipvs(config, no_status) == desired_ipvs(config) == {
        WEB: (A, B), V6: (A6,), MARK: (M1,)}


def test_inactive_virtuals_and_servers_are_left_out():
    table = expected_ipvs(config_of())
    assert Service("inet", "tcp", "192.0.2.12", 80) not in table
    assert Destination("10.0.0.9", 80, "direct", 1).key not in {d.key for d in table[WEB]}


def test_a_failover_only_file_has_no_services():
    text = "service = fos\nprimary = 192.0.2.1\n" \
           "failover ftp {\n active = 1\n address = 192.0.2.20 eth0:1\n port = 21\n" \
           " start_cmd = \"/bin/true\"\n stop_cmd = \"/bin/true\"\n}\n"
    assert expected_table(text) == ([], [])


# --- real servers by lvsd's verdict ------------------------------------------------------------

def test_unknown_members_are_expected_at_their_declared_weight():
    # lvsd knows only a; b is not in its status (a hand edit lvsd has not read yet)
    assert web(member("10.0.0.1", 80, "up", 10, 10)) == (A, B)


def test_a_virtual_lvsd_does_not_know_is_the_steady_state():
    table = expected_ipvs(config_of(), status(("other", [member("10.0.0.1", 80, "down")])))
    assert table == desired_ipvs(config_of())


def test_up_at_full_weight_is_the_declared_weight():
    assert web(member("10.0.0.1", 80, "up", 10, 10), member("10.0.0.2", 8080, "up", 20, 20)) \
        == (A, B)


def test_up_at_the_old_configured_weight_is_the_declared_weight():
    # lvs.cf now says 10; lvsd still runs with 4 and is at its full 4: drift to report
    assert web(member("10.0.0.1", 80, "up", 4, 4)) == (A, B)


def test_up_in_slow_start_keeps_the_live_weight():
    slow_a = Destination("10.0.0.1", 80, "direct", 1)
    assert web(member("10.0.0.1", 80, "up", 1, 10)) == (slow_a, B)


def test_up_raised_by_the_load_monitor_keeps_the_live_weight():
    loaded_b = Destination("10.0.0.2", 80, "direct", 70)
    assert web(member("10.0.0.2", 8080, "up", 70, 20)) == (A, loaded_b)


def test_quiesced_is_present_at_weight_zero():
    assert web(member("10.0.0.1", 80, "quiesced", configured=10)) == (
        Destination("10.0.0.1", 80, "direct", 0), B)


@pytest.mark.parametrize("state", ["down", "rising"])
def test_down_and_rising_are_absent(state):
    assert web(member("10.0.0.1", 80, state, configured=10)) == (B,)


def test_members_match_by_the_check_port_not_the_forced_real_port():
    # b is checked (and reported by lvsd) on 8080; its IPVS port is 80 (direct routing)
    assert web(member("10.0.0.2", 8080, "down")) == (A,)
    assert web(member("10.0.0.2", 80, "down")) == (A, B)  # another member: not b


def test_members_match_by_address():
    assert web(member("10.0.0.5", 80, "down")) == (A, B)


def test_ipv6_members_match_whatever_the_spelling():
    config = config_of()
    down = status(("v6", [member("2001:DB8:0::1", 443, "down")]))
    assert expected_ipvs(config, down)[V6] == ()
    slow = status(("v6", [member("2001:db8::0:1", 443, "up", 2, 5)]))
    assert expected_ipvs(config, slow)[V6] == (Destination("2001:db8::1", 443, "direct", 2),)


def test_fwmark_virtual_nat_destination_by_verdict():
    config = config_of()
    assert expected_ipvs(config, status(("mark", [member("10.0.0.3", 8000, "up", 3, 3)])))[
        MARK] == (M1,)
    assert expected_ipvs(config, status(("mark", [member("10.0.0.3", 8000, "quiesced")])))[
        MARK] == (Destination("10.0.0.3", 8000, "nat", 0),)
    # every server down: the service stays, empty (lvsd keeps it)
    assert expected_ipvs(config, status(("mark", [member("10.0.0.3", 8000, "down")])))[
        MARK] == ()


def test_nat_network_destinations():
    text = LVS_CF.replace("network = direct", "network = nat\nnat_router = 10.0.0.254 eth1:1")
    config = config_of(text)
    table = expected_ipvs(config, status(("web", [member("10.0.0.2", 8080, "up", 5, 20)])))
    assert table[WEB] == (Destination("10.0.0.1", 80, "nat", 10),
                          Destination("10.0.0.2", 8080, "nat", 5))
    services = services_params(table)
    assert [d["forwarding"] for d in services[0]["destinations"]] == ["nat", "nat"]
    assert [d["port"] for d in services[0]["destinations"]] == [80, 8080]


def test_a_sorry_member_is_not_a_real_server():
    # the sorry server on a real server's address and port: its verdict is its own
    text = LVS_CF.replace("sorry_server = 192.0.2.99", "sorry_server = 10.0.0.1")
    config = config_of(text)
    table = expected_ipvs(config, status(("web", [
        member("10.0.0.1", 80, "down", sorry=True), member("10.0.0.1", 80, "up", 10, 10)])))
    assert table[WEB] == (A, B)


# --- the sorry server --------------------------------------------------------------------------

def test_sorry_server_without_status_absent_while_real_servers_are_present():
    assert SORRY not in expected_ipvs(config_of())[WEB]


def test_sorry_server_without_status_present_when_the_virtual_has_no_active_server():
    text = LVS_CF.replace("weight = 10\n", "weight = 10\n        active = 0\n", 1) \
        .replace("weight = 20\n", "weight = 20\n        active = 0\n", 1)
    assert expected_ipvs(config_of(text))[WEB] == (SORRY,)


def test_sorry_server_as_lvsd_reports_it():
    real_down = [member("10.0.0.1", 80, "down"), member("10.0.0.2", 8080, "down")]
    sorry_up = member("192.0.2.99", 80, "up", 1, 1, name="sorry_server", sorry=True)
    assert web(*real_down, sorry_up, sorry_active=True) == (SORRY,)
    assert web(*real_down, sorry_up, sorry_active=False) == ()


def test_sorry_server_without_sorry_active_is_derived_from_the_members():
    real_down = [member("10.0.0.1", 80, "down"), member("10.0.0.2", 8080, "down")]
    sorry = {state: member("192.0.2.99", 80, state, configured=1, sorry=True)
             for state in ("up", "quiesced", "rising", "down")}
    assert web(*real_down, sorry["up"]) == (SORRY,)
    # a quiesced sorry server stands in at weight 1, as lvsd adds it
    assert web(*real_down, sorry["quiesced"]) == (SORRY,)
    assert web(*real_down, sorry["rising"]) == ()
    assert web(*real_down, sorry["down"]) == ()
    # a real server up: lvsd takes the sorry server out
    assert web(real_down[0], member("10.0.0.2", 8080, "up", 1, 20), sorry["up"]) == (
        Destination("10.0.0.2", 80, "direct", 1),)


def test_sorry_server_lvsd_does_not_know_stands_in_when_nothing_carries_traffic():
    # status without a sorry member (added to lvs.cf since): taken as healthy
    assert web(member("10.0.0.1", 80, "down"), member("10.0.0.2", 8080, "down")) == (SORRY,)
    quiesced_a = Destination("10.0.0.1", 80, "direct", 0)
    assert web(member("10.0.0.1", 80, "quiesced", configured=10),
               member("10.0.0.2", 8080, "down")) == (quiesced_a, SORRY)
    assert web(member("10.0.0.1", 80, "down")) == (B,)  # b unknown: expected up


def test_a_sorry_member_for_another_address_is_not_the_declared_one():
    old_sorry = member("192.0.2.98", 80, "down", sorry=True)
    assert web(member("10.0.0.1", 80, "down"), member("10.0.0.2", 8080, "down"), old_sorry,
               sorry_active=False) == (SORRY,)


def test_sorry_server_that_is_a_present_real_server_is_listed_once():
    text = LVS_CF.replace("sorry_server = 192.0.2.99", "sorry_server = 10.0.0.1")
    config = config_of(text)
    table = expected_ipvs(config, status(("web", [
        member("10.0.0.1", 80, "quiesced", configured=10),
        member("10.0.0.2", 8080, "down"),
        member("10.0.0.1", 80, "up", 1, 1, sorry=True)], True)))
    assert table[WEB] == (Destination("10.0.0.1", 80, "direct", 0),)


# --- inputs and errors -------------------------------------------------------------------------

def test_inputs_are_not_mutated():
    given = status(("web", [member("10.0.0.1", 80, "up", 1, 10),
                            member("192.0.2.99", 80, "up", 1, 1, sorry=True)], True),
                   ("v6", [member("2001:db8::1", 443, "down")]))
    before = copy.deepcopy(given)
    text = LVS_CF
    expected_table(text, given)
    assert given == before
    assert text == LVS_CF


def test_bad_lvs_cf_names_file_and_line():
    with pytest.raises(LvsCfError, match=r"^files/lvs\.cf line 2, column 1: unknown command"):
        expected_table("service = lvs\nbogus = 1\n", None, "files/lvs.cf")


@pytest.mark.parametrize(("bad", "message"), [
    ([], "status: lvsd's status (a dictionary, as in lvsd.json) expected, got list"),
    ("up", "status: lvsd's status (a dictionary, as in lvsd.json) expected, got str"),
    ({"pid": 3}, "status.virtuals: a list expected, got null (is this lvsd's status"),
    ({"virtuals": {}}, "status.virtuals: a list expected, got dict"),
    ({"virtuals": ["web"]}, "status.virtuals[0]: a dictionary expected, got str"),
    ({"virtuals": [{"servers": []}]}, "status.virtuals[0].name: a virtual's name expected"),
    ({"virtuals": [{"name": "web"}]}, "status.virtuals[0].servers: a list expected, got null"),
    ({"virtuals": [{"name": "web", "servers": [], "sorry_active": "yes"}]},
     "status.virtuals[0].sorry_active: true or false expected, got 'yes'"),
    ({"virtuals": [{"name": "web", "servers": [None]}]},
     "status.virtuals[0].servers[0]: a dictionary expected, got null"),
    ({"virtuals": [{"name": "web", "servers": [{**member("10.0.0.1", 80, "up", 1, 1),
                                                "address": "web1"}]}]},
     "status.virtuals[0].servers[0].address: an IP address expected, got 'web1'"),
    ({"virtuals": [{"name": "web", "servers": [{**member("10.0.0.1", 80, "up", 1, 1),
                                                "port": "80"}]}]},
     "status.virtuals[0].servers[0].port: an integer 0-65535 expected, got '80'"),
    ({"virtuals": [{"name": "web", "servers": [{**member("10.0.0.1", 80, "up", 1, 1),
                                                "state": "healthy"}]}]},
     "status.virtuals[0].servers[0].state: one of up, quiesced, rising, down expected, "
     "got 'healthy'"),
    ({"virtuals": [{"name": "web", "servers": [{**member("10.0.0.1", 80, "up", 1, 1),
                                                "weight": None}]}]},
     "status.virtuals[0].servers[0].weight: an integer 0-2147483647 expected, got None"),
    ({"virtuals": [{"name": "web", "servers": [{**member("10.0.0.1", 80, "up", 1, 1),
                                                "configured_weight": True}]}]},
     "status.virtuals[0].servers[0].configured_weight: an integer"),
    ({"virtuals": [{"name": "web", "servers": [{**member("10.0.0.1", 80, "up", 1, 1),
                                                "sorry": "no"}]}]},
     "status.virtuals[0].servers[0].sorry: true or false expected, got 'no'"),
])
def test_bad_status_names_the_entry(bad, message):
    with pytest.raises(StatusError, match="^" + re.escape(message)):
        expected_table(LVS_CF, bad)


def test_weights_are_read_only_where_they_matter():
    # lvsd writes weight 0 for servers out of the table; nothing else is required of them
    verdicts = read_status({"virtuals": [{"name": "web", "servers": [
        {"address": "10.0.0.1", "port": 80, "state": "down"}]}]})
    assert verdicts["web"].servers[("10.0.0.1", 80)].state == "down"


# --- as ipvs_table's services ------------------------------------------------------------------

ROUND_TRIP_CF = LVS_CF.replace("    port = 443\n", "    port = 443\n    persistent = 60\n"
                               "    pmask = 64\n    scheduler = sh\n"
                               "    scheduler_flags = sh-port\n") \
    .replace("        forwarding = nat\n", "        forwarding = tunnel\n") \
    .replace("    persistent = 300\n", "    persistent = 300\n    pmask = 255.255.255.0\n")


def test_services_keys_are_ipvs_table_options():
    services, _warnings = expected_table(ROUND_TRIP_CF)
    service_options = set(service_spec()) | {"destinations"}
    for entry in services:
        assert set(entry) <= service_options
        for dest in entry["destinations"]:
            assert set(dest) <= set(destination_spec())


@pytest.mark.parametrize("with_status", [False, True])
def test_round_trip_through_table_from_params(with_status):
    given = status(("web", [member("10.0.0.1", 80, "up", 2, 10),
                            member("10.0.0.2", 8080, "quiesced", configured=20)]),
                   ("v6", [member("2001:db8::1", 443, "up", 5, 5)])) if with_status else None
    config = config_of(ROUND_TRIP_CF)
    table = expected_ipvs(config, given)
    services, _warnings = expected_table(ROUND_TRIP_CF, given)
    assert services == services_params(table)
    back = table_from_params(services)
    assert back == table
    assert list(back) == list(table)  # file order kept
    # every option survives, not only the identities
    for service, destinations in table.items():
        [original] = [s for s in back if s == service]
        assert (original.scheduler, original.flags, original.timeout, original.netmask) == (
            service.scheduler, service.flags, service.timeout, service.netmask)
        assert back[service] == destinations
    assert {s.fwmark: s for s in table}[7].netmask == 24
    assert table[next(s for s in table if s.family == "inet6")] != ()
    assert {d.forwarding for d in table[next(s for s in table if s.fwmark)]} == {"tunnel"}
