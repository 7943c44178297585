# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""VIP addresses and link state over rtnetlink: changes with pyroute2's ``IPRoute``, reads
with one dump of our own (``netops_address_list``).

* Reading (``local_addresses``, ``has_address``) never loads pyroute2: pulse reads before its
  first heartbeat, and importing pyroute2 costs 1.4 s in a lab guest.
* One ``IPRoute`` socket per process for changes and link state, created on first use or by
  ``warm`` (pulse calls it from a helper thread after its first heartbeat, so a takeover never
  pays for importing pyroute2 or opening the socket). Calls are serialised by a lock: pulse
  calls from its main loop, a test or a helper thread may call too.
* pyroute2 is imported here only, lazily: ``send_arp`` and the probes never load it.
* It asks the kernel for extended acknowledgements; a kernel error becomes ``NetopsError``
  naming the address or device, with the kernel's own text when it sends one.
* The socket joins no multicast group: nothing arrives on it but replies.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from .netops_address_list import host_addresses
from .netops_base import AddressSpec, NetopsError

IFA_F_NODAD = 0x02
IFF_UP = 0x1
IFNAMSIZ = 16

_lock = threading.RLock()
_iproute: Any = None  # the process's IPRoute, once created


class _NotImportedYet(Exception):
    """Stands for pyroute2's NetlinkError until pyroute2 is imported (nothing raises it)."""


_netlink_error: type[Exception] = _NotImportedYet  # pyroute2's NetlinkError, once imported


def _socket() -> Any:
    """The process's IPRoute, created (and pyroute2 imported) on first use."""
    global _iproute, _netlink_error
    if _iproute is None:
        from pyroute2.iproute.linux import IPRoute  # noqa: PLC0415 - lazy, costs start-up time
        from pyroute2.netlink.exceptions import NetlinkError  # noqa: PLC0415

        _netlink_error = NetlinkError
        _iproute = IPRoute(ext_ack=True)
    return _iproute


def warm() -> None:
    """Import pyroute2 and open the socket now (idempotent), so no later call waits for it."""
    with _lock:
        _socket()


def close() -> None:
    """Close the socket (the next call opens a new one)."""
    global _iproute
    with _lock:
        if _iproute is not None:
            try:
                _iproute.close()
            finally:
                _iproute = None


def _call(what: str, operation: Callable[[Any], Any]) -> Any:
    """``operation(ipr)`` under the lock; netlink and socket errors become NetopsError."""
    with _lock:
        ipr = _socket()
        try:
            return operation(ipr)
        except _netlink_error as error:
            code = getattr(error, "code", 0) or errno.EIO
            text = str(error.args[1]) if len(error.args) > 1 else ""
            raise NetopsError(code, what, "" if text == os.strerror(code) else text) from None
        except OSError as error:  # the socket itself failed: start afresh next time
            close()
            raise NetopsError(error.errno or errno.EIO, what) from None


def _device_index(device: str) -> int:
    try:
        return socket.if_nametoindex(device)
    except OSError:
        raise NetopsError(errno.ENODEV, f"device {device}") from None


def _address(spec: AddressSpec) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The spec's address, or NetopsError(EINVAL) naming it."""
    try:
        address = ipaddress.ip_address(spec.ip)
    except ValueError:
        raise NetopsError(errno.EINVAL, f"address {spec.ip!r} on {spec.device}") from None
    if not 0 <= spec.prefix <= address.max_prefixlen:
        raise NetopsError(errno.EINVAL, f"prefix length {spec.prefix} of {spec.ip}")
    return address


def _family(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int:
    return socket.AF_INET if address.version == 4 else socket.AF_INET6


def local_addresses() -> dict[str, str]:
    """Every address of this host, secondaries and alias labels included, in canonical text ->
    its interface (Piranha's SIOCGIFADDR saw only each interface's first address)."""
    found: dict[str, str] = {}
    for entry in host_addresses():
        try:
            device = socket.if_indextoname(entry.index)
        except OSError:
            device = ""
        found[entry.address] = device
    return found


def _present(address: ipaddress.IPv4Address | ipaddress.IPv6Address, prefix: int,
             index: int) -> bool:
    return any(entry.index == index and entry.prefix == prefix
               and ipaddress.ip_address(entry.address) == address
               for entry in host_addresses(_family(address)))


def has_address(spec: AddressSpec) -> bool:
    """True when the device holds the address with that prefix length (whatever its label)."""
    address = _address(spec)
    return _present(address, spec.prefix, _device_index(spec.device))


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
    added with IFA_F_NODAD, so a VIP taken over is usable at once instead of after DAD, and
    with a preferred lifetime of 0 (deprecated, valid forever): it is still answered, announced
    and served, but never chosen as the source of this host's own connections (RFC 6724 rule
    3). Otherwise a VIP in the subnet of the device's own address, being its newest address,
    would be the source of lvsd's checks, and a direct-routing real server, which holds the VIP
    itself, would answer them to its own lo: every check fails. (IPv4 has no such choice: the
    kernel takes a device's primary address, and VIPs are secondaries.)
    One request (create, exclusive): only when the kernel answers EEXIST is the device's
    address list read, so a takeover costs one round trip.
    """
    address = _address(spec)
    _check_label(spec)
    index = _device_index(spec.device)
    fields: dict[str, Any] = {"index": index, "address": str(address), "prefixlen": spec.prefix}
    if address.version == 6:
        fields["flags"] = IFA_F_NODAD  # a VIP moving between routers: no DAD delay
        fields["preferred"] = 0  # deprecated: never the source of our own connections
    else:
        if spec.prefix < 31:  # what ifconfig (Piranha) and `ip addr add … brd +` set
            network = ipaddress.ip_network(f"{address}/{spec.prefix}", strict=False)
            fields["broadcast"] = str(network.broadcast_address)
        if spec.label:
            fields["label"] = spec.label
    try:
        _call(f"add {spec.describe()}", lambda ipr: ipr.addr("add", **fields))
    except NetopsError as error:
        # Already there (another agent, or ours), or IPv6 with another prefix length: only the
        # former is what was asked for.
        if error.errno == errno.EEXIST and _present(address, spec.prefix, index):
            return False
        raise
    return True


def remove_address(spec: AddressSpec) -> bool:
    """Delete the address (matched by address and prefix, not label); True if it was there.

    With IPv4, deleting a device's *primary* address of a subnet also deletes its secondaries
    unless ``net.ipv4.conf.DEV.promote_secondaries`` is 1; VIPs are normally secondaries.
    """
    address = _address(spec)
    index = _device_index(spec.device)
    try:
        _call(f"remove {spec.describe()}", lambda ipr: ipr.addr(
            "del", index=index, address=str(address), prefixlen=spec.prefix))
    except NetopsError as error:
        if error.errno == errno.EADDRNOTAVAIL:
            return False
        raise
    return True


def link_is_up(device: str) -> bool:
    """Administratively up and carrier present (Piranha's monitor_links); missing -> False."""
    if not device or "/" in device:
        return False
    try:
        index = socket.if_nametoindex(device)
        links = _call(f"device {device}", lambda ipr: ipr.get_links(index))
    except (NetopsError, OSError):
        return False
    return any(link["flags"] & IFF_UP and link.get("carrier") == 1 for link in links)
