# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvs.cluster.lvs_cf: the module's main() with patched arguments, on files in a temp dir."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from plugins.module_utils.lvs_cluster.lvs_cf.shells import canonical_text

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lvs_cf"

MINIMAL = """\
primary = 10.0.0.1
virtual web {
     active = 1
     address = 10.0.0.100 eth0:1
     server a {
         address = 10.0.0.21
         active = 1
     }
}
"""


@pytest.fixture
def example_a():
    return (FIXTURES / "example_a.cf").read_text()


@pytest.fixture
def canonical_a(example_a):
    config, text, _warnings = canonical_text(content=example_a)
    return config, text


@pytest.fixture
def path(tmp_path):
    return tmp_path / "ha" / "lvs.cf"


@pytest.fixture(autouse=True)
def _ha_dir(path):
    path.parent.mkdir()


def mode_of(path):
    return stat.S_IMODE(path.stat().st_mode)


# -- parsed / rendered: nothing is touched ----------------------------------------------------


def test_parsed_returns_the_model_and_canonical_text(run_module, canonical_a, example_a):
    config, text = canonical_a
    result = run_module(state="parsed", content=example_a)
    assert not result.failed
    assert result["changed"] is False
    assert result["config"] == config
    assert result["content"] == text
    assert result["config"]["virtuals"][0]["name"] == "shop_https"
    assert "diff" not in result


def test_parsed_bad_content_fails_with_the_line(run_module):
    result = run_module(state="parsed", content="service = lvs\nprimary = 10.0.0.1\nbogus = 1\n")
    assert result.failed
    assert "line 3" in result["msg"]
    assert result["file"] == "content"
    assert result["line"] == 3
    assert result["column"] == 1
    assert "unknown command" in result["reason"]


@pytest.mark.parametrize("line_text, line, key, reason", [
    ("     persistent = 5000000\n", 5, "persistent", "0-4294967 seconds expected"),
    ("     sorry_server = 224.0.0.5\n", 5, "sorry_server",
     "invalid host name or ip address: 224.0.0.5 is a multicast address"),
])
def test_input_the_kernel_refuses_or_wraps_fails_with_line_and_key(run_module, path, line_text,
                                                                   line, key, reason):
    # issue #12, point 8: the lvs.cf core's rules are the IPVS modules' rules
    content = MINIMAL.replace("     address = 10.0.0.100 eth0:1\n",
                              "     address = 10.0.0.100 eth0:1\n" + line_text)
    result = run_module(state="present", content=content, path=str(path))
    assert result.failed
    assert (result["line"], result["key"]) == (line, key)
    assert result["reason"].startswith(reason)
    assert f"line {line}" in result["msg"]
    assert not path.exists()


def test_parsed_needs_content(run_module):
    result = run_module(state="parsed")
    assert result.failed
    assert "content" in result["msg"]


def test_parsed_with_config_is_refused(run_module, canonical_a):
    result = run_module(state="parsed", config=canonical_a[0], content=MINIMAL)
    assert result.failed
    assert "mutually exclusive" in result["msg"]


def test_rendered_from_config(run_module, canonical_a, path):
    config, text = canonical_a
    result = run_module(state="rendered", config=config, path=str(path))
    assert not result.failed
    assert result["content"] == text
    assert result["config"] == config
    assert not path.exists()


def test_rendered_from_content_is_canonical(run_module, canonical_a, example_a):
    result = run_module(state="rendered", content=example_a)
    assert result["content"] == canonical_a[1]
    assert "# HTTPS" not in result["content"]  # comments are not part of the model


def test_bad_config_names_the_field(run_module, canonical_a, path):
    config = canonical_a[0]
    config["virtuals"][1]["servers"][0]["weight"] = "heavy"
    result = run_module(state="present", config=config, path=str(path))
    assert result.failed
    assert "virtuals[1].servers[0].weight" in result["msg"]
    assert result["key"] == "virtuals[1].servers[0].weight"
    assert result["file"] == "config"
    assert not path.exists()


def test_unknown_config_key_is_named(run_module, canonical_a):
    config = dict(canonical_a[0], keepalve=3)
    result = run_module(state="rendered", config=config)
    assert result.failed
    assert "keepalve" in result["msg"]
    assert "keepalive" in result["msg"]  # did you mean


def test_semantically_invalid_config_fails(run_module, canonical_a, path):
    config = dict(canonical_a[0], primary=None)
    result = run_module(state="present", config=config, path=str(path))
    assert result.failed
    assert "primary" in result["msg"]
    assert not path.exists()


