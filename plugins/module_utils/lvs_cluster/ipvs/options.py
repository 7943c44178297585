# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPVS modules' options <-> the IPVS model: argument specs, and options turned into
``Service`` / ``Destination`` values, timeouts and sync daemons, with each bad value named by
its path in the options (``ParamError``).

This is the one place that knows the modules' vocabulary (``persistence_timeout``,
``scheduler_flags``, ``forwarding: direct`` ...). It sees no ``AnsibleModule``: the modules
adapt it (``module_utils/ipvs_module.py``), and the conversions are testable alone.

Declarative: an option left out means its default (``scheduler: wlc``, ``weight: 1``, no
persistence ...), never "keep whatever the kernel has".
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping

from .. import vocabulary
from . import codec, input_rules
from .model import Destination, Service

DEFAULT_SCHEDULER = vocabulary.DEFAULT_SCHEDULER
DEFAULT_FORWARDING = vocabulary.DEFAULT_FORWARDING
DEFAULT_WEIGHT = 1
SCHEDULER_FLAGS = vocabulary.SCHEDULER_FLAGS
DAEMON_STATES = ["master", "backup"]
# What the kernel fills in for a sync daemon option left out (net/netfilter/ipvs/ip_vs_sync.c).
DAEMON_DEFAULTS = codec.DAEMON_DEFAULTS


class ParamError(ValueError):
    """A bad option value; ``field`` is its path in the module's options."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


# --- argument specs (fresh copies each call: callers may extend them) --------------------------

_SERVICE_IDENTITY = dict(
    protocol=dict(type="str", choices=list(vocabulary.PROTOCOLS)),
    address=dict(type="str"),
    port=dict(type="int"),
    fwmark=dict(type="int"),
    family=dict(type="str", choices=list(vocabulary.FAMILIES)),
)

_SERVICE_OPTIONS = dict(
    scheduler=dict(type="str", default=DEFAULT_SCHEDULER),
    persistence_timeout=dict(type="int", default=0),
    persistence_netmask=dict(type="raw"),
    one_packet=dict(type="bool", default=False),
    scheduler_flags=dict(type="list", elements="str", choices=list(vocabulary.SCHEDULER_FLAGS),
                         default=[]),
    pe_name=dict(type="str"),
)

_DESTINATION = dict(
    address=dict(type="str", required=True),
    port=dict(type="int"),
    forwarding=dict(type="str", choices=list(vocabulary.FORWARDING),
                    default=DEFAULT_FORWARDING),
    weight=dict(type="int", default=DEFAULT_WEIGHT),
    upper_threshold=dict(type="int", default=0),
    lower_threshold=dict(type="int", default=0),
    tunnel_type=dict(type="str", choices=list(vocabulary.TUNNEL_TYPES)),
    tunnel_port=dict(type="int"),
    tunnel_flags=dict(type="list", elements="str", choices=list(vocabulary.TUNNEL_FLAGS),
                      default=[]),
)


# No mutually_exclusive / required_* in the specs: Ansible counts an option given as null as
# given, and results of ipvs_info (nulls included) must be accepted as input. The conversions
# below check the combinations, treating null as left out.

def service_identity_spec() -> dict:
    """Options naming a virtual service: protocol, address, port, or fwmark; family."""
    return copy.deepcopy(_SERVICE_IDENTITY)


def service_spec() -> dict:
    """A virtual service's identity and its options."""
    return {**copy.deepcopy(_SERVICE_IDENTITY), **copy.deepcopy(_SERVICE_OPTIONS)}


def destination_spec() -> dict:
    """A destination (real server) of a service."""
    return copy.deepcopy(_DESTINATION)


# --- options -> model --------------------------------------------------------------------------

def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


# The model's ValueError messages start with "<object> <field>: "; the option names instead.
_MODEL_FIELDS = {
    "service family": "family", "service protocol": "protocol", "service address": "address",
    "service port": "port", "service fwmark": "fwmark", "service scheduler": "scheduler",
    "service flags": "scheduler_flags", "service timeout": "persistence_timeout",
    "service netmask": "persistence_netmask", "destination address": "address",
    "destination port": "port", "destination forwarding": "forwarding",
    "destination weight": "weight", "destination upper_threshold": "upper_threshold",
    "destination lower_threshold": "lower_threshold", "destination tunnel_type": "tunnel_type",
    "destination tunnel_port": "tunnel_port", "destination tunnel_flags": "tunnel_flags",
}


def _model(where: str, build: Callable[[], object]):
    try:
        return build()
    except ValueError as err:
        text = str(err)
        head, sep, rest = text.partition(": ")
        name = _MODEL_FIELDS.get(head) if sep else None
        if name:
            raise ParamError(_join(where, name), rest) from None
        raise ParamError(where, text) from None


# input_rules names the model's fields; the options call some of them otherwise.
_RULE_FIELDS = {"timeout": "persistence_timeout", "netmask": "persistence_netmask"}


def _check(problem: tuple[str, str] | None, where: str) -> None:
    if problem:
        field, reason = problem
        raise ParamError(_join(where, _RULE_FIELDS.get(field, field)), reason)


