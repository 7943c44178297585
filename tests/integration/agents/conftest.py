"""The one lab of tests/integration/agents: booted and rolled out once for the session (the
agents' tests, then the import's round trip on the same guests) and always taken down."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "lab"))
sys.path.insert(0, str(Path(__file__).parent))

from agents_lab import DEFAULTS  # noqa: E402
from lvslab.cluster import Cluster  # noqa: E402


@pytest.fixture(scope="session")
def cluster():
    """The lab `agenttest` (AGENTS_LAB_NAME=<name> names it otherwise), booted and rolled out
    here and always taken down. For development, AGENTS_TEST_LAB=<name> uses that running,
    rolled-out lab instead and leaves it up."""
    reuse = os.environ.get("AGENTS_TEST_LAB")
    if reuse:
        yield Cluster(reuse)
        return
    lab = Cluster(os.environ.get("AGENTS_LAB_NAME", "agenttest"))
    try:
        lab.up()
        lab.deploy(**DEFAULTS)
        yield lab
    finally:
        lab.down()
