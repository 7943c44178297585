# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived.conf's grammar: statements of words, blocks in braces, comments, quoted strings
and ``include`` globs, read into a tree of ``Statement`` objects that know their file and line.

The grammar, as keepalived reads it (keepalived.conf(5)): a statement is a keyword and its
arguments on one line; a ``{`` after them (on the same line or alone on the next) opens its
block, a ``}`` closes it; braces are words of their own even when written against another word
(``url{``). ``#`` or ``!`` outside double quotes starts a comment to the end of the line. A
double-quoted string is one word (the quotes removed; ``\\"`` inside is a quote). ``include
PATTERN`` at any level is replaced by the statements of the files matching the glob, in sorted
order, a relative pattern taken from the including file's folder.

Not read (refused with file and line, as they change what the text means): keepalived's
parameter definitions and substitutions (``$NAME=...``, ``$NAME``), conditional lines
(``@host``), sequences (``~SEQ``) and line continuations (a trailing backslash).

Why our own parser and not the PyPI package ``keepalived-config`` (0.2.1): it reads a line at a
time with one regular expression, so a ``{`` alone on the next line becomes a parameter named
``{``; it has no ``include``, does not handle quoted strings, keeps no line numbers on what it
read (only some errors carry one) and ships no tests. See docs/migrating.md.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

from .result import SourceError

MAX_INCLUDE_DEPTH = 8


@dataclass
class Statement:
    """``keyword args... [{ children }]``; ``block`` is None for a statement without braces."""

    keyword: str
    args: list[str]
    file: str
    line: int
    block: list[Statement] | None = None

    def where(self) -> str:
        return f"{self.file} line {self.line}"

    def children(self, keyword: str) -> list[Statement]:
        return [child for child in self.block or [] if child.keyword == keyword]


@dataclass
class _Word:
    text: str
    line: int
    quoted: bool = False


@dataclass
class _Reader:
    """The words of one file, line by line (a list of lines, each a list of words)."""

    file: str
    lines: list[list[_Word]] = field(default_factory=list)
    position: int = 0


def read_file(path: str) -> tuple[list[Statement], list[str]]:
    """The statements of ``path`` with its includes expanded, and every file read (in order).
    SourceError (file, line, reason) on anything malformed or unreadable."""
    files: list[str] = []
    statements = _read(path, files, depth=0, where=None)
    return statements, files


def parse_text(text: str, file: str,
               base_dir: str | None = None) -> tuple[list[Statement], list[str]]:
    """The statements of ``text`` (named ``file`` in errors); includes are taken from
    ``base_dir`` (default: the folder of ``file``)."""
    files = [file]
    return _parse(text, file, files, 0, base_dir or os.path.dirname(file) or "."), files


def _read(path: str, files: list[str], depth: int, where: Statement | None) -> list[Statement]:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        if where is None:
            raise SourceError(f"cannot read: {error.strerror}", file=path) from None
        raise SourceError(f"include {path}: {error.strerror}", file=where.file,
                          line=where.line) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise SourceError("not UTF-8 text", file=path, line=line) from None
    files.append(path)
    return _parse(text, path, files, depth, os.path.dirname(path) or ".")


def _parse(text: str, file: str, files: list[str], depth: int, base_dir: str) -> list[Statement]:
    reader = _Reader(file, [_words(line, number, file)
                            for number, line in enumerate(text.splitlines(), 1)])
    statements = _block(reader, files, depth, base_dir, opened=None)
    return statements


def _block(reader: _Reader, files: list[str], depth: int, base_dir: str,
           opened: Statement | None) -> list[Statement]:
    """Statements until the ``}`` that closes ``opened`` (or the end of the file at the top)."""
    out: list[Statement] = []
    pending: list[_Word] = []  # words of the rest of the current line
    while True:
        if not pending:
            if reader.position >= len(reader.lines):
                if opened is not None:
                    raise SourceError(f"unexpected end of file: the block of '{opened.keyword}' "
                                      f"opened at line {opened.line} is not closed",
                                      file=reader.file, line=opened.line)
                return out
            pending = reader.lines[reader.position]
            reader.position += 1
            continue
        word = pending[0]
        if word.text == "}" and not word.quoted:
            if opened is None:
                raise SourceError("'}' closes no block", file=reader.file, line=word.line)
            rest = pending[1:]
            if rest:  # `} keyword` on one line: put the rest back as a line of its own
                reader.lines.insert(reader.position, rest)
            return out
        if word.text == "{" and not word.quoted:
            raise SourceError("'{' opens a block without a keyword", file=reader.file,
                              line=word.line)
        words, pending = _statement_words(pending)
        statement = Statement(words[0].text, [w.text for w in words[1:]], reader.file,
                              words[0].line)
        if not pending and _next_line_opens(reader):
            pending = reader.lines[reader.position]
            reader.position += 1
        if pending and pending[0].text == "{" and not pending[0].quoted:
            reader.lines.insert(reader.position, pending[1:])
            pending = []
            statement.block = _block(reader, files, depth, base_dir, opened=statement)
        if statement.keyword == "include" and statement.block is None:
            out.extend(_include(statement, files, depth, base_dir))
        else:
            out.append(statement)


def _statement_words(words: list[_Word]) -> tuple[list[_Word], list[_Word]]:
    """The words of one statement and what follows it on the line (from a brace on)."""
    for index, word in enumerate(words):
        if word.text in ("{", "}") and not word.quoted and index > 0:
            return words[:index], words[index:]
    return words, []


def _next_line_opens(reader: _Reader) -> bool:
    """A ``{`` alone at the start of the next non-empty line belongs to this statement."""
    while reader.position < len(reader.lines) and not reader.lines[reader.position]:
        reader.position += 1
    if reader.position >= len(reader.lines):
        return False
    first = reader.lines[reader.position][0]
    return first.text == "{" and not first.quoted


def _include(statement: Statement, files: list[str], depth: int,
             base_dir: str) -> list[Statement]:
    if len(statement.args) != 1:
        raise SourceError("include takes one file name or glob", file=statement.file,
                          line=statement.line)
    if depth >= MAX_INCLUDE_DEPTH:
        raise SourceError(f"includes nested more than {MAX_INCLUDE_DEPTH} deep (a loop?)",
                          file=statement.file, line=statement.line)
    pattern = statement.args[0]
    if not os.path.isabs(pattern):
        pattern = os.path.join(base_dir, pattern)
    matches = sorted(glob.glob(pattern))
    if not matches:
        # keepalived only warns; an import that silently lost the services of a missing file
        # would be worse than a stop.
        raise SourceError(f"include {statement.args[0]}: no file matches {pattern}",
                          file=statement.file, line=statement.line)
    out: list[Statement] = []
    for path in matches:
        if os.path.isdir(path):
            continue
        out.extend(_read(path, files, depth + 1, statement))
    return out


def _words(line: str, number: int, file: str) -> list[_Word]:
    words: list[_Word] = []
    index = 0
    length = len(line)
    current = ""
    in_word = False
    while index < length:
        char = line[index]
        if char == '"':
            end, text = _quoted(line, index, number, file)
            if in_word:
                current += text
            else:
                words.append(_Word(text, number, quoted=True))
            index = end
            continue
        if char in "#!":
            break
        if char.isspace() or char in "{}":
            if in_word:
                words.append(_Word(current, number))
                current, in_word = "", False
            if char in "{}":
                words.append(_Word(char, number))
            index += 1
            continue
        current += char
        in_word = True
        index += 1
    if in_word:
        words.append(_Word(current, number))
    _refuse_preprocessor(words, line, number, file)
    return words


def _quoted(line: str, start: int, number: int, file: str) -> tuple[int, str]:
    text = []
    index = start + 1
    while index < len(line):
        char = line[index]
        if char == "\\" and index + 1 < len(line) and line[index + 1] == '"':
            text.append('"')
            index += 2
            continue
        if char == '"':
            return index + 1, "".join(text)
        text.append(char)
        index += 1
    raise SourceError("quotation mismatch: a double quote is not closed on its line", file=file,
                      line=number)


def _refuse_preprocessor(words: list[_Word], line: str, number: int, file: str) -> None:
    if not words:
        return
    first = words[0]
    if not first.quoted and first.text[:1] in ("$", "@", "~"):
        raise SourceError(f"'{first.text}': keepalived's parameter definitions, conditional "
                          "lines and sequences are not read by the import (expand them first, "
                          "e.g. with keepalived --config-test and its dump)", file=file,
                          line=number)
    for word in words:
        if not word.quoted and word.text.startswith("$"):
            raise SourceError(f"'{word.text}': parameter substitution is not read by the import",
                              file=file, line=number)
    if line.rstrip().endswith("\\"):
        raise SourceError("a line continuation (trailing backslash) is not read by the import",
                          file=file, line=number)
