# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter lvs.cluster.import_plan: the routers' lvs_import results -> primary/backup, the
group's and each host's variables and one report (the core's ``importing.plan``).
Documentation: import_plan.yml."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError

from ..module_utils.lvs_cluster.importing.plan import import_plan as plan


def import_plan(hosts, hostvars, result_var="import_result"):
    """The play's hosts and hostvars -> the import plan."""
    if isinstance(hosts, str) or not isinstance(hosts, Sequence):
        raise AnsibleFilterError("import_plan: expects the list of routers (ansible_play_hosts)")
    results = {}
    addresses = {}
    for host in hosts:
        variables = hostvars[host]
        result = variables.get(result_var)
        if not isinstance(result, Mapping) or "router_vars" not in result:
            raise AnsibleFilterError(f"import_plan: {host} has no lvs_import result in "
                                     f"{result_var}")
        results[host] = dict(result)
        addresses[host] = str(variables.get("ansible_host", host))
    try:
        return plan(list(hosts), results, addresses)
    except ValueError as error:
        raise AnsibleFilterError(str(error)) from None


class FilterModule:
    """The import plan filter."""

    def filters(self):
        return {"import_plan": import_plan}
