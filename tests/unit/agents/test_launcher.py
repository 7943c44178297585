# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""files/bin/lvs-cluster as a process: from the source tree, through links named after a
command, from the layout the router role installs (here under a temporary prefix), with
$LVS_CLUSTER_LIB, and with unknown commands. Only lvs-status and lvs-cf are dispatched for real:
the other commands' modules are written on other branches."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
LAUNCHER = REPO / "files" / "bin" / "lvs-cluster"
CORE = REPO / "plugins" / "module_utils" / "lvs_cluster"
AGENTS = REPO / "files" / "lib" / "lvs_agents"
EXAMPLE = REPO / "tests" / "unit" / "fixtures" / "lvs_cf" / "example_a.cf"
COMMANDS = ("pulse", "lvsd", "nanny", "send_arp", "lvs-status", "lvs-cf")


def launch(program, *args, env=None, cwd=None):
    """Run ``program`` (a path) with a clean environment: no LVS_CLUSTER_LIB unless given."""
    environment = {k: v for k, v in os.environ.items() if k != "LVS_CLUSTER_LIB"}
    environment.update(env or {})
    return subprocess.run([str(program), *map(str, args)], capture_output=True, text=True,
                          env=environment, cwd=cwd, timeout=60, check=False)


@pytest.fixture
def empty_run_dir(tmp_path):
    path = tmp_path / "run"
    path.mkdir()
    return {"LVS_CLUSTER_RUN_DIR": str(path)}


def install(prefix, agent_modules=None):
    """The role's layout under ``prefix``: lib/lvs-cluster/{lvs_cluster,lvs_agents}, sbin/."""
    library = prefix / "lib" / "lvs-cluster"
    library.mkdir(parents=True)
    shutil.copytree(CORE, library / "lvs_cluster", ignore=shutil.ignore_patterns("__pycache__"))
    (library / "lvs_agents").mkdir()
    for source in AGENTS.glob("*.py"):
        if agent_modules is None or source.stem in agent_modules:
            shutil.copy(source, library / "lvs_agents" / source.name)
    (prefix / "sbin").mkdir()
    shutil.copy(LAUNCHER, prefix / "sbin" / "lvs-cluster")
    for command in COMMANDS:
        (prefix / "sbin" / command).symlink_to("lvs-cluster")
    return prefix


def test_is_an_executable_sh_script():
    assert os.access(LAUNCHER, os.X_OK)
    assert LAUNCHER.read_text().splitlines()[0] == "#!/bin/sh"


