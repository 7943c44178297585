# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bgp mode's serve and announce routes against the host kernel, inside test_netops's two
namespaces: A runs the code, B routes the VIPs to A and pings them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_netops import Lab, WorkerError, netns_lab

V4, V6 = "10.77.9.1", "fd00:79::1"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    for instance in netns_lab():
        instance.a.exec("from lvs_agents import netops_routes as routes")
        instance.ip(instance.ns_b, "route", "add", f"{V4}/32", "via", "10.77.0.1")
        instance.ip(instance.ns_b, "-6", "route", "add", f"{V6}/128", "via", "fd00:77::1")
        yield instance


def pings(lab: Lab, ip: str) -> bool:
    """B's ICMP echo to the VIP is answered (by A, the only host it is routed to)."""
    return bool(lab.b.eval(f"netops.icmp_echo({ip!r}, 1.0)"))


def routes(lab: Lab, *args: str) -> str:
    return lab.ip(lab.ns_a, *args)


@pytest.mark.parametrize("vip", [V4, V6])
def test_a_served_vip_is_answered_without_an_address_and_not_any_more_once_unserved(
        lab: Lab, vip: str) -> None:
    family = "-6" if ":" in vip else "-4"
    assert not pings(lab, vip)
    assert lab.a.eval(f"routes.serve({vip!r})") is True
    assert lab.a.eval(f"routes.serve({vip!r})") is False  # already there
    assert f"local {vip} dev lo" in routes(lab, family, "route", "show", "table", "local")
    assert vip not in routes(lab, family, "addr", "show")
    assert pings(lab, vip)
    assert lab.a.eval(f"routes.unserve({vip!r})") is True
    assert lab.a.eval(f"routes.unserve({vip!r})") is False
    assert not pings(lab, vip)


@pytest.mark.parametrize("vip", [V4, V6])
def test_announce_puts_our_route_in_the_main_table_and_withdraw_takes_it_out(
        lab: Lab, vip: str) -> None:
    family = "-6" if ":" in vip else "-4"
    assert lab.a.eval(f"routes.announce({vip!r})") is True
    assert lab.a.eval(f"routes.announce({vip!r})") is False
    shown = routes(lab, family, "route", "show", "table", "main", "proto", "252")
    assert f"{vip} dev lo" in shown
    assert vip in lab.a.eval("sorted(routes.announced())")
    assert lab.a.eval(f"routes.withdraw({vip!r})") is True
    assert lab.a.eval(f"routes.withdraw({vip!r})") is False
    assert vip not in lab.a.eval("sorted(routes.announced())")


def test_announced_lists_only_our_routes(lab: Lab) -> None:
    routes(lab, "route", "add", "10.77.8.1/32", "dev", "lo")  # proto boot: not ours
    lab.a.eval(f"routes.announce({V4!r})")
    lab.a.eval(f"routes.announce({V6!r})")
    try:
        assert lab.a.eval("sorted(routes.announced())") == [V4, V6]
    finally:
        lab.a.eval(f"routes.withdraw({V4!r})")
        lab.a.eval(f"routes.withdraw({V6!r})")
        routes(lab, "route", "del", "10.77.8.1/32", "dev", "lo")


def test_a_bad_vip_is_named() -> None:
    from lvs_agents import netops_routes  # noqa: PLC0415
    from lvs_agents.netops_base import NetopsError  # noqa: PLC0415

    with pytest.raises(NetopsError, match="VIP 'web': Invalid argument"):
        netops_routes.announce("web")


def test_a_kernel_refusal_is_named(lab: Lab) -> None:
    with pytest.raises(WorkerError, match="announce VIP 10.77.9.1") as raised:
        lab.a.exec("routes._add('announce VIP 10.77.9.1', "
                   "{**routes._announce_route('10.77.9.1'), 'oif': 9999})")
    assert raised.value.kind == "NetopsError"
