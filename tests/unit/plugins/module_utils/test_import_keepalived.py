# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived.conf's grammar (importing.keepalived_conf) and its mapping to the router role's
variables (importing.keepalived), on the five fixture files of different shapes and on small
texts for each rule. The lab proves the mapping against keepalived's own table
(extensions/molecule/import)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.module_utils.lvs_cluster.importing.keepalived import (
    import_keepalived,
    import_statements,
    looks_like_keepalived,
)
from plugins.module_utils.lvs_cluster.importing.keepalived_conf import parse_text, read_file
from plugins.module_utils.lvs_cluster.importing.result import SourceError
from tests.unit.roles.test_role_templates import parsed, render, router_vars

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "import" / "keepalived"
SHAPES = ["dr-http.conf", "nat-tcp.conf", "tun-fwmark.conf", "groups.conf",
          "include/keepalived.conf"]


def imported(text: str, tmp_path: Path):
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    return import_keepalived(str(path))


def unsupported_lines(result) -> list[tuple[str, int | None, str]]:
    return [(Path(item.file).name, item.line, item.construct) for item in result.unsupported]


# --- the grammar -------------------------------------------------------------------------------

def test_a_brace_on_the_next_line_and_braces_against_words_open_blocks():
    statements, _files = parse_text("virtual_server 10.0.0.1 80\n{\n  real_server 10.0.0.2 80{\n"
                                    "    weight 2 }\n}\n", "k.conf")
    (vs,) = statements
    assert (vs.keyword, vs.args, vs.line) == ("virtual_server", ["10.0.0.1", "80"], 1)
    (rs,) = vs.block
    assert (rs.keyword, rs.line, rs.block[0].keyword, rs.block[0].args) == \
        ("real_server", 3, "weight", ["2"])


def test_a_block_on_one_line_holds_its_statement():
    statements, _files = parse_text("url { path /x status_code 200 }\n", "k.conf")
    assert statements[0].block[0].keyword == "path"
    assert statements[0].block[0].args == ["/x", "status_code", "200"]


def test_comments_start_with_hash_or_bang_outside_quotes():
    statements, _files = parse_text('! a comment\nmisc_path "/bin/check #1 !x" # trailing\n'
                                    "weight 3 ! also\n", "k.conf")
    assert [(s.keyword, s.args, s.line) for s in statements] == [
        ("misc_path", ["/bin/check #1 !x"], 2), ("weight", ["3"], 3)]


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("virtual_server 10.0.0.1 80 {\n  delay_loop 6\n", 1, "not closed"),
    ("}\n", 1, "closes no block"),
    ('misc_path "/bin/true\n', 1, "quotation mismatch"),
    ("$WEB=10.0.0.1\n", 1, "parameter definitions"),
    ("virtual_server $WEB 80 {\n}\n", 1, "parameter substitution"),
    ("@lb1 weight 3\n", 1, "conditional"),
    ("{\n}\n", 1, "without a keyword"),
])
def test_malformed_text_fails_naming_file_and_line(text, line, reason):
    with pytest.raises(SourceError) as raised:
        parse_text(text, "/etc/keepalived/keepalived.conf")
    assert raised.value.file == "/etc/keepalived/keepalived.conf"
    assert raised.value.line == line
    assert reason in str(raised.value)
    assert str(raised.value).startswith(f"/etc/keepalived/keepalived.conf line {line}: ")


def test_includes_are_globs_relative_to_the_including_file_read_in_sorted_order(tmp_path):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "b.conf").write_text("weight 2\n")
    (tmp_path / "conf.d" / "a.conf").write_text("include ../more/*.conf\nweight 1\n")
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "x.conf").write_text("weight 0\n")
    main = tmp_path / "keepalived.conf"
    main.write_text("real_server 10.0.0.2 80 {\n  include conf.d/*.conf\n}\n")
    statements, files = read_file(str(main))
    weights = [(s.args[0], Path(s.file).name, s.line) for s in statements[0].block]
    assert weights == [("0", "x.conf", 1), ("1", "a.conf", 2), ("2", "b.conf", 1)]
    assert [Path(f).name for f in files] == ["keepalived.conf", "a.conf", "x.conf", "b.conf"]


