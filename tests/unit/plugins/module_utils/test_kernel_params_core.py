# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The core of lvs.cluster.kernel_params on a fake /proc/sys and /sys/module in a temp dir."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from plugins.module_utils.lvs_cluster import kernel_params as kp

HEADER = "# Managed by Ansible (lvs.cluster.kernel_params)\n"


class FakeKernel:
    """/proc/sys and /sys/module under tmp_path; modprobe() "loads" a module: creates its
    /sys/module directory and the parameters it brings."""

    def __init__(self, root: Path) -> None:
        self.proc = root / "proc" / "sys"
        self.sys_module = root / "sys" / "module"
        self.modules_dir = root / "lib" / "modules"
        self.proc.mkdir(parents=True)
        self.sys_module.mkdir(parents=True)
        self.brings: dict[str, dict[str, str]] = {}
        self.failures: dict[str, str] = {}
        self.calls: list[str] = []
        # What existed when each modprobe ran: proves the order of loads and reads.
        self.seen_at_modprobe: list[set[str]] = []

    def param(self, name: str, value: str | None = None) -> Path:
        path = self.proc.joinpath(*[p.replace("/", ".") for p in name.split(".")])
        if value is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(value)
        return path

    def value(self, name: str) -> str:
        return self.param(name).read_text()

    def load(self, name: str) -> None:
        (self.sys_module / name.replace("-", "_")).mkdir()

    def modprobe(self, name: str) -> str | None:
        self.calls.append(name)
        self.seen_at_modprobe.append(
            {str(p.relative_to(self.proc)) for p in self.proc.rglob("*") if p.is_file()}
        )
        if name in self.failures:
            return self.failures[name]
        self.load(name)
        for param, value in self.brings.get(name, {}).items():
            self.param(param, value)
        return None

    def run(self, tmp_path: Path, **kwargs):
        kwargs.setdefault("sysctls", {})
        kwargs.setdefault("modules", [])
        kwargs.setdefault("state", "present")
        kwargs.setdefault("sysctl_file", str(tmp_path / "sysctl.d" / "90-lvs-cluster.conf"))
        kwargs.setdefault("modules_file", str(tmp_path / "modules-load.d" / "lvs-cluster.conf"))
        return kp.kernel_params(
            modprobe=self.modprobe,
            proc_root=str(self.proc),
            sys_module_root=str(self.sys_module),
            modules_dir=str(self.modules_dir),
            **kwargs,
        )


@pytest.fixture
def kernel(tmp_path):
    (tmp_path / "sysctl.d").mkdir()
    (tmp_path / "modules-load.d").mkdir()
    k = FakeKernel(tmp_path)
    k.param("net.ipv4.ip_forward", "0\n")
    k.param("net.ipv4.conf.all.arp_ignore", "0\n")
    k.param("net.ipv4.tcp_rmem", "4096\t131072\t6291456\n")
    k.brings["ip_vs"] = {
        "net.ipv4.vs.expire_nodest_conn": "0\n",
        "net.ipv4.vs.conntrack": "0\n",
    }
    return k


@pytest.fixture
def run(kernel, tmp_path):
    def run_(**kwargs):
        return kernel.run(tmp_path, **kwargs)

    return run_


def by_name(result):
    return {s.name: s.as_dict() for s in result.sysctls}


def age(path: Path) -> float:
    """Puts the file's mtime an hour back; returns it."""
    stamp = path.stat().st_mtime - 3600
    os.utime(path, (stamp, stamp))
    return path.stat().st_mtime


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "net.ipv4.ip_forward",
        "net.ipv4.conf.all.arp_ignore",
        "net.ipv4.vs.expire_nodest_conn",
        "net.ipv4.conf.eth0/100.arp_ignore",
        "net.ipv6.conf.br-lan.forwarding",
        "kernel.core_pattern",
    ],
)
def test_good_names(name):
    assert kp.validate_sysctls({name: 1}) == [(name, "1")]


