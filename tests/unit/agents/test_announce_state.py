# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bgp mode's announcement rule: announce a VIP only while this router can serve it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lvs_agents.announce_state import (
    ANNOUNCE,
    WITHDRAW,
    Inputs,
    VirtualHealth,
    step,
    virtual_health,
    wanted,
)

V4, V6 = "10.254.0.100", "fd98::100"
WEB = VirtualHealth(V4, checked=True, healthy=2)
WEB_DOWN = VirtualHealth(V4, checked=True, healthy=0)
WEB_UNCHECKED = VirtualHealth(V4, checked=False, healthy=1)
V6_WEB = VirtualHealth(V6, checked=True, healthy=1)


@pytest.mark.parametrize(("inputs", "expected"), [
    pytest.param(Inputs(True, (WEB, V6_WEB)), {V4, V6}, id="ready and healthy: both"),
    pytest.param(Inputs(False, (WEB, V6_WEB)), set(), id="lvsd not ready (starting, dead)"),
    pytest.param(Inputs(True, (WEB, V6_WEB), stopping=True), set(), id="planned stop"),
    pytest.param(Inputs(True, (WEB_DOWN, V6_WEB)), {V6}, id="no healthy server: that VIP out"),
    pytest.param(Inputs(True, (WEB_UNCHECKED,)), set(), id="first round of checks not done"),
    pytest.param(Inputs(True, (WEB, WEB_UNCHECKED)), set(),
                 id="one virtual of the VIP not checked yet"),
    pytest.param(Inputs(True, (WEB, WEB_DOWN)), {V4},
                 id="one virtual of the VIP can serve: announced"),
    pytest.param(Inputs(True, (WEB,), min_healthy=2), {V4}, id="min_healthy met"),
    pytest.param(Inputs(True, (WEB,), min_healthy=3), set(), id="min_healthy not met"),
    pytest.param(Inputs(True, ()), set(), id="no virtuals"),
])
def test_wanted(inputs: Inputs, expected: set[str]) -> None:
    assert wanted(inputs) == expected


def test_min_healthy_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="min_healthy must be at least 1, not 0"):
        Inputs(True, (WEB,), min_healthy=0)


def test_step_withdraws_before_it_announces() -> None:
    announced, actions = step(frozenset({V4}), Inputs(True, (WEB_DOWN, V6_WEB)))
    assert announced == {V6}
    assert actions == [(WITHDRAW, V4), (ANNOUNCE, V6)]


def test_step_with_nothing_to_change_does_nothing() -> None:
    announced, actions = step(frozenset({V4}), Inputs(True, (WEB,)))
    assert (announced, actions) == ({V4}, [])


def test_a_booting_router_announces_once_ready_and_checked() -> None:
    announced: frozenset[str] = frozenset()
    sequence = [Inputs(False), Inputs(True, (WEB_UNCHECKED,)), Inputs(True, (WEB,))]
    seen = []
    for inputs in sequence:
        announced, actions = step(announced, inputs)
        seen.append(actions)
    assert seen == [[], [], [(ANNOUNCE, V4)]]


HEALTH = st.builds(VirtualHealth, st.sampled_from([V4, V6, "10.254.0.101"]), st.booleans(),
                   st.integers(0, 3))
INPUTS = st.builds(Inputs, st.booleans(), st.lists(HEALTH, max_size=5).map(tuple),
                   st.integers(1, 3), st.booleans())


@given(st.frozensets(st.sampled_from([V4, V6, "10.254.0.101"])), INPUTS)
def test_step_reaches_wanted_and_never_announces_what_it_cannot_serve(
        announced: frozenset[str], inputs: Inputs) -> None:
    after, actions = step(announced, inputs)
    assert after == wanted(inputs)
    replayed = set(announced)
    for kind, vip in actions:
        if kind == WITHDRAW:
            replayed.remove(vip)
        else:
            assert replayed <= after  # every withdrawal is done before the first announcement
            replayed.add(vip)
    assert replayed == after
    serving = {v.vip for v in inputs.virtuals if v.healthy >= inputs.min_healthy}
    assert after <= serving


def test_virtual_health_from_lvsd_status() -> None:
    vip_of = {"web": V4, "web6": V6}
    lvsd_virtuals = [
        {"name": "web", "servers": [
            {"name": "web1", "healthy": True, "last_check": 1.0},
            {"name": "web2", "healthy": False, "last_check": 1.0},
            {"name": "sorry", "healthy": True, "last_check": 1.0, "sorry": True}]},
        {"name": "web6", "servers": [{"name": "web1", "healthy": True, "last_check": None}]},
        {"name": "gone", "servers": []},  # not in lvs.cf any more: ignored
        "not a virtual",
    ]
    assert virtual_health(vip_of, lvsd_virtuals) == (
        VirtualHealth(V4, checked=True, healthy=1), VirtualHealth(V6, checked=False, healthy=1))


def test_virtual_health_of_a_malformed_entry_is_not_healthy() -> None:
    entries = [{"name": "web", "servers": "?"}, {"name": "web", "servers": [{"healthy": "yes"}]}]
    health = virtual_health({"web": V4}, entries)
    assert [h.healthy for h in health] == [0, 0]
    assert not wanted(Inputs(True, health))