def test_status_help_from_the_source_tree():
    result = subprocess.run(["sh", str(LAUNCHER), "status", "--help"], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: lvs-status")
    assert "--metrics" in result.stdout


def test_lvs_cf_help_from_the_source_tree():
    result = launch(LAUNCHER, "lvs-cf", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: lvs-cf")


def test_lvs_cf_check_through_the_launcher(tmp_path):
    good = tmp_path / "lvs.cf"
    shutil.copy(EXAMPLE, good)
    assert launch(LAUNCHER, "lvs-cf", "check", good).returncode == 0
    bad = tmp_path / "bad.cf"
    bad.write_text("service = lvs\nprimary = 10.0.0.1\nscheduler = wlc\n")
    result = launch(LAUNCHER, "lvs-cf", "check", bad)
    assert result.returncode == 1
    assert "line 3" in result.stderr


def test_status_runs_and_reports_missing_agents(empty_run_dir):
    result = launch(LAUNCHER, "lvs-status", env=empty_run_dir)
    assert result.returncode == 3, result.stderr
    assert "pulse: not running (no pulse.json)" in result.stdout
    assert "IPVS" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_link_named_lvs_status(tmp_path, empty_run_dir):
    link = tmp_path / "lvs-status"
    link.symlink_to(LAUNCHER)
    help_text = launch(link, "--help")
    assert help_text.returncode == 0
    assert help_text.stdout.startswith("usage: lvs-status")
    result = launch(link, "--json", env=empty_run_dir)
    assert result.returncode == 3
    assert json.loads(result.stdout)["agents"]["pulse"]["running"] is False


def test_link_named_lvs_cf(tmp_path):
    link = tmp_path / "lvs-cf"
    link.symlink_to(LAUNCHER)
    result = launch(link, "check", EXAMPLE)
    assert (result.returncode, result.stderr) == (0, "")


def test_installed_layout(tmp_path, empty_run_dir):
    prefix = install(tmp_path / "usr")
    result = launch(prefix / "sbin" / "lvs-status", "--json", env=empty_run_dir, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert json.loads(result.stdout)["exit_status"] == 3
    assert launch(prefix / "sbin" / "lvs-cluster", "status", "--help").returncode == 0
    assert launch(prefix / "sbin" / "lvs-cf", "check", EXAMPLE).returncode == 0


def test_installed_layout_holds_the_core_as_a_package(tmp_path, empty_run_dir):
    """The bundle copies the core folder as it is: a regular package, no registration."""
    prefix = install(tmp_path / "usr")
    core = prefix / "lib" / "lvs-cluster" / "lvs_cluster"
    assert (core / "__init__.py").is_file()
    assert (core / "ipvs" / "__init__.py").is_file()
    assert (core / "lvs_cf" / "__init__.py").is_file()
    result = launch(prefix / "sbin" / "lvs-status", env=empty_run_dir)
    assert result.returncode == 3, result.stderr


@pytest.mark.skipif(Path("/usr/lib/lvs-cluster").exists(),
                    reason="a real installation would be found after the prefix")
def test_installed_layout_is_what_runs(tmp_path):
    """The prefix's library, not the source tree: without it the command is not found."""
    prefix = install(tmp_path / "usr", agent_modules={"__init__", "runtime", "status"})
    (prefix / "lib" / "lvs-cluster" / "lvs_agents" / "status.py").unlink()
    result = launch(prefix / "sbin" / "lvs-status", "--help")
    assert result.returncode == 2
    assert "lvs-status: the lvs.cluster library (lvs_agents.status) was not found in:" \
        in result.stderr
    assert str(prefix / "lib" / "lvs-cluster") in result.stderr


def test_library_from_the_environment(tmp_path, empty_run_dir):
    library = install(tmp_path / "usr") / "lib" / "lvs-cluster"
    lone = tmp_path / "elsewhere"
    lone.mkdir()
    shutil.copy(LAUNCHER, lone / "lvs-cluster")
    env = dict(empty_run_dir, LVS_CLUSTER_LIB=str(library))
    assert launch(lone / "lvs-cluster", "status", env=env).returncode == 3
    assert launch(lone / "lvs-cluster", "lvs-cf", "check", EXAMPLE, env=env).returncode == 0
    missing = launch(lone / "lvs-cluster", "status",
                     env={"LVS_CLUSTER_LIB": str(tmp_path / "nothing")})
    assert missing.returncode == 2
    assert "was not found in" in missing.stderr


def test_a_command_whose_module_is_missing_exits_2(tmp_path):
    library = install(tmp_path / "usr", agent_modules={"__init__", "runtime", "status"})
    result = launch(library / "sbin" / "pulse", "--help")
    assert result.returncode == 2
    assert "pulse: the lvs.cluster library (lvs_agents.pulse) was not found" in result.stderr


def test_exec_keeps_the_pid(tmp_path):
    """sh execs python: the launched process is the command (Type=notify, NotifyAccess=main)."""
    library = tmp_path / "lib"
    shutil.copytree(CORE, library / "lvs_cluster", ignore=shutil.ignore_patterns("__pycache__"))
    (library / "lvs_agents").mkdir()
    (library / "lvs_agents" / "__init__.py").write_text("")
    (library / "lvs_agents" / "status.py").write_text(
        "import os, sys\n\ndef main(argv):\n    print(os.getpid(), sys.argv[0], argv)\n"
        "    return 7\n")
    process = subprocess.Popen([str(LAUNCHER), "status", "--x"], stdout=subprocess.PIPE,
                               text=True, env=dict(os.environ, LVS_CLUSTER_LIB=str(library)))
    out, _err = process.communicate(timeout=60)
    assert process.returncode == 7
    assert out.split(" ", 2) == [str(process.pid), "lvs-status", "['--x']\n"]


@pytest.mark.parametrize("args", [("bogus",), ("lvs-bogus", "--help")])
def test_unknown_command(args):
    result = launch(LAUNCHER, *args)
    assert result.returncode == 2
    assert f"lvs-cluster: unknown command '{args[0]}'" in result.stderr
    for command in COMMANDS:
        assert f"  {command} " in result.stderr
    assert result.stdout == ""


def test_no_command_and_help():
    nothing = launch(LAUNCHER)
    assert nothing.returncode == 2
    assert nothing.stderr.startswith("usage: lvs-cluster COMMAND")
    help_text = launch(LAUNCHER, "--help")
    assert help_text.returncode == 0
    assert help_text.stdout.startswith("usage: lvs-cluster COMMAND")


def test_python_is_isolated(tmp_path, empty_run_dir):
    """-I: PYTHONPATH and the user's site cannot replace the library."""
    evil = tmp_path / "evil"
    (evil / "lvs_agents").mkdir(parents=True)
    (evil / "lvs_agents" / "__init__.py").write_text("raise SystemExit(99)\n")
    result = launch(LAUNCHER, "status", env=dict(empty_run_dir, PYTHONPATH=str(evil)))
    assert result.returncode == 3


def test_a_command_whose_module_is_a_package(tmp_path):
    library = tmp_path / "lib"
    shutil.copytree(CORE, library / "lvs_cluster", ignore=shutil.ignore_patterns("__pycache__"))
    (library / "lvs_agents" / "status").mkdir(parents=True)
    (library / "lvs_agents" / "__init__.py").write_text("")
    (library / "lvs_agents" / "status" / "__init__.py").write_text(
        "def main(argv):\n    print('package', argv)\n    return 5\n")
    result = launch(LAUNCHER, "status", "-x", env={"LVS_CLUSTER_LIB": str(library)})
    assert (result.returncode, result.stdout) == (5, "package ['-x']\n"), result.stderr