@pytest.mark.parametrize(
    "name",
    [
        "ip_forward",  # not dotted
        "net..ipv4.ip_forward",
        "net.ipv4.ip_forward.",
        ".net.ipv4",
        "net/ipv4/ip_forward",
        "net.ipv4.conf.eth0/../x",
        "net.ipv4./.x",
        "net.ipv4.ip forward",
        "net.ipv4.ip_forward=1",
        "-net.ipv4.ip_forward",
        "net.ipv4.ip_forward\n",
    ],
)
def test_bad_names_are_named(name):
    with pytest.raises(kp.KernelParamsError) as err:
        kp.validate_sysctls({"net.ipv4.ip_forward": 1, name: 1})
    assert str(err.value).startswith(f"sysctls.{name}: not a kernel parameter name")


def test_values_are_normalised():
    pairs = kp.validate_sysctls(
        {"a.b": 1, "a.c": " 4096\t 87380  6291456 ", "a.d": True, "a.e": False, "a.f": -1}
    )
    assert pairs == [("a.b", "1"), ("a.c", "4096 87380 6291456"), ("a.d", "1"), ("a.e", "0"),
                     ("a.f", "-1")]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1\n2", "the value must not contain a newline"),
        ("1\r", "the value must not contain a newline"),
        ("1\0", "the value must not contain a NUL character"),
        ("  ", "the value is empty"),
        (1.5, "a string or an integer expected, got float"),
        (None, "a string or an integer expected, got null"),
        ([1, 2], "a string or an integer expected, got list"),
    ],
)
def test_bad_values_are_named(value, reason):
    with pytest.raises(kp.KernelParamsError) as err:
        kp.validate_sysctls({"net.ipv4.ip_forward": 1, "net.core.somaxconn": value})
    assert str(err.value) == f"sysctls.net.core.somaxconn: {reason}"


def test_modules_are_checked_and_deduplicated():
    assert kp.validate_modules(["ip_vs", "ip_vs_wlc", "ip_vs", "nf-conntrack"]) == [
        "ip_vs", "ip_vs_wlc", "nf-conntrack"
    ]
    for bad in ["../evil", "ip vs", "", "-r", "a/b"]:
        with pytest.raises(kp.KernelParamsError) as err:
            kp.validate_modules(["ip_vs", bad])
        assert str(err.value) == (
            f"modules: {bad!r} is not a kernel module name (letters, digits, '_' and '-')"
        )


def test_sysctl_path_maps_slash_to_dot():
    assert kp.sysctl_path("net.ipv4.conf.eth0/100.arp_ignore", "/p") == (
        "/p/net/ipv4/conf/eth0.100/arp_ignore"
    )
    assert kp.sysctl_path("net.ipv4.ip_forward", "/p") == "/p/net/ipv4/ip_forward"


def test_sysctl_path_default_root_is_read_at_call_time(monkeypatch):
    monkeypatch.setattr(kp, "PROC_SYS", "/elsewhere")
    assert kp.sysctl_path("a.b") == "/elsewhere/a/b"


def test_rendered_files():
    assert kp.render_sysctl_file([("b.x", "1"), ("a.y", "4096 87380")]) == (
        HEADER + "b.x = 1\na.y = 4096 87380\n"
    )
    assert kp.render_modules_file(["ip_vs", "ip_vs_wlc"]) == HEADER + "ip_vs\nip_vs_wlc\n"
    assert kp.render_sysctl_file([]) is None
    assert kp.render_modules_file([]) is None


# -- present -----------------------------------------------------------------------------------


def test_changed_value_is_written_and_reported(kernel, run, tmp_path):
    result = run(sysctls={"net.ipv4.ip_forward": 1, "net.ipv4.conf.all.arp_ignore": "0"})
    assert kernel.value("net.ipv4.ip_forward") == "1\n"
    assert kernel.value("net.ipv4.conf.all.arp_ignore") == "0\n"
    assert [s.as_dict() for s in result.sysctls] == [
        dict(name="net.ipv4.ip_forward", before="0", after="1", changed=True),
        dict(name="net.ipv4.conf.all.arp_ignore", before="0", after="0", changed=False),
    ]
    assert result.changed
    assert result.warnings == []
    sysctl_file = result.files[0]
    assert sysctl_file.path == str(tmp_path / "sysctl.d" / "90-lvs-cluster.conf")
    assert sysctl_file.before is None
    assert sysctl_file.after == (
        HEADER + "net.ipv4.ip_forward = 1\nnet.ipv4.conf.all.arp_ignore = 0\n"
    )
    assert not result.files[1].changed  # no modules, no file, none wanted


