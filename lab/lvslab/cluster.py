"""A running LVS cluster in the lab, for the agents' integration tests and the failover bench.

`Cluster` boots (or reuses) a lab of the default topology and rolls the cluster out with the
collection itself: `lab/cluster/rollout.yml` runs `lvs.cluster.site` (the real_server and router
roles) with the lab's declaration `lab/cluster/inventory`, between the lab's own tooling (web
servers, the client's probe). Settings are the roles' variables (router_keepalive,
router_virtual_servers, ...), given as extra variables. It offers what a test does to the
cluster: run commands on guests, read the agents' status, crash and boot guests, and probe the
VIP from the client.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .probe_stats import excess_failures_p

REPO = Path(__file__).resolve().parents[2]
LABCTL = REPO / "lab" / "labctl"
PLAYBOOKS = REPO / "lab" / "cluster"
DECLARATION = PLAYBOOKS / "inventory"
ROUTERS = ("lvs1", "lvs2")
REAL_SERVERS = ("web1", "web2")
VIP = "10.254.0.100"
ADDRESSES = {"lvs1": "10.254.0.11", "lvs2": "10.254.0.12", "web1": "10.254.0.21",
             "web2": "10.254.0.22", "client": "10.254.0.50"}


class ClusterError(RuntimeError):
    pass


@dataclass
class ProbeResult:
    """The client's view: each probe's send time, and whether (and by whom) it was served."""

    samples: list[tuple[float, str | None]]  # (monotonic time, server name or None)

    def served_by(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, server in self.samples:
            if server:
                counts[server] = counts.get(server, 0) + 1
        return counts

    def failures(self) -> int:
        return sum(1 for _, server in self.samples if not server)

    def more_failures_than(self, quiet: ProbeResult, significance: float = 0.01) -> float | None:
        """Whether this run's failures are more than a run with nothing happening (`quiet`)
        could give by chance: the one-sided p-value when it is below `significance`, else None
        (``probe_stats.excess_failures_p``)."""
        return excess_failures_p(self.failures(), len(self.samples), quiet.failures(),
                                 len(quiet.samples), significance)

    def longest_gap(self) -> float:
        """Seconds between the last good response before the longest outage and the first good
        response after it (0 when no probe failed)."""
        good = [moment for moment, server in self.samples if server]
        if len(good) < 2:
            return float("inf")
        gaps = [after - before for before, after in zip(good, good[1:], strict=False)]
        worst = max(gaps)
        return worst if self.failures() else 0.0


class Cluster:
    """The lab `name` (default topology) with the cluster rolled out by `deploy()`.

    Every command gets its own stdin (/dev/null or a pipe): ssh makes an inherited stdin
    non-blocking, and ansible-playbook then refuses to run."""

    def __init__(self, name: str, topology: Path | None = None,
                 declaration: Path = DECLARATION) -> None:
        """`topology`: the lab's (default: lab/topologies/default.yml); `declaration`: the
        inventory folder whose group_vars declare the cluster (default: lab/cluster/inventory)."""
        self.name = name
        self.env = {**os.environ, "LAB_NAME": name}
        if topology is not None:
            self.env["LAB_TOPOLOGY"] = str(topology)
        self.declaration = declaration
        self.state = REPO / ".lab" / name
        # Ansible's SSH masters of this lab only: labs share guest addresses, and Ansible's
        # default control path (one per address) would reach another lab's guest.
        self.ansible_control_dir = REPO / ".lab" / "cp" / name

    def inventory_host(self, guest: str) -> str:
        """The address Ansible reaches `guest` on (its ansible_host in the lab's inventory)."""
        inventory = yaml.safe_load((self.state / "inventory.yml").read_text())
        return str(inventory["all"]["children"]["lab"]["hosts"][guest]["ansible_host"])

    # -- lab life cycle --------------------------------------------------------------------
    def labctl(self, *args: str, timeout: float = 300, check: bool = True
               ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(LABCTL), *args], env=self.env, capture_output=True,
                                stdin=subprocess.DEVNULL, text=True, timeout=timeout,
                                check=False)
        if check and result.returncode != 0:
            raise ClusterError(f"labctl {' '.join(args)}: {result.stderr.strip()}")
        return result

    def up(self) -> None:
        self.labctl("up", timeout=600)

    def down(self) -> None:
        if self.labctl("down", check=False).returncode != 0:
            self.labctl("down", check=False)

    def crash(self, guest: str) -> None:
        self.labctl("crash", guest)
        self.end_ssh_masters(guest)

    def end_ssh_masters(self, guest: str) -> None:
        """End the SSH connection masters to `guest` (this lab's own and Ansible's). A crashed
        guest never closes its end, so its masters hang until their persist time runs out and
        a command sent through them meanwhile fails ("mux_client_request_session: read from
        master failed"); the next command opens a fresh connection instead."""
        address = self.inventory_host(guest)
        # Ansible names its sockets by a hash of host, port (unset: None) and user.
        ansible = hashlib.sha1(f"{address}-None-root".encode()).hexdigest()[:10]
        for command in (["ssh", "-F", str(self.state / "ssh_config"), "-O", "exit", guest],
                        ["ssh", "-S", str(self.ansible_control_dir / ansible), "-O", "exit",
                         address]):
            subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                           check=False)

    def boot(self, guest: str) -> None:
        self.labctl("boot", guest, timeout=300)

    # -- commands on guests -----------------------------------------------------------------
    def ssh(self, guest: str, command: str, timeout: float = 60, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["ssh", "-F", str(self.state / "ssh_config"), guest, command],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
            check=False)
        if check and result.returncode != 0:
            raise ClusterError(f"{guest}: {command}: exit {result.returncode}: "
                               f"{(result.stderr or result.stdout).strip()[-2000:]}")
        return result

    def spawn(self, guest: str, command: str, stdin: bool = False) -> subprocess.Popen[str]:
        return subprocess.Popen(["ssh", "-F", str(self.state / "ssh_config"), guest, command],
                                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def playbook(self, playbook: str, extra: Mapping[str, Any] | None = None,
                 limit: str | None = None, timeout: float = 900
                 ) -> subprocess.CompletedProcess[str]:
        """Run `playbook` (a file of lab/cluster, or a collection playbook such as
        lvs.cluster.site) on the lab's inventory and the cluster's declaration, with `extra` as
        extra variables."""
        target = str(PLAYBOOKS / playbook) if playbook.endswith(".yml") else playbook
        command = ["ansible-playbook", "-i", str(self.state / "inventory.yml"),
                   "-i", str(self.declaration), target]
        if extra:
            command += ["-e", json.dumps(dict(extra))]
        if limit:
            command += ["--limit", limit]
        env = {**self.env, "ANSIBLE_CONFIG": str(self.state / "ansible.cfg"),
               "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.ansible_control_dir)}
        venv_bin = REPO / ".venv" / "bin"
        if venv_bin.is_dir():
            env["PATH"] = f"{venv_bin}:{env.get('PATH', '')}"
        result = subprocess.run(command, env=env, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=timeout, check=False)
        if result.returncode != 0:
            raise ClusterError(f"{playbook} failed:\n{result.stdout[-6000:]}\n{result.stderr}")
        return result

    def deploy(self, limit: str | None = None, **settings: Any) -> None:
        """Roll the cluster out (lab/cluster/rollout.yml: web servers, lvs.cluster.site, the
        client's tools) with `settings` as role variables; from bare guests, or again."""
        self.playbook("rollout.yml", settings, limit=limit)

    def configure(self, **settings: Any) -> None:
        """New settings on the routers as a cold start: pulse stopped on both, then the router
        role applies `settings` and starts pulse on both at once (after `deploy`)."""
        self.playbook("rollout.yml", {**settings, "lab_cold_start": True}, limit="lvs_routers")

    def reload(self, **settings: Any) -> None:
        """New settings on the routers as the router role applies them: a changed lvs.cf is a
        reload (pulse and lvsd apply it in place), new pulse options a restart."""
        self.playbook("lvs.cluster.site", settings, limit="lvs_routers")

    # -- what the agents say ----------------------------------------------------------------
    def status(self, router: str, agent: str = "pulse") -> dict[str, Any] | None:
        result = self.ssh(router, f"cat /run/lvs-cluster/{agent}.json", check=False)
        if result.returncode != 0:
            return None
        try:
            return json.loads(result.stdout)
        except ValueError:
            return None

    def holds_vip(self, router: str, vip: str = VIP, timeout: float = 20) -> bool:
        """Whether `router` has `vip`; a router that does not answer in time (crashed) has not."""
        try:
            result = self.ssh(router, f"ip -o addr show to {vip}", check=False, timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return result.returncode == 0 and vip in result.stdout

    def vip_holders(self, routers: Iterable[str] = ROUTERS, vip: str = VIP,
                    timeout: float = 20) -> list[str]:
        return [router for router in routers if self.holds_vip(router, vip, timeout)]

    def active_router(self, timeout: float = 60) -> str:
        """The one router whose pulse says active and which holds the VIP."""
        deadline = time.monotonic() + timeout
        while True:
            holders = self.vip_holders()
            states = {r: (self.status(r) or {}).get("state") for r in ROUTERS}
            active = [r for r in ROUTERS if states[r] == "active"]
            if len(holders) == 1 and active == holders:
                return holders[0]
            if time.monotonic() > deadline:
                raise ClusterError(f"no single active router: VIP on {holders}, "
                                   f"states {states}")
            time.sleep(0.5)

    def wait_for(self, what: str, predicate: Any, timeout: float = 60,
                 interval: float = 0.5) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise ClusterError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(interval)

    # -- the client -------------------------------------------------------------------------
    def request(self, url: str = f"http://{VIP}/", timeout: float = 2) -> str | None:
        # -g: brackets are an IPv6 address (http://[fd00:254::100]/), not a curl glob
        result = self.ssh("client", f"curl -s -g -m {timeout} {shlex.quote(url)}", check=False)
        return result.stdout.strip() or None if result.returncode == 0 else None

    def start_probe(self, interval: float = 0.02, timeout: float = 0.2,
                    duration: float = 60, vip: str = VIP) -> subprocess.Popen[str]:
        """Probe `vip` (IPv4 or IPv6) port 80 from the client every `interval` s;
        `finish_probe` collects it."""
        command = (f"python3 /usr/local/lib/lvs-lab/probe.py --target {vip}:80 "
                   f"--interval {interval} --timeout {timeout} --duration {duration}")
        process = self.spawn("client", command)
        line = process.stdout.readline() if process.stdout else ""
        if not line.startswith("probing"):
            process.kill()
            raise ClusterError(f"the probe did not start: {line!r}")
        return process

    def finish_probe(self, process: subprocess.Popen[str]) -> ProbeResult:
        self.ssh("client", "pkill -INT -f /usr/local/lib/lvs-lab/probe.py", check=False)
        out, err = process.communicate(timeout=60)
        try:
            data = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise ClusterError(
                f"probe output unreadable: {out[-500:]!r} {err[-500:]!r}") from None
        return ProbeResult([(float(t), s) for t, s in data["samples"]])


class HeldConnection:
    """One HTTP connection through the VIP, opened now and finished by `finish()`."""

    def __init__(self, cluster: Cluster, target: str = VIP, port: int = 80) -> None:
        self.process = subprocess.Popen(
            ["ssh", "-F", str(cluster.state / "ssh_config"), "client",
             f"python3 /usr/local/lib/lvs-lab/hold.py {target} {port}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline().strip() if self.process.stdout else ""
        if not line.startswith("open "):
            self.process.kill()
            raise ClusterError(f"could not open a connection through {target}:{port}: {line}")
        self.client_port = int(line.split()[1])
        self.target = f"{target}:{port}"

    def synced_to(self, cluster: Cluster, router: str) -> bool:
        """Whether `router`'s connection table has this connection, established (the sync
        daemon copied it). Any ESTABLISHED entry would not do: entries of earlier connections
        stay for the TCP timeout (15 min)."""
        listing = cluster.ssh(router, "ipvsadm -Lnc", check=False).stdout
        return any(fields[2] == "ESTABLISHED" and fields[3].endswith(f":{self.client_port}")
                   and fields[4] == self.target
                   for fields in (line.split() for line in listing.splitlines())
                   if len(fields) >= 6)

    def finish(self) -> str:
        """The reply's body (the real server's name), or `error: …`."""
        out, _ = self.process.communicate("\n", timeout=60)
        return out.strip()
