# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A stand-in for ``lvs_agents.netops`` (a ``pulse_net.PulseNetops``) for pulse's tests:
addresses live in memory, every call is appended to a log as one JSON line, and files beside
the log switch failures on (``<log>.linkdown``, ``<log>.noecho``, ``<log>.arp-answer``) or
change addresses behind pulse's back (``<log>.hand-del``, ``<log>.hand-add``). It lets tests
run two real pulse processes without privileges; run_pulse_with_recording_netops.py injects
it into ``lvs_agents.pulse.main``."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from lvs_cluster.vocabulary import unmapped


@dataclass(frozen=True)
class FakeAddressSpec:
    ip: str
    prefix: int
    device: str
    label: str


class RecordingNetops:
    """Test stand-in for ``lvs_agents.netops``: addresses live in memory and every call is
    appended to a JSON-lines log, so tests can run two real pulses without privileges."""

    AddressSpec = FakeAddressSpec

    def __init__(self, log_path: str, local: list[str]) -> None:
        self.log_path = log_path
        self.local = local
        self.addresses: set[str] = set()
        self.lock = threading.Lock()

    def record(self, call: str, result: Any = None, **arguments: Any) -> Any:
        line = json.dumps({"time": time.time(), "call": call, "args": arguments,
                           "result": result}, default=str)
        with self.lock, open(self.log_path, "a") as stream:
            stream.write(line + "\n")
        return result

    def ensure_address(self, spec: FakeAddressSpec) -> bool:
        added = spec.ip not in self.addresses
        self.addresses.add(spec.ip)
        return self.record("ensure_address", added, ip=spec.ip, prefix=spec.prefix,
                           device=spec.device, label=spec.label)

    def remove_address(self, spec: FakeAddressSpec) -> bool:
        removed = spec.ip in self.addresses
        self.addresses.discard(spec.ip)
        return self.record("remove_address", removed, ip=spec.ip, label=spec.label)

    def has_address(self, spec: FakeAddressSpec) -> bool:
        self._slow_start()
        self._hand_edits()
        return spec.ip in self.addresses

    def _slow_start(self) -> None:
        """``<log>.slowstart`` (seconds): this call, pulse's look for its VIPs at start, takes
        that long once, as a start-up on a loaded machine may; then the file is deleted."""
        path = self.log_path + ".slowstart"
        try:
            with open(path) as stream:
                seconds = float(stream.read())
            os.unlink(path)
        except OSError:
            return
        time.sleep(seconds)

    def _hand_edits(self) -> None:
        """``<log>.hand-del`` / ``<log>.hand-add`` (one address per line): addresses removed or
        added by hand behind pulse's back; applied once, then the file is deleted."""
        for suffix, change in ((".hand-del", self.addresses.discard),
                               (".hand-add", self.addresses.add)):
            path = self.log_path + suffix
            try:
                with open(path) as stream:
                    addresses = stream.read().split()
                os.unlink(path)
            except FileNotFoundError:
                continue
            for address in addresses:
                change(address)

    def link_is_up(self, device: str) -> bool:
        return not os.path.exists(f"{self.log_path}.linkdown")

    def icmp_echo(self, address: str, timeout: float) -> bool:
        answered = not os.path.exists(f"{self.log_path}.noecho")
        return self.record("icmp_echo", answered, address=address)

    def arp_probe(self, ip: str, device: str, timeout: float) -> str | None:
        owner = "02:00:00:00:00:01" if os.path.exists(f"{self.log_path}.arp-answer") else None
        return self.record("arp_probe", owner, ip=ip, device=device)

    def Announcer(self, count: int, interval: float) -> RecordingAnnouncer:  # noqa: N802
        return RecordingAnnouncer(self, count, interval)

    def sync_daemon(self, state: str | None, interface: str, sync_id: int) -> None:
        self.record("sync_daemon", None, state=state, interface=interface, sync_id=sync_id)

    def warm(self) -> None:
        self.record("warm")

    def local_addresses(self) -> dict[str, str]:
        return {unmapped(address): "lo" for address in self.local}


class RecordingAnnouncer:
    def __init__(self, net: RecordingNetops, count: int, interval: float) -> None:
        self.net = net
        net.record("Announcer", None, count=count, interval=interval)

    def warm(self) -> None:
        self.net.record("Announcer.warm")

    def frames(self, ip: str, device: str) -> list[bytes]:
        return []

    def announce(self, ip: str, device: str) -> None:
        self.net.record("Announcer.announce", None, ip=ip, device=device)

    def stop(self) -> None:
        self.net.record("Announcer.stop")
