# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reconcile engine: plans (order, edits in place, scope, purge), transactional apply with
rollback against the fake kernel, check mode, and a property: plan + apply reaches the desired
table and a second plan is empty."""

from __future__ import annotations

import errno
import gc

import pytest
from fake_ipvs_kernel import FakeIpvsKernel
from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.module_utils.lvs_cluster.ipvs import netlink as nl
from plugins.module_utils.lvs_cluster.ipvs.model import Destination, Service
from plugins.module_utils.lvs_cluster.ipvs.reconcile import (
    ApplyError,
    MemoryTable,
    Operation,
    Scope,
    apply,
    plan,
    read_table,
    simulate,
)

VIP, OTHER_VIP = "192.0.2.10", "192.0.2.20"


def web(port=80, address=VIP, **options):
    family = "inet6" if ":" in address else "inet"
    return Service(family, "tcp", address, port, **options)


def rs(n, port=80, **options):
    return Destination(f"10.0.0.{n}", port, **options)


def mark(n, family="inet", **options):
    return Service(family, None, None, None, fwmark=n, **options)


def kernel_with(table):
    fake = FakeIpvsKernel().load(table)
    return fake, nl.IpvsNetlink(fake)


def steps(the_plan):
    return [(op.action, op.service.port or op.service.fwmark,
             op.destination.address if op.destination else None)
            for op in the_plan.operations]


def as_sets(table):
    return {s: frozenset(d) for s, d in table.items()}


# --- plan --------------------------------------------------------------------------------------

def test_plan_from_empty_adds_each_service_before_its_destinations():
    desired = {web(80): (rs(1), rs(2)), web(443): (rs(3),), mark(5): (rs(4, 0),)}
    assert steps(plan(desired, {}, Scope.everything())) == [
        ("add_service", 80, None), ("add_destination", 80, "10.0.0.1"),
        ("add_destination", 80, "10.0.0.2"), ("add_service", 443, None),
        ("add_destination", 443, "10.0.0.3"), ("add_service", 5, None),
        ("add_destination", 5, "10.0.0.4")]


def test_plan_is_empty_when_the_kernel_already_matches():
    desired = {web(scheduler="sh", flags={"sh-port", "persistent"}, timeout=60, netmask=24):
               (rs(1, weight=5, upper_threshold=9, lower_threshold=1),
                rs(2, forwarding="tunnel", tunnel_type="gue", tunnel_port=6080,
                   tunnel_flags={"csum"})),
               mark(9, "inet6", pe_name="sip", flags={"persistent"}, timeout=5):
               (Destination("2001:db8:1::1", 0),)}
    fake, kernel = kernel_with(desired)
    assert all(s.flags & 0x2 for s in fake.services.values())  # HASHED in the kernel
    live = read_table(kernel)
    assert as_sets(live) == as_sets(desired)
    assert plan(desired, live, Scope.everything()).operations == []


def test_plan_ignores_spellings_the_kernel_cannot_tell_apart():
    desired = {web(scheduler="mh", flags={"sh-port"}, pe_name=""):
               (rs(1, forwarding="tunnel", tunnel_type="ipip", tunnel_flags={"nocsum"}),)}
    _fake, kernel = kernel_with(desired)
    assert plan(desired, read_table(kernel), Scope.everything()).operations == []


@pytest.mark.parametrize("change", [
    {"scheduler": "rr"}, {"flags": frozenset({"persistent", "one-packet"})},
    {"timeout": 600}, {"netmask": 16}, {"pe_name": "sip"}])
def test_service_option_change_is_an_edit_in_place(change):
    live_service = web(scheduler="wlc", flags={"persistent"}, timeout=300, netmask=24)
    desired_service = Service(**{**live_service.__dict__, **change})
    live = {live_service: (rs(1),)}
    the_plan = plan({desired_service: (rs(1),)}, live, Scope.everything())
    assert the_plan.operations == [Operation("edit_service", desired_service,
                                             before=live_service)]
    [name] = change
    assert the_plan.operations[0].describe()["changes"].keys() == {name}


@pytest.mark.parametrize("change", [
    {"weight": 7}, {"forwarding": "direct"}, {"upper_threshold": 10},
    {"upper_threshold": 10, "lower_threshold": 5},
    {"forwarding": "tunnel", "tunnel_type": "gre"}])
def test_destination_option_change_is_an_edit(change):
    live = {web(): (rs(1), rs(2))}
    changed = Destination(**{**rs(2).__dict__, **change})
    the_plan = plan({web(): (rs(1), changed)}, live, Scope.everything())
    assert the_plan.operations == [Operation("edit_destination", web(), changed,
                                             before=rs(2))]


def test_missing_destination_is_added_extra_one_deleted_first():
    live = {web(): (rs(1), rs(2))}
    the_plan = plan({web(): (rs(1), rs(3))}, live, Scope.everything())
    assert steps(the_plan) == [("delete_destination", 80, "10.0.0.2"),
                               ("add_destination", 80, "10.0.0.3")]


def test_extra_destination_kept_without_purge_destinations():
    live = {web(): (rs(1), rs(2))}
    the_plan = plan({web(): (rs(1), rs(3))}, live, Scope.everything(),
                    purge_destinations=False)
    assert steps(the_plan) == [("add_destination", 80, "10.0.0.3")]


def test_extra_services_deleted_in_scope_only_and_last():
    live = {web(80): (rs(1),), web(81): (rs(2),), web(80, OTHER_VIP): (rs(3),),
            mark(1): (), mark(2): ()}
    desired = {web(80): (rs(1),), web(82): (), mark(1): ()}
    scope = Scope.of_table(desired)
    assert scope == Scope(frozenset({VIP}), frozenset({1}))
    assert steps(plan(desired, live, scope)) == [
        ("add_service", 82, None), ("delete_service", 81, None)]
    assert steps(plan(desired, live, Scope.everything())) == [
        ("add_service", 82, None), ("delete_service", 81, None),
        ("delete_service", 80, None), ("delete_service", 2, None)]
    assert steps(plan(desired, live, Scope.everything(), purge=False)) == [
        ("add_service", 82, None)]


def test_scope():
    scope = Scope.of(["192.0.2.10", "2001:db8::10"], [7])
    assert scope.owns(web(port=1)) and scope.owns(web(address="2001:db8::10"))
    assert not scope.owns(web(address=OTHER_VIP)) and scope.owns(mark(7, "inet6"))
    assert not scope.owns(mark(8))
    assert Scope.everything().owns(mark(8)) and Scope.everything().owns(web(address=OTHER_VIP))
    assert Scope.of_table({}) == Scope(frozenset(), frozenset())
    assert not Scope.of_table({}).owns(web())


def test_describe():
    op = Operation("edit_destination", web(), rs(1, weight=3), before=rs(1))
    assert op.describe() == {"action": "edit_destination",
                             "service": "service tcp 192.0.2.10:80",
                             "destination": "10.0.0.1:80", "changes": {"weight": [1, 3]}}


# --- check mode --------------------------------------------------------------------------------

def test_check_mode_reads_and_never_writes():
    fake, kernel = kernel_with({web(): (rs(1),), web(81): ()})
    the_plan = plan({web(): (rs(2),), web(82): (rs(3),)}, read_table(kernel),
                    Scope.everything())
    assert the_plan.changed
    assert fake.writes == 0
    assert all(flags & nl.NLM_F_DUMP == nl.NLM_F_DUMP
               for batch in fake.batches[1:] for _cmd, flags, _seq in batch)


# --- apply -------------------------------------------------------------------------------------

LIVE = {
    web(80, scheduler="wlc"): (rs(1), rs(2, weight=2)),
    web(81): (rs(3), rs(4), rs(5)),  # to be deleted, with its destinations
    mark(7, scheduler="rr"): (rs(6, 0),),
    web(80, OTHER_VIP): (rs(9),),  # out of scope
}
DESIRED = {
    web(80, scheduler="sh", flags={"sh-port"}): (rs(1, weight=4), rs(8)),  # edits, add, delete
    mark(7, scheduler="rr"): (rs(6, 0, forwarding="direct"),),
    web(443, flags={"persistent"}, timeout=60): (rs(1, 443), rs(2, 443)),  # new
}
SCOPE = Scope.of([VIP], [7])


def reconcile(desired=None, live=None, pass_live=True):
    desired = DESIRED if desired is None else desired
    fake, kernel = kernel_with(LIVE if live is None else live)
    live_table = read_table(kernel)
    the_plan = plan(desired, live_table, SCOPE)
    return fake, kernel, the_plan, (live_table if pass_live else None)


def test_apply_reaches_the_desired_table():
    fake, kernel, the_plan, live = reconcile()
    apply(kernel, the_plan, live)
    expected = {**DESIRED, web(80, OTHER_VIP): (rs(9),)}
    assert as_sets(read_table(kernel)) == as_sets(expected)
    assert fake.snapshot() == FakeIpvsKernel().load(expected).snapshot()
    assert plan(DESIRED, read_table(kernel), SCOPE).operations == []


def test_apply_of_an_empty_plan_sends_nothing():
    fake, kernel, _plan, live = reconcile(desired=LIVE)
    sends = fake.sends
    apply(kernel, plan(LIVE, live, SCOPE), live)
    assert fake.sends == sends


def test_plan_under_test_covers_every_kind_of_operation():
    _fake, _kernel, the_plan, _live = reconcile()
    assert {op.action for op in the_plan.operations} == {
        "add_service", "edit_service", "delete_service", "add_destination",
        "edit_destination", "delete_destination"}


@pytest.mark.parametrize("nth", range(1, 10))
def test_a_fault_anywhere_leaves_the_table_exactly_as_before(nth):
    fake, kernel, the_plan, live = reconcile()
    assert len(the_plan.operations) == 9
    before = fake.snapshot()
    fake.fail_on(nth, errno.ENOMEM)
    with pytest.raises(ApplyError) as info:
        apply(kernel, the_plan, live)
    assert fake.snapshot() == before
    failed = the_plan.operations[nth - 1].request().what
    message = str(info.value)
    assert message.startswith(f"{failed}: Cannot allocate memory")
    assert "rolled back" in message
    assert info.value.failure.errno == errno.ENOMEM
    # a service that failed to be added takes its destinations' additions with it (ESRCH)
    dependent = 2 if the_plan.operations[nth - 1].action == "add_service" else 0
    assert info.value.rolled_back == len(the_plan.operations) - 1 - dependent
    assert info.value.rollback_failures == []


def test_rollback_restores_a_deleted_service_with_its_destinations():
    fake, kernel, the_plan, live = reconcile()
    before = fake.snapshot()
    fake.fail_on(lambda w: w.name == "DEL_SERVICE" and w.service_port == 81)
    with pytest.raises(ApplyError):
        apply(kernel, the_plan, live)
    assert fake.snapshot() == before
    # and when the deletion is what succeeded before a later failure
    fake, kernel, the_plan, live = reconcile(desired={**DESIRED, mark(8): ()})
    assert the_plan.operations[-1].action == "delete_service"
    fake.fail_on(lambda w: w.name == "NEW_SERVICE" and w.fwmark == 8)
    before = fake.snapshot()
    with pytest.raises(ApplyError) as info:
        apply(kernel, the_plan, live)
    assert fake.snapshot() == before
    assert info.value.failure.what == "add service fwmark 8 (inet)"


def test_rollback_of_a_deleted_service_needs_live_for_its_destinations():
    fake, kernel, the_plan, _live = reconcile(pass_live=False)
    # the deletion of port 81 comes last; the kernel goes on with it after this failure
    fake.fail_on(lambda w: w.name == "NEW_SERVICE" and w.service_port == 443)
    with pytest.raises(ApplyError):
        apply(kernel, the_plan)
    restored = fake.service(VIP, 81)
    assert restored.dests == {}  # the service is back, its destinations are not


def test_rollback_of_an_edited_service():
    fake, kernel, the_plan, live = reconcile()
    before = fake.snapshot()
    assert the_plan.operations[0].action == "edit_service"
    fake.fail_on(2)
    with pytest.raises(ApplyError):
        apply(kernel, the_plan, live)
    assert fake.snapshot() == before
    assert fake.service(VIP, 80).sched_name == "wlc"


def test_a_refused_undo_does_not_stop_the_others():
    fake, kernel, the_plan, live = reconcile()
    before = fake.snapshot()
    fake.fail_on(len(the_plan.operations))
    # the undo of the first operation (the edit of port 80) is refused as well
    fake.fail_on(lambda w: w.name == "SET_SERVICE" and w.service_port == 80
                 and w.index > len(the_plan.operations), errno.EIO)
    with pytest.raises(ApplyError) as info:
        apply(kernel, the_plan, live)
    assert "rolling back failed too: edit service tcp 192.0.2.10:80" in str(info.value)
    assert [f.errno for f in info.value.rollback_failures] == [errno.EIO]
    after = fake.snapshot()
    key80 = (2, 6, VIP, 80)
    assert after[key80][0][0] == "sh"  # left edited ...
    assert {k: v for k, v in after.items() if k != key80} == \
        {k: v for k, v in before.items() if k != key80}  # ... everything else undone
    assert after[key80][1] == before[key80][1]


def test_rollback_with_two_operations_that_describe_themselves_alike():
    desired = {web(443): (rs(1), rs(1, weight=9))}  # the same destination twice
    fake, kernel = kernel_with({})
    the_plan = plan(desired, {}, Scope.everything())
    with pytest.raises(ApplyError) as info:
        apply(kernel, the_plan, {})
    assert info.value.failure.errno == errno.EEXIST
    assert fake.snapshot() == {}


def test_a_fault_in_a_later_batch_rolls_back_earlier_batches():
    desired = {web(1000 + n): tuple(rs(d, 8000 + d) for d in range(1, 5)) for n in range(400)}
    fake, kernel = kernel_with({})
    the_plan = plan(desired, {}, Scope.everything())
    fake.fail_on(len(the_plan.operations) - 3)
    with pytest.raises(ApplyError):
        apply(kernel, the_plan, {})
    assert fake.sends > 3
    assert fake.snapshot() == {}


def test_apply_error_when_the_kernel_refuses_the_plan_itself():
    fake, kernel = kernel_with({})
    the_plan = plan({web(scheduler="nosuch"): (rs(1),)}, {}, Scope.everything())
    with pytest.raises(ApplyError) as info:
        apply(kernel, the_plan, {})
    assert str(info.value).startswith(
        "add service tcp 192.0.2.10:80: No such file or directory")
    assert fake.snapshot() == {}


# --- order: mh and sh build their lookup table from the destination list ---------------------
# The kernel puts a new destination at the head of its service's list (the fake does too), and
# mh/sh fill their table walking that list: two routers pick the same real server for a flow
# only if they added the same destinations in the same order (active-active routers, #13).


def added_order(fake, service):
    """The service's destinations in the order they were added (the kernel lists newest first)."""
    svc = next(s for s in fake.services.values() if s.port == service.port)
    return [dest.address for dest in reversed(svc.dump_order())]


