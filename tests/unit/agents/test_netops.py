# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""netops against the real kernel: two network namespaces joined by a veth pair.

Addresses and link state go through pyroute2's IPRoute, probes and announcements through raw
sockets: all of it is tested against the host kernel, only ever inside these namespaces.

Namespace A (a0, 10.77.0.1, fd00:77::1) runs the code under test; namespace B (b0, 10.77.0.2,
fd00:77::2) answers pings and probes and captures frames on an AF_PACKET socket. The code runs
in one long-lived worker per namespace (``ip netns exec NS python``, which also remounts /sys
for the namespace), fed Python snippets over a pipe, so scapy is imported once per worker.
The namespaces are deleted by the fixture's finalizer, whatever happens.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lvs_agents import netops, netops_base
from lvs_agents.netops import AddressSpec, Announcer, NetopsError

REPO_ROOT = Path(__file__).resolve().parents[3]
MAC_A, MAC_B = "02:00:00:77:00:0a", "02:00:00:77:00:0b"

# The worker: the core and the agents on the import path as on a router, then evaluates snippets.
WORKER = r"""
import json, sys, traceback
root = sys.argv[1]
sys.path[0:0] = [root + "/plugins/module_utils", root + "/files/lib"]
space = {}
exec("from lvs_agents import netops\nfrom lvs_agents.netops import *", space)
for line in sys.stdin:
    request = json.loads(line)
    try:
        if request["mode"] == "exec":
            exec(request["code"], space)
            reply = {"value": None}
        else:
            reply = {"value": eval(request["code"], space)}
    except Exception as error:
        reply = {"error": type(error).__name__, "errno": getattr(error, "errno", None),
                 "message": str(error), "traceback": traceback.format_exc()}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
"""

# Captures frames on a device in a background thread of a worker (the peer's view of a burst).
# Each frame is stamped with the time the kernel received it (SO_TIMESTAMPNS, CLOCK_REALTIME),
# not when this thread got to read it: on a loaded machine the reader runs late, and a burst read
# late looked closer to the next one than it was (0.12 s apart for bursts sent 0.2 s apart).
CAPTURE = r"""
import socket, struct, threading, time
SO_TIMESTAMPNS = 35  # Linux, asm-generic; Python does not name it
def start_capture(device, source_mac):
    global captured, capture_done
    captured, capture_done = [], threading.Event()
    wanted = bytes.fromhex(source_mac.replace(":", ""))
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    sock.bind((device, 0x0003))
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.settimeout(0.05)
    def loop():
        with sock:
            while not capture_done.is_set():
                try:
                    frame, ancillary, _flags, info = sock.recvmsg(65536, socket.CMSG_SPACE(16))
                except socket.timeout:
                    continue
                stamps = [struct.unpack("qq", data[:16]) for level, kind, data in ancillary
                          if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS]
                if frame[6:12] == wanted and frame[12:14] in (b"\x08\x06", b"\x86\xdd") \
                        and info[2] != socket.PACKET_OUTGOING:
                    seconds, nanoseconds = stamps[0]  # no stamp: fail, never mix clocks
                    captured.append((seconds + nanoseconds / 1e9, frame.hex()))
    threading.Thread(target=loop, daemon=True).start()
def stop_capture():
    capture_done.set()
    time.sleep(0.1)
    return captured
"""


class Worker:
    """A Python interpreter inside a network namespace, evaluating snippets sent to it."""

    def __init__(self, namespace: str) -> None:
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", namespace, sys.executable, "-c", WORKER, str(REPO_ROOT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def _send(self, mode: str, code: str) -> dict[str, Any]:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps({"mode": mode, "code": code}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "the namespace worker died"
        return json.loads(line)

    def eval(self, code: str) -> Any:
        """The snippet's value; the worker's exception is re-raised here as WorkerError."""
        reply = self._send("eval", code)
        if "error" in reply:
            raise WorkerError(reply)
        return reply["value"]

    def exec(self, code: str) -> None:
        reply = self._send("exec", code)
        if "error" in reply:
            raise WorkerError(reply)

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin
            self.process.stdin.close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class WorkerError(Exception):
    def __init__(self, reply: dict[str, Any]) -> None:
        super().__init__(f"{reply['error']}: {reply['message']}\n{reply['traceback']}")
        self.kind = reply["error"]
        self.errno = reply["errno"]
        self.message = reply["message"]


