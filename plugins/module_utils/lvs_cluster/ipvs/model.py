# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPVS model of lvs.cluster: virtual services and their destinations (real servers) as
immutable values, identity apart from options, and no counters.

Identity (what ipvsadm's ``-t/-u/--sctp-service/-f`` and ``-r`` name) is ``Service.key`` and
``Destination.key``; everything else is an option that can be edited in place.

Representation choices:

* addresses are canonical text (``str(ipaddress.ip_address(...))``);
* ``Service.netmask`` (persistence granularity) is a prefix length for both families; the full
  length (32 or 128, the kernel's default, i.e. per-client persistence) is stored as None;
* ``Service.timeout`` is the persistence timeout in seconds, 0 when not persistent;
* forwarding methods are ``nat`` (masquerading, ipvsadm -m), ``direct`` (gatewaying, -g),
  ``tunnel`` (ipip, -i) and ``local``.

Constructors check their values and raise ValueError for an inconsistent object. They accept
whatever the kernel can hold, since the table read back is made of the same values; what the
kernel refuses or gets wrong in a declared object is ``input_rules``' job. The codec builds the
objects it reads from the kernel with ``from_kernel``: its values are canonical by construction,
and checking 100,000 of them again was most of what reading a large table cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .. import vocabulary
from ..vocabulary import FAMILIES, PROTOCOLS, SERVICE_FLAGS, TUNNEL_FLAGS, TUNNEL_TYPES
from ..vocabulary import FORWARDING as FORWARDING_METHODS
from .input_rules import zone_problem

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time (start-up)
if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T")

MAX_FWMARK = 0xFFFFFFFF


def canonical_address(address: str) -> tuple[str, str] | None:
    """(canonical text, family) of an IP literal as Python reads it, or None (the parse is
    vocabulary's, cached: large tables name the same real servers many times)."""
    parsed = vocabulary.parsed_ip(address)
    if parsed is None:
        return None
    return str(parsed), "inet" if parsed.version == 4 else "inet6"


def _canonical_address(address: str, family: str | None, what: str) -> str:
    """The canonical text of ``address``, which must be of ``family`` (None: either)."""
    zone = zone_problem(address)  # Python reads it, the kernel's 16 bytes have no room for it
    if zone:
        raise ValueError(f"{what}: {zone}")
    found = canonical_address(address)
    if found is None:
        raise ValueError(f"{what}: invalid IP address {address!r}")
    if family is not None and found[1] != family:
        raise ValueError(f"{what}: {address} is not an {family} address")
    return found[0]


def _unchecked(cls: type[T], fields: dict[str, Any]) -> T:
    """An instance of the frozen dataclass ``cls`` with ``fields`` (all of them), unchecked."""
    instance = object.__new__(cls)
    object.__setattr__(instance, "__dict__", fields)
    return instance


def _check_port(port: object, what: str) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"{what}: port 0-65535 expected, got {port!r}")


def _check_choices(values: frozenset[str], choices: tuple[str, ...], what: str) -> None:
    unknown = sorted(values - set(choices))
    if unknown:
        raise ValueError(f"{what}: unknown {', '.join(unknown)} (expected {', '.join(choices)})")


@dataclass(frozen=True)
class ServiceKey:
    """What identifies a virtual service: (family, protocol, address, port) or (family, fwmark).

    Its hash is computed once: lvsd looks its members up by keys holding a service's key,
    10,000 times a second at 10,000 virtuals, and the generated ``__hash__`` hashed the five
    fields each time (under User-Mode Linux a third of lvsd's steady CPU)."""

    __slots__ = ("family", "protocol", "address", "port", "fwmark", "_hash")
    family: str
    protocol: str | None
    address: str | None
    port: int | None
    fwmark: int | None

    def __hash__(self) -> int:
        try:
            return self._hash  # type: ignore[no-any-return]
        except AttributeError:
            value = hash((self.family, self.protocol, self.address, self.port, self.fwmark))
            object.__setattr__(self, "_hash", value)
            return value

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:  # slots and frozen: by fields
        return ServiceKey, (self.family, self.protocol, self.address, self.port, self.fwmark)


@dataclass(frozen=True)
class Service:
    """One IPVS virtual service: its identity fields, then its options."""

    family: str
    protocol: str | None
    address: str | None
    port: int | None
    fwmark: int | None = None
    scheduler: str = vocabulary.DEFAULT_SCHEDULER
    flags: frozenset[str] = frozenset()
    timeout: int = 0
    netmask: int | None = None
    pe_name: str | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"service family: {self.family!r} is not one of inet, inet6")
        if self.fwmark is not None:
            if (self.protocol, self.address, self.port) != (None, None, None):
                raise ValueError("a fwmark service has no protocol, address or port")
            if isinstance(self.fwmark, bool) or not isinstance(self.fwmark, int) or \
                    not 1 <= self.fwmark <= MAX_FWMARK:
                raise ValueError(f"service fwmark: 1-{MAX_FWMARK} expected, got {self.fwmark!r}")
        else:
            if self.protocol not in PROTOCOLS:
                raise ValueError(f"service protocol: {self.protocol!r} is not one of "
                                 f"{', '.join(PROTOCOLS)}")
            if not isinstance(self.address, str):
                raise ValueError("service address: an IP address is required without fwmark")
            object.__setattr__(self, "address",
                               _canonical_address(self.address, self.family, "service address"))
            _check_port(self.port, "service port")
        if not isinstance(self.scheduler, str) or not self.scheduler:
            raise ValueError("service scheduler: a scheduler name is required")
        flags = frozenset(self.flags)
        _check_choices(flags, SERVICE_FLAGS, "service flags")
        object.__setattr__(self, "flags", flags)
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, int) or \
                self.timeout < 0:
            raise ValueError(f"service timeout: seconds >= 0 expected, got {self.timeout!r}")
        if "persistent" in flags and self.timeout < 1:
            raise ValueError("service timeout: a persistent service needs a timeout >= 1")
        self._normalise_netmask()

    def _normalise_netmask(self) -> None:
        full = 32 if self.family == "inet" else 128
        netmask = self.netmask
        if netmask is None:
            return
        if isinstance(netmask, bool) or not isinstance(netmask, int) or \
                not 0 <= netmask <= full:
            raise ValueError(f"service netmask: prefix length 0-{full} expected, "
                             f"got {netmask!r}")
        if netmask == full:
            object.__setattr__(self, "netmask", None)

    @classmethod
    def from_kernel(cls, family: str, protocol: str | None, address: str | None,
                    port: int | None, fwmark: int | None, scheduler: str, flags: frozenset[str],
                    timeout: int, netmask: int | None, pe_name: str | None) -> Service:
        """A service as the codec decodes it: canonical address, full netmask as None."""
        return _unchecked(cls, {"family": family, "protocol": protocol, "address": address,
                                "port": port, "fwmark": fwmark, "scheduler": scheduler,
                                "flags": flags, "timeout": timeout, "netmask": netmask,
                                "pe_name": pe_name})

    @property
    def key(self) -> ServiceKey:
        return ServiceKey(self.family, self.protocol, self.address, self.port, self.fwmark)

    @property
    def persistent(self) -> bool:
        return "persistent" in self.flags


