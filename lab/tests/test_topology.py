"""The topology parser: the default file, and one bad input per rule, each naming its field."""

from pathlib import Path

import pytest
import yaml
from lvslab.topology import TopologyError, load_topology, parse_topology

DEFAULT = Path(__file__).resolve().parents[1] / "topologies" / "default.yml"
TRIXIE = Path(__file__).resolve().parents[1] / "topologies" / "trixie.yml"


def minimal() -> dict:
    return {
        "name": "t",
        "networks": {"front": {"subnet": "10.254.0.0/24", "controller": "10.254.0.1"}},
        "guests": {"a": {"nics": [{"network": "front", "address": "10.254.0.2"}]}},
    }


def test_default_topology_has_the_issue_guests_and_two_networks():
    topology = load_topology(DEFAULT)
    assert [g.name for g in topology.guests] == ["lvs1", "lvs2", "web1", "web2", "client"]
    assert set(topology.networks) == {"front", "back"}
    lvs1 = topology.guest("lvs1")
    assert [n.network for n in lvs1.nics] == ["front", "back"]
    assert lvs1.groups == ("lvs_routers",)
    assert topology.ssh_address(lvs1) == "10.254.0.11"
    assert {g.name for g in topology.guests if "real_servers" in g.groups} == {"web1", "web2"}


def test_macs_and_taps_are_unique_and_short():
    topology = load_topology(DEFAULT)
    macs = [g.mac(n) for g in topology.guests for n in range(len(g.nics))]
    taps = [g.tap(n) for g in topology.guests for n in range(len(g.nics))]
    assert len(set(macs)) == len(macs) and len(set(taps)) == len(taps)
    assert all(len(t) <= 15 for t in taps)
    assert macs[0] == "52:54:00:fe:01:00"


def test_nic_address_carries_the_network_prefix():
    topology = parse_topology(minimal(), "t.yml")
    assert str(topology.guests[0].nics[0].address) == "10.254.0.2/24"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(name="Bad Name"), "t.yml: name:"),
        (lambda d: d.update(extra=1), "t.yml: top level: unknown key 'extra'"),
        (lambda d: d["networks"]["front"].update(subnet="10.254.0.1/24"),
         "networks.front.subnet"),
        (lambda d: d["networks"]["front"].update(subnet="8.8.8.0/24", controller="8.8.8.1"),
         "must be a private IPv4 network"),
        (lambda d: d["networks"]["front"].update(controller="10.9.9.9"),
         "networks.front.controller: 10.9.9.9 is not a host address of 10.254.0.0/24"),
        (lambda d: d["guests"]["a"]["nics"][0].update(network="nowhere"),
         "guests.a.nics[0].network: unknown network 'nowhere'"),
        (lambda d: d["guests"]["a"]["nics"][0].update(address="10.254.0.255"),
         "guests.a.nics[0].address: 10.254.0.255 is not a host address"),
        (lambda d: d["guests"]["a"]["nics"][0].update(address="10.254.0.1"),
         "guests.a.nics[0].address: 10.254.0.1 is already used by networks.front.controller"),
        (lambda d: d["guests"].update({"b": {"nics": [{"network": "front",
                                                        "address": "10.254.0.2"}]}}),
         "guests.b.nics[0].address: 10.254.0.2 is already used by guests.a.nics[0].address"),
        (lambda d: d["guests"].update({"averylongname": {"nics": []}}), "guests.averylongname:"),
        (lambda d: d["guests"]["a"].update(nics=[]), "guests.a.nics: expected a list"),
        (lambda d: d["guests"]["a"].update(memory="lots"), "guests.a.memory: 'lots'"),
        (lambda d: d["guests"]["a"].update(groups="routers"), "guests.a.groups"),
        (lambda d: d["networks"].update(back={"subnet": "10.254.0.0/16"}),
         "networks.back.subnet: 10.254.0.0/16 overlaps networks.front"),
        (lambda d: d["networks"]["front"].pop("controller"), "guest 'a' has no NIC"),
        (lambda d: d.update(release="buster"),
         "release: 'buster' is not a Debian release the lab builds (bookworm, trixie)"),
        (lambda d: d["guests"]["a"].update(release="sid"),
         "guests.a.release: 'sid' is not a Debian release"),
        (lambda d: d["guests"]["a"].update(release=13), "guests.a.release: 13 is not"),
        (lambda d: d["guests"]["a"].update(routes={"to": "default"}),
         "guests.a.routes: expected a list"),
        (lambda d: d["guests"]["a"].update(routes=[{"to": "10.9.0.1/16", "via": "10.254.0.1"}]),
         "guests.a.routes[0].to: 10.9.0.1/16 has host bits set (or 'default')"),
        (lambda d: d["guests"]["a"].update(routes=[{"to": "default", "via": "10.9.9.9"}]),
         "guests.a.routes[0].via: 10.9.9.9 is on none of the guest's networks"),
        (lambda d: d["guests"]["a"].update(routes=[{"to": "default", "via": "gw"}]),
         "guests.a.routes[0].via:"),
        (lambda d: d["guests"]["a"].update(routes=[{"to": "default", "via": "10.254.0.1",
                                                    "dev": "eth0"}]),
         "guests.a.routes[0]: unknown key 'dev'"),
    ],
)
def test_each_mistake_names_file_and_field(mutate, expected):
    data = minimal()
    mutate(data)
    with pytest.raises(TopologyError) as caught:
        parse_topology(data, "t.yml")
    message = str(caught.value)
    assert message.startswith("t.yml: ")
    assert expected in message


