"""Starting, finding and stopping User-Mode Linux guests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from .topology import Guest


def command(guest: Guest, ns: str, rootfs: Path, cow: Path, uml_dir: Path) -> list[str]:
    args = ["ip", "netns", "exec", ns, "linux", f"mem={guest.memory}", f"umid={guest.name}",
            f"uml_dir={uml_dir}", f"ubd0={cow},{rootfs}", "root=/dev/ubda", "rw"]
    # gro=1: without it UML drops the host's GSO frames and TCP into the guest crawls.
    args += [f"vec{n}:transport=tap,ifname={guest.tap(n)},mac={guest.mac(n)},gro=1"
             for n in range(len(guest.nics))]
    args += ["con=null", "con0=null,fd:1", f"lab.host={guest.name}"]
    args += [f"lab.nic=vec{n},eth{n},{nic.address}" for n, nic in enumerate(guest.nics)]
    args += [f"lab.route={route.to},{route.via}" for route in guest.routes]
    return args


def start(guest: Guest, ns: str, rootfs: Path, cow: Path, uml_dir: Path, log: Path,
          fresh: bool = True) -> int:
    if fresh:
        cow.unlink(missing_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(command(guest, ns, rootfs, cow, uml_dir),
                                   stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    return process.pid  # `ip netns exec` execs the kernel, so this is the guest's main process


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def processes_mentioning(text: str) -> set[int]:
    """PIDs whose command line contains text (used to find guests even after a lost PID file)."""
    found = set()
    own = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            if text.encode() in (entry / "cmdline").read_bytes():
                found.add(int(entry.name))
        except OSError:
            continue
    return found


def _signal(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def terminate(main_pids: set[int], all_pids: set[int], grace: float = 10.0) -> None:
    """Stop a lab's processes: SIGTERM first, SIGKILL what survives the grace period.

    UML helper processes (same command line as their guest) are left to their guest, which stops
    them on SIGTERM; anything still alive afterwards is killed with its whole process group,
    because a guest's helpers left behind keep its tap open.
    """
    own_group = os.getpgid(0)
    helpers = {p for p in all_pids - main_pids if _is_uml_helper(p, main_pids)}
    _signal(all_pids - helpers, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        for pid in all_pids:
            reap(pid)
        if not any(alive(p) for p in all_pids):
            _wait_until_reaped(all_pids)
            return
        time.sleep(0.1)
    for pid in all_pids:
        with contextlib.suppress(ProcessLookupError):
            group = os.getpgid(pid)
            if group != own_group:
                os.killpg(group, signal.SIGKILL)
    _signal(all_pids, signal.SIGKILL)
    for pid in all_pids:
        reap(pid)
    _wait_until_reaped(all_pids)


def _wait_until_reaped(pids: set[int], limit: float = 10.0) -> None:
    """Guests orphaned by an exited `labctl up` belong to PID 1, which may reap them a little
    later; wait for that, so that nothing of the lab, not even a zombie, is listed after `down`."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        time.sleep(0.1)


def _is_uml_helper(pid: int, main_pids: set[int]) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            group = int(stat.read().rsplit(")", 1)[1].split()[3])
    except (OSError, IndexError, ValueError):
        return False
    return group in main_pids and group != pid


def crash(pid: int) -> None:
    """Kill a guest like a power cut: SIGKILL its main process and every helper at once."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(os.getpgid(pid), signal.SIGKILL)
