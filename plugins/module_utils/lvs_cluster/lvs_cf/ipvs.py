# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPVS state an lvs.cf implies: what Piranha's lvsd and nanny would have programmed once
every real server passed its health check and finished its slow start (the steady state).

The one translation from lvs.cf to IPVS, shared by the IPVS engine and the agents:

* only ``active = 1`` virtual blocks, and in them only ``active = 1`` servers; ``failover``
  blocks and ``service = fos`` files imply no IPVS services;
* a virtual with ``fwmark`` is keyed by the mark (and the family of its address);
* ``persistent > 0`` sets the persistent flag and timeout; ``pmask`` sets the netmask (Piranha
  ignored 255.255.255.255 and 0.0.0.0, which leave per-client persistence);
* forwarding is the server's ``forwarding`` (extension) or the global ``network``;
* the weight is the configured weight (Piranha's slow start begins at ``weight >> 5`` and its
  load adjustment may go up to 10x; neither is the steady state), and weight 0 is 1, as nanny
  made it; a server with ``drain = 1`` (extension) is at weight 0;
* the real port is the server's ``port``, except for direct routing and tunnelling without
  fwmark, where ipvsadm forces it to the virtual port;
* the sorry server is not part of the steady state: it stands in only while no real server is
  healthy (``sorry_destination``).
"""

from __future__ import annotations

from ..ipvs.model import Destination, Service
from ..vocabulary import family_of, netmask_prefix_length
from .errors import LvsCfError
from .model import LvsConfig, RealServer, VirtualService


def _netmask(virtual: VirtualService) -> int | None:
    pmask = virtual.pmask
    if virtual.persistent <= 0 or pmask is None:
        return None
    if isinstance(pmask, int):
        return pmask
    if pmask == "0.0.0.0":  # Piranha passed -M only for a non-zero mask
        return None
    return netmask_prefix_length(pmask)  # the parser accepts contiguous masks only


def service_for_virtual(virtual: VirtualService) -> Service:
    """The IPVS service of a ``virtual`` block (active or not)."""
    if virtual.address is None:
        raise LvsCfError("missing", key="address", block=f"virtual {virtual.name}")
    family = family_of(virtual.address.ip)
    flags = set(virtual.scheduler_flags)
    if virtual.persistent > 0:
        flags.add("persistent")
    options = {
        "scheduler": virtual.scheduler,
        "flags": frozenset(flags),
        "timeout": max(virtual.persistent, 0),
        "netmask": _netmask(virtual),
    }
    if virtual.fwmark is not None:
        return Service(family, None, None, None, fwmark=virtual.fwmark, **options)
    return Service(family, virtual.protocol, virtual.address.ip, virtual.port, **options)


def forwarding_for_server(server: RealServer, config: LvsConfig) -> str:
    """``nat``, ``direct`` or ``tunnel``: the server's override or the global ``network``."""
    return server.forwarding or config.network


def destination_port(virtual: VirtualService, server: RealServer, config: LvsConfig) -> int:
    """The real port IPVS ends up with: the server's port, or the virtual port for direct
    routing and tunnelling without fwmark (ipvsadm forces it there)."""
    forwarding = forwarding_for_server(server, config)
    if forwarding in ("direct", "tunnel") and virtual.fwmark is None:
        return virtual.port
    return server.port if server.port is not None else virtual.port


def destination_for_server(virtual: VirtualService, server: RealServer,
                           config: LvsConfig) -> Destination:
    """The IPVS destination of a healthy ``server`` at full weight: 0 while it drains."""
    if server.address is None:
        raise LvsCfError("missing", key="address",
                         block=f"virtual {virtual.name}: server {server.name}")
    return Destination(
        address=server.address,
        port=destination_port(virtual, server, config),
        forwarding=forwarding_for_server(server, config),
        weight=0 if server.drain else max(server.weight, 1),
    )


def sorry_destination(virtual: VirtualService, config: LvsConfig) -> Destination | None:
    """The destination that stands in while no real server of ``virtual`` is healthy: the
    ``sorry_server`` on the virtual port, with the global forwarding method and weight 1
    (Piranha's lvsd), or None without a sorry server."""
    if virtual.sorry_server is None:
        return None
    return Destination(address=virtual.sorry_server, port=virtual.port,
                       forwarding=config.network, weight=1)


def desired_ipvs(config: LvsConfig) -> dict[Service, tuple[Destination, ...]]:
    """Every IPVS service the configuration implies, with its destinations, in file order."""
    table: dict[Service, tuple[Destination, ...]] = {}
    if config.service != "lvs":
        return table
    seen: dict[object, str] = {}
    for virtual in config.virtuals:
        if not virtual.active:
            continue
        service = service_for_virtual(virtual)
        if service.key in seen:
            raise LvsCfError(f"the same IPVS service as virtual '{seen[service.key]}'",
                             key="address", block=f"virtual {virtual.name}")
        seen[service.key] = virtual.name
        destinations: dict[object, Destination] = {}
        for server in virtual.servers:
            if not server.active:
                continue
            destination = destination_for_server(virtual, server, config)
            if destination.key in destinations:
                raise LvsCfError("the same IPVS destination as another active server",
                                 key="address", block=f"virtual {virtual.name}: "
                                                      f"server {server.name}")
            destinations[destination.key] = destination
        table[service] = tuple(destinations.values())
    return table
