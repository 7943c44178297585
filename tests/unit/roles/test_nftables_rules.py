# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The router role's nftables rules (``lvs-cluster.nft.j2``), rendered as the role renders them
and loaded with ``nft -f`` into the host kernel, inside private network namespaces:

* ``router`` holds the rules and receives on plain UDP sockets (``ip netns exec``);
* ``peer`` is the other router: on its veth it has the public and private addresses of both
  families, of which lvs.cf names some as its heartbeat addresses;
* ``stranger`` reaches the router through a veth of its own, routed by the router.

The peer's heartbeats are the datagrams pulse sends: from each (own, peer) path of
``heartbeat_paths`` for the peer's lvs.cf (rendered from the same variables), source and
destination port ``heartbeat_port``. Every datagram is also sent to a control port the rules
leave alone: a datagram missing there is a broken test network, not the rules.

Needs root (skipped otherwise) and the host's ``nft`` (a failure without it: tools/host-deps.sh
installs Debian's ``nftables``). The namespaces are deleted whatever happens.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from lvs_agents.pulse_setup import heartbeat_paths
from test_role_templates import render, role_vars

from plugins.module_utils.lvs_cluster.lvs_cf.parser import parse_lvs_cf

HEARTBEAT_PORT = 539  # the role's default, checked below
CONTROL_PORT = 5400
SYNC_GROUP, SYNC_PORT = "224.0.0.81", 8848  # the IPVS sync daemon's defaults
SETTLE = 0.3  # seconds for the last datagrams to be delivered on the veths

# The router under test is lvs1 (primary), its peer lvs2. Each namespace has both families on
# its veth; the inventories name some of these addresses.
ROUTER_PUBLIC = ("10.20.0.1", "fd20::1")
ROUTER_PRIVATE = ("10.21.0.1", "fd21::1")
PEER_PUBLIC = ("10.20.0.2", "fd20::2")
PEER_PRIVATE = ("10.21.0.2", "fd21::2")
ROUTER_STRANGER_SIDE = ("10.29.0.1", "fd29::1")
STRANGER = ("10.29.0.66", "fd29::66")


def inventory(family: int, private_family: int | None = None, **names: str) -> dict:
    """hostvars of lvs1 and lvs2: public addresses of ``family`` (0 IPv4, 1 IPv6), private
    ones of ``private_family`` (default the same); ``names`` set ansible_host."""
    private = family if private_family is None else private_family
    hosts = {}
    for host, public, private_addresses in (("lvs1", ROUTER_PUBLIC, ROUTER_PRIVATE),
                                            ("lvs2", PEER_PUBLIC, PEER_PRIVATE)):
        key = "router_public_address" if host in names else "ansible_host"
        hosts[host] = {key: public[family], "router_private_address": private_addresses[private]}
        if host in names:
            hosts[host]["ansible_host"] = names[host]
    return hosts


# dual: public IPv4, private IPv6; router_public_address wins over ansible_host
PAIRS = {"ipv4": inventory(0), "ipv6": inventory(1),
         "dual": inventory(0, 1, lvs1="lvs1.example.net", lvs2="lvs2.example.net")}

WEB = {"name": "web", "address": "192.0.2.10", "port": 80,
       "real_servers": [{"name": "web1", "address": "10.20.0.21"}]}

# Binds the UDP ports on every address of both families (and joins multicast groups), says
# "ready", records what arrives until its stdin closes, then prints it as JSON.
RECEIVER = r"""
import json, select, socket, sys
ports, groups = json.loads(sys.argv[1])
sockets = {}
for port in ports:
    for family, anywhere in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((anywhere, port))
        sockets[sock] = port
for group, port, interface in groups:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((group, port))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                    socket.inet_aton(group) + socket.inet_aton(interface))
    sockets[sock] = port
print("ready", flush=True)
received = []
def drain(sock):
    while True:
        try:
            data, source = sock.recvfrom(512, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        received.append([sockets[sock], source[0], data.decode()])
while True:
    ready = select.select([sys.stdin, *sockets], [], [])[0]
    for sock in ready:
        if sock is not sys.stdin:
            drain(sock)
    if sys.stdin in ready and not sys.stdin.readline():
        break
for sock in sockets:
    drain(sock)
print(json.dumps(received), flush=True)
"""

