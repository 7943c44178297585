# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Importing Piranha's lvs.cf: the imported variables, rendered by the router role's real
lvs.cf template (Ansible's Templar with the role's defaults, as in tests/unit/roles), give a
file whose model equals the original's, except for exactly what the import reports as
unsupported and for the role's one deliberate addition, ``heartbeat_key_file`` (in pulse mode
the role writes its own heartbeat key file: Piranha had none)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from lvs_cluster.importing import piranha
from lvs_cluster.importing.piranha import import_lvs_cf
from lvs_cluster.importing.result import ImportResult, SourceError, Unsupported
from lvs_cluster.lvs_cf.model import (
    FailoverService,
    LvsConfig,
    RealServer,
    VirtualService,
    key_fields,
    model_from_dict,
)
from lvs_cluster.lvs_cf.parser import parse_lvs_cf
from lvs_cluster.lvs_cf.render import render_lvs_cf

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "roles"))
from test_role_templates import ROLES, render, role_vars  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "import" / "piranha"
ROLE_KEY_FILE = "/etc/lvs-cluster/heartbeat.key"
HOST_NAMES = {"primary": "lvs1", "backup": "lvs2"}


def rendered(result: ImportResult) -> LvsConfig:
    """The imported variables rendered by the role's lvs.cf template, with an inventory built
    from ``hosts`` (the primary lvs1, the backup lvs2 if there is one), parsed back."""
    routers = [HOST_NAMES[role] for role in ("primary", "backup") if role in result.hosts]
    hostvars = {HOST_NAMES[role]: values for role, values in result.hosts.items()}
    variables = role_vars("router", groups={"lvs_routers": routers}, hostvars=hostvars,
                          **result.router_vars)
    return parse_lvs_cf(render("router", "lvs.cf.j2", variables), "rendered lvs.cf").config


def as_the_role_writes_it(original: LvsConfig, **reported: Any) -> LvsConfig:
    """The original model with the role's deliberate addition (its heartbeat key file when the
    original names none) and the values of the reported constructs as the role writes them."""
    key_file = original.heartbeat_key_file or ROLE_KEY_FILE
    return dataclasses.replace(original, heartbeat_key_file=key_file, **reported)


def fixture(name: str) -> tuple[str, LvsConfig]:
    text = (FIXTURES / name).read_text()
    return text, parse_lvs_cf(text, name).config


# -- the three fixture files ------------------------------------------------------------------


def test_a_red_hat_direct_routing_pair_round_trips_with_nothing_unsupported():
    text, original = fixture("redhat_direct_pair.cf")
    result = import_lvs_cf(text, "redhat_direct_pair.cf")
    assert result.unsupported == []
    assert rendered(result) == as_the_role_writes_it(original)


def test_the_red_hat_pair_s_variables_leave_out_what_the_role_renders_anyway():
    text, _original = fixture("redhat_direct_pair.cf")
    result = import_lvs_cf(text, "redhat_direct_pair.cf")
    assert result.format == "piranha" and result.sources == ["redhat_direct_pair.cf"]
    assert result.hosts == {
        "primary": {"router_public_address": "10.254.0.11",
                    "router_private_address": "10.254.1.11"},
        "backup": {"router_public_address": "10.254.0.12",
                   "router_private_address": "10.254.1.12"}}
    # network direct, heartbeat_port 539, the /24 VIP netmask, port 80, tcp, wlc, timeout 6,
    # reentry 15, active servers of weight 1: the role's own values, left out. hard_shutdown is
    # Piranha's default 1, not the role's 0: kept.
    assert result.router_vars == {
        "router_serial_no": 42, "router_keepalive": 6, "router_deadtime": 18,
        "router_lvs_cf_options": {"hard_shutdown": True},
        "router_virtual_servers": [
            {"name": "www", "address": "10.254.0.100", "device": "eth0:1", "persistent": 300,
             "pmask": "255.255.255.0", "send": "GET / HTTP/1.0\\r\\n\\r\\n", "expect": "HTTP",
             "load_monitor": "none",
             "real_servers": [{"name": "web1", "address": "10.254.0.21"},
                              {"name": "web2", "address": "10.254.0.22", "weight": 2}]},
            {"name": "ftp", "address": "10.254.0.100", "device": "eth0:1", "active": False,
             "port": 21, "persistent": 900, "send": "\\n", "expect": "220",
             "load_monitor": "none",
             "real_servers": [{"name": "web1", "address": "10.254.0.21"}]}]}


