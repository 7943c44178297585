"""The lab's private network namespace: bridges, taps, and the processes living in it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .errors import LabError
from .topology import Topology


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise LabError(f"`ip {' '.join(args)}` failed: {result.stderr.strip()}")
    return result


def exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def pids(name: str) -> set[int]:
    if not exists(name):
        return set()
    out = ip("netns", "pids", name, check=False).stdout
    return {int(p) for p in out.split() if p.isdigit()}


def bridge_name(index: int) -> str:
    return f"br{index}"


def create(topology: Topology) -> None:
    ns = topology.name
    ip("netns", "add", ns)
    ip("-n", ns, "link", "set", "lo", "up")
    # The namespace is a leaf: no uplink, no forwarding between the lab's networks.
    subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=0",
                    "net.ipv6.conf.all.forwarding=0"], check=True)
    for b, network in enumerate(topology.networks.values()):
        bridge = bridge_name(b)
        ip("-n", ns, "link", "add", bridge, "type", "bridge", "stp_state", "0",
           "forward_delay", "0")
        if network.controller is not None:
            ip("-n", ns, "addr", "add", f"{network.controller}/{network.subnet.prefixlen}",
               "dev", bridge)
        ip("-n", ns, "link", "set", bridge, "up")
    bridges = {n: bridge_name(b) for b, n in enumerate(topology.networks)}
    for guest in topology.guests:
        for n, nic in enumerate(guest.nics):
            tap = guest.tap(n)
            ip("-n", ns, "tuntap", "add", "dev", tap, "mode", "tap")
            ip("-n", ns, "link", "set", tap, "master", bridges[nic.network], "up")


def delete(name: str) -> None:
    if exists(name):
        ip("netns", "delete", name)
