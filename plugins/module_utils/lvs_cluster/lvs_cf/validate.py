# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Semantic validation of an lvs.cf model: what each value alone cannot show.

``validate_lvs_cf`` raises LvsCfError for the first problem (with the line of the key or block
when the model was parsed) and returns warnings for Piranha traps that are legal but probably
not meant. The checks are listed in docs/lvs_cf.md.
"""

from __future__ import annotations

import math

from ..ipvs import input_rules
from ..vocabulary import canonical_ip, ip_family
from .errors import LvsCfError, LvsCfWarning
from .ipvs import destination_port, forwarding_for_server, service_for_virtual
from .model import (
    DeviceAddress,
    FailoverService,
    Kind,
    LvsConfig,
    RealServer,
    VirtualService,
    key_fields,
)
from .values import mask_problem, string_problem

MAX_INT = 0x7FFFFFFF  # Piranha read numbers into C ints
MAX_FWMARK = 0xFFFFFFFF
MAX_DEVICE_NAME = 15  # IFNAMSIZ - 1
# input_rules names the IPVS model's fields; lvs.cf calls some of them otherwise.
_KEY_OF_FIELD = {"timeout": "persistent", "netmask": "pmask"}

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time (start-up)
if TYPE_CHECKING:  # an alias evaluated at import would need Python 3.10 on the target
    from typing import Any, Union

    Block = Union[LvsConfig, VirtualService, RealServer, FailoverService]  # noqa: UP007


def validate_lvs_cf(config: LvsConfig, source: str = "lvs.cf") -> tuple[LvsCfWarning, ...]:
    """Check ``config`` as a whole; raise LvsCfError or return the warnings."""
    if not isinstance(config, LvsConfig):
        raise LvsCfError(f"an LvsConfig expected, got {type(config).__name__}", file=source)
    validator = _Validator(config, source)
    try:
        validator.run()
    except LvsCfError:
        raise
    except Exception as exc:  # a model built by hand with values of the wrong type
        raise LvsCfError(f"invalid model: {type(exc).__name__}: {exc}", file=source) from exc
    return tuple(validator.warnings)


class _Validator:
    def __init__(self, config: LvsConfig, source: str) -> None:
        self.config = config
        self.source = source
        self.warnings: list[LvsCfWarning] = []
        self._virtual_of: dict[int, str] | None = None  # id(server) -> its virtual's name

    # -- messages

    def _where(self, block: Block, key: str | None) -> tuple[int | None, str | None]:
        lines = block.key_lines if isinstance(block.key_lines, dict) else {}
        line = lines.get(key) if key else None
        if line is None:
            line = getattr(block, "line", None)
        return line, self._label(block)

    def _label(self, block: Block) -> str | None:
        if isinstance(block, RealServer):
            if self._virtual_of is None:
                self._virtual_of = {id(server): virtual.name for virtual in self.config.virtuals
                                    for server in virtual.servers}
            virtual_name = self._virtual_of.get(id(block))
            prefix = f"virtual {virtual_name}: " if virtual_name is not None else ""
            return f"{prefix}server {block.name}"
        if isinstance(block, VirtualService):
            return f"virtual {block.name}"
        if isinstance(block, FailoverService):
            return f"failover {block.name}"
        return None

    def error(self, block: Block, key: str | None, reason: str) -> LvsCfError:
        line, label = self._where(block, key)
        return LvsCfError(reason, file=self.source, line=line, key=key, block=label)

    def warn(self, block: Block, key: str | None, reason: str) -> None:
        line, label = self._where(block, key)
        self.warnings.append(LvsCfWarning(self.source, line, key, reason, label))

    # -- walk

    def run(self) -> None:
        config = self.config
        if not all(isinstance(block, VirtualService) for block in config.virtuals) or \
                not all(isinstance(block, FailoverService) for block in config.failovers):
            raise LvsCfError("virtuals and failovers must hold VirtualService and "
                             "FailoverService objects", file=self.source)
        self.check_values(config)
        self.check_globals()
        names: dict[str, Block] = {}
        for block in (*config.virtuals, *config.failovers):
            self.check_name(block, names, "a virtual or failover block")
        for virtual in config.virtuals:
            self.check_virtual(virtual)
        for failover in config.failovers:
            self.check_failover(failover)
        self.check_services()
        self.check_alias_labels()

    # -- values one by one (also catches hand-built models with wrong types)

    def check_values(self, block: Block) -> None:
        for name, key_field in key_fields(type(block)).items():
            value = getattr(block, name)
            if value is None:
                if key_field.default is not None:
                    raise self.error(block, name, "a value is required")
                continue
            problem = self.value_problem(name, key_field, value)
            if problem:
                raise self.error(block, name, problem)

    def value_problem(self, name: str, key_field: Any, value: Any) -> str | None:
        kind = key_field.metadata["kind"]
        choices = key_field.metadata["choices"]
        if kind in (Kind.INT, Kind.PORT):
            if isinstance(value, bool) or not isinstance(value, int):
                return "integer expected"
            if kind == Kind.PORT and not 0 <= value <= 65535:
                return f"port {value} is outside 0-65535"
            upper = MAX_FWMARK if name == "fwmark" else MAX_INT
            if not -MAX_INT - 1 <= value <= upper:
                return f"{value} is out of range"
            return None
        if kind == Kind.BOOL:
            return None if isinstance(value, bool) else "boolean expected"
        if kind == Kind.SECONDS:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return "number of seconds expected"
            if not math.isfinite(value) or value <= 0:
                return f"{value} seconds: a positive number of seconds expected"
            return None
        if kind == Kind.ADDRESS:
            return _address_problem(value)
        if kind == Kind.MASK:
            return mask_problem(value, None) if isinstance(value, int) else \
                mask_problem(value, "inet")
        if kind == Kind.STRING:
            return _string_value_problem(value)
        if kind == Kind.CHOICE:
            if value not in choices:
                return f"invalid argument {value!r} (expected one of {', '.join(choices)})"
            return None
        if kind == Kind.FLAGS:
            if not isinstance(value, frozenset) or not value <= set(choices):
                return f"a set of flags from {', '.join(choices)} expected"
            return None
        if kind == Kind.LIST:
            return _list_problem(value)
        if not isinstance(value, DeviceAddress):
            return "IP DEVICE expected"
        return _address_problem(value.ip) or _device_problem(value.device)

    def check_name(self, block: Block, names: dict[str, Block], what: str) -> None:
        name = block.name
        if not isinstance(name, str) or name == "":
            raise self.error(block, None, "the block name must be a non-empty string")
        problem = string_problem(name)
        if problem:
            raise self.error(block, None, f"the block name {problem}")
        if name in names:
            other = names[name]
            where = f" on line {other.line}" if getattr(other, "line", None) else ""
            raise self.error(block, None, f"duplicate name: {what} named '{name}' "
                                          f"exists already{where}")
        names[name] = block

    # -- global settings

    def check_globals(self) -> None:
        config = self.config
        if config.primary is None:
            raise self.error(config, "primary", "missing: the public address of the primary "
                                                "router is required")
        if config.backup_active and config.backup is None:
            raise self.error(config, "backup_active", "backup_active = 1 needs 'backup' (the "
                                                      "backup router's address)")
        self.same_family(config, "backup", config.backup, config.primary, "primary")
        self.same_family(config, "backup_private", config.backup_private,
                         config.primary_private, "primary_private")
        if config.primary_private is not None and config.backup_private is None and \
                config.backup is not None:
            raise self.error(config, "primary_private",
                             "set backup_private too (Piranha's backup cannot bind its private "
                             "heartbeat address otherwise): both private addresses or neither")
        if config.backup_private is not None and config.primary_private is None:
            self.warn(config, "backup_private", "ignored without primary_private (Piranha then "
                                                "uses backup for the private path too)")
        if config.heartbeat_port == 0:
            raise self.error(config, "heartbeat_port", "port 0 cannot be used for heartbeats")
        if config.deadtime <= config.keepalive:
            self.warn(config, "deadtime", f"deadtime {config.deadtime:g} s is not longer than "
                                          f"keepalive {config.keepalive:g} s: the peer will be "
                                          "declared dead between two heartbeats")
        if not 0 <= config.syncd_id <= 255:
            raise self.error(config, "syncd_id", f"{config.syncd_id} is outside 0-255")
        for key in ("tcp_timeout", "tcpfin_timeout", "udp_timeout", "monitor_links"):
            if getattr(config, key) < 0:
                raise self.error(config, key, "a negative value is not allowed")
        for key in ("tcp_timeout", "tcpfin_timeout", "udp_timeout"):  # 0: the kernel's
            problem = input_rules.connection_timeout_problem(getattr(config, key), 0)
            if problem:
                raise self.error(config, key, problem)
        problem = _device_problem(config.syncd_iface)
        if problem:
            raise self.error(config, "syncd_iface", problem)
        if config.nat_router is not None:
            self.mask_family(config, "nat_nmask", config.nat_nmask, config.nat_router.ip)
            if config.network != "nat":
                self.warn(config, "nat_router", "only brought up when network = nat (as in "
                                                "Piranha)")
        if config.heartbeat_key_file is not None and \
                not config.heartbeat_key_file.startswith("/"):
            raise self.error(config, "heartbeat_key_file", "an absolute path expected")
        active_virtuals = [virtual for virtual in config.virtuals if virtual.active]
        active_failovers = [failover for failover in config.failovers if failover.active]
        if config.service == "lvs" and not active_virtuals:
            raise self.error(config, "service", "no active virtual block: at least one "
                                                "'virtual' needs active = 1")
        if config.service == "fos" and not active_failovers:
            raise self.error(config, "service", "no active failover block: at least one "
                                                "'failover' needs active = 1 with service = fos")

    def same_family(self, block: Block, key: str, address: str | None, other: str | None,
                    other_key: str) -> None:
        if address is None or other is None:
            return
        if ip_family(address) != ip_family(other):
            raise self.error(block, key, f"{address} is not of the same address family as "
                                         f"{other_key} {other}")

    def mask_family(self, block: Block, key: str, mask: str | int | None, address: str) -> None:
        if mask is None:
            return
        problem = mask_problem(mask, ip_family(address))
        if problem:
            raise self.error(block, key, f"Bad subnet mask specified: {problem}")

    # -- virtual blocks

    def check_virtual(self, virtual: VirtualService) -> None:
        self.check_values(virtual)
        if virtual.address is None:
            raise self.error(virtual, "address", "missing: 'address = IP DEVICE' is required")
        vip = virtual.address.ip
        self.mask_family(virtual, "vip_nmask", virtual.vip_nmask, vip)
        self.same_family(virtual, "sorry_server", virtual.sorry_server, vip, "the address")
        if virtual.fwmark is not None and not 1 <= virtual.fwmark <= MAX_FWMARK:
            raise self.error(virtual, "fwmark", f"fwmark must be 1-{MAX_FWMARK} (leave it out for "
                                                "a service without firewall mark)")
        self.check_scheduler_flags(virtual)
        for key in ("persistent", "timeout", "reentry"):
            if getattr(virtual, key) < 0:
                raise self.error(virtual, key, "a negative value is not allowed")
        for key in ("rise", "fall"):
            value = getattr(virtual, key)
            if value is not None and value < 1:
                raise self.error(virtual, key, "at least 1 expected")
        self.check_pmask(virtual, vip)
        self.check_service_rules(virtual)
        if virtual.sorry_server is not None:
            self.check_real_server_address(virtual, "sorry_server", virtual.sorry_server)
        if virtual.timeout == 0:
            self.warn(virtual, "timeout", "timeout = 0 made Piranha's nanny divide by zero; it "
                                          "is the check period, use at least 1")
        if virtual.protocol == "udp" and virtual.expect is None and virtual.send_program is None:
            self.warn(virtual, "protocol", "a UDP check needs a reply: set 'expect' or use "
                                           "'send_program' (Piranha's nanny crashed without)")
        names: dict[str, Block] = {}
        for server in virtual.servers:
            if not isinstance(server, RealServer):
                raise self.error(virtual, None, "servers must hold RealServer objects")
            self.check_name(server, names, "a server block")
            self.check_server(virtual, server, vip)
        self.check_fwmark_nat(virtual)
        self.check_destinations(virtual)

    def check_scheduler_flags(self, virtual: VirtualService) -> None:
        for flag in sorted(virtual.scheduler_flags):
            scheduler = flag.split("-")[0]
            if virtual.scheduler != scheduler:
                raise self.error(virtual, "scheduler_flags",
                                 f"{flag} needs scheduler = {scheduler}, not "
                                 f"{virtual.scheduler}")

    def check_pmask(self, virtual: VirtualService, vip: str) -> None:
        self.mask_family(virtual, "pmask", virtual.pmask, vip)
        if virtual.pmask is None:
            return
        if virtual.persistent <= 0:
            self.warn(virtual, "pmask", "has no effect without 'persistent'")
        elif virtual.pmask == "0.0.0.0":
            self.warn(virtual, "pmask", "0.0.0.0 is ignored (as by Piranha): persistence stays "
                                        "per client")

    def check_service_rules(self, virtual: VirtualService) -> None:
        """What the kernel refuses or gets wrong in the service: the IPVS modules' rules."""
        problem = input_rules.service_problem(service_for_virtual(virtual))
        if problem:
            field, reason = problem
            raise self.error(virtual, _KEY_OF_FIELD.get(field, field), reason)

    def check_real_server_address(self, block: Block, key: str, address: str) -> None:
        problem = input_rules.real_server_address_problem(address)
        if problem:
            raise self.error(block, key, f"invalid host name or ip address: {problem}")

    def check_server(self, virtual: VirtualService, server: RealServer, vip: str) -> None:
        self.check_values(server)
        if server.address is None:
            raise self.error(server, "address", "missing: 'address = IP' is required")
        self.same_family(server, "address", server.address, vip,
                         f"virtual {virtual.name}'s address")
        self.check_real_server_address(server, "address", server.address)
        if server.port is None or not 0 <= server.port <= 65535:
            raise self.error(server, "port", f"port {server.port} is outside 0-65535")
        if server.weight < 0:
            raise self.error(server, "weight", "a negative weight is not allowed")
        if server.weight == 0:
            self.warn(server, "weight", "weight 0 is used as 1 (as Piranha's nanny did); set "
                                        "active = 0 to keep a server out")

    def check_fwmark_nat(self, virtual: VirtualService) -> None:
        if virtual.fwmark is None or virtual.persistent > 0:
            return
        nat = any(forwarding_for_server(server, self.config) == "nat"
                  for server in virtual.servers) or \
            (not virtual.servers and self.config.network == "nat")
        if nat:
            self.warn(virtual, "fwmark", "fwmark with NAT and without persistence: IPVS sends "
                                         "every marked port to the servers' one port (gotcha G9);"
                                         " make the service persistent or use direct routing")

    def check_destinations(self, virtual: VirtualService) -> None:
        if not virtual.active:
            return
        seen: dict[tuple[str, int], RealServer] = {}
        for server in virtual.servers:
            if not server.active or server.address is None:
                continue
            key = (server.address, destination_port(virtual, server, self.config))
            if key in seen:
                raise self.error(server, "address",
                                 f"same IPVS destination {key[0]} port {key[1]} as active "
                                 f"server '{seen[key].name}'")
            seen[key] = server

    # -- failover blocks

    def check_failover(self, failover: FailoverService) -> None:
        self.check_values(failover)
        if failover.address is None:
            raise self.error(failover, "address", "missing: 'address = IP DEVICE' is required")
        self.mask_family(failover, "vip_nmask", failover.vip_nmask, failover.address.ip)
        if failover.timeout < 0:
            raise self.error(failover, "timeout", "a negative value is not allowed")
        if failover.timeout == 0:
            self.warn(failover, "timeout", "timeout = 0 made Piranha's nanny divide by zero; "
                                           "use at least 1")
        if self.config.service == "fos" and failover.active:
            for key in ("start_cmd", "stop_cmd"):
                if getattr(failover, key) is None:
                    raise self.error(failover, key, "missing: an active failover service needs "
                                                    "start_cmd and stop_cmd")

    # -- across blocks

    def check_services(self) -> None:
        seen: dict[Any, VirtualService] = {}
        for virtual in self.config.virtuals:
            if not virtual.active:
                continue
            key = service_for_virtual(virtual).key
            if key in seen:
                what = f"fwmark {virtual.fwmark}" if virtual.fwmark is not None else \
                    f"{virtual.protocol} {virtual.address.ip if virtual.address else ''} " \
                    f"port {virtual.port}"
                raise self.error(virtual, "fwmark" if virtual.fwmark is not None else "port",
                                 f"same IPVS service ({what}) as active virtual "
                                 f"'{seen[key].name}'")
            seen[key] = virtual

    def check_alias_labels(self) -> None:
        devices: dict[str, tuple[str, VirtualService]] = {}
        addresses: dict[str, tuple[str, VirtualService]] = {}
        for virtual in self.config.virtuals:
            if virtual.address is None:
                continue
            ip, device = virtual.address.ip, virtual.address.device
            if device in devices and devices[device][0] != ip:
                other = devices[device][1]
                self.warn(virtual, "address", f"device {device} also carries {devices[device][0]} "
                                              f"of virtual '{other.name}': each VIP needs its "
                                              "own alias label (gotcha G4)")
            if ip in addresses and addresses[ip][0] != device:
                other = addresses[ip][1]
                self.warn(virtual, "address", f"{ip} is on {addresses[ip][0]} in virtual "
                                              f"'{other.name}': services sharing a VIP should "
                                              "share its alias label (gotcha G4)")
            devices.setdefault(device, (ip, virtual))
            addresses.setdefault(ip, (device, virtual))


def _address_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return "IP address expected"
    family = ip_family(value)
    if family is None or input_rules.zone_problem(value):
        return f"invalid host name or ip address {value!r}"
    canonical = canonical_ip(value)
    if canonical != value:
        return f"{value!r} is not written canonically (write {canonical})"
    problem = input_rules.host_address_problem(value)
    return f"invalid host name or ip address: {problem}" if problem else None


def _string_value_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return "string expected"
    problem = string_problem(value)
    return f"the value {problem}" if problem else None


def _list_problem(value: Any) -> str | None:
    if not isinstance(value, tuple):
        return "list expected"
    for item in value:
        problem = _string_value_problem(item)
        if problem:
            return problem
        if item in ("", "[", "]"):
            return f"list item {item!r} cannot be written in a list"
    return None


def _device_problem(device: Any) -> str | None:
    if not isinstance(device, str) or device == "":
        return "a device name expected"
    if len(device) > MAX_DEVICE_NAME:
        return f"device name {device!r} is longer than {MAX_DEVICE_NAME} characters"
    if any(char in " \t/" for char in device) or string_problem(device):
        return f"invalid device name {device!r}"
    return None
