# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvs.cluster.ipvs_real_server: main() with patched arguments on the fake IPVS kernel."""

from __future__ import annotations

import errno

import pytest
from ipvs_helpers import clock, dest, fake, fake_dest, mark, rules, service, table

from plugins.modules import ipvs_real_server

__all__ = ["clock", "fake"]  # fixtures, imported for pytest

SVC = {"address": "192.0.2.10", "port": 80}


@pytest.fixture
def run(module_runner):
    return module_runner(ipvs_real_server.main)


@pytest.fixture
def web(fake):
    """The fake kernel with an empty web service."""
    fake.load({service(80): []})
    return fake


def test_adds_a_destination_with_the_defaults(run, web):
    result = run(service=SVC, address="10.0.0.1")
    assert result["changed"] is True
    assert result["operations"] == [{"action": "add_destination",
                                     "service": "service tcp 192.0.2.10:80",
                                     "destination": "10.0.0.1:80"}]
    assert result["destination"] == {"address": "10.0.0.1", "port": 80, "forwarding": "direct",
                                     "weight": 1, "upper_threshold": 0, "lower_threshold": 0,
                                     "tunnel_flags": []}
    assert "connections" not in result
    assert table(web) == {service(80): frozenset({dest(1)})}
    assert run(service=SVC, address="10.0.0.1")["changed"] is False


@pytest.mark.parametrize("args, rule", [
    (dict(forwarding="nat", weight=3, upper_threshold=500, lower_threshold=400),
     "-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 3 -x 500 -y 400"),
    (dict(port=8080, forwarding="nat"), "-a -t 192.0.2.10:80 -r 10.0.0.1:8080 -m -w 1"),
    (dict(forwarding="tunnel"), "-a -t 192.0.2.10:80 -r 10.0.0.1:80 -i -w 1 --tun-type ipip"),
    (dict(forwarding="tunnel", tunnel_type="ipip"),
     "-a -t 192.0.2.10:80 -r 10.0.0.1:80 -i -w 1 --tun-type ipip"),
    (dict(forwarding="tunnel", tunnel_type="gue", tunnel_port=6080, tunnel_flags=["csum"]),
     "-a -t 192.0.2.10:80 -r 10.0.0.1:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum"),
    (dict(forwarding="tunnel", tunnel_type="gue", tunnel_port=6080,
          tunnel_flags=["remcsum"]),
     "-a -t 192.0.2.10:80 -r 10.0.0.1:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum"),
    (dict(forwarding="tunnel", tunnel_type="gre", tunnel_flags=["nocsum"]),
     "-a -t 192.0.2.10:80 -r 10.0.0.1:80 -i -w 1 --tun-type gre --tun-nocsum"),
    (dict(forwarding="local"), "-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 1 # local"),
    (dict(weight=0), "-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 0"),
])
def test_every_kind_of_destination_reads_back_as_declared(run, web, args, rule):
    assert run(service=SVC, address="10.0.0.1", **args)["changed"] is True
    assert rules(web)[1:] == [rule]
    assert run(service=SVC, address="10.0.0.1", **args)["changed"] is False


def test_destinations_of_fwmark_and_ipv6_services(run, fake):
    fake.load({mark(5): [], mark(6, "inet6"): [], service(443, "2001:db8::10"): []})
    assert run(service={"fwmark": 5}, address="10.0.0.1")["destination"]["port"] == 0
    assert run(service={"fwmark": 6, "family": "inet6"}, address="2001:db8:1::1",
               forwarding="nat", port=8443)["changed"] is True
    assert run(service={"address": "2001:db8::10", "port": 443},
               address="2001:db8:1::2")["changed"] is True
    assert sorted(rules(fake)) == sorted([
        "-A -t [2001:db8::10]:443 -s wlc",
        "-a -t [2001:db8::10]:443 -r [2001:db8:1::2]:443 -g -w 1",
        "-A -f 5 -s wlc",
        "-a -f 5 -r 10.0.0.1:0 -g -w 1",
        "-A -f 6 -6 -s wlc",
        "-a -f 6 -6 -r [2001:db8:1::1]:8443 -m -w 1",
    ])


