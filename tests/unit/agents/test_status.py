# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvs-status and the metrics: rendering from fixture status documents, checked by a small
parser of the Prometheus text format; the HTTP endpoint on an ephemeral loopback port; the
command on status files in a temporary run directory with the IPVS table read through a real
IpvsNetlink backed by the fake IPVS kernel."""

from __future__ import annotations

import io
import json
import math
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "module_utils"))
from fake_ipvs_kernel import FakeIpvsKernel  # noqa: E402
from lvs_agents import runtime, status  # noqa: E402
from lvs_cluster.ipvs import netlink as nl  # noqa: E402
from lvs_cluster.ipvs.model import Destination, Service  # noqa: E402

NOW = 1_800_000_000.0
VIP = "10.254.0.100"


def always_alive(_pid):
    return True


def pulse_doc(updated=NOW, pid=None, **changes):
    doc = {
        "version": 1, "pid": os.getpid() if pid is None else pid, "updated": updated,
        "node": "primary", "state": "active", "flags": [], "since": NOW - 120,
        "transitions": 3,
        "peer": {"addresses": ["10.0.0.2"], "state": "running", "last_heartbeat": NOW - 0.25},
        "vips": [{"ip": VIP, "prefix": 24, "device": "eth0", "label": "eth0:1",
                  "present": True},
                 {"ip": "10.254.0.101", "prefix": 24, "device": "eth0", "label": "eth0:2",
                  "present": False}],
        "heartbeat": {"keepalive": 0.1, "deadtime": 0.3, "port": 539, "authenticated": True,
                      "sent": 1000, "received": 990,
                      "peer_refused": 7,
                      "rejected": {"bad_mac": 2, "replay": 1, "stale": 0, "legacy": 4,
                                   "malformed": 0, "unknown_source": 0}},
        "lvsd": {"pid": 4242, "ready": True, "restarts": 1},
    }
    doc.update(changes)
    return doc


def server(name, address, state="up", healthy=True, weight=1, **changes):
    entry = {"name": name, "address": address, "port": 80, "healthy": healthy, "state": state,
             "weight": weight, "configured_weight": 1, "last_check": NOW - 1,
             "last_result": "ok" if healthy else "connection refused", "checks": 50,
             "failures": 0 if healthy else 7}
    entry.update(changes)
    return entry


def lvsd_doc(updated=NOW, pid=None, virtual_name="web", servers=None):
    return {
        "version": 1, "pid": os.getpid() if pid is None else pid, "updated": updated,
        "config": "/etc/sysconfig/ha/lvs.cf", "reloads": 2, "last_reconcile": NOW - 0.5,
        "virtuals": [{"name": virtual_name, "service": f"TCP {VIP}:80",
                      "service_key": {"family": "inet", "protocol": "tcp", "address": VIP,
                                      "port": 80},
                      "sorry_active": False,
                      "servers": servers if servers is not None else [
                          server("web1", "10.254.0.21"),
                          server("web2", "10.254.0.22", state="down", healthy=False,
                                 weight=0)]}],
        "checks": {"total": 100, "failed": 7, "running": 2},
    }


WEB = Service("inet", "tcp", VIP, 80, scheduler="wlc")


def fake_table():
    """A real IpvsNetlink over the fake kernel with the web service and two servers."""
    kernel = FakeIpvsKernel()
    _sent, failures = nl.IpvsNetlink(kernel).pipeline([
        nl.add_service(WEB),
        nl.add_destination(WEB, Destination("10.254.0.21", 80, forwarding="nat", weight=1)),
        nl.add_destination(WEB, Destination("10.254.0.22", 80, forwarding="nat", weight=0))])
    assert failures == []
    [service] = kernel.services.values()
    for dest in service.dests.values():
        dest.activeconns, dest.inactconns = (3, 10) if dest.address.endswith(".21") else (0, 1)
    return kernel


def reader(kernel):
    """read_ipvs_table over the fake kernel; each read opens (and closes) its own socket."""

    def connect():
        kernel.closed = False  # a new socket to the same (fake) kernel
        return nl.IpvsNetlink(kernel)

    def read():
        table = status.read_ipvs_table(connect)
        # (a failed IpvsNetlink() leaves its socket to the garbage collector)
        assert kernel.closed or table.error, "read_ipvs_table must close its socket"
        return table

    return read


# --- a checker of the Prometheus text format 0.0.4 ---------------------------------------------

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse_labels(text, line):
    """``a="x",b="y\\"z"`` → {"a": "x", "b": 'y"z'}; anything else fails the test."""
    labels, i = {}, 0
    while i < len(text):
        name = LABEL.match(text, i)
        assert name, f"bad label name in {line!r}"
        i = name.end()
        assert text[i:i + 2] == '="', f"no =\" after label in {line!r}"
        i += 2
        value = []
        while True:
            assert i < len(text), f"unterminated label value in {line!r}"
            if text[i] == '"':
                break
            if text[i] == "\\":
                escaped = text[i + 1]
                assert escaped in '\\"n', f"bad escape \\{escaped} in {line!r}"
                value.append("\n" if escaped == "n" else escaped)
                i += 2
            else:
                assert text[i] != "\n"
                value.append(text[i])
                i += 1
        i += 1
        assert name.group() not in labels, f"duplicate label in {line!r}"
        labels[name.group()] = "".join(value)
        if i < len(text):
            assert text[i] == ",", f"no comma between labels in {line!r}"
            i += 1
    return labels


