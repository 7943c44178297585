# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pulse --mode bgp, a real process in a network namespace of its own, its routes in the real
kernel: it announces a VIP only while the (fake) lvsd it runs reports it can serve, withdraws
when lvsd dies, hangs or loses its servers, and on a planned stop withdraws first and stops
serving only after the drain time."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_pulse import wait_for

REPO = Path(__file__).resolve().parents[3]
FAKE_LVSD = Path(__file__).with_name("fake_lvsd.py")
V4, V6 = "10.77.9.1", "fd00:79::1"
PYTHONPATH = os.pathsep.join([str(REPO / "files" / "lib"), str(REPO / "plugins" / "module_utils")])

LVS_CF = """serial_no = 1
primary = 10.77.0.1
network = direct
virtual web {
    active = 1
    address = 10.77.9.1 lo:1
    port = 80
    server web1 {
        address = 10.77.0.21
        active = 1
    }
    server web2 {
        address = 10.77.0.22
        active = 1
    }
}
virtual web6 {
    active = 1
    address = fd00:79::1 lo
    port = 80
    server web1 {
        address = fd00:77::21
        active = 1
    }
}
"""


def server(name: str, healthy: bool, checked: bool = True) -> dict[str, object]:
    return {"name": name, "healthy": healthy, "last_check": 1.0 if checked else None}


HEALTHY = [{"name": "web", "servers": [server("web1", True), server("web2", True)]},
           {"name": "web6", "servers": [server("web1", True)]}]


