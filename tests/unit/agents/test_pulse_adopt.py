# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvsd outlives a SIGKILLed pulse and the restarted pulse adopts it (pulse_adopt, lvsd_orphan):
a real pulse (recording netops, as in test_pulse.py) running the real lvsd on a shadow table
(--test-start), killed and started again in the same run directory. Plus the rules alone."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lvs_agents import lvsd_orphan, pulse_adopt
from test_pulse import KEY, MASTER_IP, Node, free_udp_port, wait_for

REPO = Path(__file__).resolve().parents[3]
# the real server is on loopback: lvsd's checks send nothing off this host
CONFIG = """serial_no = 1
primary = {ip}
backup_active = 0
heartbeat_port = {port}
keepalive = 0.2
deadtime = 1
network = direct
heartbeat_key_file = {key}
virtual web {{
    active = 1
    address = 10.254.0.100 eth0:1
    port = 80
    server web1 {{
        address = 127.0.0.21
        active = 1
    }}
}}
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def lvsd_of(node: Node) -> dict:
    return (node.status() or {}).get("lvsd") or {}


@pytest.fixture
def node(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    key_file.chmod(0o600)
    pythonpath = os.pathsep.join([str(REPO / "files" / "lib"),
                                  str(REPO / "plugins" / "module_utils")])
    port = free_udp_port()
    node = Node("master", MASTER_IP, tmp_path, pythonpath, port, key_file)
    node.config.write_text(CONFIG.format(ip=MASTER_IP, port=port, key=key_file))
    program = tmp_path / "lvsd"  # the launcher, called by the name of the command
    program.symlink_to(REPO / "files" / "bin" / "lvs-cluster")
    node.options = ("--lvsd", str(program), "--lvsd-option=--test-start",
                    "--lvsd-option=--orphan-grace=3")
    node.lvsd_pids = set()
    yield node
    node.stop()
    for pid in node.lvsd_pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def start_with_lvsd_ready(node: Node) -> int:
    node.start(*node.options)
    wait_for(lambda: lvsd_of(node).get("ready"), timeout=30, what="lvsd READY")
    pid = lvsd_of(node)["pid"]
    node.lvsd_pids.add(pid)
    return pid


def kill_pulse(node: Node) -> None:
    node.process.kill()
    node.process.wait(10)


def test_a_restarted_pulse_adopts_the_lvsd_its_killed_predecessor_left(node):
    first = start_with_lvsd_ready(node)
    kill_pulse(node)
    time.sleep(1.0)
    assert alive(first), "lvsd went with the killed pulse"
    started = time.monotonic()
    node.start(*node.options)
    wait_for(lambda: lvsd_of(node).get("adopted"), timeout=20, what="the lvsd adopted")
    print(f"adopted {time.monotonic() - started:.2f} s after the restart")
    assert lvsd_of(node) == {"pid": first, "ready": True, "restarts": 0, "adopted": True}
    assert f"adopted lvsd (pid {first}), READY" in node.log()
    time.sleep(4)  # longer than lvsd's orphan grace: adopted, it stays
    assert alive(first) and lvsd_of(node)["pid"] == first
    assert "adopted by pulse" in node.log()
    node.signal(signal.SIGTERM)  # stopped by the pulse that adopted it
    assert node.process.wait(15) == 0
    wait_for(lambda: not alive(first), timeout=5, what="the adopted lvsd stopped with pulse")


def test_an_adopted_lvsd_that_dies_is_restarted(node):
    first = start_with_lvsd_ready(node)
    kill_pulse(node)
    node.start(*node.options)
    wait_for(lambda: lvsd_of(node).get("adopted"), timeout=20, what="the lvsd adopted")
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: lvsd_of(node).get("pid") not in (None, first) and lvsd_of(node)["ready"],
             timeout=30, what="a new lvsd READY")
    node.lvsd_pids.add(lvsd_of(node)["pid"])
    assert lvsd_of(node)["restarts"] == 1 and lvsd_of(node)["adopted"] is False
    assert "lvsd exited with status unknown" in node.log()


def test_an_orphaned_lvsd_that_no_pulse_adopts_exits_after_its_grace(node):
    first = start_with_lvsd_ready(node)
    kill_pulse(node)
    killed = time.monotonic()
    time.sleep(2.0)
    assert alive(first)
    wait_for(lambda: not alive(first), timeout=10, what="the orphan's exit")
    assert time.monotonic() - killed >= 3.0
    assert "no pulse adopted this lvsd within 3 s" in node.log()


def test_an_orphan_that_has_not_reported_ready_is_stopped_not_adopted(node, tmp_path):
    first = start_with_lvsd_ready(node)
    kill_pulse(node)
    status = (node.dir / "lvsd.json")
    os.kill(first, signal.SIGSTOP)  # hung: its status goes stale
    try:
        time.sleep(6)
        node.start(*node.options)
        wait_for(lambda: lvsd_of(node).get("pid") not in (None, first) and lvsd_of(node)["ready"],
                 timeout=30, what="a new lvsd READY")
    finally:
        if alive(first):
            os.kill(first, signal.SIGCONT)
    node.lvsd_pids.add(lvsd_of(node)["pid"])
    assert lvsd_of(node)["adopted"] is False
    assert f"not adopting the orphaned lvsd (pid {first}): its status is not current" \
        in node.log()
    wait_for(lambda: not alive(first), timeout=10, what="the unfit orphan stopped")
    assert status.exists()


def test_an_orphan_missing_from_lvsd_json_is_found_and_stopped(node):
    """The run directory can go with the unit (systemd's RuntimeDirectory=): the orphan is
    found in /proc all the same, and stopped, so that two lvsd never run on one table."""
    first = start_with_lvsd_ready(node)
    kill_pulse(node)
    # gone, and kept from coming back: the orphan rewrites it every second (and may do so
    # between the two steps)
    for _attempt in range(10):
        (node.dir / "lvsd.json").unlink(missing_ok=True)
        try:
            (node.dir / "lvsd.json").mkdir()
            break
        except FileExistsError:
            continue
    assert (node.dir / "lvsd.json").is_dir()
    node.start(*node.options)
    wait_for(lambda: lvsd_of(node).get("pid") not in (None, first) and lvsd_of(node)["ready"],
             timeout=30, what="a new lvsd READY")
    node.lvsd_pids.add(lvsd_of(node)["pid"])
    assert f"not adopting the orphaned lvsd (pid {first}): it is not the lvsd in lvsd.json" \
        in node.log()
    assert not alive(first)


# --- the rules alone --------------------------------------------------------------------------

def test_runs_lvsd_needs_the_program_the_file_and_a_readiness_pipe():
    line = ["python3", "-I", "/usr/sbin/lvsd", "--nodaemon", "-c", "/etc/lvs.cf",
            "--ready-fd", "5"]
    assert pulse_adopt.runs_lvsd(line, "/usr/sbin/lvsd", "/etc/lvs.cf")
    assert not pulse_adopt.runs_lvsd(line, "/usr/sbin/lvsd", "/etc/other.cf")
    assert not pulse_adopt.runs_lvsd(line, "/opt/lvsd", "/etc/lvs.cf")
    assert not pulse_adopt.runs_lvsd(line[:-2], "/usr/sbin/lvsd", "/etc/lvs.cf")
    assert not pulse_adopt.runs_lvsd([], "/usr/sbin/lvsd", "/etc/lvs.cf")


def test_fit_to_adopt_wants_ready_and_a_current_status():
    now = 1000.0
    assert pulse_adopt.fit_to_adopt({"ready": True, "updated": now - 1}, now) is None
    assert pulse_adopt.fit_to_adopt({"ready": False, "updated": now}, now) == \
        "it has not reported READY"
    assert pulse_adopt.fit_to_adopt({"ready": True, "updated": now - 60}, now) == \
        "its status is not current"
    assert pulse_adopt.fit_to_adopt(None, now) == "it has not reported READY"


def test_orphan_watch_counts_its_grace_from_the_parent_s_death_and_stops_when_adopted():
    me = os.getpid()
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        report: dict = {}
        watch = lvsd_orphan.OrphanWatch(lambda: report, logging.getLogger("t"), grace=30,
                                        parent=4242)
        assert not watch.should_exit(0.0, parent=4242)  # its parent: not an orphan
        assert not watch.should_exit(10.0, parent=1)  # orphaned at 10
        assert not watch.should_exit(39.9, parent=1)
        report.update(pid=helper.pid, lvsd={"pid": me})  # a running pulse names it
        assert not watch.should_exit(50.0, parent=1) and watch.orphaned_since is None
        report.update(lvsd={"pid": me + 1})  # that pulse runs another lvsd now
        assert not watch.should_exit(60.0, parent=1)
        assert watch.should_exit(90.0, parent=1)
    finally:
        helper.kill()
        helper.wait()


def test_adopted_by_pulse_needs_a_live_pulse_naming_this_lvsd():
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert lvsd_orphan.adopted_by_pulse({"pid": helper.pid, "lvsd": {"pid": 7}}, 7)
        assert not lvsd_orphan.adopted_by_pulse({"pid": helper.pid, "lvsd": {"pid": 8}}, 7)
        assert not lvsd_orphan.adopted_by_pulse({"pid": True, "lvsd": {"pid": 7}}, 7)
        assert not lvsd_orphan.adopted_by_pulse({"pid": helper.pid}, 7)
        assert not lvsd_orphan.adopted_by_pulse(None, 7)
    finally:
        helper.kill()
        helper.wait()
    assert not lvsd_orphan.adopted_by_pulse({"pid": helper.pid, "lvsd": {"pid": 7}}, 7)
