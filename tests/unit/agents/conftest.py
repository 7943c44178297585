# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agents' tests: each test's own state directory (``LVS_CLUSTER_STATE_DIR``, inherited by
the pulse and lvsd processes a test starts), so that no test reads or writes the host's
/var/lib/lvs-cluster (the tests may run as root)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    directory = tmp_path / "state"
    monkeypatch.setenv("LVS_CLUSTER_STATE_DIR", str(directory))
    return directory
