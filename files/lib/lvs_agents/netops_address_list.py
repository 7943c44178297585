# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's addresses, read with one rtnetlink dump over the core's netlink framing.

Reading is on pulse's path to its first heartbeat (which addresses make it primary or backup,
whether it still holds every VIP after a restart). Importing pyroute2 costs 1.4 s in a lab
guest (``python3 -X importtime``, 2026-12-06), as long as a restarted pulse can stay silent
before its peer's deadtime ends; this dump costs a socket and a few ``struct`` calls. Changes
(adding, removing addresses) stay with pyroute2 in ``netops_addresses``, warmed in a thread
after the first heartbeat.
"""

from __future__ import annotations

import errno
import socket
import struct
from typing import NamedTuple

from lvs_cluster.netlink import (
    NLM_F_DUMP,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    RECV_BUFFER,
    error_code,
    ip_text,
    message,
    messages,
    parse_attrs,
)

from .netops_base import NetopsError

NETLINK_ROUTE = 0
RTM_NEWADDR, RTM_GETADDR = 20, 22
NLM_F_DUMP_INTR = 0x10
IFA_ADDRESS, IFA_LOCAL = 1, 2
IFADDRMSG = struct.Struct("=BBBBI")  # family, prefix length, flags, scope, interface index
DUMP_ATTEMPTS = 3  # a dump the kernel marks interrupted (addresses changed meanwhile) is redone


class HostAddress(NamedTuple):
    address: str  # canonical text
    prefix: int
    index: int  # the interface's index


def host_addresses(family: int = socket.AF_UNSPEC) -> list[HostAddress]:
    """Every address of ``family`` (IPv4 and IPv6 by default) on this host: IFA_LOCAL for IPv4
    (IFA_ADDRESS is the far end on a point-to-point link), IFA_ADDRESS for IPv6."""
    for _attempt in range(DUMP_ATTEMPTS):
        found, interrupted = _dump(family)
        if not interrupted:
            break
    return found


def _dump(family: int) -> tuple[list[HostAddress], bool]:
    found: list[HostAddress] = []
    interrupted = False
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                           NETLINK_ROUTE) as sock:
            sock.bind((0, 0))
            sock.send(message(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1,
                              IFADDRMSG.pack(family, 0, 0, 0, 0)))
            while True:
                view = memoryview(sock.recv(RECV_BUFFER))
                for kind, flags, _seq, body in messages(view):
                    interrupted = interrupted or bool(flags & NLM_F_DUMP_INTR)
                    if kind == NLMSG_DONE:
                        return found, interrupted
                    if kind == NLMSG_ERROR and error_code(body):
                        raise NetopsError(error_code(body), "address dump")
                    if kind == RTM_NEWADDR and len(body) >= IFADDRMSG.size:
                        entry = _entry(body)
                        if entry is not None:
                            found.append(entry)
    except NetopsError:
        raise
    except OSError as error:
        raise NetopsError(error.errno or errno.EIO, "address dump") from None


def _entry(body: memoryview) -> HostAddress | None:
    family, prefix, _flags, _scope, index = IFADDRMSG.unpack_from(body)
    if family not in (socket.AF_INET, socket.AF_INET6):
        return None
    attrs = parse_attrs(body[IFADDRMSG.size:])
    value = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
    if value is None or len(value) < (4 if family == socket.AF_INET else 16):
        return None
    return HostAddress(ip_text(value, family), prefix, index)
