# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel parameters (sysctls) and kernel modules, now and at boot: the core of the
lvs.cluster.kernel_params module. Standard library only; the file system roots and the modprobe
call are parameters, so tests run it against a temporary tree."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

PROC_SYS = "/proc/sys"
SYS_MODULE = "/sys/module"
HEADER = "# Managed by Ansible (lvs.cluster.kernel_params)\n"
_NAME = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_:@+-]+)+$")
_MODULE = re.compile(r"^[A-Za-z0-9_-]+$")


class KernelParamsError(ValueError):
    """A bad argument or a refusal of the kernel; the message names the field."""


@dataclass
class SysctlChange:
    name: str
    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def result(self) -> dict[str, object]:
        return {"name": self.name, "before": self.before, "after": self.after,
                "changed": self.changed}


@dataclass
class Plan:
    modules: list[str] = field(default_factory=list)  # to load
    sysctls: list[SysctlChange] = field(default_factory=list)
    files: dict[str, str | None] = field(default_factory=dict)  # path -> content, None: remove
    before_files: dict[str, str | None] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.modules or self.files or any(s.changed for s in self.sysctls))


def normal(value: object) -> str:
    """A sysctl value as the kernel prints it: words separated by one space."""
    if isinstance(value, bool):
        value = int(value)
    return " ".join(str(value).split())


def sysctl_path(name: str, proc_sys: str = PROC_SYS) -> str:
    return os.path.join(proc_sys, *name.split("."))


def module_loaded(name: str, sys_module: str = SYS_MODULE) -> bool:
    return os.path.isdir(os.path.join(sys_module, name.replace("-", "_")))


def validate(sysctls: Mapping[str, object], modules: Iterable[str]) -> None:
    for name, value in sysctls.items():
        if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
            raise KernelParamsError(f"sysctls.{name}: not a kernel parameter name "
                                    "(dotted, such as net.ipv4.ip_forward)")
        if value is None or isinstance(value, (dict, list)):
            raise KernelParamsError(f"sysctls.{name}: the value must be a string or a number")
        if "\n" in str(value) or not normal(value):
            raise KernelParamsError(f"sysctls.{name}: the value must be one non-empty line")
    for module in modules:
        if not isinstance(module, str) or not _MODULE.match(module):
            raise KernelParamsError(f"modules: {module!r} is not a kernel module name")


def read_file(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read()
    except FileNotFoundError:
        return None


def render_sysctl_file(sysctls: Mapping[str, object]) -> str:
    return HEADER + "".join(f"{name} = {normal(value)}\n" for name, value in sysctls.items())


def render_modules_file(modules: Iterable[str]) -> str:
    return HEADER + "".join(f"{module}\n" for module in modules)


def plan(sysctls: Mapping[str, object], modules: list[str], sysctl_file: str,
         modules_file: str, state: str = "present", proc_sys: str = PROC_SYS,
         sys_module: str = SYS_MODULE) -> Plan:
    """What must change. A parameter of a module that is not loaded yet reads as None, and is
    an error only when no requested module is missing (it can then never appear)."""
    validate(sysctls, modules)
    result = Plan()
    wanted: dict[str, str | None]
    if state == "absent":
        wanted = {sysctl_file: None, modules_file: None}
    else:
        result.modules = [m for m in dict.fromkeys(modules) if not module_loaded(m, sys_module)]
        for name, value in sysctls.items():
            before = read_file(sysctl_path(name, proc_sys))
            if before is None and not result.modules:
                raise KernelParamsError(f"sysctls.{name}: no such kernel parameter "
                                        "(is its module loaded?)")
            result.sysctls.append(SysctlChange(name, None if before is None else normal(before),
                                               normal(value)))
        wanted = {sysctl_file: render_sysctl_file(sysctls) if sysctls else None,
                  modules_file: render_modules_file(modules) if modules else None}
    for path, content in wanted.items():
        current = read_file(path)
        result.before_files[path] = current
        if current != content:
            result.files[path] = content
    return result


def load_modules(the_plan: Plan, modprobe: Callable[[str], None]) -> None:
    for module in the_plan.modules:
        modprobe(module)


def refresh(the_plan: Plan, sysctls: Mapping[str, object], proc_sys: str = PROC_SYS) -> None:
    """After loading modules: read the parameters that did not exist before."""
    for change in the_plan.sysctls:
        if change.before is None:
            before = read_file(sysctl_path(change.name, proc_sys))
            if before is None:
                raise KernelParamsError(f"sysctls.{change.name}: no such kernel parameter "
                                        f"(is its module loaded?)")
            change.before = normal(before)


def write_sysctls(the_plan: Plan, proc_sys: str = PROC_SYS) -> None:
    for change in the_plan.sysctls:
        if not change.changed:
            continue
        try:
            with open(sysctl_path(change.name, proc_sys), "w", encoding="utf-8") as stream:
                stream.write(change.after + "\n")
        except OSError as error:
            raise KernelParamsError(f"sysctls.{change.name}: the kernel refused "
                                    f"{change.after!r}: {error.strerror or error}") from error


def diff(the_plan: Plan) -> dict[str, str]:
    before = [f"{s.name} = {s.before if s.before is not None else '(absent)'}\n"
              for s in the_plan.sysctls]
    after = [f"{s.name} = {s.after}\n" for s in the_plan.sysctls]
    before += [f"module {m}: not loaded\n" for m in the_plan.modules]
    after += [f"module {m}: loaded\n" for m in the_plan.modules]
    for path, old in the_plan.before_files.items():
        new = the_plan.files.get(path, old)
        before.append(f"# {path}\n{old if old is not None else '(absent)' + chr(10)}")
        after.append(f"# {path}\n{new if new is not None else '(absent)' + chr(10)}")
    return {"before": "".join(before), "after": "".join(after)}
