# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole pulse transition table (Piranha §2.3 plus our fixes), one row per case, and a few
sequences: cold start, no flap, tie-break, planned failover."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lvs_agents import pulse_state as ps
from lvs_agents.pulse_state import (
    ACTIVATE,
    DEACTIVATE,
    EXIT,
    RESEND_ARPS_AND_ACTIVE_CMD,
    RESUME,
    SEND_HEARTBEAT_NOW,
    START_TIEBREAK,
    Event,
    Options,
    State,
)

MASTER, BACKUP = Options(master=True), Options(master=False)
IDLE, ACTIVE = State(), State(active=True)
CHILDFAIL, LINKFAIL = State(childfail=True), State(linkfail=True)
PENDING = State(tiebreak_pending=True)
STARTING = State(starting=True)
PEER_STOPPED = State(peer="stopped")

RUNNING, STOPPED = Event(ps.PEER_HEARTBEAT, running=True), Event(ps.PEER_HEARTBEAT, running=False)
START, START_WITH_VIPS = Event(ps.START), Event(ps.START, vips_present=True)
EXPIRED = Event(ps.DEADTIME_EXPIRED)
CHILD_EXITED, CHILD_READY = Event(ps.CHILD_EXITED), Event(ps.CHILD_READY)
LINK_DOWN, LINK_UP = Event(ps.LINK_DOWN), Event(ps.LINK_UP)
TERMINATE = Event(ps.TERMINATE)
TIEBREAK_OK = Event(ps.TIEBREAK_RESULT, ok=True)
TIEBREAK_FAILED = Event(ps.TIEBREAK_RESULT, ok=False)
GRACE_OVER = Event(ps.STARTUP_GRACE_EXPIRED)
TIEBREAKER = Options(master=False, tiebreaker=True)
MASTER_TIEBREAKER = Options(master=True, tiebreaker=True)
FAILBACK = Options(master=True, failback=True)

GO = [ACTIVATE, SEND_HEARTBEAT_NOW]
STAND_DOWN = [DEACTIVATE, SEND_HEARTBEAT_NOW]

