# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvs.cluster.kernel_params: main() against a temporary /proc/sys and /sys/module."""

from __future__ import annotations

import os

import pytest

from plugins.module_utils import _kernel_params as kp


@pytest.fixture
def env(tmp_path, monkeypatch, module_runner):
    from plugins.modules import kernel_params

    proc, mods = tmp_path / "proc", tmp_path / "mods"
    (proc / "net" / "ipv4" / "conf" / "all").mkdir(parents=True)
    (proc / "net" / "ipv4" / "ip_forward").write_text("0\n")
    (proc / "net" / "ipv4" / "conf" / "all" / "arp_ignore").write_text("0\n")
    mods.mkdir()
    monkeypatch.setattr(kp, "PROC_SYS", str(proc))
    monkeypatch.setattr(kp, "SYS_MODULE", str(mods))
    probed = []

    def run_command(self, argv, **kwargs):
        name = argv[-1]
        probed.append(name)
        if name == "nosuch":
            return 1, "", "modprobe: FATAL: Module nosuch not found.\n"
        (mods / name).mkdir()
        if name == "ip_vs":
            (proc / "net" / "ipv4" / "vs").mkdir()
            (proc / "net" / "ipv4" / "vs" / "expire_nodest_conn").write_text("0\n")
        return 0, "", ""

    monkeypatch.setattr(kernel_params.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(kernel_params.AnsibleModule, "get_bin_path",
                        lambda self, name, required=False: "/sbin/" + name)
    run = module_runner(kernel_params.main)

    def call(**args):
        args.setdefault("sysctl_file", str(tmp_path / "s.conf"))
        args.setdefault("modules_file", str(tmp_path / "m.conf"))
        return run(**args)
    call.tmp, call.proc, call.probed = tmp_path, proc, probed
    return call


ROUTER = {"net.ipv4.ip_forward": 1, "net.ipv4.vs.expire_nodest_conn": 1}


def test_applies_persists_and_then_changes_nothing(env):
    result = env(sysctls=ROUTER, modules=["ip_vs"])
    assert result["changed"] and result["modules_loaded"] == ["ip_vs"]
    assert [(s["name"], s["before"], s["after"]) for s in result["sysctls"]] == [
        ("net.ipv4.ip_forward", "0", "1"), ("net.ipv4.vs.expire_nodest_conn", "0", "1")]
    assert (env.proc / "net/ipv4/vs/expire_nodest_conn").read_text() == "1\n"
    assert (env.tmp / "s.conf").read_text() == (
        kp.HEADER + "net.ipv4.ip_forward = 1\nnet.ipv4.vs.expire_nodest_conn = 1\n")
    assert (env.tmp / "m.conf").read_text() == kp.HEADER + "ip_vs\n"
    stamp = os.stat(env.tmp / "s.conf").st_mtime_ns
    again = env(sysctls=ROUTER, modules=["ip_vs"])
    assert not again["changed"] and again["files"] == [] and env.probed == ["ip_vs"]
    assert os.stat(env.tmp / "s.conf").st_mtime_ns == stamp


def test_a_value_changed_by_hand_is_reported_in_check_mode_and_left(env):
    env(sysctls=ROUTER, modules=["ip_vs"])
    (env.proc / "net/ipv4/ip_forward").write_text("0\n")
    result = env(sysctls=ROUTER, modules=["ip_vs"], _ansible_check_mode=True, _ansible_diff=True)
    assert result["changed"] and result["files"] == []
    assert [s["name"] for s in result["sysctls"] if s["changed"]] == ["net.ipv4.ip_forward"]
    assert "net.ipv4.ip_forward = 0" in result["diff"]["before"]
    assert (env.proc / "net/ipv4/ip_forward").read_text() == "0\n"


def test_check_mode_loads_no_module(env):
    result = env(sysctls=ROUTER, modules=["ip_vs"], _ansible_check_mode=True)
    assert result["changed"] and result["modules_loaded"] == ["ip_vs"] and env.probed == []
    assert not (env.tmp / "s.conf").exists()


def test_an_unknown_parameter_fails_before_anything_changes(env):
    result = env(sysctls={"net.ipv4.ip_forward": 1, "net.ipv4.nope": 1})
    assert result.failed and result["msg"].startswith("sysctls.net.ipv4.nope: no such kernel")
    assert (env.proc / "net/ipv4/ip_forward").read_text() == "0\n"
    assert not (env.tmp / "s.conf").exists()


def test_a_modprobe_failure_names_the_module(env):
    result = env(modules=["nosuch"])
    assert result.failed and result["msg"] == (
        "modules.nosuch: modprobe failed: modprobe: FATAL: Module nosuch not found.")


def test_absent_removes_the_files_with_a_backup(env):
    env(sysctls={"net.ipv4.conf.all.arp_ignore": 1})
    result = env(state="absent", backup=True)
    assert result["changed"] and result["files"] == [str(env.tmp / "s.conf")]
    assert not (env.tmp / "s.conf").exists() and len(result["backup_files"]) == 1
    assert (env.proc / "net/ipv4/conf/all/arp_ignore").read_text() == "1\n"  # left as it is
    assert not env(state="absent")["changed"]
