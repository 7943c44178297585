# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network actions pulse needs: VIP addresses, link state, gratuitous ARP/NA, echo, probe.

* Addresses go over rtnetlink (NETLINK_ROUTE) packed with ``struct``: no ``ip`` subprocess, no
  pyroute2. Each call opens its own socket, asks for an acknowledgement and turns a kernel error
  (with the kernel's extended-ack text when it sends one) into ``NetopsError``.
* Link state and MAC addresses come from ``/sys/class/net`` (the network namespace whose sysfs is
  mounted, which is the router's own; ``ip netns exec`` remounts it).
* Gratuitous ARP / unsolicited neighbour advertisements are built with scapy, imported lazily and
  layers only (a full ``scapy.all`` import takes seconds in a lab guest), then sent as bytes over
  an AF_PACKET socket, which is much faster than scapy's ``sendp``.
* ``icmp_echo`` and ``arp_probe`` build their few bytes with ``struct``: they must not wait for
  scapy.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
import secrets
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any

from lvs_cluster.ipvs.netlink import attr, parse_attrs

log = logging.getLogger(__name__)

NETLINK_ROUTE = 0
SOL_NETLINK = 270
NETLINK_EXT_ACK = 11
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE, NLM_F_DUMP = 0x1, 0x4, 0x200, 0x400, 0x300
NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x100, 0x200
NLMSG_ERROR, NLMSG_DONE = 0x2, 0x3
NLMSGERR_ATTR_MSG = 1
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST, IFA_FLAGS = 1, 2, 3, 4, 8
IFA_F_NODAD = 0x02
IFF_UP = 0x1
IFNAMSIZ = 16

ETH_P_ALL, ETH_P_IP, ETH_P_ARP, ETH_P_IPV6 = 0x0003, 0x0800, 0x0806, 0x86DD
BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
ALL_NODES = "ff02::1"
ALL_NODES_MAC = "33:33:00:00:00:01"
MIN_FRAME = 60  # Ethernet minimum without FCS; short ARP frames are padded, as Piranha did

_NLMSGHDR = struct.Struct("=IHHII")
_IFADDRMSG = struct.Struct("=BBBBI")
_ETHER = struct.Struct("!6s6sH")
_ARP = struct.Struct("!HHBBH6s4s6s4s")
_ICMP_ECHO = struct.Struct("!BBHHH")
_RECV_BUFFER = 1 << 16


class NetopsError(OSError):
    """A network action failed; the text names the address or device and the errno's reason."""

    def __init__(self, code: int, what: str, detail: str = "") -> None:
        text = f"{what}: {os.strerror(code)}"
        super().__init__(code, f"{text} ({detail})" if detail else text)
        self.what = what

    def __str__(self) -> str:  # the message alone, without OSError's "[Errno N]" prefix
        return str(self.strerror)


@dataclass(frozen=True)
class AddressSpec:
    ip: str  # IPv4 or IPv6 literal
    prefix: int  # prefix length (32 for a /32 VIP)
    device: str  # the base device, e.g. "eth0"
    label: str | None = None  # IPv4 alias label, e.g. "eth0:1" (IPv6 has no labels)

    def describe(self) -> str:
        label = f" label {self.label}" if self.label and self.version == 4 else ""
        return f"{self.ip}/{self.prefix} on {self.device}{label}"

    @property
    def version(self) -> int:
        return ipaddress.ip_address(self.ip).version


# --- rtnetlink addresses ---------------------------------------------------------------------


def _device_index(device: str) -> int:
    try:
        return socket.if_nametoindex(device)
    except OSError:
        raise NetopsError(errno.ENODEV, f"device {device}") from None


def _packed(spec: AddressSpec) -> tuple[int, bytes]:
    """(address family, packed address) of the spec, or NetopsError(EINVAL) naming it."""
    try:
        address = ipaddress.ip_address(spec.ip)
    except ValueError:
        raise NetopsError(errno.EINVAL, f"address {spec.ip!r} on {spec.device}") from None
    if not 0 <= spec.prefix <= address.max_prefixlen:
        raise NetopsError(errno.EINVAL, f"prefix length {spec.prefix} of {spec.ip}")
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    return family, address.packed


def _kernel_detail(body: memoryview, flags: int) -> str:
    """The extended-ack message the kernel attached to an error, if any."""
    if not flags & NLM_F_ACK_TLVS:
        return ""
    offset = 4 + _NLMSGHDR.size
    if not flags & NLM_F_CAPPED:
        offset = 4 + _NLMSGHDR.unpack_from(body, 4)[0]
    text = parse_attrs(body[(offset + 3) & ~3:]).get(NLMSGERR_ATTR_MSG, b"")
    return text.split(b"\0", 1)[0].decode(errors="replace")


def _rtnetlink(kind: int, flags: int, payload: bytes, what: str) -> list[memoryview]:
    """Send one rtnetlink message, return the bodies of its replies (until DONE or the ack)."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                       NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        with contextlib.suppress(OSError):  # old kernels: plain errno only
            sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        seq = secrets.randbits(31) or 1
        header = _NLMSGHDR.pack(_NLMSGHDR.size + len(payload), kind, NLM_F_REQUEST | flags, seq, 0)
        sock.send(header + payload)
        found: list[memoryview] = []
        while True:
            view = memoryview(sock.recv(_RECV_BUFFER))
            offset = 0
            while offset + _NLMSGHDR.size <= len(view):
                length, reply, reply_flags, reply_seq, _pid = _NLMSGHDR.unpack_from(view, offset)
                if length < _NLMSGHDR.size:
                    break
                body = view[offset + _NLMSGHDR.size:offset + length]
                offset += (length + 3) & ~3
                if reply_seq != seq:
                    continue
                if reply == NLMSG_DONE:
                    return found
                if reply == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", body)[0]
                    if code:
                        raise NetopsError(code, what, _kernel_detail(body, reply_flags))
                    return found
                found.append(body)


def _addresses(family: int, index: int) -> list[tuple[bytes, int, dict[int, bytes]]]:
    """(address, prefix, attributes) of each address of one family on one device."""
    request = _IFADDRMSG.pack(family, 0, 0, 0, 0)
    found = []
    for body in _rtnetlink(RTM_GETADDR, NLM_F_DUMP, request, "address dump"):
        ifa_family, prefix, _flags, _scope, ifa_index = _IFADDRMSG.unpack_from(body)
        if ifa_family != family or ifa_index != index:
            continue
        attrs = parse_attrs(body[_IFADDRMSG.size:])
        local = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
        if local is not None:
            found.append((local, prefix, attrs))
    return found


def local_addresses() -> dict[str, str]:
    """Every address of this host, secondaries and alias labels included, in canonical text ->
    its interface (Piranha's SIOCGIFADDR saw only each interface's first address)."""
    found: dict[str, str] = {}
    request = _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    for body in _rtnetlink(RTM_GETADDR, NLM_F_DUMP, request, "address dump"):
        family, _prefix, _flags, _scope, index = _IFADDRMSG.unpack_from(body)
        attrs = parse_attrs(body[_IFADDRMSG.size:])
        local = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
        if local is None or family not in (socket.AF_INET, socket.AF_INET6):
            continue
        try:
            device = socket.if_indextoname(index)
        except OSError:
            device = ""
        found[str(ipaddress.ip_address(bytes(local)))] = device
    return found


def has_address(spec: AddressSpec) -> bool:
    """True when the device holds the address with that prefix length (whatever its label)."""
    family, packed = _packed(spec)
    index = _device_index(spec.device)
    return any(local == packed and prefix == spec.prefix
               for local, prefix, _attrs in _addresses(family, index))


def _address_message(spec: AddressSpec, family: int, packed: bytes, index: int,
                     adding: bool) -> bytes:
    if family == socket.AF_INET6:
        flags = IFA_F_NODAD if adding else 0  # a VIP moving between routers: no DAD delay
        payload = _IFADDRMSG.pack(family, spec.prefix, flags, 0, index) + attr(IFA_ADDRESS, packed)
        if adding:
            payload += attr(IFA_FLAGS, struct.pack("=I", flags))
        return payload
    payload = (_IFADDRMSG.pack(family, spec.prefix, 0, 0, index)
               + attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed))
    if adding and spec.prefix < 31:  # what ifconfig (Piranha) and `ip addr add … brd +` set
        network = ipaddress.ip_network(f"{spec.ip}/{spec.prefix}", strict=False)
        payload += attr(IFA_BROADCAST, network.broadcast_address.packed)
    if adding and spec.label:
        payload += attr(IFA_LABEL, spec.label.encode() + b"\0")
    return payload


def _check_label(spec: AddressSpec) -> None:
    """The kernel takes any label; ifconfig and iproute2 only ``DEV`` or ``DEV:…``."""
    label = spec.label
    if not label or spec.version != 4:
        return
    if len(label) >= IFNAMSIZ or not (label == spec.device or label.startswith(spec.device + ":")):
        raise NetopsError(errno.EINVAL, f"label {label!r} for {spec.describe()}",
                          f"must be {spec.device} or {spec.device}:NAME, at most 15 characters")


def ensure_address(spec: AddressSpec) -> bool:
    """Add the address if the device lacks it; True if something changed.

    IPv4 gets the alias label (Piranha's ``ifconfig eth0:1``) and the broadcast address; IPv6 is
    added with IFA_F_NODAD, so a VIP taken over is usable at once instead of after DAD.
    """
    family, packed = _packed(spec)
    _check_label(spec)
    index = _device_index(spec.device)
    if has_address(spec):
        return False
    payload = _address_message(spec, family, packed, index, adding=True)
    try:
        _rtnetlink(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, payload,
                   f"add {spec.describe()}")
    except NetopsError as error:
        # Added in between (another agent), or IPv6 with another prefix length: only the
        # former is what was asked for.
        if error.errno == errno.EEXIST and has_address(spec):
            return False
        raise
    return True


def remove_address(spec: AddressSpec) -> bool:
    """Delete the address (matched by address and prefix, not label); True if it was there.

    With IPv4, deleting a device's *primary* address of a subnet also deletes its secondaries
    unless ``net.ipv4.conf.DEV.promote_secondaries`` is 1; VIPs are normally secondaries.
    """
    family, packed = _packed(spec)
    index = _device_index(spec.device)
    payload = _address_message(spec, family, packed, index, adding=False)
    try:
        _rtnetlink(RTM_DELADDR, NLM_F_ACK, payload, f"remove {spec.describe()}")
    except NetopsError as error:
        if error.errno == errno.EADDRNOTAVAIL:
            return False
        raise
    return True


# --- links ------------------------------------------------------------------------------------


def _sysfs(device: str, name: str) -> str:
    if not device or "/" in device or device in (".", ".."):
        raise NetopsError(errno.ENODEV, f"device {device!r}")
    try:
        with open(f"/sys/class/net/{device}/{name}") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        raise NetopsError(errno.ENODEV, f"device {device}") from None
    except OSError as error:  # carrier of a device that is administratively down: EINVAL
        raise NetopsError(error.errno or errno.EIO, f"device {device} {name}") from None


def link_is_up(device: str) -> bool:
    """Administratively up and carrier present (Piranha's monitor_links); missing -> False."""
    try:
        return bool(int(_sysfs(device, "flags"), 16) & IFF_UP) and _sysfs(device, "carrier") == "1"
    except (NetopsError, ValueError):
        return False


def device_mac(device: str) -> str:
    """The device's hardware address, ``aa:bb:cc:dd:ee:ff``."""
    return _sysfs(device, "address").lower()


def mac_bytes(mac: str) -> bytes:
    """``aa:bb:cc:dd:ee:ff`` or ``aabbccddeeff`` as 6 bytes; ValueError otherwise."""
    parts = mac.split(":") if ":" in mac else [mac[i:i + 2] for i in range(0, len(mac), 2)]
    try:
        if len(parts) == 6 and all(len(part) == 2 for part in parts):
            return bytes.fromhex("".join(parts))
    except ValueError:
        pass
    raise ValueError(f"not a MAC address: {mac!r}")


def normal_mac(mac: str) -> str:
    return ":".join(f"{byte:02x}" for byte in mac_bytes(mac))


def packet_socket(device: str, protocol: int = 0) -> socket.socket:
    """An AF_PACKET raw socket bound to the device (protocol 0: send only)."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                         socket.htons(protocol))
    try:
        sock.bind((device, protocol))
    except OSError as error:
        sock.close()
        raise NetopsError(error.errno or errno.ENODEV, f"device {device}") from None
    return sock


# --- gratuitous ARP / unsolicited NA ----------------------------------------------------------


class Announcer:
    """Gratuitous ARP for IPv4, unsolicited neighbour advertisement for IPv6.

    IPv4: two broadcast frames per burst, an ARP request (op 1, as ``arping -U``: target
    hardware address ff:ff:ff:ff:ff:ff) and an ARP reply (op 2, as ``arping -A`` and Piranha's
    send_arp: target hardware address = our MAC), both with sender IP = target IP = the VIP and
    sender MAC = the device's MAC. Some devices act on only one of the two.
    IPv6: one ICMPv6 neighbour advertisement (type 136, override flag, target = the VIP, from the
    VIP to ff02::1, hop limit 255, target link-layer address option = our MAC).
    """

    def __init__(self, count: int = 5, interval: float = 1.0) -> None:
        self.count = count
        self.interval = interval
        self._layers: dict[str, Any] = {}
        self._import_lock = threading.Lock()
        self._cache: dict[tuple[str, str, str], list[bytes]] = {}
        self._state_lock = threading.Lock()
        self._cancel = threading.Event()

    @property
    def ready(self) -> bool:
        """True once the scapy layers are imported: announcing will not wait for them."""
        return bool(self._layers)

    def warm(self) -> None:
        """Import the scapy layers now (idempotent, thread-safe), so a takeover need not wait."""
        with self._import_lock:
            if self._layers:
                return
            from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
            from scapy.layers.l2 import ARP, Ether

            self._layers.update(Ether=Ether, ARP=ARP, IPv6=IPv6, NA=ICMPv6ND_NA,
                                TLLA=ICMPv6NDOptDstLLAddr)

    def frames(self, ip: str, device: str, mac: str | None = None) -> list[bytes]:
        """The frames of one burst for one address (cached per address, device and MAC)."""
        mac = normal_mac(mac) if mac else device_mac(device)
        key = (ip, device, mac)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._build(ipaddress.ip_address(ip), mac)
        return cached

    def _build(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address,
               mac: str) -> list[bytes]:
        self.warm()
        layer = self._layers
        ip = str(address)
        if address.version == 4:
            request = (layer["Ether"](dst=BROADCAST_MAC, src=mac)
                       / layer["ARP"](op=1, hwsrc=mac, psrc=ip, hwdst=BROADCAST_MAC, pdst=ip))
            reply = (layer["Ether"](dst=BROADCAST_MAC, src=mac)
                     / layer["ARP"](op=2, hwsrc=mac, psrc=ip, hwdst=mac, pdst=ip))
            return [bytes(request).ljust(MIN_FRAME, b"\0"), bytes(reply).ljust(MIN_FRAME, b"\0")]
        advert = (layer["Ether"](dst=ALL_NODES_MAC, src=mac)
                  / layer["IPv6"](src=ip, dst=ALL_NODES, hlim=255)
                  / layer["NA"](R=0, S=0, O=1, tgt=ip)
                  / layer["TLLA"](lladdr=mac))
        return [bytes(advert)]

    def announce(self, ip: str, device: str, count: int | None = None,
                 interval: float | None = None, mac: str | None = None) -> None:
        """Send ``count`` bursts ``interval`` apart: the first now, the rest from a thread.

        The first burst's errors are raised (NetopsError), and then nothing is scheduled; the
        thread's errors are logged. ``stop`` cancels the bursts still pending.
        """
        count = self.count if count is None else count
        interval = self.interval if interval is None else interval
        if count < 1:
            return
        try:
            frames = self.frames(ip, device, mac)
        except ValueError as error:
            raise NetopsError(errno.EINVAL, f"announce {ip} on {device}", str(error)) from None
        sock = packet_socket(device)
        try:
            self._burst(sock, frames, ip, device)
        except BaseException:
            sock.close()
            raise
        if count == 1:
            sock.close()
            return
        with self._state_lock:
            cancel = self._cancel
        thread = threading.Thread(target=self._repeat, name=f"announce {ip}", daemon=True,
                                  args=(sock, frames, ip, device, count - 1, interval, cancel))
        thread.start()

    @staticmethod
    def _burst(sock: socket.socket, frames: list[bytes], ip: str, device: str) -> None:
        for frame in frames:
            try:
                sock.send(frame)
            except OSError as error:
                code = error.errno or errno.EIO
                raise NetopsError(code, f"announce {ip} on {device}") from None

    def _repeat(self, sock: socket.socket, frames: list[bytes], ip: str, device: str,
                remaining: int, interval: float, cancel: threading.Event) -> None:
        with sock:
            for _attempt in range(remaining):
                if cancel.wait(interval):
                    return
                try:
                    self._burst(sock, frames, ip, device)
                except NetopsError as error:
                    log.warning("%s", error)
                except Exception:  # never let a sender thread die with a traceback
                    log.exception("announce %s on %s", ip, device)

    def stop(self) -> None:
        """Cancel every pending burst (stand-down); later announcements are not affected."""
        with self._state_lock:
            self._cancel.set()
            self._cancel = threading.Event()


# --- ICMP echo --------------------------------------------------------------------------------


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _sockaddr(address: str) -> tuple[int, tuple[Any, ...]]:
    try:
        info = socket.getaddrinfo(address, None, socket.AF_UNSPEC, socket.SOCK_RAW, 0,
                                  socket.AI_NUMERICHOST)
    except socket.gaierror:
        raise NetopsError(errno.EINVAL, f"address {address!r}", "not an IP address") from None
    family, _type, _proto, _name, sockaddr = info[0]
    return family, sockaddr


def icmp_echo(address: str, timeout: float) -> bool:
    """One ICMP / ICMPv6 echo request; True if the matching reply arrived within ``timeout``.

    A reply matches on source address, identifier, sequence number and a random payload, so
    other pings on the host (a raw socket sees every echo reply) never count.
    """
    family, sockaddr = _sockaddr(address)
    v6 = family == socket.AF_INET6
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    request_type, reply_type = (128, 129) if v6 else (8, 0)
    ident, sequence, token = secrets.randbits(16), secrets.randbits(16), secrets.token_bytes(16)
    header = _ICMP_ECHO.pack(request_type, 0, 0, ident, sequence)
    if not v6:  # the kernel fills in the ICMPv6 checksum itself
        header = _ICMP_ECHO.pack(request_type, 0, _checksum(header + token), ident, sequence)
    expected = _ICMP_ECHO.pack(reply_type, 0, 0, ident, sequence)
    try:
        sock = socket.socket(family, socket.SOCK_RAW | socket.SOCK_CLOEXEC, proto)
    except OSError as error:
        raise NetopsError(error.errno or errno.EPERM, f"ICMP socket for {address}") from None
    deadline = time.monotonic() + timeout
    with sock:
        try:
            sock.sendto(header + token, sockaddr)
        except OSError as error:  # no route, no neighbour…: no answer
            log.debug("echo to %s: %s", address, error)
            return False
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                return False
            packet, source = sock.recvfrom(_RECV_BUFFER)
            if not v6:  # raw IPv4 sockets return the IP header too
                packet = packet[(packet[0] & 0x0F) * 4:]
            if (source[0].split("%")[0] == sockaddr[0].split("%")[0]
                    and packet[:2] == expected[:2] and packet[4:8] == expected[4:8]
                    and packet[8:] == token):
                return True


# --- ARP probe / neighbour solicitation -------------------------------------------------------


def _solicited_node(address: ipaddress.IPv6Address) -> tuple[bytes, bytes]:
    """(solicited-node multicast address, its Ethernet multicast MAC) of an IPv6 address."""
    tail = address.packed[13:]
    return b"\xff\x02" + b"\0" * 9 + b"\x01\xff" + tail, b"\x33\x33\xff" + tail


def _probe_frame(address: ipaddress.IPv4Address | ipaddress.IPv6Address, mac: bytes) -> bytes:
    if address.version == 4:  # RFC 5227: sender IP 0.0.0.0, target MAC zero
        arp = _ARP.pack(1, ETH_P_IP, 6, 4, 1, mac, b"\0" * 4, b"\0" * 6, address.packed)
        return (_ETHER.pack(b"\xff" * 6, mac, ETH_P_ARP) + arp).ljust(MIN_FRAME, b"\0")
    # RFC 4862 DAD-style solicitation: from ::, to the solicited-node group, no SLLA option;
    # the owner answers with an advertisement to ff02::1.
    group, group_mac = _solicited_node(address)
    solicitation = struct.pack("!BBHI", 135, 0, 0, 0) + address.packed
    pseudo = bytes(16) + group + struct.pack("!I3xB", len(solicitation), socket.IPPROTO_ICMPV6)
    checksum = _checksum(pseudo + solicitation)
    solicitation = solicitation[:2] + struct.pack("!H", checksum) + solicitation[4:]
    ipv6 = struct.pack("!IHBB", 6 << 28, len(solicitation), socket.IPPROTO_ICMPV6, 255)
    return _ETHER.pack(group_mac, mac, ETH_P_IPV6) + ipv6 + bytes(16) + group + solicitation


def _answer_mac(frame: bytes, address: ipaddress.IPv4Address | ipaddress.IPv6Address,
                own_mac: bytes) -> str | None:
    """The MAC of whoever claims ``address`` in this frame (not ourselves), else None."""
    source = frame[6:12]
    if source == own_mac:
        return None
    if address.version == 4:
        if len(frame) < 42 or _ETHER.unpack_from(frame)[2] != ETH_P_ARP:
            return None
        _hw, proto, _hl, _pl, _op, sender_mac, sender_ip, _tm, _ti = _ARP.unpack_from(frame, 14)
        # RFC 5227: any ARP whose sender IP is the address is a conflict (a reply, or the
        # owner's own gratuitous ARP).
        if proto == ETH_P_IP and sender_ip == address.packed:
            return ":".join(f"{b:02x}" for b in sender_mac)
        return None
    icmp = 14 + 40
    if (len(frame) < icmp + 24 or _ETHER.unpack_from(frame)[2] != ETH_P_IPV6
            or frame[20] != socket.IPPROTO_ICMPV6 or frame[icmp] != 136
            or frame[icmp + 8:icmp + 24] != address.packed):
        return None
    offset = icmp + 24  # options: type 2 = target link-layer address
    while offset + 8 <= len(frame) and frame[offset + 1]:
        if frame[offset] == 2:
            source = frame[offset + 2:offset + 8]
            break
        offset += frame[offset + 1] * 8
    return ":".join(f"{b:02x}" for b in source)


def arp_probe(ip: str, device: str, timeout: float) -> str | None:
    """Who holds ``ip`` on the device's link? The answering MAC, or None within ``timeout``.

    IPv4: an RFC 5227 ARP probe (sender IP 0.0.0.0, so no neighbour's cache learns anything).
    IPv6: a DAD-style neighbour solicitation (from ::); the owner answers with an advertisement
    to all nodes. A host that holds the address only tentatively, or that ignores solicitations
    from ::, does not answer, and the result is None: absence of an answer proves nothing.
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        raise NetopsError(errno.EINVAL, f"address {ip!r}") from None
    own_mac = mac_bytes(device_mac(device))
    protocol = ETH_P_ARP if address.version == 4 else ETH_P_IPV6
    deadline = time.monotonic() + timeout
    with packet_socket(device, protocol) as sock:
        try:
            sock.send(_probe_frame(address, own_mac))
        except OSError as error:
            raise NetopsError(error.errno or errno.EIO, f"probe {ip} on {device}") from None
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                return None
            answer = _answer_mac(sock.recv(_RECV_BUFFER), address, own_mac)
            if answer:
                return answer