def parse_exposition(text):
    """Samples as {(name, frozenset(labels)): value}, checking the format on the way:
    newline-terminated, valid names, one HELP/TYPE per family before its samples, a family's
    samples contiguous, no duplicate series, numeric values."""
    assert text.endswith("\n")
    types, helps, samples, finished, current = {}, {}, {}, set(), None
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _hash, keyword, name, rest = line.split(" ", 3)
            assert NAME.fullmatch(name), line
            table = helps if keyword == "HELP" else types
            assert name not in table, f"second {keyword} for {name}"
            assert name not in finished and not any(k[0] == name for k in samples), \
                f"{keyword} after samples of {name}"
            if keyword == "TYPE":
                assert rest in TYPES, line
            table[name] = rest
            continue
        assert not line.startswith("#") and line.strip(), f"unexpected line {line!r}"
        match = re.fullmatch(r"([^{\s]+)(?:\{(.*)\})? (\S+)", line)
        assert match, f"bad sample {line!r}"
        name, label_text, value = match.groups()
        assert NAME.fullmatch(name), line
        assert name in types, f"sample of {name} without a TYPE before it"
        if name != current:
            assert name not in finished, f"samples of {name} are not contiguous"
            if current:
                finished.add(current)
            current = name
        labels = frozenset(parse_labels(label_text or "", line).items())
        assert (name, labels) not in samples, f"duplicate series {line!r}"
        number = float(value)
        assert not math.isnan(number) or value == "NaN"
        samples[(name, labels)] = number
    return samples, types


def sample(samples, name, **labels):
    wanted = {k: str(v) for k, v in labels.items()}
    found = [v for (n, ls), v in samples.items()
             if n == name and wanted.items() <= dict(ls).items()]
    assert len(found) == 1, f"{name}{wanted}: {len(found)} samples"
    return found[0]


def names(samples):
    return {name for name, _labels in samples}


def test_checker_rejects_what_it_should():
    for bad in ["x 1\n", "# TYPE x gauge\nx 1", "# TYPE x gauge\nx{a=\"b} 1\n",
                "# TYPE x gauge\nx{a=\"\\t\"} 1\n",
                "# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\nx 2\n", "# TYPE 1x gauge\n1x 1\n",
                "# TYPE x gauge\nx one\n"]:
        with pytest.raises((AssertionError, ValueError)):
            parse_exposition(bad)


# --- render_metrics ----------------------------------------------------------------------------

def render(pulse=None, lvsd=None, table=None, alive=always_alive):
    return status.render_metrics(pulse, lvsd, table, now=NOW, alive=alive)


