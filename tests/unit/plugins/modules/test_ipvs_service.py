# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvs.cluster.ipvs_service: main() with patched arguments on the fake IPVS kernel."""

from __future__ import annotations

import errno

import pytest
from ipvs_helpers import FakeIpvsKernel, dest, fake, install, mark, rules, service, table

from plugins.module_utils import ipvs_module as ipvs
from plugins.module_utils.lvs_cluster.ipvs import netlink as nl
from plugins.modules import ipvs_service

__all__ = ["fake"]  # the fixture, imported for pytest

WEB = dict(address="192.0.2.10", port=80)


@pytest.fixture
def run(module_runner):
    return module_runner(ipvs_service.main)


def test_adds_a_service_with_the_defaults(run, fake):
    result = run(**WEB)
    assert not result.failed
    assert result["changed"] is True
    assert result["operations"] == [{"action": "add_service",
                                     "service": "service tcp 192.0.2.10:80"}]
    assert result["service"] == {"family": "inet", "protocol": "tcp", "address": "192.0.2.10",
                                 "port": 80, "scheduler": "wlc", "persistence_timeout": 0,
                                 "one_packet": False, "scheduler_flags": []}
    assert table(fake) == {service(80): frozenset()}
    assert "diff" not in result


def test_second_run_changes_nothing(run, fake):
    run(**WEB, scheduler="rr", persistence_timeout=300)
    writes = fake.writes
    result = run(**WEB, scheduler="rr", persistence_timeout=300)
    assert result["changed"] is False
    assert result["operations"] == []
    assert fake.writes == writes


def test_check_mode_reports_and_writes_nothing(run, fake):
    result = run(**WEB, _ansible_check_mode=True, _ansible_diff=True)
    assert result["changed"] is True
    assert result["operations"][0]["action"] == "add_service"
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["scheduler"] == "wlc"
    assert fake.writes == 0
    assert table(fake) == {}


def test_an_option_change_is_an_edit_in_place_that_keeps_the_destinations(run, fake):
    fake.load({service(80): [dest(1), dest(2)]})
    before = len(fake.batches)
    result = run(**WEB, scheduler="sh", scheduler_flags=["sh-port", "sh-fallback"],
                 persistence_timeout=600, persistence_netmask="255.255.255.0",
                 _ansible_diff=True)
    assert result["changed"] is True
    assert result["operations"] == [{
        "action": "edit_service", "service": "service tcp 192.0.2.10:80",
        "changes": {"scheduler": ["wlc", "sh"], "persistence_timeout": [0, 600],
                    "persistence_netmask": [None, 24],
                    "scheduler_flags": [[], ["sh-fallback", "sh-port"]]}}]
    assert result["diff"]["before"]["scheduler"] == "wlc"
    assert result["diff"]["after"]["persistence_netmask"] == 24
    # after resolving the family and reading: one SET_SERVICE, no DEL_SERVICE / NEW_SERVICE
    sent = [command for batch in fake.batches[before + 1:] for command, _f, _s in batch]
    assert sent == [nl.CMD_GET_SERVICE, nl.CMD_SET_SERVICE]
    assert rules(fake) == [
        "-A -t 192.0.2.10:80 -s sh -p 600 -M 255.255.255.0 -b sh-fallback,sh-port",
        "-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 1",
        "-a -t 192.0.2.10:80 -r 10.0.0.2:80 -g -w 1",
    ]


def test_options_left_out_mean_their_defaults(run, fake):
    fake.load({service(80, scheduler="rr", flags={"persistent", "one-packet"}, timeout=60,
                       netmask=24, pe_name="sip"): []})
    result = run(**WEB)
    assert result["changed"] is True
    assert rules(fake) == ["-A -t 192.0.2.10:80 -s wlc"]