class Lab:
    """Namespaces A and B, their workers, and ``ip`` in either."""

    def __init__(self) -> None:
        suffix = secrets.token_hex(3)
        self.ns_a, self.ns_b = f"lvsa-{suffix}-a", f"lvsa-{suffix}-b"
        self.workers: list[Worker] = []
        self.a: Worker
        self.b: Worker

    def ip(self, namespace: str, *args: str) -> str:
        return subprocess.run(["ip", "-n", namespace, *args], check=True, capture_output=True,
                              text=True).stdout

    def setup(self) -> None:
        for namespace in (self.ns_a, self.ns_b):
            subprocess.run(["ip", "netns", "add", namespace], check=True)
            self.ip(namespace, "link", "set", "lo", "up")
        a, b = self.ns_a, self.ns_b
        self.ip(a, "link", "add", "a0", "address", MAC_A, "type", "veth",
                "peer", "name", "b0", "address", MAC_B, "netns", b)
        # a second pair inside A, for carrier tests: c0 sees carrier only while c1 is up
        self.ip(a, "link", "add", "c0", "type", "veth", "peer", "name", "c1")
        for namespace, device, last in ((a, "a0", 1), (b, "b0", 2)):
            self.ip(namespace, "addr", "add", f"10.77.0.{last}/24", "dev", device)
            self.ip(namespace, "addr", "add", f"fd00:77::{last}/64", "dev", device, "nodad")
            self.ip(namespace, "link", "set", device, "up")
        self.a, self.b = Worker(a), Worker(b)
        self.workers += [self.a, self.b]
        self.b.exec(CAPTURE)

    def teardown(self) -> None:
        for worker in self.workers:
            worker.close()
        for namespace in (self.ns_a, self.ns_b):
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)

    def addresses(self, device: str = "a0") -> str:
        return self.ip(self.ns_a, "-o", "addr", "show", "dev", device)


def netns_lab() -> Iterator[Lab]:
    """The lab for a module-scoped fixture: built, yielded, always torn down."""
    if os.geteuid() != 0:
        pytest.skip("needs root: creates network namespaces and opens raw sockets in them "
                    "(CI runs as root)")
    lab = Lab()
    try:
        lab.setup()
        yield lab
    finally:
        lab.teardown()


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from netns_lab()


def announces(frame: bytes, ip: str) -> bool:
    """Is the frame a gratuitous ARP or neighbour advertisement for ``ip``? (The kernels in the
    namespaces send their own ARP/ND traffic now and then: router solicitations, probes.)"""
    packed = ipaddress.ip_address(ip).packed
    if frame[12:14] == b"\x08\x06":
        return frame[28:32] == packed
    return frame[12:14] == b"\x86\xdd" and frame[20] == 58 and frame[54] == 136 \
        and frame[62:78] == packed


def capture(lab: Lab, action: str, ip: str, expect: int, source_mac: str = MAC_A,
            quiet: float = 0.3, within: float = 5.0) -> list[tuple[float, bytes]]:
    """Announcements of ``ip`` from ``source_mac`` seen on b0 while A runs ``action``: waits
    until ``expect`` of them arrived (or ``within`` seconds passed), then ``quiet`` seconds
    more, so that a surplus is seen too."""
    def received() -> list[tuple[float, bytes]]:
        frames = [(when, bytes.fromhex(frame)) for when, frame in lab.b.eval("list(captured)")]
        return [(when, frame) for when, frame in frames if announces(frame, ip)]

    lab.b.exec(f"start_capture('b0', {source_mac!r})")
    time.sleep(0.05)  # the capture socket is bound before the first frame leaves
    lab.a.exec(action)
    deadline = time.monotonic() + within
    while len(received()) < expect and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(quiet)
    lab.b.eval("stop_capture()")
    return received()


