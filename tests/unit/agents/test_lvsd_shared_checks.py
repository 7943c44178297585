# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvsd with one real server in several virtual services: one probe per period for all of
them while their checks are alike, and after a reload that removes some and changes one."""

from __future__ import annotations

import pytest
from test_lvsd import PORT, VIP, Harness, Listener, run, until

SERVER = "127.0.0.2"


@pytest.fixture(autouse=True)
def run_dir(tmp_path, monkeypatch):
    """lvsd.json under the test's tmp_path."""
    monkeypatch.setenv("LVS_CLUSTER_RUN_DIR", str(tmp_path / "run"))


def lvs_cf(timeouts):
    """One virtual per timeout, on ports 8080, 8081, ..., each with the one real server."""
    text = "serial_no = 1\nprimary = 10.254.0.2\nservice = lvs\nbackup = 10.254.0.3\n" \
        "network = nat\n"
    for index, timeout in enumerate(timeouts):
        text += f"""
virtual web{index} {{
     active = 1
     address = {VIP} lo:1
     port = {8080 + index}
     protocol = tcp
     scheduler = wlc
     timeout = {timeout}
     server a {{
         address = {SERVER}
         port = {PORT}
         active = 1
         weight = 1
     }}
}}
"""
    return text


def test_one_probe_per_period_for_a_server_in_five_services_and_after_a_reload(
        tmp_path, sockets):
    opened = sockets

    async def main():
        listener = await Listener(SERVER).start()
        harness = Harness(tmp_path, lvs_cf([1] * 5))
        members, verdict = harness.daemon.members, harness.daemon.scheduler.on_result
        at_second = []  # probes opened when the last of the five got its second verdict

        def on_result(key, result):
            verdict(key, result)
            if not at_second and all(m.health.checks >= 2 for m in members.values()):
                at_second.append(opened[0])

        harness.daemon.scheduler.on_result = on_result
        await harness.start()
        await until(lambda: at_second)
        assert at_second == [2]  # one probe per period for the five; one each would be 10
        sharing = harness.daemon.scheduler.sharing()
        assert all(harness.dests(8080 + i) == {SERVER: 1} for i in range(5))
        assert harness.reload(lvs_cf([1, 1, 2]))  # two services gone, one with timeout 2
        after = harness.daemon.scheduler.sharing()
        kept = {key: m.health.checks for key, m in harness.daemon.members.items()}
        await until(lambda: all(m.health.checks >= kept[key] + 1
                                for key, m in harness.daemon.members.items()))
        states = [m.health.state for m in harness.daemon.members.values()]
        assert await harness.stop() == 0
        await listener.stop()
        return sharing, after, states
    sharing, after, states = run(main())
    assert [len(keys) for keys in sharing.values()] == [5]
    assert sorted((spec.timeout, len(keys)) for spec, keys in after.items()) == \
        [(1.0, 2), (2.0, 1)]
    assert states == ["up"] * 3
