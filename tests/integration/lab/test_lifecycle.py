"""The lab itself on real UML guests: a killed `up`, a clean `up`, SSH, and a `down` that leaves
nothing behind. Runs as root under its own lab name, so a user's running lab is not touched."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
LABCTL = REPO / "lab" / "labctl"
NAME = "labtest"
ENV = {**os.environ, "LAB_NAME": NAME}
STATE = REPO / ".lab" / NAME
GUESTS = ["lvs1", "lvs2", "web1", "web2", "client"]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")


def labctl(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LABCTL), *args], env=ENV, capture_output=True, text=True,
                          timeout=timeout, check=False, stdin=subprocess.DEVNULL)


def lab_leftovers() -> list[str]:
    found = []
    if Path("/run/netns", NAME).exists():
        found.append(f"namespace {NAME}")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(STATE).encode() in (entry / "cmdline").read_bytes():
                    found.append(f"process {entry.name}")
            except OSError:
                pass
    found += [str(p) for p in STATE.glob("guests/*.cow")]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True,
                           check=False).stdout
    found += [f"host link {line.split(':')[1].strip()}" for line in links.splitlines()
              if line.split(":")[1].strip().startswith("lt")]
    return found


@pytest.fixture(scope="module")
def lab():
    """A lab brought up after an earlier `up` was killed midway; always taken down."""
    # its own stdin: ssh makes an inherited one non-blocking and, killed, never undoes it (then
    # every later Ansible run of the suite refused to start: "Non-blocking file handles")
    killed = subprocess.Popen([str(LABCTL), "up"], env=ENV, start_new_session=True,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and len(list(STATE.glob("guests/*.pid"))) < 2:
            assert killed.poll() is None, "the first `up` ended before it could be killed"
            time.sleep(0.2)
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
        stale = lab_leftovers()
        up = labctl("up")
        yield {"stale": stale, "up": up}
    finally:
        with_retry = labctl("down")
        if with_retry.returncode != 0:
            labctl("down")


def test_a_killed_up_leaves_a_stale_lab_that_the_next_up_clears(lab):
    assert lab["stale"], "killing `up` midway left nothing: the test did not kill it midway"
    assert lab["up"].returncode == 0, lab["up"].stderr
    assert "clearing a stale lab" in lab["up"].stderr


def test_every_guest_answers_ssh_and_reports_its_name(lab):
    for guest in GUESTS:
        result = labctl("ssh", guest, "hostname", timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == guest


def test_status_lists_every_guest_running(lab):
    result = labctl("status")
    assert result.returncode == 0, result.stdout
    assert sum(" running " in line for line in result.stdout.splitlines()) == len(GUESTS)


def test_run_executes_inside_the_namespace(lab):
    result = labctl("run", "--", "ip", "-o", "-4", "addr", "show")
    assert result.returncode == 0, result.stderr
    assert "10.254.0.1/24" in result.stdout and "10.254.1.1/24" in result.stdout


def test_nothing_routes_out_of_the_namespace(lab):
    routes = labctl("run", "--", "ip", "route", "show", "default").stdout
    assert routes.strip() == ""
    forwarding = labctl("run", "--", "sysctl", "-n", "net.ipv4.ip_forward").stdout
    assert forwarding.strip() == "0"


def test_the_generated_inventory_reaches_every_guest_from_the_host(lab):
    result = subprocess.run(
        ["ansible", "-i", str(STATE / "inventory.yml"), "all", "-m", "command",
         "-a", "cat /proc/sys/kernel/hostname"],
        env={**ENV, "ANSIBLE_HOST_KEY_CHECKING": "False"}, capture_output=True, text=True,
        timeout=180, check=False, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    for guest in GUESTS:
        assert f"{guest} | CHANGED | rc=0 >>\n{guest}" in result.stdout


def test_crash_and_boot_a_guest(lab):
    assert labctl("crash", "web2").returncode == 0
    status = labctl("status").stdout
    assert any(line.startswith("web2") and "stopped" in line for line in status.splitlines())
    booted = labctl("boot", "web2")
    assert booted.returncode == 0, booted.stderr
    assert labctl("ssh", "web2", "true").returncode == 0


def test_down_leaves_no_guest_namespace_tap_or_disk_and_is_idempotent(lab):
    guest_pids = [int(p.read_text()) for p in STATE.glob("guests/*.pid")]
    assert len(guest_pids) == len(GUESTS)
    first = labctl("down")
    assert first.returncode == 0, first.stderr
    assert lab_leftovers() == []
    # Not even a zombie: `pgrep -x linux` lists nothing of this lab.
    assert [p for p in guest_pids if Path(f"/proc/{p}").exists()] == []
    second = labctl("down")
    assert second.returncode == 0, second.stderr
    assert lab_leftovers() == []
