# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel parameters (sysctls) and kernel modules, now and at boot: the core of
lvs.cluster.kernel_params.

Standard library only. Validates the request, loads the missing modules (through a
``modprobe`` callable), reads and writes the live values under ``/proc/sys`` and computes the
persistent files (``/etc/sysctl.d``, ``/etc/modules-load.d``); writing those files is left to
the caller (the module writes them atomically, with backups).

Every error is a ``KernelParamsError`` whose message names the field, for example
``sysctls.net.ipv4.vs.expire_nodest_conn: no such kernel parameter (is its module loaded?)``.

The roots default to the module-level constants, read at call time, so tests can point them
at a temporary directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PROC_SYS = "/proc/sys"
SYS_MODULE = "/sys/module"
# modules.builtin of the running kernel lives in MODULES_DIR/<release>/.
MODULES_DIR = "/lib/modules"
SYSCTL_FILE = "/etc/sysctl.d/90-lvs-cluster.conf"
MODULES_FILE = "/etc/modules-load.d/lvs-cluster.conf"
HEADER = "# Managed by Ansible (lvs.cluster.kernel_params)"

# Loads one module; returns None on success, else the error text (modprobe's stderr).
Modprobe = Callable[[str], "str | None"]
# (module name, loaded before this run)
ModuleStates = list[tuple[str, bool]]

# A dotted name. As in sysctl(8) and sysctl.d(5), a "/" inside a dotted name stands for a dot
# within a component (net.ipv4.conf.eth0/100.arp_ignore is net/ipv4/conf/eth0.100/arp_ignore).
_COMPONENT = r"[A-Za-z0-9_:@+-]+(?:/[A-Za-z0-9_:@+-]+)*"
SYSCTL_NAME = re.compile(rf"[A-Za-z0-9_]+(?:\.{_COMPONENT})+")
MODULE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")

_TYPE_NAMES = {type(None): "null", float: "float", list: "list", dict: "dict"}


class KernelParamsError(Exception):
    """A bad request or a refusal by the system. ``str()`` is the message (naming the field);
    ``details`` are extra result keys (what was already changed when it happened)."""

    def __init__(self, msg: str, **details: Any) -> None:
        super().__init__(msg)
        self.details = details


@dataclass
class SysctlState:
    name: str
    path: str
    # The live value (whitespace normalised); None when it cannot be read yet (check mode,
    # under a module that is not loaded).
    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def as_dict(self) -> dict[str, Any]:
        return dict(name=self.name, before=self.before, after=self.after, changed=self.changed)


@dataclass
class FileState:
    path: str
    before: str | None  # None: the file does not exist
    after: str | None  # None: the file is to be removed (or stay absent)

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass
class Result:
    sysctls: list[SysctlState] = field(default_factory=list)
    # (name, loaded before this run), in the requested order.
    modules: ModuleStates = field(default_factory=list)
    modules_loaded: list[str] = field(default_factory=list)
    files: list[FileState] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return (
            bool(self.modules_loaded)
            or any(s.changed for s in self.sysctls)
            or any(f.changed for f in self.files)
        )

    def diff(self) -> dict[str, str]:
        """The diff as text: the live values and modules, then the files."""
        before: list[str] = []
        after: list[str] = []
        for sysctl in self.sysctls:
            live = "(unknown: its module is not loaded)" if sysctl.before is None else sysctl.before
            before.append(f"{sysctl.name} = {live}")
            after.append(f"{sysctl.name} = {sysctl.after}")
        for name, loaded in self.modules:
            now = loaded or name in self.modules_loaded
            before.append(f"module {name}: {'loaded' if loaded else 'not loaded'}")
            after.append(f"module {name}: {'loaded' if now else 'not loaded'}")
        for state in self.files:
            for lines, text in ((before, state.before), (after, state.after)):
                if text is None:
                    lines.append(f"# {state.path} (absent)")
                else:
                    lines.append(f"# {state.path}")
                    lines.extend(text.splitlines())
        return dict(before="\n".join(before) + "\n", after="\n".join(after) + "\n")


# -- validation --------------------------------------------------------------------------------


def normalise(value: str) -> str:
    """Runs of whitespace become one space; none at the ends ("4096\\t87380 " is "4096 87380")."""
    return " ".join(value.split())


def sysctl_value(name: str, value: Any) -> str:
    """The wanted value as text, normalised; booleans are 1 and 0."""
    where = f"sysctls.{name}"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        kind = _TYPE_NAMES.get(type(value), type(value).__name__)
        raise KernelParamsError(f"{where}: a string or an integer expected, got {kind}")
    if "\n" in value or "\r" in value:
        raise KernelParamsError(f"{where}: the value must not contain a newline")
    if "\0" in value:
        raise KernelParamsError(f"{where}: the value must not contain a NUL character")
    text = normalise(value)
    if not text:
        raise KernelParamsError(f"{where}: the value is empty")
    return text