def reconciled(desired, live):
    fake, kernel = kernel_with(live)
    live_table = read_table(kernel)
    the_plan = plan(desired, live_table, Scope.everything())
    apply(kernel, the_plan, live_table)
    assert plan(desired, read_table(kernel), Scope.everything()).operations == []
    return fake, the_plan


MH = web(scheduler="mh", flags={"mh-port"})


def test_mh_destinations_are_added_in_the_declared_order():
    fake, _plan = reconciled({MH: (rs(3), rs(1), rs(2))}, {})
    assert added_order(fake, MH) == ["10.0.0.3", "10.0.0.1", "10.0.0.2"]


def test_an_mh_service_whose_order_differs_is_repaired_from_the_first_difference():
    # added 1, 3, 2 (a server deleted and added back on one router): 3 and 2 go and come back
    fake, the_plan = reconciled({MH: (rs(1), rs(2), rs(3))}, {MH: (rs(1), rs(3), rs(2))})
    assert added_order(fake, MH) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert steps(the_plan) == [("delete_destination", 80, "10.0.0.3"),
                               ("delete_destination", 80, "10.0.0.2"),
                               ("add_destination", 80, "10.0.0.2"),
                               ("add_destination", 80, "10.0.0.3")]


def test_a_destination_declared_last_is_only_added():
    _fake, the_plan = reconciled({MH: (rs(1), rs(2), rs(3))}, {MH: (rs(1), rs(2))})
    assert steps(the_plan) == [("add_destination", 80, "10.0.0.3")]


