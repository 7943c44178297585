# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every agent needs from its surroundings: logging, sd_notify, status files, lvs.cf.

* Logging goes to stderr. Under systemd (``JOURNAL_STREAM`` set) each line starts with a
  ``<N>`` syslog priority, which journald records as the entry's priority.
* ``notify`` speaks the sd_notify datagram protocol (``NOTIFY_SOCKET``); without it, nothing.
* Status files are JSON in the run directory (``/run/lvs-cluster`` or ``$LVS_CLUSTER_RUN_DIR``),
  written atomically: a reader never sees half a file.
* ``load_config`` parses and validates lvs.cf with the shared core and raises ``ConfigError``
  whose text is the core's ``FILE line N, column C: BLOCK: KEY: REASON``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    from lvs_cluster.lvs_cf.model import LvsConfig

DEFAULT_CONFIG = "/etc/sysconfig/ha/lvs.cf"
DEFAULT_RUN_DIR = "/run/lvs-cluster"
DEFAULT_STATE_DIR = "/var/lib/lvs-cluster"  # the unit's StateDirectory: survives reboots
STATUS_VERSION = 1

_PRIORITIES = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class ConfigError(Exception):
    """lvs.cf could not be read, or is not valid; the text names file, line and key."""


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITIES.get(record.levelno, 6)
        return "\n".join(f"<{priority}>{line}" for line in super().format(record).splitlines())


def setup_logging(name: str, verbose: bool = False) -> logging.Logger:
    """The agent's logger: stderr, journald priorities under systemd, DEBUG when verbose."""
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {name}: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    return logging.getLogger(name)


def notify(*fields: str) -> bool:
    """Send ``READY=1``, ``STATUS=…``, ``STOPPING=1``… to systemd; False without NOTIFY_SOCKET."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto("\n".join(fields).encode(), address)
    except OSError:
        return False
    return True


def run_dir() -> str:
    return os.environ.get("LVS_CLUSTER_RUN_DIR", DEFAULT_RUN_DIR)


def state_dir() -> str:
    return os.environ.get("LVS_CLUSTER_STATE_DIR", DEFAULT_STATE_DIR)


def status_path(name: str) -> str:
    return os.path.join(run_dir(), f"{name}.json")


def replace_file(path: str, content: bytes | Iterable[bytes], mode: int = 0o600,
                 durable: bool = False) -> None:
    """Make ``path`` hold ``content`` (bytes, or its parts one after the other) atomically: a
    temporary file beside it, renamed over it, so a reader or a crash sees the old file or the
    new one, never part of one. ``durable``: flushed to disk (file and directory) before
    returning. Raises OSError; no temporary file is left."""
    directory = os.path.dirname(path) or "."
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}")
    try:
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
        try:
            os.fchmod(handle, mode)  # whatever the umask
            for part in (content,) if isinstance(content, (bytes, bytearray)) else content:
                view = memoryview(part)
                while view:
                    view = view[os.write(handle, view):]
            if durable:
                os.fsync(handle)
        finally:
            os.close(handle)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    if durable:  # the rename itself survives a power cut once the directory is synced
        handle = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def write_status(name: str, data: dict[str, Any]) -> str:
    """Write ``<run dir>/<name>.json`` atomically, adding ``version``, ``pid`` and ``updated``."""
    return write_status_file(name, json.dumps(stamped(data), sort_keys=True).encode())


def stamped(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with what every status file carries: ``version``, ``pid`` and ``updated``."""
    return {"version": STATUS_VERSION, "pid": os.getpid(), "updated": time.time(), **data}


def write_status_file(name: str, content: bytes | Iterable[bytes]) -> str:
    """Write ``<run dir>/<name>.json`` atomically from its text (lvsd writes its own in
    pieces: ``lvsd_status``)."""
    os.makedirs(run_dir(), mode=0o755, exist_ok=True)
    replace_file(status_path(name), content, mode=0o644)
    return status_path(name)


def read_status(name: str) -> dict[str, Any] | None:
    """The agent's last status, or None when it has none (not running, or never started)."""
    try:
        with open(status_path(name)) as stream:
            data = json.load(stream)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pid_alive(pid: object) -> bool:
    """Whether a process with this pid exists (EPERM: it exists, owned by someone else)."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def load_config(path: str) -> LvsConfig:
    """Parse and validate lvs.cf; warnings are logged, errors raise ConfigError."""
    return parse_config(read_config(path), path)


def read_config(path: str) -> bytes:
    """lvs.cf's bytes, or ConfigError naming the file."""
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None


def parse_config(content: bytes, path: str) -> LvsConfig:
    """Parse and validate lvs.cf's ``content`` (read from ``path``); warnings are logged,
    errors raise ConfigError."""
    # The lvs.cf core on first use: lvs-status, nanny and send_arp never parse lvs.cf.
    from lvs_cluster.lvs_cf.errors import LvsCfError  # noqa: PLC0415
    from lvs_cluster.lvs_cf.parser import parse_lvs_cf  # noqa: PLC0415

    try:
        result = parse_lvs_cf(content, source=path)  # validates too
    except LvsCfError as error:
        raise ConfigError(str(error)) from None
    log = logging.getLogger("lvs-cf")
    for warning in result.warnings:
        log.warning("%s", warning)
    return result.config
