# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Splitting lvs.cf text into statements: one statement per line, tokens separated by blanks
(space, tab), ``"..."`` or ``'...'`` making one token that may hold blanks.

Lines end with LF or CRLF (Piranha silently dropped lines of CRLF files). A line whose first
non-blank character is ``#`` is a comment; there are no comments after a value. There is no
escape character: a quoted token ends at the next quote of its kind.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from .errors import LvsCfError, LvsCfWarning
from .values import BLANKS

BYTE_ORDER_MARK = "\ufeff"
# One search per line finds whether any character needs the per-character check below; the
# scans of tokens and blanks run in the regex engine too (a 10,000-service lvs.cf is 300,000
# lines, and the loop per character was about half of parsing it).
_NEEDS_CHECK = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
_WORD = re.compile(f"[^{re.escape(BLANKS)}]*")
_WORDS = re.compile(f"[^{re.escape(BLANKS)}]+")
_BLANK_RUN = re.compile(f"[{re.escape(BLANKS)}]*")


# Slots: a 10,000-service lvs.cf is 300,000 statements and 700,000 tokens, held together while
# it is parsed (with a dict each they were most of the parse's peak memory).
@dataclass(frozen=True)
class Token:
    """One token: its text without quotes, its 1-based column, and the quote used (or None)."""

    __slots__ = ("text", "column", "quote")
    text: str
    column: int
    quote: str | None


@dataclass(frozen=True)
class Statement:
    """The tokens of one non-blank, non-comment line."""

    __slots__ = ("line", "tokens", "end_column")
    line: int
    tokens: tuple[Token, ...]
    end_column: int  # column just after the last token


@dataclass(frozen=True)
class Lexed:
    statements: tuple[Statement, ...]
    warnings: tuple[LvsCfWarning, ...]
    line_count: int


def decode(data: bytes, source: str) -> str:
    """UTF-8 text of ``data``; an undecodable byte is an LvsCfError at its line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line_start = data.rfind(b"\n", 0, err.start) + 1
        line = data.count(b"\n", 0, err.start) + 1
        column = len(data[line_start:err.start].decode("utf-8", "replace")) + 1
        raise LvsCfError(
            f"invalid UTF-8: byte 0x{data[err.start]:02x} cannot be decoded",
            file=source, line=line, column=column,
        ) from None


def lex(text: str, source: str) -> Lexed:
    """Statements of ``text``, or LvsCfError for a quoting or character problem."""
    warnings: list[LvsCfWarning] = []
    statements = tuple(iter_statements(text, source, warnings))
    return Lexed(statements, tuple(warnings), line_count(text))


def line_count(text: str) -> int:
    """Lines of ``text``: a last line without its newline counts, an empty file has none."""
    return text.count("\n") + (0 if text == "" or text.endswith("\n") else 1)


def iter_statements(text: str, source: str, warnings: list[LvsCfWarning]) -> Iterator[Statement]:
    """The statements of ``text`` one by one, its warnings appended to ``warnings`` as they are
    found: the parser consumes them as they come, so a large file is never held as statements
    all at once (10,000 services: 300,000 statements, most of the parse's peak memory)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if text.startswith(BYTE_ORDER_MARK):
        lines[0] = lines[0][1:]
        warnings.append(LvsCfWarning(source, 1, None, "byte order mark at the start of the file "
                                                      "ignored (Piranha would reject the line)"))
    crlf_seen = False
    for number, raw in enumerate(lines, start=1):
        line = raw
        if line.endswith("\r"):
            line = line[:-1]
            if not crlf_seen:
                crlf_seen = True
                warnings.append(LvsCfWarning(
                    source, number, None,
                    "CRLF line endings: accepted, but Piranha silently drops lines of such files",
                ))
        _check_characters(line, number, source)
        statement = _tokenize(line, number, source, warnings)
        if statement is not None:
            yield statement


def _check_characters(line: str, number: int, source: str) -> None:
    if _NEEDS_CHECK.search(line) is None:
        return
    for index, char in enumerate(line):
        code = ord(char)
        if char == "\r":
            reason = "carriage return inside a line (only LF or CRLF line endings are accepted)"
        elif (code < 0x20 and char != "\t") or code == 0x7F:
            reason = f"control character U+{code:04X} is not allowed"
        elif 0xD800 <= code <= 0xDFFF:
            reason = "invalid UTF-8: a byte cannot be decoded"
        else:
            continue
        raise LvsCfError(reason, file=source, line=number, column=index + 1)


def _tokenize(line: str, number: int, source: str,
              warnings: list[LvsCfWarning]) -> Statement | None:
    position = _skip_blanks(line, 0)
    if position == len(line) or line[position] == "#":
        return None
    if '"' not in line and "'" not in line:  # nearly every line: words between blanks
        # interned: the model keeps names, addresses and keys, the same few texts many times
        words = [Token(sys.intern(found.group()), found.start() + 1, None)
                 for found in _WORDS.finditer(line)]
        return Statement(number, tuple(words), words[-1].column + len(words[-1].text))
    return _tokenize_quoted(line, position, number, source, warnings)


def _tokenize_quoted(line: str, position: int, number: int, source: str,
                     warnings: list[LvsCfWarning]) -> Statement:
    """The tokens of a line from its first token at ``position``, quotes and all."""
    tokens: list[Token] = []
    while position < len(line):
        char = line[position]
        if char in "\"'":
            token, end = _quoted_token(line, position, number, source)
            if " " not in token.text and "\t" not in token.text and end < len(line) and \
                    _skip_blanks(line, end) == len(line):
                warnings.append(LvsCfWarning(
                    source, number, None,
                    "blanks after a quoted value without inner blanks: Piranha rejects this "
                    "line (quotation mismatch); remove the trailing blanks",
                ))
        else:
            end = _WORD.match(line, position).end()  # type: ignore[union-attr] - * matches
            token = Token(line[position:end], position + 1, None)
            if '"' in token.text:
                raise LvsCfError(
                    "quotation mismatch: a double quote may only start a value",
                    file=source, line=number, column=position + token.text.index('"') + 1,
                )
        tokens.append(token)
        last_end = end
        position = _skip_blanks(line, end)
    return Statement(number, tuple(tokens), last_end + 1)


def _quoted_token(line: str, start: int, number: int, source: str) -> tuple[Token, int]:
    quote = line[start]
    close = line.find(quote, start + 1)
    if close < 0:
        raise LvsCfError(f"quotation mismatch: no closing {quote} on this line",
                         file=source, line=number, column=start + 1)
    end = close + 1
    if end < len(line) and line[end] not in BLANKS:
        raise LvsCfError(
            f"quotation mismatch: text right after the closing {quote} (there is no escape "
            "for quotes inside a value)",
            file=source, line=number, column=end + 1,
        )
    return Token(line[start + 1:close], start + 1, quote), end


def _skip_blanks(line: str, position: int) -> int:
    return _BLANK_RUN.match(line, position).end()  # type: ignore[union-attr] - * matches