# Sends each [protocol, source, source port, destination, port, payload]: a UDP datagram from
# (source, source port), or a TCP connection attempt (its SYN is what the rules see).
SENDER = r"""
import json, socket, sys
for protocol, source, sport, destination, dport, payload in json.loads(sys.argv[1]):
    family = socket.AF_INET6 if ":" in destination else socket.AF_INET
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    with socket.socket(family, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((source, sport))
        if protocol == "udp":
            if destination.startswith("224."):
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                                socket.inet_aton(source))
            sock.sendto(payload.encode(), (destination, dport))
        else:
            sock.settimeout(2)
            try:
                sock.connect((destination, dport))
            except ConnectionRefusedError:
                pass
"""

# Records the (destination, port, mark) of every TCP SYN the router receives, after the
# role's rules have run (prerouting's mangle priority is before input).
OBSERVER = """
table inet lvs_cluster_test_observer {
    set seen4 { type ipv4_addr . inet_service . mark; flags dynamic; }
    set seen6 { type ipv6_addr . inet_service . mark; flags dynamic; }
    chain input {
        type filter hook input priority filter + 10; policy accept;
        tcp flags syn add @seen4 { ip daddr . tcp dport . meta mark }
        tcp flags syn add @seen6 { ip6 daddr . tcp dport . meta mark }
    }
}
"""


