# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvs.cf read for lvsd (at start and on SIGHUP), planned (``lvsd_plan``); a large file is read
in a child process.

Parsing 10,000 virtuals (12 MB) makes and drops millions of small objects; in lvsd's own
process what stays (the configuration, the members) ends up spread over memory that Python
then cannot give back: measured on the host, 190 MiB after start and 330 MiB after one reload,
half of it free blocks inside arenas that each still hold a live object. Read in a child, lvsd
receives only the plans (pickled through a pipe), made in one go, and the parse's garbage dies
with the child. Small files are read in-process: forking costs more than they do.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import TypeVar

from lvs_cluster.lvs_cf.errors import LvsCfError

from . import runtime
from .last_good import ConfigSource
from .lvsd_plan import Planned, plan_config

APART_ABOVE = 1 << 20  # bytes of lvs.cf (~800 virtuals of 4 servers) read in a child process
T = TypeVar("T")


def load_planned(source: ConfigSource, method: str, step: float) -> Planned:
    """``source.load()`` (start) or ``source.reload()`` (SIGHUP), planned; ConfigError as
    they raise it. The source's state (which file runs, and why) is kept as if it ran here."""
    read = getattr(source, method)
    if not _large(source.config_path):
        return _planned(read, step)

    def work() -> tuple[Planned | runtime.ConfigError, str | None, float | None]:
        try:
            outcome: Planned | runtime.ConfigError = _planned(read, step)
        except runtime.ConfigError as error:
            outcome = error
        return outcome, source.problem, source.saved_at

    outcome, source.problem, source.saved_at = in_child(work)
    if isinstance(outcome, runtime.ConfigError):
        raise outcome
    return outcome


def _planned(read: Callable[[], object], step: float) -> Planned:
    try:
        return plan_config(read(), step)  # type: ignore[arg-type]
    except LvsCfError as error:  # a virtual without an address, found by the planning
        raise runtime.ConfigError(str(error)) from None


def _large(path: str) -> bool:
    try:
        return os.stat(path).st_size > APART_ABOVE
    except OSError:
        return False


def in_child(work: Callable[[], T]) -> T:
    """``work()`` run in a forked child process, its result (or exception) pickled back; in
    this process when it cannot fork."""
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return work()
    if pid == 0:  # the child: never returns
        try:
            os.close(read_fd)
            try:
                payload = pickle.dumps((True, work()), pickle.HIGHEST_PROTOCOL)
            except BaseException as error:  # noqa: BLE001 - any failure goes to the parent
                payload = pickle.dumps((False, _picklable(error)), pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_fd, "wb") as stream:
                stream.write(payload)
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as stream:
        data = stream.read()
    _pid, status = os.waitpid(pid, 0)
    if not data:
        raise runtime.ConfigError(f"lvs.cf could not be read: the process reading it ended "
                                  f"without an answer (wait status {status})")
    ok, value = pickle.loads(data)
    if not ok:
        raise value
    return value


def _picklable(error: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # noqa: BLE001 - whatever stops it, send its text
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error
