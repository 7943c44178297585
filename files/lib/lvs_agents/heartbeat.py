# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The heartbeat wire formats: authenticated v1 messages and Piranha's legacy 4-byte packets.

Piranha's heartbeat was a bare 4-byte magic number: anyone able to send UDP to port 539 with the
peer's source address could make a router take over or stand down. v1 (docs/agents.md) carries
a version, the sender's state, role and address, an epoch that grows with every start, a
sequence number and the sender's monotonic clock, all covered by an HMAC-SHA256 with a key only
root can read.

``Verifier`` accepts a datagram only if it is well-formed, its MAC is valid, its sender is the
peer and equals the UDP source, it is not a replay (an older epoch, or not a higher sequence in
the same epoch) and it is not late. Every rejection is counted by reason; nothing a datagram
contains can raise out of ``Verifier.check``.

No wall clock is compared across routers (a step of either clock by more than the window made
both reject everything and both go active): lateness is judged within one epoch, from how far
the sender's monotonic clock has fallen behind ours since the fastest delivery seen, allowing
for the two clocks' drift (``DRIFT``).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lvs_cluster.vocabulary import unmapped

from .secret_file import SecretFileError, read_secret_file

MAGIC = b"LVSH"
VERSION = 2  # 2: the clock field is the sender's monotonic clock (1: its wall clock)
STATE_STOPPED, STATE_RUNNING = 0, 1
ROLE_PRIMARY, ROLE_BACKUP = 0, 1
MIN_KEY_LENGTH = 16

_HEADER = struct.Struct("!4sBBBB16sQQQ")
MAC_LENGTH = 32
MESSAGE_LENGTH = _HEADER.size + MAC_LENGTH

LEGACY_RUNNING = 0xBDADDBDA
LEGACY_STOPPED = 0xADBDDABD
_LEGACY = struct.Struct("<I")  # Piranha sent a native int: little-endian on x86
LEGACY_LENGTH = _LEGACY.size

# Two monotonic clocks may run apart by what NTP's slew allows each (500 ppm), twice.
DRIFT = 0.001

# queue_full: datagrams the kernel dropped because pulse's receive queue was full (a flood)
REASONS = ("bad_mac", "replay", "stale", "legacy", "malformed", "unknown_source", "queue_full")


class KeyFileError(SecretFileError):
    """The heartbeat key file is missing, unreadable, too open or too short; the text says which."""


class Rejected(Exception):
    """A datagram that is not an acceptable heartbeat; ``reason`` is one of ``REASONS``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Heartbeat:
    """One heartbeat. ``clock_ms`` is the sender's monotonic clock in milliseconds: only its
    differences within one epoch mean anything. Legacy packets carry only ``running`` (the other
    fields are then zero/empty)."""

    running: bool
    role: int = ROLE_PRIMARY
    sender: str = ""
    epoch: int = 0
    sequence: int = 0
    clock_ms: int = 0
    legacy: bool = False


def _address_bytes(address: str) -> bytes:
    parsed = ipaddress.ip_address(address)
    if isinstance(parsed, ipaddress.IPv4Address):
        return ipaddress.IPv6Address("::ffff:" + str(parsed)).packed
    return parsed.packed


def _address_text(packed: bytes) -> str:
    return unmapped(str(ipaddress.IPv6Address(packed)))


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()


def encode(heartbeat: Heartbeat, key: bytes) -> bytes:
    """The v1 message for ``heartbeat``, authenticated with ``key``."""
    body = _HEADER.pack(
        MAGIC,
        VERSION,
        STATE_RUNNING if heartbeat.running else STATE_STOPPED,
        heartbeat.role,
        0,
        _address_bytes(heartbeat.sender),
        heartbeat.epoch,
        heartbeat.sequence,
        heartbeat.clock_ms,
    )
    return body + _mac(key, body)


def decode(data: bytes, key: bytes, also: Iterable[bytes] = ()) -> Heartbeat:
    """Parse and authenticate a message under ``key`` or one of ``also`` (no sender, replay
    or lateness checks: see Verifier).

    Raises Rejected("malformed") for a wrong length, magic, version or field value and
    Rejected("bad_mac") for a MAC that does not verify.
    """
    if len(data) != MESSAGE_LENGTH:
        raise Rejected("malformed", f"{len(data)} bytes, {MESSAGE_LENGTH} expected")
    body, mac = data[: _HEADER.size], data[_HEADER.size :]
    magic, version, state, role, reserved, sender, epoch, sequence, stamp = _HEADER.unpack(body)
    if magic != MAGIC or version != VERSION:
        raise Rejected("malformed", "unknown magic or version")
    if not any(hmac.compare_digest(mac, _mac(secret, body)) for secret in (key, *also)):
        raise Rejected("bad_mac")
    if state not in (STATE_STOPPED, STATE_RUNNING) or role not in (ROLE_PRIMARY, ROLE_BACKUP) \
            or reserved != 0:
        raise Rejected("malformed", "unknown state, role or reserved value")
    return Heartbeat(state == STATE_RUNNING, role, _address_text(sender), epoch, sequence, stamp)


def encode_legacy(running: bool) -> bytes:
    """Piranha's 4-byte LVS heartbeat."""
    return _LEGACY.pack(LEGACY_RUNNING if running else LEGACY_STOPPED)


