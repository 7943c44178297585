# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived.conf's values (numbers, times, addresses, ranges, netmasks), each read with the
statement it came from so that an error names file, line and keyword."""

from __future__ import annotations

import ipaddress
import re

from .. import vocabulary
from .keepalived_conf import Statement
from .result import SourceError


def read_integer(statement: Statement, text: str, low: int, high: int) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise SourceError(f"{statement.keyword}: integer expected, got '{text}'",
                          file=statement.file, line=statement.line) from None
    if not low <= value <= high:
        raise SourceError(f"{statement.keyword}: {value} is outside {low}-{high}",
                          file=statement.file, line=statement.line)
    return value


def read_number(statement: Statement, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SourceError(f"{statement.keyword}: number expected, got '{text}'",
                          file=statement.file, line=statement.line) from None
    if not 0 < value < 86400:
        raise SourceError(f"{statement.keyword}: {text} is not a time in seconds",
                          file=statement.file, line=statement.line)
    return value


def plain(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def read_address(statement: Statement, text: str) -> str:
    canonical = vocabulary.canonical_ip(text)
    if canonical is None:
        raise SourceError(f"{statement.keyword}: '{text}' is not an IP address",
                          file=statement.file, line=statement.line)
    return canonical


def read_address_range(member: Statement) -> list[str]:
    """``10.0.0.1`` or keepalived's range ``10.0.0.1-10`` (the last part of the address)."""
    text = member.keyword
    if "-" not in text:
        return [read_address(member, text)]
    first, last = text.rsplit("-", 1)
    start = ipaddress.ip_address(read_address(member, first))
    try:
        end_part = int(last, 16 if start.version == 6 else 10)
    except ValueError:
        raise SourceError(f"'{text}' is no address range", file=member.file,
                          line=member.line) from None
    step = 16 if start.version == 6 else 8
    low = int(start) & ((1 << step) - 1)
    if end_part < low or end_part >= 1 << step:
        raise SourceError(f"'{text}' is no address range", file=member.file, line=member.line)
    return [str(start + offset) for offset in range(end_part - low + 1)]


def read_mask(statement: Statement, text: str) -> str | int:
    if text.isdigit():
        return int(text)
    try:
        ipaddress.ip_network(f"0.0.0.0/{text}")
    except ValueError:
        raise SourceError(f"{statement.keyword}: '{text}' is not a netmask",
                          file=statement.file, line=statement.line) from None
    return text


def pairs(words: list[str]) -> list[tuple[str, str]]:
    """``name value name value ...`` as pairs (a last word without a value is left out)."""
    return [(words[index], words[index + 1]) for index in range(0, len(words) - 1, 2)]


def word(address: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "_", address)