def spec_code(spec: AddressSpec) -> str:
    return f"AddressSpec({spec.ip!r}, {spec.prefix}, {spec.device!r}, {spec.label!r})"


# --- addresses --------------------------------------------------------------------------------


def test_ipv4_address_with_label_added_found_and_removed(lab: Lab) -> None:
    spec = spec_code(AddressSpec("10.77.0.100", 32, "a0", "a0:1"))
    assert lab.a.eval(f"has_address({spec})") is False
    assert lab.a.eval(f"ensure_address({spec})") is True
    assert "inet 10.77.0.100/32 scope global a0:1" in lab.addresses()
    assert lab.a.eval(f"has_address({spec})") is True
    assert lab.a.eval(f"ensure_address({spec})") is False
    assert lab.addresses().count("10.77.0.100/32") == 1
    assert lab.a.eval(f"remove_address({spec})") is True
    assert "10.77.0.100" not in lab.addresses()
    assert lab.a.eval(f"remove_address({spec})") is False
    assert lab.a.eval(f"has_address({spec})") is False


def test_ipv4_address_with_prefix_gets_broadcast_and_is_removed_whatever_its_label(
        lab: Lab) -> None:
    spec = AddressSpec("10.77.1.100", 24, "a0", "a0:web")
    assert lab.a.eval(f"ensure_address({spec_code(spec)})") is True
    assert "inet 10.77.1.100/24 brd 10.77.1.255 scope global a0:web" in lab.addresses()
    # the same address with another prefix length is another address
    assert lab.a.eval("has_address(AddressSpec('10.77.1.100', 32, 'a0', 'a0:web'))") is False
    unlabelled = AddressSpec("10.77.1.100", 24, "a0", None)
    assert lab.a.eval(f"has_address({spec_code(unlabelled)})") is True
    assert lab.a.eval(f"remove_address({spec_code(unlabelled)})") is True
    assert "10.77.1.100" not in lab.addresses()


def test_ipv4_address_without_label_takes_the_device_name(lab: Lab) -> None:
    spec = spec_code(AddressSpec("10.77.2.1", 32, "a0", None))
    assert lab.a.eval(f"ensure_address({spec})") is True
    assert "inet 10.77.2.1/32 scope global a0\\" in lab.addresses()
    assert lab.a.eval(f"remove_address({spec})") is True


def test_ipv6_address_added_without_dad_and_removed(lab: Lab) -> None:
    spec = spec_code(AddressSpec("fd00:77::100", 128, "a0", "a0:1"))  # label ignored
    assert lab.a.eval(f"has_address({spec})") is False
    assert lab.a.eval(f"ensure_address({spec})") is True
    shown = lab.addresses()
    assert "inet6 fd00:77::100/128 scope global nodad" in shown
    assert "tentative" not in shown.split("fd00:77::100", 1)[1].splitlines()[0]
    assert lab.a.eval(f"has_address({spec})") is True
    assert lab.a.eval(f"ensure_address({spec})") is False
    assert lab.a.eval(f"remove_address({spec})") is True
    assert "fd00:77::100" not in lab.addresses()
    assert lab.a.eval(f"remove_address({spec})") is False


def test_an_ipv6_vip_is_never_the_source_of_the_hosts_own_connections(lab: Lab) -> None:
    """An IPv6 VIP in the subnet of the router's own address (vip_nmask 64): without rule 3 of
    RFC 6724 (a deprecated address is not chosen as a source), the kernel takes the newest
    address of the outgoing device, the VIP, for the router's own connections - lvsd's checks
    of direct-routing real servers, which hold the VIP themselves and answer to their own lo."""
    spec = spec_code(AddressSpec("fd00:77::100", 64, "a0", None))
    assert lab.a.eval(f"ensure_address({spec})") is True
    try:
        route = lab.ip(lab.ns_a, "-6", "route", "get", "fd00:77::2")
        assert " src fd00:77::1 " in route, route
        assert "deprecated" in lab.addresses().split("fd00:77::100", 1)[1].splitlines()[0]
    finally:
        lab.a.eval(f"remove_address({spec})")