def test_a_nat_cluster_with_fwmark_quiesce_sorry_server_and_udp_round_trips():
    text, original = fixture("nat_fwmark_udp.cf")
    result = import_lvs_cf(text, "nat_fwmark_udp.cf")
    assert result.unsupported == []
    assert rendered(result) == as_the_role_writes_it(original)
    variables = result.router_vars
    assert variables["router_network"] == "nat"
    assert variables["router_nat_router"] == {"address": "10.254.1.254", "device": "eth1:1"}
    assert variables["router_lvs_cf_options"] == {"hard_shutdown": True, "tcp_timeout": 900,
                                                  "tcpfin_timeout": 120, "udp_timeout": 300}
    web, dns = variables["router_virtual_servers"]
    # Piranha's defaults differ from the role's: timeout 10 and reentry 180 must be explicit
    assert (web["timeout"], web["reentry"]) == (10, 180)
    assert web["fwmark"] == 80 and web["quiesce_server"] is True
    assert web["sorry_server"] == "10.254.1.30"
    assert dns["netmask"] is None, "no vip_nmask in the file: none in the rendered one"
    assert (dns["protocol"], dns["port"], dns["scheduler"]) == ("udp", 53, "rr")


def test_a_tunnel_router_without_backup_reports_its_failover_blocks_with_their_lines():
    text, original = fixture("tunnel_one_router.cf")
    result = import_lvs_cf(text, "tunnel_one_router.cf")
    reason = ("failover blocks (Piranha's fos) have no equivalent in the router role, which "
              "runs LVS only")
    assert result.unsupported == [Unsupported("tunnel_one_router.cf", 63, "failover ftp", reason),
                                  Unsupported("tunnel_one_router.cf", 75, "failover nfs", reason)]
    assert rendered(result) == as_the_role_writes_it(original, failovers=())
    assert list(result.hosts) == ["primary"]
    options = result.router_vars["router_lvs_cf_options"]
    # hard_shutdown (Piranha's default 1) and heartbeat (unset, 0) replace the role's fixed lines;
    # a backup that is not active has no host: its address stays a plain lvs.cf key
    assert options == {"active_cmd": "/usr/local/sbin/page-oncall lvs1 active",
                       "backup": "10.254.0.12", "hard_shutdown": True, "heartbeat": False,
                       "rsh_command": "ssh"}
    www = result.router_vars["router_virtual_servers"][0]
    assert www["dirs"] == "[ /var/www /var/log/httpd ]" and www["master"] == "10.254.0.11"
    staging = result.router_vars["router_virtual_servers"][1]
    assert staging["real_servers"] == [{"name": "web2", "address": "10.254.0.22", "port": 80}]


@pytest.mark.parametrize("name", ["redhat_direct_pair.cf", "nat_fwmark_udp.cf",
                                  "tunnel_one_router.cf"])
def test_the_fixtures_fit_the_lab(name):
    """The lead rolls the fixtures' imports out on the lab (lab/lvslab/cluster.py): the VIP,
    the routers and web1/web2 on HTTP port 80."""
    _text, config = fixture(name)
    lab = {"10.254.0.11", "10.254.1.11", "10.254.0.12", "10.254.1.12"}
    assert {config.primary, config.primary_private, config.backup,
            config.backup_private} - {None} <= lab
    web_addresses = {"10.254.0.21", "10.254.0.22", "10.254.1.21", "10.254.1.22"}
    for virtual in config.virtuals:
        assert virtual.address.ip == "10.254.0.100"
        assert {server.name for server in virtual.servers} <= {"web1", "web2"}
        assert {server.address for server in virtual.servers} <= web_addresses
    assert any(v.active and v.port == 80 and v.protocol == "tcp" for v in config.virtuals)


# -- malformed files ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("primary = 10.0.0.1\nvirtual web {\n    address = 10.0.0.10 eth0:1\n"
     "    scheduler = fastest\n}\n",
     r"^bad\.cf line 4: virtual web: scheduler: invalid argument 'fastest'"),
    ("primary = 10.0.0.1\nvirtual web {\n    active = 1\n",
     r"^bad\.cf line 2: virtual web: unexpected end of file"),
    ("primary = 10.0.0.1\nbackup_active = 1\nvirtual web {\n    active = 1\n"
     "    address = 10.0.0.10 eth0:1\n}\n",
     r"^bad\.cf line 2: backup_active: "),
    ("primary = www.example.com\n", r"^bad\.cf line 1: primary: invalid host name"),
])
def test_a_malformed_file_fails_naming_its_file_and_line(text, message):
    with pytest.raises(SourceError, match=message) as caught:
        import_lvs_cf(text, "bad.cf")
    assert caught.value.file == "bad.cf" and caught.value.line is not None


