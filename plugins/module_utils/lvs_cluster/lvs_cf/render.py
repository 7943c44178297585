# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The canonical lvs.cf text of a model.

* Global keys first, then each ``virtual`` block (its keys, then its ``server`` blocks), then
  each ``failover`` block, in model order; a blank line before each top-level block.
* Keys in the order of the model's fields (which follows Piranha's documentation), as
  ``key = value``, indented by 4 spaces per block level; LF line endings, final newline.
* A key is written when it is set and differs from its default, and always for the keys
  Piranha users expect to see (``active``, ``address``, ``port``, ``protocol``, ...).
* Strings are double-quoted when they need it (empty, blanks, a leading quote or ``#``) and
  always for ``send``, ``expect``, ``send_program`` and the commands.

For every valid model ``m``: ``parse_lvs_cf(render_lvs_cf(m)).config == m``.
"""

from __future__ import annotations

from .errors import LvsCfError
from .model import (
    DeviceAddress,
    FailoverService,
    Kind,
    LvsConfig,
    RealServer,
    VirtualService,
    key_fields,
)
from .values import BLANKS, format_seconds, string_problem

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time (start-up)
if TYPE_CHECKING:
    from typing import Any

INDENT = "    "


def render_lvs_cf(config: LvsConfig) -> str:
    """Canonical lvs.cf text for ``config``; LvsCfError if a value cannot be written."""
    lines = _key_lines(config, 0, None)
    for virtual in config.virtuals:
        lines.append("")
        lines.extend(_virtual_lines(virtual))
    for failover in config.failovers:
        lines.append("")
        lines.extend(_block_lines("failover", failover, 0, f"failover {failover.name}"))
    return "".join(line + "\n" for line in lines)


def _virtual_lines(virtual: VirtualService) -> list[str]:
    label = f"virtual {virtual.name}"
    lines = _block_lines("virtual", virtual, 0, label, close=False)
    for server in virtual.servers:
        lines.extend(_block_lines("server", server, 1, f"{label}: server {server.name}"))
    lines.append("}")
    return lines


def _block_lines(kind: str, block: VirtualService | RealServer | FailoverService, level: int,
                 label: str, *, close: bool = True) -> list[str]:
    indent = INDENT * level
    lines = [f"{indent}{kind} {_token(block.name, False, label, None)} {{"]
    lines.extend(_key_lines(block, level + 1, label))
    if close:
        lines.append(f"{indent}}}")
    return lines


def _key_lines(block: Any, level: int, label: str | None) -> list[str]:
    lines = []
    for name, key_field in key_fields(type(block)).items():
        value = getattr(block, name)
        if value is None:
            continue
        if value == key_field.default and not key_field.metadata["always"]:
            continue
        if key_field.metadata["kind"] == Kind.LIST and not value:
            continue
        text = _format(key_field, value, label, name)
        lines.append(f"{INDENT * level}{name} = {text}")
    return lines


def _format(key_field: Any, value: Any, label: str | None, key: str) -> str:
    kind = key_field.metadata["kind"]
    if kind == Kind.BOOL:
        return "1" if value else "0"
    if kind == Kind.SECONDS:
        return format_seconds(value)
    if kind == Kind.FLAGS:
        return ",".join(flag for flag in key_field.metadata["choices"] if flag in value)
    if kind == Kind.LIST:
        return "[ " + " ".join(_token(item, False, label, key) for item in value) + " ]"
    if kind == Kind.DEVICE_ADDRESS and isinstance(value, DeviceAddress):
        return f"{value.ip} {_token(value.device, False, label, key)}"
    if isinstance(value, str):
        return _token(value, key_field.metadata["quoted"], label, key)
    return str(value)


def _token(value: str, always_quote: bool, label: str | None, key: str | None) -> str:
    problem = string_problem(value)
    if problem:
        raise LvsCfError(f"cannot be written: the value {problem}", key=key, block=label)
    needs_quotes = (
        always_quote
        or value == ""
        or any(char in BLANKS for char in value)
        or value[0] in "'#"
    )
    return f'"{value}"' if needs_quotes else value
