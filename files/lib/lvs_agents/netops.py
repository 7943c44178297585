# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network actions pulse needs: VIP addresses, link state, gratuitous ARP/NA, echo, probe.

This module is the narrow interface pulse uses (the tests inject a recording stand-in instead);
the work is done by one module per job:

* ``netops_addresses``: addresses and link state over rtnetlink: changes with pyroute2's
  ``IPRoute`` (imported lazily; one socket per process, opened on first use or by ``warm``
  and kept), reads with one dump of our own (``netops_address_list``: no pyroute2 import on
  pulse's path to its first heartbeat);
* ``netops_announce``: gratuitous ARP / unsolicited neighbour advertisements (``Announcer``),
  frames built with scapy's layers (imported lazily), sent over an AF_PACKET socket;
* ``netops_probes``: the tie-breaker's ICMP echo and ARP probe, packed with ``struct``;
* ``netops_base``: the error, the address spec, MAC addresses and packet sockets.

They are modules beside this one, not a ``netops/`` package: the router bundle
(``roles/router/files/build_bundle.py``) and the lab's deploy copy ``lvs_agents/*.py`` only.

The IPVS table is not here: it goes over the core's own generic-netlink codec
(``lvs_cluster.ipvs``), see docs/agents.md for why not pyroute2's.
"""

from __future__ import annotations

from .netops_addresses import (
    ensure_address,
    has_address,
    link_is_up,
    local_addresses,
    remove_address,
    warm,
)
from .netops_announce import Announcer
from .netops_base import (
    AddressSpec,
    NetopsError,
    device_mac,
    mac_bytes,
    normal_mac,
    packet_socket,
)
from .netops_probes import arp_probe, icmp_echo

__all__ = [
    "AddressSpec",
    "Announcer",
    "NetopsError",
    "arp_probe",
    "device_mac",
    "ensure_address",
    "has_address",
    "icmp_echo",
    "link_is_up",
    "local_addresses",
    "mac_bytes",
    "normal_mac",
    "packet_socket",
    "remove_address",
    "warm",
]
