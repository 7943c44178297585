# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPVS modules' side of the core: module options <-> the IPVS model, results, the kernel.

This is the one place that knows the modules' vocabulary (``persistence_timeout``,
``scheduler_flags``, ``forwarding: direct`` ...) and turns it into ``Service`` /
``Destination`` values and back. It imports nothing from ``ansible`` except where a function
takes the ``AnsibleModule`` (``kernel``, ``fail``), so the conversions are testable alone.

Declarative: an option left out means its default (``scheduler: wlc``, ``weight: 1``, no
persistence ...), never "keep whatever the kernel has".
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import errno
import ipaddress
import os
import time
from collections.abc import Callable, Iterable, Mapping

from .. import vocabulary
from . import netlink as nl
from . import reconcile as rc
from .model import Destination, Service

DEFAULT_SCHEDULER = vocabulary.DEFAULT_SCHEDULER
DEFAULT_FORWARDING = vocabulary.DEFAULT_FORWARDING
DEFAULT_WEIGHT = 1
# Argument-spec choices (lists, as AnsibleModule's argument specs are written).
PROTOCOLS = list(vocabulary.PROTOCOLS)
FAMILIES = list(vocabulary.FAMILIES)
SCHEDULER_FLAGS = list(vocabulary.SCHEDULER_FLAGS)
FORWARDING = list(vocabulary.FORWARDING)
TUNNEL_TYPES = list(vocabulary.TUNNEL_TYPES)
TUNNEL_FLAGS = list(vocabulary.TUNNEL_FLAGS)
DAEMON_STATES = ["master", "backup"]
# What the kernel fills in for a sync daemon option left out (net/netfilter/ipvs/ip_vs_sync.c).
DAEMON_DEFAULTS = {"group": "224.0.0.81", "port": 8848, "ttl": 1}
NO_IPVS = "the kernel has no IPVS: load the ip_vs module (modprobe ip_vs)"
DRAIN_POLL_SECONDS = 1.0