def decode_legacy(data: bytes) -> Heartbeat | None:
    """The legacy heartbeat in ``data``, or None if it is not a 4-byte LVS magic number."""
    if len(data) != LEGACY_LENGTH:
        return None
    (value,) = _LEGACY.unpack(data)
    if value not in (LEGACY_RUNNING, LEGACY_STOPPED):
        return None
    return Heartbeat(running=value == LEGACY_RUNNING, legacy=True)


@dataclass(frozen=True)
class HeartbeatKey:
    """The shared secret, read from ``heartbeat_key_file`` after checking who could read it."""

    secret: bytes
    path: str = ""

    @classmethod
    def load(cls, path: str) -> HeartbeatKey:
        """Read the key: the file must be a regular file owned by root or by us, with no
        group/other permission bits, holding at least 16 bytes after trailing whitespace.

        A key others can read would let them forge heartbeats; refusing it beats running
        with an authentication that does not authenticate.
        """
        try:
            secret = read_secret_file(path, "heartbeat key file").rstrip()
        except SecretFileError as error:
            raise KeyFileError(str(error)) from None
        if len(secret) < MIN_KEY_LENGTH:
            raise KeyFileError(f"heartbeat key file {path}: {len(secret)} bytes, at least "
                               f"{MIN_KEY_LENGTH} needed (e.g. head -c 32 /dev/urandom | "
                               f"base64 > {path})")
        return cls(secret, path)


ALSO_ACCEPTED_SUFFIX = ".accept"


def key_id(secret: bytes) -> str:
    """A short fingerprint that names a key in logs and status without revealing it."""
    return hashlib.sha256(secret).hexdigest()[:12]


@dataclass(frozen=True)
class HeartbeatKeys:
    """The key to send with (``heartbeat_key_file``) and, during a rotation, one more to
    accept (``<heartbeat_key_file>.accept``, checked like the key file): the next key until
    both routers send with it, then the previous one until both do."""

    send: bytes
    also: tuple[bytes, ...] = ()

    @classmethod
    def load(cls, path: str) -> HeartbeatKeys:
        send = HeartbeatKey.load(path).secret
        extra = path + ALSO_ACCEPTED_SUFFIX
        if not os.path.lexists(extra):
            return cls(send)
        other = HeartbeatKey.load(extra).secret
        return cls(send, () if other == send else (other,))

    @property
    def ids(self) -> list[str]:
        return [key_id(secret) for secret in (self.send, *self.also)]


def first_epoch(last: int | None, wall: float) -> int:
    """This start's epoch: above the last one used (kept in the state directory), and at least
    the wall clock's second, so that a router whose state was lost still starts above the
    epochs its peer remembers (the wall clock is only a floor here, never compared)."""
    return max(int(wall), (last or 0) + 1)


class Sender:
    """Builds this node's outgoing heartbeats: an epoch per start (``first_epoch``), sequence
    from 1, the monotonic clock."""

    def __init__(self, key: bytes | None, role: int,
                 clock: Callable[[], float] = time.monotonic, epoch: int | None = None) -> None:
        self.key = key
        self.role = role
        self.clock = clock
        self.epoch = first_epoch(None, time.time()) if epoch is None else epoch
        self.sequence = 0

    def message(self, running: bool, sender: str) -> bytes:
        """The next datagram; legacy (4 bytes) when no key is set. Every datagram gets its own
        sequence number, so the same message is never valid twice."""
        if self.key is None:
            return encode_legacy(running)
        self.sequence += 1
        heartbeat = Heartbeat(running, self.role, sender, self.epoch, self.sequence,
                              int(self.clock() * 1000))
        return encode(heartbeat, self.key)


@dataclass
class _PeerState:
    epoch: int
    sequence: int
    # the smallest (our clock - its clock) seen in this epoch, and when (our clock): a datagram
    # that arrives later than that allows (plus drift) by more than the window is stale
    base_ms: float | None = None
    base_at_ms: int = 0