def test_an_undecodable_byte_fails_naming_its_line():
    with pytest.raises(SourceError, match=r"^bad\.cf line 2: invalid UTF-8: byte 0xff"):
        import_lvs_cf(b"primary = 10.0.0.1\nnetwork = \xff\n", "bad.cf")


# -- every key the parser knows -----------------------------------------------------------------

STRUCTURE = {LvsConfig: {"virtuals", "failovers", "key_lines"},
             VirtualService: {"name", "servers", "line", "key_lines"},
             RealServer: {"name", "line", "key_lines"},
             FailoverService: {"name", "line", "key_lines"}}
RULES = {LvsConfig: piranha.GLOBAL_RULES, VirtualService: piranha.VIRTUAL_RULES,
         RealServer: piranha.SERVER_RULES, FailoverService: piranha.FAILOVER_RULES}


@pytest.mark.parametrize("cls", list(RULES), ids=lambda cls: cls.__name__)
def test_every_field_of_the_model_has_a_rule(cls):
    """A key added to the model fails here until the import maps it or reports it."""
    keys = set(key_fields(cls))
    other = {field.name for field in dataclasses.fields(cls)} - keys
    assert set(RULES[cls]) == keys, "keys without a rule, or rules without a key"
    assert other == STRUCTURE[cls], "a new non-key field: does the import need to carry it?"


BASE = {"primary": "192.0.2.1", "network": "direct",
        "virtuals": [{"name": "web", "active": True,
                      "address": {"ip": "192.0.2.10", "device": "eth0:1"},
                      "servers": [{"name": "a", "address": "192.0.2.21", "active": True}]},
                     {"name": "other", "active": True, "port": 8443,
                      "address": {"ip": "192.0.2.10", "device": "eth0:1"}}]}


@dataclasses.dataclass(frozen=True)
class Reported:
    """A case the role cannot carry whole: the constructs the import reports, and the values
    the rendered model has instead (as the role writes them)."""

    overrides: dict[str, Any]
    constructs: list[str]
    rendered_as: dict[str, Any]