def validate_sysctls(sysctls: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, normalised value) in the given order; raises on the first bad entry."""
    if not isinstance(sysctls, Mapping):
        raise KernelParamsError("sysctls: a dictionary of name: value expected")
    pairs = []
    for name, value in sysctls.items():
        if not isinstance(name, str) or not SYSCTL_NAME.fullmatch(name):
            raise KernelParamsError(
                f"sysctls.{name}: not a kernel parameter name (dotted, for example "
                "net.ipv4.ip_forward)"
            )
        pairs.append((name, sysctl_value(name, value)))
    return pairs


def validate_modules(modules: Sequence[Any]) -> list[str]:
    """The module names in the given order, without repeats; raises on a bad name."""
    if isinstance(modules, str) or not isinstance(modules, Sequence):
        raise KernelParamsError("modules: a list of kernel module names expected")
    names: list[str] = []
    for name in modules:
        if not isinstance(name, str) or not MODULE_NAME.fullmatch(name):
            raise KernelParamsError(
                f"modules: {name!r} is not a kernel module name (letters, digits, '_' and '-')"
            )
        if name not in names:
            names.append(name)
    return names


def sysctl_path(name: str, proc_root: str | None = None) -> str:
    """The file of a dotted name under /proc/sys."""
    parts = [part.replace("/", ".") for part in name.split(".")]
    return os.path.join(proc_root or PROC_SYS, *parts)


# -- modules -----------------------------------------------------------------------------------


def builtin_modules(modules_dir: str | None = None, release: str | None = None) -> set[str]:
    """Names of the modules built into the running kernel (modules.builtin), "-" as "_"."""
    release = release or os.uname().release
    path = os.path.join(modules_dir or MODULES_DIR, release, "modules.builtin")
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().split()
    except OSError:
        return set()
    names = set()
    for line in lines:
        base = os.path.basename(line)
        base = base.split(".ko", 1)[0]
        names.add(base.replace("-", "_"))
    return names


def module_loaded(name: str, sys_module_root: str | None = None,
                  builtin: set[str] | frozenset[str] = frozenset()) -> bool:
    """Whether a module is in the kernel: /sys/module/<name, "-" as "_"> exists, or it is
    built in."""
    canonical = name.replace("-", "_")
    return os.path.isdir(os.path.join(sys_module_root or SYS_MODULE, canonical)) or (
        canonical in builtin
    )


def load_modules(
    modules: Sequence[str],
    modprobe: Modprobe,
    *,
    check_mode: bool = False,
    sys_module_root: str | None = None,
    builtin: set[str] | frozenset[str] = frozenset(),
) -> tuple[ModuleStates, list[str]]:
    """Loads the modules that are not loaded, in order (in check mode, only says which).

    Returns ([(name, loaded before)], [names loaded, or to be loaded]). A modprobe failure
    raises, with the modules already loaded in ``details``.
    """
    states = [(name, module_loaded(name, sys_module_root, builtin)) for name in modules]
    loaded: list[str] = []
    for name, was_loaded in states:
        if was_loaded:
            continue
        if not check_mode:
            error = modprobe(name)
            if error is not None:
                raise KernelParamsError(
                    f"modules.{name}: modprobe failed: {error.strip()}",
                    changed=bool(loaded),
                    modules_loaded=list(loaded),
                )
        loaded.append(name)
    return states, loaded


# -- sysctls -----------------------------------------------------------------------------------


def read_sysctl(name: str, path: str) -> str | None:
    """The live value, normalised; None when there is no such parameter."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise KernelParamsError(f"sysctls.{name}: cannot read {path}: {_reason(err)}") from err
    return normalise(data.decode("utf-8", errors="replace"))


def read_sysctls(pairs: Sequence[tuple[str, str]], *, proc_root: str | None = None,
                 allow_missing: bool = False) -> list[SysctlState]:
    """Every wanted parameter with its live value. A missing one fails, unless
    ``allow_missing`` (check mode with a module not loaded yet): then its value is None."""
    states = []
    for name, wanted in pairs:
        path = sysctl_path(name, proc_root)
        live = read_sysctl(name, path)
        if live is None and not allow_missing:
            raise KernelParamsError(
                f"sysctls.{name}: no such kernel parameter (is its module loaded?)"
            )
        states.append(SysctlState(name=name, path=path, before=live, after=wanted))
    return states