def test_an_include_that_matches_nothing_fails_with_its_line(tmp_path):
    main = tmp_path / "keepalived.conf"
    main.write_text("global_defs {\n}\ninclude /nonexistent/*.conf\n")
    with pytest.raises(SourceError) as raised:
        read_file(str(main))
    assert (raised.value.line, raised.value.file) == (3, str(main))


def test_an_include_loop_fails_instead_of_recursing_forever(tmp_path):
    main = tmp_path / "keepalived.conf"
    main.write_text("include keepalived.conf\n")
    with pytest.raises(SourceError, match="nested more than"):
        read_file(str(main))


def test_the_format_is_recognised_from_the_content():
    assert looks_like_keepalived("global_defs {\n}\n")
    assert looks_like_keepalived("virtual_server 10.0.0.1 80\n{\n}\n")
    assert not looks_like_keepalived("serial_no = 1\nprimary = 10.0.0.1\nvirtual web {\n}\n")


# --- the five shapes ---------------------------------------------------------------------------

def test_dr_http_pair_with_persistence_and_sync_daemon():
    result = import_keepalived(str(FIXTURES / "dr-http.conf"))
    variables = result.router_vars
    assert variables["router_network"] == "direct"
    assert (variables["router_keepalive"], variables["router_deadtime"]) == (1, 3)
    assert (variables["router_sync_daemon"], variables["router_sync_interface"],
            variables["router_sync_id"]) == (True, "eth0", 7)
    (web,) = variables["router_virtual_servers"]
    assert web == {
        "name": "vs_10_254_0_100_80", "address": "10.254.0.100", "device": "eth0:1",
        "netmask": "255.255.255.0", "port": 80, "protocol": "tcp", "scheduler": "wrr",
        "persistent": 300, "pmask": "255.255.255.0", "timeout": 3, "rise": 1,
        "send": "GET / HTTP/1.0\\r\\n\\r\\n", "expect": "^HTTP/1\\.[01] (200)[ \\r]",
        "use_regex": True, "fall": 3,
        "real_servers": [{"name": "rs_10_254_0_21_80", "address": "10.254.0.21", "weight": 3},
                         {"name": "rs_10_254_0_22_80", "address": "10.254.0.22"}]}
    assert result.this_router == {"state": "MASTER", "priority": 150, "address": "10.254.0.11",
                                  "peer": "10.254.0.12"}
    assert unsupported_lines(result) == [
        ("dr-http.conf", 3, "notification_email"), ("dr-http.conf", 6, "router_id LVS_WEB1"),
        ("dr-http.conf", 13, "virtual_router_id 51"), ("dr-http.conf", 20, "authentication")]


def test_nat_with_gateway_vip_sorry_server_quiesce_and_udp_program_check():
    result = import_keepalived(str(FIXTURES / "nat-tcp.conf"))
    variables = result.router_vars
    assert variables["router_network"] == "nat"
    assert variables["router_nat_router"] == {"address": "10.254.0.254", "device": "eth0:9",
                                              "netmask": "255.255.255.0"}
    assert (variables["router_keepalive"], variables["router_deadtime"]) == (0.5, 1.5)
    web, dns = variables["router_virtual_servers"]
    assert (web["scheduler"], web["quiesce_server"], web["sorry_server"], web["fall"],
            web["timeout"]) == ("lc", True, "10.254.0.22", 4, 2)
    assert web["send"] == "\\r\\n" and "expect" not in web  # port 80: connect, not HTTP
    assert (dns["protocol"], dns["send_program"], dns["port"]) == ("udp", "/bin/true", 53)
    assert result.this_router == {"state": "BACKUP", "priority": 100}
    assert unsupported_lines(result) == [("nat-tcp.conf", 6, "virtual_router_id 61"),
                                         ("nat-tcp.conf", 28, "delay_before_retry 1")]