def test_not_yaml_and_missing_file_are_topology_errors(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(TopologyError, match="bad.yml: not valid YAML"):
        load_topology(bad)
    with pytest.raises(TopologyError, match="cannot read"):
        load_topology(tmp_path / "missing.yml")


def test_unknown_guest_lookup_lists_the_guests():
    topology = parse_topology(minimal(), "t.yml")
    with pytest.raises(TopologyError, match=r"no guest named 'zz' \(guests: a\)"):
        topology.guest("zz")


def test_round_trip_through_yaml_text(tmp_path):
    path = tmp_path / "lab.yml"
    path.write_text(yaml.safe_dump(minimal()))
    assert load_topology(path).guests[0].name == "a"


def test_release_defaults_to_bookworm_and_the_topology_sets_it_for_every_guest():
    assert [g.release for g in load_topology(DEFAULT).guests] == ["bookworm"] * 5
    assert load_topology(DEFAULT).releases == ("bookworm",)
    data = minimal()
    data["release"] = "trixie"
    data["guests"]["b"] = {"nics": [{"network": "front", "address": "10.254.0.3"}]}
    assert [g.release for g in parse_topology(data, "t.yml").guests] == ["trixie", "trixie"]


def test_a_guest_overrides_the_topology_release():
    data = minimal()
    data["guests"]["b"] = {"nics": [{"network": "front", "address": "10.254.0.3"}],
                           "release": "trixie"}
    topology = parse_topology(data, "t.yml")
    assert [g.release for g in topology.guests] == ["bookworm", "trixie"]
    assert topology.releases == ("bookworm", "trixie")
    data["release"] = "trixie"
    data["guests"]["b"]["release"] = "bookworm"
    topology = parse_topology(data, "t.yml")
    assert [g.release for g in topology.guests] == ["trixie", "bookworm"]
    assert topology.releases == ("trixie", "bookworm")


def test_trixie_topology_is_the_default_lab_with_trixie_routers_and_real_servers():
    default, trixie = load_topology(DEFAULT), load_topology(TRIXIE)
    assert trixie.networks == default.networks
    assert [(g.name, g.nics, g.groups) for g in trixie.guests] == [
        (g.name, g.nics, g.groups) for g in default.guests]
    assert {g.name: g.release for g in trixie.guests} == {
        "lvs1": "trixie", "lvs2": "trixie", "web1": "trixie", "web2": "trixie",
        "client": "bookworm"}


SCALEOUT = Path(__file__).resolve().parents[1] / "topologies" / "scaleout.yml"


def test_scaleout_topology_routes_the_clients_through_edge():
    topology = load_topology(SCALEOUT)
    assert [g.name for g in topology.guests] == [
        "edge", "lvs1", "lvs2", "lvs3", "web1", "web2", "web3", "client"]
    client = topology.guest("client")
    assert [(r.to, str(r.via)) for r in client.routes] == [("default", "10.254.3.2")]
    assert [(r.to, str(r.via)) for r in topology.guest("web2").routes] == [
        ("10.254.3.0/24", "10.254.1.2")]
    assert {g.name for g in topology.guests if "lvs_routers" in g.groups} == {
        "lvs1", "lvs2", "lvs3"}