def test_missing_device_is_named_in_the_error() -> None:
    spec = AddressSpec("10.77.0.100", 32, "nosuch0", "nosuch0:1")
    for action in (netops.ensure_address, netops.remove_address, netops.has_address):
        with pytest.raises(NetopsError) as raised:
            action(spec)
        assert raised.value.errno == errno.ENODEV
        assert "nosuch0" in str(raised.value)
        assert os.strerror(errno.ENODEV) in str(raised.value)


def test_label_of_another_device_is_refused() -> None:
    with pytest.raises(NetopsError) as raised:
        netops.ensure_address(AddressSpec("10.77.0.100", 32, "lo", "eth0:1"))
    assert raised.value.errno == errno.EINVAL
    assert "eth0:1" in str(raised.value) and "10.77.0.100/32 on lo" in str(raised.value)


def test_bad_address_and_prefix_are_refused() -> None:
    with pytest.raises(NetopsError, match="'10.0.0.300'"):
        netops.has_address(AddressSpec("10.0.0.300", 32, "lo", None))
    with pytest.raises(NetopsError, match="prefix length 33"):
        netops.has_address(AddressSpec("10.0.0.3", 33, "lo", None))


def test_kernel_refusal_becomes_netops_error_with_the_kernel_reason(lab: Lab) -> None:
    lab.ip(lab.ns_a, "link", "set", "c1", "up")
    subprocess.run(["ip", "netns", "exec", lab.ns_a, "sysctl", "-qw",
                    "net.ipv6.conf.c1.disable_ipv6=1"], check=True)
    with pytest.raises(WorkerError) as raised:
        lab.a.eval("ensure_address(AddressSpec('fd00:78::1', 64, 'c1', None))")
    assert raised.value.kind == "NetopsError"
    assert raised.value.errno == errno.EACCES
    assert raised.value.message.startswith(f"add fd00:78::1/64 on c1: {os.strerror(errno.EACCES)}")
    assert "IPv6 is disabled" in raised.value.message  # the kernel's extended-ack text


def test_ipv6_address_with_another_prefix_length_is_refused(lab: Lab) -> None:
    held = spec_code(AddressSpec("fd00:77::200", 128, "a0", None))
    other = spec_code(AddressSpec("fd00:77::200", 64, "a0", None))
    assert lab.a.eval(f"ensure_address({held})") is True
    try:
        with pytest.raises(WorkerError) as raised:  # EEXIST, and not what was asked for
            lab.a.eval(f"ensure_address({other})")
        assert raised.value.kind == "NetopsError" and raised.value.errno == errno.EEXIST
        assert raised.value.message.startswith("add fd00:77::200/64 on a0: ")
        assert lab.a.eval(f"has_address({other})") is False
    finally:
        assert lab.a.eval(f"remove_address({held})") is True


def test_one_iproute_socket_serves_every_operation(lab: Lab) -> None:
    lab.a.exec("import os\nfrom lvs_agents import netops_addresses\nwarm()\n"
               "first = netops_addresses._iproute\nfds = len(os.listdir('/proc/self/fd'))")
    spec = spec_code(AddressSpec("10.77.3.1", 32, "a0", "a0:3"))
    for _round in range(5):
        lab.a.exec(f"ensure_address({spec}); has_address({spec}); remove_address({spec}); "
                   "link_is_up('a0'); local_addresses()")
    assert lab.a.eval("netops_addresses._iproute is first") is True
    assert lab.a.eval("len(os.listdir('/proc/self/fd')) - fds") == 0


def test_a_closed_socket_is_opened_again_on_the_next_call(lab: Lab) -> None:
    lab.a.exec("from lvs_agents import netops_addresses\nwarm()\nnetops_addresses.close()")
    assert lab.a.eval("netops_addresses._iproute") is None
    assert lab.a.eval("link_is_up('a0')") is True
    assert lab.a.eval("netops_addresses._iproute is not None") is True