def test_warnings_are_reported_with_file_and_line(run_module):
    # A port after the server blocks: Piranha gives the servers the old port (a warning).
    text = MINIMAL.replace("     }\n}", "     }\n     port = 8080\n}")
    assert "port = 8080" in text
    result = run_module(state="parsed", content=text)
    assert not result.failed, result
    assert result.warnings, "expected a warning for a port after the server blocks"
    assert any(w.startswith("content line 9: virtual web: port: ") for w in result.warnings)


# -- present ------------------------------------------------------------------------------------


def test_present_creates_the_canonical_file_0600(run_module, canonical_a, path):
    config, text = canonical_a
    result = run_module(config=config, path=str(path))
    assert not result.failed, result
    assert result["changed"] is True
    assert path.read_text() == text
    assert mode_of(path) == 0o600
    assert result["path"] == str(path)
    assert result["content"] == text


def test_present_twice_is_idempotent(run_module, canonical_a, path):
    config, _text = canonical_a
    assert run_module(config=config, path=str(path))["changed"] is True
    before = path.stat()
    second = run_module(config=config, path=str(path))
    assert second["changed"] is False
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_present_from_content_writes_the_canonical_text(run_module, canonical_a, example_a, path):
    result = run_module(content=example_a, path=str(path))
    assert result["changed"] is True
    assert path.read_text() == canonical_a[1]
    # the same model given as a dict finds nothing to do
    assert run_module(config=canonical_a[0], path=str(path))["changed"] is False


def test_present_replaces_a_non_canonical_file(run_module, canonical_a, example_a, path):
    path.write_text(example_a)
    path.chmod(0o600)
    result = run_module(config=canonical_a[0], path=str(path), _ansible_diff=True)
    assert result["changed"] is True
    assert result["diff"][0]["before"] == example_a
    assert result["diff"][0]["after"] == canonical_a[1]
    assert path.read_text() == canonical_a[1]


def test_present_check_mode_writes_nothing(run_module, canonical_a, path):
    config, text = canonical_a
    result = run_module(config=config, path=str(path), _ansible_check_mode=True, _ansible_diff=True)
    assert result["changed"] is True
    assert not path.exists()
    assert result["diff"] == [
        {
            "before": "",
            "after": text,
            "before_header": f"{path} (content)",
            "after_header": f"{path} (content)",
        }
    ]


def test_present_check_mode_with_a_change_leaves_the_file(run_module, canonical_a, path):
    config, text = canonical_a
    run_module(config=config, path=str(path))
    before = path.stat()
    changed = dict(config, deadtime=12)
    result = run_module(
        config=changed, path=str(path), _ansible_check_mode=True, _ansible_diff=True
    )
    assert result["changed"] is True
    diff = result["diff"][0]
    removed = set(diff["before"].splitlines()) - set(diff["after"].splitlines())
    added = set(diff["after"].splitlines()) - set(diff["before"].splitlines())
    assert removed == {"deadtime = 8"}
    assert added == {"deadtime = 12"}
    assert path.read_text() == text
    assert path.stat().st_mtime_ns == before.st_mtime_ns


def test_no_diff_unless_asked(run_module, canonical_a, path):
    result = run_module(config=canonical_a[0], path=str(path))
    assert result["changed"] is True
    assert "diff" not in result


def test_present_bad_content_never_touches_the_file(run_module, canonical_a, path):
    path.write_text(canonical_a[1])
    path.chmod(0o600)
    result = run_module(content="service = lvs\nkeepalive = 3 4\n", path=str(path))
    assert result.failed
    assert "line 2" in result["msg"]
    assert path.read_text() == canonical_a[1]


def test_backup_keeps_the_old_file(run_module, canonical_a, path):
    config, text = canonical_a
    run_module(config=config, path=str(path))
    result = run_module(config=dict(config, keepalive=3), path=str(path), backup=True)
    assert result["changed"] is True
    backup = result["backup_file"]
    assert backup.startswith(str(path) + ".")
    assert Path(backup).read_text() == text
    assert "keepalive = 3" in path.read_text()


def test_no_backup_when_unchanged_or_new(run_module, canonical_a, path):
    config = canonical_a[0]
    first = run_module(config=config, path=str(path), backup=True)
    assert "backup_file" not in first
    second = run_module(config=config, path=str(path), backup=True)
    assert "backup_file" not in second
    assert sorted(os.listdir(path.parent)) == ["lvs.cf"]