def test_metrics_of_a_healthy_active_router():
    kernel = fake_table()
    text = render(pulse_doc(), lvsd_doc(), reader(kernel)())
    samples, types = parse_exposition(text)
    assert sample(samples, "lvs_cluster_agent_up", agent="pulse") == 1
    assert sample(samples, "lvs_cluster_agent_up", agent="lvsd") == 1
    assert sample(samples, "lvs_cluster_ipvs_up") == 1
    assert sample(samples, "lvs_cluster_pulse_active") == 1
    assert sample(samples, "lvs_cluster_pulse_info", node="primary", state="active") == 1
    assert sample(samples, "lvs_cluster_pulse_peer_heartbeat_age_seconds") == pytest.approx(0.25)
    assert sample(samples, "lvs_cluster_pulse_peer_running") == 1
    assert sample(samples, "lvs_cluster_pulse_flag", flag="CHILDFAIL") == 0
    assert sample(samples, "lvs_cluster_heartbeats_sent_total") == 1000
    assert sample(samples, "lvs_cluster_heartbeats_received_total") == 990
    assert sample(samples, "lvs_cluster_heartbeats_peer_refused_total") == 7
    assert sample(samples, "lvs_cluster_heartbeats_rejected_total", reason="legacy") == 4
    assert sample(samples, "lvs_cluster_heartbeats_rejected_total", reason="bad_mac") == 2
    assert sample(samples, "lvs_cluster_vip_present", vip=VIP) == 1
    assert sample(samples, "lvs_cluster_vip_present", vip="10.254.0.101") == 0
    assert sample(samples, "lvs_cluster_transitions_total") == 3
    assert sample(samples, "lvs_cluster_lvsd_restarts_total") == 1
    assert sample(samples, "lvs_cluster_checks_total") == 100
    assert sample(samples, "lvs_cluster_check_failures_total") == 7
    web1 = {"virtual": "web", "server": "web1", "address": "10.254.0.21", "port": 80}
    web2 = {**web1, "server": "web2", "address": "10.254.0.22"}
    assert sample(samples, "lvs_cluster_real_server_healthy", **web1) == 1
    assert sample(samples, "lvs_cluster_real_server_healthy", **web2) == 0
    assert sample(samples, "lvs_cluster_real_server_weight", **web1) == 1
    assert sample(samples, "lvs_cluster_real_server_weight", **web2) == 0
    assert sample(samples, "lvs_cluster_real_server_connections", state="active", **web1) == 3
    assert sample(samples, "lvs_cluster_real_server_connections", state="inactive", **web1) == 10
    assert sample(samples, "lvs_cluster_real_server_connections", state="inactive", **web2) == 1
    assert types["lvs_cluster_heartbeats_received_total"] == "counter"
    assert types["lvs_cluster_pulse_active"] == "gauge"
    assert all(types[n] == "counter" for n in types if n.endswith("_total"))
    # what the lab's integration test greps for
    assert re.search(r"^lvs_cluster_pulse_active 1$", text, re.M)
    assert re.search(r'^lvs_cluster_real_server_healthy\{[^}]*address="10\.254\.0\.21"[^}]*\} 1$',
                     text, re.M)


def test_standby_router_with_a_failure_flag():
    pulse = pulse_doc(state="standby", node="backup", flags=["CHILDFAIL"])
    samples, _types = parse_exposition(render(pulse, None, []))
    assert sample(samples, "lvs_cluster_pulse_active") == 0
    assert sample(samples, "lvs_cluster_pulse_info", node="backup", state="standby") == 1
    assert sample(samples, "lvs_cluster_pulse_flag", flag="CHILDFAIL") == 1
    assert sample(samples, "lvs_cluster_pulse_flag", flag="LINKFAIL") == 0
    assert sample(samples, "lvs_cluster_agent_up", agent="lvsd") == 0


def bgp_pulse_doc(**changes):
    doc = {"version": 1, "pid": os.getpid(), "updated": NOW, "mode": "bgp", "node": "bgp",
           "state": "active", "flags": [], "since": NOW - 60, "min_healthy": 1,
           "vips": [{"ip": VIP, "announced": True}, {"ip": "fd98::100", "announced": False}],
           "announcements": 3, "withdrawals": 1,
           "lvsd": {"pid": 4242, "ready": True, "restarts": 0, "adopted": True}}
    doc.update(changes)
    return doc


