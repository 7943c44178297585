# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() with patched arguments and collect its result (community.general
style): exit_json and fail_json raise, the result is returned as a dict with .failed and
.warnings."""

from __future__ import annotations

import pytest
from ansible.module_utils import basic

try:  # ansible-core >= 2.19
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # older cores: the classic _ANSIBLE_ARGS patch
    import contextlib
    import json

    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args=None):
        serialized = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}))
        original = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = serialized
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = original


class ModuleResult(dict):
    """A module's result; ``failed`` says whether it called fail_json."""

    failed = False
    warnings: list[str]


class _Exit(Exception):
    def __init__(self, result: ModuleResult) -> None:
        super().__init__(result)
        self.result = result


@pytest.fixture
def module_runner(monkeypatch):
    """module_runner(main) -> run(**args) -> ModuleResult."""

    def make(main):
        def run(**args):
            warnings: list[str] = []

            def exit_json(self, **kwargs):
                raise _Exit(ModuleResult(kwargs))

            def fail_json(self, msg, **kwargs):
                result = ModuleResult(kwargs, msg=msg, failed=True)
                result.failed = True
                raise _Exit(result)

            monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
            monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
            monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, w: warnings.append(w))
            with patch_module_args(args), pytest.raises(_Exit) as exit_:
                main()
            result = exit_.value.result
            result.warnings = warnings
            return result

        return run

    return make


@pytest.fixture
def run_module(module_runner):
    """run_module(**args): lvs.cluster.lvs_cf with these arguments."""
    from plugins.modules import lvs_cf

    return module_runner(lvs_cf.main)
