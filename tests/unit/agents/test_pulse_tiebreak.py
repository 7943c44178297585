# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VIP check before a takeover (pulse_tiebreak.tiebreak_verdict), with netops faked at the
probe: which addresses answer, how long a silent one keeps the probe waiting."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from lvs_agents.netops import NetopsError
from lvs_agents.pulse_tiebreak import tiebreak_verdict


class ProbedNet:
    """Answers ARP/neighbour probes for ``held`` addresses; a silent probe takes its timeout.
    Counts the probes in flight at once."""

    def __init__(self, held=(), failing=(), echo=True, rendezvous=0):
        self.held, self.failing, self.echo = set(held), set(failing), echo
        self.probed: list[str] = []
        self.in_flight = self.most_in_flight = 0
        self.lock = threading.Condition()
        # a silent probe waits (at most 5 s) until this many are in flight: on a loaded machine
        # a thread may start later than another's timeout, which says nothing about the code
        self.rendezvous = rendezvous

    def icmp_echo(self, address, timeout):
        return self.echo

    def arp_probe(self, ip, device, timeout):
        with self.lock:
            self.probed.append(ip)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.lock.notify_all()
        try:
            if ip in self.failing:
                raise NetopsError(19, f"probe {ip} on {device}")
            if ip in self.held:
                return "02:00:00:00:00:01"
            if self.rendezvous:
                with self.lock:
                    self.lock.wait_for(lambda: self.most_in_flight >= self.rendezvous, timeout=5)
            else:
                time.sleep(timeout)
            return None
        finally:
            with self.lock:
                self.in_flight -= 1


def vips(*addresses):
    return [SimpleNamespace(ip=address, device="eth0") for address in addresses]


def test_an_ipv6_vip_still_answered_by_the_peer_holds_the_takeover_back():
    # A killed pulse leaves its IPv6 VIPs in its kernel too: taking them would make two holders.
    net = ProbedNet(held={"fd00::100"})
    assert tiebreak_verdict(net, [], vips("fd00::100"), deadtime=0.1, norun=False) is False
    assert net.probed == ["fd00::100"]


def test_no_vip_answering_gives_the_takeover():
    net = ProbedNet()
    assert tiebreak_verdict(net, [], vips("10.0.0.100", "fd00::100"), 0.1, False) is True
    assert sorted(net.probed) == ["10.0.0.100", "fd00::100"]


def test_the_vips_are_probed_at_once_not_one_timeout_after_the_other():
    # each silent probe waits its timeout (up to 1 s): in turn, ten VIPs would delay a
    # takeover by ten timeouts
    addresses = [f"10.0.0.{n}" for n in range(1, 11)]
    net = ProbedNet(rendezvous=len(addresses))
    assert tiebreak_verdict(net, [], vips(*addresses), 0.2, False) is True
    assert net.most_in_flight == len(addresses)


def test_a_probe_that_fails_keeps_this_router_standby():
    net = ProbedNet(failing={"10.0.0.2"})
    with pytest.raises(NetopsError):
        tiebreak_verdict(net, [], vips("10.0.0.1", "10.0.0.2"), 0.1, False)


def test_norun_probes_nothing_and_a_lost_tiebreaker_majority_stays_standby():
    assert tiebreak_verdict(ProbedNet(held={"10.0.0.1"}), [], vips("10.0.0.1"), 0.1,
                            norun=True) is True
    net = ProbedNet(echo=False)
    assert tiebreak_verdict(net, ["192.0.2.1"], vips("10.0.0.1"), 0.1, False) is False
    assert net.probed == []