def test_a_destination_declared_in_the_middle_moves_the_ones_after_it():
    fake, the_plan = reconciled({MH: (rs(1), rs(2), rs(3))}, {MH: (rs(1), rs(3))})
    assert added_order(fake, MH) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert steps(the_plan) == [("delete_destination", 80, "10.0.0.3"),
                               ("add_destination", 80, "10.0.0.2"),
                               ("add_destination", 80, "10.0.0.3")]


def test_a_weight_change_or_a_removal_keeps_the_order_without_re_adding():
    _fake, the_plan = reconciled({MH: (rs(1), rs(2, weight=0), rs(4))},
                                 {MH: (rs(1), rs(2), rs(3), rs(4))})
    assert steps(the_plan) == [("delete_destination", 80, "10.0.0.3"),
                               ("edit_destination", 80, "10.0.0.2")]


def test_the_order_is_repaired_with_the_declared_options():
    _fake, the_plan = reconciled({MH: (rs(1), rs(2, weight=5))}, {MH: (rs(2), rs(1))})
    added = [op.destination for op in the_plan.operations if op.action == "add_destination"]
    assert added == [rs(1), rs(2, weight=5)]


def test_other_schedulers_ignore_the_order():
    rr = web(scheduler="rr")
    _fake, the_plan = reconciled({rr: (rs(1), rs(2))}, {rr: (rs(2), rs(1))})
    assert the_plan.operations == []


