"""labctl: the lab's command line."""

from __future__ import annotations

import argparse
import os
import sys
import time

from . import image
from .errors import LabError
from .lab import (
    LabState,
    boot,
    crash,
    down,
    lab_env,
    log,
    require_root,
    resolve_topology,
    status,
    up,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labctl",
        description="Real-kernel lab: User-Mode Linux guests in a private network namespace.")
    parser.add_argument("--topology", help="topology file (default: $LAB_TOPOLOGY or "
                        "lab/topologies/default.yml)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the topology's guests (clears a stale lab first)")
    p_up.add_argument("--timeout", type=float, default=float(os.environ.get("LAB_BOOT_TIMEOUT",
                                                                             180)),
                      help="seconds to wait for every guest to answer SSH (default 180)")
    sub.add_parser("down", help="stop every guest, delete namespace, taps and disks (idempotent)")
    sub.add_parser("status", help="list the guests")
    p_image = sub.add_parser("image", help="build the guest image if its recipe changed")
    p_image.add_argument("--rebuild", action="store_true", help="build even if cached")
    p_image.add_argument("--release", default=image.DEFAULT_RELEASE, choices=list(image.RELEASES),
                         help=f"Debian release of the image (default {image.DEFAULT_RELEASE})")
    p_ssh = sub.add_parser("ssh", help="ssh to a guest (from inside the lab namespace)")
    p_ssh.add_argument("guest")
    p_ssh.add_argument("cmd", nargs=argparse.REMAINDER)
    p_run = sub.add_parser("run", help="run a command inside the lab namespace, with "
                           "ANSIBLE_CONFIG set to the lab's")
    p_run.add_argument("cmd", nargs=argparse.REMAINDER)
    p_crash = sub.add_parser("crash", help="kill a guest at once, like a power cut")
    p_crash.add_argument("guest")
    p_boot = sub.add_parser("boot", help="boot a stopped or crashed guest again on its disk")
    p_boot.add_argument("guest")
    p_boot.add_argument("--timeout", type=float, default=180.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except LabError as exc:
        print(f"labctl: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("labctl: interrupted; `labctl down` (or the next `up`) clears what was started",
              file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "image":
        require_root()
        built = image.ensure_image(rebuild=args.rebuild, release=args.release)
        print(built.rootfs)
        return 0
    topology = resolve_topology(args.topology)
    state = LabState.for_name(topology.name)
    if args.command == "up":
        started = time.monotonic()
        ready = up(topology, state, args.timeout)
        for name, seconds in ready.items():
            address = topology.ssh_address(topology.guest(name))
            log(f"{name:<8} answers SSH at {seconds:5.1f} s ({address})")
        log(f"lab {topology.name!r} up in {time.monotonic() - started:.1f} s; "
            f"inventory {state.inventory}")
        log(f"try: lab/labctl ssh {topology.guests[0].name}   or   "
            f"ansible -i {state.inventory} all -m ping")
        return 0
    if args.command == "down":
        require_root()
        down(topology, state)
        log(f"lab {topology.name!r} is down: no guest, no namespace, no disk left")
        return 0
    if args.command == "status":
        rows = status(topology, state)
        print(f"{'GUEST':<8} {'STATE':<8} {'PID':>7}  {'GROUPS':<14} ADDRESSES")
        for row in rows:
            print(f"{row.name:<8} {'running' if row.running else 'stopped':<8} "
                  f"{row.pid or '-':>7}  {row.groups:<14} {row.addresses}")
        return 0 if all(r.running for r in rows) else 3
    if args.command == "crash":
        require_root()
        crash(topology, state, args.guest)
        log(f"{args.guest} crashed (all its processes killed)")
        return 0
    if args.command == "boot":
        require_root()
        seconds = boot(topology, state, args.guest, args.timeout)
        log(f"{args.guest} answers SSH after {seconds:.1f} s")
        return 0
    if not state.ssh_config.is_file():
        raise LabError(f"lab {topology.name!r} is not up (no {state.ssh_config})")
    require_root()
    if args.command == "ssh":
        topology.guest(args.guest)
        os.execvp("ip", ["ip", "netns", "exec", topology.name, "ssh", "-F",
                         str(state.ssh_config), args.guest, *args.cmd])
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise LabError("run: give a command, e.g. labctl run -- ansible all -m ping")
    os.execvpe("ip", ["ip", "netns", "exec", topology.name, *cmd], lab_env(state))
    return 0  # not reached