def test_tunnel_fwmark_and_hashing_flags():
    result = import_keepalived(str(FIXTURES / "tun-fwmark.conf"))
    variables = result.router_vars
    assert variables["router_network"] == "tunnel"
    mark, hashed = variables["router_virtual_servers"]
    assert (mark["fwmark"], mark["address"], mark["persistent"], mark["send_program"]) == \
        (5, "10.254.0.100", 60, "/bin/true")
    assert "port" not in mark and all(rs["port"] == 80 for rs in mark["real_servers"])
    assert (hashed["scheduler"], hashed["scheduler_flags"], hashed["port"]) == \
        ("sh", ["sh-port"], 8080)
    assert "send" not in hashed and "expect" not in hashed  # TCP connect on a port other than 80
    assert [rs["port"] for rs in hashed["real_servers"]] == [80, 80]
    assert unsupported_lines(result) == [("tun-fwmark.conf", 5, "virtual_router_id 71"),
                                         ("tun-fwmark.conf", 11, "track_interface")]


def test_a_group_becomes_one_service_per_member_and_a_second_method_a_per_server_one():
    result = import_keepalived(str(FIXTURES / "groups.conf"))
    variables = result.router_vars
    assert variables["router_network"] == "direct"
    services = variables["router_virtual_servers"]
    assert [(s["name"], s["address"], s.get("port"), s.get("fwmark"), s.get("device"))
            for s in services] == [
        ("WEB_1", "10.254.0.100", 80, None, "eth0:1"),
        ("WEB_2", "10.254.0.101", 80, None, "eth0:2"),
        ("WEB_3", "10.254.0.100", None, 9, "eth0:1"),
        ("vs_10_254_0_102_443", "10.254.0.102", 443, None, "eth0:3")]
    assert services[0]["expect"] == "^HTTP/1\\.[01] (2[0-9][0-9])[ \\r]"
    assert services[0]["send"] == "GET /index.html HTTP/1.0\\r\\n\\r\\n"
    assert services[3]["real_servers"] == [{"name": "rs_10_254_0_21_443",
                                            "address": "10.254.0.21", "weight": 4,
                                            "forwarding": "tunnel"}]
    assert unsupported_lines(result) == [
        ("groups.conf", 10, "virtual_router_id 81"),
        ("groups.conf", 50, "virtualhost www.example.com"),
        ("groups.conf", 57, "notify_down /usr/local/bin/page-oncall web1")]


def test_includes_timeouts_quiesce_per_server_and_ssl_get():
    result = import_keepalived(str(FIXTURES / "include" / "keepalived.conf"))
    assert [Path(f).name for f in result.sources] == ["keepalived.conf", "10-vrrp.conf",
                                                      "20-web.conf", "30-tls.conf"]
    variables = result.router_vars
    assert variables["router_lvs_cf_options"] == {"tcp_timeout": 900, "tcpfin_timeout": 30,
                                                  "udp_timeout": 60}
    web, tls = variables["router_virtual_servers"]
    assert web["quiesce_server"] is True and "quiesce_server" not in tls
    assert tls["send_program"] == ("/usr/bin/curl -ks -o /dev/null -w %{http_code} "
                                   "--max-time 2 https://%h:%p/healthz")
    assert (tls["expect"], tls["use_regex"]) == ("^(200)$", True)
    assert unsupported_lines(result) == [("keepalived.conf", 3, "router_id LB_A"),
                                         ("10-vrrp.conf", 4, "virtual_router_id 91")]


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_renders_through_the_role_to_a_valid_lvs_cf(shape):
    result = import_keepalived(str(FIXTURES / shape))
    config = parsed(render("router", "lvs.cf.j2", router_vars(**result.router_vars)))
    services = result.router_vars["router_virtual_servers"]
    assert [virtual["name"] for virtual in config["virtuals"]] == [s["name"] for s in services]
    assert config["network"] == result.router_vars["router_network"]
    for virtual, service in zip(config["virtuals"], services, strict=True):
        assert [server["address"] for server in virtual["servers"]] == \
            [server["address"] for server in service["real_servers"]]


