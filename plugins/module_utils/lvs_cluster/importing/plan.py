# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The import playbook's decision, from every router's import: which inventory host is the
primary and which the backup, the group's variables (the primary's import; a router whose import
differs is reported), each host's variables, and one report of what was not carried over."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def import_plan(hosts: Sequence[str], results: Mapping[str, Mapping[str, Any]],
                addresses: Mapping[str, str]) -> dict[str, Any]:
    """``results``: host -> the lvs_import module's result; ``addresses``: host -> the address
    Ansible reaches it on (ansible_host). Returns ``group_vars``, ``host_vars`` (host -> dict),
    ``unsupported`` (entries with the hosts that reported them), ``report`` (lines to print)
    and ``source`` (the primary's file)."""
    if not hosts:
        raise ValueError("import_plan: no router answered")
    ordered = _by_role(list(hosts), results, addresses)
    primary = ordered[0]
    chosen = results[primary]
    # lvs.cf without an active backup is one router: the other inventory hosts are not its pair
    single = chosen.get("format") == "piranha" and "backup" not in chosen.get("hosts", {})
    backup = ordered[1] if len(ordered) > 1 and not single else ""
    group_vars: dict[str, Any] = {"router_primary": primary, "router_backup": backup}
    group_vars.update(chosen.get("router_vars", {}))
    unsupported = _merged_unsupported(ordered, results)
    for host in ordered[1:]:
        differing = _differing_keys(chosen.get("router_vars", {}),
                                    results[host].get("router_vars", {}))
        if differing:
            unsupported.append({"hosts": [host], "file": results[host].get("sources", ["?"])[0],
                                "line": None, "construct": ", ".join(differing),
                                "reason": f"differs from {primary}'s, whose values are used"})
    for path in _templated_strings(group_vars):
        unsupported.append({"hosts": [primary], "file": (chosen.get("sources") or ["?"])[0],
                            "line": None, "construct": path,
                            "reason": "holds Jinja delimiters ({{, {% or {#), which Ansible would "
                                      "evaluate: mark the value !unsafe in the written file"})
    roles = ["primary", "backup"]
    pair = [host for host in (primary, backup) if host]
    for host in ordered:
        if host not in pair:
            unsupported.append({"hosts": [host], "file": (results[host].get("sources") or ["?"])[0],
                                "line": None, "construct": host,
                                "reason": "not a router of the source's pair: left out of "
                                          "router_primary/router_backup"})
    host_vars = {host: _host_vars(host, roles[index], results, primary)
                 for index, host in enumerate(pair)}
    report = [f"{primary} primary" + (f", {backup} backup" if backup else "")
              + f" ({len(group_vars.get('router_virtual_servers', []))} virtual services)"]
    report += [_line(entry) for entry in unsupported]
    return {"group_vars": group_vars, "host_vars": host_vars, "unsupported": unsupported,
            "report": report, "source": (chosen.get("sources") or ["?"])[0]}


def _by_role(hosts: list[str], results: Mapping[str, Mapping[str, Any]],
             addresses: Mapping[str, str]) -> list[str]:
    """Primary first: lvs.cf's ``primary`` address, else keepalived's MASTER state and then the
    highest priority, else inventory order."""
    def rank(host: str) -> tuple[int, int, int]:
        result = results[host]
        source_primary = result.get("hosts", {}).get("primary", {}).get("router_public_address")
        this = result.get("this_router", {})
        is_primary = source_primary is not None and addresses.get(host) == source_primary
        return (0 if is_primary else 1, 0 if this.get("state") == "MASTER" else 1,
                -int(this.get("priority", 0)))
    return sorted(hosts, key=lambda host: (rank(host), hosts.index(host)))


def _host_vars(host: str, role: str, results: Mapping[str, Mapping[str, Any]],
               primary: str) -> dict[str, Any]:
    result = results[host]
    out = dict(results[primary].get("hosts", {}).get(role, {}))
    address = result.get("this_router", {}).get("address")
    if address:
        out["router_public_address"] = address
    return out


def _merged_unsupported(hosts: list[str],
                        results: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for host in hosts:
        for entry in results[host].get("unsupported", []):
            key = (entry.get("file"), entry.get("line"), entry.get("construct"),
                   entry.get("reason"))
            if key in merged:
                merged[key]["hosts"].append(host)
            else:
                merged[key] = {"hosts": [host], **entry}
    return list(merged.values())


def _templated_strings(value: Any, path: str = "") -> list[str]:
    """The paths of the strings Ansible would template (inventory values are templates)."""
    if isinstance(value, str):
        return [path] if any(mark in value for mark in ("{{", "{%", "{#")) else []
    if isinstance(value, Mapping):
        return [found for key, item in value.items()
                for found in _templated_strings(item, f"{path}.{key}" if path else str(key))]
    if isinstance(value, (list, tuple)):
        return [found for index, item in enumerate(value)
                for found in _templated_strings(item, f"{path}[{index}]")]
    return []


def _differing_keys(first: Mapping[str, Any], other: Mapping[str, Any]) -> list[str]:
    return sorted(key for key in set(first) | set(other) if first.get(key) != other.get(key))


def _line(entry: Mapping[str, Any]) -> str:
    where = entry.get("file", "?")
    if entry.get("line") is not None:
        where += f" line {entry['line']}"
    return f"{','.join(entry['hosts'])}: {where}: {entry.get('construct')}: {entry.get('reason')}"