class Router:
    """A namespace with lo up, and pulse --mode bgp in it."""

    def __init__(self, directory: Path) -> None:
        self.namespace = f"lvsbgp-{secrets.token_hex(3)}"
        self.dir = directory
        self.config = directory / "lvs.cf"
        self.config.write_text(LVS_CF)
        self.virtuals = directory / "virtuals.json"
        self.process: subprocess.Popen[bytes] | None = None
        subprocess.run(["ip", "netns", "add", self.namespace], check=True)
        self.ip("link", "set", "lo", "up")

    def ip(self, *args: str) -> str:
        return subprocess.run(["ip", "-n", self.namespace, *args], check=True,
                              capture_output=True, text=True).stdout

    def start(self, *extra: str, notify_socket: str | None = None) -> Router:
        env = {**os.environ, "PYTHONPATH": PYTHONPATH, "LVS_CLUSTER_RUN_DIR": str(self.dir),
               "LVS_CLUSTER_STATE_DIR": str(self.dir / "state"),
               "FAKE_LVSD_VIRTUALS": str(self.virtuals)}
        env.pop("NOTIFY_SOCKET", None)
        if notify_socket:
            env["NOTIFY_SOCKET"] = notify_socket
        fake_lvsd = self.dir / "fake-lvsd"
        fake_lvsd.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_LVSD}" "$@"\n')
        fake_lvsd.chmod(0o755)
        self.stderr = open(self.dir / "stderr.log", "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace, sys.executable, "-m", "lvs_agents.pulse",
             "--mode", "bgp", "-v", "-c", str(self.config), "--metrics", "off",
             "--lvsd", str(fake_lvsd), *extra],
            env=env, stdout=self.stderr, stderr=self.stderr)
        return self

    def report(self, virtuals: list[dict[str, object]]) -> None:
        temporary = self.virtuals.with_suffix(".tmp")
        temporary.write_text(json.dumps(virtuals))
        temporary.replace(self.virtuals)

    def announced(self) -> set[str]:
        shown = self.ip("-4", "route", "show", "proto", "252") + \
            self.ip("-6", "route", "show", "proto", "252")
        return {line.split()[0] for line in shown.splitlines()}

    def served(self) -> set[str]:
        shown = self.ip("-4", "route", "show", "table", "local", "dev", "lo") + \
            self.ip("-6", "route", "show", "table", "local", "dev", "lo")
        return {line.split()[1] for line in shown.splitlines()
                if line.startswith("local ") and line.split()[1] in (V4, V6)}

    def status(self) -> dict[str, object] | None:
        try:
            return json.loads((self.dir / "pulse.json").read_text())
        except (OSError, ValueError):
            return None

    def lvsd_pid(self) -> int:
        status = self.status() or {}
        lvsd = status.get("lvsd") or {}
        return lvsd.get("pid") if isinstance(lvsd, dict) else None  # type: ignore[return-value]

    def log(self) -> str:
        return (self.dir / "stderr.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        if self.process is not None:
            self.stderr.close()
        subprocess.run(["pkill", "-KILL", "-f", str(self.dir / "fake-lvsd")], check=False)
        subprocess.run(["ip", "netns", "del", self.namespace], check=False, capture_output=True)


@pytest.fixture
def router(tmp_path: Path) -> Iterator[Router]:
    if os.geteuid() != 0:
        pytest.skip("needs root: creates a network namespace (CI runs as root)")
    instance = Router(tmp_path)
    try:
        yield instance
    finally:
        instance.stop()


def test_announces_once_lvsd_is_ready_and_checked_and_serves_every_vip(router: Router) -> None:
    router.report([{"name": "web", "servers": [server("web1", True, checked=False),
                                               server("web2", True)]},
                   {"name": "web6", "servers": [server("web1", True)]}])
    router.start()
    wait_for(lambda: router.served() == {V4, V6}, what="both VIPs served")
    wait_for(lambda: router.announced() == {V6}, what="the checked VIP announced")
    time.sleep(0.5)
    assert router.announced() == {V6}, "announced before its first round of checks"
    router.report(HEALTHY)
    wait_for(lambda: router.announced() == {V4, V6}, what="both announced")
    status = router.status()
    assert status and status["mode"] == "bgp" and status["state"] == "active"


def test_withdraws_a_vip_without_healthy_servers_and_announces_it_again(router: Router) -> None:
    router.report(HEALTHY)
    router.start()
    wait_for(lambda: router.announced() == {V4, V6}, what="both announced")
    router.report([{"name": "web", "servers": [server("web1", False), server("web2", False)]},
                   HEALTHY[1]])
    wait_for(lambda: router.announced() == {V6}, what=f"{V4} withdrawn")
    assert router.served() == {V4, V6}, "a withdrawn VIP is still served"
    router.report(HEALTHY)
    wait_for(lambda: router.announced() == {V4, V6}, what=f"{V4} announced again")


def test_min_healthy(router: Router) -> None:
    router.report([{"name": "web", "servers": [server("web1", True), server("web2", False)]},
                   HEALTHY[1]])
    router.start("--min-healthy", "2")
    wait_for(lambda: "lvsd reported READY" in router.log(), what="lvsd ready")
    time.sleep(1.0)
    assert router.announced() == set()
    router.report([{"name": "web", "servers": [server("web1", True), server("web2", True)]},
                   HEALTHY[1]])
    wait_for(lambda: router.announced() == {V4}, what=f"{V4} with 2 healthy servers")


def test_withdraws_when_lvsd_dies_and_announces_after_its_restart(router: Router) -> None:
    router.report(HEALTHY)
    router.start()
    wait_for(lambda: router.announced() == {V4, V6}, what="both announced")
    pid = router.lvsd_pid()
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: router.announced() == set(), timeout=1.0, what="withdrawn at lvsd's death")
    wait_for(lambda: router.announced() == {V4, V6}, what="announced after lvsd's restart")
    assert router.lvsd_pid() != pid


def test_withdraws_when_lvsd_hangs(router: Router) -> None:
    router.report(HEALTHY)
    router.start()
    wait_for(lambda: router.announced() == {V4, V6}, what="both announced")
    pid = router.lvsd_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        stopped = time.monotonic()
        wait_for(lambda: router.announced() == set(), timeout=6.0, what="withdrawn")
        assert time.monotonic() - stopped >= 2.5, "withdrawn before lvsd's status was stale"
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: router.announced() == {V4, V6}, what="announced once lvsd writes again")


