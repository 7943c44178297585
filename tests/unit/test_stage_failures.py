# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make test`'s closing lines name what failed in every failed stage (tools/stage-failures.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tools" / "stage-failures.py"
spec = importlib.util.spec_from_file_location("stage_failures", SCRIPT)
assert spec and spec.loader
stage_failures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stage_failures)


def write_stage(stages: Path, name: str, rc: int, log: str) -> None:
    (stages / name).write_text(f"{rc} 12\n")
    (stages / f"{name}.log").write_text(log)


def test_failed_stages_are_named_with_their_failure_lines_and_passed_ones_are_not(tmp_path):
    write_stage(tmp_path, "lint", 0, "All checks passed!\n")
    write_stage(tmp_path, "unit", 1,
                "....F\n=== short test summary info ===\n"
                "FAILED tests/unit/test_a.py::test_b - AssertionError: " + "x" * 300 + "\n"
                "1 failed, 4 passed\n")
    write_stage(tmp_path, "sanity", 1,
                "Running sanity test \"pylint\"\n"
                "ERROR: Found 1 pylint issue(s) which need to be resolved:\n"
                "ERROR: tests/unit/t.py:164:13: unnecessary-lambda: Lambda may not be necessary\n"
                "FATAL: The 1 sanity test(s) listed below (out of 24) failed.\n")
    lines = stage_failures.report(tmp_path)
    assert lines[0] == "[unit] failed:"
    assert lines[1].startswith("  FAILED tests/unit/test_a.py::test_b - AssertionError: xxx")
    assert len(lines[1]) == 2 + stage_failures.WIDTH and lines[1].endswith("...")
    assert lines[2:] == ["[sanity] failed:",
                         "  ERROR: Found 1 pylint issue(s) which need to be resolved:",
                         "  ERROR: tests/unit/t.py:164:13: unnecessary-lambda: Lambda may not be "
                         "necessary"]


def test_a_failure_without_summary_lines_shows_the_stage_s_last_lines(tmp_path):
    write_stage(tmp_path, "build", 2, "building\nstep 1\nstep 2\ntar: cannot open\n\n"
                                      "=== stage build: FAILED, exit 2 in 1 s\n")
    assert stage_failures.report(tmp_path) == [
        "[build] failed:", "  step 1", "  step 2", "  tar: cannot open"]


def test_many_failures_are_cut_with_a_pointer_to_the_log(tmp_path):
    write_stage(tmp_path, "agents", 1, "".join(f"FAILED t.py::test_{n}\n" for n in range(9)))
    lines = stage_failures.report(tmp_path)
    assert len(lines) == 1 + stage_failures.LINES_PER_STAGE + 1
    assert lines[-1] == f"  (+3 more in {tmp_path / 'agents.log'})"


def test_ansible_task_failures_come_first_and_retries_are_not_failures(tmp_path):
    write_stage(tmp_path, "labs", 1,
                "  FAILED - RETRYING: [client]: Collect the measurement (60 retries left).\n"
                "  TASK [Web server running] ****\n"
                "  fatal: [web1]: FAILED! => {\"msg\": \"Timeout waiting for systemd\"}\n"
                "  failed: [web2] (item=/srv/index.html) => {\"msg\": \"oops\"}\n"
                "FAILED tests/integration/test_molecule.py::test_molecule_scenario[x] - assert\n")
    assert stage_failures.report(tmp_path) == [
        "[labs] failed:",
        "  fatal: [web1] (task: Web server running): Timeout waiting for systemd",
        "  failed: [web2] (item=/srv/index.html) (task: Web server running): oops",
        "  FAILED tests/integration/test_molecule.py::test_molecule_scenario[x] - assert"]


def test_an_ansible_failure_shows_its_task_message_and_error_output_not_its_noise(tmp_path):
    """CI of 980f2a6 printed `... "checksum": "2473...", "exit_status": 1, "msg": "failed to
    validate", "stderr": "/root/.ansible/tmp/ansible-tmp-1796651...`: the error itself was cut."""
    result = ('{"changed": false, "checksum": "2473baf2cd3eb29055f65dba2b565ee6c2fb7243", '
              '"exit_status": 1, "msg": "failed to validate", "stderr": "/root/.ansible/tmp/'
              'ansible-tmp-1796651000.1-1-2/source: 1: vtysh: not found\\n", "stderr_lines": '
              '["/root/.ansible/tmp/ansible-tmp-1796651000.1-1-2/source: 1: vtysh: not found"], '
              '"stdout": "", "stdout_lines": []}')
    write_stage(tmp_path, "labs", 1,
                "TASK [lvs.cluster.router : Write FRR's configuration] ****\n"
                f"fatal: [lvs1]: FAILED! => {result}\n"
                "TASK [lvs.cluster.router : Run pulse, now and at boot] ****\n"
                "fatal: [lvs3]: FAILED! => {\"changed\": false, \"msg\": \"Could not find the "
                "requested service lvs-cluster-pulse: host\"}\n"
                "fatal: [lvs3]: FAILED! => {\"changed\": false, \"msg\": \"Could not find the "
                "requested service lvs-cluster-pulse: host\"}\n"
                "fatal: [web1]: FAILED! => not json at all\n")
    assert stage_failures.report(tmp_path) == [
        "[labs] failed:",
        "  fatal: [lvs1] (task: lvs.cluster.router : Write FRR's configuration): failed to "
        "validate | exit_status 1 | stderr: /root/.ansible/tmp/ansible-tmp-1796651000.1-1-2/"
        "source: 1: vtysh: not found",
        "  fatal: [lvs3] (task: lvs.cluster.router : Run pulse, now and at boot): Could not "
        "find the requested service lvs-cluster-pulse: host",
        "  fatal: [web1]: FAILED! => not json at all"]
    # the same failure printed twice is shown once


def test_a_failure_ansible_ignores_is_not_shown(tmp_path):
    """CI of 980f2a6 showed the lvs_cf scenario's expected refusal of a bad file (ignore_errors)
    as lvs1's failure, above the scaleout scenario's real one."""
    write_stage(tmp_path, "labs", 1,
                "TASK [Try to write a bad file through validate] ****\n"
                "fatal: [lvs1]: FAILED! => {\"msg\": \"failed to validate\"}\n"
                "...ignoring\n"
                "TASK [Run pulse] ****\n"
                "fatal: [lvs3]: FAILED! => {\"msg\": \"Could not find the requested service\"}\n"
                "\n"
                "PLAY RECAP ****\n")
    assert stage_failures.report(tmp_path) == [
        "[labs] failed:",
        "  fatal: [lvs3] (task: Run pulse): Could not find the requested service"]