def _family_of(address: str, where: str) -> str:
    family = vocabulary.ip_family(address)
    if family is None:
        raise ParamError(_join(where, "address"), f"invalid IP address {address!r}")
    return family


def _int(value: object, where: str, name: str, low: int = 0, high: int = 0x7FFFFFFF) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ParamError(_join(where, name), f"{low}-{high} expected, got {value!r}")
    return value


def netmask_prefix(value: object, family: str, where: str = "") -> int | None:
    """persistence_netmask -> prefix length (None: the full length, per-client persistence).

    IPv4 takes a dotted mask (255.255.255.0) or a prefix length (0-32); IPv6 a prefix length
    (1-128).
    """
    field = _join(where, "persistence_netmask")
    if value is None or value == "":
        return None
    full = 32 if family == "inet" else 128
    if isinstance(value, bool):
        raise ParamError(field, f"a prefix length or mask expected, got {value!r}")
    text = str(value).strip().lstrip("/")
    if text.isdigit():
        prefix = int(text)
        problem = input_rules.persistence_prefix_problem(prefix, family)
        if problem:
            raise ParamError(field, problem)
        return None if prefix == full else prefix
    if family == "inet6":
        raise ParamError(field, f"an IPv6 service takes a prefix length (1-128), got {value!r}")
    if vocabulary.canonical_ip(text) is None or ":" in text:
        raise ParamError(field, f"a dotted mask or prefix length expected, got {value!r}")
    prefix = vocabulary.netmask_prefix_length(text)
    if prefix is None:
        raise ParamError(field, f"{value} is not a contiguous netmask")
    return None if prefix == 32 else prefix


def service_from_params(params: Mapping[str, object], where: str = "",
                        identity_only: bool = False) -> Service:
    """A Service from ipvs_service-style options (identity and options, defaults filled).

    A declared service must also pass ``input_rules``; with ``identity_only`` (a service to
    remove, or to look up) only its identity matters, so one made elsewhere that the rules
    refuse (port 0 without persistence, say) can still be named.
    """
    address = params.get("address")
    fwmark = params.get("fwmark")
    family = params.get("family")
    if address is None and fwmark is None:
        raise ParamError(where, "one of address or fwmark is required")
    if fwmark is not None:
        for name in ("address", "protocol", "port"):
            if params.get(name) is not None:
                raise ParamError(_join(where, name), "not allowed with fwmark")
        fwmark = _int(fwmark, where, "fwmark", 1, 0xFFFFFFFF)
        family = family or "inet"
        protocol = port = None
    else:
        inferred = _family_of(str(address), where)
        if family is not None and family != inferred:
            raise ParamError(_join(where, "family"), f"{family} does not match address {address}")
        family = inferred
        protocol = params.get("protocol") or "tcp"
        port = params.get("port")
        if port is None:
            raise ParamError(_join(where, "port"), "required with address")
        port = _int(port, where, "port", 0, 65535)
    scheduler = params.get("scheduler") or DEFAULT_SCHEDULER
    flags = set(params.get("scheduler_flags") or ())
    for flag in sorted(flags):
        if flag not in SCHEDULER_FLAGS:
            raise ParamError(_join(where, "scheduler_flags"), f"unknown flag {flag!r}")
        wanted = flag.split("-")[0]
        if scheduler != wanted:
            raise ParamError(_join(where, "scheduler_flags"),
                             f"{flag} needs scheduler {wanted}, not {scheduler}")
    if params.get("one_packet"):
        flags.add("one-packet")
    timeout = params.get("persistence_timeout") or 0
    if isinstance(timeout, bool) or not isinstance(timeout, int):
        raise ParamError(_join(where, "persistence_timeout"), f"seconds expected, got {timeout!r}")
    problem = input_rules.persistence_timeout_problem(timeout)
    if problem:
        raise ParamError(_join(where, "persistence_timeout"), problem)
    if timeout:
        flags.add("persistent")
    netmask = netmask_prefix(params.get("persistence_netmask"), family, where)
    pe_name = params.get("pe_name") or None
    service = _model(where, lambda: Service(
        family, protocol, address if fwmark is None else None, port, fwmark=fwmark,
        scheduler=scheduler, flags=frozenset(flags), timeout=timeout, netmask=netmask,
        pe_name=pe_name))
    if not identity_only:
        _check(input_rules.service_problem(service), where)
    return service