class Verifier:
    """Accepts or rejects incoming datagrams and counts rejections by reason.

    ``key`` None with ``legacy`` set: legacy mode (only 4-byte packets from a peer address are
    heartbeats). Otherwise only v1 messages are accepted and legacy packets count as "legacy".
    Replay state is kept per sender address: a datagram delayed on one path never makes the
    other path's datagrams look like replays; ``is_news`` tells which accepted ones carry the
    peer's newest state.
    ``known`` is the last (epoch, sequence) per address from before a restart
    (``last_seen``, kept by ``heartbeat_store``), so a captured datagram is not accepted again.
    """

    def __init__(self, key: bytes | None, peers: Iterable[str], window: float = 2.0,
                 legacy: bool = False, clock: Callable[[], float] = time.monotonic,
                 known: dict[str, tuple[int, int]] | None = None,
                 also: Iterable[bytes] = ()) -> None:
        self.key = key
        self.also = tuple(also)
        self.peers = {unmapped(peer) for peer in peers}
        self.window_ms = int(window * 1000)
        self.legacy = legacy
        self.clock = clock
        self.rejected = dict.fromkeys(REASONS, 0)
        self.accepted = 0
        self._state: dict[str, _PeerState] = {
            address: _PeerState(epoch, sequence)
            for address, (epoch, sequence) in (known or {}).items() if address in self.peers}
        self._newest: tuple[int, int] | None = None

    def is_news(self, heartbeat: Heartbeat) -> bool:
        """Whether an accepted ``heartbeat`` is the peer's newest so far across all its paths
        (it numbers them from one counter): an older one, read later from another path's
        socket, must not undo the newer state. Legacy heartbeats are not numbered: always."""
        if heartbeat.legacy:
            return True
        number = (heartbeat.epoch, heartbeat.sequence)
        if self._newest is not None and number <= self._newest:
            return False
        self._newest = number
        return True

    def last_seen(self) -> dict[str, tuple[int, int]]:
        """The last accepted (epoch, sequence) per peer address, to keep across restarts."""
        return {address: (state.epoch, state.sequence) for address, state in self._state.items()}

    def check(self, data: bytes, source: str) -> Heartbeat | None:
        """The heartbeat in ``data`` received from ``source``, or None (rejection counted)."""
        try:
            heartbeat = self.verify(data, source)
        except Rejected as rejection:
            self.rejected[rejection.reason] += 1
            return None
        self.accepted += 1
        return heartbeat

    def verify(self, data: bytes, source: str) -> Heartbeat:
        """Like ``check`` but raising Rejected, for callers that want the reason."""
        try:
            source = unmapped(source)
        except ValueError:
            raise Rejected("unknown_source", f"source {source!r}") from None
        if source not in self.peers:  # before any parsing or crypto: a flood costs a set lookup
            raise Rejected("unknown_source", f"datagram from {source}")
        legacy = decode_legacy(data)
        if legacy is not None:
            return self._legacy(legacy, source)
        if self.key is None:
            raise Rejected("malformed", "not a legacy heartbeat")
        heartbeat = decode(data, self.key, self.also)
        if heartbeat.sender not in self.peers:
            raise Rejected("unknown_source", f"sender {heartbeat.sender} is not the peer")
        if heartbeat.sender != source:
            raise Rejected("unknown_source", f"sender {heartbeat.sender} sent from {source}")
        last = self._state.get(heartbeat.sender)
        _check_replay(heartbeat, last)
        now_ms = int(self.clock() * 1000)
        base_ms = self._fresh_base(heartbeat, last, now_ms)
        self._state[heartbeat.sender] = _PeerState(heartbeat.epoch, heartbeat.sequence,
                                                   base_ms, now_ms)
        return heartbeat

    def _fresh_base(self, heartbeat: Heartbeat, last: _PeerState | None, now_ms: int) -> float:
        """The new lateness base, or Rejected("stale") if ``heartbeat`` arrives too late."""
        offset = now_ms - heartbeat.clock_ms
        if last is None or last.epoch != heartbeat.epoch or last.base_ms is None:
            return offset
        allowed = last.base_ms + (now_ms - last.base_at_ms) * DRIFT
        if offset - allowed > self.window_ms:
            raise Rejected("stale", f"{offset - allowed:.0f} ms late")
        return min(allowed, offset)

    def _legacy(self, heartbeat: Heartbeat, source: str) -> Heartbeat:
        if not self.legacy:
            raise Rejected("legacy", "legacy heartbeats are off (--legacy-heartbeat)")
        if source not in self.peers:
            raise Rejected("unknown_source", f"legacy heartbeat from {source}")
        return heartbeat


def _check_replay(heartbeat: Heartbeat, last: _PeerState | None) -> None:
    if last is None:
        return
    if heartbeat.epoch < last.epoch:
        raise Rejected("replay", f"epoch {heartbeat.epoch} < {last.epoch}")
    if heartbeat.epoch == last.epoch and heartbeat.sequence <= last.sequence:
        raise Rejected("replay", f"sequence {heartbeat.sequence} <= {last.sequence}")