def test_a_rolled_back_deletion_of_an_mh_service_restores_its_order():
    other = web(81, scheduler="mh")
    fake, kernel = kernel_with({MH: (rs(1), rs(2), rs(3)), other: (rs(4, 81), rs(5, 81))})
    live_table = read_table(kernel)
    fake.fail_on(2, errno.ENOMEM)  # the second deletion: the first one is undone
    with pytest.raises(ApplyError):
        apply(kernel, plan({}, live_table, Scope.everything()), live_table)
    assert added_order(fake, MH) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert added_order(fake, other) == ["10.0.0.4", "10.0.0.5"]


def test_check_mode_sees_the_order_the_kernel_would_have():
    _fake, kernel = kernel_with({MH: (rs(1), rs(3), rs(2))})
    live_table = read_table(kernel)
    desired = {MH: (rs(1), rs(2), rs(3))}
    after = simulate(live_table, plan(desired, live_table, Scope.everything()).operations)
    assert after == read_table(kernel_with(desired)[1])
    assert plan(desired, after, Scope.everything()).operations == []


# --- property: plan + apply reaches desired, then nothing is left to do -------------------------

# Strategies are built once, at import: building them inside draws is what makes Hypothesis slow.
V4_VIPS, V6_VIPS = ["192.0.2.1", "192.0.2.2"], ["2001:db8::1", "2001:db8::2"]
RIPS = {"inet": st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
        "inet6": st.sampled_from(["2001:db8:1::1", "2001:db8:1::2", "2001:db8:1::3"])}
