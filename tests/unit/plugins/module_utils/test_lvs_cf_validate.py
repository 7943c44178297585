# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Semantic validation: the errors it raises (with the line of the key or block) and the
warnings for Piranha traps."""

import ipaddress
from dataclasses import replace

import pytest
from lvs_cf_examples import EXAMPLE_A, EXAMPLE_B

from plugins.module_utils.lvs_cluster.lvs_cf.errors import LvsCfError
from plugins.module_utils.lvs_cluster.lvs_cf.model import (
    DeviceAddress,
    LvsConfig,
    RealServer,
    VirtualService,
)
from plugins.module_utils.lvs_cluster.lvs_cf.parser import parse_lvs_cf
from plugins.module_utils.lvs_cluster.lvs_cf.validate import validate_lvs_cf

HEADER = "primary = 10.0.0.1\n"


def virtual(body="", name="v", address="192.0.2.10 eth0:1", active=1):
    return f"virtual {name} {{\n    active = {active}\n    address = {address}\n{body}}}\n"


def server(name="s", address="10.1.0.1", extra="", active=1):
    return (f"    server {name} {{\n        address = {address}\n        active = {active}\n"
            f"{extra}    }}\n")


def error_of(text):
    config = parse_lvs_cf(text, validate=False).config
    with pytest.raises(LvsCfError) as info:
        validate_lvs_cf(config)
    return info.value


def warnings_of(text):
    return validate_lvs_cf(parse_lvs_cf(text, validate=False).config)


def test_reference_examples_are_valid_without_warnings():
    assert validate_lvs_cf(EXAMPLE_A) == ()
    assert validate_lvs_cf(EXAMPLE_B) == ()


# -- Errors ----------------------------------------------------------------------------------------

ERRORS = [
    # (name, text, line, block, key, reason start)
    ("primary missing", virtual(), None, None, "primary", "missing"),
    ("no active virtual", HEADER + virtual(active=0), None, None, "service",
     "no active virtual block"),
    ("no active failover with fos",
     HEADER + "service = fos\n" + virtual() + "failover f {\n    address = 10.0.0.9 eth0:2\n}\n",
     2, None, "service", "no active failover block"),
    ("active failover needs commands",
     HEADER + "service = fos\nfailover f {\n    active = 1\n    address = 10.0.0.9 eth0:2\n"
     "    start_cmd = /bin/true\n}\n", 3, "failover f", "stop_cmd", "missing"),
    ("duplicate virtual names", HEADER + virtual() + virtual(address="192.0.2.11 eth0:2"),
     6, "virtual v", None, "duplicate name: a virtual or failover block named 'v' exists "
                           "already on line 2"),
    ("virtual and failover share a name",
     HEADER + virtual() + "failover v {\n    address = 10.0.0.9 eth0:2\n}\n", 6, "failover v",
     None, "duplicate name"),
    ("duplicate server names", HEADER + virtual(server("a") + server("a", "10.1.0.2")), 9,
     "virtual v: server a", None, "duplicate name: a server block named 'a'"),
    ("virtual without address", HEADER + "virtual v {\n    active = 1\n}\n", 2, "virtual v",
     "address", "missing"),
    ("server without address",
     HEADER + virtual("    server s {\n        active = 1\n    }\n"), 5, "virtual v: server s",
     "address", "missing"),
    ("failover without address", HEADER + virtual() + "failover f {\n}\n", 6, "failover f",
     "address", "missing"),
    ("backup_active without backup", HEADER + "backup_active = 1\n" + virtual(), 2, None,
     "backup_active", "backup_active = 1 needs 'backup'"),
    ("primary_private without backup_private",
     HEADER + "backup = 10.0.0.2\nprimary_private = 10.9.0.1\n" + virtual(), 3, None,
     "primary_private", "set backup_private too"),
    ("backup of another family", HEADER + "backup = 2001:db8::2\n" + virtual(), 2, None,
     "backup", "2001:db8::2 is not of the same address family as primary 10.0.0.1"),
    ("server of another family", HEADER + virtual(server(address="2001:db8::5")), 6,
     "virtual v: server s", "address", "2001:db8::5 is not of the same address family"),
    ("sorry server of another family", HEADER + virtual("    sorry_server = 2001:db8::9\n"), 5,
     "virtual v", "sorry_server", "2001:db8::9 is not of the same address family"),
    ("prefix length as IPv4 netmask", HEADER + virtual("    vip_nmask = 24\n"), 5, "virtual v",
     "vip_nmask", "Bad subnet mask specified: an IPv4 netmask must be written dotted"),
    ("dotted netmask for IPv6", HEADER + virtual("    vip_nmask = 255.255.255.0\n",
                                                 address="2001:db8::10 eth0:1"), 5,
     "virtual v", "vip_nmask", "Bad subnet mask specified: an IPv6 netmask is a prefix length"),
    ("nat_nmask of another family", HEADER + "nat_router = 10.0.0.254 eth1:1\nnat_nmask = 64\n"
     + virtual(), 3, None, "nat_nmask", "Bad subnet mask specified"),
    ("port 0 without persistence", HEADER + virtual("    port = 0\n"), 5, "virtual v", "port",
     "port 0 (all ports) is only valid for a persistent service"),
    ("port out of range", HEADER + virtual("    port = 70000\n"), 5, "virtual v", "port",
     "port 70000 is outside 0-65535"),
    ("server port out of range", HEADER + virtual(server(extra="        port = 65536\n")), 8,
     "virtual v: server s", "port", "port 65536 is outside 0-65535"),
    ("heartbeat port 0", HEADER + "heartbeat_port = 0\n" + virtual(), 2, None,
     "heartbeat_port", "port 0 cannot be used"),
    ("syncd_id above 255", HEADER + "syncd_id = 256\n" + virtual(), 2, None, "syncd_id",
     "256 is outside 0-255"),
    ("negative timeout", HEADER + virtual("    timeout = -1\n"), 5, "virtual v", "timeout",
     "a negative value"),
    ("negative persistent", HEADER + virtual("    persistent = -5\n"), 5, "virtual v",
     "persistent", "a negative value"),
    ("negative weight", HEADER + virtual(server(extra="        weight = -1\n")), 8,
     "virtual v: server s", "weight", "a negative weight"),
    ("weight too large", HEADER + virtual(server(extra="        weight = 0x80000000\n")), 8,
     "virtual v: server s", "weight", "2147483648 is out of range"),
    ("negative tcp_timeout", HEADER + "tcp_timeout = -1\n" + virtual(), 2, None, "tcp_timeout",
     "a negative value"),
    ("negative fwmark", HEADER + virtual("    fwmark = -3\n"), 5, "virtual v", "fwmark",
     "fwmark must be 1-4294967295"),
    ("rise 0", HEADER + virtual("    rise = 0\n"), 5, "virtual v", "rise", "at least 1"),
    ("keepalive 0", HEADER + "keepalive = 0\n" + virtual(), 2, None, "keepalive",
     "0.0 seconds: a positive number"),
    ("scheduler flag of another scheduler",
     HEADER + virtual("    scheduler = mh\n    scheduler_flags = sh-port\n"), 6, "virtual v",
     "scheduler_flags", "sh-port needs scheduler = sh, not mh"),
    ("unusable address", HEADER + virtual(server(address="0.0.0.0")), 6, "virtual v: server s",
     "address", "invalid host name or ip address: 0.0.0.0 is not a usable address"),
    ("heartbeat key file not absolute", HEADER + "heartbeat_key_file = hb.key\n" + virtual(), 2,
     None, "heartbeat_key_file", "an absolute path expected"),
    ("device name too long", HEADER + virtual(address="192.0.2.10 eth0:verylongalias"), 4,
     "virtual v", "address", "device name 'eth0:verylongalias' is longer than 15"),
    ("syncd_iface with a slash", HEADER + "syncd_iface = eth/0\n" + virtual(), 2, None,
     "syncd_iface", "invalid device name"),
    ("same destination twice", HEADER + virtual(server("a") + server("b")), 10,
     "virtual v: server b", "address", "same IPVS destination 10.1.0.1 port 80 as active "
                                       "server 'a'"),
    ("same IPVS service twice", HEADER + virtual() + virtual(name="w"), 6, "virtual w",
     "port", "same IPVS service (tcp 192.0.2.10 port 80) as active virtual 'v'"),
    ("same fwmark twice",
     HEADER + virtual("    fwmark = 7\n    persistent = 60\n")
     + virtual("    fwmark = 7\n    persistent = 60\n", name="w", address="192.0.2.11 eth0:2"),
     11, "virtual w", "fwmark", "same IPVS service (fwmark 7) as active virtual 'v'"),
]


# Input the kernel refuses or wraps (issue #12, point 8): the same rules as the IPVS modules.
V6 = "2001:db8::10 eth0:1"
MAPPED = str(ipaddress.ip_address("::ffff:10.0.0.1"))  # ::ffff:a00:1 before Python 3.13
KERNEL_ERRORS = [
    ("persistence timeout that wraps", HEADER + virtual("    persistent = 4294968\n"), 5,
     "virtual v", "persistent", "0-4294967 seconds expected"),
    ("IPv6 persistence prefix 0", HEADER + virtual("    persistent = 60\n    pmask = 0\n",
                                                   address=V6), 6, "virtual v", "pmask",
     "an IPv6 persistence netmask is a prefix length 1-128"),
    ("multicast VIP", HEADER + virtual(address="224.0.0.18 eth0:1"), 4, "virtual v", "address",
     "invalid host name or ip address: 224.0.0.18 is a multicast address"),
    ("multicast VIP of a fwmark service",
     HEADER + virtual("    fwmark = 3\n    persistent = 60\n", address="ff05::1 eth0:1"), 4,
     "virtual v", "address", "invalid host name or ip address: ff05::1 is a multicast address"),
    ("broadcast VIP", HEADER + virtual(address="255.255.255.255 eth0:1"), 4, "virtual v",
     "address", "invalid host name or ip address: 255.255.255.255 is the broadcast address"),
    ("this-network real server", HEADER + virtual(server(address="0.0.0.7")), 6,
     "virtual v: server s", "address", "invalid host name or ip address: 0.0.0.7 is in 0.0.0.0/8"),
    ("broadcast real server", HEADER + virtual(server(address="255.255.255.255")), 6,
     "virtual v: server s", "address", "invalid host name or ip address: 255.255.255.255 is the "
                                       "broadcast address"),
    ("link-local real server", HEADER + virtual(server(address="fe80::5"), address=V6), 6,
     "virtual v: server s", "address", "invalid host name or ip address: fe80::5 is link-local"),
    ("multicast sorry server", HEADER + virtual("    sorry_server = ff02::1\n", address=V6), 5,
     "virtual v", "sorry_server", "invalid host name or ip address: ff02::1 is a multicast "
                                  "address"),
    ("IPv4-mapped real server", HEADER + virtual(server(address=MAPPED), address=V6), 6,
     "virtual v: server s", "address", f"invalid host name or ip address: {MAPPED} is "
                                       "IPv4-mapped"),
    ("multicast failover address",
     HEADER + virtual() + "failover f {\n    address = 224.0.0.9 eth0:2\n}\n", 7, "failover f",
     "address", "invalid host name or ip address: 224.0.0.9 is a multicast address"),
    ("connection timeout above INT_MAX / HZ", HEADER + "tcp_timeout = 2147484\n" + virtual(), 2,
     None, "tcp_timeout", "0-2147483 seconds expected"),
]


@pytest.mark.parametrize(("text", "line", "block", "key", "reason"),
                         [case[1:] for case in KERNEL_ERRORS],
                         ids=[case[0] for case in KERNEL_ERRORS])
def test_input_the_kernel_refuses_or_wraps(text, line, block, key, reason):
    err = error_of(text)
    assert err.reason.startswith(reason)
    assert (err.line, err.block, err.key) == (line, block, key)
    assert f"lvs.cf line {line}: " in str(err)


def test_input_at_the_kernel_limits_is_valid():
    text = (HEADER + "tcp_timeout = 2147483\n"
            + virtual("    port = 0\n    persistent = 4294967\n" + server(address="127.0.0.1"))
            + virtual("    persistent = 60\n    pmask = 1\n", name="w",
                      address="2001:db8::10 eth0:2")
            + virtual(name="l", address="127.0.0.100 lo:1"))
    assert warnings_of(text) == ()


@pytest.mark.parametrize(("text", "line", "block", "key", "reason"),
                         [case[1:] for case in ERRORS], ids=[case[0] for case in ERRORS])
def test_semantic_error(text, line, block, key, reason):
    err = error_of(text)
    assert err.reason.startswith(reason)
    assert (err.line, err.block, err.key) == (line, block, key)
    if line is not None:
        assert f"lvs.cf line {line}: " in str(err)


def test_direct_routing_makes_servers_on_one_address_the_same_destination():
    servers = server("a") + server("b", address="10.1.0.1", extra="        port = 8080\n")
    nat = HEADER + virtual(servers)
    assert validate_lvs_cf(parse_lvs_cf(nat, validate=False).config) == ()
    err = error_of(HEADER + "network = direct\n" + virtual(servers))
    assert err.reason == "same IPVS destination 10.1.0.1 port 80 as active server 'a'"


def test_inactive_duplicates_are_allowed():
    text = HEADER + virtual(server("a") + server("b", active=0)) + virtual(name="w", active=0)
    assert warnings_of(text) == ()


# -- Warnings --------------------------------------------------------------------------------------

WARNINGS = [
    ("timeout 0", HEADER + virtual("    timeout = 0\n"), 5, "virtual v", "timeout",
     "timeout = 0 made Piranha's nanny divide by zero"),
    ("fwmark with NAT and without persistence", HEADER + virtual("    fwmark = 5\n"), 5,
     "virtual v", "fwmark", "fwmark with NAT and without persistence"),
    ("weight 0", HEADER + virtual(server(extra="        weight = 0\n")), 8,
     "virtual v: server s", "weight", "weight 0 is used as 1"),
    ("UDP without reply check", HEADER + virtual("    protocol = udp\n"), 5, "virtual v",
     "protocol", "a UDP check needs a reply"),
    ("pmask without persistent", HEADER + virtual("    pmask = 255.255.255.0\n"), 5,
     "virtual v", "pmask", "has no effect without 'persistent'"),
    ("pmask 0.0.0.0", HEADER + virtual("    persistent = 60\n    pmask = 0.0.0.0\n"), 6,
     "virtual v", "pmask", "0.0.0.0 is ignored"),
    ("backup_private alone", HEADER + "backup_private = 10.9.0.2\n" + virtual(), 2, None,
     "backup_private", "ignored without primary_private"),
    ("deadtime not above keepalive", HEADER + "keepalive = 5\ndeadtime = 5\n" + virtual(), 3,
     None, "deadtime", "deadtime 5 s is not longer than keepalive 5 s"),
    ("nat_router without NAT", HEADER + "network = direct\nnat_router = 10.0.0.254 eth1:1\n"
     + virtual(), 3, None, "nat_router", "only brought up when network = nat"),
    ("two VIPs on one label", HEADER + virtual() + virtual(name="w", address="192.0.2.11 eth0:1"),
     8, "virtual w", "address", "device eth0:1 also carries 192.0.2.10 of virtual 'v'"),
    ("one VIP on two labels", HEADER + virtual() + virtual(
        "    port = 443\n", name="w", address="192.0.2.10 eth0:2"), 8, "virtual w", "address",
     "192.0.2.10 is on eth0:1 in virtual 'v'"),
    ("failover timeout 0", HEADER + virtual() + "failover f {\n    address = 10.0.0.9 eth0:2\n"
     "    timeout = 0\n}\n", 8, "failover f", "timeout", "timeout = 0"),
]


@pytest.mark.parametrize(("text", "line", "block", "key", "reason"),
                         [case[1:] for case in WARNINGS], ids=[case[0] for case in WARNINGS])
def test_semantic_warning(text, line, block, key, reason):
    [warning] = warnings_of(text)
    assert warning.reason.startswith(reason)
    assert (warning.file, warning.line, warning.block, warning.key) == ("lvs.cf", line, block, key)
    location = f"lvs.cf line {line}" if line else "lvs.cf"
    assert str(warning).startswith(location)


def test_no_fwmark_warning_with_direct_routing_or_persistence():
    assert warnings_of(HEADER + "network = direct\n" + virtual("    fwmark = 5\n")) == ()
    assert warnings_of(HEADER + virtual("    fwmark = 5\n    persistent = 300\n")) == ()


def test_fwmark_warning_follows_the_per_server_forwarding_override():
    text = HEADER + "network = direct\n" + virtual(
        "    fwmark = 5\n" + server(extra="        forwarding = nat\n"))
    [warning] = warnings_of(text)
    assert warning.key == "fwmark"


# -- Hand-built models (no lines) ------------------------------------------------------------------

def minimal():
    """A valid model built by hand: it has no line numbers."""
    return LvsConfig(primary="10.0.0.1", virtuals=(VirtualService(
        name="v", active=True, address=DeviceAddress("192.0.2.10", "eth0:1"),
        servers=(RealServer(name="s", address="10.1.0.1", active=True),)),))


@pytest.mark.parametrize(("change", "key", "reason"), [
    (lambda c: replace(c, keepalive="2"), "keepalive", "number of seconds expected"),
    (lambda c: replace(c, serial_no=True), "serial_no", "integer expected"),
    (lambda c: replace(c, heartbeat=1), "heartbeat", "boolean expected"),
    (lambda c: replace(c, primary="10.0.0.010"), "primary", "invalid host name or ip address"),
    (lambda c: replace(c, primary="2001:DB8::1"), "primary",
     "'2001:DB8::1' is not written canonically (write 2001:db8::1)"),
    (lambda c: replace(c, debug_level='say "hi"'), "debug_level",
     "the value contains a double quote"),
    (lambda c: replace(c, active_cmd="a\nb"), "active_cmd", "the value contains control"),
    (lambda c: replace(c, network="bridge"), "network", "invalid argument 'bridge'"),
    (lambda c: replace(c, service=None), "service", "a value is required"),
    (lambda c: replace(c, nat_router=("10.0.0.1", "eth1")), "nat_router", "IP DEVICE expected"),
    (lambda c: replace(c, nat_router=DeviceAddress("10.0.0.1", "")), "nat_router",
     "a device name expected"),
])
def test_hand_built_model_errors_name_the_key_without_a_line(change, key, reason):
    with pytest.raises(LvsCfError) as info:
        validate_lvs_cf(change(minimal()), source="config")
    err = info.value
    assert (err.key, err.reason[:len(reason)]) == (key, reason)
    assert err.line is None
    assert str(err).startswith(f"config: {key}: ")


def test_hand_built_block_errors_name_the_block():
    config = minimal()
    bad_server = RealServer(name="s", address="10.1.0.1", active=True, weight="heavy", port=80)
    config = replace(config, virtuals=(replace(config.virtuals[0], servers=(bad_server,)),))
    with pytest.raises(LvsCfError) as info:
        validate_lvs_cf(config, source="config")
    assert str(info.value) == "config: virtual v: server s: weight: integer expected"


@pytest.mark.parametrize("config", [None, "lvs.cf", {"virtuals": []}])
def test_validate_refuses_what_is_not_a_model(config):
    with pytest.raises(LvsCfError, match="an LvsConfig expected"):
        validate_lvs_cf(config)


def test_validate_reports_foreign_objects_in_blocks():
    config = replace(minimal(), virtuals=("not a virtual",))
    with pytest.raises(LvsCfError, match="must hold VirtualService"):
        validate_lvs_cf(config)


def test_lvs_config_defaults_are_not_valid_alone():
    with pytest.raises(LvsCfError, match="primary: missing"):
        validate_lvs_cf(LvsConfig())


@pytest.mark.parametrize(("settings", "primary_private", "backup_private"), [
    ({}, "10.0.0.1", "10.0.0.2"),
    ({"primary_private": "10.9.0.1", "backup_private": "10.9.0.2"}, "10.9.0.1", "10.9.0.2"),
    ({"backup_private": "10.9.0.2"}, "10.0.0.1", "10.0.0.2"),  # Piranha ignored it
])
def test_effective_private_heartbeat_addresses_follow_piranha(settings, primary_private,
                                                              backup_private):
    config = LvsConfig(primary="10.0.0.1", backup="10.0.0.2", **settings)
    assert (config.effective_primary_private, config.effective_backup_private) == (
        primary_private, backup_private)
