# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Heartbeat v1 and legacy codec, the Verifier's rejection reasons, key file checks, fuzzing."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lvs_agents import heartbeat as hb

KEY = b"0123456789abcdef-secret"
PRIMARY, BACKUP = "10.0.0.1", "10.0.0.2"
PRIMARY_PRIVATE = "192.168.1.1"
NOW = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def message(running=True, sender=PRIMARY, epoch=7, sequence=1, stamp=NOW, key=KEY,
            role=hb.ROLE_PRIMARY):
    return hb.encode(hb.Heartbeat(running, role, sender, epoch, sequence, int(stamp * 1000)), key)


def verifier(clock=None, legacy=False, key=KEY):
    return hb.Verifier(key, [PRIMARY, PRIMARY_PRIVATE], window=2.0, legacy=legacy,
                       clock=clock or Clock())


# --- codec --------------------------------------------------------------------------------------

@pytest.mark.parametrize("running", [True, False])
@pytest.mark.parametrize("sender", [PRIMARY, "2001:db8::1"])
def test_round_trip(running, sender):
    original = hb.Heartbeat(running, hb.ROLE_BACKUP, sender, 2**64 - 1, 42, 1_700_000_000_123)
    data = hb.encode(original, KEY)
    assert len(data) == hb.MESSAGE_LENGTH == 80
    assert data[:4] == b"LVSH" and data[4] == 2
    assert hb.decode(data, KEY) == original


def test_wire_layout_is_network_byte_order():
    data = message(sequence=0x0102030405060708)
    assert data[5:9] == bytes([1, 0, 0, 0])  # running, primary, reserved
    assert data[8 + 16:8 + 16 + 8] == (7).to_bytes(8, "big")
    assert data[8 + 16 + 8:8 + 16 + 16] == bytes(range(1, 9))
    assert data[8:20] == b"\0" * 10 + b"\xff\xff"  # IPv4-mapped sender


def test_legacy_codec():
    assert hb.encode_legacy(True) == struct.pack("<I", 0xBDADDBDA)
    assert hb.encode_legacy(False) == struct.pack("<I", 0xADBDDABD)
    assert hb.decode_legacy(hb.encode_legacy(True)).running is True
    assert hb.decode_legacy(hb.encode_legacy(False)).running is False
    assert hb.decode_legacy(b"\xef\xbe\xad\xde") is None  # FOS stopped: not LVS
    assert hb.decode_legacy(b"12345") is None


def test_sender_numbers_every_datagram():
    sender = hb.Sender(KEY, hb.ROLE_BACKUP, clock=Clock(), epoch=5)
    first, second = (hb.decode(sender.message(True, BACKUP), KEY) for _attempt in range(2))
    assert (first.sequence, second.sequence) == (1, 2)
    assert first.epoch == second.epoch == 5
    assert first.clock_ms == int(NOW * 1000)
    assert hb.Sender(None, hb.ROLE_PRIMARY).message(False, PRIMARY) == hb.encode_legacy(False)


def test_every_start_has_a_larger_epoch_whatever_the_wall_clock():
    assert hb.first_epoch(None, NOW) == int(NOW)
    assert hb.first_epoch(int(NOW), NOW - 3600) == int(NOW) + 1  # the clock went back
    assert hb.first_epoch(5, NOW) == int(NOW)  # state lost or old: the clock is the floor


# --- verifier -----------------------------------------------------------------------------------

def test_accepts_a_valid_heartbeat_on_either_path():
    check = verifier()
    assert check.check(message(), PRIMARY).running is True
    assert check.check(message(sender=PRIMARY_PRIVATE, sequence=1), PRIMARY_PRIVATE) is not None
    assert check.check(message(sequence=2, running=False), PRIMARY).running is False
    assert check.accepted == 3
    assert set(check.rejected.values()) == {0}


def test_a_new_epoch_is_accepted_whatever_its_clock():
    check = verifier()
    assert check.check(message(epoch=1, sequence=50), PRIMARY)
    assert check.check(message(epoch=2, sequence=1, stamp=3.0), PRIMARY)  # the peer rebooted


