# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvs.cluster.kernel_params: the module's main() with patched arguments, on a fake
/proc/sys and /sys/module and files in a temp dir; modprobe is a fake run_command."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from ansible.module_utils import basic

from plugins.module_utils.lvs_cluster import kernel_params as kp

HEADER = "# Managed by Ansible (lvs.cluster.kernel_params)\n"
MODPROBE = "/usr/sbin/modprobe"


class Host:
    """The fake host: its /proc/sys, /sys/module, /etc files and modprobe."""

    def __init__(self, root: Path) -> None:
        self.proc = root / "proc" / "sys"
        self.sys_module = root / "sys" / "module"
        self.modules_dir = root / "lib" / "modules"
        self.sysctl_file = root / "etc" / "sysctl.d" / "90-lvs-cluster.conf"
        self.modules_file = root / "etc" / "modules-load.d" / "lvs-cluster.conf"
        for directory in (self.proc, self.sys_module, self.sysctl_file.parent,
                          self.modules_file.parent):
            directory.mkdir(parents=True)
        self.commands: list[list[str]] = []
        self.brings: dict[str, dict[str, str]] = {
            "ip_vs": {"net.ipv4.vs.expire_nodest_conn": "0\n", "net.ipv4.vs.conntrack": "0\n"}
        }
        self.failures: dict[str, str] = {}
        # (module, parameters present when modprobe ran)
        self.seen: list[tuple[str, bool]] = []

    def param(self, name: str, value: str | None = None) -> Path:
        path = self.proc.joinpath(*name.split("."))
        if value is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(value)
        return path

    def value(self, name: str) -> str:
        return self.param(name).read_text()

    def run_command(self, args, **kwargs):
        self.commands.append(list(args))
        assert args[:2] == [MODPROBE, "--"], args
        name = args[2]
        self.seen.append((name, self.param("net.ipv4.vs.expire_nodest_conn").exists()))
        if name in self.failures:
            return 1, "", self.failures[name]
        (self.sys_module / name).mkdir()
        for param, value in self.brings.get(name, {}).items():
            self.param(param, value)
        return 0, "", ""

    def args(self, **kwargs):
        kwargs.setdefault("sysctl_file", str(self.sysctl_file))
        kwargs.setdefault("modules_file", str(self.modules_file))
        return kwargs


@pytest.fixture
def host(tmp_path, monkeypatch):
    h = Host(tmp_path)
    h.param("net.ipv4.ip_forward", "0\n")
    h.param("net.ipv4.conf.all.arp_ignore", "0\n")
    h.param("net.ipv4.conf.all.arp_announce", "0\n")
    h.param("net.ipv4.tcp_rmem", "4096\t131072\t6291456\n")
    monkeypatch.setattr(kp, "PROC_SYS", str(h.proc))
    monkeypatch.setattr(kp, "SYS_MODULE", str(h.sys_module))
    monkeypatch.setattr(kp, "MODULES_DIR", str(h.modules_dir))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, name, *a, **kw: MODPROBE if name == "modprobe" else None)
    monkeypatch.setattr(basic.AnsibleModule, "run_command",
                        lambda self, args, **kw: h.run_command(args, **kw))
    return h


@pytest.fixture
def run(module_runner, host):
    from plugins.modules import kernel_params

    runner = module_runner(kernel_params.main)

    def run_(**kwargs):
        return runner(**host.args(**kwargs))

    return run_


def age(path: Path) -> float:
    stamp = path.stat().st_mtime - 3600
    os.utime(path, (stamp, stamp))
    return path.stat().st_mtime


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


ROUTER = {"net.ipv4.ip_forward": 1, "net.ipv4.vs.expire_nodest_conn": 1}


def test_changed_value_is_set_and_persisted(run, host):
    result = run(sysctls={"net.ipv4.ip_forward": 1, "net.ipv4.conf.all.arp_ignore": 0})
    assert not result.failed, result.get("msg")
    assert result["changed"] is True
    assert host.value("net.ipv4.ip_forward") == "1\n"
    assert result["sysctls"] == [
        dict(name="net.ipv4.ip_forward", before="0", after="1", changed=True),
        dict(name="net.ipv4.conf.all.arp_ignore", before="0", after="0", changed=False),
    ]
    assert result["files"] == [str(host.sysctl_file)]
    assert host.sysctl_file.read_text() == (
        HEADER + "net.ipv4.ip_forward = 1\nnet.ipv4.conf.all.arp_ignore = 0\n"
    )
    assert mode_of(host.sysctl_file) == 0o644
    assert not host.modules_file.exists()
    assert result["modules_loaded"] == []
    assert host.commands == []
    assert "diff" not in result
    assert not list(host.sysctl_file.parent.glob(".kernel_params.*"))  # no temp file left


