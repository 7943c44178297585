# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each entry point must not import at start-up (issue #15: start-up cost).

In a lab guest (User-Mode Linux: every system call is expensive) each module costs its stat,
open and read calls plus its own top-level work, so what a path does not use is imported where
it is used. bench/import_time.py measures the times; these tests keep the cuts from coming back.
Each import runs in a fresh interpreter without site (``-S``), so nothing is loaded beforehand.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PATH = os.pathsep.join([str(ROOT / "plugins" / "module_utils"), str(ROOT / "files" / "lib")])
PROBE = ("import sys\nbefore = set(sys.modules)\nimport {module}\n"
         "print(' '.join(sorted(set(sys.modules) - before)))\n")

# entry point -> modules it must not import (the reason is in the module that imports them late)
FORBIDDEN = {
    # The engine the Ansible modules and lvsd use: netlink and the model, nothing of a CLI.
    "lvs_cluster.ipvs.reconcile": ["subprocess", "tempfile", "pathlib", "asyncio", "logging",
                                   "argparse", "json", "difflib", "lvs_cluster.lvs_cf.parser"],
    # lvs-cf: difflib only for a mistake's "did you mean", socket only for a port given by name.
    "lvs_cluster.lvs_cf.cli": ["difflib", "socket", "subprocess", "tempfile", "pathlib",
                               "logging", "json"],
    # lvs-status prints; only pulse serves the metrics (http.server pulls email, ssl and html).
    "lvs_agents.status": ["http.server", "ssl", "email", "html", "lvs_cluster.lvs_cf.parser",
                          "difflib"],
    # pulse parses lvs.cf at start, but neither serves HTTP before its options ask for it nor runs
    # the health checks (asyncio is lvsd's).
    "lvs_agents.pulse": ["http.server", "asyncio", "ssl", "difflib", "subprocess"],
    # send_arp and nanny never read lvs.cf; send_arp sends no ICMP echo (secrets: hashlib, random).
    "lvs_agents.send_arp": ["lvs_cluster.lvs_cf.parser", "difflib", "secrets", "hashlib"],
    "lvs_agents.nanny": ["lvs_cluster.lvs_cf.parser", "difflib"],
}


def imported_by(module: str) -> set[str]:
    env = dict(os.environ, PYTHONPATH=PATH)
    result = subprocess.run([sys.executable, "-S", "-c", PROBE.format(module=module)], env=env,
                            capture_output=True, text=True, check=True)
    return set(result.stdout.split())


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_start_up_imports_nothing_it_does_not_use(module: str) -> None:
    loaded = imported_by(module)
    assert module in loaded
    assert sorted(loaded & set(FORBIDDEN[module])) == []


def test_lvs_status_still_offers_the_metrics_server() -> None:
    """status_http's names stay importable from lvs_agents.status (pulse starts the server with
    them), loaded on first use."""
    probe = ("import sys\nimport lvs_agents.status as status\n"
             "assert 'http.server' not in sys.modules\n"
             "from lvs_agents.status import DEFAULT_METRICS_PORT, start_metrics_server\n"
             "print(DEFAULT_METRICS_PORT, callable(start_metrics_server),\n"
             "      status.MetricsServer.__name__, 'http.server' in sys.modules)\n")
    env = dict(os.environ, PYTHONPATH=PATH)
    result = subprocess.run([sys.executable, "-S", "-c", probe], env=env, capture_output=True,
                            text=True, check=True)
    assert result.stdout.split() == ["9539", "True", "MetricsServer", "True"]
