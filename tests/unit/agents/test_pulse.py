# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pulse as a process: two real pulses on 127.0.0.11 / 127.0.0.12 exchanging real UDP
heartbeats, with the network side swapped for the recording fake (recording_netops.py, injected
by run_pulse_with_recording_netops.py) and a fake lvsd. Everything is observed through
pulse.json and the recorders' logs, polled with generous bounds; every process is killed in a
finalizer."""

from __future__ import annotations

import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lvs_agents import heartbeat as hb
from lvs_agents import pulse

REPO = Path(__file__).resolve().parents[3]
FAKE_LVSD = Path(__file__).with_name("fake_lvsd.py")
RUN_PULSE = Path(__file__).with_name("run_pulse_with_recording_netops.py")
MASTER_IP, BACKUP_IP = "127.0.0.11", "127.0.0.12"
KEY = b"a test key that is long enough\n"
DEADTIME = 0.5
SLACK = 2.5  # generous: two cores shared with other test runs

VIRTUAL = """
virtual {name} {{
    active = 1
    address = {vip} eth0:{label}
    vip_nmask = 255.255.255.0
    port = 80
    server web1 {{
        address = 10.254.0.21
        active = 1
    }}
}}
"""


def lvs_cf(port, key_file, vips=(("web", "10.254.0.100", 1),)):
    head = (f"serial_no = 1\nprimary = {MASTER_IP}\nbackup = {BACKUP_IP}\nbackup_active = 1\n"
            f"heartbeat_port = {port}\nkeepalive = 0.1\ndeadtime = {DEADTIME}\n"
            f"network = direct\nheartbeat_key_file = {key_file}\n")
    return head + "".join(VIRTUAL.format(name=n, vip=v, label=label) for n, v, label in vips)


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def pythonpath(tmp_path_factory):
    return os.pathsep.join([str(REPO / "files" / "lib"), str(REPO / "plugins" / "module_utils")])


class Node:
    def __init__(self, name, ip, directory, pythonpath, port, key_file):
        self.name, self.ip, self.port = name, ip, port
        self.dir = directory / name
        self.dir.mkdir(exist_ok=True)
        self.config = self.dir / "lvs.cf"
        self.config.write_text(lvs_cf(port, key_file))
        self.netlog = self.dir / "netops.jsonl"
        self.pythonpath = pythonpath
        self.process = None

    def start(self, *extra):
        env = {**os.environ, "PYTHONPATH": self.pythonpath, "LVS_CLUSTER_RUN_DIR": str(self.dir),
               "LVS_CLUSTER_STATE_DIR": str(self.dir / "state")}
        env.pop("NOTIFY_SOCKET", None)
        self.stderr = open(self.dir / "stderr.log", "ab")  # noqa: SIM115 - closed in stop()
        with open(self.dir / "pulse.json", "w"):
            pass  # an empty file: status() is None until the new process writes
        # pulse runs lvsd as a program: a wrapper runs the fake one with this interpreter
        fake_lvsd = self.dir / "fake-lvsd"
        fake_lvsd.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_LVSD}" "$@"\n')
        fake_lvsd.chmod(0o755)
        self.process = subprocess.Popen(
            [sys.executable, str(RUN_PULSE), str(self.netlog), self.ip,
             "-n", "-v", "-c", str(self.config),
             "--metrics", "off", "--lvsd", str(fake_lvsd), *extra],
            env=env, stdout=self.stderr, stderr=self.stderr)
        return self

    def status(self):
        try:
            data = json.loads((self.dir / "pulse.json").read_text())
        except (OSError, ValueError):
            return None
        if self.process is None or data.get("pid") != self.process.pid:
            return None
        return data

    def state(self):
        status = self.status()
        return status and status["state"]

    def log(self):
        return (self.dir / "stderr.log").read_text(errors="replace")

    def calls(self, name):
        if not self.netlog.exists():
            return []
        lines = self.netlog.read_text().splitlines()
        return [entry for entry in map(json.loads, lines) if entry["call"] == name]

    def signal(self, signum):
        self.process.send_signal(signum)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        if self.process is not None:
            self.stderr.close()


@pytest.fixture
def cluster(tmp_path, pythonpath):
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    key_file.chmod(0o600)
    port = free_udp_port()
    nodes = {name: Node(name, ip, tmp_path, pythonpath, port, key_file)
             for name, ip in (("master", MASTER_IP), ("backup", BACKUP_IP))}
    yield nodes
    for node in nodes.values():
        node.stop()


def settled(master, backup):
    """Both running, the master active, the backup standby and both hearing the other."""
    m, b = master.status(), backup.status()
    return bool(m and b and m["state"] == "active" and b["state"] == "standby"
                and m["peer"]["state"] == "stopped" and b["peer"]["state"] == "running"
                and b["lvsd"]["ready"] and m["lvsd"]["ready"])


def start_pair(cluster):
    # The backup starts once the master's pulse runs: on a loaded machine one Python process
    # can start more than a deadtime after the other, and a backup that runs alone for
    # a deadtime takes over, as it should (seen at load 5-12). The simultaneous start itself
    # (startup grace) is the state machine's (test_pulse_state.py).
    master = cluster["master"].start()
    wait_for(master.status, what="the master's pulse running")
    backup = cluster["backup"].start()
    try:
        wait_for(lambda: settled(master, backup), what="master active, backup standby")
    except AssertionError as error:
        raise AssertionError(f"{error}\nmaster: {master.status()}\n{master.log()[-3000:]}\n"
                             f"backup: {backup.status()}\n{backup.log()[-3000:]}") from None
    # and the backup's startup grace (max(deadtime, 1 s)) is over
    stays(lambda: settled(master, backup), pulse.STARTUP_GRACE_MIN + DEADTIME)
    return master, backup


def stays(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert predicate()
        time.sleep(0.02)


def test_cold_start_master_wins_crash_failover_and_no_flap(cluster):
    master, backup = start_pair(cluster)
    status = master.status()
    assert status["node"] == "primary" and backup.status()["node"] == "backup"
    assert status["vips"] == [{"ip": "10.254.0.100", "prefix": 24, "device": "eth0",
                               "label": "eth0:1", "present": True}]
    assert status["heartbeat"]["authenticated"] is True
    assert status["heartbeat"]["received"] > 0
    stays(lambda: settled(master, backup), 0.5)
    assert [c["args"]["ip"] for c in master.calls("Announcer.announce")][:1] == ["10.254.0.100"]

    killed, killed_at = time.monotonic(), time.time()
    master.process.kill()
    wait_for(lambda: backup.state() == "active", timeout=DEADTIME + SLACK, what="takeover")
    assert time.monotonic() - killed < DEADTIME + SLACK
    assert backup.status()["vips"][0]["present"] is True
    assert backup.status()["peer"]["state"] == "unknown"

    master.stop()
    master.start()
    wait_for(lambda: master.state() == "standby" and
             master.status()["peer"]["state"] == "running", what="returning primary standby")
    transitions = backup.status()["transitions"]
    stays(lambda: master.state() == "standby" and backup.state() == "active", 1.0)
    assert master.status()["transitions"] == 0
    assert backup.status()["transitions"] == transitions
    assert not [c for c in master.calls("ensure_address") if c["time"] > killed_at]


def test_a_killed_active_pulse_is_not_replaced_while_its_vip_still_answers(cluster):
    """SIGKILL of the active pulse leaves its addresses and IPVS table in the kernel, serving,
    and its host answers the backup's heartbeats with ICMP port unreachable. Taking the VIP
    then would make two holders (keepalived's users know it as "VIP on both nodes"): the
    backup stays standby while the VIP answers ARP, and takes over once it does not."""
    master, backup = start_pair(cluster)
    (backup.dir / "netops.jsonl.arp-answer").touch()
    master.process.kill()
    wait_for(lambda: len(backup.calls("arp_probe")) >= 2, timeout=4 * DEADTIME + SLACK,
             what="the backup's VIP checks")
    assert backup.state() == "standby"
    assert "its host refuses the heartbeats" in backup.log()
    assert backup.status()["heartbeat"]["peer_refused"] > 0
    (backup.dir / "netops.jsonl.arp-answer").unlink()
    wait_for(lambda: backup.state() == "active", timeout=DEADTIME + SLACK,
             what="takeover once no VIP answers")
    assert backup.status()["transitions"] == 1


def test_lvsd_yields_the_cpu_to_pulse(cluster):
    """lvsd's start-up takes seconds of CPU on a small router; pulse's heartbeats come first."""
    master = cluster["master"].start()
    wait_for(lambda: ((master.status() or {}).get("lvsd") or {}).get("pid"), what="lvsd started")
    pid = master.status()["lvsd"]["pid"]
    pulse_niceness = os.getpriority(os.PRIO_PROCESS, master.process.pid)
    assert os.getpriority(os.PRIO_PROCESS, pid) == pulse_niceness + 5


def test_sigterm_of_the_active_hands_over_at_once(cluster):
    master, backup = start_pair(cluster)
    master.signal(signal.SIGTERM)
    assert master.process.wait(10) == 0
    wait_for(lambda: backup.state() == "active", timeout=SLACK, what="takeover")
    removed = master.calls("remove_address")[-1]["time"]
    added = backup.calls("ensure_address")[-1]["time"]
    assert 0 <= added - removed < DEADTIME, "the takeover waited for a deadtime"
    assert "now active (PEER_HEARTBEAT)" in backup.log()
    assert "stopping" in master.log()
    lvsd_log = (master.dir / "fake-lvsd.log").read_text()
    assert "start --nodaemon -c" in lvsd_log and "--ready-fd" in lvsd_log


def forged(sender, running=False, key=None, **fields):
    values = {"epoch": 1, "sequence": 1, "clock_ms": int(time.monotonic() * 1000), **fields}
    heartbeat = hb.Heartbeat(running, hb.ROLE_PRIMARY, sender, **values)
    return hb.encode(heartbeat, key or KEY.strip())


def logged_at(log, text):
    """The time of the first log line containing ``text`` (pulse's asctime, to the ms)."""
    line = next(line for line in log.splitlines() if text in line)
    stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
    return stamp.timestamp()


def test_a_slow_start_is_not_a_silent_peer(cluster):
    """A backup that takes longer than deadtime to start (a loaded machine) counts its peer's
    silence from when it is ready to hear it: it takes over a whole deadtime after START, not
    at its first look (here the master never starts, so it does take over)."""
    backup = cluster["backup"]
    Path(str(backup.netlog) + ".slowstart").write_text(str(4 * DEADTIME))
    backup.start()
    wait_for(lambda: (backup.status() or {}).get("state") == "active", what="backup active")
    log = backup.log()
    # (its peer's host refuses the heartbeats here: the expiry starts the VIP check first)
    waited = logged_at(log, "DEADTIME_EXPIRED -> ") - logged_at(log, "START ->")
    # (a bug expires at once, ~0 s; pulse counts from an instant a few ms before it logs START)
    assert waited >= 0.9 * DEADTIME, log


def test_a_restarted_pulse_holding_its_vips_resumes_without_touching_them(cluster):
    """pulse killed and restarted by systemd while active: its VIPs are still up, so it resumes
    and says so in its first heartbeat; adding them again would load pyroute2 (1.4 s in a lab
    guest) before that heartbeat. The address library is warmed after it, for a takeover."""
    master = cluster["master"]
    Path(str(master.netlog) + ".hand-add").write_text("10.254.0.100\n")
    master.start()
    wait_for(lambda: (master.status() or {}).get("state") == "active", what="master active")
    assert "every VIP is already on this node: resuming as active" in master.log()
    assert not master.calls("ensure_address") and not master.calls("remove_address")
    wait_for(lambda: master.calls("warm"), what="address library warmed")


def test_forged_replayed_and_legacy_datagrams_change_nothing(cluster):
    master, backup = start_pair(cluster)
    before = backup.status()
    epoch = master.status()["heartbeat"]["epoch"]
    datagrams = {
        "bad_mac": forged(MASTER_IP, key=b"not the key at all, 32 bytes...."),
        "legacy": hb.encode_legacy(False),
        # the master's epoch, a sequence ahead of its own, sent 10 s before its clock's now
        "stale": forged(MASTER_IP, epoch=epoch, sequence=2**40,
                        clock_ms=int(time.monotonic() * 1000) - 10_000),
        "replay": forged(MASTER_IP, epoch=epoch - 1),
        "malformed": b"LVSH\x01" + b"\0" * 20,
    }
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spoofer:
        # the master's heartbeat address and port (shared with its pulse): what a spoofer on the
        # heartbeat network can send, and all the kernel lets through to the connected socket
        spoofer.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        spoofer.bind((MASTER_IP, backup.port))
        for _attempt in range(3):
            for data in datagrams.values():
                spoofer.sendto(data, (BACKUP_IP, backup.port))
    # from anyone else, even the master's address on another port: never delivered to pulse
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        stranger.bind(("127.0.0.99", 0))
        stranger.sendto(forged("127.0.0.99"), (BACKUP_IP, backup.port))
        stranger.sendto(forged(MASTER_IP), (BACKUP_IP, backup.port))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other_port:
        other_port.bind((MASTER_IP, 0))
        other_port.sendto(forged(MASTER_IP), (BACKUP_IP, backup.port))

    def counted():
        rejected = backup.status()["heartbeat"]["rejected"]
        return all(rejected[reason] >= 3 for reason in datagrams)
    wait_for(counted, what="rejections counted in pulse.json")
    assert backup.status()["heartbeat"]["rejected"]["unknown_source"] == \
        before["heartbeat"]["rejected"]["unknown_source"]
    stays(lambda: settled(master, backup), 0.5)
    after = backup.status()
    assert after["transitions"] == before["transitions"]
    assert not backup.calls("ensure_address")


def test_a_restarted_pulse_remembers_the_peer_and_starts_a_larger_epoch(cluster):
    """The peer's last (epoch, sequence) is kept in the state directory: a heartbeat the backup
    accepted before its restart is a replay after it. Its own next epoch is larger."""
    master, backup = start_pair(cluster)
    epoch = backup.status()["heartbeat"]["epoch"]
    backup.signal(signal.SIGTERM)
    assert backup.process.wait(10) == 0
    stored = json.loads((backup.dir / "state" / "heartbeat.json").read_text())
    assert stored["epoch"] == epoch
    master_epoch, sequence = stored["peers"][MASTER_IP]
    assert master_epoch == master.status()["heartbeat"]["epoch"] and sequence > 0
    backup.start()
    wait_for(lambda: settled(master, backup), what="backup standby again")
    assert backup.status()["heartbeat"]["epoch"] > epoch
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as capture_replayer:
        capture_replayer.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        capture_replayer.bind((MASTER_IP, backup.port))
        capture_replayer.sendto(forged(MASTER_IP, running=False, epoch=master_epoch,
                                       sequence=sequence), (BACKUP_IP, backup.port))
    wait_for(lambda: backup.status()["heartbeat"]["rejected"]["replay"] == 1,
             what="the replay counted")
    stays(lambda: settled(master, backup), 0.5)


# A flood of heartbeat-shaped datagrams (right length, magic and version, so each one costs an
# HMAC if it reaches the verifier) at full speed to the backup's heartbeat port, from a stranger
# and from the master's address on another port, until the file named by argv[4] disappears.
FLOOD = r"""
import os, socket, sys, struct
target = (sys.argv[1], int(sys.argv[2]))
senders = []
for source in sys.argv[3].split(","):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    sock.setblocking(False)
    senders.append(sock)
body = b"LVSH" + bytes([2, 1, 0, 0]) + os.urandom(16 + 24 + 32)
sent = 0
while os.path.exists(sys.argv[4]):
    for sock in senders:
        for _ in range(200):
            try:
                sock.sendto(body, target)
                sent += 1
            except OSError:
                pass
print(sent)
"""


def test_a_heartbeat_flood_changes_nothing(cluster, tmp_path):
    """Datagrams from anyone but the peer's heartbeat socket never reach pulse's verifier, and
    however many arrive, pulse keeps sending heartbeats and running its timers."""
    master, backup = start_pair(cluster)
    before = {name: node.status()["transitions"] for name, node in cluster.items()}
    running = tmp_path / "flooding"
    running.write_text("")
    flood = subprocess.Popen([sys.executable, "-c", FLOOD, BACKUP_IP, str(backup.port),
                              f"127.0.0.99,{MASTER_IP}", str(running)],
                             stdout=subprocess.PIPE, text=True)
    try:
        stays(lambda: settled(master, backup), 20 * DEADTIME)
    finally:
        running.unlink()
        sent = int(flood.communicate(timeout=30)[0] or 0)
    assert sent > 10_000, f"the flood sent only {sent} datagrams"
    assert {name: node.status()["transitions"] for name, node in cluster.items()} == before
    assert backup.status()["heartbeat"]["rejected"]["bad_mac"] == 0


def test_key_file_readable_by_others_is_refused(cluster):
    node = cluster["master"]
    key_file = node.dir.parent / "key"
    key_file.chmod(0o644)
    node.start()
    assert node.process.wait(20) == 2
    assert f"{key_file}: mode 0644" in node.log()


def test_bad_lvs_cf_names_file_and_line(cluster):
    node = cluster["master"]
    node.config.write_text(node.config.read_text() + "bogus_key = 1\n")
    node.start()
    assert node.process.wait(20) == 2
    lines = len(node.config.read_text().splitlines())
    assert f"{node.config} line {lines}" in node.log()
    assert "Traceback" not in node.log()


def test_a_key_rotation_by_sighup_keeps_the_pair(cluster):
    """The role's rotation: both routers also accept the new key; each sends with it (the old
    one still accepted); the old one is dropped - a SIGHUP after each step, no restart. Never
    a rejected heartbeat, never a transition."""
    new_key = b"the next heartbeat key, 32 bytes"
    nodes = (cluster["master"], cluster["backup"])

    def write(node, name, content):
        path = node.dir / name
        path.write_bytes(content)
        path.chmod(0o600)
        return path

    for node in nodes:
        node.config.write_text(lvs_cf(node.port, write(node, "heartbeat.key", KEY)))
    master, backup = start_pair(cluster)
    before = {node: node.status() for node in nodes}

    def step(node, send, accept):
        write(node, "heartbeat.key", send)
        if accept is None:
            (node.dir / "heartbeat.key.accept").unlink()
        else:
            write(node, "heartbeat.key.accept", accept)
        node.signal(signal.SIGHUP)
        ids = [hb.key_id(key.strip()) for key in (send, accept) if key is not None]
        wait_for(lambda: node.status()["heartbeat"]["key_ids"] == ids, what=f"keys {ids}")
        stays(lambda: settled(master, backup), 2 * DEADTIME)

    for node in nodes:
        step(node, KEY, new_key)
    for node in nodes:
        step(node, new_key, KEY)
    for node in nodes:
        step(node, new_key, None)
    for node in nodes:
        after = node.status()
        assert after["transitions"] == before[node]["transitions"]
        assert after["heartbeat"]["rejected"] == before[node]["heartbeat"]["rejected"]
        assert "keys: sending with" in node.log()


def test_sighup_adds_a_vip_while_active(cluster):
    master, backup = start_pair(cluster)
    key_file = master.dir.parent / "key"
    master.config.write_text(lvs_cf(master.port, key_file, vips=(
        ("web", "10.254.0.100", 1), ("mail", "10.254.0.101", 2))))
    master.signal(signal.SIGHUP)

    def new_vip_present():
        vips = {vip["ip"]: vip for vip in master.status()["vips"]}
        return vips.get("10.254.0.101", {}).get("present")
    wait_for(new_vip_present, what="the added VIP on the master")
    assert {"ip": "10.254.0.101", "device": "eth0"} in [
        call["args"] for call in master.calls("Announcer.announce")]
    wait_for(lambda: "HUP" in (master.dir / "fake-lvsd.log").read_text(),
             what="SIGHUP forwarded to lvsd")
    assert master.state() == "active"

    master.config.write_text(master.config.read_text() + "nonsense\n")  # a bad reload
    master.signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in master.log(), what="the refused reload")
    assert master.process.poll() is None and master.state() == "active"


def test_lvsd_dying_sets_childfail_and_the_peer_takes_over(cluster):
    master, backup = start_pair(cluster)
    child = master.status()["lvsd"]["pid"]
    os.kill(child, signal.SIGKILL)
    wait_for(lambda: backup.state() == "active", timeout=SLACK, what="the backup takes over")
    wait_for(lambda: master.status()["lvsd"]["restarts"] == 1 and master.status()["lvsd"]["ready"]
             and master.status()["flags"] == [], what="lvsd restarted, CHILDFAIL cleared")
    assert "CHILDFAIL" in master.log() or master.status()["transitions"] >= 1
    assert master.status()["lvsd"]["pid"] != child
    stays(lambda: master.state() == "standby" and backup.state() == "active", 0.5)


def test_lone_backup_with_backup_active_0_exits_0(cluster):
    node = cluster["backup"]
    node.config.write_text(node.config.read_text().replace("backup_active = 1",
                                                           "backup_active = 0"))
    node.start()
    assert node.process.wait(20) == 0
    assert "backup is marked inactive" in node.log()


def test_norun_changes_nothing(cluster):
    node = cluster["master"]
    node.config.write_text(node.config.read_text().replace("backup_active = 1",
                                                           "backup_active = 0"))
    node.start("--norun")
    wait_for(lambda: node.state() == "active", what="lone master active after deadtime")
    assert node.status()["lvsd"]["pid"] is None
    assert not node.calls("ensure_address") and not node.calls("Announcer.announce")
    assert "norun: would ensure address 10.254.0.100/24 on eth0:1" in node.log()
    node.signal(signal.SIGTERM)
    assert node.process.wait(10) == 0


def test_tiebreaker_blocks_takeover_until_it_agrees(cluster):
    node = cluster["backup"]  # alone: its master never answers
    (node.dir / "netops.jsonl.noecho").touch()
    node.start("--tiebreaker", "127.0.0.1", "--tiebreaker", "127.0.0.2")
    wait_for(lambda: len(node.calls("icmp_echo")) >= 4, what="two tie-breaks")
    assert node.state() == "standby" and not node.calls("arp_probe")
    (node.dir / "netops.jsonl.arp-answer").touch()
    (node.dir / "netops.jsonl.noecho").unlink()
    wait_for(lambda: node.calls("arp_probe"), what="an ARP probe of the VIP")
    assert node.state() == "standby"
    (node.dir / "netops.jsonl.arp-answer").unlink()
    wait_for(lambda: node.state() == "active", what="takeover once the tie-breaker agrees")
    assert "tie-breaker: 2 of 2 answered, no VIP in use" in node.log()


def test_link_down_blocks_and_stands_down(cluster):
    node = cluster["master"]
    node.config.write_text(node.config.read_text().replace(
        "backup_active = 1", "backup_active = 1\nmonitor_links = 1"))
    node.start()
    wait_for(lambda: node.state() == "active", what="lone master active")
    (node.dir / "netops.jsonl.linkdown").touch()
    wait_for(lambda: node.status()["flags"] == ["LINKFAIL"] and node.state() == "standby",
             what="LINKFAIL and stand-down")
    assert node.status()["vips"][0]["present"] is False
    (node.dir / "netops.jsonl.linkdown").unlink()
    wait_for(lambda: node.state() == "active", what="active again after the link returns")


@pytest.mark.parametrize("change, message", [
    ("no_virtual", "no active virtual"),
    ("no_key_line", "heartbeat_key_file is not set"),
    ("missing_key", "cannot open"),
])
def test_refuses_to_start(cluster, change, message):
    node = cluster["master"]
    text = node.config.read_text()
    if change == "no_virtual":
        text = text.replace("active = 1\n    address", "active = 0\n    address")
    elif change == "no_key_line":
        text = "".join(line for line in text.splitlines(True) if "heartbeat_key" not in line)
    else:
        text = text.replace(str(node.dir.parent / "key"), str(node.dir / "absent"))
    node.config.write_text(text)
    node.start()
    assert node.process.wait(20) == 2
    assert message in node.log() and "Traceback" not in node.log()


def test_legacy_heartbeat_pair(cluster):
    master, backup = cluster["master"].start("--legacy-heartbeat"), \
        cluster["backup"].start("--legacy-heartbeat")
    wait_for(lambda: settled(master, backup), what="legacy pair settles")
    assert master.status()["heartbeat"]["authenticated"] is False


# --- in-process pieces -------------------------------------------------------------------------


def test_prefix_length():
    assert pulse.prefix_length("255.255.255.0", "10.0.0.1") == 24
    assert pulse.prefix_length(None, "10.0.0.1") == 32
    assert pulse.prefix_length(None, "2001:db8::1") == 128
    assert pulse.prefix_length(64, "2001:db8::1") == 64


def test_local_addresses_sees_loopback():
    from lvs_agents import netops

    assert netops.local_addresses().get("127.0.0.1") == "lo"


def test_split_host_port():
    assert pulse.split_host_port("127.0.0.1:9539") == ("127.0.0.1", 9539)
    assert pulse.split_host_port("[::1]:9539") == ("::1", 9539)
    with pytest.raises(ValueError):
        pulse.split_host_port("9539")


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as raised:
        pulse.parse_args(["--metrics", "nowhere"])
    assert raised.value.code == 2
    with pytest.raises(SystemExit):
        pulse.parse_args(["--tiebreaker", "gateway"])
    assert "--tiebreaker gateway: not an IP address" in capsys.readouterr().err


def test_sighup_restores_a_vip_removed_by_hand_and_clears_one_added_on_the_standby(cluster):
    master, backup = start_pair(cluster)
    Path(str(master.netlog) + ".hand-del").write_text("10.254.0.100\n")
    Path(str(backup.netlog) + ".hand-add").write_text("10.254.0.100\n")
    announced = len(master.calls("Announcer.announce"))
    master.signal(signal.SIGHUP)
    backup.signal(signal.SIGHUP)
    wait_for(lambda: "1 restored" in master.log(), what="the master's reload")
    wait_for(lambda: "standby holds 10.254.0.100" in backup.log(), what="the backup's reload")
    ensured = [call for call in master.calls("ensure_address") if call["result"]]
    assert ensured and ensured[-1]["args"]["ip"] == "10.254.0.100"
    assert len(master.calls("Announcer.announce")) == announced + 1
    removed = [call for call in backup.calls("remove_address") if call["result"]]
    assert removed and removed[-1]["args"]["ip"] == "10.254.0.100"
    assert master.state() == "active" and backup.state() == "standby"


def test_a_reload_that_turns_the_sync_daemon_on_or_off_applies_it_at_once(cluster):
    """The role applies a changed lvs.cf by a reload: turning `syncdaemon` on must start each
    router's sync daemon in its state then (the active one master, the standby backup), not at
    the next takeover - else the first failover after the rollout loses every connection (seen
    by make bench-scaleout) - and a changed interface or sync id moves it; turning it off stops
    them."""
    master, backup = start_pair(cluster)
    assert master.calls("sync_daemon") == [] and backup.calls("sync_daemon") == []
    for node in (master, backup):
        node.config.write_text(node.config.read_text() + "syncdaemon = 1\nsyncd_iface = eth1\n")
        node.signal(signal.SIGHUP)
    wait_for(lambda: master.calls("sync_daemon") and backup.calls("sync_daemon"),
             what="the sync daemons started by the reload")
    assert [c["args"] for c in master.calls("sync_daemon")] == [
        {"state": "master", "interface": "eth1", "sync_id": 0}]
    assert [c["args"] for c in backup.calls("sync_daemon")] == [
        {"state": "backup", "interface": "eth1", "sync_id": 0}]
    master.config.write_text(master.config.read_text() + "syncd_id = 7\n")
    master.signal(signal.SIGHUP)
    wait_for(lambda: len(master.calls("sync_daemon")) == 2, what="the sync daemon moved")
    assert master.calls("sync_daemon")[-1]["args"] == {
        "state": "master", "interface": "eth1", "sync_id": 7}
    master.config.write_text(master.config.read_text().replace("syncdaemon = 1", "syncdaemon = 0"))
    master.signal(signal.SIGHUP)
    wait_for(lambda: len(master.calls("sync_daemon")) == 3, what="the sync daemon stopped")
    assert master.calls("sync_daemon")[-1]["args"] == {
        "state": None, "interface": "eth1", "sync_id": 7}
    master.signal(signal.SIGHUP)  # nothing changed: nothing done
    wait_for(lambda: master.log().count("reloaded ") >= 4, what="the fourth reload")
    assert len(master.calls("sync_daemon")) == 3
    assert master.state() == "active" and backup.state() == "standby"


def test_lvsd_options_are_passed_on(cluster):
    node = cluster["master"].start("--lvsd-option=--resync=600", "--lvsd-option=-x")
    wait_for(lambda: "start" in _fake_lvsd_log(node), what="lvsd started")
    assert " --resync=600 -x" in _fake_lvsd_log(node)


def _fake_lvsd_log(node):
    path = node.dir / "fake-lvsd.log"
    return path.read_text() if path.exists() else ""