VIPS = {"inet": st.sampled_from(V4_VIPS), "inet6": st.sampled_from(V6_VIPS)}
# the kernel refuses an IPv6 prefix of 0 (the model does not)
NETMASKS = {"inet": st.none() | st.integers(0, 32), "inet6": st.none() | st.integers(1, 128)}
OTHER_FAMILY = {"inet": "inet6", "inet6": "inet"}
_families = st.sampled_from(["inet", "inet6"])
_timeouts = st.sampled_from([0, 0, 1, 300, 86400])
_optional_flags = st.sets(st.sampled_from(
    ["one-packet", "sh-fallback", "sh-port", "mh-fallback", "mh-port"]), max_size=2)
_booleans = st.booleans()
_schedulers = st.sampled_from(["wlc", "rr", "sh", "mh", "none"])
_pe_names = st.sampled_from([None, None, "sip", ""])
_one_in_four = st.integers(0, 3)
_fwmarks = st.sampled_from([1, 2])
_protocols = st.sampled_from(["tcp", "udp", "sctp"])
_service_ports = st.sampled_from([80, 443])
_forwarding = st.sampled_from(["nat", "direct", "tunnel", "local"])
_uppers = st.sampled_from([0, 0, 10, 1000])
_lowers = st.integers(0, 1000)
_weights = st.sampled_from([0, 1, 5, 0x7FFFFFFF])
_tunnel_types = st.sampled_from([None, "ipip", "gue", "gre"])
_gue_ports = st.integers(1, 65535)
_tunnel_ports = st.sampled_from([None, None, 0, 4754])
_tunnel_flags = st.sets(st.sampled_from(["csum", "remcsum", "nocsum"]))
_dest_ports = st.sampled_from([80, 8080])