def test_second_run_is_unchanged_and_writes_nothing(run, host):
    first = run(modules=["ip_vs"], sysctls=ROUTER)
    assert first["changed"] is True
    files = [host.sysctl_file, host.modules_file]
    params = [host.param(name) for name in ROUTER]
    mtimes = [age(path) for path in files + params]
    host.commands.clear()
    again = run(modules=["ip_vs"], sysctls=ROUTER)
    assert not again.failed
    assert again["changed"] is False
    assert again["files"] == []
    assert again["modules_loaded"] == []
    assert all(s["changed"] is False for s in again["sysctls"])
    assert [path.stat().st_mtime for path in files + params] == mtimes
    assert host.commands == []


def test_existing_file_mode_is_made_0644(run, host):
    host.sysctl_file.write_text("old\n")
    host.sysctl_file.chmod(0o600)
    run(sysctls={"net.ipv4.ip_forward": 1})
    assert mode_of(host.sysctl_file) == 0o644
    assert host.sysctl_file.read_text() == HEADER + "net.ipv4.ip_forward = 1\n"


def test_multi_value_whitespace_is_normalised(run, host):
    host.sysctl_file.write_text(HEADER + "net.ipv4.tcp_rmem = 4096 131072 6291456\n")
    result = run(sysctls={"net.ipv4.tcp_rmem": " 4096   131072\t6291456"})
    assert result["changed"] is False
    assert result["sysctls"][0]["before"] == "4096 131072 6291456"
    changed = run(sysctls={"net.ipv4.tcp_rmem": "4096 87380 6291456"})
    assert changed["changed"] is True
    assert host.value("net.ipv4.tcp_rmem") == "4096 87380 6291456\n"


def test_modules_are_loaded_before_the_sysctls(run, host):
    result = run(modules=["ip_vs"], sysctls=ROUTER)
    assert not result.failed, result.get("msg")
    assert host.commands == [[MODPROBE, "--", "ip_vs"]]
    assert host.seen == [("ip_vs", False)]  # its parameter did not exist yet
    assert host.value("net.ipv4.vs.expire_nodest_conn") == "1\n"
    assert result["modules_loaded"] == ["ip_vs"]
    assert host.modules_file.read_text() == HEADER + "ip_vs\n"
    assert mode_of(host.modules_file) == 0o644
    assert result["files"] == [str(host.sysctl_file), str(host.modules_file)]


def test_check_mode_changes_nothing_but_reports(run, host):
    result = run(modules=["ip_vs"], sysctls=ROUTER, _ansible_check_mode=True)
    assert not result.failed, result.get("msg")
    assert result["changed"] is True
    assert host.commands == []
    assert not (host.sys_module / "ip_vs").exists()
    assert host.value("net.ipv4.ip_forward") == "0\n"
    assert not host.sysctl_file.exists()
    assert not host.modules_file.exists()
    assert result["modules_loaded"] == ["ip_vs"]
    assert result["files"] == [str(host.sysctl_file), str(host.modules_file)]
    assert result["sysctls"] == [
        dict(name="net.ipv4.ip_forward", before="0", after="1", changed=True),
        dict(name="net.ipv4.vs.expire_nodest_conn", before=None, after="1", changed=True),
    ]


def test_check_mode_unknown_key_still_fails_when_nothing_is_to_load(run, host):
    result = run(sysctls={"net.ipv4.nope": 1}, _ansible_check_mode=True)
    assert result.failed
    assert result["msg"] == (
        "sysctls.net.ipv4.nope: no such kernel parameter (is its module loaded?)"
    )


def test_diff(run, host):
    host.param("net.ipv4.ip_forward", "1\n")
    host.modules_file.write_text(HEADER + "ip_vs\n")
    result = run(sysctls={"net.ipv4.ip_forward": 1, "net.ipv4.conf.all.arp_ignore": 1},
                 _ansible_diff=True, _ansible_check_mode=True)
    assert result["diff"] == dict(
        before=(
            "net.ipv4.ip_forward = 1\n"
            "net.ipv4.conf.all.arp_ignore = 0\n"
            f"# {host.sysctl_file} (absent)\n"
            f"# {host.modules_file}\n"
            "# Managed by Ansible (lvs.cluster.kernel_params)\n"
            "ip_vs\n"
        ),
        after=(
            "net.ipv4.ip_forward = 1\n"
            "net.ipv4.conf.all.arp_ignore = 1\n"
            f"# {host.sysctl_file}\n"
            "# Managed by Ansible (lvs.cluster.kernel_params)\n"
            "net.ipv4.ip_forward = 1\n"
            "net.ipv4.conf.all.arp_ignore = 1\n"
            f"# {host.modules_file} (absent)\n"
        ),
        before_header="kernel parameters, modules and files",
        after_header="kernel parameters, modules and files",
    )
    # check mode: the stale modules file is still there
    assert host.modules_file.exists()


def test_diff_shows_modules(run, host):
    result = run(modules=["ip_vs"], _ansible_diff=True)
    assert "module ip_vs: not loaded\n" in result["diff"]["before"]
    assert "module ip_vs: loaded\n" in result["diff"]["after"]


