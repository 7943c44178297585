# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fuzzing the parser: whatever the input (text, bytes, near-miss lvs.cf, mutated examples),
the only exception that escapes is LvsCfError, never an internal error; and whatever parses
renders to text that parses back to the same model.

Arbitrary text and bytes get the Hypothesis profile's examples (3000 in ci, 200 in dev); the
structured generators, slower per example, a sixth of that (at least 100)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lvs_cf_examples import fixture_text

from plugins.module_utils.lvs_cluster.lvs_cf.errors import LvsCfError
from plugins.module_utils.lvs_cluster.lvs_cf.model import (
    FailoverService,
    LvsConfig,
    RealServer,
    VirtualService,
    key_fields,
)
from plugins.module_utils.lvs_cluster.lvs_cf.parser import parse_lvs_cf
from plugins.module_utils.lvs_cluster.lvs_cf.render import render_lvs_cf

FUZZ = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
STRUCTURED_FUZZ = settings(FUZZ, max_examples=max(100, settings.default.max_examples // 6))
SERVICES = {"http": 80, "https": 443}.get


def parse_or_error(data):
    """The parse result, or None after checking the LvsCfError is a proper one."""
    try:
        return parse_lvs_cf(data, service_resolver=SERVICES)
    except LvsCfError as err:
        assert "internal error" not in err.reason, err
        assert err.line is None or err.line >= 1
        assert err.column is None or err.column >= 1
        assert err.reason and "\n" not in str(err)
        return None


def assert_round_trip(result):
    if result is None:
        return
    text = render_lvs_cf(result.config)
    assert parse_lvs_cf(text, service_resolver=SERVICES).config == result.config


@FUZZ
@given(st.text())
def test_arbitrary_text(text):
    assert_round_trip(parse_or_error(text))


@FUZZ
@given(st.binary())
def test_arbitrary_bytes(data):
    assert_round_trip(parse_or_error(data))


# -- Near-miss lvs.cf: real keys and block words with plausible and broken values ---------------

KEYS = sorted({name for cls in (LvsConfig, VirtualService, RealServer, FailoverService)
               for name in key_fields(cls)} | {"debug", "virtual", "server", "failover"})
VALUES = st.sampled_from([
    "0", "1", "2", "-1", "0x10", "010", "08", "65536", "4294967296", "0.5", "1.", ".5", "1e3",
    "10.0.0.1", "10.0.0.2", "10.1", "10.0.0.010", "0.0.0.0", "2001:db8::1", "::", "::ffff:1.2.3.4",
    "fe80::1%eth0", "host.example.com", "255.255.255.0", "255.0.255.0", "24", "64", "129",
    "eth0:1", "eth1", "tcp", "udp", "nat", "direct", "tunnel", "wlc", "sh", "mh", "sed",
    "sh-port,sh-fallback", "mh-port,", "lvs", "fos", "preempt", "http", "https", "nosuchsvc",
    '"a b"', '"HTTP"', "'x y'", '"unterminated', '"a"b', "[", "]", "{", "}", "=", "#", "# c",
    "\u00e9", "\x00", "\t",
])
ADDRESS_PAIRS = st.sampled_from(["10.0.0.1 eth0:1", "10.0.0.2 eth0:2", "2001:db8::1 eth0:1",
                                 "10.0.0.1", "10.0.0.1 eth0:1 x"])


@st.composite
def near_miss_lines(draw):
    kind = draw(st.integers(0, 9))
    if kind <= 5:
        key = draw(st.sampled_from(KEYS))
        values = draw(st.lists(VALUES, max_size=3)) if kind else [draw(ADDRESS_PAIRS)]
        separator = draw(st.sampled_from([" = ", " = ", "=", " ", " =\t"]))
        return f"{key}{separator}{' '.join(values)}"
    if kind <= 7:
        block = draw(st.sampled_from(["virtual", "server", "failover"]))
        name = draw(st.sampled_from(["v", "w", "s", "t", "f", '"x y"', "v{"]))
        return f"{block} {name} {draw(st.sampled_from(['{', '{', '', '{ x', '[']))}"
    if kind == 8:
        return draw(st.sampled_from(["}", "}", "} x", "# comment", "", "   "]))
    return draw(st.text(max_size=20))


def _active_virtual():
    return "primary = 10.0.0.9\nvirtual z {\nactive = 1\naddress = 10.0.0.8 eth0:9\n}"


@st.composite
def near_miss_files(draw):
    lines = draw(st.lists(near_miss_lines(), max_size=25))
    if draw(st.booleans()):
        lines.append(_active_virtual())
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    indent = draw(st.sampled_from(["", "    ", "\t"]))
    return ending.join(indent + line for line in lines) + draw(st.sampled_from([ending, ""]))


@STRUCTURED_FUZZ
@given(near_miss_files())
def test_near_miss_lvs_cf(text):
    assert_round_trip(parse_or_error(text))


# -- Mutated examples: one to three edits of Piranha's own files --------------------------------

EXAMPLES = [fixture_text(name) for name in ("example_a.cf", "example_b.cf", "canonical.cf")]
EDIT_CHARACTERS = st.sampled_from(list(' \t\n\r"\'#{}=[]0x19.:,-abz\u00e9\x00'))


@st.composite
def mutated_examples(draw):
    text = draw(st.sampled_from(EXAMPLES))
    for _edit in range(draw(st.integers(1, 3))):
        position = draw(st.integers(0, len(text)))
        operation = draw(st.sampled_from(["insert", "delete", "replace", "cut"]))
        if operation == "insert":
            text = text[:position] + draw(EDIT_CHARACTERS) + text[position:]
        elif operation == "delete":
            text = text[:position] + text[position + 1:]
        elif operation == "replace":
            text = text[:position] + draw(EDIT_CHARACTERS) + text[position + 1:]
        else:
            text = text[:position]
    return text


@STRUCTURED_FUZZ
@given(mutated_examples())
def test_mutated_examples(text):
    assert_round_trip(parse_or_error(text))
    assert_round_trip(parse_or_error(text.encode("utf-8", "surrogatepass")))


def test_fuzzing_reaches_both_outcomes():
    """The near-miss generator is useful only if it produces both valid and invalid files."""
    outcomes = set()

    @settings(max_examples=150, database=None)
    @given(near_miss_files())
    def collect(text):
        outcomes.add(parse_or_error(text) is not None)

    collect()
    assert outcomes == {True, False}
