"""A lab's life: up (clearing a stale one first), status, down. State lives in .lab/<name>/."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from . import guests, image, netns
from .access import write_access_files
from .errors import LabError
from .topology import LAB_NAME, Guest, Topology, load_topology

REPO = Path(__file__).resolve().parents[2]
DEFAULT_TOPOLOGY = REPO / "lab" / "topologies" / "default.yml"


def log(message: str) -> None:
    print(f"lab: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class LabState:
    """Where one lab keeps its files."""

    root: Path

    @classmethod
    def for_name(cls, name: str) -> LabState:
        base = Path(os.environ.get("LAB_STATE_DIR", REPO / ".lab"))
        return cls(base / name)

    @property
    def topology(self) -> Path:
        return self.root / "topology.yml"

    @property
    def key(self) -> Path:
        return self.root / "id_ed25519"

    def release_key(self, release: str) -> Path:
        """The login key of one release's image (the default release's is `key`)."""
        return self.key if release == image.DEFAULT_RELEASE else self.root / f"id_ed25519-{release}"

    @property
    def uml_dir(self) -> Path:
        return self.root / "uml"

    @property
    def guest_dir(self) -> Path:
        return self.root / "guests"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def ssh_config(self) -> Path:
        return self.root / "ssh_config"

    @property
    def ansible_cfg(self) -> Path:
        return self.root / "ansible.cfg"

    @property
    def inventory(self) -> Path:
        return self.root / "inventory.yml"

    def control_dir(self, name: str) -> Path:
        # Short and outside the work tree: unix socket paths are limited to 107 bytes.
        return Path("/run/lvs-cluster-lab") / name

    def pid_file(self, guest: str) -> Path:
        return self.guest_dir / f"{guest}.pid"

    def cow(self, guest: str) -> Path:
        return self.guest_dir / f"{guest}.cow"

    def recorded_pids(self) -> dict[str, int]:
        found = {}
        for pid_file in self.guest_dir.glob("*.pid") if self.guest_dir.is_dir() else []:
            try:
                found[pid_file.stem] = int(pid_file.read_text().strip())
            except (OSError, ValueError):
                continue
        return found


def resolve_topology(path: str | None) -> Topology:
    """The topology to use; LAB_NAME renames it, so several labs of one file can coexist."""
    chosen = path or os.environ.get("LAB_TOPOLOGY") or str(DEFAULT_TOPOLOGY)
    topology = load_topology(Path(chosen))
    name = os.environ.get("LAB_NAME")
    if name:
        if not LAB_NAME.match(name):
            raise LabError(f"LAB_NAME={name!r}: lab names are 1-32 of [a-z0-9_-], "
                           "starting with a letter")
        topology = replace(topology, name=name)
    return topology


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, taps); run it as root")


@contextmanager
def locked(state: LabState) -> Iterator[None]:
    state.root.parent.mkdir(parents=True, exist_ok=True)
    with open(state.root.parent / f".{state.root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def lab_processes(topology: Topology, state: LabState) -> tuple[set[int], set[int]]:
    """(main guest PIDs, every process of this lab): guests, their helpers, SSH masters, proxies."""
    recorded = {pid for pid in state.recorded_pids().values() if guests.alive(pid)}
    everything = netns.pids(topology.name)
    everything |= guests.processes_mentioning(f"uml_dir={state.uml_dir}")
    everything |= guests.processes_mentioning(str(state.control_dir(topology.name)))
    everything |= guests.processes_mentioning(str(state.ssh_config))
    everything |= recorded
    return recorded, {p for p in everything if guests.alive(p)}


def is_present(topology: Topology, state: LabState) -> bool:
    return netns.exists(topology.name) or bool(lab_processes(topology, state)[1]) or any(
        state.guest_dir.glob("*.cow") if state.guest_dir.is_dir() else [])


def down(topology: Topology, state: LabState) -> None:
    # Guests still booting spawn helper processes after a scan: scan again until none is left.
    for attempt in range(4):
        main, everything = lab_processes(topology, state)
        if not everything:
            break
        guests.terminate(main, everything, grace=10.0 if attempt == 0 else 2.0)
    netns.delete(topology.name)
    for path in (state.guest_dir, state.uml_dir, state.control_dir(topology.name),
                 state.root / "collections"):
        shutil.rmtree(path, ignore_errors=True)
    for path in (state.ssh_config, state.inventory, state.ansible_cfg, state.key,
                 state.topology, *state.root.glob("id_ed25519-*")):
        path.unlink(missing_ok=True)
    left = lab_processes(topology, state)[1]
    if left or netns.exists(topology.name):
        raise LabError(f"could not clear lab {topology.name!r}: processes {sorted(left)} "
                       f"remain, namespace present: {netns.exists(topology.name)}")


def ssh_ready(topology: Topology, state: LabState, guest: Guest) -> bool:
    address = topology.ssh_address(guest)
    result = subprocess.run(
        ["ip", "netns", "exec", topology.name, "ssh", "-F", str(state.ssh_config),
         "-o", "ProxyCommand=none", "-o", "ControlMaster=no", "-o", "ControlPath=none",
         "-o", "ConnectTimeout=2", "-o", "BatchMode=yes", address, "true"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    return result.returncode == 0


def wait_for_ssh(topology: Topology, state: LabState, pids: dict[str, int], started: float,
                 timeout: float) -> dict[str, float]:
    def wait(guest: Guest) -> float:
        deadline = started + timeout
        while time.monotonic() < deadline:
            if not guests.alive(pids[guest.name]):
                tail = (state.logs / f"{guest.name}.log").read_text(errors="replace")[-1500:]
                raise LabError(f"guest {guest.name} exited during boot; its console ends:\n{tail}")
            try:
                if ssh_ready(topology, state, guest):
                    return time.monotonic() - started
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.3)
        raise LabError(f"guest {guest.name} did not answer SSH within {timeout:.0f} s; "
                       f"console log: {state.logs / (guest.name + '.log')}")

    with ThreadPoolExecutor(max_workers=len(topology.guests)) as pool:
        times = list(pool.map(wait, topology.guests))
    return {g.name: t for g, t in zip(topology.guests, times, strict=True)}


def up(topology: Topology, state: LabState, timeout: float) -> dict[str, float]:
    require_root()
    images = {release: image.ensure_image(release=release) for release in topology.releases}
    with locked(state):
        if is_present(topology, state):
            log(f"clearing a stale lab {topology.name!r} left by an earlier run")
            down(topology, state)
        started = time.monotonic()
        shutil.rmtree(state.logs, ignore_errors=True)
        for path in (state.root, state.guest_dir, state.uml_dir, state.logs,
                     state.control_dir(topology.name)):
            path.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(topology.source, state.topology)
        keys = {}
        for release, img in images.items():
            keys[release] = state.release_key(release)
            shutil.copyfile(img.key, keys[release])
            keys[release].chmod(0o600)
        write_access_files(topology, state.root, keys, state.control_dir(topology.name), REPO)
        netns.create(topology)
        pids = {}
        for guest in topology.guests:
            pid = guests.start(guest, topology.name, images[guest.release].rootfs,
                               state.cow(guest.name),
                               state.uml_dir, state.logs / f"{guest.name}.log")
            state.pid_file(guest.name).write_text(f"{pid}\n")
            pids[guest.name] = pid
        log(f"started {len(pids)} guests in namespace {topology.name!r}; waiting for SSH")
        return wait_for_ssh(topology, state, pids, started, timeout)


@dataclass(frozen=True)
class GuestStatus:
    name: str
    pid: int | None
    running: bool
    addresses: str
    groups: str


def status(topology: Topology, state: LabState) -> list[GuestStatus]:
    recorded = state.recorded_pids()
    rows = []
    for guest in topology.guests:
        pid = recorded.get(guest.name)
        rows.append(GuestStatus(
            name=guest.name, pid=pid, running=pid is not None and guests.alive(pid),
            addresses=" ".join(f"eth{n}={nic.address}" for n, nic in enumerate(guest.nics)),
            groups=",".join(guest.groups)))
    return rows


def crash(topology: Topology, state: LabState, name: str) -> None:
    topology.guest(name)
    pid = state.recorded_pids().get(name)
    if pid is None or not guests.alive(pid):
        raise LabError(f"guest {name} is not running")
    guests.crash(pid)


def boot(topology: Topology, state: LabState, name: str, timeout: float) -> float:
    """Boot a stopped or crashed guest again on its own disk, as a server restarting."""
    guest = topology.guest(name)
    if not netns.exists(topology.name):
        raise LabError(f"lab {topology.name!r} is not up")
    pid = state.recorded_pids().get(name)
    if pid is not None and guests.alive(pid):
        raise LabError(f"guest {name} is already running (pid {pid})")
    img = image.ensure_image(release=guest.release)
    started = time.monotonic()
    pid = guests.start(guest, topology.name, img.rootfs, state.cow(name), state.uml_dir,
                       state.logs / f"{name}.log", fresh=False)
    state.pid_file(name).write_text(f"{pid}\n")
    single = Topology(name=topology.name, source=topology.source, networks=topology.networks,
                      guests=(guest,))
    return wait_for_ssh(single, state, {name: pid}, started, timeout)[name]


def lab_env(state: LabState) -> dict[str, str]:
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(state.ansible_cfg)
    env["LAB_INVENTORY"] = str(state.inventory)
    venv_bin = REPO / ".venv" / "bin"
    if venv_bin.is_dir():
        env["PATH"] = f"{venv_bin}:{env.get('PATH', '')}"
    return env
