# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel_params core against a temporary /proc/sys and /sys/module."""

from __future__ import annotations

import pytest

from plugins.module_utils import _kernel_params as kp


@pytest.fixture
def tree(tmp_path):
    proc, mods = tmp_path / "proc", tmp_path / "mods"
    (proc / "net" / "ipv4").mkdir(parents=True)
    (proc / "net" / "ipv4" / "ip_forward").write_text("0\n")
    (proc / "net" / "ipv4" / "tcp_rmem").write_text("4096\t131072\t6291456\n")
    mods.mkdir()
    return tmp_path, str(proc), str(mods)


def fake_modprobe(proc, mods, loaded):
    def modprobe(name):
        loaded.append(name)
        (mods / name).mkdir()
        if name == "ip_vs":
            (proc / "net" / "ipv4" / "vs").mkdir()
            (proc / "net" / "ipv4" / "vs" / "expire_nodest_conn").write_text("0\n")
    return modprobe


def test_a_changed_value_is_planned_with_before_and_after(tree):
    root, proc, mods = tree
    plan = kp.plan({"net.ipv4.ip_forward": 1}, [], str(root / "s.conf"), str(root / "m.conf"),
                   proc_sys=proc, sys_module=mods)
    assert [c.result() for c in plan.sysctls] == [
        {"name": "net.ipv4.ip_forward", "before": "0", "after": "1", "changed": True}]
    assert plan.files == {str(root / "s.conf"): kp.HEADER + "net.ipv4.ip_forward = 1\n"}
    kp.write_sysctls(plan, proc)
    assert (root / "proc" / "net" / "ipv4" / "ip_forward").read_text() == "1\n"


def test_white_space_is_normalised(tree):
    root, proc, mods = tree
    plan = kp.plan({"net.ipv4.tcp_rmem": "4096  131072 6291456"}, [], str(root / "s"),
                   str(root / "m"), proc_sys=proc, sys_module=mods)
    assert not plan.sysctls[0].changed


def test_modules_load_before_their_parameters_are_read(tree):
    root, proc, mods = tree
    sysctls = {"net.ipv4.vs.expire_nodest_conn": 1}
    plan = kp.plan(sysctls, ["ip_vs"], str(root / "s"), str(root / "m"), proc_sys=proc,
                   sys_module=mods)
    assert plan.modules == ["ip_vs"] and plan.sysctls[0].before is None
    loaded = []
    kp.load_modules(plan, fake_modprobe(root / "proc", root / "mods", loaded))
    kp.refresh(plan, sysctls, proc)
    assert loaded == ["ip_vs"] and plan.sysctls[0].before == "0"
    assert plan.files[str(root / "m")] == kp.HEADER + "ip_vs\n"


def test_an_unknown_parameter_fails_by_name_when_no_module_is_missing(tree):
    root, proc, mods = tree
    with pytest.raises(kp.KernelParamsError, match=r"^sysctls.net.ipv4.nope: no such kernel"):
        kp.plan({"net.ipv4.ip_forward": 1, "net.ipv4.nope": 1}, [], str(root / "s"),
                str(root / "m"), proc_sys=proc, sys_module=mods)


@pytest.mark.parametrize(("sysctls", "modules", "message"), [
    ({"ip_forward": 1}, [], "sysctls.ip_forward: not a kernel parameter name"),
    ({"net.ipv4..x": 1}, [], "sysctls.net.ipv4..x: not a kernel parameter name"),
    ({"net.ipv4.ip_forward": "1\n0"}, [], "sysctls.net.ipv4.ip_forward: the value must be one"),
    ({"net.ipv4.ip_forward": ""}, [], "sysctls.net.ipv4.ip_forward: the value must be one"),
    ({"net.ipv4.ip_forward": [1]}, [], "sysctls.net.ipv4.ip_forward: the value must be a"),
    ({}, ["../evil"], "modules: '../evil' is not a kernel module name"),
])
def test_bad_arguments_are_named(tree, sysctls, modules, message):
    root, proc, mods = tree
    with pytest.raises(kp.KernelParamsError) as error:
        kp.plan(sysctls, modules, str(root / "s"), str(root / "m"), proc_sys=proc,
                sys_module=mods)
    assert str(error.value).startswith(message)


def test_absent_removes_both_files_only_if_present(tree):
    root, proc, mods = tree
    (root / "s").write_text("x")
    plan = kp.plan({}, [], str(root / "s"), str(root / "m"), state="absent", proc_sys=proc,
                   sys_module=mods)
    assert plan.files == {str(root / "s"): None} and plan.changed


def test_an_empty_set_removes_a_stale_file(tree):
    root, proc, mods = tree
    (root / "m").write_text(kp.HEADER + "ipip\n")
    plan = kp.plan({}, [], str(root / "s"), str(root / "m"), proc_sys=proc, sys_module=mods)
    assert plan.files == {str(root / "m"): None}


def test_the_diff_shows_values_modules_and_files(tree):
    root, proc, mods = tree
    plan = kp.plan({"net.ipv4.ip_forward": 1}, ["ip_vs"], str(root / "s"), str(root / "m"),
                   proc_sys=proc, sys_module=mods)
    diff = kp.diff(plan)
    assert "net.ipv4.ip_forward = 0\n" in diff["before"]
    assert "net.ipv4.ip_forward = 1\n" in diff["after"]
    assert "module ip_vs: not loaded" in diff["before"] and "module ip_vs: loaded" in diff["after"]
    assert f"# {root / 's'}\n(absent)" in diff["before"]
    assert "net.ipv4.ip_forward = 1\n" in diff["after"].split(f"# {root / 's'}\n")[1]


def test_a_refused_value_names_the_parameter(tree, monkeypatch):
    root, proc, mods = tree
    plan = kp.plan({"net.ipv4.ip_forward": 7}, [], str(root / "s"), str(root / "m"),
                   proc_sys=proc, sys_module=mods)
    (root / "proc" / "net" / "ipv4" / "ip_forward").chmod(0o444)
    monkeypatch.setattr(kp, "open", _refusing_open, raising=False)
    with pytest.raises(kp.KernelParamsError,
                       match="sysctls.net.ipv4.ip_forward: the kernel refused '7'"):
        kp.write_sysctls(plan, proc)


def _refusing_open(path, mode="r", **kwargs):
    if "w" in mode:
        raise OSError(22, "Invalid argument", path)
    return open(path, mode, **kwargs)  # noqa: SIM115
