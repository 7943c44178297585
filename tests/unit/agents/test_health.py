# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real server's health state machine, driven with an injected clock."""

from __future__ import annotations

import asyncio
import sys

import pytest
from lvs_agents.health import (
    HealthPolicy,
    ServerHealth,
    load_command,
    load_weight,
    parse_load,
    read_load,
)


def test_first_good_check_brings_a_new_server_up_at_slow_start_weight():
    health = ServerHealth(HealthPolicy(weight=100, rise=18))
    assert health.record(True, 0.0)
    assert (health.in_table, health.weight, health.state) == (True, 3, "up")


def test_one_failure_removes_then_rise_successes_bring_back():
    health = ServerHealth(HealthPolicy(weight=1, rise=3))
    health.record(True, 0)
    assert health.record(False, 1, "connect: refused")
    assert (health.in_table, health.state, health.last_result) == (
        False, "down", "connect: refused")
    assert not health.record(True, 2) and health.state == "rising"
    assert not health.record(True, 3)
    assert health.record(True, 4) and health.in_table


def test_fall_needs_consecutive_failures():
    health = ServerHealth(HealthPolicy(weight=4, rise=1, fall=3))
    health.record(True, 0)
    for now in (1, 2):
        health.record(False, now)
    health.record(True, 3)
    health.record(False, 4)
    health.record(False, 5)
    assert health.in_table
    assert health.record(False, 6) and not health.in_table


def test_failure_at_start_needs_rise():
    health = ServerHealth(HealthPolicy(rise=2))
    health.record(False, 0)
    health.record(True, 1)
    assert not health.in_table
    health.record(True, 2)
    assert health.in_table


def test_quiesce_keeps_the_server_at_weight_zero():
    health = ServerHealth(HealthPolicy(weight=10, quiesce=True))
    health.record(True, 0)
    assert health.record(False, 1)
    assert (health.in_table, health.weight, health.state) == (True, 0, "quiesced")
    health.record(True, 2)
    assert health.weight == 1  # slow start again: 10 >> 5 = 0 -> 1


def test_slow_start_doubles_every_step_up_to_the_weight():
    health = ServerHealth(HealthPolicy(weight=100, step=20))
    weights = []
    for now in range(0, 200):
        health.record(True, float(now))
        if not weights or weights[-1] != health.weight:
            weights.append(health.weight)
    assert weights == [3, 6, 12, 24, 48, 96, 100]


def test_adoption_keeps_the_kernel_weight_and_continues_slow_start():
    health = ServerHealth(HealthPolicy(weight=100, step=20))
    health.adopt(48, 0.0)
    assert (health.in_table, health.weight, health.healthy) == (True, 48, True)
    assert not health.record(True, 1)
    assert health.record(True, 21) and health.weight == 96


def test_adoption_caps_a_weight_above_what_lvs_cf_allows():
    """lvs.cf lowered a weight (3 -> 1) while lvsd was stopped (a cold restart): the kernel's
    3 must not be kept for ever. Without a load monitor nothing else ever lowers it (seen on
    the lab: web2 stayed at weight 3 after a redeploy with weight 1)."""
    from types import SimpleNamespace

    virtual = SimpleNamespace(effective_rise=1, effective_fall=1, quiesce_server=False,
                              load_monitor=None)
    plain = HealthPolicy.for_server(virtual, SimpleNamespace(weight=1))
    health = ServerHealth(plain)
    health.adopt(3, 0.0)
    assert (health.in_table, health.weight) == (True, 1)
    with_monitor = SimpleNamespace(**{**vars(virtual), "load_monitor": "uptime"})
    monitored = HealthPolicy.for_server(with_monitor, SimpleNamespace(weight=1))
    health = ServerHealth(monitored)
    health.adopt(3, 0.0)  # within the load phase's reach (scale x weight): kept
    assert health.weight == 3
    health.adopt(50, 0.0)
    assert health.weight == 10


def test_reconfigure_moves_a_full_weight_server_to_the_new_weight():
    health = ServerHealth(HealthPolicy(weight=1))
    health.record(True, 0)
    assert health.reconfigure(HealthPolicy(weight=5)) and health.weight == 5


def test_forced_up_down_and_back_to_normal():
    health = ServerHealth(HealthPolicy(weight=8, rise=5))
    assert health.force(True, 0) and health.weight == 8
    health.record(False, 1)
    assert health.in_table  # paused: results do not count
    assert health.force(False, 2) and not health.in_table
    health.force(None, 3)
    assert health.record(True, 4) and health.in_table  # at once, as nanny's SIGHUP


@pytest.mark.parametrize("load,last,expected", [
    (0.0, 100, 150), (0.5, 100, 139), (0.9, 100, 100), (1.5, 100, 100), (0.0, 300, 350),
    (0.5, 300, 339), (0.9, 300, 300), (1.5, 300, 260), (2.0, 300, 250), (4.0, 300, 227),
    (None, 300, 300), (1.0, 300, 300), (0.0, 960, 1000), (0.0, 990, 990),
])
def test_load_weight_matches_the_reference_table(load, last, expected):
    assert load_weight(last, 100, load) == expected


@pytest.mark.parametrize("text,value", [
    (" 10:01:02 up 3 days,  2:03,  1 user,  load average: 0.07, 0.03, 0.00\n", 0.07),
    ("web1     up  3+02:03,     1 user,  load 1.50, 0.03, 0.00", 1.5),
    ("web1 up 2 days, load average: 12.25, 1.00, 0.50", 12.25),
    ("load averages: 0,50 0,40 0,30", 0.5),
    ("no idea", None),
])
def test_parse_load(text, value):
    assert parse_load(text) == value


def test_load_commands():
    assert load_command("none", "rsh", "10.0.0.1") is None
    assert load_command("uptime", "ssh", "10.0.0.1") == ["ssh", "10.0.0.1", "uptime"]
    assert load_command("rup", "rsh", "10.0.0.1") == ["rup", "10.0.0.1"]
    assert load_command("/usr/local/bin/load -q", "rsh", "h") == ["/usr/local/bin/load", "-q",
                                                                  "h"]


def test_read_load_runs_asynchronously_with_a_timeout(tmp_path):
    script = tmp_path / "load"
    script.write_text('#!/bin/sh\nif [ "$1" = slow ]; then sleep 5; fi\n'
                      'echo "up 1 day, load average: 0.25, 0.1, 0.1"\n')
    script.chmod(0o755)

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        task = asyncio.get_running_loop().create_task(ticker())
        good = await read_load([str(script), "fast"], 2)
        slow = await read_load([str(script), "slow"], 0.5)
        missing = await read_load(["/nonexistent/load"], 1)
        task.cancel()
        return good, slow, missing, ticks
    good, slow, missing, ticks = asyncio.run(main())
    assert (good, slow, missing) == (0.25, None, None)
    assert ticks >= 5  # the loop kept running while the commands ran


if sys.platform != "linux":  # pragma: no cover
    pytest.skip("Linux only", allow_module_level=True)
