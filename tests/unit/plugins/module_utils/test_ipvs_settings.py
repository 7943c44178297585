# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel's settings as reconcile operations: timeouts and sync daemons planned, applied
before the table in their own batch, undone with it; transactions in steps; Scope.only."""

from __future__ import annotations

import errno

import pytest
from fake_ipvs_kernel import FakeIpvsKernel

from plugins.module_utils.lvs_cluster.ipvs import netlink as nl
from plugins.module_utils.lvs_cluster.ipvs.model import Destination, Service
from plugins.module_utils.lvs_cluster.ipvs.reconcile import (
    ApplyError,
    MemoryTable,
    Operation,
    Plan,
    Scope,
    Transaction,
    apply,
    plan,
    plan_sync_daemons,
    plan_timeouts,
    read_table,
)

VIP = "192.0.2.10"
LIVE_TIMEOUTS = nl.Timeouts(tcp=900, tcp_fin=120, udp=300)


def web(port=80, **options):
    return Service("inet", "tcp", VIP, port, **options)


def kernel(fake=None):
    fake = fake or FakeIpvsKernel()
    return fake, nl.IpvsNetlink(fake)


def timeouts_of(fake):
    return (fake.tcp_timeout // fake.hz, fake.tcp_fin_timeout // fake.hz,
            fake.udp_timeout // fake.hz)


# --- timeouts ----------------------------------------------------------------------------------

def test_plan_timeouts_sets_only_those_given():
    [op] = plan_timeouts({"tcp": 3600, "udp": None}, LIVE_TIMEOUTS)
    assert op.timeouts == nl.Timeouts(3600, 120, 300)
    assert op.before == LIVE_TIMEOUTS
    assert op.setting
    assert op.describe() == {"action": "set_timeouts", "changes": {"tcp": [900, 3600]}}
    assert op.inverse() == [Operation("set_timeouts", timeouts=LIVE_TIMEOUTS,
                                      before=op.timeouts)]


def test_plan_timeouts_is_empty_when_nothing_differs():
    assert plan_timeouts({}, LIVE_TIMEOUTS) == []
    assert plan_timeouts({"tcp": 900}, LIVE_TIMEOUTS) == []
    # lvsd's spelling: Timeouts with 0 for "leave it", as ipvsadm --set
    assert plan_timeouts(nl.Timeouts(0, 0, 300), LIVE_TIMEOUTS) == []
    [op] = plan_timeouts(nl.Timeouts(0, 30, 0), LIVE_TIMEOUTS)
    assert op.timeouts == nl.Timeouts(900, 30, 300)


# --- sync daemons ------------------------------------------------------------------------------

MASTER = nl.SyncDaemon("master", "eth0", sync_id=3)
RUNNING = nl.SyncDaemon("master", "eth0", 3, 1472, "224.0.0.81", 8848, 1)


def test_plan_sync_daemons_starts_a_missing_daemon():
    [op] = plan_sync_daemons({"master": MASTER}, [])
    assert (op.action, op.daemon, op.before) == ("start_sync_daemon", MASTER, None)
    assert op.describe() == {"action": "start_sync_daemon", "sync_daemon": {
        "state": "master", "interface": "eth0", "sync_id": 3, "max_len": None,
        "group": "224.0.0.81", "port": 8848, "ttl": 1}}
    assert op.inverse() == [Operation("stop_sync_daemon", daemon=MASTER, before=MASTER)]


def test_plan_sync_daemons_leaves_a_matching_daemon_and_the_states_not_named():
    backup = nl.SyncDaemon("backup", "eth1", 0, 1472, "224.0.0.81", 8848, 1)
    assert plan_sync_daemons({"master": MASTER}, [RUNNING, backup]) == []
    assert plan_sync_daemons({}, [RUNNING, backup]) == []


def test_plan_sync_daemons_restarts_a_daemon_with_other_settings():
    moved = nl.SyncDaemon("master", "eth0", sync_id=4, ttl=2)
    stop, start = plan_sync_daemons({"master": moved}, [RUNNING])
    assert (stop.action, stop.daemon) == ("stop_sync_daemon", RUNNING)
    assert (start.action, start.daemon, start.before) == ("start_sync_daemon", moved, RUNNING)
    assert start.describe()["changes"] == {"sync_id": [3, 4], "ttl": [1, 2]}
    assert start.describe()["sync_daemon"]["max_len"] == 1472  # the kernel's choice, kept
    assert stop.inverse() == [Operation("start_sync_daemon", daemon=RUNNING)]


def test_plan_sync_daemons_stops_a_daemon_that_must_not_run():
    assert [op.action for op in plan_sync_daemons({"master": None}, [RUNNING])] == [
        "stop_sync_daemon"]
    assert plan_sync_daemons({"master": None}, []) == []
    with pytest.raises(ValueError, match="backup daemon"):
        plan_sync_daemons({"master": nl.SyncDaemon("backup", "eth0")}, [])


# --- apply -------------------------------------------------------------------------------------

def test_settings_go_first_in_their_own_batch():
    fake, ipvs = kernel()
    the_plan = Plan(plan({web(): (Destination("10.0.0.1", 80),)}, {}, Scope.everything())
                    .operations + plan_timeouts({"udp": 60}, ipvs.timeouts())
                    + plan_sync_daemons({"master": MASTER}, []))
    sends = fake.sends
    apply(ipvs, the_plan)
    assert fake.sends - sends == 2
    assert [cmd for cmd, _flags, _seq in fake.batches[-2]] == [nl.CMD_SET_CONFIG,
                                                               nl.CMD_NEW_DAEMON]
    assert timeouts_of(fake) == (900, 120, 60)
    assert ipvs.daemons() == [RUNNING]


def test_a_refused_table_operation_undoes_the_settings():
    fake, ipvs = kernel()
    ipvs.start_daemon(nl.SyncDaemon("backup", "eth1"))
    before = (fake.snapshot(), timeouts_of(fake), ipvs.daemons())
    settings = (plan_timeouts({"tcp": 60}, ipvs.timeouts())
                + plan_sync_daemons({"master": MASTER, "backup": None}, ipvs.daemons()))
    table = plan({web(scheduler="nosuch"): ()}, {}, Scope.everything()).operations
    with pytest.raises(ApplyError) as info:
        apply(ipvs, Plan(settings + table))
    assert (fake.snapshot(), timeouts_of(fake), ipvs.daemons()) == before
    assert str(info.value) == (
        "add service tcp 192.0.2.10:80: No such file or directory; nothing had been applied, "
        "nothing was rolled back; timeouts and sync daemons changed by this run were restored")
    assert info.value.rolled_back == 3


def test_a_refused_setting_sends_no_table_operation():
    fake, ipvs = kernel()
    settings = (plan_timeouts({"tcp": 60}, ipvs.timeouts())
                + plan_sync_daemons({"master": nl.SyncDaemon("master", "nosuch0")}, []))
    table = plan({web(): ()}, {}, Scope.everything()).operations
    with pytest.raises(ApplyError) as info:
        apply(ipvs, Plan(settings + table))
    assert info.value.failure.errno == errno.ENODEV
    assert str(info.value).endswith("No such device; timeouts and sync daemons changed by this "
                                    "run were restored")
    assert fake.services == {}
    assert timeouts_of(fake) == (900, 120, 300)


def test_stopping_a_daemon_whose_thread_never_ran_ends_a_batch_without_hanging():
    fake, ipvs = kernel(FakeIpvsKernel(sync_threads_run=False))
    ipvs.start_daemon(nl.SyncDaemon("backup", "eth0"))
    apply(ipvs, Plan(plan_sync_daemons({"backup": None}, ipvs.daemons())))
    assert fake.daemons == {}


def test_a_transaction_undoes_every_step():
    fake, ipvs = kernel()
    live = {web(): (Destination("10.0.0.1", 80, weight=5),)}
    fake.load(live)
    transaction = Transaction(ipvs, read_table(ipvs))
    transaction.apply(plan_timeouts({"udp": 60}, ipvs.timeouts()))
    transaction.apply([Operation("edit_destination", web(), Destination("10.0.0.1", 80, weight=0),
                                 before=Destination("10.0.0.1", 80, weight=5))])
    with pytest.raises(ApplyError) as info:
        transaction.abort(nl.IpvsNetlinkError(errno.EIO, "IPVS dump (command 8)"))
    assert str(info.value) == ("[Errno 5] IPVS dump (command 8): Input/output error; "
                               "timeouts and sync daemons changed by this run were restored")
    assert as_weights(read_table(ipvs)) == [5]
    assert timeouts_of(fake) == (900, 120, 300)


def as_weights(table):
    return [d.weight for dests in table.values() for d in dests]


# --- scope and memory --------------------------------------------------------------------------

def test_scope_only_owns_exactly_the_services_given():
    scope = Scope.only(web(80))
    assert scope.owns(web(80, scheduler="rr"))
    assert not scope.owns(web(443))
    live = {web(80): (), web(443): ()}
    assert [(op.action, op.service.port) for op in plan({}, live, scope).operations] == [
        ("delete_service", 80)]


def test_memory_table_ignores_settings():
    table = MemoryTable({web(): ()}).apply(plan_timeouts({"tcp": 5}, LIVE_TIMEOUTS))
    assert table.table() == {web(): ()}
