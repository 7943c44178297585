# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Piranha's lvs.cf to the router role's variables.

Every key the parser knows has a rule here (``GLOBAL_RULES``, ``VIRTUAL_RULES``,
``SERVER_RULES``, ``FAILOVER_RULES``): the imported variables, rendered by the role's lvs.cf
template, give a file whose model equals the original's, except for what ``unsupported`` names
and for ``heartbeat_key_file``, which the role adds itself in pulse mode (it manages the
heartbeat key). Values the role renders anyway (its defaults, ``ROLE_*`` below, kept equal to
roles/router/defaults/main.yml and vars/main.yml by a unit test) are left out.

The template writes ``router_lvs_cf_options`` and the keys of virtual and server entries as
given, so a string that needs quotes in lvs.cf (empty, holding a blank, or starting with a
quote) is given with its quotes, and ``dirs`` as ``[ a b ]``.
"""

from __future__ import annotations

from typing import Any

from ..lvs_cf.errors import LvsCfError
from ..lvs_cf.model import (
    Kind,
    LvsConfig,
    RealServer,
    VirtualService,
    key_default,
    key_fields,
)
from ..lvs_cf.parser import parse_lvs_cf
from .result import ImportResult, SourceError, Unsupported

FORMAT = "piranha"

# The role's own values (roles/router/defaults/main.yml, vars/main.yml, templates/lvs.cf.j2).
ROLE_GLOBALS: dict[str, Any] = {
    "router_serial_no": 1,
    "router_heartbeat_port": 539,
    "router_keepalive": 1,
    "router_deadtime": 3,
    "router_network": "direct",
    "router_monitor_links": False,
    "router_sync_daemon": False,
    "router_sync_interface": "eth0",
    "router_sync_id": 0,
    "router_heartbeat_key_path": "/etc/lvs-cluster/heartbeat.key",
}
# What a virtual gets unless it says otherwise: router_virtual_server_defaults and, for the
# pulse pair, router_ha_virtual_server_defaults.pulse.
ROLE_VIRTUAL_DEFAULTS: dict[str, Any] = {"port": 80, "protocol": "tcp", "timeout": 6,
                                         "reentry": 15, "scheduler": "wlc"}
ROLE_VIP_NETMASK = "255.255.255.0"  # router_vip_netmask
ROLE_NAT_NETMASK = "255.255.255.0"  # the template's nat_nmask without router_nat_router.netmask
# Global keys the template writes with a fixed value unless router_lvs_cf_options has the key
# (then the option's line replaces the fixed one).
ROLE_FIXED_GLOBALS: dict[str, Any] = {"heartbeat": True, "debug_level": "NONE",
                                      "hard_shutdown": False}
# Keys the template quotes itself (router_lvs_cf_quoted_keys).
ROLE_QUOTED_KEYS = frozenset({"send", "expect", "send_program", "start_cmd", "stop_cmd",
                              "active_cmd", "inactive_cmd"})

# How each key is carried. Globals: ``var`` a router_* variable; ``option``
# router_lvs_cf_options (keys the template does not write); ``fixed`` router_lvs_cf_options,
# replacing the template's fixed line; ``hosts`` the primary's host variables; the others have
# their own rule (methods of _Importer). Virtual and server keys: ``entry`` the key of the same
# name in the entry; the others have their own rule.
GLOBAL_RULES: dict[str, str] = {
    "serial_no": "var", "heartbeat_port": "var", "keepalive": "var", "deadtime": "var",
    "network": "var", "syncdaemon": "var", "monitor_links": "monitor_links",
    "syncd_iface": "sync_setting", "syncd_id": "sync_setting",
    "service": "service", "primary": "hosts", "primary_private": "hosts",
    "backup": "backup", "backup_private": "backup", "backup_active": "backup",
    "nat_router": "nat", "nat_nmask": "nat",
    "heartbeat": "fixed", "debug_level": "fixed", "hard_shutdown": "fixed",
    "heartbeat_key_file": "heartbeat_key_file",
    **dict.fromkeys((
        "rsh_command", "tcp_timeout", "tcpfin_timeout", "udp_timeout", "active_cmd",
        "inactive_cmd", "ipvsadm", "sync", "primary_shared", "backup_shared",
        "reservation_conflict_action"), "option"),
}
VIRTUAL_RULES: dict[str, str] = {
    "active": "active", "address": "address", "vip_nmask": "netmask",
    **dict.fromkeys((
        "sorry_server", "port", "protocol", "fwmark", "scheduler", "scheduler_flags",
        "persistent", "pmask", "timeout", "reentry", "rise", "fall", "send", "expect",
        "use_regex", "send_program", "load_monitor", "quiesce_server", "client_monitor",
        "master", "dirs", "start_cmd", "stop_cmd"), "entry"),
}
SERVER_RULES: dict[str, str] = {"address": "address", "active": "active", "weight": "entry",
                                "port": "server_port", "forwarding": "entry", "drain": "entry"}
# A failover block is reported whole: the role renders no failover blocks.
FAILOVER_RULES: dict[str, str] = dict.fromkeys((
    "active", "address", "vip_nmask", "port", "protocol", "timeout", "send", "expect",
    "send_program", "start_cmd", "stop_cmd"), "unsupported")

_VAR_NAMES = {"serial_no": "router_serial_no", "heartbeat_port": "router_heartbeat_port",
              "keepalive": "router_keepalive", "deadtime": "router_deadtime",
              "network": "router_network", "syncdaemon": "router_sync_daemon"}
_SYNC_VAR_NAMES = {"syncd_iface": "router_sync_interface", "syncd_id": "router_sync_id"}
_NO_MAPPING = "no mapping to the router role's variables"


def import_lvs_cf(text: str | bytes, file: str) -> ImportResult:
    """The router role's variables that reproduce the lvs.cf ``text`` read from ``file``
    (bytes are read as UTF-8: an undecodable byte is an error at its line).

    A file the parser refuses (syntax or validation) raises SourceError with the parser's
    file, line, block, key and reason.
    """
    try:
        config = parse_lvs_cf(text, file).config
    except LvsCfError as err:
        reason = ": ".join([part for part in (err.block, err.key) if part] + [err.reason])
        raise SourceError(reason, file=file, line=err.line) from err
    importer = _Importer(config, file)
    importer.run()
    return importer.result


class _Importer:
    def __init__(self, config: LvsConfig, file: str) -> None:
        self.config = config
        self.file = file
        self.result = ImportResult(format=FORMAT, sources=[file])
        self.options: dict[str, Any] = {}

    def report(self, line: int | None, construct: str, reason: str) -> None:
        self.result.unsupported.append(Unsupported(self.file, line, construct, reason))

    def set_var(self, name: str, value: Any) -> None:
        if value != ROLE_GLOBALS.get(name):
            self.result.router_vars[name] = value

    def host(self, role: str, name: str, value: Any) -> None:
        if value is not None:
            self.result.hosts.setdefault(role, {})[name] = value

    def option(self, key: str, value: Any, role_value: Any) -> None:
        if value != role_value:
            self.options[key] = _as_written(key, value, LvsConfig)

    # -- the whole file

    def run(self) -> None:
        for key in key_fields(LvsConfig):
            self.global_key(key, GLOBAL_RULES.get(key))
        if self.options:
            self.result.router_vars["router_lvs_cf_options"] = dict(sorted(self.options.items()))
        virtuals = [self.virtual(virtual) for virtual in self.config.virtuals]
        if virtuals:
            self.result.router_vars["router_virtual_servers"] = virtuals
        for failover in self.config.failovers:
            self.report(failover.line, f"failover {failover.name}",
                        "failover blocks (Piranha's fos) have no equivalent in the router role, "
                        "which runs LVS only")

    def global_key(self, key: str, rule: str | None) -> None:
        config = self.config
        value = getattr(config, key)
        default = key_default(key_fields(LvsConfig)[key])
        line = config.key_lines.get(key)
        if rule == "var":
            self.set_var(_VAR_NAMES[key], _plain(value))
        elif rule == "option":
            self.option(key, value, default)
        elif rule == "fixed":
            self.option(key, value, ROLE_FIXED_GLOBALS[key])
        elif rule == "sync_setting":
            if config.syncdaemon:
                self.set_var(_SYNC_VAR_NAMES[key], value)
            else:  # the template writes them only with the sync daemon
                self.option(key, value, default)
        elif rule == "hosts":
            name = "router_public_address" if key == "primary" else "router_private_address"
            self.host("primary", name, value)
        elif rule == "backup":
            self.backup_key(key, value)
        elif rule == "nat":
            self.nat_key(key, value)
        elif rule == "monitor_links":
            self.set_var("router_monitor_links", bool(value))
            if value not in (0, 1):
                self.report(line, f"monitor_links = {value}",
                            "router_monitor_links is a boolean: carried as 1 (on)")
        elif rule == "service":
            if value != "lvs":
                self.report(line, f"service = {value}",
                            "the router role runs LVS only (service = lvs); failover services "
                            "(fos) have no equivalent")
        elif rule == "heartbeat_key_file":
            self.heartbeat_key_file(value, line)
        else:
            self.report(line, key, _NO_MAPPING)

    def backup_key(self, key: str, value: Any) -> None:
        if key == "backup_active":
            return  # the template writes it from router_backup: a backup host, or none
        if self.config.backup_active:
            name = "router_public_address" if key == "backup" else "router_private_address"
            self.host("backup", name, value)
        else:  # a backup named but off: without a backup host the template writes no backup
            self.option(key, value, None)

    def nat_key(self, key: str, value: Any) -> None:
        config = self.config
        if config.network != "nat":  # the template writes nat_router only with nat
            self.option(key, value, None)
            return
        if config.nat_router is None:
            if key == "nat_router":
                self.report(config.key_lines.get("network"), "network = nat without nat_router",
                            "the router role needs router_nat_router (address and device) with "
                            "router_network nat")
            else:
                self.option(key, value, None)
            return
        nat_router = self.result.router_vars.setdefault("router_nat_router", {})
        if key == "nat_router":
            nat_router["address"] = value.ip
            nat_router["device"] = value.device
        elif value != ROLE_NAT_NETMASK:
            nat_router["netmask"] = value  # None: no nat_nmask line (a host address)

    def heartbeat_key_file(self, value: str | None, line: int | None) -> None:
        if value is None:
            return  # the role writes its own key file in pulse mode
        if _quoted_if_needed(value) != value:
            self.report(line, f"heartbeat_key_file = {value}",
                        "router_heartbeat_key_path is a plain path, written unquoted")
        else:
            self.set_var("router_heartbeat_key_path", value)

    # -- virtual and server blocks

    def virtual(self, virtual: VirtualService) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": _quoted_if_needed(virtual.name)}
        for key, key_field in key_fields(VirtualService).items():
            value = getattr(virtual, key)
            rule = VIRTUAL_RULES.get(key)
            if rule == "address":
                # explicit, although eth0:N is the role's default: N is the entry's position
                entry["address"] = value.ip
                entry["device"] = value.device
            elif rule == "active":
                if not value:
                    entry["active"] = False
            elif rule == "netmask":
                if value != ROLE_VIP_NETMASK:
                    entry["netmask"] = value  # None: no vip_nmask line (a host address)
            elif rule == "entry":
                if value != ROLE_VIRTUAL_DEFAULTS.get(key, key_default(key_field)):
                    entry[key] = _as_written(key, value, VirtualService)
            else:
                self.report(virtual.key_lines.get(key, virtual.line),
                            f"virtual {virtual.name}: {key}", _NO_MAPPING)
        servers = [self.server(server, virtual) for server in virtual.servers]
        if servers:
            entry["real_servers"] = servers
        return entry

    def server(self, server: RealServer, virtual: VirtualService) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": _quoted_if_needed(server.name)}
        for key, key_field in key_fields(RealServer).items():
            value = getattr(server, key)
            rule = SERVER_RULES.get(key)
            if rule == "address":
                entry["address"] = value
            elif rule == "active":
                if not value:
                    entry["active"] = False
            elif rule == "server_port":
                # without a port the rendered server takes its virtual's (final) port
                if value != virtual.port:
                    entry["port"] = value
            elif rule == "entry":
                if value != key_default(key_field):
                    entry[key] = _as_written(key, value, RealServer)
            else:
                self.report(server.key_lines.get(key, server.line),
                            f"virtual {virtual.name}: server {server.name}: {key}", _NO_MAPPING)
        return entry


def _plain(value: Any) -> Any:
    """Whole seconds as integers (``keepalive = 2``, not ``2.0``)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _as_written(key: str, value: Any, cls: type) -> Any:
    """``value`` as the role's template must be given it to write the same lvs.cf value."""
    kind = key_fields(cls)[key].metadata["kind"]
    if kind == Kind.FLAGS:
        return [flag for flag in key_fields(cls)[key].metadata["choices"] if flag in value]
    if kind == Kind.LIST:
        return "[ " + " ".join(_quoted_if_needed(item) for item in value) + " ]"
    if kind == Kind.DEVICE_ADDRESS:
        return [value.ip, value.device]  # a list is written space-separated: IP DEVICE
    if kind == Kind.SECONDS:
        return _plain(value)
    if isinstance(value, str) and key not in ROLE_QUOTED_KEYS:
        return _quoted_if_needed(value)
    return value


def _quoted_if_needed(text: str) -> str:
    """``text`` as one lvs.cf token: in double quotes when empty, holding a blank, or starting
    with a quote (lvs.cf values hold no double quote: there is no escape)."""
    if text and not any(char in text for char in " \t") and text[0] != "'":
        return text
    return f'"{text}"'
