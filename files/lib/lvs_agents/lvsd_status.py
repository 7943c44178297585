# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvsd.json's text, kept per virtual so that a write does not serialize every server.

lvsd rewrites lvsd.json every second (its readers take a file older than a few seconds for a
hung lvsd). At 10,000 virtuals of 10 servers, serializing the whole document each time took
about a second of CPU on the host (25 MB of JSON, 100,000 dicts built and thrown away) and kept
lvsd busy for good. Here a virtual's entry is serialized again only when it matters:

* at once when something a reader acts on changed: a server's health, state, weight or last
  result (``changed``), or the configuration (``reset``);
* when only a server's check counters or last check time moved (``counted``), a bounded number
  of entries per write, the longest-waiting first: with up to ``REFRESH_PER_WRITE`` virtuals
  every entry is current at every write, as before; above it the counters of an entry lag by at
  most ``virtuals / REFRESH_PER_WRITE`` writes (50 s at 10,000 virtuals).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Iterator, Mapping
from typing import Any, Protocol

REFRESH_PER_WRITE = 200
CHUNK = 1 << 16


class _Entry(Protocol):
    def status(self) -> dict[str, object]: ...


class StatusCache:
    """The JSON text of each virtual's entry in lvsd.json, by service key."""

    def __init__(self, refresh_per_write: int = REFRESH_PER_WRITE) -> None:
        self.refresh_per_write = refresh_per_write
        self.texts: dict[Hashable, str] = {}
        self.counting: dict[Hashable, None] = {}  # insertion order: the longest waiting first
        self.serialized = 0  # entries serialized so far (the tests count them)

    def changed(self, key: Hashable) -> None:
        """Something a reader acts on changed in this virtual: serialized at the next write."""
        self.texts.pop(key, None)
        self.counting.pop(key, None)

    def counted(self, key: Hashable) -> None:
        """Only check counters or times changed: refreshed when its turn comes."""
        if key in self.texts and key not in self.counting:
            self.counting[key] = None

    def reset(self) -> None:
        self.texts.clear()
        self.counting.clear()

    def entries(self, virtuals: Mapping[Hashable, _Entry]) -> Iterator[str]:
        """The entries' texts in the order of ``virtuals``, refreshed as the rules above say."""
        for _turn in range(min(self.refresh_per_write, len(self.counting))):
            waiting = next(iter(self.counting))
            del self.counting[waiting]
            self.texts.pop(waiting, None)
        for key, state in virtuals.items():
            text = self.texts.get(key)
            if text is None:
                text = self.texts[key] = json.dumps(state.status(), sort_keys=True)
                self.serialized += 1
            yield text
        if len(self.texts) > len(virtuals):  # entries of virtuals no longer there
            for key in [key for key in self.texts if key not in virtuals]:
                self.changed(key)


def document_parts(header: Mapping[str, Any], entries: Iterable[str],
                   chunk: int = CHUNK) -> Iterator[bytes]:
    """lvsd.json as a stream of bytes: ``header``'s keys sorted, then ``virtuals``; in pieces
    of about ``chunk`` bytes (one system call each, not one per entry: under User-Mode Linux
    10,000 writes cost 0.4 s of CPU)."""
    head = json.dumps(dict(header), sort_keys=True)
    pending = [head[:-1] + (', "virtuals": [' if len(head) > 2 else '"virtuals": [')]
    size, separator = 0, ""
    for text in entries:
        pending.append(separator + text)
        size += len(text)
        separator = ", "
        if size >= chunk:
            yield "".join(pending).encode()
            pending, size = [], 0
    pending.append("]}")
    yield "".join(pending).encode()