def test_unknown_key_fails_naming_it_and_changes_nothing(run, host):
    result = run(sysctls={"net.ipv4.ip_forward": 1, "net.ipv4.conf.all.arp_ignore": 1,
                          "net.ipv4.no_such_thing": 1})
    assert result.failed
    assert result["msg"] == (
        "sysctls.net.ipv4.no_such_thing: no such kernel parameter (is its module loaded?)"
    )
    assert host.value("net.ipv4.ip_forward") == "0\n"
    assert host.value("net.ipv4.conf.all.arp_ignore") == "0\n"
    assert not host.sysctl_file.exists()


def test_value_with_newline_is_rejected(run, host):
    result = run(modules=["ip_vs"],
                 sysctls={"net.ipv4.ip_forward": "1\nkernel.panic = 1"})
    assert result.failed
    assert result["msg"] == "sysctls.net.ipv4.ip_forward: the value must not contain a newline"
    assert host.commands == []
    assert host.value("net.ipv4.ip_forward") == "0\n"
    assert not host.sysctl_file.exists()


def test_bad_module_name_is_rejected(run, host):
    result = run(modules=["ip_vs", "../../evil"])
    assert result.failed
    assert result["msg"].startswith("modules: '../../evil' is not a kernel module name")
    assert host.commands == []


def test_modprobe_failure(run, host):
    host.failures["ip_vs_nope"] = "modprobe: FATAL: Module ip_vs_nope not found in directory\n"
    result = run(modules=["ip_vs_nope"], sysctls={"net.ipv4.ip_forward": 1})
    assert result.failed
    assert result["msg"] == (
        "modules.ip_vs_nope: modprobe failed: "
        "modprobe: FATAL: Module ip_vs_nope not found in directory"
    )
    assert host.value("net.ipv4.ip_forward") == "0\n"
    assert not host.modules_file.exists()


def test_kernel_refusal(run, host, monkeypatch):
    def refuse(path, value):
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(kp, "write_proc", refuse)
    result = run(sysctls={"net.ipv4.conf.all.arp_announce": 7})
    assert result.failed
    assert result["msg"] == (
        "sysctls.net.ipv4.conf.all.arp_announce: the kernel refused 7: Invalid argument"
    )
    assert not host.sysctl_file.exists()  # not persisted


def test_absent_removes_files_and_leaves_the_kernel(run, host):
    run(modules=["ip_vs"], sysctls=ROUTER)
    assert host.sysctl_file.exists() and host.modules_file.exists()
    host.commands.clear()
    result = run(state="absent")
    assert not result.failed
    assert result["changed"] is True
    assert result["files"] == [str(host.sysctl_file), str(host.modules_file)]
    assert not host.sysctl_file.exists()
    assert not host.modules_file.exists()
    assert host.value("net.ipv4.ip_forward") == "1\n"
    assert (host.sys_module / "ip_vs").exists()
    assert host.commands == []
    again = run(state="absent")
    assert again["changed"] is False
    assert again["files"] == []


def test_backup_keeps_a_copy(run, host):
    old = HEADER + "net.ipv4.ip_forward = 0\n"
    host.sysctl_file.write_text(old)
    result = run(sysctls={"net.ipv4.ip_forward": 1}, backup=True)
    assert not result.failed, result.get("msg")
    [backup] = result["backup_files"]
    assert Path(backup).parent == host.sysctl_file.parent
    assert Path(backup).name.startswith("90-lvs-cluster.conf.")
    assert Path(backup).read_text() == old
    assert host.sysctl_file.read_text() == HEADER + "net.ipv4.ip_forward = 1\n"


def test_no_backup_of_a_new_file(run, host):
    result = run(sysctls={"net.ipv4.ip_forward": 1}, backup=True)
    assert "backup_files" not in result
    assert sorted(p.name for p in host.sysctl_file.parent.iterdir()) == ["90-lvs-cluster.conf"]


def test_empty_set_removes_stale_file(run, host):
    host.modules_file.write_text(HEADER + "ip_vs\n")
    host.param("net.ipv4.ip_forward", "1\n")
    host.sysctl_file.write_text(HEADER + "net.ipv4.ip_forward = 1\n")
    result = run(sysctls={"net.ipv4.ip_forward": 1}, modules=[])
    assert result["changed"] is True
    assert result["files"] == [str(host.modules_file)]
    assert not host.modules_file.exists()
    assert host.sysctl_file.exists()


def test_missing_directory_fails(run, host, tmp_path):
    result = run(sysctls={"net.ipv4.ip_forward": 1},
                 sysctl_file=str(tmp_path / "nowhere" / "x.conf"))
    assert result.failed
    assert result["msg"] == f"sysctl_file: directory {tmp_path / 'nowhere'} does not exist"
    assert host.value("net.ipv4.ip_forward") == "0\n"
