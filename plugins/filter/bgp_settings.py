# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter lvs.cluster.bgp_settings_problems: the router role's bgp-mode variables -> each
problem, naming the variable (the core's ``bgp_settings`` rule). Documentation:
bgp_settings_problems.yml."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ..module_utils.lvs_cluster.bgp_settings import bgp_problems


def bgp_settings_problems(settings):
    """A mapping of the role's bgp variables -> the list of problems (empty when sound)."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError("bgp_settings_problems: expects a dictionary of the router "
                                 f"role's bgp variables, got {type(settings).__name__}")
    return bgp_problems(dict(settings))


class FilterModule:
    """The bgp settings filter."""

    def filters(self):
        return {"bgp_settings_problems": bgp_settings_problems}
