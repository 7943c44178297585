# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pulse's state machine as a pure function: (options, state, event) -> (state, actions).

No I/O and no clock, so every row of the table can be tested on its own. It is Piranha's table
(piranha.md §2.3): the master wins when both are active, no automatic failback, CHILDFAIL and
LINKFAIL block activation, a peer reporting "stopped" to an inactive node makes it activate.
Our additions:

* ``failback`` (off by default): a standby master that hears a running backup activates; the
  backup then stands down by the master-wins rule.
* tie-breaker: with one configured, a deadtime expiry starts a tie-break instead of activating;
  only a successful result with no heartbeat in between activates; a failure waits for the
  next expiry.
* a silent peer whose host refuses the heartbeats (ICMP port unreachable: the host is up, its
  pulse is not; a killed pulse leaves its addresses and IPVS table serving) gets the same
  tie-break, with or without a tie-breaker configured: its VIP check keeps this node standby
  while a VIP still answers, so a restarting pulse never makes two holders.
* resume: at START with every VIP already on this node (pulse killed and restarted while
  active), start active without touching the addresses.
* TERMINATE while active stands down and sends one "stopped" heartbeat at once, so the peer
  takes over without waiting for a deadtime.
* simultaneous start (G22): Piranha let the master win only if both nodes happened to hear the
  other's "stopped" before any "running"; a backup that activated first kept the VIPs. Here a
  backup ignores the master's "stopped" for a while after its start (the daemon sends
  STARTUP_GRACE_EXPIRED after max(deadtime, 1 s)): the master gets that long to claim, and if
  it still says "stopped" then, the backup takes over. A silent master (deadtime) is not
  waited for.
