# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""From lvs.cf to the IPVS table it implies: what Piranha's lvsd and nanny would program with
every real server healthy."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from lvs_cf_examples import EXAMPLE_A, EXAMPLE_B
from lvs_cf_strategies import valid_configs

from plugins.module_utils.lvs_cluster.ipvs.model import Destination, Service
from plugins.module_utils.lvs_cluster.lvs_cf.errors import LvsCfError
from plugins.module_utils.lvs_cluster.lvs_cf.ipvs import (
    desired_ipvs,
    destination_for_server,
    service_for_virtual,
    sorry_destination,
)
from plugins.module_utils.lvs_cluster.lvs_cf.model import (
    DeviceAddress,
    FailoverService,
    LvsConfig,
    RealServer,
    VirtualService,
)

# Whole models are slow to generate: 150 examples in the ci profile, 50 in dev.
PROPERTY = settings(max_examples=max(50, settings.default.max_examples // 20))


def one_virtual(network="nat", **options):
    servers = options.pop("servers", (RealServer("s", "10.1.0.1", active=True, port=8080),))
    virtual = VirtualService(name="v", active=True, address=DeviceAddress("192.0.2.10", "eth0:1"),
                             servers=servers, **options)
    return LvsConfig(primary="10.0.0.1", network=network, virtuals=(virtual,))


def only_service(config):
    [(service, destinations)] = desired_ipvs(config).items()
    return service, destinations


def test_example_a_direct_routing_with_persistence():
    def direct(address, port):
        return Destination(address, port, forwarding="direct", weight=100)

    assert desired_ipvs(EXAMPLE_A) == {
        Service("inet", "tcp", "198.51.100.50", 443, scheduler="wlc",
                flags=frozenset({"persistent"}), timeout=900, netmask=24): (
            direct("198.51.100.21", 443), direct("198.51.100.22", 443)),
        Service("inet", "tcp", "198.51.100.50", 80, scheduler="wlc",
                flags=frozenset({"persistent"}), timeout=900, netmask=24): (
            direct("198.51.100.21", 80), direct("198.51.100.22", 80)),
    }


def test_example_b_nat_fwmark_bundle_port_mapping_and_udp():
    assert desired_ipvs(EXAMPLE_B) == {
        Service("inet", None, None, None, fwmark=80, scheduler="wlc",
                flags=frozenset({"persistent"}), timeout=1800): (
            Destination("10.20.0.11", 80, "nat", 40), Destination("10.20.0.12", 80, "nat", 40)),
        Service("inet", "tcp", "203.0.113.11", 25, scheduler="rr"): (
            Destination("10.20.0.21", 2525, "nat", 1),),
        Service("inet", "udp", "203.0.113.11", 53, scheduler="rr"): (
            Destination("10.20.0.31", 53, "nat", 1), Destination("10.20.0.32", 53, "nat", 1)),
    }


def test_service_order_follows_the_file():
    assert [s.port for s in desired_ipvs(EXAMPLE_B)] == [None, 25, 53]


def test_inactive_virtuals_and_servers_are_left_out():
    config = one_virtual(servers=(RealServer("a", "10.1.0.1", active=True),
                                  RealServer("b", "10.1.0.2", active=False)))
    idle = replace(config.virtuals[0], name="idle", active=False, port=81)
    config = replace(config, virtuals=(*config.virtuals, idle))
    service, destinations = only_service(config)
    assert service.port == 80
    assert [d.address for d in destinations] == ["10.1.0.1"]


def test_a_virtual_without_healthy_servers_is_still_a_service():
    assert only_service(one_virtual(servers=()))[1] == ()


def test_failover_mode_programs_no_ipvs():
    failover = FailoverService("f", active=True, address=DeviceAddress("192.0.2.9", "eth0:2"))
    config = replace(one_virtual(), service="fos", failovers=(failover,))
    assert desired_ipvs(config) == {}


@pytest.mark.parametrize(("weight", "expected"), [(0, 1), (1, 1), (100, 100)])
def test_weight_is_the_configured_weight_and_0_becomes_1(weight, expected):
    config = one_virtual(servers=(RealServer("s", "10.1.0.1", active=True, weight=weight),))
    assert only_service(config)[1][0].weight == expected


@pytest.mark.parametrize(("network", "forwarding", "fwmark", "port"), [
    ("nat", None, None, 8080),
    ("direct", None, None, 80),  # ipvsadm forces the virtual port for DR
    ("tunnel", None, None, 80),
    ("direct", None, 7, 8080),  # ... but not for fwmark services
    ("nat", "direct", None, 80),
    ("direct", "nat", None, 8080),
    ("tunnel", "direct", 7, 8080),
])
def test_real_port_and_forwarding(network, forwarding, fwmark, port):
    server = RealServer("s", "10.1.0.1", active=True, port=8080, forwarding=forwarding)
    config = one_virtual(network, servers=(server,), fwmark=fwmark, persistent=60)
    [destination] = only_service(config)[1]
    assert destination.port == port
    assert destination.forwarding == (forwarding or network)


@pytest.mark.parametrize(("persistent", "pmask", "flags", "timeout", "netmask"), [
    (0, None, frozenset(), 0, None),
    (0, "255.255.255.0", frozenset(), 0, None),  # pmask needs persistence
    (300, None, frozenset({"persistent"}), 300, None),
    (300, "255.255.255.0", frozenset({"persistent"}), 300, 24),
    (300, "255.255.0.0", frozenset({"persistent"}), 300, 16),
    (300, "255.255.255.255", frozenset({"persistent"}), 300, None),  # per client
    (300, "0.0.0.0", frozenset({"persistent"}), 300, None),  # ignored by Piranha
])
def test_persistence_and_netmask(persistent, pmask, flags, timeout, netmask):
    service = only_service(one_virtual(persistent=persistent, pmask=pmask))[0]
    assert (service.flags, service.timeout, service.netmask) == (flags, timeout, netmask)


def test_ipv6_virtual_with_prefix_persistence_and_scheduler_flags():
    virtual = VirtualService(
        name="v6", active=True, address=DeviceAddress("2001:db8::10", "eth0:1"), port=443,
        scheduler="mh", scheduler_flags=frozenset({"mh-port"}), persistent=60, pmask=64,
        servers=(RealServer("s", "2001:db8::21", active=True),))
    config = LvsConfig(primary="2001:db8::1", virtuals=(virtual,))
    assert desired_ipvs(config) == {
        Service("inet6", "tcp", "2001:db8::10", 443, scheduler="mh",
                flags=frozenset({"persistent", "mh-port"}), timeout=60, netmask=64): (
            Destination("2001:db8::21", 443, "nat", 1),),
    }


def test_fwmark_service_keeps_the_family_of_its_address():
    virtual = VirtualService(name="m", active=True, fwmark=9,
                             address=DeviceAddress("2001:db8::10", "eth0:1"))
    service = service_for_virtual(virtual)
    assert (service.family, service.fwmark, service.protocol, service.address) == (
        "inet6", 9, None, None)


def test_sorry_server_is_not_in_the_steady_state():
    config = one_virtual("direct", sorry_server="192.0.2.99", port=443)
    destinations = only_service(config)[1]
    assert "192.0.2.99" not in [d.address for d in destinations]
    assert sorry_destination(config.virtuals[0], config) == Destination(
        "192.0.2.99", 443, forwarding="direct", weight=1)


def test_sorry_server_uses_the_global_method_even_when_servers_override_it():
    server = RealServer("s", "10.1.0.1", active=True, forwarding="direct")
    config = one_virtual("nat", sorry_server="192.0.2.99", servers=(server,))
    assert sorry_destination(config.virtuals[0], config).forwarding == "nat"


def test_no_sorry_server():
    config = one_virtual()
    assert sorry_destination(config.virtuals[0], config) is None


def test_destination_for_one_server_is_what_an_agent_adds_when_it_is_healthy():
    config = one_virtual("tunnel", servers=(RealServer("s", "10.1.0.1", active=False, weight=7),))
    virtual = config.virtuals[0]
    assert destination_for_server(virtual, virtual.servers[0], config) == Destination(
        "10.1.0.1", 80, forwarding="tunnel", weight=7)


def test_unvalidated_models_raise_lvs_cf_errors():
    twice = one_virtual(servers=(RealServer("a", "10.1.0.1", active=True),
                                 RealServer("b", "10.1.0.1", active=True)))
    with pytest.raises(LvsCfError, match="same IPVS destination"):
        desired_ipvs(twice)
    config = one_virtual()
    with pytest.raises(LvsCfError, match="same IPVS service"):
        desired_ipvs(replace(config, virtuals=config.virtuals * 2))
    with pytest.raises(LvsCfError, match="address: missing"):
        service_for_virtual(VirtualService(name="v"))
    with pytest.raises(LvsCfError, match="server s: address: missing"):
        destination_for_server(config.virtuals[0], RealServer("s"), config)


@PROPERTY
@given(valid_configs())
def test_any_valid_model_has_a_desired_table(config):
    table = desired_ipvs(config)
    if config.service == "fos":
        assert table == {}
        return
    active = [virtual for virtual in config.virtuals if virtual.active]
    assert len(table) == len(active)
    for (service, destinations), virtual in zip(table.items(), active, strict=True):
        assert service == service_for_virtual(virtual)
        servers = [server for server in virtual.servers if server.active]
        assert [d.address for d in destinations] == [s.address for s in servers]
        for destination, server in zip(destinations, servers, strict=True):
            assert destination.weight == (0 if server.drain else max(1, server.weight))
            assert destination.family == service.family


@pytest.mark.parametrize(("options", "rise", "fall"), [
    ({}, 18, 1),  # Piranha: reentry 180 / timeout 10, one failure
    ({"reentry": 30, "timeout": 5}, 6, 1),
    ({"reentry": 5, "timeout": 10}, 1, 1),  # integer division gives 0: the first good check
    ({"reentry": 0, "timeout": 10}, 18, 1),  # nanny replaced reentry 0 by 180
    ({"timeout": 0}, 180, 1),
    ({"rise": 3, "fall": 2}, 3, 2),
])
def test_effective_rise_and_fall(options, rise, fall):
    virtual = VirtualService(name="v", **options)
    assert (virtual.effective_rise, virtual.effective_fall) == (rise, fall)
