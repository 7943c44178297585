"""Every Molecule scenario under extensions/molecule/, each a real run on UML guests.

The cluster scenarios (default, drift, failover, real_server_failure, maintenance, nat) share
one lab (shared_state: default's create boots it, its destroy removes it) and run in one
Molecule call, in an order where each starts from what the one before left. The other
scenarios (one router each, and default_trixie: the default steps and a crash failover on
trixie routers and real servers) run after them, at the same time, each on a lab of its own;
their output goes to build/molecule-<name>.log. (make test runs this file beside the agents'
tests, which have a lab of their own: more labs at once than two five-guest ones and the two
small ones overload a two-core machine.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MOLECULE = REPO / "extensions" / "molecule"
SCENARIOS = sorted(p.parent.name for p in MOLECULE.glob("*/molecule.yml"))
CLUSTER = ["default", "drift", "failover", "real_server_failure", "maintenance", "nat"]
ALONE = [name for name in SCENARIOS if name not in CLUSTER]
AFTER_AGENTS = ["default_trixie"]
ENV = {**os.environ, "NO_COLOR": "1", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")


def test_every_scenario_is_run_and_the_cluster_ones_share_the_lab():
    assert set(CLUSTER) <= set(SCENARIOS) and "ipvs" in ALONE and "default_trixie" in ALONE
    assert set(AFTER_AGENTS) <= set(ALONE)
    for name in CLUSTER:
        assert "shared_state: true" in (MOLECULE / name / "molecule.yml").read_text(), name
    for name in ALONE:
        assert "shared_state" not in (MOLECULE / name / "molecule.yml").read_text(), name


def fresh_state(run: str) -> dict[str, str]:
    """The environment for one Molecule run with its state in a new directory of build/.
    Molecule's own (~/.ansible/tmp/molecule.<hash of the project's folder name>.<scenario>)
    outlives an interrupted run, and the next run in a folder of that name skips `create`
    ("instances already created") on a lab that is gone."""
    directory = REPO / "build" / "molecule-state" / run
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return {**ENV, "MOLECULE_EPHEMERAL_DIRECTORY": str(directory)}


def molecule(*arguments: str) -> int:
    return subprocess.run(["molecule", "test", *arguments], cwd=REPO, stdin=subprocess.DEVNULL,
                          env=fresh_state("cluster"), check=False, timeout=1800).returncode


def lab_down(name: str) -> None:
    subprocess.run([str(REPO / "lab" / "labctl"), "down"], cwd=REPO, check=False,
                   env={**ENV, "LAB_NAME": name}, capture_output=True, stdin=subprocess.DEVNULL)


def start_scenario(name: str) -> subprocess.Popen[bytes]:
    logs = REPO / "build"
    logs.mkdir(exist_ok=True)
    with open(logs / f"molecule-{name}.log", "w") as log:
        return subprocess.Popen(["molecule", "test", "-s", name], cwd=REPO, env=fresh_state(name),
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def wait_for_file(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(5)


@pytest.fixture(scope="module")
def background():
    """The scenarios that run alone, started together in the background (after the cluster
    scenarios: only test_molecule_scenario asks for this). Under make test, whose agents' lane
    runs a five-guest lab of its own, default_trixie's five guests start once that lab is gone
    (tools/run-tests.sh names the agents stage's result file in $LVS_CLUSTER_AGENTS_DONE): with
    scaleout's eight guests as well, the Ansible runs in trixie's guests failed (CI, 6a9c8f4)."""
    started = {name: start_scenario(name) for name in ALONE if name not in AFTER_AGENTS}
    marker = os.environ.get("LVS_CLUSTER_AGENTS_DONE")
    if marker:
        wait_for_file(Path(marker), timeout=2400)
    started.update({name: start_scenario(name) for name in AFTER_AGENTS})
    yield started
    for name, process in started.items():
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)
        lab_down(f"mol-{name}")


@needs_root
def test_cluster_scenarios():
    try:
        code = molecule(*[option for name in CLUSTER for option in ("-s", name)])
    finally:  # Molecule destroys the lab after a failure too; this is for a killed Molecule
        lab_down("mol-cluster")
    assert code == 0, f"molecule test -s {' -s '.join(CLUSTER)} failed (exit {code})"


@needs_root
@pytest.mark.parametrize("scenario", ALONE)
def test_molecule_scenario(scenario, background):
    code = background[scenario].wait(timeout=1800)
    log = (REPO / "build" / f"molecule-{scenario}.log").read_text(errors="replace")
    print(log[-3000:])
    failures = "\n".join(line.strip() for line in log.splitlines()
                         if line.lstrip().startswith(("fatal: [", "failed: [")))
    assert code == 0, (f"molecule test -s {scenario} failed (exit {code}):\n{failures}\n"
                       f"{log[-6000:]}")
