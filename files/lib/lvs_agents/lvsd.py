# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvsd: lvs.cf -> desired IPVS table, with every real server's health verdict -> reconcile.

Piranha's lvsd flushed the whole table at start, created services, and left real servers to
one nanny process each. Ours (section 3 of the reference, its flaws fixed):

* never flushes: it reconciles with the shared engine within what its lvs.cf owns (the core's
  ``lvs_cf.ownership``, the drift playbook's rule too: every service on a virtual's address or
  of its fwmark; after a reload the previous file's too); services on other addresses survive;
* runs every health check in-process (``checks.Scheduler``), judges with ``health``;
* a health change reconciles only the affected service, at once; a full reconcile every
  ``--resync`` seconds corrects drift made by hand and retries failed applies;
* the sorry server is health-checked too, and stands in only while no real server is up;
* SIGHUP reconciles in place: unchanged services keep their destinations and connections,
  servers that stay keep their health; a bad file keeps the old configuration;
* SIGTERM/SIGINT exit 0 and leave the table (``--clear-on-exit``: delete the services it owns);
* run by pulse, it outlives a SIGKILLed pulse and is adopted by the restarted one
  (``lvsd_orphan``, ``pulse_adopt``);
* a restart adopts what the kernel has: healthy servers stay, their slow start goes on.

The parts: ``lvsd_table`` (the kernel's table, or the ``--test-start`` shadow),
``lvsd_state`` (virtuals and their checked servers -> desired destinations, by the core's
``health_table`` rule), ``lvsd_daemon`` (the daemon), this module (the command line). Their
names stay importable from here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys

from lvs_cluster.ipvs import netlink as nl
from lvs_cluster.lvs_cf.errors import LvsCfError
from lvs_cluster.lvs_cf.ownership import owned_scope

from . import last_good, runtime
from .health import DEFAULT_STEP
from .lvsd_daemon import NAME, Lvsd, log
from .lvsd_load import load_planned
from .lvsd_orphan import ORPHAN_GRACE, OrphanWatch
from .lvsd_pacing import DEFAULT_BUDGET_PERCENT
from .lvsd_state import Member, VirtualState, build_virtuals, member_status
from .lvsd_table import KernelFactory, KernelTable, ShadowTable, open_table

__all__ = ["NAME", "VERSION", "KernelFactory", "KernelTable", "Lvsd", "Member", "ShadowTable",
           "VirtualState", "build_parser", "build_virtuals", "main",
           "member_status", "open_table"]

VERSION = "lvs.cluster lvsd 1.0"


# --- command line ------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lvsd", description="The LVS daemon: lvs.cf -> IPVS, with in-process health "
        "checks (Piranha's lvsd and nanny).")
    parser.add_argument("-c", "--configfile", default=runtime.DEFAULT_CONFIG,
                        help="lvs.cf (default %(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-n", "--nodaemon", action="store_true", help="stay in the foreground")
    parser.add_argument("-t", "--test-start", action="store_true",
                        help="log the IPVS operations instead of applying them")
    parser.add_argument("--nofork", action="store_true",
                        help="daemonize without forking (setsid, stdio to /dev/null)")
    parser.add_argument("--version", action="version", version=VERSION)
    parser.add_argument("--ready-fd", type=int, metavar="N",
                        help="write READY to this file descriptor after the first reconcile")
    parser.add_argument("--orphan-grace", type=float, default=ORPHAN_GRACE, metavar="S",
                        help="run by pulse (--ready-fd): once pulse is gone, exit if no "
                        "restarted pulse adopts this lvsd within S seconds (default "
                        "%(default)s)")
    parser.add_argument("--clear-on-exit", action="store_true",
                        help="delete our services on SIGTERM/SIGINT (Piranha's behaviour)")
    parser.add_argument("--resync", type=float, default=10.0, metavar="S",
                        help="full reconcile period in seconds (default %(default)s)")
    parser.add_argument("--resync-budget", type=float, default=DEFAULT_BUDGET_PERCENT,
                        metavar="PERCENT",
                        help="the share of one core the resync may take: a resync that costs "
                        "more stretches the period (a very large table; default %(default)s, "
                        "100: always every --resync seconds)")
    parser.add_argument("--run-dir", metavar="DIR",
                        help="where lvsd.json goes (default $LVS_CLUSTER_RUN_DIR or "
                        f"{runtime.DEFAULT_RUN_DIR})")
    parser.add_argument("--last-good", metavar="FILE",
                        help="the last good lvs.cf, kept here and run at start when lvs.cf is "
                        f"bad (default $LVS_CLUSTER_STATE_DIR/{last_good.FILE_NAME} or "
                        f"{last_good.DEFAULT_STATE_DIR}/{last_good.FILE_NAME})")
    return parser


def _detach(fork: bool) -> None:
    """Background like Piranha: fork (unless --nofork), new session, stdio to /dev/null."""
    if fork and os.fork() > 0:
        os._exit(0)
    with contextlib.suppress(OSError):
        os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def main(argv: list[str] | None = None,
         kernel_factory: KernelFactory = nl.IpvsNetlink) -> int:
    args = build_parser().parse_args(argv)
    if args.resync <= 0:
        print("lvsd: --resync: a positive number of seconds is required", file=sys.stderr)
        return 2
    if not 0 < args.resync_budget <= 100:
        print("lvsd: --resync-budget: a percentage above 0, at most 100, is required",
              file=sys.stderr)
        return 2
    if args.run_dir:
        os.environ["LVS_CLUSTER_RUN_DIR"] = args.run_dir
    runtime.setup_logging(NAME, args.verbose)
    # run by pulse: outlive a killed pulse until the restarted one adopts this lvsd
    orphan_watch = None if args.ready_fd is None else OrphanWatch(
        lambda: runtime.read_status("pulse"), log, args.orphan_grace)
    source = last_good.ConfigSource(args.configfile, args.last_good or last_good.default_path(),
                                    log)
    try:
        planned = load_planned(source, "load", DEFAULT_STEP)
        owned_scope(planned.config)  # refuses a virtual without an address
    except (runtime.ConfigError, LvsCfError) as error:
        print(f"lvsd: {error}", file=sys.stderr)
        return 2
    try:
        table = open_table(kernel_factory, args.test_start)
    except OSError as error:
        log.error("cannot open IPVS: %s", error)
        return 1
    if not args.nodaemon:
        _detach(fork=not args.nofork)
    daemon = Lvsd(args.configfile, planned, table, resync=args.resync,
                  resync_budget=args.resync_budget / 100,
                  clear_on_exit=args.clear_on_exit, ready_fd=args.ready_fd, source=source,
                  orphan_watch=orphan_watch)
    return asyncio.run(daemon.run())


if __name__ == "__main__":
    sys.exit(main())
