# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pulse's setup: the command line, what lvs.cf asks of pulse (the floating addresses, the
heartbeat paths and this node's role) and the heartbeat key."""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import dataclass
from typing import Any

from lvs_cluster.vocabulary import canonical_ip, host_prefix_length, netmask_prefix_length, unmapped

from . import heartbeat as hb
from . import last_good, runtime
from .status_auth import StatusAuth, StatusAuthError

NAME = "pulse"
VERSION = "lvs.cluster pulse 1.0"
DEFAULT_LVSD = "/usr/sbin/lvsd"
DEFAULT_METRICS = "127.0.0.1:9539"

log = logging.getLogger(NAME)


class UsageError(Exception):
    """A configuration or command-line problem: the text is the whole message, exit status 2."""


# --- command line -------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=NAME, description="LVS router failover daemon (heartbeats, VIPs, lvsd).")
    parser.add_argument("-c", "--configfile", default=runtime.DEFAULT_CONFIG,
                        help="lvs.cf to read (default %(default)s)")
    parser.add_argument("-n", "--nodaemon", action="store_true",
                        help="accepted for compatibility: pulse always runs in the foreground")
    parser.add_argument("-t", "--test-start", action="store_true", dest="norun",
                        help="same as --norun")
    parser.add_argument("--norun", action="store_true", dest="norun",
                        help="run no lvsd and no hooks, change no address, send no ARP: only "
                             "log what would be done")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--forceactive", action="store_true",
                        help="become active at start whatever the peer says")
    parser.add_argument("--lvsd", default=None,
                        help="lvsd program (default: lvsd next to this program, else "
                             f"{DEFAULT_LVSD})")
    parser.add_argument("--lvsd-option", action="append", default=[], metavar="OPTION",
                        help="one more argument for lvsd, e.g. --lvsd-option=--resync=60 "
                             "(repeat for several)")
    parser.add_argument("--fos", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--version", action="version", version=VERSION)
    parser.add_argument("--mode", choices=("pair", "bgp"), default="pair",
                        help="pair: the primary/backup pair of lvs.cf with heartbeats (the "
                             "default); bgp: every router active, each VIP announced to FRR "
                             "while this router can serve it")
    parser.add_argument("--min-healthy", type=int, default=1, metavar="N",
                        help="bgp mode: announce a VIP while one of its virtual services has "
                             "at least N real servers passing their checks (default "
                             "%(default)s)")
    parser.add_argument("--drain", type=float, default=2.0, metavar="S",
                        help="bgp mode: on stop, seconds between withdrawing the VIPs and "
                             "no longer serving them (default %(default)s)")
    parser.add_argument("--legacy-heartbeat", action="store_true",
                        help="speak only Piranha's unauthenticated 4-byte heartbeat (mixed pairs)")
    parser.add_argument("--failback", action="store_true",
                        help="the primary takes the VIPs back when it hears a running backup")
    parser.add_argument("--tiebreaker", action="append", default=[], metavar="ADDR",
                        help="before a takeover after a silent deadtime, a majority of these "
                             "must answer ICMP echo and no VIP may answer ARP or neighbour "
                             "solicitation (repeatable)")
    parser.add_argument("--garp-count", type=int, default=5, metavar="N",
                        help="gratuitous ARP/NA per address on takeover (default %(default)s)")
    parser.add_argument("--garp-interval", type=float, default=1.0, metavar="S",
                        help="seconds between them (default %(default)s)")
    parser.add_argument("--metrics", default=DEFAULT_METRICS, metavar="ADDR:PORT",
                        help="Prometheus metrics and the status page, or 'off' (default "
                             "%(default)s)")
    parser.add_argument("--status-auth-file", default=None, metavar="FILE",
                        help="require HTTP basic auth on the metrics endpoint (every path): "
                             "FILE holds user:password lines and must be root's, mode 0600 or "
                             "0400; re-read when it changes")
    parser.add_argument("--run-dir", default=None,
                        help=f"status directory (default $LVS_CLUSTER_RUN_DIR or "
                             f"{runtime.DEFAULT_RUN_DIR})")
    parser.add_argument("--state-dir", default=None,
                        help=f"state kept across restarts (default $LVS_CLUSTER_STATE_DIR or "
                             f"{runtime.DEFAULT_STATE_DIR})")
    parser.add_argument("--last-good", default=None, metavar="FILE",
                        help="the last good lvs.cf, kept here and run at start when lvs.cf is "
                             "bad; passed on to lvsd (default "
                             f"<state dir>/{last_good.FILE_NAME})")
    args = parser.parse_args(argv)
    if args.last_good is None:
        args.last_good = (os.path.join(args.state_dir, last_good.FILE_NAME) if args.state_dir
                          else last_good.default_path())
    if args.min_healthy < 1:
        parser.error("--min-healthy must be at least 1")
    if not 0 <= args.drain <= 3600:
        parser.error("--drain must be between 0 and 3600 seconds")
    if args.garp_count < 0 or args.garp_interval < 0:
        parser.error("--garp-count and --garp-interval must not be negative")
    if args.metrics != "off":
        try:
            args.metrics_address = split_host_port(args.metrics)
        except ValueError as error:
            parser.error(f"--metrics {args.metrics}: {error}")
    for address in args.tiebreaker:
        if canonical_ip(address) is None:
            parser.error(f"--tiebreaker {address}: not an IP address")
    args.status_auth = None
    if args.status_auth_file is not None:
        try:
            args.status_auth = StatusAuth(args.status_auth_file)
        except StatusAuthError as error:
            parser.error(f"--status-auth-file: {error}")
    return args


def split_host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise ValueError("ADDR:PORT expected, e.g. 127.0.0.1:9539")
    return host.strip("[]"), int(port)


def default_lvsd(argv0: str) -> str:
    """lvsd next to our own program (the launcher's links live together), else /usr/sbin."""
    beside = os.path.join(os.path.dirname(os.path.abspath(argv0)), "lvsd")
    return beside if os.access(beside, os.X_OK) else DEFAULT_LVSD


# --- what lvs.cf asks for -----------------------------------------------------------------------

def prefix_length(mask: str | int | None, ip: str) -> int:
    """``vip_nmask``/``nat_nmask`` (dotted or a prefix length) as a prefix length; unset means
    a host address (/32, /128), not Piranha's classful guess (G5)."""
    if mask is None:
        return host_prefix_length(ip)
    if isinstance(mask, int):
        return mask
    prefix = netmask_prefix_length(mask)  # the parser accepts contiguous masks only
    return host_prefix_length(ip) if prefix is None else prefix


def address_specs(config: Any, net: Any) -> list[Any]:
    """The floating addresses: each distinct VIP of an active virtual, then the NAT router."""
    specs: list[Any] = []
    seen: set[str] = set()
    wanted = [(v.address, v.vip_nmask, f"virtual {v.name}") for v in config.virtuals
              if v.active and v.address is not None]
    if config.network == "nat" and config.nat_router is not None:
        wanted.append((config.nat_router, config.nat_nmask, "nat_router"))
    for address, mask, where in wanted:
        ip = unmapped(address.ip)
        if ip in seen:
            continue
        seen.add(ip)
        try:
            prefix = prefix_length(mask, ip)
        except ValueError:
            raise UsageError(f"{where}: netmask {mask!r} is not valid for {ip}") from None
        label = address.device
        specs.append(net.AddressSpec(ip, prefix, label.split(":", 1)[0], label))
    return specs


@dataclass(frozen=True)
class Paths:
    """Heartbeat paths: (own address, peer address) pairs, public first."""

    master: bool
    pairs: tuple[tuple[str, str | None], ...]

    @property
    def own(self) -> list[str]:
        return [own for own, _peer in self.pairs]

    @property
    def peers(self) -> list[str]:
        return [peer for _own, peer in self.pairs if peer]


def heartbeat_paths(config: Any, host: dict[str, str]) -> Paths:
    """Master if ``primary`` is any address of this host; which addresses we bind and send to."""
    primary = unmapped(config.primary)
    backup = unmapped(config.backup) if config.backup else None
    master = primary in host
    if not master and (backup is None or backup not in host):
        raise UsageError(f"neither primary {primary} nor backup {backup or '(unset)'} is an "
                         "address of this host")
    if master:
        own = (primary, _canonical(config.effective_primary_private))
        peer = (backup, _canonical(config.effective_backup_private))
    else:
        own = (backup, _canonical(config.effective_backup_private))
        peer = (primary, _canonical(config.effective_primary_private))
    if not config.backup_active:
        peer = (None, None)
    pairs: list[tuple[str, str | None]] = [(own[0], peer[0])]
    if own[1] and own[1] != own[0]:
        pairs.append((own[1], peer[1] if peer[1] != peer[0] else None))
    return Paths(master, tuple(pairs))


def _canonical(address: str | None) -> str | None:
    return unmapped(address) if address else None


# --- the heartbeat key -------------------------------------------------------------------------

def load_key(args: argparse.Namespace, config: Any) -> hb.HeartbeatKeys | None:
    if args.legacy_heartbeat:
        log.warning("legacy heartbeat: unauthenticated 4-byte packets (Piranha compatibility)")
        return None
    if not config.heartbeat_key_file:
        raise UsageError(f"{args.configfile}: heartbeat_key_file is not set; authenticated "
                         "heartbeats need a key (or run with --legacy-heartbeat)")
    try:
        return hb.HeartbeatKeys.load(config.heartbeat_key_file)
    except hb.KeyFileError as error:
        raise UsageError(str(error)) from None


# --- the metrics endpoint ----------------------------------------------------------------------

def start_metrics(host: str, port: int, auth: StatusAuth | None = None) -> Any:
    """The Prometheus endpoint and status page from lvs_agents.status, if that module is
    there; behind ``auth`` when given."""
    try:
        from .status import start_metrics_server  # noqa: PLC0415
    except ImportError as error:
        log.warning("metrics endpoint unavailable (%s); continuing without it", error)
        return None
    try:
        return start_metrics_server(host, port, auth=auth)
    except Exception as error:  # noqa: BLE001 - metrics are optional
        log.warning("metrics endpoint %s:%d: %s; continuing without it", host, port, error)
        return None
