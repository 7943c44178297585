# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived.conf's LVS subset to the router role's variables (docs/migrating.md).

What maps, in short: each ``virtual_server`` (by address and port, by ``fwmark``, or by
``group``: one service per member of its ``virtual_server_group``) becomes a
``router_virtual_servers`` entry; its ``real_server`` blocks its ``real_servers``; the checks
(one per service in lvs.cf, per real server in keepalived) become ``send``/``expect``
(``HTTP_GET``), ``send_program`` (``MISC_CHECK``, ``SSL_GET`` through curl) or lvsd's TCP connect
(``TCP_CHECK``), with keepalived's timing (``delay_loop`` -> ``timeout``, ``retry`` -> ``fall``,
one good check -> ``rise``); the one ``vrrp_instance`` becomes the pair (``advert_int`` ->
keepalive, three of them -> deadtime, its VIPs' devices and netmasks); ``lvs_sync_daemon`` and
``lvs_timeouts`` the sync daemon and the connection timeouts. Everything else is listed in
``unsupported`` with file and line; a construct that would change what traffic does (an SCTP
service, a scheduler lvs.cf does not know) leaves its whole service out and says so.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from typing import Any

from .. import vocabulary
from .keepalived_checks import CHECKERS, Check, one_check, read_check
from .keepalived_conf import Statement, read_file
from .keepalived_values import (
    pairs,
    plain,
    read_address,
    read_address_range,
    read_integer,
    read_mask,
    read_number,
    word,
)
from .result import ImportResult, SourceError, Unsupported

METHODS = {"DR": "direct", "NAT": "nat", "TUN": "tunnel"}
SCHEDULER_FLAGS = {"sh-port": "sh-port", "sh-fallback": "sh-fallback", "mh-port": "mh-port",
                   "mh-fallback": "mh-fallback"}
# keepalived's defaults (keepalived.conf(5)).
DELAY_LOOP = 60.0
# Role defaults a service need not repeat (roles/router/defaults/main.yml).
ROLE_SERVICE_DEFAULTS = {"timeout": 6, "reentry": 15}


class _Importer:
    def __init__(self, statements: list[Statement], files: list[str]) -> None:
        self.statements = statements
        self.result = ImportResult(format="keepalived", sources=list(files))
        self.groups: dict[str, Statement] = {}
        self.vips: dict[str, dict[str, Any]] = {}
        self.methods: Counter[str] = Counter()

    def unsupported(self, statement: Statement, reason: str, construct: str | None = None) -> None:
        text = construct or " ".join([statement.keyword, *statement.args])
        self.result.unsupported.append(Unsupported(statement.file, statement.line, text, reason))

    def run(self) -> ImportResult:
        for statement in self.statements:
            if statement.keyword == "virtual_server_group":
                self._group(statement)
        instances = [s for s in self.statements if s.keyword == "vrrp_instance"]
        if instances:
            self._vrrp(instances[0])
            for extra in instances[1:]:
                self.unsupported(extra, "the router pair has one set of VIPs: only the first "
                                 f"vrrp_instance (line {instances[0].line}) is imported")
        services: list[dict[str, Any]] = []
        for statement in self.statements:
            keyword = statement.keyword
            if keyword == "global_defs":
                self._global_defs(statement)
            elif keyword == "virtual_server":
                services.extend(self._virtual_server(statement))
            elif keyword in ("virtual_server_group", "vrrp_instance"):
                continue
            else:
                self.unsupported(statement, "no router role equivalent")
        self._finish(services)
        order = {file: index for index, file in enumerate(self.result.sources)}
        self.result.unsupported.sort(key=lambda item: (order.get(item.file, len(order)),
                                                       item.line or 0))
        return self.result

    # --- global_defs -------------------------------------------------------------------------

    def _global_defs(self, block: Statement) -> None:
        for statement in block.block or []:
            if statement.keyword == "lvs_sync_daemon" and len(statement.args) >= 2:
                self._sync_daemon(statement)
            elif statement.keyword == "lvs_timeouts":
                self._timeouts(statement)
            elif statement.keyword in ("router_id", "lvs_id"):
                self.unsupported(statement, "a name only: the inventory names the routers")
            else:
                self.unsupported(statement, "keepalived's global setting has no router role "
                                 "equivalent")

    def _sync_daemon(self, statement: Statement) -> None:
        variables = self.result.router_vars
        variables["router_sync_daemon"] = True
        variables["router_sync_interface"] = statement.args[0]
        options = statement.args[2:]
        for name, value in pairs(options):
            if name == "id":
                variables["router_sync_id"] = read_integer(statement, value, 0, 255)
            else:
                self.unsupported(statement, "the sync daemon's options other than id are the "
                                 "kernel's defaults", f"lvs_sync_daemon ... {name} {value}")
        if len(options) % 2:
            raise SourceError(f"lvs_sync_daemon: '{options[-1]}' has no value",
                              file=statement.file, line=statement.line)

    def _timeouts(self, statement: Statement) -> None:
        names = {"tcp": "tcp_timeout", "tcpfin": "tcpfin_timeout", "udp": "udp_timeout"}
        options = self.result.router_vars.setdefault("router_lvs_cf_options", {})
        args = statement.args
        for name, value in pairs(args):
            if name in names:
                options[names[name]] = read_integer(statement, value, 0, 2147483)
            else:
                self.unsupported(statement, "no lvs.cf equivalent", f"lvs_timeouts {name}")

    # --- vrrp_instance -----------------------------------------------------------------------

    def _vrrp(self, instance: Statement) -> None:
        variables = self.result.router_vars
        this = self.result.this_router
        for statement in instance.block or []:
            keyword, args = statement.keyword, statement.args
            if keyword == "state" and args:
                this["state"] = args[0].upper()
            elif keyword == "priority" and args:
                this["priority"] = read_integer(statement, args[0], 1, 255)
            elif keyword == "advert_int" and args:
                advert = read_number(statement, args[0])
                variables["router_keepalive"] = plain(advert)
                variables["router_deadtime"] = plain(3 * advert)
            elif keyword == "interface" and args:
                variables["router_vip_interface"] = args[0]
            elif keyword == "virtual_ipaddress":
                for line in statement.block or []:
                    self._vip(line)
            elif keyword == "unicast_src_ip" and args:
                this["address"] = read_address(statement, args[0])
            elif keyword == "unicast_peer":
                peers = [child.keyword for child in statement.block or []]
                if len(peers) == 1:
                    this["peer"] = read_address(statement, peers[0])
                else:
                    self.unsupported(statement, "the pair has one peer: "
                                     f"{len(peers)} unicast peers")
            elif keyword == "virtual_router_id":
                self.unsupported(statement, "VRRP's own: pulse's heartbeats go to the peer's "
                                 "address and need no router id")
            elif keyword == "authentication":
                self.unsupported(statement, "replaced: pulse authenticates heartbeats with the "
                                 "key in router_heartbeat_key (HMAC), not a VRRP password")
            else:
                self.unsupported(statement, "no router role equivalent")

    def _vip(self, line: Statement) -> None:
        words = [line.keyword, *line.args]
        try:
            interface = ipaddress.ip_interface(words[0])
        except ValueError:
            raise SourceError(f"virtual_ipaddress: '{words[0]}' is not an address",
                              file=line.file, line=line.line) from None
        vip: dict[str, Any] = {"line": line}
        if "/" in words[0]:
            vip["netmask"] = str(interface.netmask) if interface.version == 4 \
                else interface.network.prefixlen
        options = words[1:]
        for name, value in pairs(options):
            if name in ("dev", "label"):
                vip[name] = value
            elif name not in ("brd", "broadcast", "scope"):
                self.unsupported(line, "no lvs.cf equivalent", f"{words[0]} {name} {value}")
        self.vips[str(interface.ip)] = vip

    # --- virtual_server_group ----------------------------------------------------------------

    def _group(self, statement: Statement) -> None:
        if len(statement.args) != 1 or statement.block is None:
            raise SourceError("virtual_server_group takes a name and a block",
                              file=statement.file, line=statement.line)
        self.groups[statement.args[0]] = statement

    def _group_members(self, statement: Statement,
                       name: str) -> list[tuple[str | None, int, int | None]]:
        group = self.groups.get(name)
        if group is None:
            raise SourceError(f"virtual_server group {name}: no virtual_server_group of that "
                              "name", file=statement.file, line=statement.line)
        members: list[tuple[str | None, int, int | None]] = []
        for member in group.block or []:
            if member.keyword == "fwmark" and len(member.args) == 1:
                members.append((None, 0, read_integer(member, member.args[0], 1, 2**32 - 1)))
                continue
            if len(member.args) != 1:
                raise SourceError("a group member is 'ADDRESS PORT', 'ADDRESS-LAST PORT' or "
                                  "'fwmark N'", file=member.file, line=member.line)
            port = read_integer(member, member.args[0], 0, 65535)
            for address in read_address_range(member):
                members.append((address, port, None))
        return members

    # --- virtual_server ----------------------------------------------------------------------

    def _virtual_server(self, statement: Statement) -> list[dict[str, Any]]:
        args = statement.args
        if statement.block is None or not args:
            raise SourceError("virtual_server takes 'ADDRESS PORT', 'fwmark N' or 'group NAME' "
                              "and a block", file=statement.file, line=statement.line)
        if args[0] == "group" and len(args) == 2:
            members = self._group_members(statement, args[1])
            base = args[1]
        elif args[0] == "fwmark" and len(args) == 2:
            members = [(None, 0, read_integer(statement, args[1], 1, 2**32 - 1))]
            base = None
        elif len(args) == 2:
            address = read_address(statement, args[0])
            members = [(address, read_integer(statement, args[1], 0, 65535), None)]
            base = None
        else:
            raise SourceError("virtual_server takes 'ADDRESS PORT', 'fwmark N' or 'group NAME'",
                              file=statement.file, line=statement.line)
        virtual_ports = {port or 80 if fwmark is None else 80 for _address, port, fwmark in members}
        common = self._service_settings(statement, 80 in virtual_ports)
        if common is None:
            return []
        services = []
        for index, (address, port, fwmark) in enumerate(members, 1):
            service = dict(common)
            if fwmark is not None:
                service["name"] = f"{base}_{index}" if base else f"fwm{fwmark}"
                service["fwmark"] = fwmark
                address = self._fwmark_address(statement)
                if address is None:
                    return []
            else:
                service["name"] = (f"{base}_{index}" if base
                                   else f"vs_{word(address)}_{port}")
                service["port"] = port if port else 80
            service["address"] = address
            vip = self.vips.get(str(address))
            if vip:
                vip["used"] = True
                if "label" in vip or "dev" in vip:
                    service["device"] = vip.get("label", vip.get("dev"))
                if "netmask" in vip:
                    service["netmask"] = vip["netmask"]
            service["real_servers"] = [_without_port(rs, service.get("port"))
                                       for rs in common["real_servers"]]
            services.append(_ordered(service))
        return services

    def _fwmark_address(self, statement: Statement) -> str | None:
        """lvs.cf's fwmark service still names the VIP pulse brings up: the one VIP of the
        vrrp_instance that no address service uses (a keepalived fwmark service has none)."""
        addresses = {s.args[0] for s in self.statements
                     if s.keyword == "virtual_server" and len(s.args) == 2
                     and s.args[0] not in ("fwmark", "group")}
        free = [vip for vip in self.vips if vip not in addresses]
        if len(free) >= 1:
            self.vips[free[0]]["used"] = True
            return free[0]
        if self.vips:
            return next(iter(self.vips))
        self.unsupported(statement, "left out: lvs.cf's fwmark service needs the VIP it "
                         "serves, and the file has no vrrp_instance VIP to take")
        return None

    def _service_settings(self, statement: Statement, on_port_80: bool) -> dict[str, Any] | None:
        service: dict[str, Any] = {}
        delay_loop = DELAY_LOOP
        defaults: dict[str, Any] = {}
        servers: list[Statement] = []
        sorry: Statement | None = None
        for child in statement.block or []:
            keyword, args = child.keyword, child.args
            if keyword == "delay_loop" and args:
                delay_loop = read_number(child, args[0])
            elif keyword in ("lb_algo", "lvs_sched") and args:
                if args[0] not in vocabulary.SCHEDULERS:
                    self.unsupported(child, "left out the whole service: lvs.cf's schedulers "
                                     f"are {', '.join(vocabulary.SCHEDULERS)}")
                    return None
                service["scheduler"] = args[0]
            elif keyword in SCHEDULER_FLAGS:
                service.setdefault("scheduler_flags", []).append(SCHEDULER_FLAGS[keyword])
            elif keyword in ("lb_kind", "lvs_method") and args:
                method = METHODS.get(args[0].upper())
                if method is None:
                    raise SourceError(f"{keyword}: '{args[0]}' is none of DR, NAT, TUN",
                                      file=child.file, line=child.line)
                service["_method"] = method
            elif keyword == "persistence_timeout":
                service["persistent"] = read_integer(child, args[0], 0, 4294967) if args else 360
            elif keyword == "persistence_granularity" and args:
                service["pmask"] = read_mask(child, args[0])
            elif keyword == "protocol" and args:
                protocol = args[0].lower()
                if protocol not in ("tcp", "udp"):
                    self.unsupported(child, "left out the whole service: lvs.cf's protocols are "
                                     "tcp and udp")
                    return None
                service["protocol"] = protocol
            elif keyword == "sorry_server" and args:
                sorry = child
            elif keyword == "inhibit_on_failure":
                service["quiesce_server"] = True
            elif keyword == "real_server":
                servers.append(child)
            elif keyword in ("connect_timeout", "retry", "nb_get_retry", "delay_before_retry"):
                defaults[keyword] = child
            else:
                self.unsupported(child, "no lvs.cf equivalent")
        method = service.pop("_method", "nat")  # keepalived's default lb_kind is NAT
        service["scheduler"] = service.get("scheduler", vocabulary.DEFAULT_SCHEDULER)
        service["timeout"] = plain(delay_loop)
        service["rise"] = 1  # keepalived brings a server back on its first good check
        real_servers = []
        checks: list[tuple[Statement, Check | None]] = []
        quiesce = [s for s in servers if s.children("inhibit_on_failure")]
        if quiesce and len(quiesce) < len(servers) and not service.get("quiesce_server"):
            self.unsupported(quiesce[0], "lvs.cf quiesces every server of a service or none: "
                             "inhibit_on_failure on some real servers only is imported for all",
                             "inhibit_on_failure")
        if quiesce:
            service["quiesce_server"] = True
        for server in servers:
            entry, check = self._real_server(server, defaults, on_port_80)
            entry["_method"] = method
            real_servers.append(entry)
            checks.append((server, check))
        service.update(one_check(statement, checks, delay_loop, self.unsupported))
        if sorry is not None:
            self._sorry(sorry, service, statement)
        self.methods.update([method])
        service["real_servers"] = real_servers
        for key, default in ROLE_SERVICE_DEFAULTS.items():
            if service.get(key) == default:
                del service[key]
        return service

    def _sorry(self, sorry: Statement, service: dict[str, Any], statement: Statement) -> None:
        address = read_address(sorry, sorry.args[0])
        service["sorry_server"] = address
        if len(sorry.args) > 1:
            port = read_integer(sorry, sorry.args[1], 0, 65535)
            wanted = statement.args[1] if len(statement.args) == 2 and \
                statement.args[0] not in ("fwmark", "group") else None
            if wanted is not None and str(port) != wanted:
                self.unsupported(sorry, f"lvs.cf's sorry server takes the service's port "
                                 f"({wanted}), not {port}")

    def _real_server(self, server: Statement, defaults: dict[str, Statement],
                     on_port_80: bool) -> tuple[dict[str, Any], Check | None]:
        if len(server.args) not in (1, 2) or server.block is None and len(server.args) != 2:
            raise SourceError("real_server takes 'ADDRESS PORT' and a block", file=server.file,
                              line=server.line)
        address = read_address(server, server.args[0])
        entry: dict[str, Any] = {"name": f"rs_{word(address)}", "address": address}
        if len(server.args) == 2:
            port = read_integer(server, server.args[1], 0, 65535)
            entry["name"] += f"_{port}"
            if port:
                entry["port"] = port
        check: Check | None = None
        checkers = 0
        for child in server.block or []:
            keyword, args = child.keyword, child.args
            if keyword == "weight" and args:
                entry["weight"] = read_integer(child, args[0], 0, 65535)
            elif keyword == "inhibit_on_failure":
                continue  # handled for the whole service
            elif keyword in CHECKERS:
                checkers += 1
                if checkers > 1:
                    self.unsupported(child, "lvs.cf has one check per service: only the first "
                                     "checker of a real server is imported")
                    continue
                check = read_check(child, defaults, entry.get("port"), on_port_80,
                                   self.unsupported)
            else:
                self.unsupported(child, "no lvs.cf equivalent")
        if entry.get("weight", 1) == 1:
            entry.pop("weight", None)
        return entry, check

    # --- the whole -------------------------------------------------------------------------

    def _finish(self, services: list[dict[str, Any]]) -> None:
        variables = self.result.router_vars
        if self.methods:
            network = self.methods.most_common(1)[0][0]
            variables["router_network"] = network
        else:
            network = "direct"
        for service in services:
            for server in service["real_servers"]:
                method = server.pop("_method")
                if method != network:
                    server["forwarding"] = method
        if network == "nat":
            self._nat_router()
        for address, vip in self.vips.items():
            if not vip.get("used") and not vip.get("nat_router"):
                self.unsupported(vip["line"], "no virtual_server serves this VIP: pulse brings "
                                 "up only its services' VIPs", address)
        variables["router_virtual_servers"] = services
        if variables.get("router_lvs_cf_options") == {}:
            del variables["router_lvs_cf_options"]

    def _nat_router(self) -> None:
        spare = [(address, vip) for address, vip in self.vips.items() if not vip.get("used")]
        if len(spare) == 1:
            address, vip = spare[0]
            vip["nat_router"] = True
            nat = {"address": address, "device": vip.get("label", vip.get("dev", "eth1:1"))}
            if "netmask" in vip:
                nat["netmask"] = vip["netmask"]
            self.result.router_vars["router_nat_router"] = nat
            return
        self.result.unsupported.append(Unsupported(
            self.result.sources[0] if self.result.sources else "keepalived.conf", None,
            "router_nat_router", "NAT needs the real servers' gateway address "
            "(router_nat_router): set it by hand, the file has "
            f"{len(spare)} VIPs that no service uses"))


def import_keepalived(path: str) -> ImportResult:
    """Read ``path`` (and its includes) and map it; SourceError when it cannot be read."""
    statements, files = read_file(path)
    return _Importer(statements, files).run()


def import_statements(statements: list[Statement], files: list[str]) -> ImportResult:
    return _Importer(statements, files).run()


def looks_like_keepalived(text: str) -> bool:
    """keepalived.conf has blocks keyed by these words; lvs.cf has ``key = value`` lines."""
    return re.search(r"^\s*(virtual_server|vrrp_instance|global_defs|virtual_server_group"
                     r"|include)\b[^=\n]*$", text, re.MULTILINE) is not None


def _without_port(server: dict[str, Any], virtual_port: int | None) -> dict[str, Any]:
    """A real server's port is left out when it is its service's (lvs.cf's default)."""
    if virtual_port is not None and server.get("port") == virtual_port:
        return {key: value for key, value in server.items() if key != "port"}
    return dict(server)


def _ordered(service: dict[str, Any]) -> dict[str, Any]:
    first = ["name", "address", "device", "netmask", "port", "protocol", "fwmark", "scheduler"]
    return {**{key: service[key] for key in first if key in service},
            **{key: value for key, value in service.items() if key not in first}}
