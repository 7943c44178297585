# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The last good lvs.cf (``last_good``), the rule pulse and lvsd share: a good lvs.cf is kept as
a copy (atomically, only when it changed); at start a bad lvs.cf with a copy runs the copy and
says why, without one it is an error; a reload with a good file returns to normal. And how
lvs-status and the metrics show it."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lvs_agents import last_good, runtime
from test_status import lvs_status, lvsd_doc, parse_exposition, pulse_doc, render, sample

REPO = Path(__file__).resolve().parents[3]
GOOD = """serial_no = 1
primary = 10.254.0.2
service = lvs
backup = 10.254.0.3
network = direct

virtual web {
    active = 1
    address = 10.254.0.100 eth0:1
    port = 80
    server web1 {
        address = 10.254.0.21
        active = 1
    }
}
"""
BAD = GOOD.replace("port = 80", "port = eighty")  # line 10
NEWER = GOOD.replace("port = 80", "port = 8080")
log = logging.getLogger("test-last-good")


@pytest.fixture
def files(tmp_path, state_dir):
    """lvs.cf and the copy's path (in the test's state directory, not created yet)."""
    config = tmp_path / "lvs.cf"
    return config, state_dir / last_good.FILE_NAME


def source_for(files):
    config, copy = files
    return last_good.ConfigSource(str(config), str(copy), log)


def test_the_default_copy_is_in_the_state_directory(state_dir, monkeypatch):
    assert last_good.default_path() == str(state_dir / "lvs.cf.last-good")
    monkeypatch.delenv("LVS_CLUSTER_STATE_DIR")
    assert last_good.default_path() == "/var/lib/lvs-cluster/lvs.cf.last-good"


def test_a_good_lvs_cf_is_kept_whole_and_private(files):
    config, copy = files
    config.write_text(GOOD)
    source = source_for(files)
    loaded = source.load()
    assert loaded.virtuals[0].port == 80
    assert copy.read_text() == GOOD
    assert oct(copy.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in copy.parent.iterdir()] == [copy.name]  # no temporary file left
    status = source.status()
    assert status == {"path": str(copy), "in_use": False, "problem": None,
                      "saved_at": pytest.approx(copy.stat().st_mtime)}


def test_the_copy_is_written_only_when_the_text_changed(files):
    config, copy = files
    config.write_text(GOOD)
    source_for(files).load()
    os.utime(copy, (1_000_000_000, 1_000_000_000))
    before = copy.stat()
    source_for(files).load()
    source_for(files).reload()
    after = copy.stat()
    assert (after.st_ino, after.st_mtime) == (before.st_ino, before.st_mtime)
    config.write_text(NEWER)
    source_for(files).reload()
    assert copy.read_text() == NEWER and copy.stat().st_mtime > before.st_mtime


def test_a_bad_lvs_cf_at_start_runs_the_last_good_copy_and_says_why(files, caplog):
    config, copy = files
    copy.parent.mkdir()
    copy.write_text(GOOD)
    saved = time.time() - 3600
    os.utime(copy, (saved, saved))
    config.write_text(BAD)
    source = source_for(files)
    with caplog.at_level(logging.INFO):
        loaded = source.load()
    assert loaded.virtuals[0].port == 80
    assert copy.read_text() == GOOD  # the bad text is never kept
    problem = source.status()["problem"]
    assert problem.startswith(f"{config} line 10, column 12: virtual web: port:")
    assert source.in_use and source.status()["in_use"] is True
    assert source.status()["saved_at"] == pytest.approx(saved)
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(saved))
    assert problem in record.getMessage()
    assert f"the last good configuration from {when} ({copy})" in record.getMessage()


def test_a_missing_lvs_cf_at_start_runs_the_copy(files):
    config, copy = files
    copy.parent.mkdir()
    copy.write_text(GOOD)
    source = source_for(files)
    assert source.load().virtuals[0].port == 80
    assert source.status()["problem"] == f"{config}: cannot read: No such file or directory"


FAILOVER = """
failover ftp {
    active = 1
    address = 10.254.0.80 eth0:3
    port = 21
    start_cmd = "/bin/true"
    stop_cmd = "/bin/true"
}
"""


@pytest.mark.parametrize("text, message", [
    (GOOD.replace("active = 1\n    address", "active = 0\n    address"),
     "line 3: service: no active virtual block"),
    (GOOD.replace("service = lvs", "service = fos") + FAILOVER,
     ": service = fos: only service = lvs is supported"),
])
def test_what_the_agents_cannot_run_is_bad_for_both(files, text, message):
    """pulse and lvsd accept the same files: one that pulse cannot run is bad for lvsd too."""
    config, copy = files
    config.write_text(text)
    with pytest.raises(runtime.ConfigError, match=message):
        source_for(files).load()
    assert not copy.exists()
    copy.parent.mkdir()
    copy.write_text(GOOD)
    source = source_for(files)
    assert source.load().virtuals[0].active and source.in_use
    assert source.status()["problem"].startswith(str(config))
    assert message in source.status()["problem"]


def test_without_a_copy_a_bad_lvs_cf_is_an_error(files):
    config, copy = files
    config.write_text(BAD)
    with pytest.raises(runtime.ConfigError, match=f"^{config} line 10, column 12: "):
        source_for(files).load()
    assert not copy.exists()


