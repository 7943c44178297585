# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvs.cluster.ipvs_table: main() with patched arguments on the fake IPVS kernel - the whole
table, scope and purge, drift reports, rollback, drains, timeouts and sync daemons."""

from __future__ import annotations

import errno

import pytest
from ipvs_helpers import clock, dest, fake, fake_dest, mark, rules, service, table

from plugins.modules import ipvs_table

__all__ = ["clock", "fake"]  # fixtures, imported for pytest

VIP, OTHER = "192.0.2.10", "192.0.2.99"

DECLARED = [
    {"address": VIP, "port": 80, "scheduler": "wrr",
     "destinations": [{"address": "10.0.0.1", "forwarding": "nat", "weight": 3},
                      {"address": "10.0.0.2", "forwarding": "nat"}]},
    {"address": VIP, "port": 443, "persistence_timeout": 600, "persistence_netmask": 24,
     "destinations": [{"address": "10.0.0.1"}, {"address": "10.0.0.2"}]},
    {"protocol": "udp", "address": "2001:db8::10", "port": 53, "scheduler": "rr",
     "one_packet": True,
     "destinations": [{"address": "2001:db8:1::1", "forwarding": "tunnel", "tunnel_type": "gue",
                       "tunnel_port": 6080}]},
    {"fwmark": 7, "destinations": [{"address": "10.0.0.3"}]},
]

DECLARED_RULES = [
    "-A -t 192.0.2.10:80 -s wrr",
    "-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 3",
    "-a -t 192.0.2.10:80 -r 10.0.0.2:80 -m -w 1",
    "-A -t 192.0.2.10:443 -s wlc -p 600 -M 255.255.255.0",
    "-a -t 192.0.2.10:443 -r 10.0.0.1:443 -g -w 1",
    "-a -t 192.0.2.10:443 -r 10.0.0.2:443 -g -w 1",
    "-A -u [2001:db8::10]:53 -s rr -o",
    "-a -u [2001:db8::10]:53 -r [2001:db8:1::1]:53 -i -w 1 --tun-type gue --tun-port 6080 "
    "--tun-nocsum",
    "-A -f 7 -s wlc",
    "-a -f 7 -r 10.0.0.3:0 -g -w 1",
]

WEB = service(80, scheduler="wrr")
TLS = service(443, flags={"persistent"}, timeout=600, netmask=24)


@pytest.fixture
def run(module_runner):
    return module_runner(ipvs_table.main)


@pytest.fixture
def declared(run, fake):
    """The fake kernel with DECLARED applied."""
    assert run(services=DECLARED)["changed"] is True
    return fake


def actions(result):
    return [(op["action"], op.get("service"), op.get("destination"))
            for op in result["operations"]]


def test_applies_the_whole_table_in_order(run, fake):
    result = run(services=DECLARED)
    assert result["changed"] is True
    assert actions(result) == [
        ("add_service", "service tcp 192.0.2.10:80", None),
        ("add_destination", "service tcp 192.0.2.10:80", "10.0.0.1:80"),
        ("add_destination", "service tcp 192.0.2.10:80", "10.0.0.2:80"),
        ("add_service", "service tcp 192.0.2.10:443", None),
        ("add_destination", "service tcp 192.0.2.10:443", "10.0.0.1:443"),
        ("add_destination", "service tcp 192.0.2.10:443", "10.0.0.2:443"),
        ("add_service", "service udp [2001:db8::10]:53", None),
        ("add_destination", "service udp [2001:db8::10]:53", "[2001:db8:1::1]:53"),
        ("add_service", "service fwmark 7 (inet)", None),
        ("add_destination", "service fwmark 7 (inet)", "10.0.0.3:0"),
    ]
    assert rules(fake) == DECLARED_RULES


def test_second_run_changes_nothing_and_writes_nothing(run, declared):
    writes = declared.writes
    result = run(services=DECLARED)
    assert result == {"changed": False, "operations": []}
    assert declared.writes == writes


def test_check_mode_computes_the_same_plan_and_writes_nothing(run, fake):
    preview = run(services=DECLARED, _ansible_check_mode=True, _ansible_diff=True)
    assert fake.writes == 0
    assert table(fake) == {}
    assert preview["diff"]["before"] == ""
    assert preview["diff"]["after"].splitlines() == DECLARED_RULES
    assert preview["operations"] == run(services=DECLARED)["operations"]


def test_drift_is_reported_object_by_object_then_repaired(run, declared):
    # the hand edits of the drift test: a destination deleted, a weight and a scheduler
    # changed, a foreign service inside the scope and one outside it
    declared.load({service(9999, scheduler="rr"): [],
                   service(80, OTHER): [dest(9)]})
    web = declared.service(VIP, 80)
    web.dests.pop(next(k for k, d in web.dests.items() if d.address == "10.0.0.2"))
    fake_dest(declared, WEB, "10.0.0.1").weight = 7
    declared.service(VIP, 443).sched_name = "rr"
    before = rules(declared)

    report = run(services=DECLARED, _ansible_check_mode=True, _ansible_diff=True)
    assert report["operations"] == [
        {"action": "edit_destination", "service": "service tcp 192.0.2.10:80",
         "destination": "10.0.0.1:80", "changes": {"weight": [7, 3]}},
        {"action": "add_destination", "service": "service tcp 192.0.2.10:80",
         "destination": "10.0.0.2:80"},
        {"action": "edit_service", "service": "service tcp 192.0.2.10:443",
         "changes": {"scheduler": ["rr", "wlc"]}},
        {"action": "delete_service", "service": "service tcp 192.0.2.10:9999"},
    ]
    assert rules(declared) == before
    assert OTHER not in report["diff"]["before"]
    assert "-A -t 192.0.2.10:9999 -s rr" in report["diff"]["before"].splitlines()
    assert "-A -t 192.0.2.10:9999 -s rr" not in report["diff"]["after"].splitlines()
    assert report["diff"]["after"].splitlines() == DECLARED_RULES

    repair = run(services=DECLARED)
    assert repair["operations"] == report["operations"]
    assert rules(declared) == DECLARED_RULES[:6] + [
        "-A -t 192.0.2.99:80 -s wlc", "-a -t 192.0.2.99:80 -r 10.0.0.9:80 -g -w 1",
    ] + DECLARED_RULES[6:]
    assert run(services=DECLARED)["changed"] is False


def test_options_are_edited_in_place_never_deleted_and_added(run, declared):
    changed = [dict(DECLARED[0], scheduler="lc", persistence_timeout=30,
                    destinations=[{"address": "10.0.0.1", "forwarding": "direct"},
                                  {"address": "10.0.0.2", "forwarding": "nat"}])] + DECLARED[1:]
    result = run(services=changed)
    assert result["operations"] == [
        {"action": "edit_service", "service": "service tcp 192.0.2.10:80",
         "changes": {"scheduler": ["wrr", "lc"], "persistence_timeout": [0, 30]}},
        {"action": "edit_destination", "service": "service tcp 192.0.2.10:80",
         "destination": "10.0.0.1:80",
         "changes": {"forwarding": ["nat", "direct"], "weight": [3, 1]}},
    ]


def test_scope_declared_owns_the_listed_addresses_and_marks_only(run, declared):
    declared.load({service(8080): [], service(80, OTHER): [], mark(8): [],
                   mark(7, "inet6"): []})
    result = run(services=DECLARED)
    assert actions(result) == [("delete_service", "service tcp 192.0.2.10:8080", None),
                               ("delete_service", "service fwmark 7 (inet6)", None)]
    assert service(80, OTHER) in table(declared)
    assert mark(8) in table(declared)


def test_scope_addresses_and_fwmarks_extend_the_scope(run, declared):
    declared.load({service(80, OTHER): [], mark(8): [], service(80, "192.0.2.98"): []})
    result = run(services=DECLARED, scope_addresses=[OTHER], scope_fwmarks=[8])
    assert actions(result) == [("delete_service", "service tcp 192.0.2.99:80", None),
                               ("delete_service", "service fwmark 8 (inet)", None)]


def test_scope_all_with_nothing_declared_empties_the_table(run, declared):
    declared.load({service(80, OTHER): []})
    result = run(services=[], scope="all")
    assert len(result["operations"]) == 5
    assert table(declared) == {}


def test_nothing_declared_in_the_default_scope_touches_nothing(run, declared):
    assert run(services=[])["changed"] is False


def test_purge_false_only_adds_and_edits(run, declared):
    declared.load({service(8080): []})
    result = run(services=DECLARED[:1], purge=False)
    assert result["changed"] is False
    assert len(table(declared)) == 5


def test_purge_destinations_false_keeps_unlisted_destinations(run, declared):
    fewer = [dict(DECLARED[0], destinations=DECLARED[0]["destinations"][:1])] + DECLARED[1:]
    assert run(services=fewer, purge_destinations=False)["changed"] is False
    result = run(services=fewer)
    assert actions(result) == [("delete_destination", "service tcp 192.0.2.10:80",
                                "10.0.0.2:80")]


def test_a_refused_operation_rolls_everything_back(run, declared):
    before = rules(declared)
    failing = (
        [dict(DECLARED[0], scheduler="rr")] + DECLARED[2:]  # an edit, and 443 deleted
        + [{"address": VIP, "port": 81, "destinations": [{"address": "10.0.0.1"}]},
           {"address": VIP, "port": 82, "scheduler": "nosuch",
            "destinations": [{"address": "10.0.0.1"}]},
           {"address": VIP, "port": 83, "destinations": [{"address": "10.0.0.2"}]}])
    result = run(services=failing, timeouts={"udp": 99})
    assert result.failed
    assert result["errno"] == "ENOENT"
    assert result["msg"].startswith("add service tcp 192.0.2.10:82: No such file or directory;"
                                    " the ")
    assert "already applied were rolled back" in result["msg"]
    assert "timeouts and sync daemons changed by this run were restored" in result["msg"]
    assert len(result["operations"]) == 9  # 1 edit, 3 services + 3 dests, 1 delete, timeouts
    assert rules(declared) == before
    assert (declared.tcp_timeout, declared.udp_timeout) == (900 * 250, 300 * 250)


def test_a_failure_injected_mid_batch_rolls_back(run, declared):
    before = rules(declared)
    changed = [dict(s, scheduler="sh") for s in DECLARED]
    declared.fail_on(3, errno.ENOMEM)
    result = run(services=changed)
    assert result.failed
    assert result["errno"] == "ENOMEM"
    assert rules(declared) == before


def test_timeouts_only_those_given(run, fake):
    result = run(timeouts={"tcp": 3600})
    assert result["operations"] == [{"action": "set_timeouts", "changes": {"tcp": [900, 3600]}}]
    assert fake.tcp_timeout == 3600 * fake.hz
    assert fake.udp_timeout == 300 * fake.hz
    assert run(timeouts={"tcp": 3600})["changed"] is False
    assert run(timeouts={"tcp": 3600, "udp": 300, "tcp_fin": None})["changed"] is False
    diff = run(timeouts={"udp": 60}, _ansible_diff=True)["diff"]
    assert diff["before"] == "# timeouts udp=300\n"
    assert diff["after"] == "# timeouts udp=60\n"


def test_timeouts_below_one_second_are_refused(run, fake):
    result = run(timeouts={"tcp_fin": 0})
    assert result.failed
    assert result["field"] == "timeouts.tcp_fin"


def test_sync_daemons(run, fake):
    master = {"state": "master", "interface": "eth0", "sync_id": 3}
    first = run(sync_daemons=[master])
    assert first["operations"] == [{"action": "start_sync_daemon", "sync_daemon": {
        "state": "master", "interface": "eth0", "sync_id": 3, "max_len": None,
        "group": "224.0.0.81", "port": 8848, "ttl": 1}}]
    assert run(sync_daemons=[master])["changed"] is False
    # the kernel's defaults, given explicitly, are no change either
    assert run(sync_daemons=[dict(master, group="224.0.0.81", port=8848, ttl=1,
                                  max_len=1472)])["changed"] is False
    moved = run(sync_daemons=[dict(master, sync_id=4, ttl=2)], _ansible_diff=True)
    assert [op["action"] for op in moved["operations"]] == ["stop_sync_daemon",
                                                            "start_sync_daemon"]
    assert moved["operations"][1]["changes"] == {"sync_id": [3, 4], "ttl": [1, 2]}
    assert "--syncid 4" in moved["diff"]["after"]
    assert "--syncid 3" in moved["diff"]["before"]
    stopped = run(sync_daemons=[{"state": "master", "present": False}])
    assert [op["action"] for op in stopped["operations"]] == ["stop_sync_daemon"]
    assert fake.daemons == {}
    assert run(sync_daemons=[{"state": "master", "present": False}])["changed"] is False


def test_sync_daemons_not_listed_are_left_alone(run, fake):
    run(sync_daemons=[{"state": "backup", "interface": "eth1"}])
    assert run(sync_daemons=[{"state": "master", "present": False}])["changed"] is False
    assert len(fake.daemons) == 1


def test_a_refused_sync_daemon_changes_nothing(run, fake):
    result = run(services=DECLARED, timeouts={"tcp": 100},
                 sync_daemons=[{"state": "master", "interface": "nosuch0"}])
    assert result.failed
    assert result["errno"] == "ENODEV"
    assert "timeouts and sync daemons changed by this run were restored" in result["msg"]
    assert table(fake) == {}
    assert fake.tcp_timeout == 900 * fake.hz


@pytest.mark.parametrize("daemons, field, words", [
    ([{"state": "master", "interface": "eth0"}, {"state": "master", "interface": "eth1"}],
     "sync_daemons[1]", "already sync_daemons[0]"),
    ([{"state": "master", "interface": "eth0", "sync_id": 256}], "sync_daemons[0].sync_id",
     "0-255"),
    ([{"state": "master", "interface": "eth0", "group": "nowhere"}], "sync_daemons[0].group",
     "invalid IP address"),
])
def test_bad_sync_daemons(run, fake, daemons, field, words):
    result = run(sync_daemons=daemons)
    assert result.failed
    assert result["field"] == field
    assert words in result["msg"]
    assert fake.writes == 0


def test_a_present_sync_daemon_needs_an_interface(run, fake):
    result = run(sync_daemons=[{"state": "master"}])
    assert result.failed
    assert "interface" in result["msg"]


def test_removed_destinations_are_drained_first(run, declared, clock):
    fake_dest(declared, WEB, "10.0.0.2").activeconns = 4
    fake_dest(declared, TLS, "10.0.0.2").inactconns = 2
    weights = []

    def observe(now):
        weights.append(fake_dest(declared, WEB, "10.0.0.2").weight)
        if len(clock.sleeps) == 2:
            fake_dest(declared, TLS, "10.0.0.2").inactconns = 0
        if len(clock.sleeps) == 4:
            fake_dest(declared, WEB, "10.0.0.2").activeconns = 0

    clock.on_sleep.append(observe)
    fewer = [dict(s, destinations=s["destinations"][:1]) for s in DECLARED[:2]] + DECLARED[2:]
    result = run(services=fewer, drain_timeout=30)
    assert actions(result) == [
        ("delete_destination", "service tcp 192.0.2.10:80", "10.0.0.2:80"),
        ("delete_destination", "service tcp 192.0.2.10:443", "10.0.0.2:443")]
    assert weights == [0, 0, 0, 0]
    assert result["drained"] == [
        {"service": "service tcp 192.0.2.10:80", "destination": "10.0.0.2:80",
         "connections": 0, "seconds": 4.0},
        {"service": "service tcp 192.0.2.10:443", "destination": "10.0.0.2:443",
         "connections": 0, "seconds": 4.0}]
    assert "10.0.0.2" not in "".join(rules(declared))


def test_a_failed_apply_after_a_drain_gives_the_weights_back(run, declared, clock):
    before = rules(declared)
    fewer = [dict(DECLARED[0], destinations=DECLARED[0]["destinations"][:1])] + DECLARED[1:]
    declared.fail_on(lambda w: w.name == "DEL_DEST", errno.ENOMEM)
    result = run(services=fewer, drain_timeout=10)
    assert result.failed
    assert rules(declared) == before


def test_no_drain_in_check_mode(run, declared, clock):
    fewer = [dict(DECLARED[0], destinations=[])] + DECLARED[1:]
    result = run(services=fewer, drain_timeout=10, _ansible_check_mode=True)
    assert len(result["operations"]) == 2
    assert "drained" not in result
    assert clock.sleeps == []


@pytest.mark.parametrize("args, field, words", [
    (dict(services=DECLARED + [dict(DECLARED[1], scheduler="rr")]), "services[4]",
     "the same service as services[1] (service tcp 192.0.2.10:443)"),
    (dict(services=[{"fwmark": 7, "destinations": [{"address": "10.0.0.3"},
                                                   {"address": "10.0.0.3", "weight": 2}]}]),
     "services[0].destinations[1]", "the same destination as services[0].destinations[0]"),
    (dict(services=[DECLARED[0], {"address": VIP, "port": 81,
                                  "destinations": [{"address": "10.0.0.1", "weight": -3}]}]),
     "services[1].destinations[0].weight", "0-2147483647"),
    (dict(services=[{"address": VIP, "port": 80, "fwmark": 2}]), "services[0].address",
     "not allowed with fwmark"),
    (dict(services=DECLARED, scope="all", scope_addresses=[OTHER]), "scope_addresses",
     "extends scope=declared"),
    (dict(services=DECLARED, scope_addresses=["not-an-ip"]), "scope_addresses[0]",
     "invalid IP address"),
])
def test_bad_declarations_fail_naming_the_entry(run, fake, args, field, words):
    result = run(**args)
    assert result.failed
    assert result["field"] == field
    assert words in result["msg"]
    assert fake.messages == 0


def test_null_options_are_left_out(run, fake):
    services = [{"address": VIP, "port": 80, "fwmark": None, "persistence_netmask": None,
                 "pe_name": None, "destinations": [{"address": "10.0.0.1", "port": None,
                                                    "tunnel_port": None}]}]
    assert run(services=services)["changed"] is True
    assert rules(fake) == ["-A -t 192.0.2.10:80 -s wlc",
                           "-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 1"]


def test_the_diff_shows_only_the_scope(run, declared):
    declared.load({service(80, OTHER): []})
    changed = [dict(DECLARED[0], scheduler="rr")] + DECLARED[1:]
    diff = run(services=changed, _ansible_diff=True, _ansible_check_mode=True)["diff"]
    assert diff["before_header"] == "IPVS table (in scope)"
    assert diff["before"].splitlines() == DECLARED_RULES
    assert diff["after"].splitlines() == ["-A -t 192.0.2.10:80 -s rr"] + DECLARED_RULES[1:]


# -- input the kernel refuses or wraps (issue #12, point 8) ---------------------------------------
# The whole declaration is checked before the module opens the netlink socket: one bad entry
# anywhere and nothing is read or written, so no table is ever half applied.

WEB_DECLARED = {"address": VIP, "port": 80, "destinations": [{"address": "10.0.0.1"}]}

REFUSED_TABLES = [
    ("zone index of a VIP", dict(services=[WEB_DECLARED, {"address": "fe80::1%eth0", "port": 80}]),
     "services[1].address", "zone index %eth0"),
    ("zone index of a real server",
     dict(services=[{"address": "2001:db8::10", "port": 80,
                     "destinations": [{"address": "2001:db8:1::1"},
                                      {"address": "fe80::1%eth1"}]}]),
     "services[0].destinations[1].address", "zone index %eth1"),
    ("IPv6 persistence prefix 0",
     dict(services=[WEB_DECLARED, {"address": "2001:db8::10", "port": 80,
                                   "persistence_timeout": 60, "persistence_netmask": "/0"}]),
     "services[1].persistence_netmask", "prefix length 1-128"),
    ("long scheduler", dict(services=[dict(WEB_DECLARED, scheduler="weighted-least-conn")]),
     "services[0].scheduler", "longer than 15 bytes"),
    ("scheduler with NUL", dict(services=[dict(WEB_DECLARED, scheduler="wlc\x00")]),
     "services[0].scheduler", "NUL"),
    ("long persistence engine",
     dict(services=[dict(WEB_DECLARED, persistence_timeout=60, pe_name="session-initiation")]),
     "services[0].pe_name", "longer than 15 bytes"),
    ("persistence timeout that wraps",
     dict(services=[dict(WEB_DECLARED, persistence_timeout=86400 * 50)]),
     "services[0].persistence_timeout", "0-4294967 seconds"),
    ("port 0 without persistence",
     dict(services=[WEB_DECLARED, {"address": VIP, "port": 0}]), "services[1].port",
     "port 0 (all ports) is only valid for a persistent service"),
    ("multicast VIP", dict(services=[{"address": "239.255.0.1", "port": 80}]),
     "services[0].address", "multicast"),
    ("broadcast real server",
     dict(services=[dict(WEB_DECLARED, destinations=[{"address": "255.255.255.255"}])]),
     "services[0].destinations[0].address", "broadcast"),
    ("unspecified real server of a fwmark service",
     dict(services=[{"fwmark": 5, "family": "inet6", "destinations": [{"address": "::"}]}]),
     "services[0].destinations[0].address", "unspecified"),
    ("zone index in the scope", dict(services=[WEB_DECLARED], scope_addresses=["fe80::1%eth0"]),
     "scope_addresses[0]", "zone index %eth0"),
    ("connection timeout above INT_MAX / HZ", dict(services=[WEB_DECLARED],
                                                   timeouts={"tcp": 2147484}),
     "timeouts.tcp", "1-2147483 seconds"),
    ("sync group with a zone index",
     dict(sync_daemons=[{"state": "master", "interface": "eth0", "group": "ff02::81%eth0"}]),
     "sync_daemons[0].group", "zone index %eth0"),
    ("sync group not multicast",
     dict(sync_daemons=[{"state": "master", "interface": "eth0", "group": "192.0.2.81"}]),
     "sync_daemons[0].group", "a multicast group expected"),
]


@pytest.mark.parametrize("args, field, words", [case[1:] for case in REFUSED_TABLES],
                         ids=[case[0] for case in REFUSED_TABLES])
def test_input_the_kernel_refuses_or_wraps_fails_naming_the_entry(run, fake, args, field, words):
    result = run(**args)
    assert result.failed
    assert result["field"] == field
    assert result["msg"].startswith(f"{field}: ")
    assert words in result["msg"]
    assert fake.messages == 0
    assert table(fake) == {}


def test_the_limits_are_applied_as_given(run, monkeypatch):
    from ipvs_helpers import FakeIpvsKernel, install

    fake_kernel = install(monkeypatch, FakeIpvsKernel(hz=1000))
    services = [{"address": VIP, "port": 0, "persistence_timeout": 4294967},
                {"address": "2001:db8::10", "port": 80, "persistence_timeout": 1,
                 "persistence_netmask": 1}]
    result = run(services=services, timeouts={"tcp": 2147483})
    assert not result.failed, result
    assert rules(fake_kernel) == ["-A -t 192.0.2.10:0 -s wlc -p 4294967",
                                  "-A -t [2001:db8::10]:80 -s wlc -p 1 -M 1"]
    assert fake_kernel.tcp_timeout == 2147483 * 1000
    assert run(services=services, timeouts={"tcp": 2147483})["changed"] is False


def test_a_no_op_diff_is_empty(run, declared):
    result = run(services=DECLARED, _ansible_diff=True, _ansible_check_mode=True)
    assert result["changed"] is False
    assert (result["diff"]["before"], result["diff"]["after"]) == ("", "")


def test_a_large_table_is_counted_not_echoed_in_the_invocation(run, fake):
    small = run(services=DECLARED, _ansible_check_mode=True)
    assert "invocation" not in small  # Ansible echoes every argument itself
    many = [{"address": "192.0.2.10", "port": 1000 + n,
             "destinations": [{"address": "10.0.0.1"}, {"address": "10.0.0.2"}]}
            for n in range(ipvs_table.ECHO_LIMIT + 1)]
    large = run(services=many, _ansible_check_mode=True)
    echoed = large["invocation"]["module_args"]
    assert echoed["services"] == "101 services, 202 destinations (not echoed)"
    assert echoed["purge"] is True
    assert len(large["operations"]) == 303


@pytest.mark.parametrize("services, words", [
    ([{"address": VIP, "port": "eighty"}], "unable to convert to int"),
    ([{"address": VIP, "port": 80, "protocol": "icmp"}], "value of protocol must be one of"),
    ([{"address": VIP, "port": 80, "colour": "red"}],
     ") module: services.colour. Supported parameters include: address, destinations"),
    ([{"address": VIP, "port": 80, "destinations": [{"weight": 1, "address": "10.0.0.1",
                                                     "tunnel_flags": ["bogus"]}]}],
     "value of tunnel_flags must be one or more of"),
])
def test_the_services_are_refused_in_ansibles_words(run, fake, services, words):
    """The services are checked by simple_spec, or by Ansible's validator when it cannot say:
    what Ansible refuses is refused with Ansible's message, before any kernel request."""
    result = run(services=services)
    assert result.failed
    assert words in result["msg"]
    assert fake.messages == 0


def test_values_ansible_converts_are_converted(run, fake):
    services = [{"address": VIP, "port": "80", "scheduler": "sh", "scheduler_flags": "sh-port",
                 "destinations": [{"address": "10.0.0.1", "weight": "3", "port": 80}]}]
    result = run(services=services)
    assert result.get("changed") is True, dict(result)
    assert rules(fake) == ["-A -t 192.0.2.10:80 -s sh -b sh-port",
                           "-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 3"]
