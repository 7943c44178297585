# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error type and the one warning type of the lvs.cf core.

Both print as a single line in one format, used everywhere (parser, validation, model dicts):

    FILE line LINE, column COLUMN: BLOCK: KEY: REASON

Parts that are not known are left out, for example ``lvs.cf line 12, column 17: virtual web:
scheduler: invalid argument 'foo' (expected one of ...)`` or ``config: virtuals[0].port: integer
expected, got 'http'``.
"""

from __future__ import annotations

from dataclasses import dataclass


def format_location(
    file: str, line: int | None, column: int | None, block: str | None, key: str | None
) -> str:
    """``FILE line N, column C: BLOCK: KEY`` without the parts that are None."""
    where = file or "lvs.cf"
    if line is not None:
        where += f" line {line}"
        if column is not None:
            where += f", column {column}"
    parts = [where]
    if block:
        parts.append(block)
    if key:
        parts.append(key)
    return ": ".join(parts)


class LvsCfError(ValueError):
    """An lvs.cf text or model that cannot be accepted.

    Attributes: ``file`` (the source name), ``line`` and ``column`` (1-based, or None),
    ``block`` (e.g. ``virtual web, server a``, or None), ``key`` (the key or model field path,
    or None) and ``reason`` (one line). ``message`` and ``str(err)`` are the formatted line.
    """

    def __init__(
        self,
        reason: str,
        *,
        file: str = "lvs.cf",
        line: int | None = None,
        column: int | None = None,
        key: str | None = None,
        block: str | None = None,
    ) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.block = block
        super().__init__(self.message)

    @property
    def message(self) -> str:
        location = format_location(self.file, self.line, self.column, self.block, self.key)
        return f"{location}: {self.reason}"

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        fields = {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "key": self.key,
            "block": self.block,
        }
        return _rebuild_error, (self.reason, fields)


def _rebuild_error(reason: str, fields: dict) -> LvsCfError:
    return LvsCfError(reason, **fields)


@dataclass(frozen=True)
class LvsCfWarning:
    """Something accepted that probably does not do what was meant (a Piranha trap)."""

    file: str
    line: int | None
    key: str | None
    reason: str
    block: str | None = None

    @property
    def message(self) -> str:
        location = format_location(self.file, self.line, None, self.block, self.key)
        return f"{location}: {self.reason}"

    def __str__(self) -> str:
        return self.message