@st.composite
def services(draw):
    family = draw(_families)
    timeout = draw(_timeouts)
    flags = set(draw(_optional_flags))
    if timeout and draw(_booleans):
        flags.add("persistent")
    options = {"scheduler": draw(_schedulers), "flags": flags, "timeout": timeout,
               "netmask": draw(NETMASKS[family]), "pe_name": draw(_pe_names)}
    if draw(_one_in_four) == 0:
        return Service(family, None, None, None, fwmark=draw(_fwmarks), **options)
    return Service(family, draw(_protocols), draw(VIPS[family]), draw(_service_ports),
                   **options)


@st.composite
def destinations(draw, family):
    forwarding = draw(_forwarding)
    if forwarding == "tunnel" and draw(_one_in_four) == 0:
        family = OTHER_FAMILY[family]  # another family than the service's: tunnel only
    upper = draw(_uppers)
    options = {"forwarding": forwarding, "weight": draw(_weights), "upper_threshold": upper,
               "lower_threshold": draw(_lowers) % (upper + 1)}
    if forwarding == "tunnel":
        kind = draw(_tunnel_types)
        port = draw(_gue_ports) if kind == "gue" else draw(_tunnel_ports)
        options.update(tunnel_type=kind, tunnel_port=port, tunnel_flags=draw(_tunnel_flags))
    return Destination(draw(RIPS[family]), draw(_dest_ports), **options)


_service_lists = st.lists(services(), max_size=4, unique_by=lambda s: s.key)
_destination_lists = {family: st.lists(destinations(family), max_size=3,
                                       unique_by=lambda d: d.key)
                      for family in ("inet", "inet6")}


@st.composite
def tables(draw):
    return {service: tuple(draw(_destination_lists[service.family]))
            for service in draw(_service_lists)}


_address_sets = st.sets(st.sampled_from(V4_VIPS + V6_VIPS))
_fwmark_sets = st.sets(_fwmarks)


@st.composite
def scopes(draw):
    if draw(_booleans):
        return Scope.everything()
    return Scope.of(draw(_address_sets), draw(_fwmark_sets))


def expected_table(desired, live, scope, purge, purge_destinations):
    """What the kernel must hold afterwards, as model objects (before normalisation)."""
    desired_keys = {s.key for s in desired}
    out = {s: tuple(d) for s, d in live.items()
           if s.key not in desired_keys and not (purge and scope.owns(s))}
    live_by_key = {s.key: d for s, d in live.items()}
    for service, dests in desired.items():
        kept = ()
        if not purge_destinations:
            wanted = {d.key for d in dests}
            kept = tuple(d for d in live_by_key.get(service.key, ()) if d.key not in wanted)
        out[service] = tuple(dests) + kept
    return out


# Each example runs a whole plan/apply through the fake kernel: a few hundred cover the cases
# (the ci profile's thousands would cost minutes here).
PROPERTY = settings(max_examples=min(400, settings.default.max_examples), deadline=None)


