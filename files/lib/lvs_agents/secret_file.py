# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files that hold a secret (the heartbeat key, the status page's passwords): read only when
they are regular files owned by root (or by us) with no group/other permission bit.

A secret others can read is no secret: refusing such a file beats running with an
authentication that does not authenticate."""

from __future__ import annotations

import os
import stat

MAX_SECRET_FILE = 65536


class SecretFileError(Exception):
    """The file is missing, unreadable, not a regular file, someone else's or too open; the
    text names the file and says which."""


def read_secret_file(path: str, what: str, limit: int = MAX_SECRET_FILE) -> bytes:
    """The first ``limit`` bytes of ``path`` after ``check_secret_file``; ``what`` names the
    file in errors ("heartbeat key file")."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        handle = os.open(path, flags)
    except OSError as error:
        raise SecretFileError(f"{what} {path}: cannot open: {error.strerror}") from None
    try:
        check_secret_file(path, os.fstat(handle), what)
        with os.fdopen(handle, "rb", closefd=False) as stream:
            return stream.read(limit)
    except OSError as error:
        raise SecretFileError(f"{what} {path}: cannot read: {error.strerror}") from None
    finally:
        os.close(handle)


def check_secret_file(path: str, info: os.stat_result, what: str) -> None:
    """Refuse what is not a regular file, is owned by neither root nor us, or gives any
    permission to group or others."""
    if not stat.S_ISREG(info.st_mode):
        raise SecretFileError(f"{what} {path}: not a regular file")
    if info.st_uid not in (0, os.getuid()):
        raise SecretFileError(f"{what} {path}: owned by uid {info.st_uid}, must be owned by "
                              f"root (or uid {os.getuid()})")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise SecretFileError(f"{what} {path}: mode {mode:04o} gives group/other access, "
                              "must be 0600 or 0400")
