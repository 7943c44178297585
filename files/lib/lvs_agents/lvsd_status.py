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
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

REFRESH_PER_WRITE = 200
CHUNK = 1 << 16


class Entry(Protocol):
    """A virtual's state as the cache sees it: its entry, and where its text is kept (on the
    state itself: a check's verdict reaches thousands of them, and a dict keyed by service
    would hash a service key for each)."""

    status_text: str | None
    status_waiting: bool

    def status(self) -> dict[str, object]: ...


class StatusCache:
    """Which virtuals' entries in lvsd.json are to be serialized again, and when."""

    def __init__(self, refresh_per_write: int = REFRESH_PER_WRITE) -> None:
        self.refresh_per_write = refresh_per_write
        self.waiting: deque[Entry] = deque()  # counters moved: the longest waiting first
        self.serialized = 0  # entries serialized so far (the tests count them)

    @staticmethod
    def changed(entry: Entry) -> None:
        """Something a reader acts on changed in this virtual: serialized at the next write."""
        entry.status_text = None

    def counted(self, entry: Entry) -> None:
        """Only check counters or times changed: refreshed when its turn comes."""
        if entry.status_text is not None and not entry.status_waiting:
            entry.status_waiting = True
            self.waiting.append(entry)

    def reset(self) -> None:
        """A new set of virtuals (a reload): each is serialized at the next write."""
        self.waiting.clear()

    def entries(self, virtuals: Iterable[Entry]) -> Iterator[str]:
        """The entries' texts in the order of ``virtuals``, refreshed as the rules above say."""
        for _turn in range(min(self.refresh_per_write, len(self.waiting))):
            entry = self.waiting.popleft()
            entry.status_waiting = False
            entry.status_text = None
        for entry in virtuals:
            text = entry.status_text
            if text is None:
                text = entry.status_text = json.dumps(entry.status(), sort_keys=True)
                self.serialized += 1
            yield text


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
