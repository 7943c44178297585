# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nanny: Piranha's command line, and one real up/down cycle against the fake IPVS kernel."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "module_utils"))

from fake_ipvs_kernel import FakeIpvsKernel  # noqa: E402
from lvs_agents import nanny  # noqa: E402
from lvs_cluster.ipvs import netlink as nl  # noqa: E402
from lvs_cluster.ipvs.model import Service  # noqa: E402

VIP = "192.0.2.10"


def parse(*argv):
    return nanny.build_parser().parse_args(list(argv))


def test_piranha_command_line_as_lvsd_built_it():
    args = parse("-c", "-h", "10.0.0.2", "-p", "80", "-r", "8080", "-s", "GET /", "-x", "HTTP",
                 "-q", "--regex", "-a", "30", "-I", "/sbin/ipvsadm", "-t", "5", "-w", "100",
                 "-V", VIP, "-M", "g", "-U", "none", "--nodaemon", "--lvs")
    n = nanny.Nanny(args, None)
    assert (n.service.address, n.service.port, n.destination.port) == (VIP, 80, 8080)
    assert n.destination.forwarding == "direct" and n.destination.weight == 100
    assert (n.spec.port, n.spec.send, n.spec.expect, n.spec.use_regex) == (
        8080, b"GET /", b"HTTP", True)
    assert (n.health.policy.rise, n.health.policy.quiesce) == (6, True)


def test_lvs_or_fos_is_mandatory_and_h_is_the_server(capsys):
    with pytest.raises(SystemExit) as stop:
        parse("-h", "10.0.0.2")
    assert stop.value.code == 2
    assert parse("-h", "10.0.0.2", "--fos").server == "10.0.0.2"
    with pytest.raises(SystemExit) as stop:
        nanny.main(["--help"])
    assert stop.value.code == 0 and "--lvs" in capsys.readouterr().out


def test_bad_addresses_exit_2(capsys):
    assert nanny.main(["-h", "web1", "-V", VIP, "--lvs"]) == 2
    assert "-h/--server" in capsys.readouterr().err
    assert nanny.main(["-h", "10.0.0.2", "--lvs", "-M", "x", "-V", VIP]) == 2


@pytest.mark.parametrize("server, virtual, words", [
    ("224.0.0.9", VIP, "224.0.0.9 is a multicast address"),
    ("255.255.255.255", VIP, "is the broadcast address"),
    ("fe80::2", "2001:db8::10", "fe80::2 is link-local"),
    ("fe80::2%eth0", "2001:db8::10", "fe80::2%eth0 has zone index %eth0"),
])
def test_a_server_the_kernel_refuses_exits_2(capsys, server, virtual, words):
    # issue #12, point 8: the IPVS modules' rules for a real server, before IPVS is opened
    def no_ipvs():
        raise OSError("IPVS must not be opened for a refused server")

    assert nanny.main(["-h", server, "-V", virtual, "--lvs"], kernel_factory=no_ipvs) == 2
    err = capsys.readouterr().err
    assert err.startswith("nanny: -h/--server: ")
    assert words in err


def test_builtin_http_check_on_port_80():
    n = nanny.Nanny(parse("-h", "10.0.0.2", "-V", VIP, "--lvs"), None)
    assert n.spec.send == b"GET / HTTP/1.0\r\n\r\n" and n.spec.expect == b"HTTP"


def test_up_down_cycle_and_sigterm_removes(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.2", 0))
        port = probe.getsockname()[1]
    fake = FakeIpvsKernel().load({Service("inet", "tcp", VIP, 7000): ()})
    kernel = nl.IpvsNetlink(fake)
    service = Service("inet", "tcp", VIP, 7000)

    def weights():
        return {d.address: d.weight for d, _stats in kernel.destinations(service)}

    async def until(condition, timeout=8.0):
        end = asyncio.get_running_loop().time() + timeout
        while not condition():
            assert asyncio.get_running_loop().time() < end, "not in time"
            await asyncio.sleep(0.05)

    async def main():
        async def handle(reader, writer):
            writer.close()
        server = await asyncio.start_server(handle, "127.0.0.2", port)
        args = parse("-h", "127.0.0.2", "-V", VIP, "-p", "7000", "-r", str(port), "-t", "1",
                     "-a", "1", "-w", "2", "--lvs")
        daemon = nanny.Nanny(args, kernel)
        task = asyncio.get_running_loop().create_task(daemon.run(handle_signals=False))
        await until(lambda: weights() == {"127.0.0.2": 1})  # slow start: max(1, 2 >> 5)
        server.close()
        await server.wait_closed()
        await until(lambda: weights() == {})
        server = await asyncio.start_server(handle, "127.0.0.2", port)
        await until(lambda: weights() == {"127.0.0.2": 1})
        daemon.force(False)  # SIGUSR1
        assert weights() == {}
        daemon.force(True)  # SIGUSR2
        assert weights() == {"127.0.0.2": 2}
        daemon.force(None)  # SIGHUP
        daemon.finish(0)  # SIGTERM
        code = await asyncio.wait_for(task, 5)
        server.close()
        return code
    assert asyncio.run(main()) == 0
    assert weights() == {}


def test_apply_follows_the_health_rule_up_quiesced_down():
    """apply() puts the destination where health_table places it: in at the current weight,
    quiesced at 0 (-q), removed when out of the table."""
    service = Service("inet", "tcp", VIP, 7000)
    kernel = nl.IpvsNetlink(FakeIpvsKernel().load({service: ()}))
    daemon = nanny.Nanny(parse("-h", "10.0.0.2", "-V", VIP, "-p", "7000", "-w", "64", "-q",
                               "--fall", "1", "--lvs"), kernel, clock=lambda: 100.0)

    def weights():
        return {d.address: d.weight for d, _stats in kernel.destinations(service)}

    daemon.health.record(True, 100.0)
    daemon.apply()
    assert weights() == {"10.0.0.2": 2}  # slow start: 64 >> 5
    daemon.health.record(False, 101.0, "refused")
    daemon.apply()
    assert weights() == {"10.0.0.2": 0}  # quiesced
    daemon.health.force(False, 102.0)
    daemon.apply()
    assert weights() == {}
