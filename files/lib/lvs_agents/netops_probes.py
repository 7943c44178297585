# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tie-breaker's probes: ICMP / ICMPv6 echo, and the ARP probe (IPv6: a DAD-style neighbour
solicitation) that asks who holds a VIP. Their few bytes are packed with ``struct``: they must
not wait for scapy or pyroute2.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import select
import socket
import struct
import time
from typing import Any

from .netops_base import (
    ETH_P_ARP,
    ETH_P_IP,
    ETH_P_IPV6,
    MIN_FRAME,
    RECV_BUFFER,
    NetopsError,
    checksum,
    device_mac,
    mac_bytes,
    packet_socket,
)

log = logging.getLogger("lvs_agents.netops")

_ETHER = struct.Struct("!6s6sH")
_ARP = struct.Struct("!HHBBH6s4s6s4s")
_ICMP_ECHO = struct.Struct("!BBHHH")


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
    import secrets  # noqa: PLC0415 - with hmac, hashlib, random: for echoes only, not at start-up

    ident, sequence, token = secrets.randbits(16), secrets.randbits(16), secrets.token_bytes(16)
    header = _ICMP_ECHO.pack(request_type, 0, 0, ident, sequence)
    if not v6:  # the kernel fills in the ICMPv6 checksum itself
        header = _ICMP_ECHO.pack(request_type, 0, checksum(header + token), ident, sequence)
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
            packet, source = sock.recvfrom(RECV_BUFFER)
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
    digest = checksum(pseudo + solicitation)
    solicitation = solicitation[:2] + struct.pack("!H", digest) + solicitation[4:]
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
            answer = _answer_mac(sock.recv(RECV_BUFFER), address, own_mac)
            if answer:
                return answer