def test_a_changed_option_is_an_edit_in_place(run, web):
    run(service=SVC, address="10.0.0.1", forwarding="nat", weight=2)
    result = run(service=SVC, address="10.0.0.1", forwarding="nat", weight=5,
                 upper_threshold=10, _ansible_diff=True)
    assert result["operations"] == [{
        "action": "edit_destination", "service": "service tcp 192.0.2.10:80",
        "destination": "10.0.0.1:80", "changes": {"weight": [2, 5], "upper_threshold": [0, 10]}}]
    assert result["diff"]["before"]["weight"] == 2
    assert result["diff"]["after"]["weight"] == 5
    assert result["connections"] == {"active_connections": 0, "inactive_connections": 0,
                                     "persistent_connections": 0}


def test_left_out_options_return_to_their_defaults(run, web):
    run(service=SVC, address="10.0.0.1", forwarding="nat", weight=2, upper_threshold=9)
    result = run(service=SVC, address="10.0.0.1")
    assert result["operations"][0]["changes"] == {
        "forwarding": ["nat", "direct"], "weight": [2, 1], "upper_threshold": [9, 0]}


def test_check_mode_writes_nothing(run, web):
    result = run(service=SVC, address="10.0.0.1", _ansible_check_mode=True, _ansible_diff=True)
    assert result["changed"] is True
    assert result["diff"] == {"before": {}, "after": result["destination"]}
    assert web.writes == 0


def test_drained_is_present_with_weight_0(run, web):
    run(service=SVC, address="10.0.0.1", weight=4)
    result = run(service=SVC, address="10.0.0.1", weight=4, state="drained")
    assert result["operations"][0]["changes"] == {"weight": [4, 0]}
    assert result["destination"]["weight"] == 0
    assert rules(web)[1:] == ["-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 0"]
    assert run(service=SVC, address="10.0.0.1", state="drained")["changed"] is False
    assert run(service=SVC, address="10.0.0.1", weight=4)["changed"] is True


def test_absent_removes_at_once_without_drain_timeout(run, web, clock):
    run(service=SVC, address="10.0.0.1")
    fake_dest(web, service(80), "10.0.0.1").activeconns = 3
    result = run(service=SVC, address="10.0.0.1", state="absent", _ansible_diff=True)
    assert result["operations"] == [{"action": "delete_destination",
                                     "service": "service tcp 192.0.2.10:80",
                                     "destination": "10.0.0.1:80"}]
    assert result["connections"]["active_connections"] == 3
    assert result["diff"]["after"] == {}
    assert "drained" not in result
    assert clock.sleeps == []
    assert table(web) == {service(80): frozenset()}
    assert run(service=SVC, address="10.0.0.1", state="absent")["changed"] is False


def test_drain_waits_until_the_connections_end(run, web, clock):
    run(service=SVC, address="10.0.0.1", forwarding="nat", weight=3)
    record = fake_dest(web, service(80), "10.0.0.1")
    record.activeconns, record.inactconns = 2, 5
    weights = []

    def connections_end(now):
        weights.append(record.weight)
        if len(clock.sleeps) == 3:
            record.activeconns = record.inactconns = 0

    clock.on_sleep.append(connections_end)
    result = run(service=SVC, address="10.0.0.1", state="absent", drain_timeout=60)
    assert result["changed"] is True
    assert [op["action"] for op in result["operations"]] == [
        "edit_destination", "delete_destination"]
    assert result["operations"][0]["changes"] == {"weight": [3, 0]}
    assert weights == [0, 0, 0]  # quiesced while waiting
    assert result["drained"] == {"service": "service tcp 192.0.2.10:80",
                                 "destination": "10.0.0.1:80", "connections": 0,
                                 "seconds": 3.0}
    assert table(web) == {service(80): frozenset()}