class ParamError(ValueError):
    """A bad option value; ``field`` is its path in the module's options."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


# --- argument specs (fresh copies each call: callers may extend them) --------------------------

_SERVICE_IDENTITY = dict(
    protocol=dict(type="str", choices=PROTOCOLS),
    address=dict(type="str"),
    port=dict(type="int"),
    fwmark=dict(type="int"),
    family=dict(type="str", choices=FAMILIES),
)

_SERVICE_OPTIONS = dict(
    scheduler=dict(type="str", default=DEFAULT_SCHEDULER),
    persistence_timeout=dict(type="int", default=0),
    persistence_netmask=dict(type="raw"),
    one_packet=dict(type="bool", default=False),
    scheduler_flags=dict(type="list", elements="str", choices=SCHEDULER_FLAGS, default=[]),
    pe_name=dict(type="str"),
)

_DESTINATION = dict(
    address=dict(type="str", required=True),
    port=dict(type="int"),
    forwarding=dict(type="str", choices=FORWARDING, default=DEFAULT_FORWARDING),
    weight=dict(type="int", default=DEFAULT_WEIGHT),
    upper_threshold=dict(type="int", default=0),
    lower_threshold=dict(type="int", default=0),
    tunnel_type=dict(type="str", choices=TUNNEL_TYPES),
    tunnel_port=dict(type="int"),
    tunnel_flags=dict(type="list", elements="str", choices=TUNNEL_FLAGS, default=[]),
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

    IPv4 takes a dotted mask (255.255.255.0) or a prefix length; IPv6 a prefix length.
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
        if not 0 <= prefix <= full:
            raise ParamError(field, f"prefix length 0-{full} expected, got {value!r}")
        return None if prefix == full else prefix
    if family == "inet6":
        raise ParamError(field, f"an IPv6 service takes a prefix length (0-128), got {value!r}")
    if vocabulary.canonical_ip(text) is None or ":" in text:
        raise ParamError(field, f"a dotted mask or prefix length expected, got {value!r}")
    prefix = vocabulary.netmask_prefix_length(text)
    if prefix is None:
        raise ParamError(field, f"{value} is not a contiguous netmask")
    return None if prefix == 32 else prefix


def service_from_params(params: Mapping[str, object], where: str = "") -> Service:
    """A Service from ipvs_service-style options (identity and options, defaults filled)."""
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
    timeout = _int(params.get("persistence_timeout") or 0, where, "persistence_timeout")
    if timeout:
        flags.add("persistent")
    netmask = netmask_prefix(params.get("persistence_netmask"), family, where)
    pe_name = params.get("pe_name") or None
    return _model(where, lambda: Service(
        family, protocol, address if fwmark is None else None, port, fwmark=fwmark,
        scheduler=scheduler, flags=frozenset(flags), timeout=timeout, netmask=netmask,
        pe_name=pe_name))


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
    return _model(where, lambda: Destination(
        address=str(address), port=port, forwarding=forwarding, weight=weight,
        upper_threshold=upper, lower_threshold=lower, tunnel_type=tunnel_type,
        tunnel_port=tunnel_port, tunnel_flags=frozenset(tunnel_flags)))


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
                                   f"({nl.describe_service(service)})")
        seen[service.key] = index
        dests: list[Destination] = []
        dest_seen: dict[object, int] = {}
        for dindex, dparams in enumerate(params.get("destinations") or ()):
            dhere = f"{here}.destinations[{dindex}]"
            dest = destination_from_params(dparams, service, dhere)
            if dest.key in dest_seen:
                raise ParamError(dhere, f"the same destination as {here}.destinations"
                                        f"[{dest_seen[dest.key]}] ({_host_port(dest)})")
            dest_seen[dest.key] = dindex
            dests.append(dest)
        table[service] = tuple(dests)
    return table


# --- model -> results --------------------------------------------------------------------------

def _present(values: dict) -> dict:
    # Options that do not apply are left out rather than null: Ansible refuses null for an
    # option with choices, and results must be usable as options again.
    return {k: v for k, v in values.items() if v is not None}


def service_result(service: Service) -> dict:
    """A service as the options of ipvs_service / an entry of ipvs_table's ``services``
    (address, protocol and port, or fwmark; persistence_netmask and pe_name only when set)."""
    return _present({
        "family": service.family,
        "protocol": service.protocol,
        "address": service.address,
        "port": service.port,
        "fwmark": service.fwmark,
        "scheduler": service.scheduler,
        "persistence_timeout": service.timeout if service.persistent else 0,
        "persistence_netmask": service.netmask,
        "one_packet": "one-packet" in service.flags,
        "scheduler_flags": sorted(f for f in service.flags if f in SCHEDULER_FLAGS),
        "pe_name": service.pe_name,
    })


def destination_result(dest: Destination) -> dict:
    """A destination as the options of ipvs_real_server / an entry of ``destinations``
    (tunnel_type only with forwarding tunnel, tunnel_port only when set)."""
    tunnel = dest.forwarding == "tunnel"
    return _present({
        "address": dest.address,
        "port": dest.port,
        "forwarding": dest.forwarding,
        "weight": dest.weight,
        "upper_threshold": dest.upper_threshold,
        "lower_threshold": dest.lower_threshold,
        "tunnel_type": (dest.tunnel_type or "ipip") if tunnel else None,
        "tunnel_port": dest.tunnel_port,
        "tunnel_flags": sorted(dest.tunnel_flags),
    })


def stats_result(stats: nl.Stats) -> dict:
    """Traffic counters: totals (conns, packets, bytes) and rates (per second)."""
    return {name: getattr(stats, name) for name in nl.STATS_FIELDS}


def destination_state_result(state: nl.DestinationState) -> dict:
    return {
        "active_connections": state.active_conns,
        "inactive_connections": state.inactive_conns,
        "persistent_connections": state.persistent_conns,
        "stats": stats_result(state.stats),
    }


def timeouts_result(timeouts: nl.Timeouts) -> dict:
    return {"tcp": timeouts.tcp, "tcp_fin": timeouts.tcp_fin, "udp": timeouts.udp}


def daemon_result(daemon: nl.SyncDaemon) -> dict:
    return {"state": daemon.state, "interface": daemon.interface, "sync_id": daemon.sync_id,
            "max_len": daemon.max_len, "group": daemon.group, "port": daemon.port,
            "ttl": daemon.ttl}


def _changes(before: dict, after: dict) -> dict:
    return {k: [before.get(k), after.get(k)] for k in {**before, **after}
            if before.get(k) != after.get(k)}


def _host_port(dest: Destination) -> str:
    host = f"[{dest.address}]" if ":" in dest.address else dest.address
    return f"{host}:{dest.port}"


def operation_result(op: rc.Operation) -> dict:
    """Operation.describe() in the modules' vocabulary: option names in ``changes``."""
    out = dict(op.describe())
    if op.destination is not None:
        out["destination"] = _host_port(op.destination)
    changes = None
    if op.action == "edit_service" and isinstance(op.before, Service):
        changes = _changes(service_result(op.before), service_result(op.service))
    elif op.action == "edit_destination" and isinstance(op.before, Destination):
        changes = _changes(destination_result(op.before), destination_result(op.destination))
    if changes:  # else a difference the options cannot express: keep the model's fields
        out["changes"] = changes
    return out