def test_a_bad_copy_is_an_error_naming_both(files):
    config, copy = files
    config.write_text(BAD)
    copy.parent.mkdir()
    copy.write_text(GOOD.replace("network = direct", "network = carrier-pigeon"))
    with pytest.raises(runtime.ConfigError) as raised:
        source_for(files).load()
    assert f"{config} line 10" in str(raised.value)
    assert f"{copy} line 5" in str(raised.value)


def test_a_reload_with_a_good_file_returns_to_normal(files):
    config, copy = files
    copy.parent.mkdir()
    copy.write_text(GOOD)
    config.write_text(BAD)
    source = source_for(files)
    source.load()
    with pytest.raises(runtime.ConfigError):
        source.reload()  # still bad: still the copy
    assert source.in_use
    config.write_text(NEWER)
    assert source.reload().virtuals[0].port == 8080
    assert not source.in_use and source.status()["problem"] is None
    assert copy.read_text() == NEWER


def test_a_refused_reload_keeps_the_copy_and_says_the_copy_is_what_runs(files):
    """After a refused reload the agent runs the last good configuration, and a restart would
    use the copy: both are what the flag says."""
    config, copy = files
    config.write_text(GOOD)
    source = source_for(files)
    source.load()
    config.write_text(BAD)
    with pytest.raises(runtime.ConfigError, match="line 10"):
        source.reload()
    assert source.in_use and "line 10" in source.status()["problem"]
    assert copy.read_text() == GOOD


def test_a_copy_that_cannot_be_written_is_a_warning(tmp_path, caplog):
    config = tmp_path / "lvs.cf"
    config.write_text(GOOD)
    (tmp_path / "not-a-directory").write_text("")
    copy = tmp_path / "not-a-directory" / "lvs.cf.last-good"
    source = last_good.ConfigSource(str(config), str(copy), log)
    assert source.load().virtuals[0].port == 80
    assert any(r.levelno == logging.WARNING and str(copy) in r.getMessage()
               for r in caplog.records)
    assert source.status()["saved_at"] is None


# A write cut short at 4 KiB by the file size limit: SIGXFSZ kills the writer there, as a crash
# or a power cut would; with SIGXFSZ ignored the write fails instead (EFBIG, as on a full disk).
INTERRUPTED_WRITE = """
import resource, signal, sys
from lvs_agents import last_good
# (Python ignores SIGXFSZ unless told otherwise)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN if sys.argv[3] == "fail" else signal.SIG_DFL)
content = open(sys.argv[2], "rb").read()
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
print(last_good.keep(sys.argv[1], content))
"""


@pytest.mark.parametrize("how", ["killed", "fail"])
def test_an_interrupted_write_leaves_the_old_copy_whole(files, how):
    config, copy = files
    copy.parent.mkdir()
    copy.write_text(GOOD)
    config.write_text(NEWER + "# padding\n" * 8000)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO / "files" / "lib"), str(REPO / "plugins" / "module_utils")])}
    result = subprocess.run([sys.executable, "-c", INTERRUPTED_WRITE, str(copy), str(config),
                             how], env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    if how == "killed":
        assert result.returncode == -signal.SIGXFSZ, result
    else:
        assert (result.returncode, result.stdout) == (0, "False\n"), result
        assert [p.name for p in copy.parent.iterdir()] == [copy.name]
    assert copy.read_text() == GOOD


# --- lvs-status and the metrics ---------------------------------------------------------------

IN_USE = {"path": "/var/lib/lvs-cluster/lvs.cf.last-good", "in_use": True,
          "saved_at": 1_799_990_000.0,
          "problem": "/etc/sysconfig/ha/lvs.cf line 10, column 12: virtual web: port: bad"}
NORMAL = {**IN_USE, "in_use": False, "problem": None}


def test_metrics_say_which_agent_runs_the_last_good_copy():
    lvsd = {**lvsd_doc(), "last_good": NORMAL}
    samples, types = parse_exposition(render({**pulse_doc(), "last_good": IN_USE}, lvsd, []))
    assert sample(samples, "lvs_cluster_config_last_good_in_use", agent="pulse") == 1
    assert sample(samples, "lvs_cluster_config_last_good_in_use", agent="lvsd") == 0
    assert types["lvs_cluster_config_last_good_in_use"] == "gauge"
    dead = render({**pulse_doc(), "last_good": IN_USE}, None, [], alive=lambda pid: False)
    assert "lvs_cluster_config_last_good_in_use" not in dead


def test_status_text_says_loudly_that_the_last_good_copy_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("LVS_CLUSTER_RUN_DIR", str(tmp_path / "run"))
    now = time.time()
    pulse = {**pulse_doc(updated=now), "last_good": IN_USE}
    runtime.write_status("pulse", pulse)
    runtime.write_status("lvsd", {**lvsd_doc(updated=now), "last_good": IN_USE})
    code, out = lvs_status()
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(IN_USE["saved_at"]))
    banner = f"  LAST GOOD lvs.cf IN USE, from {when} ({IN_USE['path']})"
    assert out.count(banner) == 2, out
    assert out.count(f"    lvs.cf refused: {IN_USE['problem']}") == 2, out
    runtime.write_status("pulse", {**pulse, "last_good": NORMAL})
    runtime.write_status("lvsd", lvsd_doc(updated=now))  # an older lvsd: no last_good
    code, out = lvs_status()
    assert "LAST GOOD" not in out and "refused" not in out
