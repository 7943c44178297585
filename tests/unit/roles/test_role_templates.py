# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' templates, rendered by Ansible's own templating with the roles' defaults: lvs.cf
(checked by the collection's parser), the drift report, the nftables rules, and the real
server's address script run for real in a private network namespace."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from plugins.module_utils.lvs_cluster.lvs_cf.errors import LvsCfError
from plugins.module_utils.lvs_cluster.lvs_cf.shells import canonical_text

ROLES = Path(__file__).resolve().parents[3] / "roles"


def trusted(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [trusted(item) for item in value]
    return value


def role_vars(role: str, **overrides) -> dict:
    variables = {}
    for part in ("defaults", "vars"):
        variables.update(yaml.safe_load((ROLES / role / part / "main.yml").read_text()))
    variables.update(overrides)
    return trusted(variables)


def render(role: str, template: str, variables: dict) -> str:
    text = (ROLES / role / "templates" / template).read_text()
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(text))


ROUTERS = {"lvs1": {"ansible_host": "10.0.0.1", "router_private_address": "10.1.0.1"},
           "lvs2": {"ansible_host": "10.0.0.2", "router_private_address": "10.1.0.2"}}
WEB = {"name": "web", "address": "192.0.2.10", "port": 80, "scheduler": "rr",
       "send": "GET / HTTP/1.0\\r\\n\\r\\n", "expect": "HTTP/1.", "quiesce_server": True,
       "real_servers": [{"name": "web1", "address": "10.0.0.21", "weight": 3},
                        {"name": "web2", "address": "10.0.0.22", "active": False}]}


def router_vars(**overrides):
    return role_vars("router", **{"groups": {"lvs_routers": ["lvs1", "lvs2"]},
                                  "hostvars": ROUTERS, "router_virtual_servers": [WEB],
                                  **overrides})


def parsed(text: str) -> dict:
    config, _canonical, _warnings = canonical_text(content=text, source="lvs.cf")
    return config


def test_lvs_cf_from_the_defaults_and_one_service_is_valid_lvs_cf():
    config = parsed(render("router", "lvs.cf.j2", router_vars()))
    assert config["primary"] == "10.0.0.1" and config["backup"] == "10.0.0.2"
    assert config["primary_private"] == "10.1.0.1" and config["backup_active"] is True
    assert config["keepalive"] == 1 and config["deadtime"] == 3 and config["network"] == "direct"
    (virtual,) = config["virtuals"]
    assert virtual["address"] == {"ip": "192.0.2.10", "device": "eth0:1"}
    assert virtual["send"] == "GET / HTTP/1.0\\r\\n\\r\\n" and virtual["expect"] == "HTTP/1."
    assert virtual["quiesce_server"] is True and virtual["timeout"] == 6
    assert [(s["name"], s["weight"], s["active"]) for s in virtual["servers"]] == [
        ("web1", 3, True), ("web2", 1, False)]


def test_lvs_cf_for_nat_without_a_backup():
    text = render("router", "lvs.cf.j2", router_vars(
        router_backup="", router_network="nat",
        router_nat_router={"address": "10.1.0.254", "device": "eth1:1"}))
    config = parsed(text)
    assert config["network"] == "nat" and config["backup_active"] is False
    assert config["nat_router"] == {"ip": "10.1.0.254", "device": "eth1:1"}


def test_a_bad_value_reaches_the_checker_and_is_named_with_its_line():
    text = render("router", "lvs.cf.j2", router_vars(
        router_virtual_servers=[{**WEB, "scheduler": "fastest"}]))
    with pytest.raises(LvsCfError, match=r"line \d+.*scheduler"):
        parsed(text)


BGP = {"router_ha": "bgp", "router_bgp_asn": 65001,
       "router_bgp_neighbors": [{"address": "10.254.2.1", "remote_as": 65000},
                                {"address": "fd98:2::1", "remote_as": 65000, "bfd": False,
                                 "password": "s3cret", "description": "edge"}]}
WEB6 = {"name": "web6", "address": "fd98::100", "port": 80, "netmask": 64,
        "real_servers": [{"name": "web1", "address": "fd98:1::21"}]}


def bgp_vars(**overrides):
    return router_vars(**{"groups": {"lvs_routers": ["lvs1", "lvs2", "lvs3"]},
                          "hostvars": {**ROUTERS, "lvs3": {"ansible_host": "10.0.0.3"}},
                          "inventory_hostname": "lvs2", "ansible_host": "10.0.0.2",
                          "router_virtual_servers": [WEB, WEB6, {**WEB, "name": "off",
                                                                 "address": "192.0.2.99",
                                                                 "active": False}],
                          **BGP, **overrides})


def test_lvs_cf_in_bgp_mode_defaults_to_maglev_and_has_no_pair():
    config = parsed(render("router", "lvs.cf.j2", bgp_vars(router_virtual_servers=[
        {key: value for key, value in WEB.items() if key != "scheduler"}, WEB6])))
    assert config["backup_active"] is False and config["heartbeat_key_file"] is None
    web, web6 = config["virtuals"]
    assert web["scheduler"] == "mh" and web["quiesce_server"] is True
    assert set(web["scheduler_flags"]) == {"mh-port", "mh-fallback"}
    assert web6["scheduler"] == "mh"
    declared = parsed(render("router", "lvs.cf.j2", bgp_vars()))
    assert declared["virtuals"][0]["scheduler"] == "rr", "a declared scheduler wins"
    assert declared["virtuals"][0]["scheduler_flags"] == []


def test_scheduler_flags_of_the_defaults_stay_with_another_scheduler():
    defaults = {"port": 80, "scheduler": "sh", "scheduler_flags": ["sh-port"]}
    for mode in ("pulse", "bgp"):
        config = parsed(render("router", "lvs.cf.j2", bgp_vars(
            router_ha=mode, router_virtual_server_defaults=defaults,
            router_virtual_servers=[{"name": "web", "address": "192.0.2.10"}])))
        assert config["virtuals"][0]["scheduler_flags"] == ["sh-port"], mode


def test_pulse_options_in_bgp_mode():
    text = render("router", "lvs-cluster-pulse.default.j2", bgp_vars(
        router_bgp_min_healthy=2, router_bgp_drain=3.5, router_tiebreakers=["10.0.0.254"]))
    assert 'PULSE_OPTIONS="--metrics 127.0.0.1:9539 --mode bgp --min-healthy 2 --drain 3.5"' \
        in text
    pair = render("router", "lvs-cluster-pulse.default.j2", router_vars(
        router_tiebreakers=["10.0.0.254"]))
    assert '"--metrics 127.0.0.1:9539 --tiebreaker=10.0.0.254"' in pair


def test_frr_conf_announces_the_active_vips_by_family_and_takes_nothing_in(tmp_path):
    text = render("router", "frr.conf.j2", bgp_vars())
    lines = [line.strip() for line in text.splitlines()]
    assert "router bgp 65001" in lines and "bgp router-id 10.0.0.2" in lines
    assert "ip prefix-list lvs-cluster-vips seq 5 permit 192.0.2.10/32" in lines
    assert "ipv6 prefix-list lvs-cluster-vips6 seq 5 permit fd98::100/128" in lines
    assert not any("192.0.2.99" in line for line in lines), "an inactive virtual's VIP"
    assert lines.count("network 192.0.2.10/32") == 1 and "network fd98::100/128" in lines
    assert "neighbor 10.254.2.1 bfd" in lines and "neighbor fd98:2::1 bfd" not in lines
    assert "neighbor fd98:2::1 password s3cret" in lines
    assert "neighbor 10.254.2.1 timers 3 9" in lines
    assert "neighbor 10.254.2.1 route-map lvs-cluster-export out" in lines
    assert "neighbor fd98:2::1 route-map lvs-cluster-export6 out" in lines
    assert "neighbor 10.254.2.1 route-map lvs-cluster-import in" in lines
    assert "peer 10.254.2.1" in lines and "peer fd98:2::1" not in lines
    assert "detect-multiplier 3" in lines and "receive-interval 300" in lines
    checked = frr_check(tmp_path, text)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def frr_check(directory: Path, text: str) -> subprocess.CompletedProcess:
    """The role's own check of frr.conf (router_frr_check, as the template task runs it)."""
    if shutil.which("vtysh") is None:
        pytest.fail("vtysh (Debian package frr) is needed: tools/host-deps.sh installs it")
    written = directory / "frr.conf"
    written.write_text(text)
    command = str(role_vars("router")["router_frr_check"]) % str(written)  # as Ansible does
    return subprocess.run(shlex.split(command), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, check=False)


@pytest.mark.parametrize(("overrides", "refused"), [
    # vtysh --dryrun itself exits 0 here, having refused every line of the block
    ({"router_bgp_asn": 99999999999}, "router bgp 99999999999"),
    ({"router_bfd_interval_ms": 5}, "receive-interval 5"),
    ({"router_bgp_neighbors": [{"address": "10.254.2.1", "remote_as": 0}]},
     "remote-as 0"),
])
def test_the_role_s_frr_check_refuses_what_vtysh_refuses(tmp_path, overrides, refused):
    """The role checks the variables first (bgp_settings_problems); were one to slip through,
    the template's check still refuses the file, naming the line."""
    checked = frr_check(tmp_path, render("router", "frr.conf.j2", bgp_vars(**overrides)))
    assert checked.returncode != 0
    assert refused in checked.stderr


def test_pulse_drop_in_leaves_room_for_the_drain():
    text = render("router", "pulse-bgp.conf.j2", bgp_vars(router_bgp_drain=2.5))
    assert "TimeoutStopSec=18s" in text


def test_the_drift_report_names_each_difference():
    variables = router_vars(
        router_bundle_copy={"changed": False}, router_key_file={"changed": False},
        router_pulse_options_file={"changed": False}, router_pulse_service={"changed": False},
        router_lvs_cf={"changed": True}, router_live={"stdout": "{}"},
        router_kernel={"sysctls": [{"name": "net.ipv4.ip_forward", "before": "0", "after": "1",
                                    "changed": True}], "modules_loaded": ["ip_vs"], "files": []},
        router_ipvs={"operations": [
            {"action": "add_destination", "service": "service tcp 192.0.2.10:80",
             "destination": "10.0.0.21:80"},
            {"action": "edit_destination", "service": "service tcp 192.0.2.10:80",
             "destination": "10.0.0.22:80", "changes": {"weight": [5, 1]}},
            {"action": "edit_service", "service": "service tcp 192.0.2.10:80",
             "changes": {"scheduler": ["wrr", "rr"]}},
            {"action": "delete_service", "service": "service tcp 192.0.2.10:8080"}]},
        router_vip_drift=["VIP 192.0.2.10 is missing on the active router"])
    report = yaml.safe_load(render("router", "drift_report.j2", variables))
    assert report == [
        "sysctl net.ipv4.ip_forward is 0, declared 1",
        "kernel module ip_vs is not loaded",
        "/etc/sysconfig/ha/lvs.cf differs from the inventory",
        "IPVS: add destination 10.0.0.21:80 of service tcp 192.0.2.10:80",
        "IPVS: edit destination 10.0.0.22:80 of service tcp 192.0.2.10:80 (weight 5 -> 1)",
        "IPVS: edit service tcp 192.0.2.10:80 (scheduler wrr -> rr)",
        "IPVS: delete service tcp 192.0.2.10:8080",
        "VIP 192.0.2.10 is missing on the active router"]


@pytest.mark.parametrize(("state", "held", "expected"), [
    ("active", [], ["VIP 192.0.2.10 is missing on the active router"]),
    ("active", ["192.0.2.10"], []),
    ("standby", ["192.0.2.10"], ["VIP 192.0.2.10 is held by the standby router"]),
    ("standby", [], []),
])
def test_vip_drift_follows_pulse_s_role(state, held, expected):
    live = {"pulse": {"state": state},
            "links": [{"addr_info": [{"local": "10.0.0.1"}] + [{"local": a} for a in held]}]}
    variables = router_vars(router_live={"stdout": json.dumps(live)})
    assert yaml.safe_load(render("router", "vip_drift.j2", variables)) == expected


def test_the_drift_report_names_frr_s_differences_in_bgp_mode():
    variables = bgp_vars(  # no heartbeat key in bgp mode: router_key_file is not registered
        router_bundle_copy={"changed": False},
        router_pulse_options_file={"changed": False}, router_pulse_service={"changed": False},
        router_lvs_cf={"changed": False}, router_live={"stdout": "{}"}, router_kernel={},
        router_ipvs={"operations": []}, router_vip_drift=[],
        router_frr_daemons_file={"changed": True}, router_frr_conf={"changed": True},
        router_frr_service={"changed": True})
    assert yaml.safe_load(render("router", "drift_report.j2", variables)) == [
        "/etc/frr/daemons does not enable bgpd and bfdd",
        "/etc/frr/frr.conf differs from the inventory",
        "FRR was not running or not enabled at boot"]


def bgp_live(served, routed, announced):
    return {"pulse": {"mode": "bgp", "state": "active",
                      "vips": [{"ip": ip, "announced": ip in announced}
                               for ip in (WEB["address"], WEB6["address"])]},
            "links": [], "served": [[{"dst": ip} for ip in served], []],
            "announced": [[{"dst": ip} for ip in routed], []]}


@pytest.mark.parametrize(("served", "routed", "announced", "expected"), [
    ("both", ["192.0.2.10"], ["192.0.2.10"], []),
    ("both", [], [], []),
    (["192.0.2.10"], [], [],
     ["VIP fd98::100 is not served (no local route on lo)"]),
    ("both", [], ["192.0.2.10"],
     ["VIP 192.0.2.10 is announced by pulse but its route is missing (FRR does not announce it)"]),
    ("both", ["192.0.2.10", "192.0.2.77"], ["192.0.2.10"],
     ["VIP 192.0.2.77 has an announce route that pulse did not make (FRR announces it)"]),
])
def test_vip_drift_in_bgp_mode_compares_the_routes_with_pulse(served, routed, announced,
                                                              expected):
    both = [WEB["address"], WEB6["address"]]
    live = bgp_live(both if served == "both" else served, routed, announced)
    variables = bgp_vars(router_live={"stdout": json.dumps(live)})
    assert yaml.safe_load(render("router", "vip_drift.j2", variables)) == expected


def test_nftables_rules_accept_heartbeats_from_the_routers_and_mark_fwmark_services():
    text = render("router", "lvs-cluster.nft.j2", router_vars(router_nftables_fwmarks=[
        {"mark": 80, "address": "192.0.2.10", "ports": [80, 443]}]))
    assert "udp dport 539 ip saddr { 10.0.0.1, 10.1.0.1, 10.0.0.2, 10.1.0.2 } accept" in text
    assert "udp dport 539 drop" in text
    assert "ip daddr 192.0.2.10 tcp dport { 80, 443 } meta mark set 80" in text


def real_server_script(tmp_path, name, **overrides):
    text = render("real_server", "lvs-real-server.j2", role_vars(
        "real_server", groups={}, hostvars={}, **overrides))
    script = tmp_path / name
    script.write_text(text.replace("/var/lib/lvs-cluster/real-server.state",
                                   str(tmp_path / "state")))
    return script


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs root for a private network namespace")
def test_the_real_server_script_in_a_private_namespace(tmp_path):
    direct = real_server_script(tmp_path, "direct", real_server_vips=["192.0.2.10", "2001:db8::10"])
    nat = real_server_script(tmp_path, "nat", real_server_mode="nat",
                             real_server_nat_router="10.1.0.254",
                             real_server_nat_routes=["198.51.100.0/24"])
    steps = ("ip link add d0 type veth peer name d1 && ip addr add 10.1.0.21/24 dev d0"
             " && ip link set d1 up && ip link set d0 up"
             f" && echo '# up' && sh {direct} up && echo '# again' && sh {direct} up"
             f" && echo '# check' && sh {direct} check && echo '# nat' && sh {nat} up"
             f" && echo '# lo' && ip -o addr show dev lo && ip route show 198.51.100.0/24"
             f" && echo '# down' && sh {nat} down && ip route show 198.51.100.0/24")
    out = subprocess.run(["unshare", "-n", "sh", "-c", steps], capture_output=True, text=True,
                         check=False, timeout=30)
    assert out.returncode == 0, out.stderr
    sections = dict(part.split("\n", 1) for part in out.stdout.split("# ")[1:])
    assert sections["up"].splitlines() == ["add addr lo 192.0.2.10/32",
                                           "add addr lo 2001:db8::10/128"]
    assert sections["again"] == "" and sections["check"] == ""
    assert sections["nat"].splitlines() == ["remove addr lo 192.0.2.10/32",
                                            "remove addr lo 2001:db8::10/128",
                                            "add route 198.51.100.0/24 10.1.0.254"]
    assert "192.0.2.10" not in sections["lo"] and "198.51.100.0/24 via 10.1.0.254" in sections["lo"]
    assert sections["down"].strip() == "remove route 198.51.100.0/24 10.1.0.254"
