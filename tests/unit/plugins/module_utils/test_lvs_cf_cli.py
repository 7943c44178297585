# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lvs-cf command: main() in-process, and lvs-cf (a link to files/bin/lvs-cluster) as a
process, from the source tree and from the layout the router role installs
(/usr/lib/lvs-cluster/lvs_cluster + /usr/sbin/lvs-cf, here under a temporary prefix)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plugins.module_utils.lvs_cluster.lvs_cf.cli import main
from plugins.module_utils.lvs_cluster.lvs_cf.errors import LvsCfError
from plugins.module_utils.lvs_cluster.lvs_cf.shells import canonical_text

REPO = Path(__file__).resolve().parents[4]
LAUNCHER = REPO / "files" / "bin" / "lvs-cluster"
CORE = REPO / "plugins" / "module_utils" / "lvs_cluster"
FIXTURES = REPO / "tests" / "unit" / "fixtures" / "lvs_cf"


@pytest.fixture(scope="module")
def lvs_cf_script(tmp_path_factory):
    """lvs-cf as the router role installs it: a link named lvs-cf to the one launcher."""
    link = tmp_path_factory.mktemp("bin") / "lvs-cf"
    link.symlink_to(LAUNCHER)
    return link


BAD = "service = lvs\nprimary = 10.0.0.1\nscheduler = wlc\n"


class Run:
    def __init__(self, status, out, err):
        self.status, self.out, self.err = status, out, err


def run(*argv, stdin=""):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return Run(status, out.getvalue(), err.getvalue())


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.cf"
    shutil.copy(FIXTURES / "example_a.cf", path)
    return path


@pytest.fixture
def bad(tmp_path):
    path = tmp_path / "bad.cf"
    path.write_text(BAD)
    return path


@pytest.fixture
def warned(tmp_path):
    path = tmp_path / "warned.cf"
    text = (FIXTURES / "example_b.cf").read_text()
    path.write_text(text.replace("deadtime = 12", "deadtime = 12\nkeepalive = 20"))
    return path


def module_message(path):
    """The msg the lvs_cf module (state=gathered) gives for this file."""
    with pytest.raises(LvsCfError) as err:
        canonical_text(content=Path(path).read_bytes(), source=str(path))
    return str(err.value)


# -- check ------------------------------------------------------------------------------------


def test_check_valid_file_is_silent(good):
    result = run("check", str(good))
    assert (result.status, result.out, result.err) == (0, "", "")


def test_check_invalid_file_exits_1_with_the_module_s_message(bad):
    result = run("check", str(bad))
    assert result.status == 1
    assert result.out == ""
    assert result.err == module_message(bad) + "\n"
    assert result.err.startswith(f"{bad} line 3, column 1: unknown command 'scheduler'")


def test_check_warnings_are_compiler_style_lines(warned):
    result = run("check", str(warned))
    assert result.status == 0
    lines = result.err.splitlines()
    assert lines
    assert lines[0].startswith(f"{warned}:10: warning: keepalive: set again")
    assert all(line.startswith(f"{warned}:") and ": warning: " in line for line in lines)


def test_check_strict_fails_on_warnings(warned, good):
    assert run("check", "--strict", str(warned)).status == 1
    assert run("check", "--strict", str(good)).status == 0


def test_check_several_files_reports_each(good, bad, warned):
    result = run("check", str(good), str(bad), str(warned))
    assert result.status == 1
    assert f"{bad} line 3" in result.err
    assert f"{warned}:10: warning" in result.err


def test_check_unreadable_file_exits_2(tmp_path, bad):
    missing = tmp_path / "missing.cf"
    result = run("check", str(missing), str(bad))
    assert result.status == 2
    assert f"lvs-cf: cannot read {missing}: No such file or directory" in result.err
    assert f"{bad} line 3" in result.err  # the other files are still checked


def test_check_a_directory_exits_2(tmp_path):
    result = run("check", str(tmp_path))
    assert result.status == 2
    assert "cannot read" in result.err


def test_check_stdin():
    result = run("check", "-", stdin=BAD)
    assert result.status == 1
    assert result.err.startswith("<stdin> line 3")


def test_check_non_utf8_is_invalid_not_a_crash(tmp_path):
    path = tmp_path / "latin1.cf"
    path.write_bytes(b"service = lvs\nprimary = 10.0.0.1\nactive_cmd = \xe9\n")
    result = run("check", str(path))
    assert result.status == 1
    assert "line 3" in result.err


def test_check_empty_file_is_invalid(tmp_path):
    path = tmp_path / "empty.cf"
    path.write_text("")
    result = run("check", str(path))
    assert result.status == 1
    assert str(path) in result.err


# -- render -----------------------------------------------------------------------------------


def test_render_prints_the_canonical_text(good):
    result = run("render", str(good))
    assert result.status == 0
    assert result.out == canonical_text(content=good.read_text())[1]
    assert "# HTTPS" not in result.out


def test_render_invalid_prints_nothing(bad):
    result = run("render", str(bad))
    assert result.status == 1
    assert result.out == ""
    assert "line 3" in result.err


def test_render_takes_one_file(good):
    assert run("render", str(good), str(good)).status == 2


