# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Announcements: gratuitous ARP (IPv4) and unsolicited neighbour advertisements (IPv6).

The frames are built with scapy, imported lazily and layers only (a full ``scapy.all`` import
takes seconds in a lab guest), cached per address, device and MAC, then sent as bytes over an
AF_PACKET socket, which is much faster than scapy's ``sendp``.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import threading
from typing import Any

from .netops_base import (
    BROADCAST_MAC,
    MIN_FRAME,
    NetopsError,
    device_mac,
    normal_mac,
    packet_socket,
)

log = logging.getLogger("lvs_agents.netops")

ALL_NODES = "ff02::1"
ALL_NODES_MAC = "33:33:00:00:00:01"


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
