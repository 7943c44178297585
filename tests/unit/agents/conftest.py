# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agents' tests: each test's own state directory (``LVS_CLUSTER_STATE_DIR``, inherited by
the pulse and lvsd processes a test starts), so that no test reads or writes the host's
/var/lib/lvs-cluster (the tests may run as root); nothing stays frozen out of the collector
after a test; ``sockets`` counts the check engine's probes."""

from __future__ import annotations

import gc

import pytest
from lvs_agents.checks import tcp


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    directory = tmp_path / "state"
    monkeypatch.setenv("LVS_CLUSTER_STATE_DIR", str(directory))
    return directory


@pytest.fixture(autouse=True)
def unfrozen_collector():
    """An lvsd run in the test freezes what it built out of the cyclic collector
    (``lvsd_daemon.settle_memory``): the next test starts with nothing frozen."""
    yield
    gc.unfreeze()


@pytest.fixture
def sockets(monkeypatch):
    """The number of sockets (probes) the TCP engine has opened so far, in a one-item list."""
    opened = [0]
    real = tcp.stream_socket

    def counting(family, kind):
        opened[0] += 1
        return real(family, kind)

    monkeypatch.setattr(tcp, "stream_socket", counting)
    return opened
