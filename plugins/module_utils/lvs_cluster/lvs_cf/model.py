# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lvs.cf model: frozen dataclasses for the global settings, ``virtual`` blocks with their
``server`` blocks, and ``failover`` blocks, plus their plain-data (JSON) form.

Field names are the lvs.cf key names; defaults are Piranha 0.8.6's. The order of the key fields
in each class is the canonical key order of the renderer. Each key field carries metadata:

* ``kind``: how the value is read and written (see ``Kind``);
* ``always``: the renderer writes the key even when it has its default value;
* ``quoted``: the renderer always double-quotes the value (probe strings and commands);
* ``extension``: the key is an lvs.cluster extension, not known to Piranha 0.8.6.

Extensions (see docs/lvs_cf.md): IPv6 addresses wherever an address is taken (and prefix
lengths as IPv6 netmasks), the schedulers sed/nq/mh/fo/ovf, ``scheduler_flags``, per-server
``forwarding`` and ``drain``, ``rise``/``fall`` on virtual blocks, ``heartbeat_key_file``, and
fractional ``keepalive``/``deadtime``. A file that uses only Piranha keys means what it meant to
Piranha.

``line`` and ``key_lines`` record where a block and its keys were read; they are ignored by
equality.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

from .. import vocabulary
from ..vocabulary import canonical_ip
from .errors import LvsCfError
from .values import mask_problem, string_problem

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time (start-up)
if TYPE_CHECKING:
    from typing import Any

PIRANHA_SCHEDULERS = vocabulary.PIRANHA_SCHEDULERS
EXTENSION_SCHEDULERS = vocabulary.EXTENSION_SCHEDULERS
SCHEDULERS = vocabulary.SCHEDULERS
SCHEDULER_FLAGS = vocabulary.SCHEDULER_FLAGS
NETWORKS = ("nat", "direct", "tunnel")
PROTOCOLS = ("tcp", "udp")
SERVICE_TYPES = ("lvs", "fos")
RESERVATION_CONFLICT_ACTIONS = ("preempt", "nothing")


class Kind:
    """How a key's value is read, checked and written."""

    INT = "int"  # C strtol integer (0x.. hex, 0.. octal)
    BOOL = "bool"  # 0 or 1
    PORT = "port"  # integer or /etc/services name (tcp)
    SECONDS = "seconds"  # integer or decimal fraction, stored as float
    ADDRESS = "address"  # IPv4 (inet_aton forms) or IPv6 literal
    MASK = "mask"  # dotted IPv4 netmask (str) or prefix length (int)
    STRING = "string"  # one token, may be quoted
    CHOICE = "choice"  # one of the field's choices
    FLAGS = "flags"  # comma-separated choices, stored as frozenset
    LIST = "list"  # [ a b c ], stored as tuple
    DEVICE_ADDRESS = "device_address"  # IP DEVICE


def _key(default: Any, kind: str, *, always: bool = False, quoted: bool = False,
         extension: bool = False, choices: tuple[str, ...] = ()) -> Any:
    metadata = {"kind": kind, "always": always, "quoted": quoted, "extension": extension,
                "choices": choices}
    # These helpers only build field() specifications for the class bodies below.
    return field(default=default, metadata=metadata)  # pylint: disable=invalid-field-call


def _where_read() -> Any:
    return field(default=None, compare=False, repr=False)  # pylint: disable=invalid-field-call


def _key_lines() -> Any:
    return field(default_factory=dict, compare=False, repr=False)  # pylint: disable=invalid-field-call


@dataclass(frozen=True)
class DeviceAddress:
    """``IP DEVICE``: an address and the interface (alias label such as ``eth0:1``) it goes on."""

    ip: str
    device: str


@dataclass(frozen=True)
class RealServer:
    """A ``server NAME { ... }`` block inside a ``virtual`` block.

    ``port`` is the real port; a server without one takes its virtual's port when the
    ``VirtualService`` is built (the parser stores the virtual's port as it was when the server
    block was read, which is Piranha's rule). ``forwarding`` (extension) overrides the global
    ``network`` for this server. ``drain`` (extension) keeps a healthy server in the table at
    weight 0: no new connections, its established ones go on (maintenance, docs/maintenance.md).
    """

    name: str
    address: str | None = _key(None, Kind.ADDRESS, always=True)
    active: bool = _key(False, Kind.BOOL, always=True)
    weight: int = _key(1, Kind.INT, always=True)
    port: int | None = _key(None, Kind.INT, always=True)
    forwarding: str | None = _key(None, Kind.CHOICE, extension=True, choices=NETWORKS)
    drain: bool = _key(False, Kind.BOOL, extension=True)
    line: int | None = _where_read()
    key_lines: Mapping[str, int] = _key_lines()


