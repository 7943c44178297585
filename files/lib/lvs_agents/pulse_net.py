# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What pulse asks of the network: exactly the calls it makes, as a protocol. The real
implementation is the module ``lvs_agents.netops``; ``pulse.main(argv, netops=...)`` takes any
other object with these members (the tests inject a recorder that needs no privileges)."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from .pulse_setup import NAME

log = logging.getLogger(NAME)


class AddressSpecLike(Protocol):
    """A floating address: ``ip``/``prefix`` on ``device``, with its ``label``."""

    ip: str
    prefix: int
    device: str
    label: str


class PulseAnnouncer(Protocol):
    """Gratuitous ARP / unsolicited NA bursts (``netops.Announcer``). An announcer may also
    have a ``ready`` property, False while it is still loading (scapy): pulse then announces
    from a thread rather than hold up its loop."""

    def warm(self) -> None: ...

    def frames(self, ip: str, device: str) -> Any: ...

    def announce(self, ip: str, device: str) -> Any: ...

    def stop(self) -> None: ...


class PulseNetops(Protocol):
    """The network operations pulse calls, and nothing else. Optional member: ``sync_daemon(
    state, interface, sync_id)`` (state None: no sync daemon); without it pulse drives the IPVS
    sync daemon over netlink."""

    def AddressSpec(self, ip: str, prefix: int, device: str, label: str  # noqa: N802
                    ) -> AddressSpecLike: ...

    def local_addresses(self) -> dict[str, str]: ...

    def warm(self) -> None: ...

    def ensure_address(self, spec: Any) -> bool: ...

    def remove_address(self, spec: Any) -> bool: ...

    def has_address(self, spec: Any) -> bool: ...

    def link_is_up(self, device: str) -> bool: ...

    def icmp_echo(self, address: str, timeout: float) -> bool: ...

    def arp_probe(self, ip: str, device: str, timeout: float) -> str | None: ...

    def Announcer(self, count: int, interval: float) -> PulseAnnouncer: ...  # noqa: N802


def net_call(target: Any, name: str, *arguments: Any) -> Any:
    """A network operation; failures are logged, never fatal (the loop must go on)."""
    try:
        return getattr(target, name)(*arguments)
    except Exception as error:  # noqa: BLE001 - any netops failure is logged, not fatal
        log.error("%s(%s) failed: %s", name, ", ".join(map(str, arguments)), error)
        return None