# name: (options, state before, event, state after, actions)
TABLE = {
    # startup: inactive_cmd + sync daemon backup (DEACTIVATE), or resume, or --forceactive
    "start master": (MASTER, IDLE, START, IDLE, [DEACTIVATE]),
    "start backup: startup grace": (BACKUP, IDLE, START, STARTING, [DEACTIVATE]),
    "start resumes with every vip": (BACKUP, IDLE, START_WITH_VIPS, ACTIVE,
                                     [RESUME, SEND_HEARTBEAT_NOW]),
    "start resumes master": (MASTER, IDLE, START_WITH_VIPS, ACTIVE, [RESUME, SEND_HEARTBEAT_NOW]),
    "start with vips but link down": (MASTER, LINKFAIL, START_WITH_VIPS, LINKFAIL, [DEACTIVATE]),
    "start forceactive": (Options(master=False, forceactive=True), IDLE, START, ACTIVE,
                          [DEACTIVATE, *GO]),
    "start forceactive blocked by linkfail": (Options(master=True, forceactive=True), LINKFAIL,
                                              START, LINKFAIL, [DEACTIVATE]),
    # peer running
    "running: active backup stands down": (BACKUP, ACTIVE, RUNNING, IDLE,
                                           [SEND_HEARTBEAT_NOW, DEACTIVATE]),
    "running: active master re-announces": (MASTER, ACTIVE, RUNNING, ACTIVE,
                                            [RESEND_ARPS_AND_ACTIVE_CMD]),
    "running: idle master stays standby (no flap)": (MASTER, IDLE, RUNNING, IDLE, []),
    "running: idle backup stays standby": (BACKUP, IDLE, RUNNING, IDLE, []),
    "running: childfail is not cleared by the peer": (BACKUP, CHILDFAIL, RUNNING, CHILDFAIL, []),
    "running: failback master takes over": (FAILBACK, IDLE, RUNNING, ACTIVE, GO),
    "running: failback blocked by childfail": (FAILBACK, CHILDFAIL, RUNNING, CHILDFAIL, []),
    "running: failback blocked by linkfail": (FAILBACK, LINKFAIL, RUNNING, LINKFAIL, []),
    "running: failback active master re-announces": (FAILBACK, ACTIVE, RUNNING, ACTIVE,
                                                     [RESEND_ARPS_AND_ACTIVE_CMD]),
    "running: failback is master only": (Options(master=False, failback=True), IDLE, RUNNING,
                                         IDLE, []),
    "running: cancels a pending tie-break": (TIEBREAKER, PENDING, RUNNING, IDLE, []),
    # peer stopped
    "stopped: idle master activates": (MASTER, IDLE, STOPPED, ACTIVE, GO),
    "stopped: idle backup activates": (BACKUP, IDLE, STOPPED, ACTIVE, GO),
    "stopped: childfail blocks": (BACKUP, CHILDFAIL, STOPPED, CHILDFAIL, []),
    "stopped: linkfail blocks": (MASTER, LINKFAIL, STOPPED, LINKFAIL, []),
    "stopped: active stays active": (MASTER, ACTIVE, STOPPED, ACTIVE, []),
    "stopped: active backup stays active": (BACKUP, ACTIVE, STOPPED, ACTIVE, []),
    "stopped: no tie-break needed (peer alive)": (TIEBREAKER, PENDING, STOPPED, ACTIVE, GO),
    "stopped: starting backup gives the master a deadtime": (
        BACKUP, STARTING, STOPPED, STARTING, []),
    "stopped: starting master activates at once": (
        MASTER, STARTING, STOPPED, replace(ACTIVE, starting=True), GO),
    # the backup's startup grace
    "grace over, master still stopped: backup activates": (BACKUP, replace(
        STARTING, peer="stopped"), GRACE_OVER, replace(ACTIVE, peer="stopped"), GO),
    "grace over, master running: stay standby": (BACKUP, replace(STARTING, peer="running"),
                                                 GRACE_OVER, State(peer="running"), []),
    "grace over, nothing heard: wait for deadtime": (BACKUP, STARTING, GRACE_OVER, IDLE, []),
    "grace over, childfail": (BACKUP, State(starting=True, childfail=True, peer="stopped"),
                              GRACE_OVER, State(childfail=True, peer="stopped"), []),
    # deadtime
    "deadtime: idle activates": (BACKUP, IDLE, EXPIRED, ACTIVE, GO),
    "deadtime: forgets the peer's state": (BACKUP, PEER_STOPPED, EXPIRED, ACTIVE, GO),
    "deadtime: starting backup activates (master silent)": (BACKUP, STARTING, EXPIRED,
                                                            replace(ACTIVE, starting=True), GO),
    "deadtime: lone master activates": (MASTER, IDLE, EXPIRED, ACTIVE, GO),
    "deadtime: childfail blocks": (BACKUP, CHILDFAIL, EXPIRED, CHILDFAIL, []),
    "deadtime: linkfail blocks": (BACKUP, LINKFAIL, EXPIRED, LINKFAIL, []),
    "deadtime: active does nothing": (MASTER, ACTIVE, EXPIRED, ACTIVE, []),
    "deadtime: tie-breaker first": (TIEBREAKER, IDLE, EXPIRED, PENDING, [START_TIEBREAK]),
    "deadtime: master tie-breaker too": (MASTER_TIEBREAKER, IDLE, EXPIRED, PENDING,
                                         [START_TIEBREAK]),
    "deadtime: one tie-break at a time": (TIEBREAKER, PENDING, EXPIRED, PENDING, []),
    "deadtime: tie-breaker with childfail": (TIEBREAKER, CHILDFAIL, EXPIRED, CHILDFAIL, []),
    # tie-break verdicts
    "tiebreak ok activates": (TIEBREAKER, PENDING, TIEBREAK_OK, ACTIVE, GO),
    "tiebreak failed stays standby": (TIEBREAKER, PENDING, TIEBREAK_FAILED, IDLE, []),
    "tiebreak ok after a heartbeat is moot": (TIEBREAKER, IDLE, TIEBREAK_OK, IDLE, []),
    "tiebreak ok but child failed meanwhile": (
        TIEBREAKER, State(childfail=True, tiebreak_pending=True), TIEBREAK_OK, CHILDFAIL, []),
    # lvsd
    "child exit while active": (MASTER, ACTIVE, CHILD_EXITED, CHILDFAIL, STAND_DOWN),
    "child exit while standby": (BACKUP, IDLE, CHILD_EXITED, CHILDFAIL, []),
    "child ready clears childfail": (BACKUP, CHILDFAIL, CHILD_READY, IDLE, []),
    "child ready while active": (MASTER, ACTIVE, CHILD_READY, ACTIVE, []),
    # links
    "link down while active": (MASTER, ACTIVE, LINK_DOWN, LINKFAIL, STAND_DOWN),
    "link down while standby": (BACKUP, IDLE, LINK_DOWN, LINKFAIL, []),
    "link up clears linkfail": (BACKUP, LINKFAIL, LINK_UP, IDLE, []),
    "link up keeps childfail": (BACKUP, State(childfail=True, linkfail=True), LINK_UP,
                                CHILDFAIL, []),
    # terminate
    "terminate while active": (BACKUP, ACTIVE, TERMINATE, IDLE, [*STAND_DOWN, EXIT]),
    "terminate while standby": (MASTER, IDLE, TERMINATE, IDLE, [EXIT]),
    "terminate cancels a tie-break": (TIEBREAKER, PENDING, TERMINATE, IDLE, [EXIT]),
}


@pytest.mark.parametrize("name", list(TABLE))
def test_transition_table(name):
    options, before, event, after, actions = TABLE[name]
    if event.kind == ps.PEER_HEARTBEAT:  # the state remembers what the peer said last
        after = replace(after, peer="running" if event.running else "stopped")
    assert ps.step(options, before, event) == (after, actions)