def sort_key(service: Service) -> tuple:
    """Services in a stable order: address services by family, address, protocol, port; then
    fwmark services."""
    if service.fwmark is not None:
        return (1, service.family, 0, service.fwmark, "", 0)
    return (0, service.family, int(ipaddress.ip_address(service.address)), 0,
            service.protocol, service.port)


def dest_sort_key(dest: Destination) -> tuple:
    parsed = ipaddress.ip_address(dest.address)
    return (parsed.version, int(parsed), dest.port)


# --- text in the form of `ipvsadm -S -n` (for diffs) -------------------------------------------

_PROTOCOL_SWITCH = vocabulary.IPVSADM_PROTOCOL_SWITCH
_FORWARDING_SWITCH = vocabulary.IPVSADM_FORWARDING_SWITCH


def _service_switch(service: Service) -> str:
    if service.fwmark is not None:
        return f"-f {service.fwmark}" + (" -6" if service.family == "inet6" else "")
    host = f"[{service.address}]" if service.family == "inet6" else service.address
    return f"{_PROTOCOL_SWITCH[service.protocol]} {host}:{service.port}"


def service_rule(service: Service) -> str:
    parts = [f"-A {_service_switch(service)} -s {service.scheduler}"]
    if service.persistent:
        parts.append(f"-p {service.timeout}")
    if service.netmask is not None:
        if service.family == "inet":
            mask = (0xFFFFFFFF << (32 - service.netmask)) & 0xFFFFFFFF
            parts.append(f"-M {ipaddress.IPv4Address(mask)}")
        else:
            parts.append(f"-M {service.netmask}")
    if service.pe_name:
        parts.append(f"--pe {service.pe_name}")
    if "one-packet" in service.flags:
        parts.append("-o")
    sched_flags = sorted(f for f in service.flags if f in SCHEDULER_FLAGS)
    if sched_flags:
        parts.append(f"-b {','.join(sched_flags)}")
    return " ".join(parts)


def destination_rule(service: Service, dest: Destination) -> str:
    parts = [f"-a {_service_switch(service)} -r {_host_port(dest)}",
             _FORWARDING_SWITCH[dest.forwarding], f"-w {dest.weight}"]
    if dest.upper_threshold:
        parts.append(f"-x {dest.upper_threshold}")
    if dest.lower_threshold:
        parts.append(f"-y {dest.lower_threshold}")
    if dest.forwarding == "tunnel":
        parts.append(f"--tun-type {dest.tunnel_type or 'ipip'}")
        if dest.tunnel_type:
            if dest.tunnel_port:
                parts.append(f"--tun-port {dest.tunnel_port}")
            if "remcsum" in dest.tunnel_flags:
                parts.append("--tun-remcsum")
            elif "csum" in dest.tunnel_flags:
                parts.append("--tun-csum")
            else:
                parts.append("--tun-nocsum")
    if dest.forwarding == "local":
        parts.append("# local")
    return " ".join(parts)


def table_text(table: Mapping[Service, Iterable[Destination]]) -> str:
    """A table as ipvsadm-save rules, one line per object, services in a stable order."""
    lines = []
    for service in sorted(table, key=sort_key):
        lines.append(service_rule(service))
        lines += [destination_rule(service, d)
                  for d in sorted(table[service], key=dest_sort_key)]
    return "".join(line + "\n" for line in lines)


# --- the kernel --------------------------------------------------------------------------------

def fail(module, err: BaseException, **extra) -> None:
    """fail_json for an error of the core, with its kind and errno where it has them."""
    info = dict(extra)
    if isinstance(err, ParamError):
        info["field"] = err.field
    cause = err.failure if isinstance(err, rc.ApplyError) else err
    code = cause.errno if isinstance(cause, OSError) else None
    if code:
        info["errno"] = errno.errorcode.get(code, str(code))
    msg = str(err)
    if code == errno.EPERM:
        msg += " (managing IPVS needs root, or CAP_NET_ADMIN)"
    module.fail_json(msg=msg, **info)


def open_kernel() -> nl.IpvsNetlink:
    """A new IpvsNetlink socket (unit tests replace this with one on a fake kernel)."""
    return nl.IpvsNetlink()


