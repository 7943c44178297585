# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one rule from health verdicts to a virtual's destinations (lvsd and the expected table
both go by it)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugins.module_utils.lvs_cluster.health_table import (
    Standing,
    placed,
    sorry_stands_in,
    virtual_destinations,
)
from plugins.module_utils.lvs_cluster.ipvs.model import Destination

A = Destination("10.0.0.1", 80, "nat", 10)
B = Destination("10.0.0.2", 80, "nat", 20)
SORRY = Destination("192.0.2.99", 80, "nat", 1)

UP = Standing(True)
OUT = Standing(False)
QUIESCED = Standing(True, 0)


def at(destination, weight):
    return Destination(destination.address, destination.port, destination.forwarding, weight)


# --- one real server ---------------------------------------------------------------------------

def test_in_the_table_at_full_weight():
    assert placed(A, UP) == A
    assert placed(A, Standing(True, 10)) == A


def test_in_the_table_at_its_current_weight():
    assert placed(A, Standing(True, 3)) == at(A, 3)
    assert placed(A, Standing(True, 70)) == at(A, 70)  # the load monitor may go above


def test_quiesced_is_weight_zero_and_out_is_absent():
    assert placed(A, QUIESCED) == at(A, 0)
    assert placed(A, OUT) is None
    assert placed(A, Standing(False, 10)) is None


@pytest.mark.parametrize(("standing", "carries"), [
    (UP, True), (Standing(True, 1), True), (QUIESCED, False), (OUT, False),
    (Standing(False, 5), False)])
def test_carries_traffic(standing, carries):
    assert standing.carries_traffic is carries


# --- the sorry server --------------------------------------------------------------------------

def test_sorry_server_stands_in_while_healthy_and_nothing_carries_traffic():
    assert sorry_stands_in(True, [])
    assert sorry_stands_in(True, [OUT, QUIESCED])
    assert not sorry_stands_in(True, [OUT, Standing(True, 1)])
    assert not sorry_stands_in(False, [OUT])


def test_virtual_destinations_in_order_then_the_sorry_server():
    assert virtual_destinations([(A, UP), (B, Standing(True, 2))], SORRY) == (A, at(B, 2))
    assert virtual_destinations([(B, QUIESCED), (A, OUT)], SORRY) == (at(B, 0), SORRY)
    assert virtual_destinations([(A, OUT), (B, OUT)], SORRY) == (SORRY,)
    assert virtual_destinations([(A, OUT), (B, OUT)], SORRY, sorry_healthy=False) == ()
    assert virtual_destinations([(A, OUT)]) == ()
    assert virtual_destinations([]) == ()


def test_a_known_standing_of_the_sorry_server_decides():
    assert virtual_destinations([(A, UP)], SORRY, sorry_standing=True) == (A, SORRY)
    assert virtual_destinations([(A, OUT)], SORRY, sorry_standing=False) == ()
    assert virtual_destinations([(A, OUT)], SORRY, sorry_healthy=False,
                                sorry_standing=True) == (SORRY,)


def test_a_sorry_server_that_is_a_present_real_server_is_listed_once_as_the_real_server():
    sorry_a = at(A, 1)
    assert virtual_destinations([(A, QUIESCED)], sorry_a) == (at(A, 0),)
    assert virtual_destinations([(A, QUIESCED)], sorry_a, sorry_standing=True) == (at(A, 0),)
    assert virtual_destinations([(A, OUT)], sorry_a) == (sorry_a,)


def test_members_are_read_once():
    members = iter([(A, OUT), (B, OUT)])
    assert virtual_destinations(members, SORRY) == (SORRY,)


standings = st.builds(Standing, st.booleans(), st.one_of(st.none(), st.integers(0, 100)))


@given(st.lists(standings, max_size=5), st.booleans())
def test_sorry_server_present_exactly_when_it_stands_in(picked, healthy):
    members = [(Destination(f"10.0.1.{i}", 80, "nat", 5), s) for i, s in enumerate(picked)]
    table = virtual_destinations(members, SORRY, sorry_healthy=healthy)
    assert (SORRY in table) == sorry_stands_in(healthy, picked)
    assert [d for d in table if d != SORRY] == [
        d for d in (placed(dest, s) for dest, s in members) if d is not None]
    assert (SORRY in table) == (healthy and not any(d.weight > 0 for d in table
                                                    if d != SORRY))