* CHILDFAIL clears when a new lvsd reports READY (the agents' contract), not when the peer is
  heard: lvsd runs on both nodes, and a node without a working lvsd must not take over.

Actions run in list order; the daemon's heartbeat says "running" exactly while it holds the
addresses, so a SEND_HEARTBEAT_NOW placed before DEACTIVATE still says "running" (the backup's
last word, which makes the master re-announce) and one placed after it says "stopped".
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# Events
START = "START"
PEER_HEARTBEAT = "PEER_HEARTBEAT"
DEADTIME_EXPIRED = "DEADTIME_EXPIRED"
CHILD_EXITED = "CHILD_EXITED"
CHILD_READY = "CHILD_READY"
LINK_DOWN = "LINK_DOWN"
LINK_UP = "LINK_UP"
TERMINATE = "TERMINATE"
TIEBREAK_RESULT = "TIEBREAK_RESULT"
STARTUP_GRACE_EXPIRED = "STARTUP_GRACE_EXPIRED"  # max(deadtime, 1 s) after START
EVENTS = (START, PEER_HEARTBEAT, DEADTIME_EXPIRED, CHILD_EXITED, CHILD_READY, LINK_DOWN,
          LINK_UP, TERMINATE, TIEBREAK_RESULT, STARTUP_GRACE_EXPIRED)

# Actions
ACTIVATE = "ACTIVATE"  # active_cmd, addresses up, announce, sync daemon master
RESUME = "RESUME"  # already holding every address: announce, active_cmd, sync daemon master
DEACTIVATE = "DEACTIVATE"  # inactive_cmd, stop announcing, addresses down, sync daemon backup
SEND_HEARTBEAT_NOW = "SEND_HEARTBEAT_NOW"
RESEND_ARPS_AND_ACTIVE_CMD = "RESEND_ARPS_AND_ACTIVE_CMD"
START_TIEBREAK = "START_TIEBREAK"
EXIT = "EXIT"

CHILDFAIL = "CHILDFAIL"
LINKFAIL = "LINKFAIL"


@dataclass(frozen=True)
class Event:
    """An input. ``running`` is the peer's state for PEER_HEARTBEAT, ``ok`` the tie-break
    verdict for TIEBREAK_RESULT, ``vips_present`` whether every VIP is on this node at START,
    ``peer_host_up`` for DEADTIME_EXPIRED whether the peer's host refused a heartbeat since
    the last one heard from it."""

    kind: str
    running: bool | None = None
    ok: bool | None = None
    vips_present: bool = False
    peer_host_up: bool = False

    def __post_init__(self) -> None:
        if self.kind not in EVENTS:
            raise ValueError(f"unknown pulse event {self.kind!r}")


@dataclass(frozen=True)
class Options:
    """What the configuration and command line decide; fixed for a run (SIGHUP may replace
    ``failback``/``tiebreaker`` in a new Options)."""

    master: bool
    failback: bool = False
    forceactive: bool = False
    tiebreaker: bool = False


@dataclass(frozen=True)
class State:
    active: bool = False
    childfail: bool = False
    linkfail: bool = False
    tiebreak_pending: bool = False
    starting: bool = False  # a backup's startup grace: the master's "stopped" is not heeded
    peer: str | None = None  # the last heartbeat's state: "running", "stopped", None (dead)

    @property
    def flags(self) -> list[str]:
        return [name for name, on in ((CHILDFAIL, self.childfail), (LINKFAIL, self.linkfail))
                if on]

    @property
    def may_activate(self) -> bool:
        return not self.active and not self.childfail and not self.linkfail


Result = tuple[State, list[str]]

_ACTIVATE = [ACTIVATE, SEND_HEARTBEAT_NOW]
_STAND_DOWN = [DEACTIVATE, SEND_HEARTBEAT_NOW]


def step(options: Options, state: State, event: Event) -> Result:
    """The new state and the actions, in order, for ``event``."""
    handler = _HANDLERS[event.kind]
    return handler(options, state, event)


def _start(options: Options, state: State, event: Event) -> Result:
    if event.vips_present and not state.linkfail:
        return replace(state, active=True), [RESUME, SEND_HEARTBEAT_NOW]
    # Piranha: inactive_cmd and the sync daemon in backup mode; DEACTIVATE also takes down any
    # leftover address, which a standby must not hold (G3).
    if options.forceactive and state.may_activate:
        return replace(state, active=True), [DEACTIVATE, *_ACTIVATE]
    return replace(state, active=False, starting=not options.master), [DEACTIVATE]


def _peer_heartbeat(options: Options, state: State, event: Event) -> Result:
    # the peer is alive: no split brain
    state = replace(state, tiebreak_pending=False, peer="running" if event.running else "stopped")
    if event.running:
        if state.active and not options.master:
            # Piranha: a last "running" so the master re-announces, then stand down.
            return replace(state, active=False), [SEND_HEARTBEAT_NOW, DEACTIVATE]
        if state.active:
            return state, [RESEND_ARPS_AND_ACTIVE_CMD]
        if options.master and options.failback and state.may_activate:
            return replace(state, active=True), list(_ACTIVATE)
        return state, []  # no automatic failback: a returning primary stays standby
    if state.may_activate and not (state.starting and not options.master):
        return replace(state, active=True), list(_ACTIVATE)
    return state, []


def _startup_grace_expired(options: Options, state: State, event: Event) -> Result:
    state = replace(state, starting=False)
    if state.peer == "stopped" and state.may_activate:
        return replace(state, active=True), list(_ACTIVATE)
    return state, []


def _deadtime_expired(options: Options, state: State, event: Event) -> Result:
    state = replace(state, peer=None)
    if not state.may_activate or state.tiebreak_pending:
        return state, []
    if options.tiebreaker or event.peer_host_up:
        return replace(state, tiebreak_pending=True), [START_TIEBREAK]
    return replace(state, active=True), list(_ACTIVATE)


def _tiebreak_result(options: Options, state: State, event: Event) -> Result:
    if not state.tiebreak_pending:
        return state, []  # a heartbeat arrived meanwhile: the verdict is moot
    state = replace(state, tiebreak_pending=False)
    if event.ok and state.may_activate:
        return replace(state, active=True), list(_ACTIVATE)
    return state, []


def _child_exited(options: Options, state: State, event: Event) -> Result:
    if state.active:
        return replace(state, active=False, childfail=True), list(_STAND_DOWN)
    return replace(state, childfail=True), []


def _child_ready(options: Options, state: State, event: Event) -> Result:
    return replace(state, childfail=False), []


def _link_down(options: Options, state: State, event: Event) -> Result:
    if state.active:
        return replace(state, active=False, linkfail=True), list(_STAND_DOWN)
    return replace(state, linkfail=True), []


def _link_up(options: Options, state: State, event: Event) -> Result:
    return replace(state, linkfail=False), []


def _terminate(options: Options, state: State, event: Event) -> Result:
    if state.active:
        return replace(state, active=False, tiebreak_pending=False), [*_STAND_DOWN, EXIT]
    return replace(state, tiebreak_pending=False), [EXIT]


_HANDLERS = {
    START: _start,
    PEER_HEARTBEAT: _peer_heartbeat,
    DEADTIME_EXPIRED: _deadtime_expired,
    CHILD_EXITED: _child_exited,
    CHILD_READY: _child_ready,
    LINK_DOWN: _link_down,
    LINK_UP: _link_up,
    TERMINATE: _terminate,
    TIEBREAK_RESULT: _tiebreak_result,
    STARTUP_GRACE_EXPIRED: _startup_grace_expired,
}
