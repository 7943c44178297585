# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""runtime: status files, sd_notify over a real socket, journald priorities and lvs.cf loading."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pytest
from lvs_agents import runtime

REPO = Path(__file__).resolve().parents[3]


def test_status_files_are_written_whole_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv("LVS_CLUSTER_RUN_DIR", str(tmp_path / "run"))
    path = runtime.write_status("pulse", {"state": "active"})
    data = runtime.read_status("pulse")
    assert data["state"] == "active" and data["pid"] == os.getpid() and data["version"] == 1
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["pulse.json"]  # no temp file left
    assert runtime.read_status("lvsd") is None
    Path(path).write_text("{half")
    assert runtime.read_status("pulse") is None


def test_notify_sends_a_datagram_to_notify_socket(tmp_path, monkeypatch):
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(address)
        monkeypatch.setenv("NOTIFY_SOCKET", address)
        assert runtime.notify("READY=1", "STATUS=active")
        assert server.recv(100) == b"READY=1\nSTATUS=active"
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not runtime.notify("READY=1")


def test_journal_lines_carry_syslog_priorities(monkeypatch, capsys):
    monkeypatch.setenv("JOURNAL_STREAM", "8:1234")
    log = runtime.setup_logging("pulse")
    try:
        log.error("one\ntwo")
        log.info("three")
        err = capsys.readouterr().err
    finally:
        logging.getLogger().handlers[:] = []
    assert err.splitlines() == ["<3>one", "<3>two", "<6>three"]


def test_load_config_names_file_and_line(tmp_path):
    bad = tmp_path / "lvs.cf"
    bad.write_text("primary = 10.0.0.1\nkeepalive = soon\n")
    with pytest.raises(runtime.ConfigError, match=r"lvs.cf line 2, column 13: keepalive"):
        runtime.load_config(str(bad))
    with pytest.raises(runtime.ConfigError, match="cannot read"):
        runtime.load_config(str(tmp_path / "missing.cf"))
