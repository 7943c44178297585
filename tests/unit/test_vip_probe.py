# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/files/vip_probe.py, the drill's client, on loopback: a failed request is None for
``one_request`` (lab/cluster/probe.py reads it so), and the probe names each failure's step."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "playbooks" / "files"))
import vip_probe  # noqa: E402  pylint: disable=wrong-import-position


def closed_port() -> int:
    with socket.socket() as sock:  # bound, never listening: a connect is refused
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refused_request_is_none_for_one_request():
    assert vip_probe.one_request("127.0.0.1", closed_port(), 0.5) is None


def test_the_probe_counts_and_names_each_failure():
    result = vip_probe.probe("127.0.0.1", closed_port(), interval=0.05, timeout=0.5,
                             duration=0.2, recovered=1.0, ready_file=None, done_file=None)
    assert result["requests"] == result["failed"] > 0
    assert result["failures"][0]["step"].startswith("connect: ")
    assert result["slowest_answer_s"] == 0.0