def test_metrics_of_a_bgp_mode_router():
    samples, types = parse_exposition(render(bgp_pulse_doc(), lvsd_doc(), []))
    assert sample(samples, "lvs_cluster_pulse_active") == 1
    assert sample(samples, "lvs_cluster_vip_announced", vip=VIP) == 1
    assert sample(samples, "lvs_cluster_vip_announced", vip="fd98::100") == 0
    assert sample(samples, "lvs_cluster_announcements_total") == 3
    assert sample(samples, "lvs_cluster_withdrawals_total") == 1
    assert sample(samples, "lvs_cluster_lvsd_ready") == 1
    assert types["lvs_cluster_withdrawals_total"] == "counter"
    # no peer and no heartbeats in bgp mode: nothing that reads as a dead peer
    assert not {n for n in names(samples) if "peer" in n or "heartbeat" in n}


def test_label_values_are_escaped():
    nasty = 'we"b\\1\nx'
    lvsd = lvsd_doc(virtual_name=nasty, servers=[server(nasty, "10.254.0.21")])
    text = render(None, lvsd, reader(fake_table())())
    assert 'virtual="we\\"b\\\\1\\nx"' in text
    samples, _types = parse_exposition(text)
    assert sample(samples, "lvs_cluster_real_server_healthy", virtual=nasty, server=nasty) == 1
    assert sample(samples, "lvs_cluster_real_server_weight", server=nasty) == 1
    assert all("\n" not in line for line in text.splitlines())


def test_stale_or_dead_agents_export_only_agent_up():
    stale = pulse_doc(updated=NOW - status.STALE_AFTER - 1)
    samples, _types = parse_exposition(render(stale, lvsd_doc(), [], alive=always_alive))
    assert sample(samples, "lvs_cluster_agent_up", agent="pulse") == 0
    assert sample(samples, "lvs_cluster_agent_up", agent="lvsd") == 1
    assert not any(n.startswith("lvs_cluster_pulse_") for n in names(samples))
    assert "lvs_cluster_heartbeats_sent_total" not in names(samples)
    dead = render(pulse_doc(), lvsd_doc(), [], alive=lambda pid: False)
    samples, _types = parse_exposition(dead)
    assert names(samples) == {"lvs_cluster_agent_up", "lvs_cluster_ipvs_up"}


def test_nothing_known_still_renders_valid_text():
    samples, _types = parse_exposition(render())
    assert sample(samples, "lvs_cluster_ipvs_up") == 0
    assert sample(samples, "lvs_cluster_agent_up", agent="pulse") == 0


def test_garbage_in_status_documents_does_not_raise():
    pulse = pulse_doc(flags="CHILDFAIL", peer=[], vips=[None, 3], heartbeat={"sent": "x"},
                      transitions=None, since=float("nan"))
    lvsd = lvsd_doc(servers=[None, {"address": "not an address"}])
    lvsd["virtuals"].append({"service": 7})
    samples, _types = parse_exposition(render(pulse, lvsd, []))
    assert sample(samples, "lvs_cluster_heartbeats_sent_total") == 0


SERVICES = [
    (WEB, f"TCP {VIP}:80"),
    (Service("inet6", "udp", "2001:db8::1", 53), "UDP [2001:db8::1]:53"),
    (Service("inet", None, None, None, fwmark=5), "FWM 5"),
    (Service("inet6", None, None, None, fwmark=5), "FWM 5 IPv6"),
]


@pytest.mark.parametrize(("service", "label"), SERVICES)
def test_service_labels(service, label):
    assert status.service_label(service) == label


@pytest.mark.parametrize(("service", "_label"), SERVICES)
def test_service_keys_round_trip_through_json(service, _label):
    document = json.loads(json.dumps(status.service_key_document(service)))
    assert status.service_key(document) == service.key


