# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP basic authentication for the status endpoint (pulse ``--status-auth-file``).

The file is a secret file (``secret_file``: root's, mode 0600 or 0400), UTF-8, one
``user:password`` per line: the user up to the first colon, the password the rest of the line
as it is; empty lines and lines starting with ``#`` are skipped. Passwords are stored as given,
like the heartbeat key beside them: whoever can read a root-only file on the router already
controls it, and a slow password hash would cost pulse CPU on every request.

The file is read at start (a bad file stops pulse) and again whenever it changes (a stat per
request), so new credentials need no restart; a changed file that is bad denies every request
until it is fixed. Credentials are compared in constant time: the SHA-256 of each
``user:password`` against every entry, without stopping at the first match.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import threading
from dataclasses import dataclass

from .secret_file import SecretFileError, read_secret_file

WHAT = "status auth file"
REALM = "lvs-cluster status"
CHALLENGE = f'Basic realm="{REALM}", charset="UTF-8"'

log = logging.getLogger("lvs-status")


class StatusAuthError(Exception):
    """The auth file cannot be used; the text names the file (and the line) and says why."""


def _digest(user: str, password: str) -> bytes:
    return hashlib.sha256(f"{user}:{password}".encode()).digest()


def parse_credentials(text: str, path: str) -> tuple[bytes, ...]:
    """The digests of the file's ``user:password`` lines; never echoes a password."""
    digests: list[bytes] = []
    users: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        user, colon, password = line.partition(":")
        where = f"{WHAT} {path}: line {number}"
        if not colon:
            raise StatusAuthError(f"{where}: expected user:password (no colon)")
        if not user or user != user.strip():
            raise StatusAuthError(f"{where}: the user name is empty or has surrounding spaces")
        if not password:
            raise StatusAuthError(f"{where}: empty password for user {user!r}")
        if user in users:
            raise StatusAuthError(f"{where}: user {user!r} again (first on line {users[user]})")
        users[user] = number
        digests.append(_digest(user, password))
    if not digests:
        raise StatusAuthError(f"{WHAT} {path}: no user:password line")
    return tuple(digests)


def load_credentials(path: str) -> tuple[bytes, ...]:
    try:
        content = read_secret_file(path, WHAT)
    except SecretFileError as error:
        raise StatusAuthError(str(error)) from None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise StatusAuthError(f"{WHAT} {path}: not UTF-8 (byte {error.start})") from None
    return parse_credentials(text, path)


def decode_basic(header: str | None) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic …`` header, or None."""
    if not header:
        return None
    scheme, _space, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


@dataclass(frozen=True)
class _Loaded:
    signature: tuple[int, ...]
    digests: tuple[bytes, ...]  # empty: the file changed and is bad, deny everything


def _signature(path: str) -> tuple[int, ...]:
    info = os.stat(path)
    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_mode,
            info.st_uid)


class StatusAuth:
    """The credentials of ``path``, re-read when the file changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        signature = _signature_or_error(path)
        self._loaded = _Loaded(signature, load_credentials(path))
        self._lock = threading.Lock()

    def allows(self, authorization: str | None) -> bool:
        """Whether the request's Authorization header names a user of the file with its
        password."""
        digests = self._current()
        given = decode_basic(authorization)
        candidate = _digest(*given) if given else b"\0" * hashlib.sha256().digest_size
        match = False
        for digest in digests:
            match |= hmac.compare_digest(candidate, digest)
        return match and given is not None

    def _current(self) -> tuple[bytes, ...]:
        with self._lock:
            try:
                signature = _signature(self.path)
            except OSError as error:
                signature = ()
                problem = f"{WHAT} {self.path}: {error.strerror}"
            else:
                if signature == self._loaded.signature:
                    return self._loaded.digests
                try:
                    self._loaded = _Loaded(signature, load_credentials(self.path))
                    log.info("%s %s: re-read", WHAT, self.path)
                    return self._loaded.digests
                except StatusAuthError as error:
                    problem = str(error)
            if signature != self._loaded.signature or self._loaded.digests:
                log.error("%s; denying every request until it is fixed", problem)
            self._loaded = _Loaded(signature, ())
            return ()


def _signature_or_error(path: str) -> tuple[int, ...]:
    try:
        return _signature(path)
    except OSError as error:
        raise StatusAuthError(f"{WHAT} {path}: cannot open: {error.strerror}") from None