REJECTIONS = {
    "bad_mac": (message(key=b"another key of 16 bytes"), PRIMARY),
    "bad_mac_flipped": (message()[:-1] + bytes([message()[-1] ^ 1]), PRIMARY),
    "bad_mac_body": (message()[:40] + bytes([message()[40] ^ 1]) + message()[41:], PRIMARY),
    "unknown_source_sender": (message(sender=BACKUP), BACKUP),
    "unknown_source_mismatch": (message(sender=PRIMARY), PRIMARY_PRIVATE),
    "unknown_source_stranger": (message(sender=PRIMARY), "10.9.9.9"),
    # judged by its source before any parsing or HMAC (a flood costs a set lookup)
    "unknown_source_before_mac": (message(key=b"another key of 16 bytes"), "10.9.9.9"),
    "unknown_source_before_parsing": (b"x" * hb.MESSAGE_LENGTH, "10.9.9.9"),
    "unknown_source_legacy": (hb.encode_legacy(True), "10.9.9.9"),
    "malformed_truncated": (message()[:-1], PRIMARY),
    "malformed_long": (message() + b"\0", PRIMARY),
    "malformed_empty": (b"", PRIMARY),
    "malformed_garbage": (b"x" * hb.MESSAGE_LENGTH, PRIMARY),
    "malformed_version_1": (b"LVSH\x01" + message()[5:], PRIMARY),  # a wall clock: refused
    "malformed_version_3": (b"LVSH\x03" + message()[5:], PRIMARY),
    "legacy_running": (hb.encode_legacy(True), PRIMARY),
    "legacy_stopped": (hb.encode_legacy(False), PRIMARY),
}


@pytest.mark.parametrize("case", sorted(REJECTIONS))
def test_rejection_reasons(case):
    data, source = REJECTIONS[case]
    check = verifier()
    assert check.check(data, source) is None
    reason = next(reason for reason in hb.REASONS if case.startswith(reason))
    assert check.rejected == {**dict.fromkeys(hb.REASONS, 0), reason: 1}
    assert check.accepted == 0


def test_unknown_state_with_valid_mac_is_malformed():
    body = bytearray(message()[:48])
    body[5] = 9
    data = bytes(body) + hb._mac(KEY, bytes(body))
    check = verifier()
    assert check.check(data, PRIMARY) is None
    assert check.rejected["malformed"] == 1


def test_replay_in_the_same_epoch():
    check = verifier()
    first = message(sequence=5)
    assert check.check(first, PRIMARY)
    assert check.check(first, PRIMARY) is None
    assert check.check(message(sequence=4), PRIMARY) is None
    assert check.rejected["replay"] == 2
    assert check.check(message(sequence=6), PRIMARY)


def test_replay_of_an_older_epoch():
    check = verifier()
    old = message(epoch=1, sequence=9)
    assert check.check(old, PRIMARY)
    assert check.check(message(epoch=2, sequence=1), PRIMARY)
    assert check.check(old, PRIMARY) is None
    assert check.check(message(epoch=1, sequence=10), PRIMARY) is None
    assert check.rejected["replay"] == 2
    assert check.check(message(epoch=3, sequence=1), PRIMARY)


def test_replay_state_is_per_path():
    check = verifier()
    assert check.check(message(sender=PRIMARY_PRIVATE, sequence=2), PRIMARY_PRIVATE)
    assert check.check(message(sender=PRIMARY, sequence=1), PRIMARY)  # late on the other path


def test_a_heartbeat_held_back_longer_than_the_window_is_stale():
    """Lateness within an epoch: the sender's clock against ours since the fastest delivery.
    Whoever holds heartbeats back to release them after the peer died is caught."""
    ours = Clock(1000.0)
    check = verifier(ours)
    assert check.check(message(sequence=1, stamp=100.0), PRIMARY)
    ours.now += 10
    assert check.check(message(sequence=2, stamp=100.5), PRIMARY) is None  # 9.5 s late
    assert check.rejected["stale"] == 1
    assert check.check(message(sequence=3, stamp=108.5), PRIMARY)  # 1.5 s late: within 2 s
    assert check.check(message(sequence=4, stamp=110.0), PRIMARY)


def test_clocks_that_drift_apart_stay_within_the_window():
    """Over a day the sender's clock runs 0.05 % slower than ours (more than NTP's slew): every
    heartbeat (one per 10 s here) is still accepted, while a 2.5 s delay at the end is not."""
    ours = Clock(0.0)
    check = verifier(ours)
    for second in range(0, 86_400, 10):
        ours.now = float(second)
        assert check.check(message(sequence=second + 1, stamp=second * 0.9995), PRIMARY)
    assert check.check(message(sequence=90_000, stamp=ours.now * 0.9995 - 2.5), PRIMARY) is None
    assert check.rejected["stale"] == 1


def test_legacy_mode_accepts_only_the_peer():
    check = verifier(legacy=True, key=None)
    assert check.check(hb.encode_legacy(True), PRIMARY).legacy is True
    assert check.check(hb.encode_legacy(False), PRIMARY_PRIVATE).running is False
    assert check.check(hb.encode_legacy(True), "10.9.9.9") is None
    assert check.check(message(), PRIMARY) is None
    assert check.rejected["unknown_source"] == 1 and check.rejected["malformed"] == 1


def test_ipv4_mapped_source_matches():
    assert verifier().check(message(), "::ffff:10.0.0.1")


