# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What taking over and standing down do on this node: the floating addresses (over the
injected netops), their gratuitous ARP / NA, ``active_cmd``/``inactive_cmd``, the IPVS sync
daemon; and a reload's correction of addresses changed by hand. ``--norun`` only logs."""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .pulse_net import PulseNetops, net_call
from .pulse_setup import NAME

if TYPE_CHECKING:  # imported by the first hook: not on the way to pulse's first heartbeat
    import subprocess

log = logging.getLogger(NAME)

_children: list[subprocess.Popen[bytes]] = []


def reap_hooks() -> None:
    """Collect the hooks (``active_cmd``, ``inactive_cmd``) that have exited."""
    for child in list(_children):
        if child.poll() is not None:
            _children.remove(child)


@dataclass(eq=False)
class Takeover:
    """The node's side of the state machine's actions. ``holding`` says whether this node
    holds the VIPs; ``changed`` is called whenever an address is changed."""

    args: argparse.Namespace
    config: Any
    net: PulseNetops
    vips: list[Any]
    changed: Callable[[], None]
    holding: bool = False
    last_resend: float = float("-inf")
    announcer: Any = None

    def start_announcer(self) -> None:
        """The announcer, cold (cheap): a takeover before the warm-up loads scapy in a thread."""
        self.announcer = net_call(self.net, "Announcer", self.args.garp_count,
                                  self.args.garp_interval)

    def warm(self) -> None:
        """Load the address library (pyroute2) and scapy and build the VIPs' frames in a
        thread, before any takeover needs them."""
        if not self.args.norun:
            threading.Thread(target=self._warm, name="netops-warm", daemon=True).start()

    def _warm(self) -> None:
        net_call(self.net, "warm")
        if self.announcer is None:
            return
        try:
            self.announcer.warm()
            for spec in self.vips:  # frames built and cached before any takeover needs them
                self.announcer.frames(spec.ip, spec.device)
        except Exception as error:  # noqa: BLE001 - a helper thread must not die silently
            log.warning("gratuitous ARP warm-up failed: %s", error)

    def take_over(self, resume: bool = False) -> None:
        """Addresses and their first announcement first (they end the gap), then the rest.
        Resuming, the addresses are already up (pulse just looked): they are left alone."""
        log.info("%s lvs", "resuming" if resume else "activating")
        self.holding = True
        for spec in self.vips:
            if not resume:
                self.change_address("ensure_address", spec)
            self.announce(spec)
        self.run_hook("active_cmd", self.config.active_cmd)
        self.sync_daemon("master")

    def stand_down(self) -> None:
        log.info("deactivating lvs")
        self.holding = False
        self.run_hook("inactive_cmd", self.config.inactive_cmd)
        if self.announcer is not None and not self.args.norun:
            net_call(self.announcer, "stop")
        for spec in self.vips:
            self.change_address("remove_address", spec)
        self.sync_daemon("backup")

    def resend(self, now: float) -> None:
        """The peer is active too: announce again and rerun ``active_cmd``. Piranha did this
        on every heartbeat of an active peer: a burst storm while a double-active lasts. Once
        per deadtime settles the neighbours just as well."""
        if now - self.last_resend >= self.config.deadtime:
            self.last_resend = now
            log.info("partner active: resending ARPs")
            for spec in self.vips:
                self.announce(spec)
            self.run_hook("active_cmd", self.config.active_cmd)

    def announce(self, spec: Any) -> None:
        if self.args.norun:
            log.info("norun: would announce %s on %s", spec.ip, spec.device)
        elif self.announcer is not None:
            if getattr(self.announcer, "ready", True):
                net_call(self.announcer, "announce", spec.ip, spec.device)
            else:  # scapy still loading (just started): never hold up the heartbeat loop
                threading.Thread(target=net_call, name="garp-late", daemon=True,
                                 args=(self.announcer, "announce", spec.ip, spec.device)).start()

    def change_address(self, operation: str, spec: Any) -> None:
        if self.args.norun:
            log.info("norun: would %s %s/%s on %s", operation.replace("_", " "), spec.ip,
                     spec.prefix, spec.label)
            return
        net_call(self.net, operation, spec)
        self.changed()

    def run_hook(self, name: str, command: str | None) -> None:
        if not command:
            return
        if self.args.norun:
            log.info("norun: would run %s: %s", name, command)
            return
        import shlex  # noqa: PLC0415 - see the top of the module
        import subprocess  # noqa: PLC0415

        try:
            _children.append(subprocess.Popen(shlex.split(command), stdin=subprocess.DEVNULL))
        except (OSError, ValueError) as error:
            log.error("%s %r failed: %s", name, command, error)

    def sync_daemon(self, state: str) -> None:
        """Only the sync daemon of our state runs, on the configured interface and sync id (one
        transaction of the reconcile engine: the other state's daemon stopped, ours started or
        restarted when its settings differ; all undone if the kernel refuses one)."""
        if self.config.syncdaemon:
            self.set_sync_daemons(state, self.config.syncd_iface, self.config.syncd_id & 0xFF)

    def sync_settings_changed(self, old: Any) -> None:
        """A reload whose lvs.cf turns the sync daemon on or off, or moves it, applies that at
        once: a rollout reloads pulse, and a sync daemon started only at the next takeover
        copies no connection for that takeover."""
        def settings(config: Any) -> tuple[bool, str, int]:
            return config.syncdaemon, config.syncd_iface, config.syncd_id & 0xFF

        if settings(old) == settings(self.config):
            return
        if self.config.syncdaemon:
            self.sync_daemon("master" if self.holding else "backup")
        else:
            self.set_sync_daemons(None, old.syncd_iface, old.syncd_id & 0xFF)

    def set_sync_daemons(self, state: str | None, interface: str, sync_id: int) -> None:
        """The sync daemon of ``state`` runs (None: neither) and the other state's does not."""
        if self.args.norun:
            log.info("norun: would %s on %s", f"start the {state} sync daemon" if state
                     else "stop the sync daemons", interface)
            return
        if hasattr(self.net, "sync_daemon"):
            self.net.sync_daemon(state, interface, sync_id)
            return
        try:
            from lvs_cluster.ipvs import reconcile  # noqa: PLC0415
            from lvs_cluster.ipvs.netlink import IpvsNetlink, SyncDaemon  # noqa: PLC0415

            wanted = {name: SyncDaemon(state=name, interface=interface, sync_id=sync_id)
                      if name == state else None for name in ("master", "backup")}
            with IpvsNetlink() as ipvs:
                operations = reconcile.plan_sync_daemons(wanted, ipvs.daemons())
                reconcile.apply(ipvs, reconcile.Plan(operations))
        except (OSError, reconcile.ApplyError) as error:
            log.error("sync daemon %s on %s: %s", state or "stop", interface, error)

    def reassert(self, dropped: list[Any]) -> int:
        """A reload also corrects addresses changed by hand: the active router gets back every
        VIP it lacks (and announces it), the standby loses any VIP it holds. Returns how many
        addresses were restored or removed, not counting ``dropped`` ones."""
        fixed = 0
        if self.holding:
            for spec in dropped:
                self.change_address("remove_address", spec)
            for spec in self.vips:
                if self.args.norun or net_call(self.net, "has_address", spec) is not False:
                    continue
                self.change_address("ensure_address", spec)
                self.announce(spec)
                fixed += 1
        else:
            for spec in [*dropped, *self.vips]:
                if self.args.norun or net_call(self.net, "has_address", spec) is not True:
                    continue
                log.warning("standby holds %s: removing it", spec.ip)
                self.change_address("remove_address", spec)
                fixed += 1
        return fixed
