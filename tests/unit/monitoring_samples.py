# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agents' Prometheus text for the monitoring checks, rendered by ``render_metrics`` from
the status documents of the lvs-status unit tests (tests/unit/agents/test_status.py) and the IPVS
table of the fake kernel: a pair's active router, its standby with every flag set, the last good
lvs.cf in use and a sorry server serving, a bgp-mode router, and a router whose agents are down.

``python tests/unit/monitoring_samples.py DIR`` writes each as DIR/NAME.prom (what
tools/check-monitoring.sh hands to ``promtool check metrics``).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
for _path in (REPO, REPO / "files" / "lib", REPO / "plugins" / "module_utils"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

STATUS_TESTS = REPO / "tests" / "unit" / "agents" / "test_status.py"


def status_fixtures() -> ModuleType:
    """test_status.py under a name of its own (pytest imports it as ``test_status``; loading
    it by path keeps pytest's assertion rewriting out of it)."""
    name = "lvs_status_fixtures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, STATUS_TESTS)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def sample_expositions() -> dict[str, str]:
    fixtures = status_fixtures()
    table = fixtures.reader(fixtures.fake_table())
    troubled_pulse = fixtures.pulse_doc(state="standby", node="backup",
                                        flags=["CHILDFAIL", "LINKFAIL"],
                                        last_good={"in_use": True})
    troubled_lvsd = fixtures.lvsd_doc()
    troubled_lvsd["last_good"] = {"in_use": True}
    [virtual] = troubled_lvsd["virtuals"]
    virtual["sorry_active"] = True
    virtual["servers"].append(fixtures.server("sorry_server", "10.254.0.99", sorry=True))
    return {
        "pair-active": fixtures.render(fixtures.pulse_doc(), fixtures.lvsd_doc(), table()),
        "pair-standby-troubled": fixtures.render(troubled_pulse, troubled_lvsd, table()),
        "bgp": fixtures.render(fixtures.bgp_pulse_doc(), fixtures.lvsd_doc(), table()),
        "agents-down": fixtures.render(None, None, None),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: monitoring_samples.py DIR", file=sys.stderr)
        return 2
    directory = Path(argv[0])
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in sample_expositions().items():
        (directory / f"{name}.prom").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
