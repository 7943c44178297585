# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The canonical renderer: byte-for-byte stability, layout, quoting, and the round trip
parse(render(m)) == m for any valid model."""

import re
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lvs_cf_examples import EXAMPLE_A, EXAMPLE_B, fixture_text
from lvs_cf_strategies import valid_configs

from plugins.module_utils.lvs_cluster.lvs_cf.errors import LvsCfError
from plugins.module_utils.lvs_cluster.lvs_cf.model import DeviceAddress, LvsConfig, VirtualService
from plugins.module_utils.lvs_cluster.lvs_cf.parser import parse_lvs_cf
from plugins.module_utils.lvs_cluster.lvs_cf.render import render_lvs_cf
from plugins.module_utils.lvs_cluster.lvs_cf.values import format_seconds, parse_seconds

# 1000 examples in the ci profile (3000 there by default), 100 in dev.
ROUND_TRIP = settings(max_examples=max(100, settings.default.max_examples // 3))
LINE = re.compile(r"((    )*[^ \t].*[^ \t]|(    )*[^ \t]|)")


def test_canonical_file_renders_back_byte_for_byte():
    text = fixture_text("canonical.cf")
    result = parse_lvs_cf(text)
    assert result.warnings == ()
    assert render_lvs_cf(result.config) == text


@pytest.mark.parametrize("config", [EXAMPLE_A, EXAMPLE_B], ids=["example_a", "example_b"])
def test_examples_render_to_a_fixed_point(config):
    text = render_lvs_cf(config)
    assert parse_lvs_cf(text).config == config
    assert render_lvs_cf(parse_lvs_cf(text).config) == text


def test_example_b_canonical_text():
    assert render_lvs_cf(EXAMPLE_B).split("\n\n")[:2] == [
        "serial_no = 31\nservice = lvs\nprimary = 203.0.113.2\nbackup = 203.0.113.3\n"
        "backup_active = 1\nheartbeat = 1\nheartbeat_port = 539\nkeepalive = 3\ndeadtime = 12\n"
        "network = nat\nnat_router = 10.20.0.254 eth1:1\nnat_nmask = 255.255.255.0",
        "virtual web_bundle {\n    active = 1\n    address = 203.0.113.10 eth0:1\n"
        "    vip_nmask = 255.255.255.0\n    port = 80\n    protocol = tcp\n    fwmark = 80\n"
        "    scheduler = wlc\n    persistent = 1800\n    timeout = 10\n    reentry = 60\n"
        '    send = "HEAD / HTTP/1.0\\r\\n\\r\\n"\n    expect = "HTTP"\n    load_monitor = uptime\n'
        "    server app1 {\n        address = 10.20.0.11\n        active = 1\n"
        "        weight = 40\n        port = 80\n    }\n"
        "    server app2 {\n        address = 10.20.0.12\n        active = 1\n"
        "        weight = 40\n        port = 80\n    }\n}",
    ]


def test_piranha_layout_of_example_a_becomes_canonical():
    original = fixture_text("example_a.cf")
    text = render_lvs_cf(parse_lvs_cf(original).config)
    assert text != original
    assert "#" not in text
    assert "debug_level" not in text  # NONE is the default
    assert re.search(r"^ {5}[^ ]", text, re.MULTILINE) is None  # the GUI's 5-space indent
    assert 'active_cmd = "/usr/local/sbin/lvs-became-active"\n' in text


def test_defaults_are_omitted_except_the_keys_users_expect():
    config = LvsConfig(primary="10.0.0.1", virtuals=(VirtualService(
        name="v", active=True, address=DeviceAddress("10.0.0.2", "eth0:1")),))
    assert render_lvs_cf(config) == (
        "serial_no = 0\nservice = lvs\nprimary = 10.0.0.1\nbackup_active = 0\n"
        "heartbeat_port = 539\nkeepalive = 2\ndeadtime = 5\nnetwork = nat\n"
        "\n"
        "virtual v {\n    active = 1\n    address = 10.0.0.2 eth0:1\n    port = 80\n"
        "    protocol = tcp\n    scheduler = wlc\n    timeout = 10\n    reentry = 180\n}\n"
    )


@pytest.mark.parametrize(("value", "written"), [
    ("none", "none"),
    ("", '""'),
    ("two words", '"two words"'),
    ("tab\there", '"tab\there"'),
    ("'single'", "\"'single'\""),
    ("it's", "it's"),
    ("#hash", '"#hash"'),
    ("{", "{"),
    ("caf\u00e9", "caf\u00e9"),
])
def test_strings_are_quoted_only_when_needed(value, written):
    config = LvsConfig(primary="10.0.0.1", debug_level=value)
    assert f"\ndebug_level = {written}\n" in render_lvs_cf(config)
    assert parse_lvs_cf(render_lvs_cf(config), validate=False).config.debug_level == value


@pytest.mark.parametrize("key", ["send", "expect", "send_program", "start_cmd", "stop_cmd"])
def test_probe_strings_and_commands_are_always_quoted(key):
    virtual = VirtualService(name="v", **{key: "x"})
    assert f'\n    {key} = "x"\n' in render_lvs_cf(LvsConfig(virtuals=(virtual,)))


@pytest.mark.parametrize(("value", "problem"), [
    ('say "hi"', "contains a double quote"),
    ("two\nlines", "contains control character U+000A"),
])
def test_values_lvs_cf_cannot_express_are_refused(value, problem):
    config = LvsConfig(virtuals=(VirtualService(name="v", expect=value),))
    with pytest.raises(LvsCfError) as info:
        render_lvs_cf(config)
    assert (info.value.block, info.value.key) == ("virtual v", "expect")
    assert problem in info.value.reason


@pytest.mark.parametrize(("seconds", "written"), [
    (2.0, "2"), (2, "2"), (0.2, "0.2"), (1.5, "1.5"), (1e-05, "0.00001"),
    (1e20, "100000000000000000000"), (0.1 + 0.2, "0.30000000000000004"),
])
def test_fractional_seconds_are_written_exactly_without_exponent(seconds, written):
    assert format_seconds(seconds) == written
    assert parse_seconds(written) == seconds


def test_scheduler_flags_are_written_in_a_fixed_order():
    virtual = VirtualService(name="v", scheduler="sh",
                             scheduler_flags=frozenset({"sh-port", "sh-fallback"}))
    assert "\n    scheduler_flags = sh-fallback,sh-port\n" in render_lvs_cf(
        LvsConfig(virtuals=(virtual,)))


def test_server_port_is_always_written_so_order_never_matters():
    config = parse_lvs_cf(fixture_text("example_b.cf")).config
    smtp = config.virtuals[1]
    moved = replace(smtp, port=2500)  # servers keep their resolved ports
    text = render_lvs_cf(replace(config, virtuals=(config.virtuals[0], moved)))
    reparsed = parse_lvs_cf(text, validate=False).config.virtuals[1]
    assert (reparsed.port, reparsed.servers[0].port) == (2500, 2525)


@ROUND_TRIP
@given(valid_configs())
def test_round_trip_of_any_valid_model(config):
    text = render_lvs_cf(config)
    result = parse_lvs_cf(text)
    assert result.config == config
    assert render_lvs_cf(result.config) == text
    assert text.endswith("\n")
    assert "\r" not in text
    for line in text.split("\n"):
        assert LINE.fullmatch(line), line


EXPRESSIBLE = st.text(st.characters(exclude_categories=("Cs", "Cc"), exclude_characters='"')
                      | st.sampled_from("\t '#"))


@settings(max_examples=max(100, settings.default.max_examples // 6))
@given(EXPRESSIBLE, EXPRESSIBLE.filter(bool), EXPRESSIBLE.filter(bool))
def test_round_trip_of_any_expressible_string(value, name, item):
    """Every string lvs.cf can express comes back unchanged, wherever it is written."""
    virtual = VirtualService(name=name, send=value, expect=value, load_monitor=value,
                             dirs=(item,) if item not in ("[", "]") else (),
                             address=DeviceAddress("10.0.0.2", "eth0:1"), active=True)
    config = LvsConfig(primary="10.0.0.1", debug_level=value, primary_shared=value,
                       virtuals=(virtual,))
    assert parse_lvs_cf(render_lvs_cf(config)).config == config
