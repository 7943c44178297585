# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plain-data form of the model: JSON round trip, defaults, and errors naming the path of
the bad entry."""

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lvs_cf_examples import EXAMPLE_A, EXAMPLE_B
from lvs_cf_strategies import valid_configs

from plugins.module_utils.lvs_cluster.lvs_cf.errors import LvsCfError
from plugins.module_utils.lvs_cluster.lvs_cf.model import (
    DeviceAddress,
    LvsConfig,
    RealServer,
    VirtualService,
    model_from_dict,
    model_to_dict,
)
from plugins.module_utils.lvs_cluster.lvs_cf.validate import validate_lvs_cf

# Slow examples (whole models): 150 in the ci profile, 50 in dev; the fuzzing of entries 500.
PROPERTY = settings(max_examples=max(50, settings.default.max_examples // 20))
ENTRY_FUZZ = settings(max_examples=max(100, settings.default.max_examples // 6),
                      suppress_health_check=[HealthCheck.too_slow])


def through_json(config):
    return json.loads(json.dumps(model_to_dict(config)))


@pytest.mark.parametrize("config", [EXAMPLE_A, EXAMPLE_B], ids=["example_a", "example_b"])
def test_examples_survive_json(config):
    assert model_from_dict(through_json(config)) == config


def test_dict_form_of_example_b():
    data = model_to_dict(EXAMPLE_B)
    assert list(data)[:3] == ["serial_no", "service", "primary"]
    assert list(data)[-2:] == ["virtuals", "failovers"]
    assert data["keepalive"] == 3.0
    assert data["nat_router"] == {"ip": "10.20.0.254", "device": "eth1:1"}
    assert data["failovers"] == []
    bundle = data["virtuals"][0]
    assert (bundle["name"], bundle["fwmark"], bundle["scheduler_flags"], bundle["dirs"]) == (
        "web_bundle", 80, [], [])
    assert bundle["address"] == {"ip": "203.0.113.10", "device": "eth0:1"}
    assert bundle["servers"][1] == {"name": "app2", "address": "10.20.0.12", "active": True,
                                    "weight": 40, "port": 80, "forwarding": None,
                                    "drain": False}


def test_missing_keys_take_their_defaults_and_server_ports_their_virtual_port():
    config = model_from_dict({
        "primary": "10.0.0.1",
        "virtuals": [{"name": "v", "active": 1, "port": 443,
                      "address": {"ip": "192.0.2.10", "device": "eth0:1"},
                      "scheduler_flags": ["sh-port"], "scheduler": "sh",
                      "servers": [{"name": "s", "address": "10.1.0.1"}]}],
    })
    assert config == LvsConfig(primary="10.0.0.1", virtuals=(VirtualService(
        name="v", active=True, port=443, address=DeviceAddress("192.0.2.10", "eth0:1"),
        scheduler="sh", scheduler_flags=frozenset({"sh-port"}),
        servers=(RealServer(name="s", address="10.1.0.1", port=443),)),))


def test_values_are_normalised_like_the_parser_does():
    config = model_from_dict({"primary": "2001:DB8::1", "keepalive": 1, "virtuals": [
        {"name": "v", "fwmark": 0, "dirs": ["/etc"], "vip_nmask": 64}]})
    assert config.primary == "2001:db8::1"
    assert config.keepalive == 1.0 and isinstance(config.keepalive, float)
    assert config.virtuals[0].fwmark is None
    assert config.virtuals[0].dirs == ("/etc",)
    assert config.virtuals[0].vip_nmask == 64


def valid_data():
    return model_to_dict(EXAMPLE_A)


def with_change(path, value):
    data = valid_data()
    target = data
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


DELETE = KeyError

ERRORS = [
    (("virtuals", 0, "servers", 1, "weight"), "heavy",
     "virtuals[0].servers[1].weight", "integer expected, got 'heavy'"),
    (("virtuals", 0, "servers", 1, "weight"), 2.5,
     "virtuals[0].servers[1].weight", "integer expected, got float 2.5"),
    (("virtuals", 0, "servers", 1, "weight"), True,
     "virtuals[0].servers[1].weight", "integer expected, got bool True"),
    (("virtual_services",), [], "virtual_services",
     "unknown key 'virtual_services' (did you mean 'virtuals'?)"),
    (("virtuals", 1, "servers", 0, "nmask"), "255.0.0.0", "virtuals[1].servers[0].nmask",
     "unknown key 'nmask'"),
    (("virtuals", 0, "active"), 2, "virtuals[0].active", "boolean expected"),
    (("virtuals", 0, "active"), "yes", "virtuals[0].active", "boolean expected"),
    (("keepalive",), "2", "keepalive", "number of seconds expected, got '2'"),
    (("primary",), "lvs1.example.com", "primary", "IP address expected, got 'lvs1.example.com'"),
    (("primary",), "10.0.0.010", "primary", "IP address expected"),
    (("virtuals", 0, "address"), "198.51.100.50 eth0:1", "virtuals[0].address",
     "mapping with ip and device expected"),
    (("virtuals", 0, "address", "device"), DELETE, "virtuals[0].address.device", "missing"),
    (("virtuals", 0, "address", "label"), "x", "virtuals[0].address.label", "unknown key"),
    (("virtuals", 0, "vip_nmask"), "255.0.255.0", "virtuals[0].vip_nmask",
     "netmask expected: 255.0.255.0 is not contiguous"),
    (("virtuals", 0, "vip_nmask"), 200, "virtuals[0].vip_nmask",
     "netmask expected: prefix length 200"),
    (("virtuals", 0, "send"), 'say "hi"', "virtuals[0].send",
     "the value contains a double quote"),
    (("virtuals", 0, "scheduler"), "fastest", "virtuals[0].scheduler", "invalid value 'fastest'"),
    (("virtuals", 0, "scheduler_flags"), "sh-port", "virtuals[0].scheduler_flags",
     "list expected"),
    (("virtuals", 0, "scheduler_flags"), ["sh-port", "sticky"], "virtuals[0].scheduler_flags[1]",
     "invalid flag 'sticky'"),
    (("virtuals", 0, "dirs"), ["/etc", 5], "virtuals[0].dirs[1]", "string expected"),
    (("virtuals",), {"web": {}}, "virtuals", "list expected"),
    (("virtuals", 0, "name"), DELETE, "virtuals[0].name", "string expected, got NoneType None"),
    (("virtuals", 0, "port"), None, "virtuals[0].port", "a value is required"),
    (("virtuals", 0, "servers", 0), "web01", "virtuals[0].servers[0]", "mapping expected"),
    (("failovers",), [{"name": "f", "scheduler": "rr"}], "failovers[0].scheduler",
     "unknown key 'scheduler'"),
]


@pytest.mark.parametrize(("path", "value", "key", "reason"), ERRORS,
                         ids=[case[2] + ":" + case[3][:20] for case in ERRORS])
def test_bad_entries_are_named_by_their_path(path, value, key, reason):
    with pytest.raises(LvsCfError) as info:
        model_from_dict(with_change(path, value))
    err = info.value
    assert (err.file, err.line, err.key) == ("config", None, key)
    assert err.reason.startswith(reason)
    assert str(err) == f"config: {key}: {err.reason}"


def test_source_names_the_origin():
    with pytest.raises(LvsCfError, match=r"^inventory: keepalive: "):
        model_from_dict({"keepalive": None}, source="inventory")


@pytest.mark.parametrize("data", [None, [], "lvs.cf", 5])
def test_the_whole_thing_must_be_a_mapping(data):
    with pytest.raises(LvsCfError, match="mapping expected"):
        model_from_dict(data)


def test_model_from_dict_does_not_change_its_input():
    data = valid_data()
    before = copy.deepcopy(data)
    model_from_dict(data)
    assert data == before


@PROPERTY
@given(valid_configs())
def test_round_trip_of_any_valid_model_through_json(config):
    assert model_from_dict(through_json(config)) == config


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
FIELD_NAMES = st.sampled_from(sorted(set(model_to_dict(EXAMPLE_A)) | {"name", "servers"}
                                     | set(model_to_dict(EXAMPLE_A)["virtuals"][0])))


@ENTRY_FUZZ
@given(st.dictionaries(FIELD_NAMES, JSON, max_size=6), st.integers(0, 2))
def test_arbitrary_data_raises_only_lvs_cf_errors(overrides, where):
    data = valid_data()
    target = [data, data["virtuals"][0], data["virtuals"][0]["servers"][0]][where]
    target.update(overrides)
    try:
        validate_lvs_cf(model_from_dict(data))
    except LvsCfError as err:
        assert "invalid model" not in err.reason, err
