# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading and checking single lvs.cf values: numbers as C strtol reads them, addresses as
inet_aton reads them (plus IPv6), netmasks, seconds, and the strings lvs.cf can express.

Each reader returns the value or raises ValueError with a one-line reason; callers add the
location.
"""

from __future__ import annotations

import ipaddress
import re

from ..vocabulary import canonical_ip, netmask_prefix_length

BLANKS = " \t"

_C_INTEGER = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_DECIMAL_SECONDS = re.compile(r"[0-9]+\.[0-9]*|\.[0-9]+")
_INET_ATON_PART = re.compile(r"0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*")
_PREFIX_LENGTH = re.compile(r"0|[1-9][0-9]{0,2}")
_NUMERIC_ADDRESS = re.compile(r"[0-9.]*|0[xX][0-9a-fA-F.xX]*")
SERVICE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._+-]*")


def parse_c_integer(text: str) -> int | None:
    """The value of ``text`` read like C ``strtol(text, &end, 0)`` with ``*end == 0``.

    ``0x10`` is 16 and ``010`` is 8, as in Piranha; anything else (including an empty string,
    ``08`` and ``1e3``) is None.
    """
    match = _C_INTEGER.fullmatch(text)
    if match is None:
        return None
    sign, digits = match.groups()
    value = _unsigned_c_integer(digits)
    return -value if sign == "-" else value


def _unsigned_c_integer(digits: str) -> int:
    if digits[:2] in ("0x", "0X"):
        return int(digits[2:], 16)
    if digits.startswith("0") and len(digits) > 1:
        return int(digits[1:], 8)
    return int(digits, 10)


def parse_seconds(text: str) -> float | None:
    """Seconds as a float: an integer as strtol reads it, or a decimal fraction like ``0.2``."""
    value = parse_c_integer(text)
    if value is not None:
        return float(value)
    if _DECIMAL_SECONDS.fullmatch(text):
        return float(text)
    return None


def format_seconds(value: float) -> str:
    """The shortest text that ``parse_seconds`` reads back as exactly ``value``."""
    if float(value).is_integer():
        return str(int(value))
    from decimal import Decimal  # noqa: PLC0415 - rendering only, not parsing

    return format(Decimal(repr(float(value))), "f")


def parse_inet_aton(text: str) -> str | None:
    """An IPv4 address read like glibc ``inet_aton``, as a dotted quad, or None.

    Accepts the old short and based forms Piranha accepted: ``10.1`` is 10.0.0.1 and
    ``10.0.0.010`` is 10.0.0.8 (a leading 0 means octal).
    """
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        if not _INET_ATON_PART.fullmatch(part):
            return None
        values.append(_unsigned_c_integer(part))
    # The last part fills all the bytes that the earlier parts leave.
    last_bits = 8 * (5 - len(parts))
    if any(value > 255 for value in values[:-1]) or values[-1] >= 1 << last_bits:
        return None
    number = 0
    for value in values[:-1]:
        number = (number << 8) | value
    number = (number << last_bits) | values[-1]
    return str(ipaddress.IPv4Address(number))


def read_ip(text: str) -> tuple[str, str, bool]:
    """``(canonical address, family, written canonically)`` of an IP literal.

    IPv4 is read like inet_aton (Piranha); IPv6 (an lvs.cluster extension) is any textual form
    without a zone index. Hostnames are refused: lvs.cluster does not resolve names.
    """
    if ":" in text:
        if "%" in text:
            raise ValueError(f"invalid host name or ip address '{text}': zone indexes are not "
                             "supported")
        try:
            address = ipaddress.IPv6Address(text)
        except ValueError:
            raise ValueError(f"invalid host name or ip address '{text}': not an IPv6 "
                             "address") from None
        return str(address), "inet6", str(address) == text
    dotted = parse_inet_aton(text)
    if dotted is None:
        if _NUMERIC_ADDRESS.fullmatch(text):
            raise ValueError(f"invalid host name or ip address '{text}': not an IPv4 address")
        raise ValueError(
            f"invalid host name or ip address '{text}': hostnames are not resolved; "
            "use an IP address"
        )
    return dotted, "inet", dotted == text


def read_mask(text: str) -> str | int:
    """A netmask: a dotted IPv4 mask (inet_aton forms, must be contiguous) as a canonical dotted
    quad, or a decimal prefix length (the IPv6 extension) as an int."""
    if _PREFIX_LENGTH.fullmatch(text):
        value = int(text)
        if value > 128:
            raise ValueError(f"Bad subnet mask specified: prefix length {value} is over 128")
        return value
    dotted = parse_inet_aton(text)
    if dotted is None:
        raise ValueError(f"Bad subnet mask specified: '{text}' is not a netmask")
    if netmask_prefix_length(dotted) is None:
        raise ValueError(
            f"Bad subnet mask specified: {dotted} is not contiguous (its one bits must come first)"
        )
    return dotted


def mask_problem(mask: str | int, family: str | None) -> str | None:
    """Why ``mask`` is not a valid netmask for addresses of ``family``, or None."""
    if isinstance(mask, bool) or not isinstance(mask, (str, int)):
        return "netmask expected"
    if isinstance(mask, int):
        if family == "inet":
            return (
                f"an IPv4 netmask must be written dotted (e.g. 255.255.255.0), not as prefix "
                f"length {mask}"
            )
        if not 0 <= mask <= 128:
            return f"prefix length {mask} is outside 0-128"
        return None
    if family == "inet6":
        return f"an IPv6 netmask is a prefix length (0-128), not {mask}"
    if canonical_ip(mask) != mask or ":" in mask:
        return f"'{mask}' is not a dotted IPv4 netmask"
    if netmask_prefix_length(mask) is None:
        return f"{mask} is not contiguous (its one bits must come first)"
    return None


def string_problem(value: str) -> str | None:
    """Why ``value`` cannot be written in lvs.cf, or None.

    lvs.cf has no escapes: a double quote cannot appear inside a value, and a value cannot span
    lines or carry other control characters.
    """
    if '"' in value:
        return "contains a double quote, which lvs.cf cannot express (there is no escape)"
    for char in value:
        code = ord(char)
        if (code < 0x20 and char != "\t") or code == 0x7F:
            return f"contains control character U+{code:04X}, which lvs.cf cannot express"
        if 0xD800 <= code <= 0xDFFF:
            return "is not valid Unicode text (it holds an undecodable byte)"
    return None
