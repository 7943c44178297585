# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How often the agents rewrite their status files (``pulse.json``, ``lvsd.json`` in
``/run/lvs-cluster``), when a reader stops believing one, and whether the drift playbook may
compare the IPVS table with lvsd's health verdicts.

* pulse and lvsd rewrite their file every ``STATUS_INTERVAL`` seconds, changed or not, and at
  once on a change.
* A file not rewritten for ``STALE_AFTER`` seconds (``MISSED_WRITES`` intervals: a busy or
  CPU-starved router may miss a write or two, not five) is stale: its agent is gone or hung.
  lvs-status then shows the agent as not running; the drift playbook refuses to compare.
* The file's age is the reader's clock minus its ``updated`` (the writer's ``time.time()``),
  so both must be the same host's clock: the drift playbook reads the router's.

Standard library only, no ansible imports: the agents import it on the routers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

STATUS_INTERVAL = 1.0
MISSED_WRITES = 5
STALE_AFTER = MISSED_WRITES * STATUS_INTERVAL
MAX_NAMED = 5  # unchecked servers named in a message; the rest are counted


class LvsdStatus(NamedTuple):
    """lvsd's status as the drift playbook may use it (None: compare without verdicts), or
    why it may not (``problem``; ``status`` is then None)."""

    status: Mapping[str, Any] | None
    problem: str | None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def status_age(document: object, now: float) -> float | None:
    """Seconds since the agent wrote ``document`` (negative: after ``now``), or None without
    a usable ``updated`` time."""
    if not isinstance(document, Mapping):
        return None
    updated = _number(document.get("updated"))
    return None if updated is None else now - updated


def judge_lvsd_status(document: object, now: float, *, pulse_running: bool, path: str,
                      loaded_after: float | None = None) -> LvsdStatus:
    """lvsd.json as read on the router at ``now`` (its clock), None when there is none.

    * Current (rewritten within ``STALE_AFTER``): used, once lvsd has loaded the configuration
      written at ``loaded_after`` (if given) and checked each real server once.
    * Missing, stale, or not lvsd's, while pulse runs (lvsd is its child, on both routers):
      refused, naming the file and its age.
    * Not current while pulse does not run: no lvsd, nothing to use (a file left behind is not
      read).
    """
    age = status_age(document, now)
    current = age is not None and -STALE_AFTER <= age <= STALE_AFTER
    if not current and not pulse_running:
        return LvsdStatus(None, None)
    if document is None:
        return _refused(f"{path} is missing, but pulse is running: lvsd, its child, writes it "
                        f"every {STATUS_INTERVAL:g} s (is lvsd starting, failing or unable to "
                        "write? journalctl -u lvs-cluster-pulse)")
    if not isinstance(document, Mapping):
        return _refused(f"{path}: not lvsd's status (a dictionary expected, got "
                        f"{type(document).__name__})")
    if age is None:
        return _refused(f"{path}: no update time (updated = {document.get('updated')!r}): "
                        "not a status lvsd wrote")
    if age > STALE_AFTER:
        return _refused(f"{path} is {age:.1f} s old: lvsd rewrites it every "
                        f"{STATUS_INTERVAL:g} s, so after {STALE_AFTER:g} s it is stale (lvsd "
                        "hung or gone) and its health verdicts cannot be compared with the "
                        "table (lvs-status, journalctl -u lvs-cluster-pulse)")
    if age < -STALE_AFTER:
        return _refused(f"{path} was written {-age:.1f} s after now by this router's clock "
                        f"(more than {STALE_AFTER:g} s): was the clock set back?")
    return _readiness(document, now, path, loaded_after)


def _readiness(document: Mapping[str, Any], now: float, path: str,
               loaded_after: float | None) -> LvsdStatus:
    """A current status counts once lvsd has loaded the corrected lvs.cf (a reload) and
    checked every real server once (before that, its verdicts are not verdicts)."""
    if loaded_after is not None:
        loaded = _number(document.get("config_loaded_at"))
        if loaded is None or loaded < loaded_after:
            when = "" if loaded is None else f" (it loaded one {now - loaded:.1f} s ago)"
            return _refused(f"{path}: lvsd has not loaded the corrected lvs.cf yet{when}; "
                            "was its reload refused? (journalctl -u lvs-cluster-pulse)")
    unchecked = _unchecked_servers(document.get("virtuals"))
    if unchecked:
        named = ", ".join(unchecked[:MAX_NAMED])
        if len(unchecked) > MAX_NAMED:
            named += f" and {len(unchecked) - MAX_NAMED} more"
        return _refused(f"{path}: lvsd has not checked every real server yet ({named})")
    return LvsdStatus(document, None)


def _unchecked_servers(virtuals: object) -> list[str]:
    """``server of virtual`` for each real server (not a sorry server) checked 0 times; an
    entry not in lvsd's shape is left to the reader of the verdicts, which names it."""
    out = []
    for virtual in virtuals if isinstance(virtuals, list) else []:
        if not isinstance(virtual, Mapping) or not isinstance(virtual.get("servers"), list):
            continue
        for server in virtual["servers"]:
            if isinstance(server, Mapping) and server.get("sorry") is not True \
                    and server.get("checks") == 0:
                out.append(f"{server.get('name')} of {virtual.get('name')}")
    return out


def _refused(problem: str) -> LvsdStatus:
    return LvsdStatus(None, problem)