def test_service_keys_of_fwmark_and_address_services():
    assert status.service_key_document(WEB) == {"family": "inet", "protocol": "tcp",
                                                "address": VIP, "port": 80}
    assert status.service_key_document(Service("inet", None, None, None, fwmark=5)) == {
        "family": "inet", "fwmark": 5}
    # another spelling of the same address is the same service
    assert status.service_key({"family": "inet6", "protocol": "udp",
                               "address": "2001:DB8:0::1", "port": 53}) == \
        Service("inet6", "udp", "2001:db8::1", 53).key


def test_lvsd_json_matches_the_table_by_service_key():
    mark6 = Service("inet6", None, None, None, fwmark=5)
    lvsd = lvsd_doc(servers=[server("m1", "2001:db8::21", port=0)])
    lvsd["virtuals"][0].update(name="marked", service="FWM 5 IPv6",
                               service_key={"family": "inet6", "fwmark": 5})
    rows = [(Destination("2001:db8:0::21", 0, forwarding="direct", weight=3), None)]
    other = [(Destination("2001:db8::21", 0, forwarding="direct", weight=3), None)]
    document = status.table_document(status.IpvsTable(services=[
        (mark6, rows), (Service("inet", None, None, None, fwmark=5), other)]), lvsd)
    matched, unmatched = document["services"]
    assert matched["service"] == "FWM 5 IPv6" and matched["virtual"] == "marked"
    assert matched["destinations"][0]["server"] == "m1"
    assert unmatched["service"] == "FWM 5" and unmatched["virtual"] is None
    assert unmatched["destinations"][0]["server"] is None


@pytest.mark.parametrize("bad", [
    None, f"TCP {VIP}:80", [], {}, {"family": "inet"},
    {"family": "inet", "protocol": "tcp", "address": "web", "port": 80},
    {"family": "inet", "protocol": "tcp", "address": "2001:db8::1", "port": 80},
    {"family": "inet", "protocol": "TCP", "address": VIP, "port": 80},
    {"family": "inet", "protocol": "tcp", "address": VIP, "port": "80"},
    {"family": "inet", "protocol": "tcp", "address": VIP, "port": 80, "fwmark": 5},
    {"family": "inet", "fwmark": 0}, {"family": "inet", "fwmark": True},
    {"family": ["inet"], "fwmark": 5},
])
def test_bad_service_keys_match_nothing(bad):
    assert status.service_key(bad) is None


# --- the HTTP endpoint -------------------------------------------------------------------------


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LVS_CLUSTER_RUN_DIR", str(tmp_path))
    return tmp_path


def write(name, document, run_dir):
    (run_dir / f"{name}.json").write_text(json.dumps(document))


def test_metrics_endpoint_serves_metrics_and_404(run_dir):
    write("pulse", pulse_doc(updated=time.time()), run_dir)
    server = status.start_metrics_server("127.0.0.1", 0, read_table=reader(fake_table()))
    try:
        assert server.port != 0
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            samples, _types = parse_exposition(r.read().decode())
        assert sample(samples, "lvs_cluster_agent_up", agent="pulse") == 1
        assert sample(samples, "lvs_cluster_real_server_connections", server="",
                      address="10.254.0.21", state="active") == 3
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/other", timeout=10)
        assert missing.value.code == 404
    finally:
        server.close()


def test_idle_metrics_clients_neither_pile_up_threads_nor_lock_out_a_scrape(run_dir):
    """The server runs inside pulse: 300 connections that never send a request must not cost a
    thread each (pulse's task limit, then its hooks and checks, would run out) and are dropped
    after a timeout, so a scrape answers again."""
    write("pulse", pulse_doc(updated=time.time()), run_dir)
    server = status.start_metrics_server("127.0.0.1", 0, read_table=reader(fake_table()))
    before = threading.active_count()
    idle = []
    try:
        for _client in range(300):
            sock = socket.socket()
            sock.settimeout(5)
            try:
                sock.connect(("127.0.0.1", server.port))
            except OSError:
                sock.close()
                continue
            idle.append(sock)
        time.sleep(0.5)
        assert threading.active_count() - before <= 32, "a thread per idle client"
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics",
                                            timeout=2) as answer:
                    assert answer.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline, "no scrape answered while idle clients hung"
    finally:
        for sock in idle:
            sock.close()
        server.close()


