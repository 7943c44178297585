"""Every Molecule scenario under extensions/molecule/, each a real run on its own lab of UML
guests (create, converge, idempotence, verify, destroy)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.parent.name for p in (REPO / "extensions" / "molecule").glob("*/molecule.yml"))


def test_there_are_scenarios():
    assert "smoke" in SCENARIOS


@pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario):
    env = {**os.environ, "NO_COLOR": "1", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    result = subprocess.run(["molecule", "test", "-s", scenario], cwd=REPO, env=env,
                            check=False, timeout=1200)
    assert result.returncode == 0, f"molecule test -s {scenario} failed (exit {result.returncode})"