def test_table_covers_every_event():
    assert {row[2].kind for row in TABLE.values()} == set(ps.EVENTS)


def run(options, events, state=IDLE):
    actions = []
    for event in events:
        state, done = ps.step(options, state, event)
        actions.append(done)
    return state, actions


def test_cold_start_the_master_wins_whoever_speaks_first():
    master, _rest = ps.step(MASTER, IDLE, START)
    backup, _rest = ps.step(BACKUP, IDLE, START)
    backup, actions = ps.step(BACKUP, backup, STOPPED)  # the master's first word: no race
    assert not backup.active and actions == []
    master, actions = ps.step(MASTER, master, STOPPED)
    assert master.active and actions == GO
    backup, actions = ps.step(BACKUP, backup, RUNNING)
    backup, actions = ps.step(BACKUP, backup, GRACE_OVER)
    assert not backup.active and actions == []


def test_double_active_is_settled_by_the_master():
    backup, actions = ps.step(BACKUP, ACTIVE, RUNNING)
    master, master_actions = ps.step(MASTER, ACTIVE, RUNNING)
    assert (master.active, backup.active) == (True, False)
    assert actions == [SEND_HEARTBEAT_NOW, DEACTIVATE]
    assert master_actions == [RESEND_ARPS_AND_ACTIVE_CMD]


def test_backup_takes_over_from_a_master_that_starts_failed():
    state, actions = run(BACKUP, [START, STOPPED, STOPPED, GRACE_OVER])
    assert state.active and actions[-1] == GO


def test_returning_primary_does_not_flap():
    state, actions = run(MASTER, [START] + [RUNNING] * 10)
    assert not state.active and all(done == [] for done in actions[1:])


def test_tiebreak_failure_retries_at_the_next_expiry():
    state, actions = run(TIEBREAKER, [EXPIRED, TIEBREAK_FAILED, EXPIRED, TIEBREAK_OK])
    assert state == ACTIVE
    assert actions == [[START_TIEBREAK], [], [START_TIEBREAK], GO]


PEER_HOST_UP = Event(ps.DEADTIME_EXPIRED, peer_host_up=True)


def test_a_silent_peer_whose_host_refuses_the_heartbeats_gets_the_vip_check():
    """A pulse killed on the active router leaves its addresses (and the IPVS table) in the
    kernel, which answers the backup's heartbeats with ICMP port unreachable: the silence is
    a restarting pulse, not a dead router, so the backup checks that no VIP is still answered
    before it takes them (the tie-breaker's VIP check, without a tie-breaker), and checks again
    at every expiry while the peer's pulse stays away."""
    state, actions = run(BACKUP, [PEER_HOST_UP, TIEBREAK_FAILED, PEER_HOST_UP, TIEBREAK_OK])
    assert actions == [[START_TIEBREAK], [], [START_TIEBREAK], GO]
    assert state == ACTIVE
    # a silent host (crashed router, cut path) is taken over at once, as before
    assert run(BACKUP, [EXPIRED])[1] == [GO]


def test_tiebreak_heartbeat_in_between_wins():
    state, actions = run(TIEBREAKER, [EXPIRED, RUNNING, TIEBREAK_OK])
    assert not state.active and actions[-1] == []


def test_childfail_until_ready_then_deadtime_activates():
    state, actions = run(BACKUP, [CHILD_EXITED, EXPIRED, STOPPED, CHILD_READY, EXPIRED])
    assert state == ACTIVE
    assert actions == [[], [], [], [], GO]


def test_planned_failover_stopped_heartbeat_hands_over():
    master, actions = ps.step(MASTER, ACTIVE, TERMINATE)
    assert actions.index(DEACTIVATE) < actions.index(SEND_HEARTBEAT_NOW) < actions.index(EXIT)
    backup, actions = ps.step(BACKUP, IDLE, STOPPED)
    assert backup.active and actions == GO


def test_unknown_event_is_refused():
    with pytest.raises(ValueError, match="unknown pulse event"):
        Event("REBOOT")


EVENT_STRATEGY = st.sampled_from(
    [RUNNING, STOPPED, EXPIRED, PEER_HOST_UP, CHILD_EXITED, CHILD_READY, LINK_DOWN, LINK_UP,
     TIEBREAK_OK, TIEBREAK_FAILED, GRACE_OVER])


@given(st.booleans(), st.booleans(), st.booleans(), st.lists(EVENT_STRATEGY, max_size=30))
def test_invariants_over_any_sequence(master, failback, tiebreaker, events):
    options = Options(master=master, failback=failback, tiebreaker=tiebreaker)
    state, _rest = ps.step(options, IDLE, START)
    for event in events:
        before = state
        state, actions = ps.step(options, state, event)
        if ACTIVATE in actions:  # never with a failure flag, never twice
            assert not before.active and not state.childfail and not state.linkfail
        if DEACTIVATE in actions:
            assert before.active and not state.active
        assert state.active == ((before.active and DEACTIVATE not in actions)
                                or ACTIVATE in actions)
        if state.childfail or state.linkfail:
            assert not state.active