@given(st.binary(max_size=200), st.sampled_from([PRIMARY, "garbage", "", "::1"]))
def test_fuzz_random_bytes_are_counted_rejections(data, source):
    for legacy in (False, True):
        check = verifier(legacy=legacy, key=None if legacy else KEY)
        result = check.check(data, source)
        if result is None:
            assert sum(check.rejected.values()) == 1
        else:  # only a legacy magic from the peer can pass without the key
            assert legacy and source == PRIMARY and len(data) == 4


@given(st.integers(0, hb.MESSAGE_LENGTH - 1), st.integers(1, 255))
def test_fuzz_any_flipped_byte_is_rejected(position, flip):
    data = bytearray(message())
    data[position] ^= flip
    check = verifier()
    assert check.check(bytes(data), PRIMARY) is None
    assert sum(check.rejected.values()) == 1


# --- key file -----------------------------------------------------------------------------------

def write_key(tmp_path, content=b"k" * 32 + b"\n", mode=0o600, name="key"):
    path = tmp_path / name
    path.write_bytes(content)
    os.chmod(path, mode)
    return str(path)


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_key_file_loads(tmp_path, mode):
    key = hb.HeartbeatKey.load(write_key(tmp_path, mode=mode))
    assert key.secret == b"k" * 32


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o601])
def test_key_file_with_group_or_other_bits_is_refused(tmp_path, mode):
    path = write_key(tmp_path, mode=mode)
    with pytest.raises(hb.KeyFileError, match=f"{path}: mode {mode:04o}"):
        hb.HeartbeatKey.load(path)


def test_key_file_too_short_after_stripping(tmp_path):
    path = write_key(tmp_path, content=b"short key 15 b.   \n\n")
    with pytest.raises(hb.KeyFileError, match="15 bytes, at least 16"):
        hb.HeartbeatKey.load(path)


def test_key_file_missing(tmp_path):
    with pytest.raises(hb.KeyFileError, match="cannot open"):
        hb.HeartbeatKey.load(str(tmp_path / "absent"))


def test_key_file_not_regular(tmp_path):
    directory = tmp_path / "dir"
    directory.mkdir(mode=0o700)
    with pytest.raises(hb.KeyFileError, match="not a regular file"):
        hb.HeartbeatKey.load(str(directory))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(hb.KeyFileError, match="not a regular file"):
        hb.HeartbeatKey.load(str(fifo))


def test_key_file_owner_is_checked(tmp_path, monkeypatch):
    path = write_key(tmp_path)
    if os.getuid() == 0:
        os.chown(path, 54321, -1)  # neither root nor us
    else:
        monkeypatch.setattr(hb.os, "getuid", lambda: os.stat(path).st_uid + 1)
    with pytest.raises(hb.KeyFileError, match="owned by uid"):
        hb.HeartbeatKey.load(path)


# --- clocks and restarts ------------------------------------------------------------------------

def test_routers_whose_clocks_differ_by_an_hour_accept_each_other():
    """Freshness must not compare one router's clock with the other's: a step of either wall
    clock by more than the window made both reject everything as stale and both go active."""
    for offset in (3600.0, -3600.0):
        sender = hb.Sender(KEY, hb.ROLE_PRIMARY, clock=Clock(NOW + offset), epoch=5)
        check = verifier(Clock(NOW))
        assert check.check(sender.message(True, PRIMARY), PRIMARY), check.rejected
        assert check.check(sender.message(True, PRIMARY), PRIMARY), check.rejected


def test_a_restarted_receiver_does_not_accept_a_heartbeat_again(tmp_path):
    """Replay state survives a restart of the receiver (it is kept in the state directory): a
    captured heartbeat is not accepted once more after pulse restarts."""
    from lvs_agents.heartbeat_store import HeartbeatStore

    path = str(tmp_path / "heartbeat.json")
    captured = message(epoch=7, sequence=5)
    first = hb.Verifier(KEY, [PRIMARY], known=HeartbeatStore(path).load().peers)
    assert first.check(captured, PRIMARY)
    store = HeartbeatStore(path)
    store.save_peers(first.last_seen())
    store.flush()
    restarted = hb.Verifier(KEY, [PRIMARY], known=HeartbeatStore(path).load().peers)
    assert restarted.check(captured, PRIMARY) is None
    assert restarted.rejected["replay"] == 1
    assert restarted.check(message(epoch=7, sequence=6), PRIMARY)


# --- key rotation -------------------------------------------------------------------------------

NEW_KEY = b"the next key, 16 bytes or more"