def test_mode_is_applied_and_repaired(run_module, canonical_a, path):
    config = canonical_a[0]
    result = run_module(config=config, path=str(path), mode="0640")
    assert result["changed"] is True
    assert mode_of(path) == 0o640
    assert run_module(config=config, path=str(path), mode="0640")["changed"] is False
    # back to the default 0600: only the mode changes; check mode first
    preview = run_module(
        config=config, path=str(path), _ansible_check_mode=True, _ansible_diff=True
    )
    assert preview["changed"] is True
    assert mode_of(path) == 0o640
    attributes = preview["diff"][-1]
    assert attributes["before"]["mode"] == "0640"
    assert attributes["after"]["mode"] == "0600"
    assert preview["diff"][0]["before"] == preview["diff"][0]["after"]
    result = run_module(config=config, path=str(path))
    assert result["changed"] is True
    assert mode_of(path) == 0o600


def test_owner_and_group_of_the_current_user_are_no_change(run_module, canonical_a, path):
    config = canonical_a[0]
    run_module(config=config, path=str(path))
    result = run_module(
        config=config, path=str(path), owner=str(os.getuid()), group=str(os.getgid())
    )
    assert result["changed"] is False


def test_missing_directory_fails_clearly(run_module, canonical_a, tmp_path):
    target = tmp_path / "nowhere" / "lvs.cf"
    result = run_module(config=canonical_a[0], path=str(target))
    assert result.failed
    assert "does not exist" in result["msg"]


def test_missing_directory_in_check_mode_reports_a_change(run_module, canonical_a, tmp_path):
    target = tmp_path / "nowhere" / "lvs.cf"
    result = run_module(config=canonical_a[0], path=str(target), _ansible_check_mode=True)
    assert not result.failed
    assert result["changed"] is True


def test_path_is_a_directory(run_module, canonical_a, path):
    path.mkdir()
    result = run_module(config=canonical_a[0], path=str(path))
    assert result.failed
    assert "is a directory" in result["msg"]


def test_no_temporary_file_is_left(run_module, canonical_a, path):
    run_module(config=canonical_a[0], path=str(path))
    run_module(config=dict(canonical_a[0], keepalive=4), path=str(path))
    assert sorted(os.listdir(path.parent)) == ["lvs.cf"]


def test_present_needs_config_or_content(run_module, path):
    result = run_module(path=str(path))
    assert result.failed
    assert "config" in result["msg"] and "content" in result["msg"]


# -- gathered ---------------------------------------------------------------------------------


def test_gathered_reads_the_file(run_module, canonical_a, example_a, path):
    path.write_text(example_a)
    result = run_module(state="gathered", path=str(path))
    assert not result.failed
    assert result["changed"] is False
    assert result["config"] == canonical_a[0]
    assert result["content"] == canonical_a[1]
    assert result["canonical"] is False
    path.write_text(canonical_a[1])
    assert run_module(state="gathered", path=str(path))["canonical"] is True


def test_gathered_missing_file_fails(run_module, path):
    result = run_module(state="gathered", path=str(path))
    assert result.failed
    assert f"{path} does not exist" == result["msg"]


def test_gathered_bad_file_names_it_and_the_line(run_module, path):
    path.write_text(MINIMAL + "bogus = 1\n")
    result = run_module(state="gathered", path=str(path))
    assert result.failed
    assert result["msg"].startswith(f"{path} line 10")
    assert result["file"] == str(path)
    assert result["line"] == 10


def test_gathered_crlf_file_is_read(run_module, path):
    path.write_bytes(MINIMAL.replace("\n", "\r\n").encode())
    result = run_module(state="gathered", path=str(path))
    assert not result.failed, result
    assert result["canonical"] is False
    assert "\r" not in result["content"]


# -- absent -----------------------------------------------------------------------------------


def test_absent_removes_with_diff_and_backup(run_module, canonical_a, path):
    path.write_text(canonical_a[1])
    result = run_module(state="absent", path=str(path), backup=True, _ansible_diff=True)
    assert result["changed"] is True
    assert not path.exists()
    assert Path(result["backup_file"]).read_text() == canonical_a[1]
    assert result["diff"][0]["before"] == canonical_a[1]
    assert result["diff"][0]["after"] == ""


def test_absent_check_mode_removes_nothing(run_module, canonical_a, path):
    path.write_text(canonical_a[1])
    result = run_module(state="absent", path=str(path), _ansible_check_mode=True)
    assert result["changed"] is True
    assert path.exists()


def test_absent_when_missing_is_no_change(run_module, path):
    result = run_module(state="absent", path=str(path))
    assert result["changed"] is False
    assert not result.failed


@pytest.mark.parametrize("state", ["absent", "gathered"])
@pytest.mark.parametrize("given", ["config", "content"])
def test_absent_and_gathered_take_no_input(run_module, canonical_a, path, state, given):
    path.write_text(canonical_a[1])
    value = canonical_a[0] if given == "config" else canonical_a[1]
    result = run_module(state=state, path=str(path), **{given: value})
    assert result.failed
    assert result["msg"] == f"state={state} takes neither config nor content"
    assert path.exists()