def test_a_planned_stop_withdraws_first_and_serves_through_the_drain(router: Router) -> None:
    router.report(HEALTHY)
    router.start("--drain", "1.5")
    wait_for(lambda: router.announced() == {V4, V6}, what="both announced")
    assert router.process is not None
    router.process.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    wait_for(lambda: router.announced() == set(), timeout=1.0, what="withdrawn at once")
    assert router.served() == {V4, V6}, "stopped serving before the drain"
    assert router.process.poll() is None
    assert router.process.wait(10) == 0
    assert time.monotonic() - stopped >= 1.4
    assert router.served() == set()
    assert router.status()["state"] == "draining"  # type: ignore[index]


def test_a_leftover_announcement_of_an_unknown_vip_is_withdrawn_at_start(router: Router) -> None:
    router.ip("route", "add", "10.77.9.9/32", "dev", "lo", "proto", "252")
    router.report(HEALTHY)
    router.start()
    wait_for(lambda: router.announced() == {V4, V6}, what="the configured VIPs announced")


def test_reload_serves_a_new_vip_and_drops_a_removed_one(router: Router) -> None:
    router.report(HEALTHY)
    router.start()
    wait_for(lambda: router.announced() == {V4, V6}, what="both announced")
    router.config.write_text(LVS_CF.split("virtual web6", maxsplit=1)[0])  # web6 removed
    assert router.process is not None
    router.process.send_signal(signal.SIGHUP)
    wait_for(lambda: router.announced() == {V4}, what=f"{V6} withdrawn")
    wait_for(lambda: router.served() == {V4}, what=f"{V6} no longer served")
    router.config.write_text(LVS_CF)
    router.process.send_signal(signal.SIGHUP)
    wait_for(lambda: router.announced() == {V4, V6}, what=f"{V6} back")
    assert router.served() == {V4, V6}


def test_reload_puts_back_what_a_hand_edit_changed(router: Router) -> None:
    """The drift playbook's correction in bgp mode is a reload: routes deleted or added by hand
    are made what pulse decided again."""
    router.report([HEALTHY[0], {"name": "web6", "servers": [server("web1", False)]}])
    router.start()
    wait_for(lambda: router.announced() == {V4}, what=f"{V4} announced")
    router.ip("route", "del", f"{V4}/32", "dev", "lo", "proto", "252")
    router.ip("route", "del", "table", "local", "local", V6, "dev", "lo")
    router.ip("-6", "route", "add", f"{V6}/128", "dev", "lo", "proto", "252")
    time.sleep(0.5)
    assert router.announced() == {V6} and router.served() == {V4}, "pulse undid the edits itself"
    assert router.process is not None
    router.process.send_signal(signal.SIGHUP)
    wait_for(lambda: router.announced() == {V4} and router.served() == {V4, V6},
             what="the routes as pulse decided them")
    log = router.log()
    assert f"VIP {V4}'s announce route was gone: announced again" in log
    assert f"VIP {V6} was not served (its local route was gone): served again" in log
    assert f"VIP {V6} had an announce route pulse did not make: withdrawn" in log


def test_a_bad_lvs_cf_names_file_and_line(router: Router) -> None:
    router.config.write_text(LVS_CF.replace("port = 80", "port = eighty", 1))
    router.start()
    assert router.process is not None
    assert router.process.wait(20) == 2
    assert f"{router.config} line" in router.log() and "port" in router.log()
    assert "Traceback" not in router.log()
    assert router.announced() == set()


def test_systemd_hears_ready_only_once_the_first_round_of_checks_is_done(router: Router) -> None:
    path = str(router.dir / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(path)
        listener.settimeout(0.2)
        router.report([{"name": "web", "servers": [server("web1", True, checked=False)]},
                       HEALTHY[1]])
        router.start(notify_socket=path)
        wait_for(lambda: "lvsd reported READY" in router.log(), what="lvsd ready")
        time.sleep(1.0)
        messages = []
        with contextlib.suppress(TimeoutError):
            while True:
                messages.append(listener.recv(4096).decode())
        assert not any("READY=1" in m for m in messages), messages
        router.report(HEALTHY)
        listener.settimeout(5.0)
        while True:
            message = listener.recv(4096).decode()
            if "READY=1" in message:
                break
        assert router.announced() == {V4, V6}