def test_metrics_server_binds_loopback_by_default():
    assert status.DEFAULT_METRICS_HOST == "127.0.0.1"
    assert status.DEFAULT_METRICS_PORT == 9539


def test_closed_metrics_server_frees_its_port():
    server = status.start_metrics_server("127.0.0.1", 0, read_table=status.IpvsTable)
    port = server.port
    server.close()
    again = status.start_metrics_server("127.0.0.1", port, read_table=status.IpvsTable)
    again.close()


# --- lvs-status ---------------------------------------------------------------------------------

def lvs_status(*argv, table=None):
    out = io.StringIO()
    code = status.main(list(argv), stdout=out,
                       read_table=table or reader(fake_table()))
    return code, out.getvalue()


def fresh_files(run_dir, **pulse_changes):
    now = time.time()
    pulse = pulse_doc(updated=now, **pulse_changes)
    pulse["peer"]["last_heartbeat"] = now - 0.25
    write("pulse", pulse, run_dir)
    write("lvsd", lvsd_doc(updated=now), run_dir)


def test_status_text(run_dir):
    fresh_files(run_dir)
    code, out = lvs_status()
    assert code == 0
    assert "pulse: running (pid" in out
    assert "this node: primary, active since" in out
    assert re.search(r"peer 10\.0\.0\.2: running, last heartbeat 0\.\d s ago", out)
    assert f"VIP {VIP}/24 on eth0:1: present" in out
    assert "VIP 10.254.0.101/24 on eth0:2: ABSENT" in out
    assert "sent 1000, received 990, rejected: bad_mac 2, replay 1, stale 0, legacy 4" in out
    assert "lvsd: running" in out
    assert f"TCP {VIP}:80 wlc (virtual web)" in out
    [web1] = [line for line in out.splitlines() if "10.254.0.21:80" in line]
    assert web1.split() == ["->", "10.254.0.21:80", "web1", "up", "nat", "weight", "1",
                            "active", "3", "inactive", "10"]
    [web2] = [line for line in out.splitlines() if "10.254.0.22:80" in line]
    assert web2.split()[2:4] == ["web2", "down"]


def test_status_text_in_bgp_mode(run_dir):
    now = time.time()
    write("pulse", {**bgp_pulse_doc(), "updated": now}, run_dir)
    write("lvsd", lvsd_doc(updated=now), run_dir)
    code, out = lvs_status()
    assert code == 0
    assert "this node: bgp, active since" in out
    assert "bgp mode: min_healthy 1, announcements 3, withdrawals 1" in out
    assert f"VIP {VIP}: announced" in out and "VIP fd98::100: WITHDRAWN" in out
    assert "peer" not in out and "heartbeat" not in out
    assert "lvsd child: pid 4242, ready, restarts 0, adopted from a killed pulse" in out


def test_status_json(run_dir):
    fresh_files(run_dir)
    code, out = lvs_status("--json")
    document = json.loads(out)
    assert code == document["exit_status"] == 0
    assert document["agents"]["pulse"]["running"] is True
    assert document["agents"]["pulse"]["data"]["state"] == "active"
    [service] = document["ipvs"]["services"]
    assert service["service"] == f"TCP {VIP}:80" and service["virtual"] == "web"
    by_address = {d["address"]: d for d in service["destinations"]}
    assert by_address["10.254.0.21"] == {
        "address": "10.254.0.21", "port": 80, "forwarding": "nat", "weight": 1,
        "active_connections": 3, "inactive_connections": 10, "server": "web1",
        "health": "up", "healthy": True, "configured_weight": 1}
    assert by_address["10.254.0.22"]["healthy"] is False


