"""The lab topology: a small declarative file naming guests, networks, addresses and groups.

Parsing is strict: every mistake is reported as a TopologyError naming the file and the field.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import LabError
from .image import DEFAULT_RELEASE, RELEASES

GUEST_NAME = re.compile(r"^[a-z][a-z0-9-]{0,9}$")
NETWORK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,14}$")
LAB_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
MEMORY = re.compile(r"^[1-9][0-9]*[MG]$")
MAX_NICS = 4


class TopologyError(LabError):
    """A topology file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Network:
    name: str
    subnet: ipaddress.IPv4Network
    controller: ipaddress.IPv4Address | None  # the lab namespace's own address on this bridge


@dataclass(frozen=True)
class Nic:
    network: str
    address: ipaddress.IPv4Interface  # address with the network's prefix length

    @property
    def ip(self) -> str:
        return str(self.address.ip)


@dataclass(frozen=True)
class Route:
    """A static route a guest sets at boot: ``to`` (``default`` or a network) via ``via``."""

    to: str
    via: ipaddress.IPv4Address


@dataclass(frozen=True)
class Guest:
    name: str
    index: int  # 1-based, stable order of the file; used for MACs and tap names
    nics: tuple[Nic, ...]
    groups: tuple[str, ...]
    memory: str
    release: str = DEFAULT_RELEASE  # the Debian release of its image (bookworm, trixie)
    routes: tuple[Route, ...] = ()

    def mac(self, nic_index: int) -> str:
        return f"52:54:00:fe:{self.index:02x}:{nic_index:02x}"

    def tap(self, nic_index: int) -> str:
        return f"lt{self.index}n{nic_index}"


@dataclass(frozen=True)
class Topology:
    name: str
    source: str
    networks: dict[str, Network]
    guests: tuple[Guest, ...] = field(default_factory=tuple)

    @property
    def releases(self) -> tuple[str, ...]:
        """The Debian releases its guests boot, each once, in the order of the file."""
        return tuple(dict.fromkeys(g.release for g in self.guests))

    def guest(self, name: str) -> Guest:
        for guest in self.guests:
            if guest.name == name:
                return guest
        known = ", ".join(g.name for g in self.guests)
        raise TopologyError(f"{self.source}: no guest named {name!r} (guests: {known})")

    def ssh_address(self, guest: Guest) -> str:
        """The address the controller reaches a guest on: its first NIC on a controller network."""
        for nic in guest.nics:
            if self.networks[nic.network].controller is not None:
                return nic.ip
        raise TopologyError(f"{self.source}: guest {guest.name!r} has no NIC on a network with "
                            "a controller address, so it cannot be reached over SSH")


def _require(mapping: Any, where: str, source: str) -> dict[str, Any]:
    if not isinstance(mapping, dict):
        raise TopologyError(f"{source}: {where}: expected a mapping, got {type(mapping).__name__}")
    return mapping


def _no_unknown(mapping: dict[str, Any], allowed: set[str], where: str, source: str) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise TopologyError(f"{source}: {where}: unknown key {unknown[0]!r} "
                            f"(allowed: {', '.join(sorted(allowed))})")


def _parse_network(name: str, raw: Any, source: str) -> Network:
    where = f"networks.{name}"
    if not isinstance(name, str) or not NETWORK_NAME.match(name):
        raise TopologyError(f"{source}: {where}: network names are 1-15 of [a-z0-9_], "
                            "starting with a letter")
    body = _require(raw, where, source)
    _no_unknown(body, {"subnet", "controller"}, where, source)
    try:
        subnet = ipaddress.IPv4Network(str(body.get("subnet")), strict=True)
    except ValueError as exc:
        raise TopologyError(f"{source}: {where}.subnet: {exc}") from None
    if not subnet.is_private or subnet.prefixlen < 16 or subnet.prefixlen > 29:
        raise TopologyError(f"{source}: {where}.subnet: {subnet} must be a private IPv4 "
                            "network between /16 and /29, so lab addresses never shadow real ones")
    controller = None
    if body.get("controller") is not None:
        controller = _address_in(body["controller"], subnet, f"{where}.controller", source)
    return Network(name=name, subnet=subnet, controller=controller)


def _address_in(value: Any, subnet: ipaddress.IPv4Network, where: str,
                source: str) -> ipaddress.IPv4Address:
    try:
        address = ipaddress.IPv4Address(str(value))
    except ValueError as exc:
        raise TopologyError(f"{source}: {where}: {exc}") from None
    if address not in subnet or address in (subnet.network_address, subnet.broadcast_address):
        raise TopologyError(f"{source}: {where}: {address} is not a host address of {subnet}")
    return address


def _release(value: Any, where: str, source: str) -> str:
    if not isinstance(value, str) or value not in RELEASES:
        raise TopologyError(f"{source}: {where}: {value!r} is not a Debian release the lab "
                            f"builds ({', '.join(RELEASES)})")
    return value