def kernel(module) -> nl.IpvsNetlink:
    """An IpvsNetlink socket; loads ip_vs (modprobe) when the IPVS family is missing.

    The kernel normally loads ip_vs by itself on the first request for the IPVS generic
    netlink family (the module carries that alias); ``modprobe ip_vs`` is the fallback for
    kernels that do not autoload. Fails the module with a clear message otherwise.
    """
    for attempt in (1, 2):
        try:
            return open_kernel()
        except nl.IpvsNetlinkError as err:
            if err.errno != errno.ENOENT:
                fail(module, err)
            if attempt == 2:
                module.fail_json(msg=NO_IPVS, errno="ENOENT")
        except AttributeError:  # no socket.AF_NETLINK: not Linux
            module.fail_json(msg="IPVS is managed over netlink: the target must run Linux")
        except OSError as err:
            module.fail_json(msg=f"cannot open a generic netlink socket: {err}",
                             errno=errno.errorcode.get(err.errno or 0, str(err.errno)))
        if os.path.exists("/proc/net/ip_vs"):
            module.fail_json(msg=NO_IPVS + " (/proc/net/ip_vs exists, but the kernel has no "
                             "IPVS generic netlink family)", errno="ENOENT")
        modprobe = module.get_bin_path("modprobe", opt_dirs=["/sbin", "/usr/sbin"])
        if not modprobe:
            module.fail_json(msg=NO_IPVS + "; modprobe was not found", errno="ENOENT")
        code, _out, err_text = module.run_command([modprobe, "ip_vs"])
        if code != 0:
            module.fail_json(msg=f"{NO_IPVS}; modprobe ip_vs failed: {err_text.strip()}",
                             errno="ENOENT")
    raise AssertionError("unreachable: fail_json exits")


def read_live(kernel_: nl.IpvsNetlink):
    """Services with their stats, and each one's destinations with their states."""
    out = []
    for service, stats in kernel_.services():
        out.append((service, stats, kernel_.destinations(service)))
    return out


# --- draining ----------------------------------------------------------------------------------

def connections(kernel_: nl.IpvsNetlink, service: Service,
                keys: Iterable[object]) -> dict[object, int]:
    """Active + inactive connections of the given destinations (absent ones count 0)."""
    wanted = set(keys)
    out = dict.fromkeys(wanted, 0)
    for dest, state in kernel_.destinations(service):
        if dest.key in wanted:
            out[dest.key] = state.active_conns + state.inactive_conns
    return out


# How drain() waits and tells time (unit tests replace them).
_sleep: Callable[[float], None] = time.sleep
_clock: Callable[[], float] = time.monotonic


def drain(kernel_: nl.IpvsNetlink, targets: Mapping[Service, Iterable[Destination]],
          timeout: float) -> list[dict]:
    """Set the live destinations ``targets`` to weight 0, then wait until each has no active
    or inactive connection, or ``timeout`` seconds have passed.

    Raises rc.ApplyError if the kernel refuses a weight change (the others are rolled back).
    Returns one report per destination: service, destination, connections left, seconds waited.
    """
    edits = [rc.Operation("edit_destination", service, dataclasses.replace(dest, weight=0),
                          before=dest)
             for service, dests in targets.items() for dest in dests if dest.weight != 0]
    rc.apply(kernel_, rc.Plan(edits))
    sleep, clock = _sleep, _clock
    start = clock()
    left: dict[tuple[Service, object], int] = {}
    while True:
        for service, dests in targets.items():
            counts = connections(kernel_, service, [d.key for d in dests])
            for key, count in counts.items():
                left[(service, key)] = count
        waited = clock() - start
        if not any(left.values()) or waited >= timeout:
            break
        sleep(min(DRAIN_POLL_SECONDS, max(timeout - waited, 0)))
    seconds = round(clock() - start, 1)
    return [{"service": nl.describe_service(service), "destination": _host_port(dest),
             "connections": left.get((service, dest.key), 0), "seconds": seconds}
            for service, dests in targets.items() for dest in dests]


def undrain(kernel_: nl.IpvsNetlink, targets: Mapping[Service, Iterable[Destination]]) -> None:
    """Give drained destinations their weights back (after a failed apply)."""
    for service, dests in targets.items():
        for dest in dests:
            if dest.weight == 0:
                continue
            with contextlib.suppress(rc.ApplyError):  # gone meanwhile: nothing to restore
                rc.apply(kernel_, rc.Plan([rc.Operation("edit_destination", service, dest)]))
