# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter lvs.cluster.lvsd_status: lvsd.json as read on a router -> the status the drift
playbook may compare the IPVS table with, or why not (the core's ``agent_status`` rule).
Documentation: lvsd_status.yml."""

from __future__ import annotations

import math
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ..module_utils.lvs_cluster.agent_status import judge_lvsd_status

DEFAULT_PATH = "/run/lvs-cluster/lvsd.json"


def _seconds(value, name, what):
    """An epoch time given as a number or as the text ``date +%s.%N`` prints."""
    if not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
        if number is not None and math.isfinite(number):
            return number
    raise AnsibleFilterError(f"lvsd_status: {name}: {what} (seconds since the epoch) expected, "
                             f"got {value!r}")


def lvsd_status(document, now=None, pulse_running=None, path=DEFAULT_PATH, loaded_after=None):
    """lvsd.json's content (None when there is none), the router's clock and whether pulse
    runs there -> ``{"status": ..., "problem": ...}``."""
    now = _seconds(now, "now", "the router's clock")
    if not isinstance(pulse_running, bool):
        raise AnsibleFilterError(f"lvsd_status: pulse_running: true or false expected, got "
                                 f"{pulse_running!r}")
    if loaded_after is not None:
        loaded_after = _seconds(loaded_after, "loaded_after", "a time")
    if isinstance(document, Mapping):
        document = dict(document)
    verdict = judge_lvsd_status(document, now, pulse_running=pulse_running, path=str(path),
                                loaded_after=loaded_after)
    return {"status": verdict.status, "problem": verdict.problem}


class FilterModule:
    """lvsd's status filter."""

    def filters(self):
        return {"lvsd_status": lvsd_status}