def _parse_guest(name: str, index: int, raw: Any, networks: dict[str, Network], memory: str,
                 source: str, release: str = DEFAULT_RELEASE) -> Guest:
    where = f"guests.{name}"
    if not isinstance(name, str) or not GUEST_NAME.match(name):
        raise TopologyError(f"{source}: {where}: guest names are 1-10 of [a-z0-9-], "
                            "starting with a letter")
    body = _require(raw, where, source)
    _no_unknown(body, {"nics", "groups", "memory", "release", "routes"}, where, source)
    raw_nics = body.get("nics")
    if not isinstance(raw_nics, list) or not 1 <= len(raw_nics) <= MAX_NICS:
        raise TopologyError(f"{source}: {where}.nics: expected a list of 1-{MAX_NICS} NICs")
    nics = []
    for n, raw_nic in enumerate(raw_nics):
        nic_where = f"{where}.nics[{n}]"
        nic = _require(raw_nic, nic_where, source)
        _no_unknown(nic, {"network", "address"}, nic_where, source)
        network = networks.get(nic.get("network"))
        if network is None:
            raise TopologyError(f"{source}: {nic_where}.network: unknown network "
                                f"{nic.get('network')!r} (networks: {', '.join(networks)})")
        address = _address_in(nic.get("address"), network.subnet, f"{nic_where}.address", source)
        nics.append(Nic(network=network.name,
                        address=ipaddress.IPv4Interface(f"{address}/{network.subnet.prefixlen}")))
    groups = body.get("groups", [])
    if not isinstance(groups, list) or not all(
            isinstance(g, str) and NETWORK_NAME.match(g) for g in groups):
        raise TopologyError(f"{source}: {where}.groups: expected a list of group names "
                            "([a-z0-9_], starting with a letter)")
    guest_memory = str(body.get("memory", memory))
    if not MEMORY.match(guest_memory):
        raise TopologyError(f"{source}: {where}.memory: {guest_memory!r} is not like 256M or 1G")
    guest_release = _release(body.get("release", release), f"{where}.release", source)
    routes = _parse_routes(body.get("routes", []), nics, f"{where}.routes", source)
    return Guest(name=name, index=index, nics=tuple(nics), groups=tuple(groups),
                 memory=guest_memory, release=guest_release, routes=routes)


def _parse_routes(raw: Any, nics: list[Nic], where: str, source: str) -> tuple[Route, ...]:
    """Static routes, each ``{to: default | NETWORK, via: ADDRESS}`` with the gateway on one of
    the guest's own networks."""
    if not isinstance(raw, list):
        raise TopologyError(f"{source}: {where}: expected a list of {{to, via}}")
    routes = []
    for n, item in enumerate(raw):
        route_where = f"{where}[{n}]"
        body = _require(item, route_where, source)
        _no_unknown(body, {"to", "via"}, route_where, source)
        to = str(body.get("to"))
        if to != "default":
            try:
                to = str(ipaddress.IPv4Network(to, strict=True))
            except ValueError as exc:
                raise TopologyError(f"{source}: {route_where}.to: {exc} (or 'default')") from None
        try:
            via = ipaddress.IPv4Address(str(body.get("via")))
        except ValueError as exc:
            raise TopologyError(f"{source}: {route_where}.via: {exc}") from None
        if not any(via in nic.address.network for nic in nics):
            raise TopologyError(f"{source}: {route_where}.via: {via} is on none of the guest's "
                                "networks")
        routes.append(Route(to, via))
    return tuple(routes)


def parse_topology(data: Any, source: str) -> Topology:
    body = _require(data, "top level", source)
    _no_unknown(body, {"name", "memory", "release", "networks", "guests"}, "top level", source)
    name = body.get("name")
    if not isinstance(name, str) or not LAB_NAME.match(name):
        raise TopologyError(f"{source}: name: the lab name (also its network namespace) is "
                            "1-32 of [a-z0-9_-], starting with a letter")
    memory = str(body.get("memory", "256M"))
    if not MEMORY.match(memory):
        raise TopologyError(f"{source}: memory: {memory!r} is not like 256M or 1G")
    release = _release(body.get("release", DEFAULT_RELEASE), "release", source)
    raw_networks = _require(body.get("networks"), "networks", source)
    networks = {n: _parse_network(n, raw, source) for n, raw in raw_networks.items()}
    if not networks:
        raise TopologyError(f"{source}: networks: at least one network is needed")
    subnets = list(networks.values())
    for i, a in enumerate(subnets):
        for b in subnets[i + 1:]:
            if a.subnet.overlaps(b.subnet):
                raise TopologyError(f"{source}: networks.{b.name}.subnet: {b.subnet} overlaps "
                                    f"networks.{a.name} ({a.subnet})")
    raw_guests = _require(body.get("guests"), "guests", source)
    if not raw_guests:
        raise TopologyError(f"{source}: guests: at least one guest is needed")
    guests = tuple(_parse_guest(g, i + 1, raw, networks, memory, source, release)
                   for i, (g, raw) in enumerate(raw_guests.items()))
    topology = Topology(name=name, source=source, networks=networks, guests=guests)
    seen: dict[str, str] = {str(n.controller): f"networks.{n.name}.controller"
                            for n in networks.values() if n.controller}
    for guest in guests:
        for n, nic in enumerate(guest.nics):
            where = f"guests.{guest.name}.nics[{n}].address"
            if nic.ip in seen:
                raise TopologyError(
                    f"{source}: {where}: {nic.ip} is already used by {seen[nic.ip]}")
            seen[nic.ip] = where
        topology.ssh_address(guest)
    return topology


def load_topology(path: Path) -> Topology:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TopologyError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TopologyError(f"{path}: not valid YAML: {exc}") from None
    return parse_topology(data, str(path))