def test_local_addresses_names_each_address_with_its_device(lab: Lab) -> None:
    lab.a.eval(f"ensure_address({spec_code(AddressSpec('10.77.4.1', 32, 'a0', 'a0:4'))})")
    try:
        found = lab.a.eval("local_addresses()")
        assert found["10.77.0.1"] == found["fd00:77::1"] == found["10.77.4.1"] == "a0"
        assert found["127.0.0.1"] == "lo"
    finally:
        lab.a.eval(f"remove_address({spec_code(AddressSpec('10.77.4.1', 32, 'a0', None))})")


def test_neither_pyroute2_nor_scapy_is_imported_before_it_is_needed() -> None:
    """pulse imports netops at start, send_arp imports it for one burst: pyroute2 (about a
    second in a lab guest) comes with the first address call, scapy with the first frame."""
    probe = WORKER.split("space = {}", 1)[0] + (
        "import lvs_agents.netops, lvs_agents.send_arp\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pyroute2', 'scapy'}))\n")
    result = subprocess.run([sys.executable, "-c", probe, str(REPO_ROOT)], capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_reading_addresses_does_not_import_pyroute2() -> None:
    """pulse reads the host's addresses (its role, whether it still holds its VIPs) before its
    first heartbeat; importing pyroute2 costs 1.4 s in a lab guest, longer than a restarted
    pulse can stay silent before its peer's deadtime ends. Only changes load it."""
    probe = WORKER.split("space = {}", 1)[0] + (
        "from lvs_agents import netops\n"
        "found = netops.local_addresses()\n"
        "held = netops.has_address(netops.AddressSpec('127.0.0.1', 8, 'lo', None))\n"
        "print(found.get('127.0.0.1'), held, 'pyroute2' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", probe, str(REPO_ROOT)], capture_output=True,
                            text=True, check=True)
    assert result.stdout.split() == ["lo", "True", "False"]

# --- links ------------------------------------------------------------------------------------