@pytest.mark.parametrize("args, rule", [
    (dict(address="2001:db8::10", port=443, persistence_timeout=300, persistence_netmask=64),
     "-A -t [2001:db8::10]:443 -s wlc -p 300 -M 64"),
    (dict(address="2001:db8::10", port=443, persistence_timeout=300, persistence_netmask="64"),
     "-A -t [2001:db8::10]:443 -s wlc -p 300 -M 64"),
    (dict(protocol="udp", address="192.0.2.10", port=53, scheduler="rr", one_packet=True),
     "-A -u 192.0.2.10:53 -s rr -o"),
    (dict(protocol="udp", address="192.0.2.10", port=5060, scheduler="rr",
          persistence_timeout=60, pe_name="sip"),
     "-A -u 192.0.2.10:5060 -s rr -p 60 --pe sip"),
    (dict(protocol="sctp", address="192.0.2.10", port=3868, scheduler="rr"),
     "-A --sctp-service 192.0.2.10:3868 -s rr"),
    (dict(address="192.0.2.10", port=0, persistence_timeout=120, persistence_netmask=16),
     "-A -t 192.0.2.10:0 -s wlc -p 120 -M 255.255.0.0"),
    (dict(fwmark=7), "-A -f 7 -s wlc"),
    (dict(fwmark=7, family="inet6", scheduler="mh", scheduler_flags=["mh-port"]),
     "-A -f 7 -6 -s mh -b mh-port"),
    (dict(address="192.0.2.10", port=80, persistence_timeout=30, persistence_netmask=32),
     "-A -t 192.0.2.10:80 -s wlc -p 30"),
])
def test_every_kind_of_service_reads_back_as_declared(run, fake, args, rule):
    assert run(**args)["changed"] is True
    assert rules(fake) == [rule]
    assert run(**args)["changed"] is False


def test_absent_removes_the_service_with_its_destinations(run, fake):
    fake.load({service(80): [dest(1)], service(443): []})
    result = run(**WEB, state="absent", _ansible_diff=True)
    assert result["changed"] is True
    assert result["operations"] == [{"action": "delete_service",
                                     "service": "service tcp 192.0.2.10:80"}]
    assert result["diff"]["after"] == {}
    assert "service" not in result
    assert set(table(fake)) == {service(443)}
    assert run(**WEB, state="absent")["changed"] is False


def test_absent_in_check_mode_removes_nothing(run, fake):
    fake.load({mark(3): [dest(1, port=0)]})
    result = run(fwmark=3, state="absent", _ansible_check_mode=True)
    assert result["changed"] is True
    assert fake.writes == 0
    assert set(table(fake)) == {mark(3)}


def test_results_of_the_module_are_valid_options_again(run, fake):
    first = run(fwmark=9, family="inet6", scheduler="rr", persistence_timeout=10)
    assert "address" not in first["service"]  # left out, not null: null is no valid choice
    again = run(**first["service"])
    assert not again.failed, again["msg"]
    assert again["changed"] is False


@pytest.mark.parametrize("args, field, words", [
    (dict(address="192.0.2.10", port=80, fwmark=3), "address", "not allowed with fwmark"),
    (dict(fwmark=3, protocol="udp"), "protocol", "not allowed with fwmark"),
    (dict(address="192.0.2.10"), "port", "required with address"),
    (dict(port=80), "", "one of address or fwmark is required"),
    (dict(address="192.0.2.300", port=80), "address", "invalid IP address"),
    (dict(address="192.0.2.10", port=80, family="inet6"), "family", "does not match"),
    (dict(address="192.0.2.10", port=70000), "port", "0-65535"),
    (dict(fwmark=0), "fwmark", "1-4294967295"),
    (dict(address="192.0.2.10", port=80, scheduler="sh", scheduler_flags=["mh-port"]),
     "scheduler_flags", "mh-port needs scheduler mh"),
    (dict(address="192.0.2.10", port=80, scheduler_flags=["sh-port"]), "scheduler_flags",
     "needs scheduler sh"),
    (dict(address="192.0.2.10", port=80, persistence_netmask="255.0.255.0"),
     "persistence_netmask", "not a contiguous netmask"),
    (dict(address="192.0.2.10", port=80, persistence_netmask=33), "persistence_netmask",
     "prefix length 0-32"),
    (dict(address="2001:db8::1", port=80, persistence_netmask="ffff:ffff::"),
     "persistence_netmask", "prefix length"),
    (dict(address="192.0.2.10", port=80, persistence_netmask="big"), "persistence_netmask",
     "dotted mask or prefix length"),
    (dict(address="192.0.2.10", port=80, persistence_timeout=-1), "persistence_timeout",
     "expected"),
])
def test_bad_options_fail_naming_the_option_before_any_kernel_access(run, monkeypatch,
                                                                     args, field, words):
    fake_kernel = install(monkeypatch, FakeIpvsKernel())
    result = run(**args)
    assert result.failed
    assert result["field"] == field
    assert words in result["msg"]
    assert result["msg"].startswith(f"{field}: " if field else words)
    assert fake_kernel.messages == 0


