# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit-test setup: the collection's plugins/ as an importable package, Hypothesis profiles.

``plugins`` is registered as a package rooted at the repository's plugins/ folder, so tests
write ``from plugins.module_utils._lvs_cf_parser import parse_lvs_cf`` and the module_utils
import each other with their relative imports, as they do under Ansible. The agents' package
(files/lib/lvs_agents) is importable too, with the core as ``lvs_cluster`` as on a router.
No __init__.py files are needed (ansible-test's empty-init check stays happy).

Hypothesis profiles: ``dev`` (default, quick) and ``ci`` (thousands of examples); choose one
with HYPOTHESIS_PROFILE=ci.
"""

import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def _register_package(name, path):
    if name in sys.modules:
        return
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [str(path)]
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    parent, dot, child = name.rpartition(".")
    if dot:
        setattr(sys.modules[parent], child, module)


_register_package("plugins", REPO_ROOT / "plugins")
_register_package("plugins.module_utils", REPO_ROOT / "plugins" / "module_utils")
# The agents (files/lib/lvs_agents) import the core as the package lvs_cluster, as on a router.
_register_package("lvs_cluster", REPO_ROOT / "plugins" / "module_utils")
sys.path.insert(0, str(REPO_ROOT / "files" / "lib"))

settings.register_profile("dev", max_examples=200, deadline=None)
settings.register_profile(
    "ci",
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