# For every key: values the role does not write by itself (with what the key needs beside it).
# Keys of the same block are tried one case at a time.
GLOBAL_CASES: dict[str, list[dict[str, Any]]] = {
    "serial_no": [{"serial_no": 9}],
    "service": [Reported({"service": "fos", "failovers": [
        {"name": "ftp", "active": True, "address": {"ip": "192.0.2.11", "device": "eth0:2"},
         "start_cmd": "/bin/true", "stop_cmd": "/bin/true"}]},
        ["service = fos", "failover ftp"], {"service": "lvs", "failovers": ()})],
    "primary": [{"primary": "192.0.2.2"}],
    "primary_private": [{"primary_private": "10.0.0.1", "backup_active": True,
                         "backup": "192.0.2.3", "backup_private": "10.0.0.2"}],
    "backup": [{"backup_active": True, "backup": "192.0.2.3"}, {"backup": "192.0.2.3"}],
    "backup_private": [{"backup": "192.0.2.3", "backup_private": "10.0.0.2",
                        "primary_private": "10.0.0.1"}],
    "backup_active": [{"backup_active": True, "backup": "192.0.2.3"}],
    "heartbeat": [{"heartbeat": False}, {"heartbeat": True}],
    "heartbeat_port": [{"heartbeat_port": 1050}],
    "keepalive": [{"keepalive": 0.5}, {"keepalive": 2.0}],
    "deadtime": [{"deadtime": 7.5}],
    "network": [{"network": "tunnel"}],
    "nat_router": [{"network": "nat", "nat_router": {"ip": "10.0.0.254", "device": "eth1:1"}},
                   {"nat_router": {"ip": "10.0.0.254", "device": "eth1:1"}}],
    "nat_nmask": [{"network": "nat", "nat_router": {"ip": "10.0.0.254", "device": "eth1:1"},
                   "nat_nmask": "255.255.0.0"},
                  {"network": "nat", "nat_router": {"ip": "10.0.0.254", "device": "eth1:1"},
                   "nat_nmask": "255.255.255.0"}],
    "debug_level": [{"debug_level": "LOW"}],
    "rsh_command": [{"rsh_command": "ssh"}],
    "monitor_links": [{"monitor_links": 1},
                      Reported({"monitor_links": 2}, ["monitor_links = 2"], {"monitor_links": 1})],
    "syncdaemon": [{"syncdaemon": True}],
    "syncd_iface": [{"syncdaemon": True, "syncd_iface": "eth1"}, {"syncd_iface": "eth1"}],
    "syncd_id": [{"syncdaemon": True, "syncd_id": 5}, {"syncd_id": 5}],
    "tcp_timeout": [{"tcp_timeout": 900}],
    "tcpfin_timeout": [{"tcpfin_timeout": 120}],
    "udp_timeout": [{"udp_timeout": 300}],
    "hard_shutdown": [{"hard_shutdown": True}, {"hard_shutdown": False}],
    "active_cmd": [{"active_cmd": "/usr/local/sbin/now-active 'primary'"}],
    "inactive_cmd": [{"inactive_cmd": "/usr/local/sbin/standby"}],
    "ipvsadm": [{"ipvsadm": "/usr/sbin/ipvsadm"}],
    "sync": [{"sync": True}],
    "primary_shared": [{"primary_shared": "/dev/sdb1"}],
    "backup_shared": [{"backup_shared": "/dev/sdc1"}],
    "reservation_conflict_action": [{"reservation_conflict_action": "preempt"}],
    "heartbeat_key_file": [{"heartbeat_key_file": "/etc/lvs/heartbeat.key"}],
}
VIRTUAL_CASES: dict[str, list[dict[str, Any]]] = {
    "active": [{"active": False}],
    "address": [{"address": {"ip": "192.0.2.10", "device": "eth1:7"}}],
    "vip_nmask": [{"vip_nmask": "255.255.0.0"}, {"vip_nmask": None}],
    "sorry_server": [{"sorry_server": "192.0.2.30"}],
    "port": [{"port": 443}, {"port": 8080, "servers": [
        {"name": "a", "address": "192.0.2.21", "active": True, "port": 80}]}],
    "protocol": [{"protocol": "udp", "expect": "x"}],
    "fwmark": [{"fwmark": 7}],
    "scheduler": [{"scheduler": "rr"}],
    "scheduler_flags": [{"scheduler": "sh", "scheduler_flags": ["sh-fallback", "sh-port"]}],
    "persistent": [{"persistent": 300}],
    "pmask": [{"persistent": 300, "pmask": "255.255.255.0"}],
    "timeout": [{"timeout": 10}, {"timeout": 6}],
    "reentry": [{"reentry": 180}],
    "rise": [{"rise": 3}],
    "fall": [{"fall": 2}],
    "send": [{"send": "GET / HTTP/1.0\\r\\n\\r\\n"}, {"send": ""}],
    "expect": [{"expect": "HTTP/1.1 200 OK"}],
    "use_regex": [{"expect": "^HTTP", "use_regex": True}],
    "send_program": [{"send_program": "/usr/local/bin/check %h %p"}],
    "load_monitor": [{"load_monitor": "uptime"}, {"load_monitor": "/usr/local/bin/load -h"}],
    "quiesce_server": [{"quiesce_server": True}],
    "client_monitor": [{"client_monitor": "/usr/local/sbin/nanny"}],
    "master": [{"master": "192.0.2.1"}],
    "dirs": [{"dirs": ["/var/www", "/srv/my files"]}],
    "start_cmd": [{"start_cmd": "/etc/init.d/httpd start"}],
    "stop_cmd": [{"stop_cmd": "/etc/init.d/httpd stop"}],
}
SERVER_CASES: dict[str, list[dict[str, Any]]] = {
    "address": [{"address": "192.0.2.22"}],
    "active": [{"active": False}],
    "weight": [{"weight": 5}],
    "port": [{"port": 8080}],
    "forwarding": [{"forwarding": "tunnel"}],
    "drain": [{"drain": True}],
}
NAMES = [{"name": "my web"}, {"name": "'quoted"}]


def with_global(overrides):
    return {**BASE, **overrides}


def with_virtual(overrides):
    first, *others = BASE["virtuals"]
    return {**BASE, "virtuals": [{**first, **overrides}, *others]}


def with_server(overrides):
    first, *others = BASE["virtuals"]
    return {**BASE, "virtuals": [{**first, "servers": [{**first["servers"][0], **overrides}]},
                                 *others]}


def cases():
    for where, table, build in (("global", GLOBAL_CASES, with_global),
                                ("virtual", VIRTUAL_CASES, with_virtual),
                                ("server", SERVER_CASES, with_server)):
        for key, variants in table.items():
            for index, case in enumerate(variants):
                if not isinstance(case, Reported):
                    case = Reported(case, [], {})
                yield pytest.param(build(case.overrides), case, id=f"{where}-{key}-{index}")
    for index, overrides in enumerate(NAMES):
        yield pytest.param(with_virtual(overrides), Reported(overrides, [], {}),
                           id=f"virtual-name-{index}")
        yield pytest.param(with_server(overrides), Reported(overrides, [], {}),
                           id=f"server-name-{index}")