def _wait_for(lab: Lab, code: str, expected: Any, within: float = 3.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = lab.a.eval(code)
        if value == expected or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_link_state_follows_admin_state_and_carrier(lab: Lab) -> None:
    assert lab.a.eval("link_is_up('a0')") is True
    assert lab.a.eval("link_is_up('nosuch0')") is False
    assert lab.a.eval("link_is_up('../a0')") is False
    lab.ip(lab.ns_a, "link", "set", "c0", "down")
    lab.ip(lab.ns_a, "link", "set", "c1", "up")
    assert lab.a.eval("link_is_up('c0')") is False  # administratively down
    lab.ip(lab.ns_a, "link", "set", "c0", "up")
    assert _wait_for(lab, "link_is_up('c0')", True) is True
    lab.ip(lab.ns_a, "link", "set", "c1", "down")  # c0 is still up, but has no carrier
    assert _wait_for(lab, "link_is_up('c0')", False) is False
    assert "UP" in lab.ip(lab.ns_a, "-o", "link", "show", "c0").split("<", 1)[1].split(">")[0]


def test_device_mac(lab: Lab) -> None:
    assert lab.a.eval("device_mac('a0')") == MAC_A
    with pytest.raises(WorkerError) as raised:
        lab.a.eval("device_mac('nosuch0')")
    assert raised.value.errno == errno.ENODEV and "nosuch0" in raised.value.message


# --- Announcer: frames ------------------------------------------------------------------------


def test_ipv4_frames_are_gratuitous_request_and_reply() -> None:
    from scapy.layers.l2 import ARP, Ether

    announcer = Announcer()
    frames = announcer.frames("10.254.0.100", "unused0", mac="02:AA:BB:CC:DD:EE")
    assert announcer.frames("10.254.0.100", "unused0", mac="02aabbccddee") is frames  # cached
    assert len(frames) == 2
    ops = []
    for frame in frames:
        assert len(frame) == 60
        decoded = Ether(frame)
        assert decoded.dst == "ff:ff:ff:ff:ff:ff" and decoded.src == "02:aa:bb:cc:dd:ee"
        assert decoded.type == 0x0806
        arp = decoded[ARP]
        assert (arp.hwtype, arp.ptype, arp.hwlen, arp.plen) == (1, 0x0800, 6, 4)
        assert arp.psrc == arp.pdst == "10.254.0.100"
        assert arp.hwsrc == "02:aa:bb:cc:dd:ee"
        ops.append((arp.op, arp.hwdst))
    assert ops == [(1, "ff:ff:ff:ff:ff:ff"), (2, "02:aa:bb:cc:dd:ee")]


def test_ipv6_frame_is_an_unsolicited_override_advertisement_with_valid_checksum() -> None:
    from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
    from scapy.layers.l2 import Ether

    (frame,) = Announcer().frames("fd00:254::100", "unused0", mac="02:aa:bb:cc:dd:ee")
    decoded = Ether(frame)
    assert decoded.dst == "33:33:00:00:00:01" and decoded.src == "02:aa:bb:cc:dd:ee"
    ip6 = decoded[IPv6]
    assert (ip6.src, ip6.dst, ip6.hlim, ip6.nh) == ("fd00:254::100", "ff02::1", 255, 58)
    advert = decoded[ICMPv6ND_NA]
    assert (advert.type, advert.code) == (136, 0)
    assert (advert.R, advert.S, advert.O) == (0, 0, 1)
    assert advert.tgt == "fd00:254::100"
    assert decoded[ICMPv6NDOptDstLLAddr].lladdr == "02:aa:bb:cc:dd:ee"
    sent = advert.cksum
    del advert.cksum
    assert Ether(bytes(decoded))[ICMPv6ND_NA].cksum == sent
    # an independent check: the ones' complement sum over pseudo-header and message is 0xffff
    message = frame[14 + 40:]
    pseudo = (bytes(ip6)[8:40] + len(message).to_bytes(4, "big") + b"\0\0\0\x3a")
    assert netops_base.checksum(pseudo + message) == 0


def test_frames_need_a_valid_mac() -> None:
    with pytest.raises(ValueError, match="not a MAC"):
        Announcer().frames("10.0.0.1", "lo", mac="02:aa:bb:cc:dd")


# --- Announcer: real bursts -------------------------------------------------------------------


def test_ipv4_burst_reaches_the_peer_count_times_interval_apart(lab: Lab) -> None:
    lab.a.exec("announcer = Announcer(count=3, interval=0.2)\nannouncer.warm()")
    expected = [bytes.fromhex(f) for f in
                lab.a.eval("[f.hex() for f in announcer.frames('10.77.0.100', 'a0')]")]
    frames = capture(lab, "announcer.announce('10.77.0.100', 'a0')", "10.77.0.100", 6)
    assert [frame for _when, frame in frames] == expected * 3
    times = [when for when, _frame in frames]
    assert times[2] - times[0] >= 0.15 and times[4] - times[2] >= 0.15


def test_first_burst_leaves_before_announce_returns(lab: Lab) -> None:
    frames = capture(lab, "announcer.announce('10.77.0.100', 'a0', count=1)", "10.77.0.100", 2)
    assert len(frames) == 2


def test_ipv6_burst_reaches_the_peer(lab: Lab) -> None:
    from scapy.layers.inet6 import ICMPv6ND_NA
    from scapy.layers.l2 import Ether

    frames = capture(lab, "announcer.announce('fd00:77::100', 'a0', count=2, interval=0.1)",
                     "fd00:77::100", 2)
    adverts = [Ether(frame) for _when, frame in frames]
    assert len(adverts) == 2
    assert all(a[ICMPv6ND_NA].tgt == "fd00:77::100" for a in adverts)


def test_stop_cancels_the_pending_bursts(lab: Lab) -> None:
    frames = capture(lab, "announcer.announce('10.77.0.100', 'a0', count=5, interval=0.2)\n"
                          "announcer.stop()", "10.77.0.100", 2, quiet=0.7)
    assert len(frames) == 2  # the first burst only
    frames = capture(lab, "announcer.announce('10.77.0.100', 'a0', count=2, interval=0.1)",
                     "10.77.0.100", 4)
    assert len(frames) == 4  # stop() does not affect later announcements


def test_announce_with_an_explicit_mac(lab: Lab) -> None:
    from scapy.layers.l2 import ARP, Ether

    frames = capture(lab, "announcer.announce('10.77.0.100', 'a0', count=1, "
                          "mac='02:00:00:77:00:99')", "10.77.0.100", 2,
                     source_mac="02:00:00:77:00:99")
    assert [Ether(f)[ARP].hwsrc for _w, f in frames] == ["02:00:00:77:00:99"] * 2


KEEP_LOG = """
import logging
class KeepLog(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []
    def emit(self, record):
        self.messages.append((record.levelname, record.getMessage()))
kept = KeepLog()
logging.getLogger().addHandler(kept)
"""


def test_a_failing_later_burst_is_logged_not_raised(lab: Lab) -> None:
    lab.a.exec(KEEP_LOG)
    lab.ip(lab.ns_a, "link", "add", "d0", "type", "veth", "peer", "name", "d1")
    lab.ip(lab.ns_a, "link", "set", "d0", "up")
    lab.a.exec("announcer.announce('10.77.9.1', 'd0', count=3, interval=0.3)")
    lab.ip(lab.ns_a, "link", "del", "d0")  # before the second burst
    deadline = time.monotonic() + 5
    while not lab.a.eval("kept.messages") and time.monotonic() < deadline:
        time.sleep(0.05)
    messages = lab.a.eval("kept.messages")
    assert messages and all(level == "WARNING" for level, _text in messages)
    assert messages[0][1].startswith("announce 10.77.9.1 on d0: ")
    assert lab.a.eval("1 + 1") == 2  # the worker (and its main thread) carry on


def test_warm_is_idempotent_and_safe_from_threads() -> None:
    import threading

    announcer = Announcer()
    threads = [threading.Thread(target=announcer.warm) for _attempt in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    announcer.warm()
    assert sorted(announcer._layers) == ["ARP", "Ether", "IPv6", "NA", "TLLA"]
    assert len(announcer.frames("10.0.0.1", "unused0", mac="02:00:00:00:00:01")) == 2


def test_announce_on_a_missing_device_raises() -> None:
    with pytest.raises(NetopsError) as raised:
        Announcer().announce("10.0.0.1", "nosuch0", mac="02:00:00:00:00:01")
    assert "nosuch0" in str(raised.value)


# --- echo and probe ---------------------------------------------------------------------------


@pytest.mark.parametrize("present, absent", [("10.77.0.2", "10.77.0.99"),
                                             ("fd00:77::2", "fd00:77::99")])
def test_icmp_echo(lab: Lab, present: str, absent: str) -> None:
    assert lab.a.eval(f"icmp_echo({present!r}, 2.0)") is True
    started = time.monotonic()
    assert lab.a.eval(f"icmp_echo({absent!r}, 0.3)") is False
    assert time.monotonic() - started < 1.5


def test_icmp_echo_refuses_a_name() -> None:
    with pytest.raises(NetopsError, match="not an IP address"):
        netops.icmp_echo("not-an-address", 0.1)


@pytest.mark.parametrize("present, absent", [("10.77.0.2", "10.77.0.99"),
                                             ("fd00:77::2", "fd00:77::99")])
def test_arp_probe(lab: Lab, present: str, absent: str) -> None:
    assert lab.a.eval(f"arp_probe({present!r}, 'a0', 2.0)") == MAC_B
    started = time.monotonic()
    assert lab.a.eval(f"arp_probe({absent!r}, 'a0', 0.3)") is None
    assert time.monotonic() - started < 1.5


def test_arp_probe_does_not_teach_the_peer_our_address(lab: Lab) -> None:
    lab.ip(lab.ns_b, "neigh", "flush", "dev", "b0")
    assert lab.a.eval("arp_probe('10.77.0.2', 'a0', 2.0)") == MAC_B
    assert "10.77.0.1 " not in lab.ip(lab.ns_b, "neigh", "show", "dev", "b0")
