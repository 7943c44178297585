# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pulse and the last good lvs.cf: one pulse process (test_pulse's Node: the recording netops,
a fake lvsd) killed and started again with lvs.cf broken meanwhile, as systemd restarts it."""

from __future__ import annotations

import os
import signal

import pytest
from test_pulse import KEY, REPO, Node, free_udp_port, lvs_cf, wait_for

PYTHONPATH = os.pathsep.join([str(REPO / "files" / "lib"), str(REPO / "plugins" / "module_utils")])


@pytest.fixture
def node(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    key_file.chmod(0o600)
    master = Node("master", "127.0.0.11", tmp_path, PYTHONPATH, free_udp_port(), key_file)
    yield master
    master.stop()


def lvsd_log(node):
    path = node.dir / "fake-lvsd.log"
    return path.read_text() if path.exists() else ""


def active_with_lvsd(node):
    status = node.status() or {}
    return status.get("state") == "active" and (status.get("lvsd") or {}).get("ready")


def test_a_pulse_restarted_with_a_bad_lvs_cf_serves_the_last_good_copy(node):
    good = node.config.read_text()
    copy = node.dir / "state" / "lvs.cf.last-good"  # each Node has its own state directory
    node.start()
    wait_for(lambda: active_with_lvsd(node), what="a lone master, active")
    assert copy.read_text() == good
    node.stop()  # SIGKILL; systemd would start it again at once

    bad = good + "bogus_key = 1\n"
    node.config.write_text(bad)
    node.start()
    wait_for(lambda: active_with_lvsd(node), what="the restarted pulse, active")
    status = node.status()
    assert status["last_good"]["in_use"] is True, node.log()[-3000:]
    assert status["last_good"]["problem"].startswith(
        f"{node.config} line {len(bad.splitlines())}, column 1: unknown command 'bogus_key'")
    assert [vip["present"] for vip in status["vips"]] == [True]
    assert "the last good configuration from" in node.log()
    assert f"--last-good {copy}" in lvsd_log(node)  # lvsd applies the same rule to the same copy
    assert copy.read_text() == good

    fixed = lvs_cf(node.port, node.dir.parent / "key", vips=(
        ("web", "10.254.0.100", 1), ("mail", "10.254.0.101", 2)))
    node.config.write_text(fixed)
    node.signal(signal.SIGHUP)
    wait_for(lambda: node.status()["last_good"]["in_use"] is False, what="back to lvs.cf")
    assert node.status()["last_good"]["problem"] is None
    assert {vip["ip"]: vip["present"] for vip in node.status()["vips"]} == {
        "10.254.0.100": True, "10.254.0.101": True}
    assert copy.read_text() == fixed
    wait_for(lambda: "HUP" in lvsd_log(node), what="SIGHUP forwarded to lvsd")


def test_a_pulse_with_a_bad_lvs_cf_and_no_copy_exits_2(node):
    bad = node.config.read_text() + "bogus_key = 1\n"
    node.config.write_text(bad)
    node.start()
    assert node.process.wait(20) == 2
    assert f"{node.config} line {len(bad.splitlines())}" in node.log()
    assert "Traceback" not in node.log()
    assert not (node.dir / "state" / "lvs.cf.last-good").exists()


def test_pulse_keeps_the_copy_where_it_is_told_and_lvsd_uses_the_same(node, tmp_path):
    copy = tmp_path / "elsewhere" / "lvs.cf.copy"
    node.start("--last-good", str(copy))
    wait_for(lambda: active_with_lvsd(node), what="a lone master, active")
    assert copy.read_text() == node.config.read_text()
    assert f"--last-good {copy}" in lvsd_log(node)
    assert node.status()["last_good"]["path"] == str(copy)