def test_a_scheduler_the_kernel_lacks_fails_and_changes_nothing(run, fake):
    result = run(**WEB, scheduler="nosuch")
    assert result.failed
    assert result["errno"] == "ENOENT"
    assert "add service tcp 192.0.2.10:80" in result["msg"]
    assert table(fake) == {}


def test_without_root_the_message_says_so(run, monkeypatch):
    install(monkeypatch, FakeIpvsKernel(privileged=False))
    result = run(**WEB)
    assert result.failed
    assert result["errno"] == "EPERM"
    assert "needs root" in result["msg"]


class ModprobeStub:
    def __init__(self, fake_kernel, rc=0):
        self.fake_kernel, self.rc, self.calls = fake_kernel, rc, []

    def __call__(self, args, **kwargs):
        self.calls.append(args)
        if self.rc == 0:
            self.fake_kernel.ipvs_loaded = True
        return self.rc, "", "modprobe: FATAL: Module ip_vs not found" if self.rc else ""


def no_proc_ip_vs(monkeypatch):
    real_exists = ipvs.os.path.exists
    monkeypatch.setattr(ipvs.os.path, "exists",
                        lambda path: False if path == "/proc/net/ip_vs" else real_exists(path))
    monkeypatch.setattr(ipvs_service.AnsibleModule, "get_bin_path",
                        lambda self, name, required=False, opt_dirs=None: "/sbin/" + name)


def test_ip_vs_is_loaded_with_modprobe_when_the_kernel_does_not_autoload_it(run, monkeypatch):
    fake_kernel = install(monkeypatch, FakeIpvsKernel(ipvs_loaded=False))
    no_proc_ip_vs(monkeypatch)
    modprobe = ModprobeStub(fake_kernel)
    monkeypatch.setattr(ipvs_service.AnsibleModule, "run_command", modprobe)
    result = run(**WEB)
    assert not result.failed
    assert modprobe.calls == [["/sbin/modprobe", "ip_vs"]]
    assert set(table(fake_kernel)) == {service(80)}


def test_no_ipvs_at_all_fails_with_a_clear_message(run, monkeypatch):
    fake_kernel = install(monkeypatch, FakeIpvsKernel(ipvs_loaded=False))
    no_proc_ip_vs(monkeypatch)
    monkeypatch.setattr(ipvs_service.AnsibleModule, "run_command", ModprobeStub(fake_kernel, 1))
    result = run(**WEB)
    assert result.failed
    assert result["msg"].startswith("the kernel has no IPVS: load the ip_vs module "
                                    "(modprobe ip_vs)")
    assert "Module ip_vs not found" in result["msg"]


def test_no_ipvs_family_although_modprobe_succeeds(run, monkeypatch):
    fake_kernel = install(monkeypatch, FakeIpvsKernel(ipvs_loaded=False))
    no_proc_ip_vs(monkeypatch)
    monkeypatch.setattr(ipvs_service.AnsibleModule, "run_command",
                        lambda self, args, **kw: (0, "", ""))
    result = run(**WEB)
    assert result.failed
    assert result["msg"] == ipvs.NO_IPVS
    assert result["errno"] == "ENOENT"
    assert fake_kernel.writes == 0


def test_other_socket_errors_fail_cleanly(run, monkeypatch):
    def refuse():
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(ipvs, "open_kernel", refuse)
    result = run(**WEB)
    assert result.failed
    assert "cannot open a generic netlink socket" in result["msg"]


# -- input the kernel refuses or wraps (issue #12, point 8) ---------------------------------------
# Each is refused naming its option, before the module opens the netlink socket: no traceback,
# no message to the kernel at all.

