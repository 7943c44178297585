# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPVS model: identity versus options, normalisation, and the checks of its
constructors."""

import dataclasses
import pickle

import pytest

from plugins.module_utils.lvs_cluster.ipvs.model import (
    Destination,
    DestinationKey,
    Service,
    ServiceKey,
)


def test_service_key_is_the_identity_without_options():
    plain = Service("inet", "tcp", "192.0.2.10", 80)
    tuned = Service("inet", "tcp", "192.0.2.10", 80, scheduler="rr",
                    flags=frozenset({"persistent"}), timeout=300, netmask=24)
    assert plain != tuned
    assert plain.key == tuned.key == ServiceKey("inet", "tcp", "192.0.2.10", 80, None)
    assert Service("inet", None, None, None, fwmark=7).key == ServiceKey(
        "inet", None, None, None, 7)


def test_services_and_destinations_are_frozen_and_hashable():
    service = Service("inet", "tcp", "192.0.2.10", 80, flags={"sh-port"})
    table = {service: (Destination("10.0.0.1", 80),)}
    assert table[Service("inet", "tcp", "192.0.2.10", 80, flags=frozenset({"sh-port"}))]
    with pytest.raises(dataclasses.FrozenInstanceError):
        service.port = 81


def test_addresses_are_stored_canonically():
    assert Service("inet6", "udp", "2001:DB8:0::1", 53).address == "2001:db8::1"
    assert Destination("2001:DB8::5", 53).address == "2001:db8::5"
    assert Destination("2001:db8::5", 53).family == "inet6"


@pytest.mark.parametrize(("family", "netmask", "stored"), [
    ("inet", 32, None), ("inet", 24, 24), ("inet", 0, 0), ("inet6", 128, None),
    ("inet6", 64, 64), ("inet", None, None),
])
def test_netmask_is_a_prefix_length_and_full_length_means_per_client(family, netmask, stored):
    address = "192.0.2.1" if family == "inet" else "2001:db8::1"
    service = Service(family, "tcp", address, 80, flags={"persistent"}, timeout=60,
                      netmask=netmask)
    assert service.netmask == stored


def test_persistent_property():
    assert Service("inet", "tcp", "192.0.2.1", 80, flags={"persistent"}, timeout=5).persistent
    assert not Service("inet", "tcp", "192.0.2.1", 80).persistent


@pytest.mark.parametrize(("arguments", "message"), [
    ({"family": "ipx"}, "family"),
    ({"protocol": "icmp"}, "protocol"),
    ({"address": "lvs.example.com"}, "invalid IP address"),
    ({"address": "2001:db8::1"}, "not an inet address"),
    ({"address": None}, "an IP address is required"),
    ({"port": 65536}, "port 0-65535"),
    ({"port": True}, "port 0-65535"),
    ({"fwmark": 7}, "a fwmark service has no protocol"),
    ({"scheduler": ""}, "scheduler"),
    ({"flags": {"sticky"}}, "unknown sticky"),
    ({"flags": {"persistent"}}, "a persistent service needs a timeout"),
    ({"timeout": -1}, "timeout"),
    ({"netmask": 33}, "prefix length 0-32"),
])
def test_inconsistent_services_are_refused(arguments, message):
    fields = {"family": "inet", "protocol": "tcp", "address": "192.0.2.1", "port": 80}
    fields.update(arguments)
    with pytest.raises(ValueError, match=message):
        Service(**fields)


@pytest.mark.parametrize("fwmark", [0, -1, 2**32, "7"])
def test_fwmark_range(fwmark):
    with pytest.raises(ValueError, match="fwmark"):
        Service("inet", None, None, None, fwmark=fwmark)


def test_destination_key_and_options():
    destination = Destination("10.0.0.1", 8080, forwarding="tunnel", weight=5,
                              upper_threshold=100, lower_threshold=10, tunnel_type="gue",
                              tunnel_port=6080, tunnel_flags={"csum"})
    assert destination.key == DestinationKey("10.0.0.1", 8080)
    assert destination.tunnel_flags == frozenset({"csum"})
    assert destination != Destination("10.0.0.1", 8080, forwarding="tunnel")


@pytest.mark.parametrize(("arguments", "message"), [
    ({"address": "web1"}, "invalid IP address"),
    ({"port": -1}, "port 0-65535"),
    ({"forwarding": "masq"}, "forwarding"),
    ({"weight": -1}, "weight"),
    ({"weight": 2**31}, "weight"),
    ({"upper_threshold": "10"}, "upper_threshold"),
    ({"tunnel_type": "gre"}, "tunnel options need forwarding = tunnel"),
    ({"forwarding": "tunnel", "tunnel_type": "vxlan"}, "tunnel_type"),
    ({"forwarding": "tunnel", "tunnel_flags": {"fast"}}, "tunnel_flags"),
    ({"forwarding": "tunnel", "tunnel_port": 70000}, "tunnel_port"),
])
def test_inconsistent_destinations_are_refused(arguments, message):
    fields = {"address": "10.0.0.1", "port": 80}
    fields.update(arguments)
    with pytest.raises(ValueError, match=message):
        Destination(**fields)


def test_a_service_key_hashes_its_fields_once():
    class Counted(str):
        hashed = 0

        def __hash__(self):
            Counted.hashed += 1
            return super().__hash__()

    key = ServiceKey("inet", "tcp", Counted("192.0.2.10"), 80, None)
    assert len({key, key, ServiceKey("inet", "tcp", "192.0.2.10", 80, None)}) == 1
    for _lookup in range(5):
        hash(key)
    assert Counted.hashed == 1
    plain = ServiceKey("inet", "tcp", "192.0.2.10", 80, None)
    restored = pickle.loads(pickle.dumps(plain))
    assert restored == plain and hash(restored) == hash(plain)