@PROPERTY
@given(tables(), tables(), scopes(), st.booleans(), st.booleans())
def test_plan_and_apply_reach_the_desired_table(desired, live, scope, purge, purge_dests):
    fake, kernel = kernel_with(live)
    live_table = read_table(kernel)
    the_plan = plan(desired, live_table, scope, purge, purge_dests)
    apply(kernel, the_plan, live_table)
    expected = expected_table(desired, live, scope, purge, purge_dests)
    # the kernel's own state, compared with a fake loaded directly (no client codec involved)
    assert fake.snapshot() == FakeIpvsKernel().load(expected).snapshot()
    # what the client reads back: the desired objects as the kernel spells them
    assert as_sets(read_table(kernel)) == {
        nl.normalize_service(s): frozenset(nl.normalize_destination(d) for d in dests)
        for s, dests in expected.items()}
    assert plan(desired, read_table(kernel), scope, purge, purge_dests).operations == []
    # mh and sh: the declared destinations are in the kernel's list in the declared order
    read_back = {s.key: dests for s, dests in read_table(kernel).items()}
    for service, dests in desired.items():
        if service.scheduler in ("mh", "sh"):
            declared = [nl.normalize_destination(d).key for d in dests]
            listed = [d.key for d in reversed(read_back[service.key]) if d.key in declared]
            assert listed == declared
    # the in-memory application of the plan (check/diff mode, lvsd --test-start) agrees, in
    # the kernel's order too
    assert simulate(live_table, the_plan.operations) == read_table(kernel)


@PROPERTY
@given(tables(), tables(), scopes(), st.data())
def test_a_fault_during_apply_leaves_the_table_as_it_was(desired, live, scope, data):
    fake, kernel = kernel_with(live)
    live_table = read_table(kernel)
    the_plan = plan(desired, live_table, scope)
    if not the_plan.operations:
        return
    nth = data.draw(st.integers(1, len(the_plan.operations)))
    before = fake.snapshot()
    fake.fail_on(nth, errno.ENOMEM)
    with pytest.raises(ApplyError) as info:
        apply(kernel, the_plan, live_table)
    assert info.value.rollback_failures == []
    assert fake.snapshot() == before


def test_memory_table_follows_operations_and_ignores_unknown_services():
    table = MemoryTable({web(): (rs(1), rs(2))})
    table.apply([Operation("edit_service", web(scheduler="rr"), before=web()),
                 Operation("edit_destination", web(), rs(1, weight=5), before=rs(1)),
                 Operation("delete_destination", web(), rs(2), before=rs(2)),
                 Operation("add_service", web(443)),
                 Operation("add_destination", web(443), rs(3, port=443)),
                 Operation("add_destination", web(8080), rs(4)),  # no such service: nothing
                 Operation("edit_service", web(8081), before=web(8081))])
    assert table.table() == {web(scheduler="rr"): (rs(1, weight=5),),
                             web(443): (rs(3, port=443),)}
    assert table.destinations(web(443)) == (rs(3, port=443),)
    assert table.destinations(web(9999)) == ()
    assert set(table.services()) == {web().key, web(443).key}
    table.apply([Operation("delete_service", web(443), before=web(443))])
    assert set(table.table()) == {web(scheduler="rr")}


class GcWitness(tuple):
    """A destination list that records whether the cyclic collector is on when it is read."""

    seen: list[bool] = []

    def __iter__(self):
        GcWitness.seen.append(gc.isenabled())
        return super().__iter__()


def test_read_plan_and_apply_run_without_the_collector_and_switch_it_back_on():
    fake, kernel = kernel_with({web(): (rs(1),)})
    GcWitness.seen = []
    desired = {web(): GcWitness((rs(1), rs(2)))}
    live = read_table(kernel)
    the_plan = plan(desired, live, Scope.everything())
    assert GcWitness.seen and not any(GcWitness.seen)
    assert gc.isenabled()
    fake.fail_on(1, errno.ENOMEM)
    with pytest.raises(ApplyError):
        apply(kernel, the_plan, live)
    assert gc.isenabled()
    gc.disable()
    try:  # off before: left off
        plan(desired, live, Scope.everything())
        assert not gc.isenabled()
    finally:
        gc.enable()