REFUSED_SERVICES = [
    ("zone index", dict(address="fe80::1%eth0", port=80), "address",
     "zone index %eth0"),
    ("IPv6 persistence prefix 0",
     dict(address="2001:db8::10", port=443, persistence_timeout=60, persistence_netmask=0),
     "persistence_netmask", "an IPv6 persistence netmask is a prefix length 1-128"),
    ("scheduler of 16 bytes", dict(WEB, scheduler="x" * 16), "scheduler",
     "longer than 15 bytes"),
    ("scheduler of 16 bytes in 8 characters", dict(WEB, scheduler="\u00e9" * 8), "scheduler",
     "longer than 15 bytes"),
    ("scheduler with NUL", dict(WEB, scheduler="rr\x00x"), "scheduler", "NUL"),
    ("persistence engine of 16 bytes", dict(WEB, persistence_timeout=60, pe_name="s" * 16),
     "pe_name", "longer than 15 bytes"),
    ("persistence engine with NUL", dict(WEB, persistence_timeout=60, pe_name="sip\x00"),
     "pe_name", "NUL"),
    ("persistence timeout that wraps", dict(WEB, persistence_timeout=4294968),
     "persistence_timeout", "0-4294967 seconds"),
    ("persistence timeout far above", dict(WEB, persistence_timeout=2**32), "persistence_timeout",
     "0-4294967 seconds"),
    ("negative persistence timeout", dict(WEB, persistence_timeout=-1), "persistence_timeout",
     "0-4294967 seconds"),
    ("port 0 without persistence", dict(address="192.0.2.10", port=0), "port",
     "port 0 (all ports) is only valid for a persistent service"),
    ("IPv4 multicast VIP", dict(address="224.0.0.18", port=80), "address", "multicast"),
    ("IPv6 multicast VIP", dict(address="ff02::1", port=80), "address", "multicast"),
    ("IPv4 unspecified VIP", dict(address="0.0.0.0", port=80), "address", "unspecified"),
    ("IPv6 unspecified VIP", dict(address="::", port=80), "address", "unspecified"),
    ("this-network VIP", dict(address="0.1.2.3", port=80), "address", "0.0.0.0/8"),
    ("broadcast VIP", dict(address="255.255.255.255", port=80), "address", "broadcast"),
    ("IPv4-mapped VIP", dict(address="::ffff:192.0.2.10", port=80), "address",
     "write it as 192.0.2.10"),
]


@pytest.mark.parametrize("args, field, words", [case[1:] for case in REFUSED_SERVICES],
                         ids=[case[0] for case in REFUSED_SERVICES])
def test_input_the_kernel_refuses_or_wraps_fails_naming_the_option(run, monkeypatch, args,
                                                                   field, words):
    fake_kernel = install(monkeypatch, FakeIpvsKernel())
    result = run(**args)
    assert result.failed
    assert result["field"] == field
    assert result["msg"].startswith(f"{field}: ")
    assert words in result["msg"]
    assert fake_kernel.messages == 0


@pytest.mark.parametrize("args, rule", [
    # the limits themselves are accepted, and read back unwrapped even at HZ=1000
    (dict(WEB, persistence_timeout=4294967), "-A -t 192.0.2.10:80 -s wlc -p 4294967"),
    (dict(address="2001:db8::10", port=443, persistence_timeout=60, persistence_netmask=1),
     "-A -t [2001:db8::10]:443 -s wlc -p 60 -M 1"),
    (dict(address="192.0.2.10", port=0, persistence_timeout=60), "-A -t 192.0.2.10:0 -s wlc -p 60"),
    (dict(WEB, persistence_timeout=60, persistence_netmask=0),
     "-A -t 192.0.2.10:80 -s wlc -p 60 -M 0.0.0.0"),
    # a loopback VIP serves this host's own clients (the kernel takes it; so do we)
    (dict(address="127.0.0.100", port=80), "-A -t 127.0.0.100:80 -s wlc"),
])
def test_input_at_the_limits_is_applied_as_given(run, monkeypatch, args, rule):
    fake_kernel = install(monkeypatch, FakeIpvsKernel(hz=1000))
    assert run(**args)["changed"] is True
    assert rules(fake_kernel) == [rule]
    assert run(**args)["changed"] is False


def test_a_scheduler_name_of_15_bytes_reaches_the_kernel(run, fake):
    result = run(**WEB, scheduler="x" * 15)
    assert result.failed
    assert result["errno"] == "ENOENT"  # the kernel has no such scheduler: not our refusal
    assert "field" not in result


def test_a_service_the_rules_refuse_can_still_be_removed(run, fake):
    fake.load({service(0): [dest(1)], service(80, "224.0.0.18"): []})
    assert run(address="192.0.2.10", port=0, state="absent")["changed"] is True
    assert run(address="224.0.0.18", port=80, state="absent")["changed"] is True
    assert table(fake) == {}