def nft_command() -> str:
    found = shutil.which("nft", path=os.pathsep.join(
        [os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    assert found, "nft not found: install Debian's nftables (tools/host-deps.sh does)"
    return found


class Namespaces:
    """router, peer and stranger, joined by two veth pairs; removed by ``remove``."""

    def __init__(self) -> None:
        suffix = secrets.token_hex(3)
        self.router, self.peer, self.stranger = (
            f"lvsnft-{suffix}-{part}" for part in ("router", "peer", "stranger"))
        self.created: list[str] = []

    def ip(self, namespace: str, *args: str) -> None:
        subprocess.run(["ip", "-n", namespace, *args], check=True, capture_output=True)

    def create(self) -> None:
        for namespace in (self.router, self.peer, self.stranger):
            subprocess.run(["ip", "netns", "add", namespace], check=True)
            self.created.append(namespace)
            self.ip(namespace, "link", "set", "lo", "up")
        self.ip(self.router, "link", "add", "r-peer", "type", "veth", "peer", "name", "p-router",
                "netns", self.peer)
        self.ip(self.router, "link", "add", "r-stranger", "type", "veth", "peer", "name",
                "s-router", "netns", self.stranger)
        for namespace, device, addresses in (
                (self.router, "r-peer", ROUTER_PUBLIC + ROUTER_PRIVATE),
                (self.peer, "p-router", PEER_PUBLIC + PEER_PRIVATE),
                (self.router, "r-stranger", ROUTER_STRANGER_SIDE),
                (self.stranger, "s-router", STRANGER)):
            for address in addresses:
                prefix = "64 nodad" if ":" in address else "24"
                self.ip(namespace, "addr", "add", f"{address}/{prefix.split()[0]}", "dev",
                        device, *prefix.split()[1:])
            self.ip(namespace, "link", "set", device, "up")
        self.ip(self.stranger, "route", "add", "default", "via", ROUTER_STRANGER_SIDE[0])
        self.ip(self.stranger, "-6", "route", "add", "default", "via", ROUTER_STRANGER_SIDE[1])

    def remove(self) -> None:
        for namespace in self.created:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)

    def run(self, namespace: str, *argv: str, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", namespace, *argv], capture_output=True,
                              text=True, check=check, timeout=30)

    def load(self, rules: str) -> None:
        """``nft -c -f`` (the role's check) then ``nft -f`` in the router's namespace."""
        nft = nft_command()
        for argv in ([nft, "-c", "-f", "-"], [nft, "-f", "-"]):
            done = subprocess.run(["ip", "netns", "exec", self.router, *argv], input=rules,
                                  capture_output=True, text=True, check=False, timeout=30)
            assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr}\n{rules}"

    def exchange(self, sends: dict[str, list[list]], ports: list[int],
                 groups: list[list] | None = None) -> set[tuple[int, str, str]]:
        """(port, source, payload) of what the router received of ``sends`` (namespace ->
        what it sends, as SENDER takes it)."""
        receiver = subprocess.Popen(
            ["ip", "netns", "exec", self.router, sys.executable, "-c", RECEIVER,
             json.dumps([ports, groups or []])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert receiver.stdout and receiver.stdin
            ready = receiver.stdout.readline()
            assert ready == "ready\n", f"receiver: {ready!r}"
            for namespace, what in sends.items():
                self.run(namespace, sys.executable, "-c", SENDER, json.dumps(what))
            time.sleep(SETTLE)
            out, err = receiver.communicate("", timeout=10)
        finally:
            if receiver.poll() is None:
                receiver.kill()
                receiver.wait()
        assert receiver.returncode == 0, err
        return {tuple(item) for item in json.loads(out)}


@pytest.fixture
def spaces() -> Iterator[Namespaces]:
    if os.geteuid() != 0:
        pytest.skip("needs root: creates network namespaces and loads nftables rules in them")
    nft_command()  # as root, a missing nft is a failure, not a skip
    spaces = Namespaces()
    try:
        spaces.create()
        yield spaces
    finally:
        spaces.remove()


def router_vars(pair: str, **overrides) -> dict:
    return role_vars("router", **{"groups": {"lvs_routers": ["lvs1", "lvs2"]},
                                  "hostvars": PAIRS[pair], "router_virtual_servers": [WEB],
                                  **overrides})


def peer_heartbeats(variables: dict) -> list[tuple[str, str]]:
    """(source, destination) of the heartbeats the peer's pulse sends, from its lvs.cf."""
    config = parse_lvs_cf(render("router", "lvs.cf.j2", variables), source="lvs.cf").config
    peer_addresses = {address: "p-router" for address in PEER_PUBLIC + PEER_PRIVATE}
    paths = heartbeat_paths(config, peer_addresses)
    assert not paths.master
    return [(own, peer) for own, peer in paths.pairs if peer]


def same_family(first: str, second: str) -> bool:
    return (":" in first) == (":" in second)


def udp(source: str, destination: str, port: int, who: str) -> list:
    return ["udp", source, HEARTBEAT_PORT, destination, port, f"{who} {source}>{destination}"]


def test_the_role_s_default_heartbeat_port_is_the_one_tested():
    assert role_vars("router")["router_heartbeat_port"] == HEARTBEAT_PORT


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_heartbeats_pass_from_the_peer_s_heartbeat_addresses_only(spaces, pair):
    variables = router_vars(pair)
    spaces.load(render("router", "lvs-cluster.nft.j2", variables))
    heartbeats = peer_heartbeats(variables)
    assert {":" in source for source, _destination in heartbeats} == {
        "ipv4": {False}, "ipv6": {True}, "dual": {False, True}}[pair]

    router_addresses = ROUTER_PUBLIC + ROUTER_PRIVATE
    # the peer from each of its addresses (named in lvs.cf or not), the stranger from its own,
    # to every address of the router of the same family on the heartbeat link
    peer_sends = list(zip(PEER_PUBLIC + PEER_PRIVATE, router_addresses, strict=True))
    assert set(heartbeats) <= set(peer_sends)
    stranger_sends = [(source, destination) for source in STRANGER
                      for destination in router_addresses if same_family(source, destination)]
    sends = {spaces.peer: [udp(s, d, port, "peer") for s, d in peer_sends
                           for port in (HEARTBEAT_PORT, CONTROL_PORT)],
             spaces.stranger: [udp(s, d, port, "stranger") for s, d in stranger_sends
                               for port in (HEARTBEAT_PORT, CONTROL_PORT)]}
    received = spaces.exchange(sends, [HEARTBEAT_PORT, CONTROL_PORT])

    sent_to_control = {(CONTROL_PORT, item[1], item[5]) for what in sends.values()
                       for item in what if item[4] == CONTROL_PORT}
    assert {item for item in received if item[0] == CONTROL_PORT} == sent_to_control, \
        "the test network lost datagrams the rules do not touch"
    assert sorted(item[2] for item in received if item[0] == HEARTBEAT_PORT) == sorted(
        f"peer {source}>{destination}" for source, destination in heartbeats)


def test_the_sync_daemon_s_multicast_is_left_alone(spaces):
    spaces.load(render("router", "lvs-cluster.nft.j2", router_vars("ipv4")))
    payload = "sync from the peer"
    received = spaces.exchange(
        {spaces.peer: [["udp", PEER_PUBLIC[0], 0, SYNC_GROUP, SYNC_PORT, payload]]},
        [], groups=[[SYNC_GROUP, SYNC_PORT, ROUTER_PUBLIC[0]]])
    assert received == {(SYNC_PORT, PEER_PUBLIC[0], payload)}


def test_fwmark_services_get_their_mark_in_both_families(spaces):
    vip6 = "2001:db8::10"
    spaces.ip(spaces.router, "addr", "add", "192.0.2.10/32", "dev", "r-stranger")
    spaces.ip(spaces.router, "addr", "add", f"{vip6}/128", "dev", "r-stranger", "nodad")
    variables = router_vars("ipv4", router_nftables_fwmarks=[
        {"mark": 80, "address": "192.0.2.10", "ports": [80, 443]},
        {"mark": 86, "address": vip6, "ports": [80, 443]}])
    spaces.load(render("router", "lvs-cluster.nft.j2", variables))
    spaces.load(OBSERVER)
    probes = [["tcp", source, 0, vip, port, ""]
              for source, vip in zip(STRANGER, ("192.0.2.10", vip6), strict=True)
              for port in (80, 443, 22)]
    spaces.exchange({spaces.stranger: probes}, [])
    seen = set()
    for name in ("seen4", "seen6"):
        listing = json.loads(spaces.run(spaces.router, nft_command(), "-j", "list", "set", "inet",
                                        "lvs_cluster_test_observer", name).stdout)
        for entry in listing["nftables"]:
            for element in entry.get("set", {}).get("elem", []):
                seen.add(tuple(element["concat"]))
    assert seen == {("192.0.2.10", 80, 80), ("192.0.2.10", 443, 80), ("192.0.2.10", 22, 0),
                    (vip6, 80, 86), (vip6, 443, 86), (vip6, 22, 0)}


def test_loading_again_replaces_the_table_and_stopping_removes_it(spaces):
    spaces.load(render("router", "lvs-cluster.nft.j2", router_vars("ipv4")))
    spaces.load(render("router", "lvs-cluster.nft.j2", router_vars(
        "ipv4", router_heartbeat_port=1539)))
    listing = spaces.run(spaces.router, nft_command(), "list", "ruleset").stdout
    assert listing.count("table inet lvs_cluster") == 1 and "539 " not in listing.replace(
        "1539", "")

    def stranger_arrivals() -> set[int]:
        sends = {spaces.stranger: [udp(STRANGER[0], ROUTER_PUBLIC[0], port, "stranger")
                                   for port in (HEARTBEAT_PORT, 1539)]}
        return {item[0] for item in spaces.exchange(sends, [HEARTBEAT_PORT, 1539])}

    assert stranger_arrivals() == {HEARTBEAT_PORT}
    # the unit's ExecStop
    spaces.run(spaces.router, nft_command(), "delete", "table", "inet", "lvs_cluster")
    assert stranger_arrivals() == {HEARTBEAT_PORT, 1539}
