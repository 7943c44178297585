# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPVS modules' side of the core, by the names it had when it was one file: options
(``options.py``), results (``results.py``), ipvsadm-save text (``text.py``), draining
(``drain.py``). What takes an ``AnsibleModule`` lives outside the core, in
``module_utils/ipvs_module.py``. New code imports the modules it needs directly.
"""

from __future__ import annotations

from .drain import DRAIN_POLL_SECONDS, connections, drain
from .netlink import read_live
from .options import (
    DAEMON_DEFAULTS,
    DAEMON_STATES,
    DEFAULT_FORWARDING,
    DEFAULT_SCHEDULER,
    DEFAULT_WEIGHT,
    FAMILIES,
    FORWARDING,
    PROTOCOLS,
    SCHEDULER_FLAGS,
    TUNNEL_FLAGS,
    TUNNEL_TYPES,
    ParamError,
    daemon_from_params,
    destination_from_params,
    destination_spec,
    netmask_prefix,
    service_from_params,
    service_identity_spec,
    service_spec,
    sync_daemons_from_params,
    table_from_params,
    timeouts_from_params,
)
from .results import (
    daemon_result,
    dest_sort_key,
    destination_result,
    destination_state_result,
    operation_result,
    service_result,
    sort_key,
    stats_result,
    timeouts_result,
)
from .text import (
    daemon_line,
    destination_rule,
    service_rule,
    settings_text,
    table_text,
)

__all__ = [  # what other code imports from here
    "DAEMON_DEFAULTS",
    "DAEMON_STATES",
    "DEFAULT_FORWARDING",
    "DEFAULT_SCHEDULER",
    "DEFAULT_WEIGHT",
    "DRAIN_POLL_SECONDS",
    "FAMILIES",
    "FORWARDING",
    "PROTOCOLS",
    "ParamError",
    "SCHEDULER_FLAGS",
    "TUNNEL_FLAGS",
    "TUNNEL_TYPES",
    "connections",
    "daemon_from_params",
    "daemon_line",
    "daemon_result",
    "dest_sort_key",
    "destination_from_params",
    "destination_result",
    "destination_rule",
    "destination_spec",
    "destination_state_result",
    "drain",
    "netmask_prefix",
    "operation_result",
    "read_live",
    "service_from_params",
    "service_identity_spec",
    "service_result",
    "service_rule",
    "service_spec",
    "settings_text",
    "sort_key",
    "stats_result",
    "sync_daemons_from_params",
    "table_from_params",
    "table_text",
    "timeouts_from_params",
    "timeouts_result",
]