def test_status_of_an_older_lvsd_without_service_keys(run_dir):
    """lvsd.json as lvsd wrote it before ``service_key``: shown, matched to nothing."""
    fresh_files(run_dir)
    lvsd = lvsd_doc(updated=time.time())
    del lvsd["virtuals"][0]["service_key"]
    write("lvsd", lvsd, run_dir)
    code, out = lvs_status()
    assert code == 0
    assert "no service key for web (lvsd.json of an older lvsd?)" in out
    assert f"TCP {VIP}:80 wlc\n" in out
    [web1] = [line for line in out.splitlines() if "10.254.0.21:80" in line]
    assert web1.split()[2:4] == ["-", "unknown"]
    code, out = lvs_status("--json")
    [service] = json.loads(out)["ipvs"]["services"]
    assert service["virtual"] is None and service["not_in_table"] == []
    assert {d["server"] for d in service["destinations"]} == {None}
    old = lvsd_doc()
    del old["virtuals"][0]["service_key"]
    samples, _types = parse_exposition(render(pulse_doc(), old, reader(fake_table())()))
    assert sample(samples, "lvs_cluster_real_server_weight", virtual="", server="",
                  address="10.254.0.21") == 1
    assert sample(samples, "lvs_cluster_real_server_healthy", virtual="web",
                  server="web1") == 1


def test_status_lists_servers_missing_from_the_table(run_dir):
    fresh_files(run_dir)
    lvsd = lvsd_doc(updated=time.time())
    lvsd["virtuals"][0]["servers"].append(server("web3", "10.254.0.23", state="down",
                                                 healthy=False))
    write("lvsd", lvsd, run_dir)
    _code, out = lvs_status()
    assert "(not in table) 10.254.0.23:80 web3 down" in out


def test_status_with_stale_pulse_exits_3_and_shows_what_it_knows(run_dir):
    fresh_files(run_dir)
    write("pulse", pulse_doc(updated=time.time() - 60), run_dir)
    code, out = lvs_status()
    assert code == 3
    assert re.search(r"pulse: stale \(last update 6\d\.\d s ago\)", out)
    assert "this node: primary" in out
    assert "lvsd: running" in out


def test_status_with_a_dead_pid_exits_3(run_dir):
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()
    fresh_files(run_dir)
    write("lvsd", lvsd_doc(updated=time.time(), pid=gone.pid), run_dir)
    code, out = lvs_status()
    assert code == 3
    assert f"lvsd: not running (pid {gone.pid} is gone)" in out


def test_status_without_files_exits_3(run_dir):
    code, out = lvs_status()
    assert code == 3
    assert "pulse: not running (no pulse.json)" in out
    assert "lvsd: not running (no lvsd.json)" in out
    assert "IPVS table:" in out
    code, out = lvs_status("--json")
    assert code == 3 and json.loads(out)["agents"]["lvsd"]["data"] is None


def test_status_without_ipvs_says_so(run_dir):
    fresh_files(run_dir)
    no_ipvs = reader(FakeIpvsKernel(ipvs_loaded=False))
    code, out = lvs_status(table=no_ipvs)
    assert code == 1
    assert "IPVS: IPVS is not available in this kernel (is the ip_vs module loaded?)" in out
    assert "Traceback" not in out


def test_status_without_permission_says_so(run_dir):
    fresh_files(run_dir)
    code, out = lvs_status(table=reader(FakeIpvsKernel(privileged=False)))
    assert code == 1
    assert "permission denied" in out


def test_status_empty_table(run_dir):
    fresh_files(run_dir)
    code, out = lvs_status(table=status.IpvsTable)
    assert code == 0 and "IPVS table: empty" in out


def test_status_metrics_once(run_dir):
    fresh_files(run_dir)
    code, out = lvs_status("--metrics")
    assert code == 0
    samples, _types = parse_exposition(out)
    assert sample(samples, "lvs_cluster_pulse_active") == 1
    assert sample(samples, "lvs_cluster_real_server_healthy", server="web2") == 0


def test_status_usage_errors_exit_2(run_dir, capsys):
    assert status.main(["--bogus"]) == 2
    assert status.main(["--json", "--metrics"]) == 2
    assert "usage: lvs-status" in capsys.readouterr().err
    assert status.main(["--help"]) == 0


def test_status_reads_the_run_dir_of_runtime(run_dir):
    runtime.write_status("pulse", {k: v for k, v in pulse_doc().items()
                                   if k not in ("pid", "updated", "version")})
    code, out = lvs_status()
    assert "pulse: running" in out and code == 3  # lvsd.json missing
