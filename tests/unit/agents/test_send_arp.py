# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The send_arp command: Piranha's command line, real frames seen by the peer of a veth pair.

The namespaces, workers and capture are test_netops's (``netns_lab``, ``capture``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from lvs_agents import send_arp
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr
from scapy.layers.l2 import ARP, Ether
from test_netops import Lab, capture, netns_lab

SENDER = "02:00:00:77:00:55"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from netns_lab()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """main() points the root logger at the (captured) stderr of the moment: undo that."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def run(lab: Lab, *argv: str, expect: int = 2, ip: str = "10.77.0.100"
        ) -> tuple[int, list[Ether]]:
    """Run send_arp in namespace A; its exit status and the frames b0 received."""
    lab.a.exec("from lvs_agents import send_arp")
    frames = capture(lab, f"status = send_arp.main({list(argv)!r})", ip, expect,
                     source_mac=SENDER)
    return lab.a.eval("status"), [Ether(frame) for _when, frame in frames]


# --- command line -----------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [[], ["10.0.0.1"], ["10.0.0.1", "020000000001", "10.0.0.255"],
                                  ["10.0.0.1", "020000000001", "10.0.0.255", "ffffffffffff", "x"]])
def test_wrong_argument_count_prints_usage_and_exits_1(
        capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert send_arp.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("usage: send_arp ")
    assert "SRC_IP SRC_MAC TARGET_IP TARGET_MAC" in err
    assert "Traceback" not in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert send_arp.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "-i DEV" in out and "--count" in out and "--interval" in out


@pytest.mark.parametrize("argv, message", [
    (["-i", "lo", "10.0.0.1", "zz:zz:zz:zz:zz:zz", "10.0.0.255", "ffffffffffff"],
     "SRC_MAC: not a MAC address: 'zz:zz:zz:zz:zz:zz'"),
    (["-i", "lo", "10.0.0.1", "0200000000", "10.0.0.255", "ffffffffffff"],
     "SRC_MAC: not a MAC address: '0200000000'"),
    (["-i", "lo", "10.0.0.1", "020000000001", "10.0.0.255", "ff:ff:ff:ff:ff"],
     "TARGET_MAC: not a MAC address: 'ff:ff:ff:ff:ff'"),
    (["-i", "lo", "no-such-host.invalid", "020000000001", "10.0.0.255", "ffffffffffff"],
     "SRC_IP: cannot resolve 'no-such-host.invalid'"),
    (["-c", "0", "10.0.0.1", "020000000001", "10.0.0.255", "ffffffffffff"],
     "argument -c/--count: '0' is not a whole number of at least 1"),
    (["--interval", "soon", "10.0.0.1", "020000000001", "10.0.0.255", "ffffffffffff"],
     "argument --interval: 'soon' is not a number of seconds"),
])
def test_bad_arguments_are_named_and_exit_1(
        capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert send_arp.main(argv) == 1
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_send_error_on_a_missing_device_exits_1_with_a_message(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert send_arp.main(["-i", "nosuch0", "10.0.0.1", "02:00:00:00:00:01", "10.0.0.255",
                          "ffffffffffff"]) == 1
    err = capsys.readouterr().err
    assert "device nosuch0: No such device" in err
    assert "Traceback" not in err


def test_names_are_resolved_like_piranha() -> None:
    assert send_arp._resolve("localhost") in ("127.0.0.1", "::1")
    assert send_arp._resolve("10.1.2.3") == "10.1.2.3"


# --- real sends -------------------------------------------------------------------------------


def test_one_call_sends_a_gratuitous_request_and_reply_from_src_mac(lab: Lab) -> None:
    # pulse's call: TARGET_IP the broadcast address (ignored), TARGET_MAC ffffffffffff
    status, frames = run(lab, "-i", "a0", "10.77.0.100", SENDER.replace(":", ""), "10.77.0.255",
                         "ffffffffffff")
    assert status == 0
    assert [f[ARP].op for f in frames] == [1, 2]
    for frame in frames:
        assert frame.src == SENDER and frame.dst == "ff:ff:ff:ff:ff:ff"
        assert frame[ARP].hwsrc == SENDER
        assert frame[ARP].psrc == frame[ARP].pdst == "10.77.0.100"


def test_count_and_interval(lab: Lab) -> None:
    status, frames = run(lab, "-i", "a0", "-c", "3", "--interval", "0.1", "10.77.0.100", SENDER,
                         "10.77.0.255", "ffffffffffff", expect=6)
    assert status == 0
    assert [f[ARP].op for f in frames] == [1, 2] * 3


def test_unicast_target_mac_is_the_ethernet_destination(lab: Lab) -> None:
    status, frames = run(lab, "-i", "a0", "10.77.0.100", SENDER, "10.77.0.2",
                         "02:00:00:77:00:0b")
    assert status == 0
    assert [f.dst for f in frames] == ["02:00:00:77:00:0b"] * 2


def test_ipv6_source_sends_a_neighbour_advertisement(lab: Lab) -> None:
    status, frames = run(lab, "-v", "-i", "a0", "fd00:77::100", SENDER, "ff02::1",
                         "ffffffffffff", expect=1, ip="fd00:77::100")
    assert status == 0
    (frame,) = frames
    assert frame.dst == "33:33:00:00:00:01"
    assert frame[ICMPv6ND_NA].tgt == "fd00:77::100" and frame[ICMPv6ND_NA].O == 1
    assert frame[ICMPv6NDOptDstLLAddr].lladdr == SENDER
