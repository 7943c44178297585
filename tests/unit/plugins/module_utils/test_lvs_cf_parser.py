# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lvs.cf parser: Piranha's examples, every key of the reference (§1.2-1.5), the lexical
rules (§1.1), every error class with its line, and the warnings for Piranha traps."""

import socket

import pytest
from lvs_cf_examples import EXAMPLE_A, EXAMPLE_B, fixture_text

from plugins.module_utils.lvs_cluster.lvs_cf.errors import LvsCfError
from plugins.module_utils.lvs_cluster.lvs_cf.model import (
    DeviceAddress,
    FailoverService,
    LvsConfig,
    RealServer,
    VirtualService,
    key_fields,
)
from plugins.module_utils.lvs_cluster.lvs_cf.parser import parse_lvs_cf

SERVICES = {"https": 443, "http": 80, "smtp": 25, "myhb": 1050}.get


def parse(text, **kwargs):
    kwargs.setdefault("service_resolver", SERVICES)
    return parse_lvs_cf(text, **kwargs)


def parse_error(text, **kwargs):
    with pytest.raises(LvsCfError) as info:
        parse(text, **kwargs)
    return info.value


def warnings_about(result, words):
    return [w for w in result.warnings if words in w.reason]


# -- Examples A and B (§1.7, §1.8) -----------------------------------------------------------------

EXAMPLES = [("example_a.cf", EXAMPLE_A), ("example_b.cf", EXAMPLE_B)]


@pytest.mark.parametrize(("name", "expected"), EXAMPLES)
def test_example_parses_to_the_reference_values(name, expected):
    result = parse(fixture_text(name))
    assert result.config == expected
    assert result.warnings == ()


@pytest.mark.parametrize(("name", "expected"), EXAMPLES)
def test_example_with_crlf_line_endings_parses_the_same(name, expected):
    text = fixture_text(name).replace("\n", "\r\n")
    result = parse(text)
    assert result.config == expected
    assert [w.reason for w in result.warnings] == [
        "CRLF line endings: accepted, but Piranha silently drops lines of such files"]
    assert parse(text.encode()).config == expected


@pytest.mark.parametrize(("name", "expected"), EXAMPLES)
def test_example_as_bytes_and_without_final_newline(name, expected):
    text = fixture_text(name)
    assert parse(text.encode("utf-8")).config == expected
    assert parse(text.rstrip("\n")).config == expected
    assert parse(text.rstrip("\n").replace("\n", "\r\n")).config == expected


def test_example_a_records_where_blocks_and_keys_were_read():
    config = parse(fixture_text("example_a.cf")).config
    https = config.virtuals[0]
    assert https.line == 27
    assert https.key_lines["scheduler"] == 34
    assert https.servers[2].line == 53
    assert https.servers[2].key_lines["weight"] == 56
    assert config.key_lines["deadtime"] == 12


def test_piranha_default_key_values_when_a_block_is_empty():
    config = parse("virtual v {\n    server s {\n    }\n}\nfailover f {\n}\n",
                   validate=False).config
    assert config == LvsConfig(
        serial_no=0, service="lvs", primary=None, primary_private=None, backup=None,
        backup_private=None, backup_active=False, heartbeat=False, heartbeat_port=539,
        keepalive=2, deadtime=5, network="nat", nat_router=None, nat_nmask=None,
        debug_level="NONE", rsh_command="rsh", monitor_links=0, syncdaemon=False,
        syncd_iface="eth0", syncd_id=0, tcp_timeout=0, tcpfin_timeout=0, udp_timeout=0,
        hard_shutdown=True, active_cmd=None, inactive_cmd=None, ipvsadm="/sbin/ipvsadm",
        sync=False, primary_shared=None, backup_shared=None, reservation_conflict_action=None,
        virtuals=(VirtualService(
            name="v", active=False, address=None, vip_nmask=None, sorry_server=None, port=80,
            protocol="tcp", fwmark=None, scheduler="wlc", persistent=0, pmask=None, timeout=10,
            reentry=180, send=None, expect=None, use_regex=False, send_program=None,
            load_monitor=None, quiesce_server=False, client_monitor="/usr/sbin/nanny",
            master=None, dirs=(), start_cmd=None, stop_cmd=None,
            servers=(RealServer(name="s", address=None, active=False, weight=1, port=80),),
        ),),
        failovers=(FailoverService(name="f", active=False, address=None, port=80,
                                   protocol="tcp", timeout=10),),
    )


# -- Every key of the reference (§1.2-1.5) ---------------------------------------------------------

REFERENCE_KEYS = {
    "global": [
        "serial_no", "service", "primary", "primary_private", "backup", "backup_private",
        "backup_active", "heartbeat", "heartbeat_port", "keepalive", "deadtime", "network",
        "nat_router", "nat_nmask", "debug_level", "rsh_command", "monitor_links", "syncdaemon",
        "syncd_iface", "syncd_id", "tcp_timeout", "tcpfin_timeout", "udp_timeout",
        "hard_shutdown", "active_cmd", "inactive_cmd", "ipvsadm", "sync", "primary_shared",
        "backup_shared", "reservation_conflict_action"
    ],
    "virtual": [
        "active", "address", "vip_nmask", "sorry_server", "port", "protocol", "fwmark",
        "scheduler", "persistent", "pmask", "timeout", "reentry", "send", "expect", "use_regex",
        "send_program", "load_monitor", "quiesce_server", "client_monitor", "master", "dirs",
        "start_cmd", "stop_cmd"
    ],
    "server": [
        "address", "active", "weight", "port"
    ],
    "failover": [
        "active", "address", "vip_nmask", "port", "protocol", "timeout", "send", "expect",
        "send_program", "start_cmd", "stop_cmd"
    ],
}
EXTENSION_KEYS = {
    "global": ["heartbeat_key_file"],
    "virtual": ["scheduler_flags", "rise", "fall"],
    "server": ["forwarding", "drain"],
    "failover": [],
}
MODEL_CLASSES = {"global": LvsConfig, "virtual": VirtualService, "server": RealServer,
                 "failover": FailoverService}

# (block, line of lvs.cf, key, expected value in the model)
KEY_CASES = [
    ("global", "serial_no = 27", "serial_no", 27),
    ("global", "service = fos", "service", "fos"),
    ("global", "primary = 198.51.100.11", "primary", "198.51.100.11"),
    ("global", "primary_private = 10.99.0.11", "primary_private", "10.99.0.11"),
    ("global", "backup = 198.51.100.12", "backup", "198.51.100.12"),
    ("global", "backup_private = 10.99.0.12", "backup_private", "10.99.0.12"),
    ("global", "backup_active = 1", "backup_active", True),
    ("global", "heartbeat = 1", "heartbeat", True),
    ("global", "heartbeat_port = 1050", "heartbeat_port", 1050),
    ("global", "heartbeat_port = myhb", "heartbeat_port", 1050),
    ("global", "keepalive = 3", "keepalive", 3.0),
    ("global", "deadtime = 12", "deadtime", 12.0),
    ("global", "network = tunnel", "network", "tunnel"),
    ("global", "network = direct", "network", "direct"),
    ("global", "nat_router = 10.20.0.254 eth1:1", "nat_router",
     DeviceAddress("10.20.0.254", "eth1:1")),
    ("global", "nat_nmask = 255.255.255.0", "nat_nmask", "255.255.255.0"),
    ("global", "debug_level = LOW", "debug_level", "LOW"),
    ("global", "rsh_command = ssh", "rsh_command", "ssh"),
    ("global", "monitor_links = 1", "monitor_links", 1),
    ("global", "syncdaemon = 1", "syncdaemon", True),
    ("global", "syncd_iface = eth1", "syncd_iface", "eth1"),
    ("global", "syncd_id = 51", "syncd_id", 51),
    ("global", "tcp_timeout = 900", "tcp_timeout", 900),
    ("global", "tcpfin_timeout = 60", "tcpfin_timeout", 60),
    ("global", "udp_timeout = 300", "udp_timeout", 300),
    ("global", "hard_shutdown = 0", "hard_shutdown", False),
    ("global", "active_cmd = /usr/local/sbin/became-active", "active_cmd",
     "/usr/local/sbin/became-active"),
    ("global", 'inactive_cmd = "/usr/local/sbin/became-standby now"', "inactive_cmd",
     "/usr/local/sbin/became-standby now"),
    ("global", "ipvsadm = /usr/sbin/ipvsadm", "ipvsadm", "/usr/sbin/ipvsadm"),
    ("global", "sync = 1", "sync", True),
    ("global", "primary_shared = /dev/sdb1", "primary_shared", "/dev/sdb1"),
    ("global", "backup_shared = /dev/sdc1", "backup_shared", "/dev/sdc1"),
    ("global", "reservation_conflict_action = preempt", "reservation_conflict_action",
     "preempt"),
    ("global", "reservation_conflict_action = nothing", "reservation_conflict_action",
     "nothing"),
    ("global", "heartbeat_key_file = /etc/lvs-cluster/heartbeat.key", "heartbeat_key_file",
     "/etc/lvs-cluster/heartbeat.key"),
    ("global", "keepalive = 0.2", "keepalive", 0.2),
    ("global", "deadtime = 1.5", "deadtime", 1.5),
    ("virtual", "active = 1", "active", True),
    ("virtual", "address = 198.51.100.50 eth0:1", "address",
     DeviceAddress("198.51.100.50", "eth0:1")),
    ("virtual", "address = 2001:DB8::50 eth0:1", "address",
     DeviceAddress("2001:db8::50", "eth0:1")),
    ("virtual", "vip_nmask = 255.255.255.0", "vip_nmask", "255.255.255.0"),
    ("virtual", "vip_nmask = 64", "vip_nmask", 64),
    ("virtual", "sorry_server = 198.51.100.60", "sorry_server", "198.51.100.60"),
    ("virtual", "port = 443", "port", 443),
    ("virtual", "port = https", "port", 443),
    ("virtual", "protocol = udp", "protocol", "udp"),
    ("virtual", "fwmark = 0x50", "fwmark", 80),
    ("virtual", "fwmark = 0", "fwmark", 0),
    ("virtual", "scheduler = lblcr", "scheduler", "lblcr"),
    ("virtual", "scheduler = mh", "scheduler", "mh"),
    ("virtual", "scheduler_flags = mh-port,mh-fallback", "scheduler_flags",
     frozenset({"mh-port", "mh-fallback"})),
    ("virtual", "persistent = 900", "persistent", 900),
    ("virtual", "pmask = 255.255.255.0", "pmask", "255.255.255.0"),
    ("virtual", "timeout = 5", "timeout", 5),
    ("virtual", "reentry = 30", "reentry", 30),
    ("virtual", "rise = 3", "rise", 3),
    ("virtual", "fall = 2", "fall", 2),
    ("virtual", r'send = "GET / HTTP/1.0\r\n\r\n"', "send", r"GET / HTTP/1.0\r\n\r\n"),
    ("virtual", 'expect = "HTTP"', "expect", "HTTP"),
    ("virtual", "use_regex = 1", "use_regex", True),
    ("virtual", 'send_program = "/usr/local/bin/check %h %p"', "send_program",
     "/usr/local/bin/check %h %p"),
    ("virtual", "load_monitor = ruptime", "load_monitor", "ruptime"),
    ("virtual", "quiesce_server = 1", "quiesce_server", True),
    ("virtual", "client_monitor = /usr/local/sbin/nanny2", "client_monitor",
     "/usr/local/sbin/nanny2"),
    ("virtual", "master = 10.0.0.1", "master", "10.0.0.1"),
    ("virtual", "dirs = [ /etc /var/www ]", "dirs", ("/etc", "/var/www")),
    ("virtual", "dirs = [ ]", "dirs", ()),
    ("virtual", 'start_cmd = "/etc/init.d/httpd start"', "start_cmd",
     "/etc/init.d/httpd start"),
    ("virtual", 'stop_cmd = "/etc/init.d/httpd stop"', "stop_cmd", "/etc/init.d/httpd stop"),
    ("server", "address = 198.51.100.21", "address", "198.51.100.21"),
    ("server", "address = 2001:db8::21", "address", "2001:db8::21"),
    ("server", "active = 1", "active", True),
    ("server", "weight = 0x10", "weight", 16),
    ("server", "port = 010", "port", 8),
    ("server", "forwarding = direct", "forwarding", "direct"),
    ("server", "drain = 1", "drain", True),
    ("failover", "active = 1", "active", True),
    ("failover", "address = 192.0.2.80 eth0:3", "address", DeviceAddress("192.0.2.80", "eth0:3")),
    ("failover", "vip_nmask = 255.255.255.128", "vip_nmask", "255.255.255.128"),
    ("failover", "port = 21", "port", 21),
    ("failover", "protocol = udp", "protocol", "udp"),
    ("failover", "timeout = 7", "timeout", 7),
    ("failover", r'send = "QUIT\r\n"', "send", r"QUIT\r\n"),
    ("failover", 'expect = "220"', "expect", "220"),
    ("failover", "send_program = /usr/local/bin/check-ftp", "send_program",
     "/usr/local/bin/check-ftp"),
    ("failover", 'start_cmd = "/etc/init.d/vsftpd start"', "start_cmd",
     "/etc/init.d/vsftpd start"),
    ("failover", 'stop_cmd = "/etc/init.d/vsftpd stop"', "stop_cmd", "/etc/init.d/vsftpd stop"),
]


def in_block(block, line):
    if block == "global":
        return f"{line}\n"
    if block == "server":
        return f"virtual v {{\n    server s {{\n        {line}\n    }}\n}}\n"
    return f"{block} b {{\n    {line}\n}}\n"


def block_of(config, block):
    if block == "global":
        return config
    if block == "server":
        return config.virtuals[0].servers[0]
    return config.virtuals[0] if block == "virtual" else config.failovers[0]


@pytest.mark.parametrize(("block", "line", "key", "expected"), KEY_CASES)
def test_key_parses_to_its_field_and_value(block, line, key, expected):
    config = parse(in_block(block, line), validate=False).config
    value = getattr(block_of(config, block), key)
    if key == "fwmark" and expected == 0:
        expected = None  # Piranha's fwmark 0 is "no firewall mark"
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize("block", list(REFERENCE_KEYS))
def test_every_reference_key_has_a_case_and_a_model_field(block):
    covered = {key for case_block, _line, key, _value in KEY_CASES if case_block == block}
    fields = key_fields(MODEL_CLASSES[block])
    piranha_fields = {name for name, f in fields.items() if not f.metadata["extension"]}
    extension_fields = {name for name, f in fields.items() if f.metadata["extension"]}
    assert set(REFERENCE_KEYS[block]) <= covered
    assert set(EXTENSION_KEYS[block]) <= covered
    assert piranha_fields == set(REFERENCE_KEYS[block])
    assert extension_fields == set(EXTENSION_KEYS[block])


# -- Lexical rules (§1.1) --------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "value"), [
    ("0x10", 16), ("0X1f", 31), ("010", 8), ("0", 0), ("00", 0), ("7", 7), ("+5", 5),
    ('"12"', 12), ("'12'", 12),
])
def test_numbers_are_read_like_c_strtol_base_0(text, value):
    config = parse(in_block("server", f"weight = {text}"), validate=False).config
    assert config.virtuals[0].servers[0].weight == value


@pytest.mark.parametrize("text", ["08", "0x", "1e3", "5.0", "ten", '""', "0x1g", "--1"])
def test_malformed_numbers_are_integer_expected(text):
    err = parse_error(in_block("server", f"weight = {text}"))
    assert err.reason.startswith("integer expected")
    assert (err.line, err.key, err.block) == (3, "weight", "virtual v: server s")


@pytest.mark.parametrize("text", ["2", "yes", "true", "-1", "0x2"])
def test_booleans_must_be_0_or_1(text):
    err = parse_error(in_block("virtual", f"active = {text}"))
    assert err.reason == f"boolean expected (0 or 1), got '{text}'"
    assert err.line == 2


def test_booleans_accept_strtol_spellings_of_0_and_1():
    config = parse(in_block("virtual", "active = 0x1"), validate=False).config
    assert config.virtuals[0].active is True


def test_port_service_names_use_the_resolver_and_default_to_etc_services(monkeypatch):
    assert parse(in_block("virtual", "port = smtp"), validate=False).config.virtuals[0].port == 25
    looked_up = []

    def fake_getservbyname(name, protocol):
        looked_up.append((name, protocol))
        return 8443

    monkeypatch.setattr(socket, "getservbyname", fake_getservbyname)
    config = parse_lvs_cf(in_block("virtual", "port = https-alt"), validate=False).config
    assert config.virtuals[0].port == 8443
    assert looked_up == [("https-alt", "tcp")]


def test_unknown_service_name_is_invalid_argument():
    err = parse_error(in_block("virtual", "port = gopherplus"))
    assert err.reason.startswith("invalid argument: unknown service name 'gopherplus'")
    assert err.line == 2


def test_real_server_port_must_be_numeric_as_in_piranha():
    err = parse_error(in_block("server", "port = https"))
    assert err.reason == "integer expected, got 'https' (a real server's port must be numeric)"


@pytest.mark.parametrize(("text", "address"), [
    ("10.1", "10.0.0.1"), ("10.0.0.010", "10.0.0.8"), ("0x0a.0.0.1", "10.0.0.1"),
    ("167772161", "10.0.0.1"), ("10.0.257", "10.0.1.1"),
])
def test_ipv4_addresses_are_read_like_inet_aton_with_a_warning(text, address):
    result = parse(in_block("global", f"primary = {text}"), validate=False)
    assert result.config.primary == address
    [warning] = result.warnings
    assert warning.key == "primary"
    assert f"'{text}' is read as {address}" in warning.reason


@pytest.mark.parametrize("line", [
    "primary = lvs1.example.com", "backup = lvs2", "primary_private = lvs1-hb",
    "backup_private = lvs2-hb", "nat_router = gw.example.com eth1:1",
])
def test_hostnames_are_refused_not_resolved(line):
    err = parse_error(in_block("global", line))
    assert err.reason.endswith("hostnames are not resolved; use an IP address")
    assert err.reason.startswith("invalid host name or ip address")


@pytest.mark.parametrize(("block", "line"), [
    ("virtual", "address = www.example.com eth0:1"), ("virtual", "sorry_server = sorry"),
    ("virtual", "master = master.example.com"), ("server", "address = web01"),
])
def test_hostnames_are_refused_in_blocks(block, line):
    err = parse_error(in_block(block, line))
    assert "hostnames are not resolved" in err.reason


@pytest.mark.parametrize(("text", "reason"), [
    ("1.2.3.256", "invalid host name or ip address '1.2.3.256': not an IPv4 address"),
    ("1.2.3.4.5", "invalid host name or ip address '1.2.3.4.5': not an IPv4 address"),
    ("1..2.3", "invalid host name or ip address '1..2.3': not an IPv4 address"),
    ("0x1.0xzz", "invalid host name or ip address '0x1.0xzz': hostnames are not resolved"),
    ("::g", "invalid host name or ip address '::g': not an IPv6 address"),
    ("fe80::1%eth0", "invalid host name or ip address 'fe80::1%eth0': zone indexes are not"),
])
def test_malformed_addresses(text, reason):
    err = parse_error(in_block("server", f"address = {text}"))
    assert err.reason.startswith(reason)
    assert err.column == 19


def test_quoted_values_keep_blanks_and_hashes_and_lose_their_quotes():
    text = in_block("virtual", "send = \"GET / HTTP/1.0\\r\\n\\r\\n # not a comment\"")
    config = parse(text, validate=False).config
    assert config.virtuals[0].send == "GET / HTTP/1.0\\r\\n\\r\\n # not a comment"


@pytest.mark.parametrize("key", ["send", "expect", "send_program", "start_cmd", "stop_cmd"])
def test_single_quoted_probe_strings_are_unquoted_with_a_warning(key):
    result = parse(in_block("virtual", f"{key} = 'GET / x'"), validate=False)
    assert getattr(result.config.virtuals[0], key) == "GET / x"
    [warning] = result.warnings
    assert (warning.line, warning.key, warning.block) == (2, key, "virtual b")
    assert warning.reason.startswith("single-quoted: the quotes are removed")


def test_single_quotes_elsewhere_mean_what_they_meant_to_piranha_without_warning():
    result = parse(in_block("global", "active_cmd = '/usr/local/sbin/up now'"), validate=False)
    assert result.config.active_cmd == "/usr/local/sbin/up now"
    assert result.warnings == ()


def test_a_single_quote_inside_double_quotes_is_text():
    config = parse(in_block("virtual", "expect = \"it's up\""), validate=False).config
    assert config.virtuals[0].expect == "it's up"


def test_piranha_trailing_blank_quirk_is_accepted_with_a_warning():
    result = parse(in_block("virtual", 'expect = "HTTP"  '), validate=False)
    assert result.config.virtuals[0].expect == "HTTP"
    [warning] = result.warnings
    assert "Piranha rejects this line" in warning.reason
    assert warning.line == 2
    assert parse(in_block("virtual", 'expect = "HTTP 1"  '), validate=False).warnings == ()


def test_blanks_are_spaces_and_tabs_and_comment_lines_may_be_indented():
    text = "\t# comment\n   # another\nvirtual\tv\t{\n\tport\t=\t8080   \n}\n\n\n"
    config = parse(text, validate=False).config
    assert config.virtuals[0].port == 8080
    assert config.virtuals[0].line == 3


def test_byte_order_mark_is_ignored_with_a_warning():
    result = parse("\ufeffserial_no = 3\n", validate=False)
    assert result.config.serial_no == 3
    assert "byte order mark" in result.warnings[0].reason
    assert parse(b"\xef\xbb\xbfserial_no = 3\n", validate=False).config.serial_no == 3


def test_keys_are_case_sensitive():
    err = parse_error(in_block("virtual", "Port = 80"))
    assert err.reason == "unknown command 'Port' (keys are lower-case)"


def test_equal_sign_glued_to_the_key_is_explained():
    err = parse_error("port=80\n")
    assert err.reason.startswith("unknown command 'port=80'")
    assert "'=' must be separated by blanks" in err.reason


def test_misspelled_key_gets_a_suggestion():
    err = parse_error(in_block("virtual", "schedular = rr"))
    assert err.reason == "unknown command 'schedular' (did you mean 'scheduler'?)"


# -- Structure -------------------------------------------------------------------------------------

def test_server_port_defaults_to_the_virtual_port_as_read_so_far_with_a_warning():
    text = (
        "virtual v {\n"
        "    server early {\n        address = 10.0.0.1\n    }\n"
        "    server own {\n        address = 10.0.0.2\n        port = 8443\n    }\n"
        "    port = 443\n"
        "    server late {\n        address = 10.0.0.3\n    }\n"
        "}\n"
    )
    result = parse(text, validate=False)
    virtual = result.config.virtuals[0]
    assert virtual.port == 443
    assert [s.port for s in virtual.servers] == [80, 8443, 443]
    [warning] = warnings_about(result, "set after server blocks")
    assert (warning.line, warning.key, warning.block) == (9, "port", "virtual v")
    assert "early (80)" in warning.reason
    assert "own (" not in warning.reason


def test_port_after_servers_with_the_same_value_is_not_a_trap():
    text = "virtual v {\n    server s {\n        address = 10.0.0.1\n    }\n    port = 80\n}\n"
    assert parse(text, validate=False).warnings == ()


def test_global_keys_and_blocks_may_come_in_any_order():
    text = ("virtual v {\n    active = 1\n}\nprimary = 10.0.0.1\nfailover f {\n}\n"
            "virtual w {\n}\nnetwork = direct\n")
    config = parse(text, validate=False).config
    assert [v.name for v in config.virtuals] == ["v", "w"]
    assert [f.name for f in config.failovers] == ["f"]
    assert (config.primary, config.network) == ("10.0.0.1", "direct")


def test_duplicate_key_last_one_wins_with_a_warning():
    result = parse("keepalive = 3\nkeepalive = 4\n", validate=False)
    assert result.config.keepalive == 4
    [warning] = result.warnings
    assert (warning.line, warning.key) == (2, "keepalive")
    assert "the value from line 1 is replaced" in warning.reason


def test_debug_is_read_as_debug_level_with_a_warning():
    result = parse("debug = LOW\n", validate=False)
    assert result.config.debug_level == "LOW"
    [warning] = result.warnings
    assert (warning.line, warning.key) == (1, "debug")
    assert "read as 'debug_level'" in warning.reason


def test_debug_is_only_a_global_key():
    err = parse_error(in_block("virtual", "debug = LOW"))
    assert err.reason.startswith("unknown command 'debug'")


def test_failover_blocks_accept_but_ignore_virtual_only_keys_and_servers():
    text = ("failover f {\n    scheduler = rr\n    server s {\n        address = 10.0.0.1\n"
            "    }\n    port = 21\n}\n")
    result = parse(text, validate=False)
    assert result.config.failovers == (FailoverService(name="f", port=21),)
    reasons = [(w.line, w.key, w.reason) for w in result.warnings]
    assert reasons == [
        (2, "scheduler", "ignored in failover blocks (Piranha's fos does not use it)"),
        (3, None, "server blocks are ignored in failover blocks"),
    ]


def test_ignored_failover_keys_are_still_checked():
    err = parse_error("failover f {\n    scheduler = fastest\n}\n")
    assert err.reason.startswith("invalid argument 'fastest'")
    assert err.line == 2


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("}\n", 1, "unknown command '}': no block is open here"),
    ("server s {\n}\n", 1, "unknown command 'server': server blocks belong inside a virtual"),
    ("virtual v {\n    virtual w {\n    }\n}\n", 2,
     "unknown command 'virtual': blocks cannot be nested here; is the '}' of virtual 'v' "
     "(line 1) missing?"),
    ("virtual v {\n    server s {\n        server t {\n", 3, "unknown command 'server'"),
    ("virtual v {\n} x\n", 2, "unexpected arguments starting with 'x'"),
    ("virtual v {\n}   # end of v\n", 2, "unexpected arguments: a comment must be on a line"),
    ("virtual a b {\n}\n", 1, "unexpected arguments after 'virtual NAME {'"),
    ("virtual a [\n}\n", 1, "missing arguments: '{' expected after the virtual name"),
    ("virtual\n", 1, "missing arguments: expected 'virtual NAME {'"),
    ("failover f{\n}\n", 1, "missing arguments: expected 'failover NAME {' (put a blank"),
])
def test_block_structure_errors(text, line, reason):
    err = parse_error(text)
    assert err.line == line
    assert err.reason.startswith(reason)


# -- Every error class of §1.1, with the line it names ---------------------------------------------

ERROR_CASES = [
    ("quotation mismatch", 'primary = 10.0.0.1\nvirtual v {\n    send = "GET /\n}\n', 3),
    ("quotation mismatch", "primary = 10.0.0.1\nvirtual v {\n    expect = 'HTTP\n}\n", 3),
    ("quotation mismatch", 'virtual v {\n    send = "a \\"b\\" c"\n}\n', 2),
    ("quotation mismatch", 'virtual v {\n    expect = ab"c\n}\n', 2),
    ("unexpected end of file", "primary = 10.0.0.1\n\nvirtual v {\n    active = 1\n", 3),
    ("unexpected end of file",
     "virtual v {\n    server s {\n        address = 10.0.0.2\n    }\n", 1),
    ("unexpected end of file", "virtual v {\n    server s {\n        address = 10.0.0.2\n", 2),
    ("unexpected arguments", "primary = 10.0.0.1\nkeepalive = 3 # x\n", 2),
    ("unexpected arguments", "virtual v {\n    address = 10.0.0.1 eth0:1 extra\n}\n", 2),
    ("equal (=) expected after command", "virtual v {\n    port 80\n}\n", 2),
    ("equal (=) expected after command", "\n\nkeepalive\n", 3),
    ("missing arguments", "virtual v {\n    address = 198.51.100.50\n}\n", 2),
    ("missing arguments", "primary = 10.0.0.1\nvirtual v{\n}\n", 2),
    ("missing arguments", "keepalive =\n", 1),
    ("missing arguments", "nat_router = 10.0.0.254\n", 1),
    ("invalid host name or ip address", "serial_no = 1\nprimary = director1.example.com\n", 2),
    ("invalid argument", "virtual v {\n    scheduler = fastest\n}\n", 2),
    ("invalid argument", "network = bridge\n", 1),
    ("invalid argument", "virtual v {\n    protocol = icmp\n}\n", 2),
    ("invalid argument", "service = lb\n", 1),
    ("invalid argument", "reservation_conflict_action = shoot\n", 1),
    ("integer expected", "virtual v {\n    server a {\n        weight = heavy\n    }\n}\n", 3),
    ("integer expected", "keepalive = 2s\n", 1),
    ("boolean expected", "virtual v {\n    active = 2\n}\n", 2),
    ("boolean expected", "syncdaemon = yes\n", 1),
    ("unknown command", "virtual v {\n    server a {\n        nmask = 255.0.0.0\n    }\n}\n", 3),
    ("unknown command", "virtual v {\n    server a {\n        log_file = /tmp/x\n    }\n}\n", 3),
    ("unknown command", "\nfoo = 1\n", 2),
    ("list expected", "virtual v {\n    dirs = a b\n}\n", 2),
    ("list expected", "virtual v {\n    dirs = [ a b\n}\n", 2),
    ("Bad subnet mask specified", "virtual v {\n    vip_nmask = 255.0.255.0\n}\n", 2),
    ("Bad subnet mask specified", "nat_nmask = netmask\n", 1),
    ("Bad subnet mask specified", "virtual v {\n    pmask = 129\n}\n", 2),
    ("Empty configuration", "", 1),
    ("Empty configuration", "# nothing but comments\n\n   \n", 3),
]


@pytest.mark.parametrize(("error_class", "text", "line"), ERROR_CASES)
def test_error_class_names_the_line(error_class, text, line):
    err = parse_error(text, validate=False)
    assert err.reason.startswith(error_class)
    assert err.line == line
    assert f"lvs.cf line {line}" in str(err)
    assert err.message == str(err)
    assert "\n" not in str(err)


def test_every_piranha_error_class_has_a_case():
    piranha_classes = {
        "quotation mismatch", "unexpected end of file", "unexpected arguments",
        "equal (=) expected after command", "missing arguments",
        "invalid host name or ip address", "invalid argument", "integer expected",
        "boolean expected", "unknown command", "list expected", "Bad subnet mask specified",
        "Empty configuration",
    }
    assert {case[0] for case in ERROR_CASES} == piranha_classes


def test_error_carries_file_line_column_block_key_and_reason():
    text = "primary = 10.0.0.1\nvirtual web {\n    scheduler = foo\n}\n"
    err = parse_error(text, source="/etc/sysconfig/ha/lvs.cf")
    assert isinstance(err, ValueError)
    assert (err.file, err.line, err.column, err.block, err.key) == (
        "/etc/sysconfig/ha/lvs.cf", 3, 17, "virtual web", "scheduler")
    assert str(err) == (
        "/etc/sysconfig/ha/lvs.cf line 3, column 17: virtual web: scheduler: invalid argument "
        "'foo' (expected one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh, fo, ovf)")


def test_unclosed_block_error_names_the_line_that_opened_it():
    err = parse_error("primary = 10.0.0.1\nvirtual web {\n    active = 1\n\n")
    assert (err.line, err.block) == (2, "virtual web")
    assert err.reason == "unexpected end of file: the block opened on line 2 is not closed with '}'"


def test_undecodable_bytes_name_their_line_and_column():
    err = parse_error(b"primary = 10.0.0.1\nvirtual v {\n    expect = \"caf\xe9\"\n}\n")
    assert (err.line, err.column) == (3, 18)
    assert err.reason == "invalid UTF-8: byte 0xe9 cannot be decoded"


def test_undecodable_bytes_smuggled_as_surrogates_are_refused():
    text = b"serial_no = 1\nsend\xff = 1\n".decode("utf-8", "surrogateescape")
    err = parse_error(text)
    assert (err.line, err.column) == (2, 5)


@pytest.mark.parametrize(("text", "line", "column"), [
    ("serial_no = 1\x00\n", 1, 14), ("a\rb = 1\n", 1, 2), ("x = \x1b[1m\n", 1, 5),
])
def test_control_characters_are_errors(text, line, column):
    err = parse_error(text)
    assert (err.line, err.column) == (line, column)


def test_not_text_at_all_is_an_lvs_cf_error():
    with pytest.raises(LvsCfError, match="lvs.cf text expected"):
        parse_lvs_cf(12345)


def test_semantic_validation_runs_unless_disabled():
    text = "primary = 10.0.0.1\nvirtual v {\n    address = 10.0.0.2 eth0:1\n}\n"
    err = parse_error(text)
    assert err.reason.startswith("no active virtual block")
    assert parse(text, validate=False).config.virtuals[0].active is False


def test_warnings_of_validation_are_included():
    text = ("primary = 10.0.0.1\nvirtual v {\n    active = 1\n    address = 10.0.0.2 eth0:1\n"
            "    timeout = 0\n}\n")
    result = parse(text)
    [warning] = result.warnings
    assert (warning.line, warning.key, warning.block) == (5, "timeout", "virtual v")