def destination_from_params(params: Mapping[str, object], service: Service,
                            where: str = "") -> Destination:
    """A Destination of ``service`` from ipvs_real_server-style options (defaults filled)."""
    address = params.get("address")
    if not address:
        raise ParamError(_join(where, "address"), "required")
    _family_of(str(address), where)
    port = params.get("port")
    if port is None:
        port = service.port if service.fwmark is None else 0
    port = _int(port, where, "port", 0, 65535)
    forwarding = params.get("forwarding") or DEFAULT_FORWARDING
    weight = params.get("weight")
    weight = DEFAULT_WEIGHT if weight is None else _int(weight, where, "weight")
    upper = _int(params.get("upper_threshold") or 0, where, "upper_threshold")
    lower = _int(params.get("lower_threshold") or 0, where, "lower_threshold")
    if lower > upper:
        raise ParamError(_join(where, "lower_threshold"),
                         f"{lower} is above upper_threshold {upper} (the kernel refuses it; "
                         "set upper_threshold too)")
    tunnel_type = params.get("tunnel_type")
    tunnel_port = params.get("tunnel_port")
    tunnel_flags = set(params.get("tunnel_flags") or ())
    if forwarding != "tunnel":
        for name, value in (("tunnel_type", tunnel_type), ("tunnel_port", tunnel_port),
                            ("tunnel_flags", tunnel_flags)):
            if value:
                raise ParamError(_join(where, name), "needs forwarding: tunnel")
    if tunnel_type == "ipip":
        tunnel_type = None  # the kernel's default tunnel, read back as no type
    if tunnel_type == "gue" and not tunnel_port:
        raise ParamError(_join(where, "tunnel_port"), "required by tunnel_type gue")
    if tunnel_port is not None:
        tunnel_port = _int(tunnel_port, where, "tunnel_port", 0, 65535) or None
    if "nocsum" in tunnel_flags:
        if len(tunnel_flags) > 1:
            raise ParamError(_join(where, "tunnel_flags"),
                             "nocsum excludes csum and remcsum")
        tunnel_flags = set()  # no checksum is no flag at all in the kernel
    dest = _model(where, lambda: Destination(
        address=str(address), port=port, forwarding=forwarding, weight=weight,
        upper_threshold=upper, lower_threshold=lower, tunnel_type=tunnel_type,
        tunnel_port=tunnel_port, tunnel_flags=frozenset(tunnel_flags)))
    _check(input_rules.destination_problem(dest), where)
    return dest


def table_from_params(services: Iterable[Mapping[str, object]], where: str = "services"
                      ) -> dict[Service, tuple[Destination, ...]]:
    """The desired table from ipvs_table's ``services``; duplicates are refused."""
    table: dict[Service, tuple[Destination, ...]] = {}
    seen: dict[object, int] = {}
    for index, params in enumerate(services or ()):
        here = f"{where}[{index}]"
        service = service_from_params(params, here)
        if service.key in seen:
            raise ParamError(here, f"the same service as {where}[{seen[service.key]}] "
                                   f"({codec.describe_service(service)})")
        seen[service.key] = index
        dests: list[Destination] = []
        dest_seen: dict[object, int] = {}
        for dindex, dparams in enumerate(params.get("destinations") or ()):
            dhere = f"{here}.destinations[{dindex}]"
            dest = destination_from_params(dparams, service, dhere)
            if dest.key in dest_seen:
                raise ParamError(dhere, f"the same destination as {here}.destinations"
                                        f"[{dest_seen[dest.key]}] ({host_port(dest)})")
            dest_seen[dest.key] = dindex
            dests.append(dest)
        table[service] = tuple(dests)
    return table


def host_port(dest: Destination) -> str:
    host = f"[{dest.address}]" if ":" in dest.address else dest.address
    return f"{host}:{dest.port}"


# --- timeouts and sync daemons -----------------------------------------------------------------

def timeouts_from_params(wanted: Mapping[str, int | None] | None) -> dict[str, int]:
    """The timeouts given (``timeouts`` of ipvs_table), each at least one second; {} for none."""
    given = {name: value for name, value in (wanted or {}).items() if value is not None}
    for name, value in given.items():
        problem = input_rules.connection_timeout_problem(value, 1)
        if problem:
            raise ParamError(f"timeouts.{name}", problem)
    return given


def daemon_from_params(params: Mapping[str, object], where: str) -> codec.SyncDaemon:
    """A sync daemon from one entry of ipvs_table's ``sync_daemons`` (present)."""
    for name, low, high in (("sync_id", 0, 255), ("port", 1, 65535), ("ttl", 1, 255),
                            ("max_len", 1, 65535)):
        value = params.get(name)
        if value is not None and not low <= value <= high:
            raise ParamError(f"{where}.{name}", f"{low}-{high} expected, got {value}")
    group = params.get("group")
    if group is not None:
        problem = input_rules.sync_group_problem(str(group))
        if problem:
            raise ParamError(f"{where}.group", problem)
        group = vocabulary.canonical_ip(str(group))
    return codec.SyncDaemon(state=params["state"], interface=params["interface"],
                            sync_id=params.get("sync_id") or 0, max_len=params.get("max_len"),
                            group=group, port=params.get("port"), ttl=params.get("ttl"))


def sync_daemons_from_params(listed: Iterable[Mapping[str, object]] | None,
                             where: str = "sync_daemons"
                             ) -> dict[str, codec.SyncDaemon | None]:
    """{state: the daemon, or None for one that must not run}; each state once."""
    wanted: dict[str, codec.SyncDaemon | None] = {}
    seen: dict[str, int] = {}
    for index, params in enumerate(listed or ()):
        here = f"{where}[{index}]"
        state = params["state"]
        if state in seen:
            raise ParamError(here, f"the {state} daemon is already {where}[{seen[state]}]")
        seen[state] = index
        wanted[state] = daemon_from_params(params, here) if params["present"] else None
    return wanted