def test_unchanged_writes_nothing(kernel, run, monkeypatch, tmp_path):
    kernel.param("net.ipv4.ip_forward", "1\n")
    (tmp_path / "sysctl.d" / "90-lvs-cluster.conf").write_text(
        HEADER + "net.ipv4.ip_forward = 1\n"
    )
    mtime = age(kernel.param("net.ipv4.ip_forward"))

    def refuse(path, value):
        raise AssertionError(f"wrote {value!r} to {path}")

    monkeypatch.setattr(kp, "write_proc", refuse)
    result = run(sysctls={"net.ipv4.ip_forward": 1})
    assert not result.changed
    assert [f.changed for f in result.files] == [False, False]
    assert kernel.param("net.ipv4.ip_forward").stat().st_mtime == mtime


def test_multi_value_whitespace_is_normalised(kernel, run):
    mtime = age(kernel.param("net.ipv4.tcp_rmem"))
    result = run(sysctls={"net.ipv4.tcp_rmem": "4096  131072 6291456"})
    assert by_name(result)["net.ipv4.tcp_rmem"] == dict(
        name="net.ipv4.tcp_rmem", before="4096 131072 6291456", after="4096 131072 6291456",
        changed=False,
    )
    assert kernel.param("net.ipv4.tcp_rmem").stat().st_mtime == mtime
    result = run(sysctls={"net.ipv4.tcp_rmem": "4096 87380\t6291456"})
    assert by_name(result)["net.ipv4.tcp_rmem"]["changed"] is True
    assert kernel.value("net.ipv4.tcp_rmem") == "4096 87380 6291456\n"
    assert "net.ipv4.tcp_rmem = 4096 87380 6291456\n" in result.files[0].after


def test_modules_are_loaded_before_sysctls_are_read(kernel, run):
    result = run(
        modules=["ip_vs"],
        sysctls={"net.ipv4.ip_forward": 1, "net.ipv4.vs.expire_nodest_conn": 1},
    )
    assert kernel.calls == ["ip_vs"]
    # net.ipv4.vs.* did not exist when modprobe ran, and was found (and set) afterwards.
    assert "net/ipv4/vs/expire_nodest_conn" not in kernel.seen_at_modprobe[0]
    assert kernel.value("net.ipv4.vs.expire_nodest_conn") == "1\n"
    assert result.modules == [("ip_vs", False)]
    assert result.modules_loaded == ["ip_vs"]
    assert result.files[1].after == HEADER + "ip_vs\n"
    # Loaded now: a second run does not modprobe again.
    kernel.calls.clear()
    again = run(modules=["ip_vs"], sysctls={"net.ipv4.vs.expire_nodest_conn": 1})
    assert kernel.calls == []
    assert again.modules_loaded == []
    assert again.modules == [("ip_vs", True)]


def test_dash_module_name_is_loaded_as_underscore(kernel, run):
    kernel.load("nf_conntrack")
    result = run(modules=["nf-conntrack"])
    assert kernel.calls == []
    assert result.modules == [("nf-conntrack", True)]


def test_builtin_module_counts_as_loaded(kernel, run):
    builtin = kernel.modules_dir / os.uname().release / "modules.builtin"
    builtin.parent.mkdir(parents=True)
    builtin.write_text("kernel/net/netfilter/ipvs/ip_vs.ko\nkernel/fs/ext4/ext4.ko\n")
    result = run(modules=["ip_vs"])
    assert kernel.calls == []
    assert result.modules_loaded == []


def test_unknown_key_fails_and_changes_nothing(kernel, run, tmp_path):
    with pytest.raises(kp.KernelParamsError) as err:
        run(sysctls={"net.ipv4.ip_forward": 1, "net.ipv4.no_such_thing": 1})
    assert str(err.value) == (
        "sysctls.net.ipv4.no_such_thing: no such kernel parameter (is its module loaded?)"
    )
    assert kernel.value("net.ipv4.ip_forward") == "0\n"
    assert not (tmp_path / "sysctl.d" / "90-lvs-cluster.conf").exists()