@dataclass(frozen=True)
class DestinationKey:
    """What identifies a destination within its service."""

    address: str
    port: int


@dataclass(frozen=True)
class Destination:
    """One real server of a virtual service: its identity (address, port), then its options.

    ``tunnel_type``/``tunnel_port``/``tunnel_flags`` only apply to ``forwarding = tunnel``
    (None/None/empty is plain ipip, the kernel default).
    """

    address: str
    port: int
    forwarding: str = "nat"
    weight: int = 1
    upper_threshold: int = 0
    lower_threshold: int = 0
    tunnel_type: str | None = None
    tunnel_port: int | None = None
    tunnel_flags: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not isinstance(self.address, str):
            raise ValueError("destination address: an IP address is required")
        object.__setattr__(self, "address", _canonical_address(
            self.address, None, "destination address"))
        _check_port(self.port, "destination port")
        if self.forwarding not in FORWARDING_METHODS:
            raise ValueError(f"destination forwarding: {self.forwarding!r} is not one of "
                             f"{', '.join(FORWARDING_METHODS)}")
        for name in ("weight", "upper_threshold", "lower_threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or \
                    not 0 <= value <= 0x7FFFFFFF:
                raise ValueError(f"destination {name}: 0-2147483647 expected, got {value!r}")
        flags = frozenset(self.tunnel_flags)
        _check_choices(flags, TUNNEL_FLAGS, "destination tunnel_flags")
        object.__setattr__(self, "tunnel_flags", flags)
        tunnel_options = (self.tunnel_type, self.tunnel_port, flags)
        if self.forwarding != "tunnel" and tunnel_options != (None, None, frozenset()):
            raise ValueError("destination tunnel options need forwarding = tunnel")
        if self.tunnel_type is not None and self.tunnel_type not in TUNNEL_TYPES:
            raise ValueError(f"destination tunnel_type: {self.tunnel_type!r} is not one of "
                             f"{', '.join(TUNNEL_TYPES)}")
        if self.tunnel_port is not None:
            _check_port(self.tunnel_port, "destination tunnel_port")

    @classmethod
    def from_kernel(cls, address: str, port: int, forwarding: str, weight: int,
                    upper_threshold: int, lower_threshold: int, tunnel_type: str | None = None,
                    tunnel_port: int | None = None,
                    tunnel_flags: frozenset[str] = frozenset()) -> Destination:
        """A destination as the codec decodes it: canonical address, values in range."""
        return _unchecked(cls, {"address": address, "port": port, "forwarding": forwarding,
                                "weight": weight, "upper_threshold": upper_threshold,
                                "lower_threshold": lower_threshold, "tunnel_type": tunnel_type,
                                "tunnel_port": tunnel_port, "tunnel_flags": tunnel_flags})

    @property
    def key(self) -> DestinationKey:
        return DestinationKey(self.address, self.port)

    @property
    def family(self) -> str:
        return "inet6" if ":" in self.address else "inet"  # the address is canonical already


if TYPE_CHECKING:  # an alias evaluated at import would need Python 3.9 on the target
    # A whole (desired) IPVS table: each service with its destinations.
    IpvsTable = Mapping[Service, tuple[Destination, ...]]
