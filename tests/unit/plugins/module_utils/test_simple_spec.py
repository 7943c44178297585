# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""simple_spec against Ansible's own validation: whenever it gives an answer, that answer is
Ansible's; whatever Ansible would convert or refuse, it leaves to Ansible (None)."""

from __future__ import annotations

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.module_utils import simple_spec
from plugins.module_utils.lvs_cluster.ipvs import options


def table_spec():
    service = options.service_spec()
    service["destinations"] = dict(type="list", elements="dict", default=[],
                                   options=options.destination_spec())
    return service


SPEC = table_spec()
# values of every kind for every option: right types, wrong types, convertible text, nulls
ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 70000), st.sampled_from(
        ["tcp", "udp", "sctp", "inet", "inet6", "10.0.0.1", "2001:db8::1", "wlc", "rr", "80",
         "yes", "masquerade", "direct", "tunnel", "gue", "sh-port", "sh-fallback", "bogus", ""]),
    st.lists(st.sampled_from(["sh-port", "sh-fallback", "nocsum", "remcsum", "x"]),
             max_size=3))


def option_dicts(spec):
    keys = st.sampled_from([*spec, "unknown"])
    return st.dictionaries(keys, ANY_VALUE, max_size=6)


DESTINATIONS = st.lists(option_dicts(SPEC["destinations"]["options"]), max_size=3)
SERVICES = st.lists(st.builds(lambda service, dests, with_dests: {**service, "destinations": dests}
                              if with_dests else service,
                              option_dicts({k: v for k, v in SPEC.items()
                                            if k != "destinations"}),
                              DESTINATIONS, st.booleans()), max_size=3)


def ansible_says(items):
    result = ArgumentSpecValidator({"services": dict(type="list", elements="dict",
                                                     options=SPEC)}).validate({"services": items})
    return result.error_messages, result.validated_parameters.get("services")


@settings(max_examples=600, deadline=None)
@given(SERVICES)
def test_an_answer_is_always_ansibles_answer(items):
    ours = simple_spec.checked(SPEC, items)
    errors, theirs = ansible_says(items)
    if ours is not None:
        assert not errors
        assert ours == theirs


def typed_value(rule):
    """A value of the option's own type (a choice where it has choices), or null."""
    kind, choices = rule.get("type", "str"), rule.get("choices")
    if kind == "list":
        return st.lists(st.sampled_from(choices or ["a", "b"]), max_size=2)
    if choices:
        return st.sampled_from(choices)
    return {"str": st.sampled_from(["10.0.0.1", "wlc", "x"]), "int": st.integers(0, 9),
            "bool": st.booleans(), "raw": st.sampled_from([None, 24, "255.0.0.0"])}[kind]


def typed_dicts(spec):
    return st.fixed_dictionaries({}, optional={name: st.one_of(st.none(), typed_value(rule))
                                               for name, rule in spec.items()
                                               if rule.get("type") != "list"
                                               or rule.get("elements") == "str"})


DESTINATION_OPTIONS = SPEC["destinations"]["options"]
TYPED = st.lists(st.builds(lambda service, dests: {**service, "destinations": dests},
                           typed_dicts(SPEC),
                           st.lists(typed_dicts(DESTINATION_OPTIONS), max_size=3)),
                 max_size=3)


@settings(max_examples=400, deadline=None)
@given(TYPED)
def test_typed_input_is_answered_as_ansible_answers(items):
    ours = simple_spec.checked(SPEC, items)
    errors, theirs = ansible_says(items)
    if ours is not None:
        assert not errors and ours == theirs
    else:  # only a null, or a destination without its address, may send it to Ansible
        dicts = [*items, *(d for item in items for d in item["destinations"])]
        assert any(None in d.values() for d in dicts) or not all(
            "address" in d for item in items for d in item["destinations"]), items


def test_a_plain_table_is_answered_without_ansible():
    items = [{"protocol": "tcp", "address": "10.0.0.1", "port": 80, "scheduler_flags": ["sh-port"],
              "persistence_netmask": "255.255.255.0",
              "destinations": [{"address": "10.0.1.1", "port": 80, "weight": 3},
                               {"address": "10.0.1.2", "tunnel_port": None}]}]
    ours = simple_spec.checked(SPEC, items)
    assert ours is not None
    assert ours == ansible_says(items)[1]
    assert ours[0]["scheduler"] == "wlc" and ours[0]["destinations"][1]["weight"] == 1


@pytest.mark.parametrize("items", [
    [{"protocol": "tcp", "address": "10.0.0.1", "port": "80"}],  # Ansible converts it
    [{"protocol": "tcp", "address": "10.0.0.1", "port": True}],  # a bool is no int here
    [{"protocol": "sctpx", "address": "10.0.0.1", "port": 80}],  # not a choice
    [{"protocol": "tcp", "address": "10.0.0.1", "port": 80, "colour": "red"}],  # unknown
    [{"address": "10.0.0.1", "destinations": [{"port": 80}]}],  # address is required
    [{"address": "10.0.0.1", "scheduler_flags": "sh-port"}],  # Ansible splits the text
    ["protocol=tcp"],  # Ansible parses k=v text
    {"protocol": "tcp"},  # not a list
])
def test_what_ansible_would_convert_or_refuse_is_left_to_it(items):
    assert simple_spec.checked(SPEC, items) is None


def test_a_spec_with_a_rule_it_does_not_check_is_refused():
    with pytest.raises(ValueError, match="aliases"):
        simple_spec.checked({"name": {"type": "str", "aliases": ["n"]}}, [])
