# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvs.cluster.ipvs_info: main() with patched arguments on the fake IPVS kernel."""

from __future__ import annotations

import pytest
from ipvs_helpers import dest, fake, fake_dest, install, mark, service, table

from plugins.module_utils import ipvs_module as ipvs
from plugins.modules import ipvs_info, ipvs_table

__all__ = ["fake"]  # the fixture, imported for pytest

STATS_KEYS = {"conns", "inpkts", "outpkts", "inbytes", "outbytes", "cps", "inpps", "outpps",
              "inbps", "outbps"}


@pytest.fixture
def run(module_runner):
    return module_runner(ipvs_info.main)


@pytest.fixture
def loaded(fake):
    fake.load({
        mark(2, "inet6", scheduler="rr"): [dest(1, port=0, prefix="2001:db8:1::")],
        service(443, "2001:db8::10", flags={"persistent"}, timeout=300, netmask=64): [
            dest(2, port=443, prefix="2001:db8:1::", forwarding="tunnel", tunnel_type="gue",
                 tunnel_port=6080, tunnel_flags={"csum"})],
        service(80, scheduler="wrr"): [dest(2, forwarding="nat", weight=3, upper_threshold=50,
                                            lower_threshold=10), dest(1)],
        service(53, "192.0.2.9", "udp", scheduler="sh", flags={"one-packet", "sh-port"}): [],
        service(5060, protocol="udp", flags={"persistent"}, timeout=60, pe_name="sip"): [],
        mark(1): [],
    })
    return fake


def test_an_empty_kernel(run, fake):
    result = run()
    assert result == {"changed": False, "services": [],
                      "timeouts": {"tcp": 900, "tcp_fin": 120, "udp": 300},
                      "sync_daemons": []}
    assert fake.writes == 0


def test_every_service_in_a_stable_order_with_its_options(run, loaded):
    result = run(stats=False)
    services = result["services"]
    names = [(s.get("address"), s.get("protocol"), s.get("port"), s.get("fwmark"))
             for s in services]
    assert names == [("192.0.2.9", "udp", 53, None), ("192.0.2.10", "tcp", 80, None),
                     ("192.0.2.10", "udp", 5060, None), ("2001:db8::10", "tcp", 443, None),
                     (None, None, None, 1), (None, None, None, 2)]
    assert services[0] == {"family": "inet", "protocol": "udp", "address": "192.0.2.9",
                           "port": 53, "scheduler": "sh", "persistence_timeout": 0,
                           "one_packet": True, "scheduler_flags": ["sh-port"],
                           "destinations": []}
    assert services[2]["pe_name"] == "sip"
    assert services[3]["persistence_netmask"] == 64
    assert services[3]["destinations"] == [{
        "address": "2001:db8:1::2", "port": 443, "forwarding": "tunnel", "weight": 1,
        "upper_threshold": 0, "lower_threshold": 0, "tunnel_type": "gue", "tunnel_port": 6080,
        "tunnel_flags": ["csum"]}]
    assert services[5] == {"family": "inet6", "fwmark": 2, "scheduler": "rr",
                           "persistence_timeout": 0, "one_packet": False,
                           "scheduler_flags": [], "destinations": [{
                               "address": "2001:db8:1::1", "port": 0, "forwarding": "direct",
                               "weight": 1, "upper_threshold": 0, "lower_threshold": 0,
                               "tunnel_flags": []}]}
    # destinations sorted by address, whatever the kernel's order
    assert [d["address"] for d in services[1]["destinations"]] == ["10.0.0.1", "10.0.0.2"]
    assert all("stats" not in s for s in services)


def test_counters_and_connection_counts(run, loaded):
    web = loaded.service("192.0.2.10", 80)
    web.stats = {1: 120, 2: 800, 4: 52000, 6: 3}  # conns, inpkts, inbytes, cps
    record = fake_dest(loaded, service(80), "10.0.0.2")
    record.activeconns, record.inactconns, record.persistconns = 4, 9, 1
    record.stats = {1: 60, 3: 7}
    result = run()
    svc = result["services"][1]
    assert svc["stats"] == {"conns": 120, "inpkts": 800, "outpkts": 0, "inbytes": 52000,
                            "outbytes": 0, "cps": 3, "inpps": 0, "outpps": 0, "inbps": 0,
                            "outbps": 0}
    rs = svc["destinations"][1]
    assert rs["address"] == "10.0.0.2"
    assert (rs["active_connections"], rs["inactive_connections"],
            rs["persistent_connections"]) == (4, 9, 1)
    assert rs["stats"]["conns"] == 60
    assert rs["stats"]["outpkts"] == 7
    assert set(rs["stats"]) == STATS_KEYS
    assert svc["destinations"][0]["active_connections"] == 0


def test_timeouts_and_sync_daemons(run, fake, module_runner):
    module_runner(ipvs_table.main)(
        timeouts={"tcp": 3600, "udp": 60},
        sync_daemons=[{"state": "backup", "interface": "eth1", "sync_id": 4, "port": 9000},
                      {"state": "master", "interface": "eth0"}])
    result = run()
    assert result["timeouts"] == {"tcp": 3600, "tcp_fin": 120, "udp": 60}
    assert result["sync_daemons"] == [
        {"state": "backup", "interface": "eth1", "sync_id": 4, "max_len": 8972,
         "group": "224.0.0.81", "port": 9000, "ttl": 1},
        {"state": "master", "interface": "eth0", "sync_id": 0, "max_len": 1472,
         "group": "224.0.0.81", "port": 8848, "ttl": 1},
    ]


def test_the_table_without_counters_is_a_declaration_for_ipvs_table(
        run, loaded, module_runner):
    saved = run(stats=False)["services"]
    before = table(loaded)
    apply = module_runner(ipvs_table.main)
    assert apply(services=saved, scope="all", _ansible_check_mode=True)["changed"] is False
    loaded.services.clear()
    restored = apply(services=saved, scope="all")
    assert restored["changed"] is True
    assert table(loaded) == before
    assert apply(services=saved, scope="all")["changed"] is False


def test_check_mode_is_the_same_read(run, loaded):
    assert run(_ansible_check_mode=True) == run()
    assert loaded.writes == 0


def test_without_ipvs_it_fails_clearly(run, monkeypatch):
    from ipvs_helpers import FakeIpvsKernel

    install(monkeypatch, FakeIpvsKernel(ipvs_loaded=False))
    monkeypatch.setattr(ipvs_info.AnsibleModule, "get_bin_path",
                        lambda self, name, required=False, opt_dirs=None: None)
    real_exists = ipvs.os.path.exists
    monkeypatch.setattr(ipvs.os.path, "exists",
                        lambda path: False if path == "/proc/net/ip_vs" else real_exists(path))
    result = run()
    assert result.failed
    assert result["msg"] == ("the kernel has no IPVS: load the ip_vs module (modprobe ip_vs); "
                             "modprobe was not found")
