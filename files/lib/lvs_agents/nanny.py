# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nanny: check one real server and add, edit or remove its IPVS destination (section 4).

lvsd does not run nanny (it checks every server in-process); the command exists for scripts
and for people used to Piranha. Same engine (``checks``) and state machine (``health``) as
lvsd; the destination is changed over netlink (``-I ipvsadm`` is accepted and ignored).
``-h`` is the server address, as in Piranha, so ``--help`` is the only help option.

Signals (Piranha): SIGTERM/SIGINT remove the server (if in the table) and exit 0; SIGUSR1
forces it down and pauses checking, SIGUSR2 forces it up and pauses; SIGHUP returns to normal
checking (the next good check adds it at once). ``--fos``: no IPVS; exit 1 on the first
failed check (what made Piranha's failover service monitor fail over).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from collections.abc import Callable

from lvs_cluster.health_table import Standing, placed
from lvs_cluster.ipvs import netlink as nl
from lvs_cluster.ipvs.input_rules import real_server_address_problem, zone_problem
from lvs_cluster.ipvs.model import Destination, Service
from lvs_cluster.ipvs.reconcile import ApplyError, Operation, Plan
from lvs_cluster.ipvs.reconcile import apply as apply_plan
from lvs_cluster.vocabulary import canonical_ip, family_of

from . import runtime
from .checks import CheckResult, CheckSpec, Scheduler
from .health import HealthPolicy, ServerHealth, load_command, read_load

VERSION = "lvs.cluster nanny 1.0"
NAME = "nanny"
METHODS = {"m": "nat", "g": "direct", "i": "tunnel"}
log = logging.getLogger(NAME)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nanny", add_help=False,
                                     description="Check one real server and keep its IPVS "
                                     "destination in step (Piranha's nanny).")
    add = parser.add_argument
    add("--help", action="help", help="show this help and exit")
    add("-h", "--server", required=True, metavar="IP", help="real server address")
    add("-V", "--virtaddress", metavar="IP", help="virtual address (VIP)")
    add("-p", "--port", type=int, default=80, help="virtual port (default 80)")
    add("-r", "--rport", type=int, help="real port: checked and used in IPVS (default -p)")
    add("-f", "--fwmark", type=int, default=0, help="firewall-mark service")
    add("-t", "--interval", type=int, default=10, help="check period and timeout, seconds")
    add("-a", "--reentrytime", type=int, default=None, help="seconds healthy before re-entry")
    add("-w", "--weight", type=int, default=1, help="configured weight")
    add("-S", "--scale", type=int, default=10, help="maximum load multiplier")
    add("-U", "--loadcmd", default="none", help="none, rup, ruptime, rsh, ssh or a program")
    add("-M", "--method", default="m", help="forwarding: m (NAT), g (direct), i (tunnel)")
    add("-I", "--ipvsadm", help="accepted and ignored: IPVS is changed over netlink")
    add("-s", "--send_string", "--send-string", dest="send", help="probe payload")
    add("-x", "--expect_string", "--expect-string", dest="expect", help="expected reply")
    add("-e", "--send_program", "--send-program", dest="send_program",
        help="external checker (%%h, %%p replaced)")
    add("--regex", action="store_true", help="expect is a regular expression")
    add("-T", "--suppress", action="store_true", help="do not decode backslash escapes")
    add("-q", "--quiesce_server", "--quiesce-server", dest="quiesce", action="store_true",
        help="on failure set weight 0 instead of removing")
    add("-u", "--udp", action="store_true", help="UDP checks")
    add("--rise", type=int, help="good checks to re-enter (default reentry / interval)")
    add("--fall", type=int, default=1, help="failed checks to leave (default 1)")
    add("-n", "--nodaemon", action="store_true", help="foreground (always, accepted)")
    add("-c", "--nofork", action="store_true", help="accepted")
    add("--test-start", "--norun", dest="test_start", action="store_true",
        help="log IPVS changes instead of applying them")
    kind = parser.add_mutually_exclusive_group(required=True)
    kind.add_argument("--lvs", action="store_true", help="LVS real server monitor")
    kind.add_argument("--fos", action="store_true", help="failover service monitor")
    add("-v", "--verbose", action="store_true", help="debug logging")
    add("--version", action="version", version=VERSION)
    return parser


class UsageError(Exception):
    pass


def _address(text: str | None, what: str) -> str:
    zone = zone_problem(text or "")
    if zone:
        raise UsageError(f"{what}: {zone}")
    address = canonical_ip(text or "")
    if address is None:
        raise UsageError(f"{what}: an IP address is required, got {text!r}")
    return address


def service_and_destination(args: argparse.Namespace) -> tuple[Service, Destination]:
    server = _address(args.server, "-h/--server")
    problem = real_server_address_problem(server)  # the virtual service is only looked up
    if problem:
        raise UsageError(f"-h/--server: {problem}")
    family = family_of(server)
    method = args.method.lstrip("-")
    if method not in METHODS:
        raise UsageError(f"-M/--method: m, g or i expected, got {args.method!r}")
    if args.fwmark:
        service = Service(family, None, None, None, fwmark=args.fwmark)
    else:
        service = Service(family, "udp" if args.udp else "tcp",
                          _address(args.virtaddress, "-V/--virtaddress"), args.port)
    port = args.rport or args.port
    return service, Destination(server, port, forwarding=METHODS[method],
                                weight=max(1, args.weight))