def test_drain_gives_up_after_the_timeout(run, web, clock):
    run(service=SVC, address="10.0.0.1")
    fake_dest(web, service(80), "10.0.0.1").inactconns = 7
    result = run(service=SVC, address="10.0.0.1", state="absent", drain_timeout=5)
    assert result["drained"]["connections"] == 7
    assert result["drained"]["seconds"] == 5.0
    assert sum(clock.sleeps) == 5
    assert table(web) == {service(80): frozenset()}


def test_drain_of_a_quiesced_destination_without_connections_does_not_wait(run, web, clock):
    run(service=SVC, address="10.0.0.1", state="drained")
    result = run(service=SVC, address="10.0.0.1", state="absent", drain_timeout=30)
    assert [op["action"] for op in result["operations"]] == ["delete_destination"]
    assert result["drained"]["seconds"] == 0
    assert clock.sleeps == []


def test_drain_in_check_mode_reports_and_neither_writes_nor_waits(run, web, clock):
    run(service=SVC, address="10.0.0.1")
    fake_dest(web, service(80), "10.0.0.1").activeconns = 1
    writes = web.writes
    result = run(service=SVC, address="10.0.0.1", state="absent", drain_timeout=30,
                 _ansible_check_mode=True)
    assert [op["action"] for op in result["operations"]] == [
        "edit_destination", "delete_destination"]
    assert "drained" not in result
    assert web.writes == writes
    assert clock.sleeps == []


def test_a_refused_delete_after_a_drain_gives_the_weight_back(run, web, clock):
    run(service=SVC, address="10.0.0.1", weight=6)
    web.fail_on(lambda w: w.name == "DEL_DEST", errno.ENOMEM)
    result = run(service=SVC, address="10.0.0.1", state="absent", drain_timeout=5)
    assert result.failed
    assert result["errno"] == "ENOMEM"
    assert rules(web)[1:] == ["-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 6"]


def test_a_missing_service_fails_except_in_check_mode(run, fake):
    result = run(service=SVC, address="10.0.0.1")
    assert result.failed
    assert result["msg"].startswith("service tcp 192.0.2.10:80 does not exist")
    check = run(service=SVC, address="10.0.0.1", _ansible_check_mode=True)
    assert check["changed"] is True
    assert check["operations"][0]["action"] == "add_destination"
    assert "does not exist (yet)" in check.warnings[0]
    assert run(service=SVC, address="10.0.0.1", state="absent")["changed"] is False
    assert fake.writes == 0


@pytest.mark.parametrize("args, field, words", [
    (dict(address="10.0.0.1", tunnel_type="gue"), "tunnel_type", "needs forwarding: tunnel"),
    (dict(address="10.0.0.1", forwarding="tunnel", tunnel_type="gue"), "tunnel_port",
     "required by tunnel_type gue"),
    (dict(address="10.0.0.1", forwarding="tunnel", tunnel_type="gre",
          tunnel_flags=["nocsum", "csum"]), "tunnel_flags", "nocsum excludes"),
    (dict(address="10.0.0.1", lower_threshold=5), "lower_threshold",
     "above upper_threshold 0"),
    (dict(address="10.0.0.1", weight=-1), "weight", "0-2147483647"),
    (dict(address="10.0.0.1", port=65536), "port", "0-65535"),
    (dict(address="10.0.0.256"), "address", "invalid IP address"),
    (dict(address="10.0.0.1", service={"address": "192.0.2.10"}), "service.port",
     "required with address"),
    (dict(address="10.0.0.1", service={"fwmark": 1, "port": 80}), "service.port",
     "not allowed with fwmark"),
    (dict(address="10.0.0.1", drain_timeout=-1, state="absent"), "drain_timeout",
     "seconds >= 0"),
])
def test_bad_options_fail_naming_the_option(run, web, args, field, words):
    result = run(**{"service": SVC, **args})
    assert result.failed
    assert result["field"] == field
    assert words in result["msg"]
    assert web.writes == 0


