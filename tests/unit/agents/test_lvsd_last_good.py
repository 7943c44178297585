# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvsd and the last good lvs.cf: ``lvsd.main`` against the fake IPVS kernel, as pulse starts
it (after a crash, or with pulse) with lvs.cf bad on disk."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "module_utils"))

from fake_ipvs_kernel import FakeIpvsKernel  # noqa: E402
from lvs_agents import lvsd  # noqa: E402
from lvs_cluster.ipvs import netlink as nl  # noqa: E402
from test_lvsd import lvs_cf  # noqa: E402

BAD = lvs_cf().replace("scheduler = wlc", "scheduler = nope")
BAD_LINE = next(n for n, line in enumerate(BAD.splitlines(), 1) if "nope" in line)


def service_ports(fake):
    return sorted(s.port for s, _stats in nl.IpvsNetlink(fake).services())


def run_lvsd(monkeypatch, argv, fake, steps=()):
    """lvsd.main(argv) on the fake kernel; once READY, each (delay, action) in turn, then
    SIGTERM. Returns the exit status and lvsd.json as lvsd left it (None: none written)."""
    original = lvsd.Lvsd.signal_ready

    def ready(self):
        original(self)
        loop = asyncio.get_running_loop()
        delay = 0.0
        for wait, action in steps:
            delay += wait
            loop.call_later(delay, action)
        loop.call_later(delay + 0.5, os.kill, os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(lvsd.Lvsd, "signal_ready", ready)
    code = lvsd.main(["-n", *argv], kernel_factory=lambda: nl.IpvsNetlink(fake))
    status_file = os.path.join(os.environ["LVS_CLUSTER_RUN_DIR"], "lvsd.json")
    if not os.path.exists(status_file):
        return code, None
    with open(status_file) as stream:
        return code, json.load(stream)


@pytest.fixture(autouse=True)
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LVS_CLUSTER_RUN_DIR", str(tmp_path / "run"))


def test_lvsd_started_with_a_bad_lvs_cf_serves_the_last_good_copy(
        tmp_path, state_dir, monkeypatch, capfd):
    config = tmp_path / "lvs.cf"
    config.write_text(BAD)
    state_dir.mkdir()
    (state_dir / "lvs.cf.last-good").write_text(lvs_cf())
    fake = FakeIpvsKernel()
    code, status = run_lvsd(monkeypatch, ["-c", str(config)], fake)
    assert code == 0
    assert service_ports(fake) == [8080]
    assert status["last_good"]["in_use"] is True
    assert status["last_good"]["problem"].startswith(f"{config} line {BAD_LINE}, column ")
    assert "scheduler" in status["last_good"]["problem"]
    assert status["last_good"]["path"] == str(state_dir / "lvs.cf.last-good")
    assert "the last good configuration from" in capfd.readouterr().err


def test_lvsd_with_a_bad_lvs_cf_and_no_copy_exits_2(tmp_path, state_dir, capsys):
    config = tmp_path / "lvs.cf"
    config.write_text(BAD)
    assert lvsd.main(["-n", "-c", str(config)], kernel_factory=lambda: None) == 2
    assert f"{config} line {BAD_LINE}" in capsys.readouterr().err
    assert not (state_dir / "lvs.cf.last-good").exists()


def test_lvsd_keeps_a_good_lvs_cf_where_it_is_told(tmp_path, monkeypatch):
    config = tmp_path / "lvs.cf"
    config.write_text(lvs_cf())
    copy = tmp_path / "elsewhere" / "copy"
    code, status = run_lvsd(monkeypatch, ["-c", str(config), "--last-good", str(copy)],
                            FakeIpvsKernel())
    assert code == 0 and copy.read_text() == lvs_cf()
    assert status["last_good"] == {"path": str(copy), "in_use": False, "problem": None,
                                   "saved_at": pytest.approx(copy.stat().st_mtime)}


def test_a_sighup_with_a_fixed_file_returns_lvsd_to_normal(tmp_path, state_dir, monkeypatch):
    config = tmp_path / "lvs.cf"
    config.write_text(BAD)
    state_dir.mkdir()
    (state_dir / "lvs.cf.last-good").write_text(lvs_cf())
    fixed = lvs_cf(vport=8081)

    def fix():
        config.write_text(fixed)
        os.kill(os.getpid(), signal.SIGHUP)

    fake = FakeIpvsKernel()
    code, status = run_lvsd(monkeypatch, ["-c", str(config)], fake, [(0.2, fix)])
    assert code == 0 and status["reloads"] == 1
    assert status["last_good"]["in_use"] is False and status["last_good"]["problem"] is None
    assert service_ports(fake) == [8081]  # the copy's service went with the reload
    assert (state_dir / "lvs.cf.last-good").read_text() == fixed


def test_a_refused_sighup_is_flagged(tmp_path, state_dir, monkeypatch):
    config = tmp_path / "lvs.cf"
    config.write_text(lvs_cf())

    def break_it():
        config.write_text(BAD)
        os.kill(os.getpid(), signal.SIGHUP)

    fake = FakeIpvsKernel()
    code, status = run_lvsd(monkeypatch, ["-c", str(config)], fake, [(0.2, break_it)])
    assert code == 0 and status["reloads"] == 0
    assert status["last_good"]["in_use"] is True
    assert f"line {BAD_LINE}" in status["last_good"]["problem"]
    assert service_ports(fake) == [8080]
    assert (state_dir / "lvs.cf.last-good").read_text() == lvs_cf()
