# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the netops modules share: the error, the address spec, MAC addresses, packet sockets.

Standard library only: ``send_arp`` and the probes import this without pyroute2 or scapy.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass

ETH_P_ALL, ETH_P_IP, ETH_P_ARP, ETH_P_IPV6 = 0x0003, 0x0800, 0x0806, 0x86DD
BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
MIN_FRAME = 60  # Ethernet minimum without FCS; short ARP frames are padded, as Piranha did
RECV_BUFFER = 1 << 16


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


def _sysfs(device: str, name: str) -> str:
    if not device or "/" in device or device in (".", ".."):
        raise NetopsError(errno.ENODEV, f"device {device!r}")
    try:
        with open(f"/sys/class/net/{device}/{name}") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        raise NetopsError(errno.ENODEV, f"device {device}") from None
    except OSError as error:
        raise NetopsError(error.errno or errno.EIO, f"device {device} {name}") from None


def device_mac(device: str) -> str:
    """The device's hardware address, ``aa:bb:cc:dd:ee:ff``.

    Read from ``/sys/class/net`` (the namespace whose sysfs is mounted: ``ip netns exec``
    remounts it): two system calls, no netlink round trip, no pyroute2 - it is on the
    announcement path of every takeover and of the ``send_arp`` command.
    """
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


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