# -- input the kernel refuses or wraps (issue #12, point 8) ---------------------------------------
# Refused naming the option before the module opens the netlink socket: no traceback, and not
# the kernel's bare EINVAL.

SVC6 = {"address": "2001:db8::10", "port": 80}

REFUSED_DESTINATIONS = [
    ("zone index", dict(service=SVC6, address="fe80::5%eth0"), "address", "zone index %eth0"),
    ("zone index of the service", dict(service={"address": "fe80::1%eth0", "port": 80},
                                       address="2001:db8:1::5"), "service.address",
     "zone index %eth0"),
    ("IPv4 multicast", dict(service=SVC, address="239.1.1.1"), "address", "multicast"),
    ("IPv6 multicast", dict(service=SVC6, address="ff05::2"), "address", "multicast"),
    ("IPv4 unspecified", dict(service=SVC, address="0.0.0.0"), "address", "unspecified"),
    ("IPv6 unspecified", dict(service=SVC6, address="::"), "address", "unspecified"),
    ("this network", dict(service=SVC, address="0.0.0.7"), "address", "0.0.0.0/8"),
    ("broadcast", dict(service=SVC, address="255.255.255.255"), "address", "broadcast"),
    ("IPv6 link-local", dict(service=SVC6, address="fe80::5"), "address", "link-local"),
    ("IPv4-mapped", dict(service=SVC6, address="::ffff:10.0.0.1"), "address",
     "write it as 10.0.0.1"),
]


@pytest.mark.parametrize("args, field, words", [case[1:] for case in REFUSED_DESTINATIONS],
                         ids=[case[0] for case in REFUSED_DESTINATIONS])
def test_input_the_kernel_refuses_fails_naming_the_option(run, fake, args, field, words):
    fake.load({service(80): [], service(80, "2001:db8::10"): []})
    result = run(**args)
    assert result.failed
    assert result["field"] == field
    assert result["msg"].startswith(f"{field}: ")
    assert words in result["msg"]
    assert fake.messages == 0


def test_a_loopback_real_server_is_a_local_one(run, web):
    # 127.0.0.1 is this host (a sorry server on the director, say): the kernel takes it
    assert run(service=SVC, address="127.0.0.1", port=8080, forwarding="nat")["changed"] is True
    assert rules(web)[1:] == ["-a -t 192.0.2.10:80 -r 127.0.0.1:8080 -m -w 1"]


def test_the_service_rules_do_not_apply_to_the_service_named(run, fake):
    # the service is only looked up: a persistent any-port service made elsewhere is found
    fake.load({service(0, flags={"persistent"}, timeout=60): []})
    result = run(service={"address": "192.0.2.10", "port": 0}, address="10.0.0.1", port=0)
    assert not result.failed, result
    assert result["changed"] is True


def test_an_mh_service_keeps_its_order_when_a_destination_is_added_or_edited(run, fake):
    # mh builds its table from the kernel's list: this module's changes add and edit, they
    # never delete and re-add the service's other destinations
    fake.load({service(80, scheduler="mh"): [dest(1), dest(2), dest(3)]})
    added = run(service=SVC, address="10.0.0.4")
    assert [op["action"] for op in added["operations"]] == ["add_destination"]
    edited = run(service=SVC, address="10.0.0.2", weight=0)
    assert [op["action"] for op in edited["operations"]] == ["edit_destination"]
    removed = run(service=SVC, address="10.0.0.1", state="absent")
    assert [op["action"] for op in removed["operations"]] == ["delete_destination"]
    svc = next(iter(fake.services.values()))
    assert [d.address for d in reversed(svc.dump_order())] == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
