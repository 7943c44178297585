# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvs.cf read for lvsd in a child process (a large file): the same plans as read here, the
same errors, the source's state carried back; a child that dies is an error, not a hang."""

from __future__ import annotations

import asyncio
import logging
import os
import pickle

import pytest
from lvs_agents import lvsd_load, runtime
from lvs_agents.last_good import ConfigSource
from lvs_agents.lvsd_plan import plan_config
from test_lvsd import Harness, Listener, lvs_cf, until

LOG = logging.getLogger("test")


@pytest.fixture
def apart(monkeypatch):
    """Every file counts as large: read in a child process. The list counts the reads apart."""
    monkeypatch.setattr(lvsd_load, "APART_ABOVE", 0)
    reads = []
    real = lvsd_load.in_child

    def counted(work):
        reads.append(work)
        return real(work)

    monkeypatch.setattr(lvsd_load, "in_child", counted)
    return reads


def source_for(tmp_path, text):
    path = tmp_path / "lvs.cf"
    path.write_text(text)
    return ConfigSource(str(path), str(tmp_path / "last-good.cf"), LOG)


def test_the_plans_read_apart_are_the_plans_read_here(tmp_path, apart):
    text = lvs_cf((("a", "127.0.0.2", 1), ("b", "127.0.0.3", 2)), second_virtual=True,
                  virtual_extra="     sorry_server = 127.0.0.9\n")
    here = plan_config(runtime.load_config(_write(tmp_path / "here.cf", text)), 20.0)
    source = source_for(tmp_path, text)
    apart_plans = lvsd_load.load_planned(source, "load", 20.0)
    assert len(apart) == 1  # read in a child
    assert apart_plans == here
    assert source.saved_at is not None and source.problem is None  # carried back
    assert (tmp_path / "last-good.cf").read_text() == text  # kept by the child


def _write(path, text):
    path.write_text(text)
    return str(path)


def test_a_bad_file_read_apart_is_the_same_error_and_the_source_knows(tmp_path, apart):
    source = source_for(tmp_path, lvs_cf())
    lvsd_load.load_planned(source, "load", 20.0)
    (tmp_path / "lvs.cf").write_text(lvs_cf().replace("scheduler = wlc", "scheduler = nope"))
    with pytest.raises(runtime.ConfigError, match="nope") as raised:
        lvsd_load.load_planned(source, "reload", 20.0)
    assert source.problem == str(raised.value)
    assert source.in_use


def test_a_child_that_dies_is_an_error(tmp_path, apart):
    def die():
        os._exit(3)

    with pytest.raises(runtime.ConfigError, match="ended without an answer"):
        lvsd_load.in_child(die)


def test_a_childs_exception_is_raised_here():
    def fail():
        raise ValueError("no such thing")

    with pytest.raises(ValueError, match="no such thing"):
        lvsd_load.in_child(fail)


def test_the_plans_survive_pickling(tmp_path):
    planned = plan_config(runtime.load_config(_write(tmp_path / "a.cf", lvs_cf())), 20.0)
    assert pickle.loads(pickle.dumps(planned, pickle.HIGHEST_PROTOCOL)) == planned


def test_lvsd_reloads_a_file_read_apart_in_place(tmp_path, apart):
    servers = (("a", "127.0.0.2", 1),)

    async def main():
        listener = await Listener("127.0.0.2").start()
        harness = await Harness(tmp_path, lvs_cf(servers)).start()
        await until(lambda: harness.dests() == {"127.0.0.2": 1})
        health = next(iter(harness.daemon.members.values())).health
        assert harness.reload(lvs_cf(servers, scheduler="rr", second_virtual=True))
        kept = next(m for m in harness.daemon.members.values() if m.key[1] == "127.0.0.2")
        assert await harness.stop() == 0
        await listener.stop()
        return health, kept.health, harness

    health, kept, harness = asyncio.run(main())
    assert len(apart) == 1  # the reload's read (the harness parsed the first file itself)
    assert kept is health  # the server that stays keeps its health
    assert harness.daemon.config.virtuals[0].scheduler == "rr"
    assert harness.daemon.config.virtuals[0].servers == ()  # lvsd keeps no server blocks
