# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The last good lvs.cf: one rule for pulse and lvsd, which read the same lvs.cf and must run
the same configuration.

* lvs.cf is *good* when it parses and validates (the core's validator: an active virtual
  service, …) and both agents can run it (``service = lvs``: ``check_router_config``).
  Whenever an agent has loaded a good lvs.cf, at start or on SIGHUP, it keeps exactly that
  text as the last good copy (``default_path()``: ``/var/lib/lvs-cluster/lvs.cf.last-good``,
  the unit's state directory, or ``$LVS_CLUSTER_STATE_DIR``; the agents' ``--last-good``),
  written atomically and only when the text changed, so the copy's time is when that text was
  first loaded.
* At start (pulse restarted, lvsd restarted by pulse, a reboot), a bad or unreadable lvs.cf
  with a usable copy: the agent runs the copy and logs at error level lvs.cf's problem (file,
  line, key) and the copy's time. Without a copy it is a configuration error, as it always was.
* A reload with a bad lvs.cf is refused (the caller keeps what it runs, and a restart would use
  the copy: the last good configuration is in use either way); a reload with a good one returns
  to normal.
* ``ConfigSource.status()`` is the agents' ``last_good`` status entry.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from lvs_cluster.lvs_cf.model import LvsConfig

from . import runtime

DEFAULT_STATE_DIR = "/var/lib/lvs-cluster"
FILE_NAME = "lvs.cf.last-good"

_log = logging.getLogger("lvs-cf")


def default_path() -> str:
    """The copy in ``$LVS_CLUSTER_STATE_DIR`` (tests), else in the unit's state directory."""
    return os.path.join(os.environ.get("LVS_CLUSTER_STATE_DIR", DEFAULT_STATE_DIR), FILE_NAME)


def check_router_config(config: LvsConfig, path: str) -> None:
    """What pulse and lvsd need of a valid lvs.cf beyond the validator's rules (which already
    require an active virtual block with ``service = lvs``); ConfigError otherwise."""
    if config.service != "lvs":
        raise runtime.ConfigError(f"{path}: service = {config.service}: only service = lvs is "
                                  "supported")


def read_good(path: str) -> tuple[bytes, LvsConfig]:
    """The text at ``path`` and its configuration, when it is good; ConfigError otherwise."""
    content = runtime.read_config(path)
    config = runtime.parse_config(content, path)
    check_router_config(config, path)
    return content, config


def keep(path: str, content: bytes, log: logging.Logger = _log) -> bool:
    """Make the copy at ``path`` hold ``content``; nothing is written when it already does.
    A temporary file beside it, fsync, rename over it, fsync of the directory: a crash or a
    full disk leaves the old copy or the new one, never part of one. False (logged) when it
    cannot be written."""
    try:
        with open(path, "rb") as stream:
            if stream.read() == content:
                return True
    except OSError:
        pass  # no copy yet (or unreadable): write one
    try:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        runtime.replace_file(path, content, mode=0o600, durable=True)
    except OSError as error:
        log.warning("cannot keep the last good lvs.cf in %s: %s", path, error.strerror or error)
        return False
    return True


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


class ConfigSource:
    """lvs.cf as one agent uses it: the file while it is good, else its last good copy."""

    def __init__(self, config_path: str, last_good_path: str, log: logging.Logger) -> None:
        self.config_path = config_path
        self.last_good_path = last_good_path
        self.log = log
        self.problem: str | None = None  # why lvs.cf is not what runs
        self.saved_at: float | None = None

    @property
    def in_use(self) -> bool:
        """Whether the agent runs the last good configuration instead of lvs.cf."""
        return self.problem is not None

    def load(self) -> LvsConfig:
        """At start: lvs.cf when it is good (kept as the copy), else the copy; ConfigError
        when there is no copy or the copy is not good either."""
        try:
            return self._use_file()
        except runtime.ConfigError as error:
            problem = str(error)
        if not os.path.lexists(self.last_good_path):
            raise runtime.ConfigError(problem)
        try:
            config = read_good(self.last_good_path)[1]
        except runtime.ConfigError as error:
            raise runtime.ConfigError(f"{problem}; the last good copy cannot be used either: "
                                      f"{error}") from None
        self.problem = problem
        self.saved_at = _mtime(self.last_good_path)
        self.log.error("%s; running the last good configuration from %s (%s) until lvs.cf is "
                       "fixed and reloaded", problem, _clock(self.saved_at), self.last_good_path)
        return config

    def reload(self) -> LvsConfig:
        """On SIGHUP: lvs.cf when it is good (kept as the copy; back to normal); else
        ConfigError, and the agent keeps running the last good configuration."""
        try:
            return self._use_file()
        except runtime.ConfigError as error:
            self.problem = str(error)
            raise

    def _use_file(self) -> LvsConfig:
        content, config = read_good(self.config_path)
        keep(self.last_good_path, content, self.log)
        self.problem = None
        self.saved_at = _mtime(self.last_good_path)
        return config

    def status(self) -> dict[str, Any]:
        """The agents' ``last_good`` status entry."""
        return {"path": self.last_good_path, "in_use": self.in_use, "problem": self.problem,
                "saved_at": self.saved_at}


def _clock(moment: float | None) -> str:
    if moment is None:
        return "an unknown time"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment))
