"""The scale-out lab's held connections (lab/cluster/flows.py) against the lab's own web server
(Python's http.server, as lab/cluster/web.yml runs it), on loopback."""

from __future__ import annotations

import functools
import http.server
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "lab" / "cluster"), str(REPO / "playbooks" / "files")]

import flows  # noqa: E402


@pytest.fixture
def web(tmp_path):
    (tmp_path / "index.html").write_text("web1\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_connection_held_for_many_trickles_is_still_answered(web):
    """An event of 50 s is 100 trickles at 0.5 s: http.server closes a request after 100
    header lines, which once broke all 60 held connections of a bench trial."""
    held = flows.Held("127.0.0.1", web)
    for number in range(1, 301):
        held.trickle(number)
    assert held.finish() == "web1", held.error