@dataclass(frozen=True)
class VirtualService:
    """A ``virtual NAME { ... }`` block: one IPVS virtual service and its health checks.

    ``fwmark`` None means no firewall mark (0 is read as None, as Piranha meant it).
    ``rise``/``fall`` (extension) are the consecutive good/bad checks needed to add/remove a
    server; None keeps Piranha's behaviour (see ``effective_rise`` and ``effective_fall``).
    ``master``, ``dirs``, ``start_cmd`` and ``stop_cmd`` are accepted as Piranha did but have no
    effect in a virtual block.
    """

    name: str
    active: bool = _key(False, Kind.BOOL, always=True)
    address: DeviceAddress | None = _key(None, Kind.DEVICE_ADDRESS, always=True)
    vip_nmask: str | int | None = _key(None, Kind.MASK)
    sorry_server: str | None = _key(None, Kind.ADDRESS)
    port: int = _key(80, Kind.PORT, always=True)
    protocol: str = _key("tcp", Kind.CHOICE, always=True, choices=PROTOCOLS)
    fwmark: int | None = _key(None, Kind.INT)
    scheduler: str = _key("wlc", Kind.CHOICE, always=True, choices=SCHEDULERS)
    scheduler_flags: frozenset[str] = _key(frozenset(), Kind.FLAGS, extension=True,
                                           choices=SCHEDULER_FLAGS)
    persistent: int = _key(0, Kind.INT)
    pmask: str | int | None = _key(None, Kind.MASK)
    timeout: int = _key(10, Kind.INT, always=True)
    reentry: int = _key(180, Kind.INT, always=True)
    rise: int | None = _key(None, Kind.INT, extension=True)
    fall: int | None = _key(None, Kind.INT, extension=True)
    send: str | None = _key(None, Kind.STRING, quoted=True)
    expect: str | None = _key(None, Kind.STRING, quoted=True)
    use_regex: bool = _key(False, Kind.BOOL)
    send_program: str | None = _key(None, Kind.STRING, quoted=True)
    load_monitor: str | None = _key(None, Kind.STRING)
    quiesce_server: bool = _key(False, Kind.BOOL)
    client_monitor: str = _key("/usr/sbin/nanny", Kind.STRING)
    master: str | None = _key(None, Kind.ADDRESS)
    dirs: tuple[str, ...] = _key((), Kind.LIST)
    start_cmd: str | None = _key(None, Kind.STRING, quoted=True)
    stop_cmd: str | None = _key(None, Kind.STRING, quoted=True)
    servers: tuple[RealServer, ...] = ()
    line: int | None = _where_read()
    key_lines: Mapping[str, int] = _key_lines()

    def __post_init__(self) -> None:
        if self.fwmark == 0 and not isinstance(self.fwmark, bool):
            object.__setattr__(self, "fwmark", None)  # Piranha: fwmark 0 is no firewall mark
        object.__setattr__(self, "scheduler_flags", frozenset(self.scheduler_flags))
        object.__setattr__(self, "dirs", tuple(self.dirs))
        servers = tuple(
            replace(server, port=self.port)
            if isinstance(server, RealServer) and server.port is None
            else server
            for server in self.servers
        )
        object.__setattr__(self, "servers", servers)

    @property
    def effective_fall(self) -> int:
        """Failed checks that take a server out: ``fall``, or 1 as in Piranha."""
        return self.fall if self.fall is not None else 1

    @property
    def effective_rise(self) -> int:
        """Good checks in a row that bring a failed server back: ``rise``, or Piranha's
        ``reentry / timeout`` (integer division; reentry 0 means 180), at least 1."""
        if self.rise is not None:
            return self.rise
        reentry = self.reentry or 180
        return max(1, reentry // max(1, self.timeout))


@dataclass(frozen=True)
class FailoverService:
    """A ``failover NAME { ... }`` block (``service = fos``): a service watched on the peer and
    started or stopped with ``start_cmd``/``stop_cmd``. It has no servers."""

    name: str
    active: bool = _key(False, Kind.BOOL, always=True)
    address: DeviceAddress | None = _key(None, Kind.DEVICE_ADDRESS, always=True)
    vip_nmask: str | int | None = _key(None, Kind.MASK)
    port: int = _key(80, Kind.PORT, always=True)
    protocol: str = _key("tcp", Kind.CHOICE, always=True, choices=PROTOCOLS)
    timeout: int = _key(10, Kind.INT, always=True)
    send: str | None = _key(None, Kind.STRING, quoted=True)
    expect: str | None = _key(None, Kind.STRING, quoted=True)
    send_program: str | None = _key(None, Kind.STRING, quoted=True)
    start_cmd: str | None = _key(None, Kind.STRING, quoted=True)
    stop_cmd: str | None = _key(None, Kind.STRING, quoted=True)
    line: int | None = _where_read()
    key_lines: Mapping[str, int] = _key_lines()


@dataclass(frozen=True)
class LvsConfig:
    """A whole lvs.cf: the global settings, then the ``virtual`` and ``failover`` blocks.

    ``keepalive`` and ``deadtime`` are seconds as floats (fractions are an extension); every
    other time is whole seconds. ``primary_private``/``backup_private`` None means unset (Piranha
    then uses ``primary``/``backup``). ``heartbeat_key_file`` (extension) is the root-only file
    holding the key that authenticates heartbeats.
    """

    serial_no: int = _key(0, Kind.INT, always=True)
    service: str = _key("lvs", Kind.CHOICE, always=True, choices=SERVICE_TYPES)
    primary: str | None = _key(None, Kind.ADDRESS, always=True)
    primary_private: str | None = _key(None, Kind.ADDRESS)
    backup: str | None = _key(None, Kind.ADDRESS, always=True)
    backup_private: str | None = _key(None, Kind.ADDRESS)
    backup_active: bool = _key(False, Kind.BOOL, always=True)
    heartbeat: bool = _key(False, Kind.BOOL)
    heartbeat_port: int = _key(539, Kind.PORT, always=True)
    keepalive: float = _key(2.0, Kind.SECONDS, always=True)
    deadtime: float = _key(5.0, Kind.SECONDS, always=True)
    network: str = _key("nat", Kind.CHOICE, always=True, choices=NETWORKS)
    nat_router: DeviceAddress | None = _key(None, Kind.DEVICE_ADDRESS)
    nat_nmask: str | int | None = _key(None, Kind.MASK)
    debug_level: str = _key("NONE", Kind.STRING)
    rsh_command: str = _key("rsh", Kind.STRING)
    monitor_links: int = _key(0, Kind.INT)
    syncdaemon: bool = _key(False, Kind.BOOL)
    syncd_iface: str = _key("eth0", Kind.STRING)
    syncd_id: int = _key(0, Kind.INT)
    tcp_timeout: int = _key(0, Kind.INT)
    tcpfin_timeout: int = _key(0, Kind.INT)
    udp_timeout: int = _key(0, Kind.INT)
    hard_shutdown: bool = _key(True, Kind.BOOL)
    active_cmd: str | None = _key(None, Kind.STRING, quoted=True)
    inactive_cmd: str | None = _key(None, Kind.STRING, quoted=True)
    ipvsadm: str = _key("/sbin/ipvsadm", Kind.STRING)
    sync: bool = _key(False, Kind.BOOL)
    primary_shared: str | None = _key(None, Kind.STRING)
    backup_shared: str | None = _key(None, Kind.STRING)
    reservation_conflict_action: str | None = _key(None, Kind.CHOICE,
                                                   choices=RESERVATION_CONFLICT_ACTIONS)
    heartbeat_key_file: str | None = _key(None, Kind.STRING, extension=True)
    virtuals: tuple[VirtualService, ...] = ()
    failovers: tuple[FailoverService, ...] = ()
    key_lines: Mapping[str, int] = _key_lines()

    def __post_init__(self) -> None:
        object.__setattr__(self, "virtuals", tuple(self.virtuals))
        object.__setattr__(self, "failovers", tuple(self.failovers))

    @property
    def effective_primary_private(self) -> str | None:
        """The primary's private heartbeat address as Piranha used it: ``primary`` if unset."""
        return self.primary_private if self.primary_private is not None else self.primary

    @property
    def effective_backup_private(self) -> str | None:
        """The backup's private heartbeat address as Piranha used it: without
        ``primary_private``, Piranha replaced it by ``backup`` (even when it was set)."""
        return self.backup_private if self.primary_private is not None else self.backup


def key_fields(cls: type) -> dict[str, Any]:
    """The lvs.cf key fields of a model class, by key name, in canonical order."""
    return {f.name: f for f in fields(cls) if "kind" in f.metadata}


def key_default(key_field: Any) -> Any:
    """The default value of a key field (key fields have plain, immutable defaults)."""
    return key_field.default


# ---------------------------------------------------------------------------------------------
# Plain-data form


def model_to_dict(config: LvsConfig) -> dict[str, Any]:
    """The model as JSON-compatible data: keys are field names, blocks are lists of dicts,
    ``address``/``nat_router`` are ``{"ip": ..., "device": ...}``, sets are sorted lists."""
    return _block_to_dict(config)


def _block_to_dict(block: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if not isinstance(block, LvsConfig):
        data["name"] = block.name
    for name, key_field in key_fields(type(block)).items():
        data[name] = _value_to_data(key_field, getattr(block, name))
    if isinstance(block, VirtualService):
        data["servers"] = [_block_to_dict(server) for server in block.servers]
    if isinstance(block, LvsConfig):
        data["virtuals"] = [_block_to_dict(virtual) for virtual in block.virtuals]
        data["failovers"] = [_block_to_dict(failover) for failover in block.failovers]
    return data


def _value_to_data(key_field: Any, value: Any) -> Any:
    kind = key_field.metadata["kind"]
    if value is None:
        return None
    if kind == Kind.DEVICE_ADDRESS:
        return {"ip": value.ip, "device": value.device}
    if kind == Kind.FLAGS:
        return [flag for flag in key_field.metadata["choices"] if flag in value]
    if kind == Kind.LIST:
        return list(value)
    if kind == Kind.SECONDS:
        return float(value)
    return value


def model_from_dict(data: Mapping[str, Any], source: str = "config") -> LvsConfig:
    """Build the model from its plain-data form (as ``model_to_dict`` returns it).

    Missing keys take their defaults. Types are checked strictly, addresses must be IP literals
    (stored in canonical form) and strings must be expressible in lvs.cf; a bad entry raises
    LvsCfError naming its path, e.g. ``virtuals[0].servers[1].weight``. Semantic checks are
    ``validate_lvs_cf``'s job.
    """
    return _DictReader(source).config(data)


class _DictReader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, reason: str) -> LvsCfError:
        return LvsCfError(reason, file=self.source, key=path or None)

    def config(self, data: Any) -> LvsConfig:
        values = self.block(LvsConfig, data, "", children=("virtuals", "failovers"))
        values["virtuals"] = tuple(
            self.virtual(item, f"virtuals[{index}]")
            for index, item in enumerate(self.sequence(data.get("virtuals"), "virtuals"))
        )
        values["failovers"] = tuple(
            self.named_block(FailoverService, item, f"failovers[{index}]")
            for index, item in enumerate(self.sequence(data.get("failovers"), "failovers"))
        )
        return LvsConfig(**values)

    def virtual(self, data: Any, path: str) -> VirtualService:
        values = self.block(VirtualService, data, path, children=("servers",), named=True)
        values["servers"] = tuple(
            self.named_block(RealServer, item, f"{path}.servers[{index}]")
            for index, item in enumerate(self.sequence(data.get("servers"), f"{path}.servers"))
        )
        return VirtualService(**values)

    def named_block(self, cls: Any, data: Any, path: str) -> Any:
        return cls(**self.block(cls, data, path, named=True))

    def sequence(self, data: Any, path: str) -> list[Any]:
        if data is None:
            return []
        if not isinstance(data, (list, tuple)):
            raise self.fail(path, f"list expected, got {_describe(data)}")
        return list(data)

    def block(self, cls: Any, data: Any, path: str, *, children: tuple[str, ...] = (),
              named: bool = False) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            raise self.fail(path, f"mapping expected, got {_describe(data)}")
        keys = key_fields(cls)
        allowed = set(keys) | set(children) | ({"name"} if named else set())
        for name in data:
            if name not in allowed:
                raise self.fail(_join(path, str(name)), _unknown_key_reason(name, allowed))
        values: dict[str, Any] = {}
        if named:
            name = data.get("name")
            if not isinstance(name, str):
                raise self.fail(_join(path, "name"), f"string expected, got {_describe(name)}")
            self.check_string(_join(path, "name"), name)
            values["name"] = name
        for name, key_field in keys.items():
            if name in data and data[name] is not None:
                values[name] = self.value(key_field, data[name], _join(path, name))
            elif name in data and key_default(key_field) is not None:
                raise self.fail(_join(path, name), "a value is required (null is not allowed)")
        return values

    def value(self, key_field: Any, value: Any, path: str) -> Any:
        kind = key_field.metadata["kind"]
        choices = key_field.metadata["choices"]
        if kind in (Kind.INT, Kind.PORT):
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(path, f"integer expected, got {_describe(value)}")
            return value
        if kind == Kind.BOOL:
            if isinstance(value, bool):
                return value
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise self.fail(path, f"boolean expected (true/false or 0/1), got {_describe(value)}")
        if kind == Kind.SECONDS:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.fail(path, f"number of seconds expected, got {_describe(value)}")
            return float(value)
        if kind == Kind.ADDRESS:
            return self.address(value, path)
        if kind == Kind.MASK:
            return self.mask(value, path)
        if kind == Kind.STRING:
            return self.string(value, path)
        if kind == Kind.CHOICE:
            if value not in choices or not isinstance(value, str):
                raise self.fail(path, f"invalid value {_describe(value)} "
                                      f"(expected one of {', '.join(choices)})")
            return value
        if kind == Kind.FLAGS:
            flags = self.sequence(value, path)
            for index, flag in enumerate(flags):
                if not isinstance(flag, str) or flag not in choices:
                    raise self.fail(f"{path}[{index}]", f"invalid flag {_describe(flag)} "
                                                        f"(expected one of {', '.join(choices)})")
            return frozenset(flags)
        if kind == Kind.LIST:
            items = self.sequence(value, path)
            return tuple(self.string(item, f"{path}[{index}]") for index, item in enumerate(items))
        return self.device_address(value, path)

    def address(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"IP address expected, got {_describe(value)}")
        address = canonical_ip(value)
        if address is None or "%" in value:
            raise self.fail(path, f"IP address expected, got {_describe(value)} "
                                  "(hostnames are not resolved)")
        return address

    def mask(self, value: Any, path: str) -> str | int:
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            problem = mask_problem(value, "inet" if isinstance(value, str) else None)
            if problem:
                raise self.fail(path, f"netmask expected: {problem}")
            return value
        raise self.fail(path, "netmask expected (a dotted IPv4 mask or an IPv6 prefix length), "
                              f"got {_describe(value)}")

    def string(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"string expected, got {_describe(value)}")
        self.check_string(path, value)
        return value

    def check_string(self, path: str, value: str) -> None:
        problem = string_problem(value)
        if problem:
            raise self.fail(path, f"the value {problem}")

    def device_address(self, value: Any, path: str) -> DeviceAddress:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"mapping with ip and device expected, got {_describe(value)}")
        for name in value:
            if name not in ("ip", "device"):
                raise self.fail(_join(path, str(name)),
                                _unknown_key_reason(name, {"ip", "device"}))
        for name in ("ip", "device"):
            if value.get(name) is None:
                raise self.fail(_join(path, name), "missing")
        return DeviceAddress(ip=self.address(value["ip"], _join(path, "ip")),
                             device=self.string(value["device"], _join(path, "device")))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}" if not isinstance(value, str) else text


def _unknown_key_reason(name: Any, allowed: set[str]) -> str:
    import difflib  # noqa: PLC0415 - only for a mistake: not on every start-up

    reason = f"unknown key {name!r}"
    close = difflib.get_close_matches(str(name), sorted(allowed), n=1)
    if close:
        reason += f" (did you mean '{close[0]}'?)"
    return reason