def test_unknown_key_after_loading_reports_the_load(kernel, run):
    with pytest.raises(kp.KernelParamsError) as err:
        run(modules=["ip_vs"], sysctls={"net.ipv4.ip_forward": 1, "net.ipv4.vs.nope": 1})
    assert str(err.value).startswith("sysctls.net.ipv4.vs.nope: no such kernel parameter")
    assert err.value.details == dict(changed=True, modules_loaded=["ip_vs"])
    assert kernel.value("net.ipv4.ip_forward") == "0\n"


def test_directory_is_not_a_parameter(kernel, run):
    with pytest.raises(kp.KernelParamsError) as err:
        run(sysctls={"net.ipv4.conf": 1})
    assert str(err.value).startswith("sysctls.net.ipv4.conf: no such kernel parameter")


def test_bad_value_fails_before_modprobe(kernel, run):
    with pytest.raises(kp.KernelParamsError) as err:
        run(modules=["ip_vs"], sysctls={"net.ipv4.ip_forward": "1\nkernel.x = 2"})
    assert str(err.value) == "sysctls.net.ipv4.ip_forward: the value must not contain a newline"
    assert kernel.calls == []
    assert kernel.value("net.ipv4.ip_forward") == "0\n"


def test_modprobe_failure_is_named(kernel, run):
    kernel.failures["ip_vs_nope"] = "modprobe: FATAL: Module ip_vs_nope not found.\n"
    with pytest.raises(kp.KernelParamsError) as err:
        run(modules=["ip_vs", "ip_vs_nope"], sysctls={"net.ipv4.ip_forward": 1})
    assert str(err.value) == (
        "modules.ip_vs_nope: modprobe failed: modprobe: FATAL: Module ip_vs_nope not found."
    )
    assert err.value.details == dict(changed=True, modules_loaded=["ip_vs"])
    assert kernel.value("net.ipv4.ip_forward") == "0\n"


def test_kernel_refusal_is_named(kernel, run, monkeypatch):
    real_write = kp.write_proc

    def write(path, value):
        if path.endswith("arp_ignore"):
            raise OSError(errno.EINVAL, "Invalid argument")
        real_write(path, value)

    monkeypatch.setattr(kp, "write_proc", write)
    with pytest.raises(kp.KernelParamsError) as err:
        run(sysctls={"net.ipv4.ip_forward": 1, "net.ipv4.conf.all.arp_ignore": 9})
    assert str(err.value) == (
        "sysctls.net.ipv4.conf.all.arp_ignore: the kernel refused 9: Invalid argument"
    )
    assert err.value.details["sysctls"] == [
        dict(name="net.ipv4.ip_forward", before="0", after="1", changed=True)
    ]


def test_value_read_back_differently_is_a_warning(kernel, run, monkeypatch):
    def write(path, value):
        Path(path).write_text("2\n")

    monkeypatch.setattr(kp, "write_proc", write)
    result = run(sysctls={"net.ipv4.ip_forward": 1})
    assert result.warnings == [
        "sysctls.net.ipv4.ip_forward: set to '1', but the kernel reads back '2'"
    ]


def test_missing_directory_fails_before_anything(kernel, run, tmp_path):
    with pytest.raises(kp.KernelParamsError) as err:
        run(modules=["ip_vs"], sysctls={"net.ipv4.ip_forward": 1},
            sysctl_file=str(tmp_path / "nope" / "x.conf"))
    assert str(err.value) == f"sysctl_file: directory {tmp_path / 'nope'} does not exist"
    assert kernel.calls == []
    assert kernel.value("net.ipv4.ip_forward") == "0\n"


def test_same_file_twice_is_refused(run, tmp_path):
    path = str(tmp_path / "sysctl.d" / "x.conf")
    with pytest.raises(kp.KernelParamsError, match="modules_file: must not be the same file"):
        run(sysctls={"net.ipv4.ip_forward": 1}, sysctl_file=path, modules_file=path)


