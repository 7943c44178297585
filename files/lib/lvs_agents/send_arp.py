# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``send_arp``: announce that an address lives at a MAC, with Piranha's command line.

``send_arp [-i DEV] SRC_IP SRC_MAC TARGET_IP TARGET_MAC``, as Piranha's, which sent one ARP
reply. Ours sends the Announcer's frames (netops): for IPv4 a gratuitous ARP request *and* reply,
because some devices act on only one of them; for an IPv6 SRC_IP an unsolicited neighbour
advertisement. SRC_MAC is the sender hardware address, whatever the device's own. TARGET_IP is
ignored, as Piranha ignored it (both ARP addresses are SRC_IP). TARGET_MAC is the Ethernet
destination when it is not the broadcast address (pulse always passed ffffffffffff; an IPv6
advertisement then keeps its all-nodes multicast destination).

Our additions: ``-c/--count`` bursts (default 1, one per call like Piranha), ``--interval``
seconds apart, ``-v``. Exit status: 0 sent, 1 for a usage error (Piranha's status, kept) or a
failed send.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import logging
import socket
import sys
import time
from typing import NoReturn

from . import netops, runtime

BROADCAST = b"\xff" * 6


class _Parser(argparse.ArgumentParser):
    """argparse exiting 1 on a usage error, as Piranha's send_arp did."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: {message}\n")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 0 to 3600")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="send_arp",
        description="Send gratuitous ARP (request and reply) for SRC_IP, or an unsolicited "
                    "neighbour advertisement when SRC_IP is IPv6, from SRC_MAC on DEV.")
    parser.add_argument("-i", dest="device", default="eth0", metavar="DEV",
                        help="the device to send on (default: eth0)")
    parser.add_argument("-c", "--count", type=_count, default=1, metavar="N",
                        help="bursts to send (default: 1)")
    parser.add_argument("--interval", type=_interval, default=1.0, metavar="S",
                        help="seconds between bursts (default: 1.0)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each burst")
    parser.add_argument("src_ip", metavar="SRC_IP", help="the address announced (or a name)")
    parser.add_argument("src_mac", metavar="SRC_MAC",
                        help="its hardware address, 12 hex digits with or without ':'")
    parser.add_argument("target_ip", metavar="TARGET_IP", help="ignored, as by Piranha")
    parser.add_argument("target_mac", metavar="TARGET_MAC",
                        help="Ethernet destination (ffffffffffff: broadcast)")
    return parser


def _resolve(name: str) -> str:
    """An IP literal as is; a host name through the resolver (Piranha took names too)."""
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    try:
        return str(socket.getaddrinfo(name, None, socket.AF_UNSPEC, socket.SOCK_RAW)[0][4][0])
    except (socket.gaierror, UnicodeError) as error:
        raise ValueError(f"SRC_IP: cannot resolve {name!r}: {error}") from None


def _frames(args: argparse.Namespace) -> tuple[str, list[bytes]]:
    """(the address, the frames of one burst); ValueError naming the bad argument."""
    address = _resolve(args.src_ip)
    for field, value in (("SRC_MAC", args.src_mac), ("TARGET_MAC", args.target_mac)):
        try:
            netops.mac_bytes(value)
        except ValueError as error:
            raise ValueError(f"{field}: {error}") from None
    frames = netops.Announcer().frames(address, args.device, mac=args.src_mac)
    target = netops.mac_bytes(args.target_mac)
    if target != BROADCAST:
        frames = [target + frame[6:] for frame in frames]
    return address, frames


def _send(address: str, frames: list[bytes], args: argparse.Namespace,
          log: logging.Logger) -> None:
    with netops.packet_socket(args.device) as sock:
        for burst in range(args.count):
            if burst:
                time.sleep(args.interval)
            for frame in frames:
                try:
                    sock.send(frame)
                except OSError as error:
                    raise netops.NetopsError(error.errno or errno.EIO,
                                             f"send {address} on {args.device}") from None
            log.debug("burst %d/%d for %s on %s: %d frame(s)",
                      burst + 1, args.count, address, args.device, len(frames))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exiting:  # --help (0) or a usage error (1)
        return exiting.code if isinstance(exiting.code, int) else 1
    log = runtime.setup_logging("send_arp", args.verbose)
    try:
        address, frames = _frames(args)
    except ValueError as error:
        log.error("%s", error)
        return 1
    except ImportError as error:  # scapy builds the frames
        log.error("cannot build the frames, scapy is missing: %s", error)
        return 1
    try:
        _send(address, frames, args, log)
    except netops.NetopsError as error:
        log.error("%s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
