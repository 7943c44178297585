# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What pulse's heartbeats keep across restarts, in ``<state dir>/heartbeat.json``.

* ``epoch``: the last epoch this router sent with. The next start sends with a larger one
  (``heartbeat.first_epoch``), saved (and flushed to disk) before the first heartbeat goes out.
* ``peers``: the last (epoch, sequence) accepted from each peer address, saved after every
  accepted heartbeat, so a datagram captured before a restart is not accepted after it.

The file is replaced atomically. A missing file is a first start; an unreadable one is logged
and treated as missing (the peer's next heartbeat is then accepted whatever its sequence, as
before this file existed); a state directory that cannot be written costs the persistence,
never the heartbeats.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass, field

from . import runtime
from .pulse_setup import NAME

log = logging.getLogger(NAME)

FILE_NAME = "heartbeat.json"


@dataclass
class StoredHeartbeats:
    epoch: int | None = None
    peers: dict[str, tuple[int, int]] = field(default_factory=dict)


class HeartbeatStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self.stored = StoredHeartbeats()
        self.failed = False  # a write failed: said once, then quiet until one succeeds

    @classmethod
    def in_state_dir(cls) -> HeartbeatStore:
        return cls(os.path.join(runtime.state_dir(), FILE_NAME))

    def load(self) -> StoredHeartbeats:
        try:
            with open(self.path, "rb") as stream:
                document = json.loads(stream.read(1 << 20))
            self.stored = StoredHeartbeats(_epoch(document.get("epoch")), _peers(document))
        except FileNotFoundError:
            self.stored = StoredHeartbeats()
        except (OSError, ValueError, AttributeError, TypeError) as error:
            log.warning("%s: unreadable (%s): starting without the peers' last sequences",
                        self.path, error)
            self.stored = StoredHeartbeats()
        return self.stored

    def use_epoch(self, epoch: int) -> None:
        """Record this start's epoch; flushed to disk before it is used."""
        self.stored.epoch = epoch
        self._write(durable=True)

    def save_peers(self, peers: dict[str, tuple[int, int]]) -> None:
        if peers != self.stored.peers:
            self.stored.peers = dict(peers)
            self._write(durable=False)

    def _write(self, durable: bool) -> None:
        document = {"epoch": self.stored.epoch,
                    "peers": {address: list(pair) for address, pair in self.stored.peers.items()}}
        directory = os.path.dirname(self.path) or "."
        temporary = f"{self.path}.{os.getpid()}.tmp"
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                             0o600)
            try:
                os.write(handle, json.dumps(document, sort_keys=True).encode())
                if durable:
                    os.fsync(handle)
            finally:
                os.close(handle)
            os.replace(temporary, self.path)
            if durable:
                _sync_directory(directory)
        except OSError as error:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            if not self.failed:
                log.warning("%s: cannot save the heartbeat state (%s): a restart of pulse "
                            "would accept the last heartbeats again", self.path,
                            error.strerror or error)
            self.failed = True
            return
        self.failed = False


def _sync_directory(directory: str) -> None:
    handle = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _epoch(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"epoch {value!r}")
    return value


def _peers(document: dict) -> dict[str, tuple[int, int]]:
    peers = {}
    for address, pair in document.get("peers", {}).items():
        epoch, sequence = pair
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (epoch, sequence)):
            raise ValueError(f"peer {address}: {pair!r}")
        peers[str(address)] = (epoch, sequence)
    return peers