class Nanny:
    """One server, one destination: the health verdict applied to it."""

    def __init__(self, args: argparse.Namespace, kernel: nl.IpvsNetlink | None,
                 clock: Callable[[], float] = time.time) -> None:
        self.args = args
        self.kernel = kernel
        self.clock = clock
        self.service, self.destination = service_and_destination(args)
        port = args.rport or args.port
        self.spec = CheckSpec.build(self.destination.address, port, virtual_port=args.port,
                                    protocol="udp" if args.udp else "tcp",
                                    timeout=args.interval, send=args.send, expect=args.expect,
                                    use_regex=args.regex, send_program=args.send_program,
                                    decode=not args.suppress)
        reentry = args.reentrytime if args.reentrytime else (180 if args.lvs else args.interval)
        rise = args.rise if args.rise else max(1, reentry // max(1, args.interval))
        self.health = ServerHealth(HealthPolicy(weight=max(1, args.weight), rise=rise,
                                                fall=max(1, args.fall), quiesce=args.quiesce,
                                                scale=args.scale))
        self.load_argv = load_command(args.loadcmd, "rsh", self.destination.address)
        self.scheduler = Scheduler(self._on_result, self._on_failure)
        self.done: asyncio.Future | None = None
        self.exit_code = 0

    def apply(self) -> None:
        """Make the kernel's destination match ``in_table``/``weight``."""
        if self.args.fos:
            return
        target = placed(self.destination, Standing(self.health.in_table, self.health.weight))
        try:
            live = {} if self.kernel is None else {
                d.key: d for d, _stats in self.kernel.destinations(self.service, with_state=False)}
            current = live.get(self.destination.key)
            if target is not None and current is None:
                operation = Operation("add_destination", self.service, target)
            elif target is not None and current != nl.normalize_destination(target):
                operation = Operation("edit_destination", self.service, target, before=current)
            elif target is None and current is not None:
                operation = Operation("delete_destination", self.service, current,
                                      before=current)
            else:
                return
            if self.args.test_start or self.kernel is None:
                log.info("test-start, not applied: %s", operation.describe())
                return
            log.info("%s", operation.describe())
            apply_plan(self.kernel, Plan([operation]))
        except (ApplyError, OSError) as error:
            log.error("%s: %s", nl.describe_destination(self.service, self.destination), error)

    def _on_result(self, key: object, result: CheckResult) -> None:
        where = f"{self.destination.address}:{self.spec.port}"
        if self.args.fos:
            if not result.ok:
                log.warning("[inactive] %s failed: %s", where, result.reason)
                self.finish(1)
            return
        was_in = self.health.in_table
        if self.health.record(result.ok, self.clock(), result.reason):
            if self.health.in_table and not was_in:
                log.info("[ active ] making %s available", where)
            elif not self.health.healthy and was_in:
                log.warning("[inactive] shutting down %s due to %s", where, result.reason)
            self.apply()
        if self.load_argv and self.health.wants_load(self.clock()):
            asyncio.get_running_loop().create_task(self._load())

    async def _load(self) -> None:
        load = await read_load(self.load_argv or [], self.spec.timeout)
        if self.health.apply_load(load, self.clock()):
            self.apply()

    def _on_failure(self, key: object, error: BaseException) -> None:
        log.critical("check engine failure: %r", error)
        self.finish(1)

    def force(self, up: bool | None) -> None:
        self.scheduler.pause("server", up is not None)
        log.info("signal: %s", {True: "forced up, checks paused",
                                False: "forced down, checks paused",
                                None: "normal checking"}[up])
        if self.health.force(up, self.clock()):
            self.apply()

    def finish(self, code: int) -> None:
        self.exit_code = code
        if self.done is not None and not self.done.done():
            self.done.set_result(None)

    async def run(self, handle_signals: bool = True) -> int:
        loop = asyncio.get_running_loop()
        self.done = loop.create_future()
        if handle_signals:
            loop.add_signal_handler(signal.SIGTERM, self.finish, 0)
            loop.add_signal_handler(signal.SIGINT, self.finish, 0)
            loop.add_signal_handler(signal.SIGUSR1, self.force, False)
            loop.add_signal_handler(signal.SIGUSR2, self.force, True)
            loop.add_signal_handler(signal.SIGHUP, self.force, None)
        self.scheduler.start({"server": self.spec})
        await self.done
        await self.scheduler.drain()
        if self.health.in_table:  # Piranha: removed on the way out, even when quiesced
            self.health.in_table = False
            self.apply()
        return self.exit_code


def main(argv: list[str] | None = None,
         kernel_factory: Callable[[], nl.IpvsNetlink] = nl.IpvsNetlink) -> int:
    args = build_parser().parse_args(argv)
    runtime.setup_logging(NAME, args.verbose)
    if args.interval < 1:
        print("nanny: -t/--interval: at least 1 second", file=sys.stderr)
        return 2
    try:
        service_and_destination(args)
    except (UsageError, ValueError) as error:
        print(f"nanny: {error}", file=sys.stderr)
        return 2
    kernel = None
    if args.lvs and not args.test_start:
        try:
            kernel = kernel_factory()
        except OSError as error:
            log.error("cannot open IPVS: %s", error)
            return 1
    return asyncio.run(Nanny(args, kernel).run())


if __name__ == "__main__":
    sys.exit(main())
