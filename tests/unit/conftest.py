# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit-test setup: Hypothesis profiles.

The import paths come from pyproject.toml (``[tool.pytest.ini_options] pythonpath``): the
repository root, so tests import the modules as ``plugins.modules.ipvs_service`` (whose relative
imports reach ``plugins.module_utils.lvs_cluster`` as under Ansible); ``plugins/module_utils``,
where the core is the package ``lvs_cluster`` as on a router; and ``files/lib``, the agents'
package ``lvs_agents``. Nothing is registered by hand.

Hypothesis profiles: ``dev`` (default, quick) and ``ci`` (thousands of examples); choose one
with HYPOTHESIS_PROFILE=ci.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=200, deadline=None)
settings.register_profile(
    "ci",
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