def test_empty_sets_remove_stale_files(kernel, run, tmp_path):
    stale = tmp_path / "modules-load.d" / "lvs-cluster.conf"
    stale.write_text(HEADER + "ip_vs\n")
    result = run(sysctls={"net.ipv4.ip_forward": 0})
    modules_file = result.files[1]
    assert (modules_file.path, modules_file.before, modules_file.after) == (
        str(stale), HEADER + "ip_vs\n", None
    )
    assert modules_file.changed
    assert result.changed  # the value is unchanged, but the file goes


# -- check mode --------------------------------------------------------------------------------


def test_check_mode_changes_nothing_but_reports(kernel, run, tmp_path):
    result = run(
        modules=["ip_vs"],
        sysctls={"net.ipv4.ip_forward": 1, "net.ipv4.vs.expire_nodest_conn": 1},
        check_mode=True,
    )
    assert kernel.calls == []
    assert not (kernel.sys_module / "ip_vs").exists()
    assert kernel.value("net.ipv4.ip_forward") == "0\n"
    assert result.changed
    assert result.modules_loaded == ["ip_vs"]
    assert [s.as_dict() for s in result.sysctls] == [
        dict(name="net.ipv4.ip_forward", before="0", after="1", changed=True),
        dict(name="net.ipv4.vs.expire_nodest_conn", before=None, after="1", changed=True),
    ]
    assert [f.changed for f in result.files] == [True, True]
    assert not (tmp_path / "sysctl.d" / "90-lvs-cluster.conf").exists()


def test_check_mode_unknown_key_fails_when_modules_are_loaded(kernel, run):
    kernel.load("ip_vs")
    with pytest.raises(kp.KernelParamsError) as err:
        run(modules=["ip_vs"], sysctls={"net.ipv4.vs.nope": 1}, check_mode=True)
    assert str(err.value).startswith("sysctls.net.ipv4.vs.nope: no such kernel parameter")


def test_check_mode_unknown_key_fails_without_modules(run):
    with pytest.raises(kp.KernelParamsError, match="sysctls.net.ipv4.nope: no such"):
        run(sysctls={"net.ipv4.nope": 1}, check_mode=True)


def test_diff_text(kernel, run, tmp_path):
    sysctl_file = tmp_path / "sysctl.d" / "90-lvs-cluster.conf"
    modules_file = tmp_path / "modules-load.d" / "lvs-cluster.conf"
    sysctl_file.write_text(HEADER + "net.ipv4.ip_forward = 0\n")
    result = run(
        modules=["ip_vs"],
        sysctls={"net.ipv4.ip_forward": 1, "net.ipv4.vs.conntrack": 0},
        check_mode=True,
    )
    assert result.diff() == dict(
        before=(
            "net.ipv4.ip_forward = 0\n"
            "net.ipv4.vs.conntrack = (unknown: its module is not loaded)\n"
            "module ip_vs: not loaded\n"
            f"# {sysctl_file}\n"
            "# Managed by Ansible (lvs.cluster.kernel_params)\n"
            "net.ipv4.ip_forward = 0\n"
            f"# {modules_file} (absent)\n"
        ),
        after=(
            "net.ipv4.ip_forward = 1\n"
            "net.ipv4.vs.conntrack = 0\n"
            "module ip_vs: loaded\n"
            f"# {sysctl_file}\n"
            "# Managed by Ansible (lvs.cluster.kernel_params)\n"
            "net.ipv4.ip_forward = 1\n"
            "net.ipv4.vs.conntrack = 0\n"
            f"# {modules_file}\n"
            "# Managed by Ansible (lvs.cluster.kernel_params)\n"
            "ip_vs\n"
        ),
    )


# -- absent ------------------------------------------------------------------------------------


def test_absent_plans_removal_and_leaves_the_kernel(kernel, run, tmp_path):
    (tmp_path / "sysctl.d" / "90-lvs-cluster.conf").write_text(HEADER + "net.ipv4.ip_forward = 1\n")
    result = run(state="absent", modules=["ip_vs"], sysctls={"net.ipv4.ip_forward": 1})
    assert kernel.calls == []
    assert kernel.value("net.ipv4.ip_forward") == "0\n"
    assert result.sysctls == []
    assert [(f.changed, f.after) for f in result.files] == [(True, None), (False, None)]
    assert result.changed


def test_absent_with_nothing_is_unchanged(run):
    result = run(state="absent")
    assert not result.changed
