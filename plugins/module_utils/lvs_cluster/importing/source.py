# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One entry point for the import: read a file, recognise its format (Piranha's lvs.cf or
keepalived.conf) unless told, and map it to the router role's variables."""

from __future__ import annotations

from .keepalived import import_keepalived, looks_like_keepalived
from .piranha import import_lvs_cf
from .result import ImportResult, SourceError

FORMATS = ("auto", "piranha", "keepalived")


def recognise(text: str) -> str:
    """``keepalived`` when the text has keepalived's blocks, else ``piranha`` (lvs.cf's
    ``key = value`` lines; the parser then names the line that is neither)."""
    return "keepalived" if looks_like_keepalived(text) else "piranha"


def import_source(path: str, source_format: str = "auto") -> ImportResult:
    """The import of ``path``; SourceError naming file and line when it cannot be read."""
    if source_format not in FORMATS:
        raise SourceError(f"format {source_format!r} is none of {', '.join(FORMATS)}", file=path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise SourceError(f"cannot read: {error.strerror}", file=path) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SourceError("not UTF-8 text", file=path,
                          line=data[:error.start].count(b"\n") + 1) from None
    if source_format == "auto":
        source_format = recognise(text)
    if source_format == "keepalived":
        return import_keepalived(path)
    return import_lvs_cf(text, path)