# --- the rules, one by one ---------------------------------------------------------------------

def test_an_unknown_scheduler_or_sctp_leaves_the_whole_service_out_and_says_so(tmp_path):
    result = imported("virtual_server 10.0.0.1 80 {\n  lb_algo twos\n"
                      "  real_server 10.0.0.2 80 {\n  }\n}\n"
                      "virtual_server 10.0.0.1 81 {\n  protocol SCTP\n}\n", tmp_path)
    assert result.router_vars["router_virtual_servers"] == []
    assert [(item.line, item.construct) for item in result.unsupported] == [
        (2, "lb_algo twos"), (7, "protocol SCTP")]


def test_differing_checks_in_one_service_are_reported_and_the_first_is_used(tmp_path):
    result = imported("virtual_server 10.0.0.1 25 {\n lb_kind DR\n delay_loop 5\n"
                      "  real_server 10.0.0.2 25 {\n    TCP_CHECK {\n    }\n  }\n"
                      "  real_server 10.0.0.3 25 {\n    MISC_CHECK {\n      misc_path /bin/x\n"
                      "    }\n  }\n}\n", tmp_path)
    (service,) = result.router_vars["router_virtual_servers"]
    assert "send_program" not in service
    assert [(item.line, item.construct) for item in result.unsupported] == [
        (8, "real_server 10.0.0.3 25")]


def test_inhibit_on_failure_on_some_real_servers_quiesces_the_service_and_says_so(tmp_path):
    result = imported("virtual_server 10.0.0.1 25 {\n lb_kind DR\n delay_loop 5\n"
                      "  real_server 10.0.0.2 25 {\n    inhibit_on_failure\n  }\n"
                      "  real_server 10.0.0.3 25 {\n  }\n}\n", tmp_path)
    (service,) = result.router_vars["router_virtual_servers"]
    assert service["quiesce_server"] is True
    assert [(item.line, item.construct) for item in result.unsupported] == [
        (1, "real_server without a checker"), (4, "inhibit_on_failure")]


def test_a_vip_no_service_uses_is_reported(tmp_path):
    result = imported("vrrp_instance V {\n  virtual_ipaddress {\n    10.0.0.9/24\n  }\n}\n",
                      tmp_path)
    assert [(item.line, item.construct) for item in result.unsupported] == [(3, "10.0.0.9")]


def test_bad_values_fail_with_file_line_and_keyword(tmp_path):
    with pytest.raises(SourceError, match=r"keepalived.conf line 3: weight: integer expected"):
        imported("virtual_server 10.0.0.1 80 {\nreal_server 10.0.0.2 80 {\n weight heavy\n}\n}\n",
                 tmp_path)
    with pytest.raises(SourceError, match=r"line 1: virtual_server: '10.0.0' is not an IP"):
        imported("virtual_server 10.0.0 80 {\n}\n", tmp_path)
    with pytest.raises(SourceError, match=r"line 2: lb_kind: 'XX' is none of DR, NAT, TUN"):
        imported("virtual_server 10.0.0.1 80 {\n lb_kind XX\n}\n", tmp_path)
    with pytest.raises(SourceError, match=r"line 1: virtual_server group G: no "):
        imported("virtual_server group G {\n}\n", tmp_path)


def test_the_statements_api_maps_what_parse_text_read():
    statements, files = parse_text("virtual_server 10.0.0.1 443 {\n lb_kind DR\n}\n", "x.conf")
    result = import_statements(statements, files)
    assert result.router_vars["router_virtual_servers"][0]["port"] == 443