# -- usage ------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [(), ("frobnicate",), ("check",), ("render",), ("--bogus",)])
def test_usage_errors_exit_2(argv):
    result = run(*argv)
    assert result.status == 2
    assert "usage: lvs-cf" in result.err


def test_help_exits_0():
    result = run("--help")
    assert result.status == 0
    assert "validate: /usr/sbin/lvs-cf check %s" in result.out


# -- the entry script as a process -------------------------------------------------------------


def script(*args, script_path, env=None, via=None):
    command = [*via, str(script_path), *args] if via else [str(script_path), *args]
    environment = {k: v for k, v in os.environ.items() if k != "LVS_CLUSTER_LIB"}
    environment.update(env or {})
    return subprocess.run(
        command, capture_output=True, text=True, env=environment, check=False, timeout=60
    )


@pytest.mark.parametrize(
    "via", [None, ["sh"], [sys.executable]], ids=["executable", "sh", "python"]
)
def test_script_from_the_source_tree(lvs_cf_script, via, good, bad, warned):
    ok = script("check", str(good), via=via, script_path=lvs_cf_script)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    failed = script("check", str(bad), via=via, script_path=lvs_cf_script)
    assert failed.returncode == 1
    assert failed.stderr == module_message(bad) + "\n"
    warns = script("check", str(warned), via=via, script_path=lvs_cf_script)
    assert warns.returncode == 0
    assert f"{warned}:10: warning: " in warns.stderr
    assert script("check", via=via, script_path=lvs_cf_script).returncode == 2


def test_script_render(lvs_cf_script, good):
    result = script("render", str(good), script_path=lvs_cf_script)
    assert result.returncode == 0
    assert result.stdout == canonical_text(content=good.read_text())[1]


@pytest.fixture
def installed(tmp_path):
    """The router role's layout under a prefix: sbin/lvs-cluster and its link sbin/lvs-cf,
    lib/lvs-cluster/lvs_cluster/ (the core package as it is; lvs-cf needs no agents)."""
    prefix = tmp_path / "usr"
    library = prefix / "lib" / "lvs-cluster"
    library.mkdir(parents=True)
    shutil.copytree(CORE, library / "lvs_cluster", ignore=shutil.ignore_patterns("__pycache__"))
    (prefix / "sbin").mkdir()
    shutil.copy(LAUNCHER, prefix / "sbin" / "lvs-cluster")
    (prefix / "sbin" / "lvs-cf").symlink_to("lvs-cluster")
    return prefix


def test_script_installed_layout(installed, good, bad):
    lvs_cf = installed / "sbin" / "lvs-cf"
    assert script("check", str(good), script_path=lvs_cf).returncode == 0
    failed = script("check", str(bad), script_path=lvs_cf)
    assert failed.returncode == 1
    assert "line 3" in failed.stderr


def test_script_installed_layout_is_the_core_package(installed, good):
    core = installed / "lib" / "lvs-cluster" / "lvs_cluster"
    assert (core / "__init__.py").is_file() and (core / "lvs_cf" / "cli.py").is_file()
    result = script("check", str(good), script_path=installed / "sbin" / "lvs-cf")
    assert (result.returncode, result.stderr) == (0, "")


def test_script_symlink_is_followed(lvs_cf_script, tmp_path, good):
    link = tmp_path / "lvs-cf"
    link.symlink_to(lvs_cf_script)
    assert script("check", str(good), script_path=link).returncode == 0


def test_script_library_from_the_environment(installed, tmp_path, good):
    lone = tmp_path / "lone" / "lvs-cf"
    lone.parent.mkdir()
    shutil.copy(LAUNCHER, lone)
    missing = script("check", str(good), script_path=lone)
    assert missing.returncode in (0, 2)  # 0 only if this machine has /usr/lib/lvs-cluster
    library = installed / "lib" / "lvs-cluster"
    found = script("check", str(good), script_path=lone, env={"LVS_CLUSTER_LIB": str(library)})
    assert found.returncode == 0


def test_script_without_library_exits_2(tmp_path, good):
    lone = tmp_path / "lone" / "lvs-cf"
    lone.parent.mkdir()
    shutil.copy(LAUNCHER, lone)
    result = script(
        "check", str(good), script_path=lone, env={"LVS_CLUSTER_LIB": str(tmp_path / "nothing")}
    )
    assert result.returncode == 2
    assert "lvs-cf: the lvs.cluster library (lvs_cluster.lvs_cf.cli) was not found in: " \
        in result.stderr


def test_script_as_a_template_validate_command(lvs_cf_script, good, bad):
    """Ansible runs `validate` as a command line with %s replaced by the temporary file."""
    command = f"{lvs_cf_script} check %s"
    assert (
        subprocess.run(
            command.replace("%s", str(good)), shell=True, check=False, capture_output=True
        ).returncode
        == 0
    )
    refused = subprocess.run(
        command.replace("%s", str(bad)), shell=True, check=False, capture_output=True, text=True
    )
    assert refused.returncode == 1
    assert "line 3" in refused.stderr


def test_script_is_executable_with_a_standard_shebang(lvs_cf_script):
    assert os.access(lvs_cf_script, os.X_OK)
    assert lvs_cf_script.read_text().splitlines()[0] == "#!/bin/sh"
