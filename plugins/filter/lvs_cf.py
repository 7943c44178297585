# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters lvs.cluster.lvs_cf_parse (lvs.cf text -> model dict), lvs.cluster.lvs_cf_render
(model dict -> canonical lvs.cf text), lvs.cluster.lvs_cf_expected_table (lvs.cf text and
lvsd's status -> the ipvs_table services a router should have) and lvs.cluster.lvs_cf_scope
(lvs.cf text -> the ipvs_table scope lvsd owns too). Documentation: lvs_cf_parse.yml,
lvs_cf_render.yml, lvs_cf_expected_table.yml, lvs_cf_scope.yml."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text
from ansible.utils.display import Display

from ..module_utils.lvs_cluster.lvs_cf.errors import LvsCfError
from ..module_utils.lvs_cluster.lvs_cf.expected import StatusError, expected_table
from ..module_utils.lvs_cluster.lvs_cf.ownership import owned_scope, scope_params
from ..module_utils.lvs_cluster.lvs_cf.shells import (
    InternalError,
    canonical_text,
    load,
)

display = Display()


def _run(filter_name, **kwargs):
    try:
        config, text, warnings = canonical_text(**kwargs)
    except (LvsCfError, InternalError) as err:
        raise AnsibleFilterError(f"{filter_name}: {err}") from err
    for warning in warnings:
        display.warning(str(warning))
    return config, text


def lvs_cf_parse(content, source="lvs.cf"):
    """lvs.cf text -> the configuration model as a dict."""
    if not isinstance(content, (str, bytes)):
        raise AnsibleFilterError(f"lvs_cf_parse: expects lvs.cf text, got {type(content).__name__}")
    config, _text = _run(
        "lvs_cf_parse", content=to_text(content, errors="surrogate_or_strict"), source=source
    )
    return config


def lvs_cf_render(config):
    """The configuration model (a dict) -> canonical lvs.cf text."""
    if not isinstance(config, Mapping):
        raise AnsibleFilterError(
            f"lvs_cf_render: expects the lvs.cf model as a dictionary, got {type(config).__name__}"
        )
    _config, text = _run("lvs_cf_render", config=dict(config))
    return text


def lvs_cf_expected_table(content, status=None, source="lvs.cf"):
    """lvs.cf text and lvsd's status (lvsd.json, or None when lvsd is not running) -> the
    ``services`` of lvs.cluster.ipvs_table that the router's IPVS table should hold now."""
    if not isinstance(content, (str, bytes)):
        raise AnsibleFilterError(
            f"lvs_cf_expected_table: expects lvs.cf text, got {type(content).__name__}")
    try:
        services, warnings = expected_table(
            to_text(content, errors="surrogate_or_strict"), status, source)
    except (LvsCfError, StatusError) as err:
        raise AnsibleFilterError(f"lvs_cf_expected_table: {err}") from err
    for warning in warnings:
        display.warning(str(warning))
    return services


def lvs_cf_scope(content, source="lvs.cf"):
    """lvs.cf text -> the ``scope_addresses`` and ``scope_fwmarks`` of lvs.cluster.ipvs_table:
    what the cluster owns, by the rule lvsd reconciles by (every service on a virtual's address,
    every service of its mark)."""
    if not isinstance(content, (str, bytes)):
        raise AnsibleFilterError(f"lvs_cf_scope: expects lvs.cf text, got {type(content).__name__}")
    try:
        config, _warnings = load(content=to_text(content, errors="surrogate_or_strict"),
                                 source=source or "lvs.cf")
        return scope_params(owned_scope(config))
    except LvsCfError as err:
        raise AnsibleFilterError(f"lvs_cf_scope: {err}") from err


class FilterModule:
    """lvs.cf filters."""

    def filters(self):
        return {
            "lvs_cf_parse": lvs_cf_parse,
            "lvs_cf_render": lvs_cf_render,
            "lvs_cf_expected_table": lvs_cf_expected_table,
            "lvs_cf_scope": lvs_cf_scope,
        }
