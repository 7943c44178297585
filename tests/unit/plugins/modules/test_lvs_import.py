# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvs.cluster.lvs_import: the module's main() on the fixture files (both formats, recognised
from the content or given), and its failures naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "import"


@pytest.fixture
def run_import(module_runner):
    from plugins.modules import lvs_import

    return module_runner(lvs_import.main)


def test_a_keepalived_conf_is_recognised_and_imported(run_import):
    result = run_import(src=str(FIXTURES / "keepalived" / "dr-http.conf"))
    assert not result.failed and result["changed"] is False
    assert result["format"] == "keepalived"
    assert result["router_vars"]["router_virtual_servers"][0]["scheduler"] == "wrr"
    assert result["this_router"]["state"] == "MASTER"
    assert {"file", "line", "construct", "reason"} <= set(result["unsupported"][0])


@pytest.mark.parametrize("path", sorted((FIXTURES / "piranha").glob("*.cf")), ids=lambda p: p.name)
def test_a_piranha_lvs_cf_is_recognised_and_imported(run_import, path):
    result = run_import(src=str(path))
    assert not result.failed, result.get("msg")
    assert result["format"] == "piranha"
    assert result["router_vars"]["router_virtual_servers"]
    assert result["hosts"]["primary"]["router_public_address"]


def test_the_format_can_be_forced(run_import):
    result = run_import(src=str(FIXTURES / "keepalived" / "dr-http.conf"), format="piranha")
    assert result.failed and "dr-http.conf line" in result["msg"]


def test_a_malformed_file_fails_with_file_and_line(run_import, tmp_path):
    path = tmp_path / "keepalived.conf"
    path.write_text("global_defs {\n  router_id x\n")
    result = run_import(src=str(path))
    assert result.failed
    assert (result["file"], result["line"]) == (str(path), 1)
    assert result["msg"].startswith(f"{path} line 1: unexpected end of file")


def test_a_missing_file_fails_naming_it(run_import, tmp_path):
    result = run_import(src=str(tmp_path / "nope.conf"))
    assert result.failed
    assert result["msg"] == f"{tmp_path / 'nope.conf'}: cannot read: No such file or directory"
