# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared by the IPVS module tests: the fake kernel behind the modules' netlink socket.

The modules open their socket through ``ipvs_module.open_kernel()``; the ``fake`` fixture
replaces it with an ``IpvsNetlink`` on a ``FakeIpvsKernel`` (tests/unit/plugins/module_utils),
the one fake the project allows: only the socket is faked, the netlink codec, the reconcile
engine and the module code all run for real. The same fake table lives across the module runs
of a test. ``clock`` replaces the time that draining waits.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "module_utils"))

from fake_ipvs_kernel import FakeIpvsKernel  # noqa: E402

from plugins.module_utils import ipvs_module  # noqa: E402
from plugins.module_utils.lvs_cluster.ipvs import (
    drain,  # noqa: E402
    text,  # noqa: E402
)
from plugins.module_utils.lvs_cluster.ipvs import netlink as nl  # noqa: E402
from plugins.module_utils.lvs_cluster.ipvs.model import Destination, Service  # noqa: E402
from plugins.module_utils.lvs_cluster.ipvs.reconcile import read_table  # noqa: E402


class Reopenable:
    """The fake socket for one module run; closing it keeps the fake table for the next run."""

    def __init__(self, fake: FakeIpvsKernel) -> None:
        self._fake = fake

    def __getattr__(self, name):
        return getattr(self._fake, name)

    def close(self) -> None:
        pass


def install(monkeypatch, fake: FakeIpvsKernel) -> FakeIpvsKernel:
    """Make every module run talk to ``fake``."""
    monkeypatch.setattr(ipvs_module, "open_kernel", lambda: nl.IpvsNetlink(Reopenable(fake)))
    return fake


@pytest.fixture
def fake(monkeypatch):
    """An empty fake kernel that the IPVS modules will use."""
    return install(monkeypatch, FakeIpvsKernel())


class Clock:
    """Time for drain(): each sleep advances it and runs the hooks (e.g. connections ending)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        for hook in self.on_sleep:
            hook(self)


@pytest.fixture
def clock(monkeypatch):
    the_clock = Clock()
    monkeypatch.setattr(drain, "_clock", the_clock)
    monkeypatch.setattr(drain, "_sleep", the_clock.sleep)
    return the_clock


def service(port=80, address="192.0.2.10", protocol="tcp", **options) -> Service:
    family = "inet6" if ":" in address else "inet"
    return Service(family, protocol, address, port, **options)


def mark(fwmark, family="inet", **options) -> Service:
    return Service(family, None, None, None, fwmark=fwmark, **options)


def dest(n, port=80, forwarding="direct", prefix="10.0.0.", **options) -> Destination:
    return Destination(f"{prefix}{n}", port, forwarding=forwarding, **options)


def table(fake: FakeIpvsKernel) -> dict:
    """The fake's table as the client reads it: {Service: {Destination, ...}}."""
    return {s: frozenset(d) for s, d in read_table(nl.IpvsNetlink(Reopenable(fake))).items()}


def rules(fake: FakeIpvsKernel) -> list[str]:
    """The fake's table as ipvsadm-save rules, one per line."""
    return text.table_text(read_table(nl.IpvsNetlink(Reopenable(fake)))).splitlines()


def fake_dest(fake: FakeIpvsKernel, svc: Service, address: str):
    """The fake kernel's own record of a destination (to set its connection counts)."""
    if svc.fwmark is not None:
        found = fake.service(fwmark=svc.fwmark, af=10 if svc.family == "inet6" else 2)
    else:
        found = fake.service(svc.address, svc.port,
                             protocol={"tcp": 6, "udp": 17, "sctp": 132}[svc.protocol])
    return next(d for d in found.dests.values() if d.address == address)