def test_during_a_rotation_both_keys_are_accepted_and_the_sending_one_is_used(tmp_path):
    """The key file holds the key to send with; ``<key file>.accept`` one more to accept (the
    next key before both routers send with it, the previous one after)."""
    path = write_key(tmp_path, content=KEY)
    write_key(tmp_path, content=NEW_KEY, name="key.accept")
    keys = hb.HeartbeatKeys.load(path)
    assert (keys.send, keys.also) == (KEY, (NEW_KEY,))
    assert keys.ids == [hb.key_id(KEY), hb.key_id(NEW_KEY)] and len(keys.ids[0]) == 12
    check = hb.Verifier(keys.send, [PRIMARY], also=keys.also, clock=Clock())
    assert check.check(message(sequence=1, key=KEY), PRIMARY)
    assert check.check(message(sequence=2, key=NEW_KEY), PRIMARY)
    assert check.check(message(sequence=3, key=b"a third key, 16 bytes or more"), PRIMARY) is None
    assert check.rejected["bad_mac"] == 1
    assert hb.HeartbeatKeys.load(write_key(tmp_path, content=NEW_KEY, name="lone")).also == ()


def test_an_open_accept_file_is_refused_like_the_key_file(tmp_path):
    path = write_key(tmp_path, content=KEY)
    write_key(tmp_path, content=NEW_KEY, name="key.accept", mode=0o644)
    with pytest.raises(hb.KeyFileError, match="key.accept: mode 0644"):
        hb.HeartbeatKeys.load(path)


def test_the_store_keeps_the_latest_peers_and_survives_a_bad_file(tmp_path):
    from lvs_agents.heartbeat_store import HeartbeatStore, StoredHeartbeats

    path = tmp_path / "state" / "heartbeat.json"
    store = HeartbeatStore(str(path))
    assert store.load() == StoredHeartbeats()
    store.use_epoch(9)  # written at once (before the first heartbeat)
    assert HeartbeatStore(str(path)).load() == StoredHeartbeats(9, {})
    for sequence in range(1, 200):  # pulse's loop does not wait: a thread writes the latest
        store.save_peers({PRIMARY: (7, sequence)})
    store.flush()
    assert HeartbeatStore(str(path)).load() == StoredHeartbeats(9, {PRIMARY: (7, 199)})
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    path.write_text('{"epoch": "soon", "peers": {}}')
    assert HeartbeatStore(str(path)).load() == StoredHeartbeats()  # logged, then ignored


# --- two paths, one sender ---------------------------------------------------------------------

class QueuedSocket:
    """The kernel's receive queue of one heartbeat socket (a fake of the socket only)."""

    def __init__(self, source: str, datagrams: list[bytes]) -> None:
        self.source, self.datagrams = source, list(datagrams)

    def recvmsg(self, _size: int, _ancillary: int):
        if not self.datagrams:
            raise BlockingIOError
        return self.datagrams.pop(0), [], 0, (self.source, 539)

    def fileno(self) -> int:
        return 99


def test_an_older_heartbeat_read_from_the_other_path_does_not_undo_a_newer_state():
    """The peer numbers its datagrams on both paths from one counter. When both sockets are
    readable, one is read before the other: the peer's newer state (stopped, 3) read on the
    public path must not be followed by its older one (running, 2) from the private path, or
    the state machine sees the peer flip back (the lab's 'peer is stopped / peer is running /
    peer is stopped' in one instant)."""
    from lvs_agents.pulse_heartbeats import HeartbeatLink
    from lvs_agents.pulse_setup import Paths

    paths = Paths(master=False, pairs=((BACKUP, PRIMARY), ("192.168.1.2", PRIMARY_PRIVATE)))
    link = HeartbeatLink(paths, 539, hb.HeartbeatKeys(KEY), legacy=False, window=2.0)
    link.verifier.clock = Clock()
    public = QueuedSocket(PRIMARY, [message(running=True, sequence=1),
                                    message(running=False, sequence=3)])
    private = QueuedSocket(PRIMARY_PRIVATE, [message(running=True, sequence=2,
                                                     sender=PRIMARY_PRIVATE)])
    seen: list[bool] = []
    link.receive(public, lambda beat: seen.append(beat.running))
    link.receive(private, lambda beat: seen.append(beat.running))
    assert seen == [True, False]
    assert link.verifier.accepted == 3  # the older one is valid, only not news


def test_news_is_the_newest_across_paths_and_epochs():
    check = verifier()
    first = check.check(message(sequence=5), PRIMARY)
    older = check.check(message(sender=PRIMARY_PRIVATE, sequence=4), PRIMARY_PRIVATE)
    restarted = check.check(message(epoch=8, sequence=1), PRIMARY)
    assert first and older and restarted
    assert [check.is_news(first), check.is_news(older), check.is_news(restarted)] == \
        [True, False, True]
    legacy = hb.Heartbeat(running=True, legacy=True)
    assert check.is_news(legacy) and check.is_news(legacy)