def write_proc(path: str, value: str) -> None:
    """One write(2) of the value and a newline, as sysctl(8) does."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, (value + "\n").encode())
    finally:
        os.close(fd)


def write_sysctls(states: Sequence[SysctlState]) -> list[str]:
    """Writes the changed parameters in order; returns warnings (a value the kernel reads
    back differently). A refusal raises, naming the parameter, with the parameters already
    written in ``details``."""
    warnings = []
    written: list[SysctlState] = []
    for state in states:
        if not state.changed:
            continue
        try:
            write_proc(state.path, state.after)
        except OSError as err:
            raise KernelParamsError(
                f"sysctls.{state.name}: the kernel refused {state.after}: {_reason(err)}",
                changed=bool(written),
                sysctls=[s.as_dict() for s in written],
            ) from err
        written.append(state)
        back = read_sysctl(state.name, state.path)
        if back != state.after:
            warnings.append(
                f"sysctls.{state.name}: set to '{state.after}', but the kernel reads back "
                f"'{back}'"
            )
    return warnings


def _reason(err: OSError) -> str:
    if err.errno is not None:
        return os.strerror(err.errno)
    return str(err)


# -- files -------------------------------------------------------------------------------------


def render_sysctl_file(pairs: Sequence[tuple[str, str]]) -> str | None:
    """The sysctl.d file; None when there is nothing to persist."""
    if not pairs:
        return None
    return "".join([HEADER, "\n"] + [f"{name} = {value}\n" for name, value in pairs])


def render_modules_file(modules: Sequence[str]) -> str | None:
    """The modules-load.d file; None when there is nothing to persist."""
    if not modules:
        return None
    return "".join([HEADER, "\n"] + [f"{name}\n" for name in modules])


def read_file(field_name: str, path: str) -> str | None:
    """A file's text; None when it does not exist."""
    if not os.path.lexists(path):
        return None
    if os.path.isdir(path):
        raise KernelParamsError(f"{field_name}: {path} is a directory")
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            return handle.read()
    except OSError as err:
        raise KernelParamsError(f"{field_name}: cannot read {path}: {_reason(err)}") from err


def plan_files(state: str, pairs: Sequence[tuple[str, str]], modules: Sequence[str],
               sysctl_file: str, modules_file: str) -> list[FileState]:
    """The two files now and as wanted. A file to be written must have its directory."""
    if os.path.abspath(sysctl_file) == os.path.abspath(modules_file):
        raise KernelParamsError("modules_file: must not be the same file as sysctl_file")
    files = []
    for field_name, path, text in (
        ("sysctl_file", sysctl_file, render_sysctl_file(pairs)),
        ("modules_file", modules_file, render_modules_file(modules)),
    ):
        wanted = text if state == "present" else None
        current = read_file(field_name, path)
        if wanted is not None and current != wanted:
            directory = os.path.dirname(path) or "."
            if not os.path.isdir(directory):
                raise KernelParamsError(
                    f"{field_name}: directory {directory} does not exist"
                )
        files.append(FileState(path=path, before=current, after=wanted))
    return files


# -- the whole run -----------------------------------------------------------------------------


def kernel_params(*, sysctls: Mapping[str, Any], modules: Sequence[Any], state: str,
                  sysctl_file: str | None = None, modules_file: str | None = None,
                  modprobe: Modprobe, check_mode: bool = False,
                  proc_root: str | None = None, sys_module_root: str | None = None,
                  modules_dir: str | None = None) -> Result:
    """Validates everything, then (state=present) loads the missing modules, reads every
    wanted parameter, writes those that differ, and plans the files; the caller writes or
    removes ``files`` whose ``changed`` is true. state=absent plans the removal of both files
    and leaves the kernel alone. Check mode changes nothing.

    Order of failures: names and values, then the files' directories, then (after loading
    the modules) any unknown parameter - before any parameter is written.
    """
    pairs = validate_sysctls(sysctls)
    names = validate_modules(modules)
    files = plan_files(state, pairs, names, sysctl_file or SYSCTL_FILE,
                       modules_file or MODULES_FILE)
    result = Result(files=files)
    if state == "absent":
        return result

    builtin = builtin_modules(modules_dir) if names else set()
    result.modules, result.modules_loaded = load_modules(
        names, modprobe, check_mode=check_mode, sys_module_root=sys_module_root,
        builtin=builtin,
    )
    try:
        # In check mode the parameters of a module not loaded yet cannot be read.
        result.sysctls = read_sysctls(
            pairs, proc_root=proc_root, allow_missing=check_mode and bool(result.modules_loaded)
        )
        if not check_mode:
            result.warnings = write_sysctls(result.sysctls)
    except KernelParamsError as err:
        if result.modules_loaded and not check_mode:
            err.details.setdefault("modules_loaded", result.modules_loaded)
            err.details["changed"] = True
        raise
    return result