@pytest.mark.parametrize(("cls", "table"), [(LvsConfig, GLOBAL_CASES),
                                            (VirtualService, VIRTUAL_CASES),
                                            (RealServer, SERVER_CASES)],
                         ids=["global", "virtual", "server"])
def test_every_key_has_a_round_trip_case(cls, table):
    assert set(table) == set(key_fields(cls))


@pytest.mark.parametrize(("data", "case"), list(cases()))
def test_each_key_round_trips_through_the_role_s_template(data, case):
    """The case as lvs.cf (the core's canonical renderer), imported, rendered by the role."""
    original = model_from_dict(data)
    result = import_lvs_cf(render_lvs_cf(original), "one.cf")
    assert [item.construct for item in result.unsupported] == case.constructs
    assert all(item.file == "one.cf" and item.line is not None for item in result.unsupported)
    assert rendered(result) == as_the_role_writes_it(original, **case.rendered_as)


def test_values_that_need_quotes_in_lvs_cf_keep_them():
    """The role's template writes names and most keys as given: the import gives the quotes a
    value needs (a blank in it, or a leading quote, which the other kind of quote holds)."""
    text = ("primary = 192.0.2.1\nnetwork = direct\nrsh_command = \"ssh -l root\"\n"
            "virtual 'web a' {\n    active = 1\n    address = 192.0.2.10 eth0:1\n"
            "    expect = \"it's up\"\n    load_monitor = \"'odd\"\n"
            "    client_monitor = ''\n}\n")
    original = parse_lvs_cf(text, "one.cf").config
    result = import_lvs_cf(text, "one.cf")
    assert result.router_vars["router_lvs_cf_options"]["rsh_command"] == '"ssh -l root"'
    (web,) = result.router_vars["router_virtual_servers"]
    assert web["name"] == '"web a"' and web["expect"] == "it's up"
    assert web["load_monitor"] == '"\'odd"' and web["client_monitor"] == '""'
    assert rendered(result) == as_the_role_writes_it(original)


def test_a_key_without_a_rule_is_reported_not_dropped(monkeypatch):
    monkeypatch.delitem(piranha.GLOBAL_RULES, "tcp_timeout")
    monkeypatch.delitem(piranha.SERVER_RULES, "weight")
    result = import_lvs_cf("primary = 192.0.2.1\ntcp_timeout = 5\nnetwork = direct\n"
                           "virtual web {\n"
                           "    active = 1\n    address = 192.0.2.10 eth0:1\n"
                           "    server a {\n        address = 192.0.2.21\n"
                           "        weight = 3\n    }\n}\n", "one.cf")
    assert [(item.line, item.construct) for item in result.unsupported] == [
        (2, "tcp_timeout"), (9, "virtual web: server a: weight")]


# -- the role's own values ----------------------------------------------------------------------


def test_the_role_s_values_are_those_of_its_defaults_and_template():
    variables = {}
    for part in ("defaults", "vars"):
        variables.update(yaml.safe_load((ROLES / "router" / part / "main.yml").read_text()))
    for name, value in piranha.ROLE_GLOBALS.items():
        assert variables[name] == value, name
    assert {**variables["router_ha_virtual_server_defaults"][
        "pulse"], **variables["router_virtual_server_defaults"]} == piranha.ROLE_VIRTUAL_DEFAULTS
    assert variables["router_vip_netmask"] == piranha.ROLE_VIP_NETMASK
    assert set(variables["router_lvs_cf_quoted_keys"]) == piranha.ROLE_QUOTED_KEYS
    # what the template writes by itself: the fixed global lines and the NAT netmask
    text = render("router", "lvs.cf.j2", role_vars(
        "router", groups={"lvs_routers": ["lvs1"]},
        hostvars={"lvs1": {"router_public_address": "192.0.2.1"}},
        inventory_hostname="lvs1", router_network="nat",
        router_nat_router={"address": "10.0.0.254", "device": "eth1:1"}))
    config = parse_lvs_cf(text, "role.cf", validate=False).config
    for key, value in piranha.ROLE_FIXED_GLOBALS.items():
        assert getattr(config, key) == value, key
    assert config.nat_nmask == piranha.ROLE_NAT_NETMASK


def test_the_result_is_plain_data():
    text, _original = fixture("tunnel_one_router.cf")
    data = import_lvs_cf(text, "tunnel_one_router.cf").as_dict()
    assert yaml.safe_load(yaml.safe_dump(data)) == data
    assert [(item["line"], item["construct"]) for item in data["unsupported"]] == [
        (63, "failover ftp"), (75, "failover nfs")]
