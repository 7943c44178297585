# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A list of option dicts checked against a simple argument spec, fast, with the result
Ansible's validation would give.

Ansible validates nested options generically, at about 100 µs a dict in a lab guest: the
10,000 services of 10 destinations an ``ipvs_table`` task may carry took 8-12 s before the
module did anything. Most tables arrive with every value of its type already (from YAML or a
template); for those, ``checked`` returns what Ansible would (every
option present, defaults filled, nothing converted) in a fraction of the time. Anything else
(a value to convert such as ``"80"`` for an int, an unknown key, a missing required option, a
choice not allowed) returns None, and the caller runs Ansible's own validation, which converts
it or says what is wrong in Ansible's words. ``tests/unit/plugins/module_utils/
test_simple_spec.py`` compares both on generated input.

Understood spec keys: ``type`` (str, int, bool, raw, list), ``elements`` (str, or dict with
``options``), ``choices``, ``default``, ``required``. A spec with any other key is refused
(ValueError): a rule added to a spec must not be skipped here without notice.
"""

from __future__ import annotations

from typing import Any

# Exact types on purpose, not isinstance: a bool is an int to isinstance but not to this check,
# and anything of a subclass is left to Ansible's validation.
# pylint: disable=unidiomatic-typecheck

UNDERSTOOD = frozenset(("type", "elements", "options", "choices", "default", "required"))
_SCALARS = {"str": str, "int": int, "bool": bool}
_BAD = object()


def checked(spec: dict[str, dict[str, Any]], items: object) -> list[dict[str, Any]] | None:
    """``items`` (a list of dicts) as Ansible's validation against ``spec`` would leave it,
    or None when that validation has to run: something to convert or to refuse."""
    _refuse_unknown_rules(spec)
    return _checked_list(spec, items)


def _checked_list(spec: dict[str, dict[str, Any]], items: object) -> list[dict[str, Any]] | None:
    if type(items) is not list:
        return None
    out = []
    for item in items:
        done = _checked_dict(spec, item)
        if done is None:
            return None
        out.append(done)
    return out


def _refuse_unknown_rules(spec: dict[str, dict[str, Any]]) -> None:
    for name, rule in spec.items():
        unknown = set(rule) - UNDERSTOOD
        if unknown:
            raise ValueError(f"simple_spec: option {name} has rules it does not check: "
                             f"{', '.join(sorted(unknown))}")
        if rule.get("options"):
            _refuse_unknown_rules(rule["options"])


def _checked_dict(spec: dict[str, dict[str, Any]], item: object) -> dict[str, Any] | None:
    if type(item) is not dict or any(key not in spec for key in item):
        return None
    result: dict[str, Any] = {}
    for name, rule in spec.items():
        if name not in item:
            if rule.get("required"):
                return None
            default = rule.get("default")
            result[name] = list(default) if type(default) is list else default
            continue
        value = item[name]
        if value is None:
            # Ansible's null is a value of its own: a choice not allowed, a default turned into
            # '' or refused, a required option given as ''; only a plain optional one stays null
            if "default" in rule or "choices" in rule or rule.get("required"):
                return None
            result[name] = None
            continue
        value = _checked_value(rule, value)
        if value is _BAD:
            return None
        result[name] = value
    return result


def _checked_value(rule: dict[str, Any], value: object) -> object:
    kind = rule.get("type", "str")
    choices = rule.get("choices")
    if kind == "raw":
        return value
    if kind in _SCALARS:
        if type(value) is not _SCALARS[kind] or (choices is not None and value not in choices):
            return _BAD
        return value
    if kind != "list" or type(value) is not list:
        return _BAD
    if rule.get("elements") == "dict" and rule.get("options"):
        nested = _checked_list(rule["options"], value)
        return _BAD if nested is None else nested
    if rule.get("elements") != "str":
        return _BAD
    if any(type(element) is not str or (choices is not None and element not in choices)
           for element in value):
        return _BAD
    return list(value)
