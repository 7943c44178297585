# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The status page and /status.json of the metrics endpoint, and its basic auth: rendered from
the status documents of test_status in a temporary run directory, the IPVS table read through a
real IpvsNetlink backed by the fake IPVS kernel, served on an ephemeral loopback port."""

from __future__ import annotations

import base64
import html.parser
import json
import os
import re
import time
import urllib.error
import urllib.request

import pytest
from lvs_agents import pulse_setup, status_page
from lvs_agents.status_auth import REALM, StatusAuth, StatusAuthError
from lvs_agents.status_http import start_metrics_server
from lvs_agents.status_report import IpvsTable, Report, gather
from test_status import (
    VIP,
    always_alive,
    fake_table,
    lvsd_doc,
    parse_exposition,
    pulse_doc,
    reader,
    sample,
    server,
    write,
)

SCRIPT_NAME = "<script>alert(1)</script>"


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    directory = tmp_path / "run"
    directory.mkdir()
    monkeypatch.setenv("LVS_CLUSTER_RUN_DIR", str(directory))
    return directory


def fresh(run_dir, pulse=None, lvsd=None):
    now = time.time()
    write("pulse", {**(pulse or pulse_doc()), "updated": now}, run_dir)
    write("lvsd", {**(lvsd or lvsd_doc()), "updated": now}, run_dir)


def report(table=None) -> Report:
    return gather(read_table=reader(table or fake_table()), alive=always_alive)


class PageText(html.parser.HTMLParser):
    """The text a browser shows (script and style left out), and the tags seen."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.text.append(data.strip())


def page_text(page: str) -> tuple[list[str], list[str]]:
    parser = PageText()
    parser.feed(page)
    parser.close()
    return parser.text, parser.tags


def cells(view, title_start):
    [part] = [s for s in view["sections"] if s["title"].startswith(title_start)]
    return [[c["text"] for c in row] for row in part["rows"]], part


def texts(view, title_start):
    return cells(view, title_start)[0]


# --- the view and the page ------------------------------------------------------------------------

def test_the_view_shows_router_peer_vips_heartbeats_and_servers(run_dir):
    fresh(run_dir)
    view = status_page.build_view(report(), "lvs1")
    assert view["headline"] == {"text": "lvs1 is ACTIVE (primary of the pair)", "tone": "ok"}
    router = texts(view, "This router")
    assert ["state", "active"] in router and ["transitions", "3"] in router
    assert ["lvsd child", "pid 4242, ready, restarts 1"] in router
    peer = texts(view, "Peer")
    assert ["addresses", "10.0.0.2"] in peer
    assert ["state", "running (holds the VIPs)"] in peer
    assert ["active router", "BOTH this router and the peer"] in peer
    assert [row[0] for row in peer] == ["addresses", "state", "last heartbeat", "active router"]
    vips = texts(view, "Virtual IP addresses")
    assert vips == [[f"{VIP}/24", "eth0:1", "present"], ["10.254.0.101/24", "eth0:2", "absent"]]
    beats = texts(view, "Heartbeats")
    assert ["sent", "1000"] in beats and ["received", "990"] in beats
    assert ["rejected: bad_mac", "2"] in beats and ["rejected: legacy", "4"] in beats
    assert ["rejected: queue_full", "0"] in beats
    lvsd = texts(view, "lvsd")
    assert ["reloads", "2"] in lvsd and ["checks", "100 total, 7 failed, 2 running"] in lvsd
    servers, part = cells(view, f"TCP {VIP}:80")
    assert part["title"] == f"TCP {VIP}:80 wlc (virtual web)"
    assert part["columns"][:3] == ["server", "address", "health"]
    assert sorted(servers) == [["web1", "10.254.0.21:80", "up", "nat", "1", "1", "3", "10"],
                               ["web2", "10.254.0.22:80", "down", "nat", "1", "0", "0", "1"]]
    assert {row[0]["text"]: row[2]["tone"] for row in part["rows"]} == {"web1": "ok",
                                                                        "web2": "bad"}


def test_the_page_is_complete_without_javascript(run_dir):
    fresh(run_dir)
    page = status_page.render_page(report(), "lvs1")
    text, tags = page_text(page)
    assert "lvs1 is ACTIVE (primary of the pair)" in text
    for expected in ("web1", "web2", "10.254.0.21:80", "present", "absent", "running",
                     "rejected: bad_mac", f"TCP {VIP}:80 wlc (virtual web)"):
        assert expected in text, expected
    assert tags.count("script") == 1 and "link" not in tags and "img" not in tags
    assert "http://" not in page and "https://" not in page, "no external resource"


def test_standby_stale_and_missing_agents_are_shown_as_such(run_dir):
    write("pulse", {**pulse_doc(state="standby", node="backup", flags=["LINKFAIL"]),
                    "updated": time.time()}, run_dir)
    view = status_page.build_view(report(), "lvs2")
    assert view["headline"] == {"text": "lvs2 is STANDBY (backup of the pair)", "tone": ""}
    agents, part = cells(view, "Agents")
    assert agents[0][:2] == ["pulse", "running"]
    assert agents[1][:2] == ["lvsd", "not running (no lvsd.json)"]
    assert part["rows"][1][1]["tone"] == "bad"
    router = texts(view, "This router")
    assert ["flags", "LINKFAIL"] in router
    write("pulse", {**pulse_doc(), "updated": time.time() - 60}, run_dir)
    stale = status_page.build_view(report(), "lvs2")
    assert stale["headline"]["tone"] == "bad"
    assert stale["headline"]["text"].startswith("lvs2 is pulse stale (last update")


@pytest.mark.parametrize(("state", "peer", "shown", "who"), [
    ("active", "stopped", "stopped (standby, heartbeats arrive)", "this router"),
    ("standby", "running", "running (holds the VIPs)", "the peer"),
    ("standby", "unknown", "unknown (no heartbeat within deadtime)", "NONE known"),
    ("active", "unknown", "unknown (no heartbeat within deadtime)", "this router"),
])
def test_the_peer_and_who_is_active(run_dir, state, peer, shown, who):
    document = pulse_doc(state=state)
    document["peer"]["state"] = peer
    fresh(run_dir, pulse=document)
    rows, part = cells(status_page.build_view(report(), "lvs1"), "Peer")
    assert ["state", shown] in rows and ["active router", who] in rows
    tones = {row[0]["text"]: row[1]["tone"] for row in part["rows"]}
    assert tones["state"] == ("bad" if peer == "unknown" else "")
    assert tones["active router"] == ("bad" if who == "NONE known" else "ok")


def test_bgp_mode_shows_announcements(run_dir):
    from test_status import bgp_pulse_doc

    fresh(run_dir, pulse=bgp_pulse_doc())
    view = status_page.build_view(report(), "r1")
    assert [s["title"] for s in view["sections"]][:4] == [
        "Agents", "This router", "BGP", "Virtual IP addresses"]
    vips = texts(view, "Virtual IP addresses")
    assert [row[2] for row in vips] == ["announced", "WITHDRAWN"]


def test_sorry_server_unreadable_and_empty_tables(run_dir):
    lvsd = lvsd_doc()
    lvsd["virtuals"][0]["sorry_active"] = True
    fresh(run_dir, lvsd=lvsd)
    _rows, part = cells(status_page.build_view(report(), "lvs1"), f"TCP {VIP}:80")
    assert part["note"] == {"text": "SORRY SERVER ACTIVE", "tone": "bad"}
    unreadable = gather(read_table=lambda: IpvsTable(
        error="cannot read the IPVS table: permission denied"), alive=always_alive)
    _rows, part = cells(status_page.build_view(unreadable, "lvs1"), "IPVS")
    assert part["note"] == {"text": "cannot read the IPVS table: permission denied",
                            "tone": "bad"}
    empty = gather(read_table=IpvsTable, alive=always_alive)
    _rows, part = cells(status_page.build_view(empty, "lvs1"), "IPVS")
    assert part["note"]["text"] == "the IPVS table is empty"


def test_every_value_is_escaped(run_dir):
    hostile = '"><img src=x onerror=alert(2)>'
    fresh(run_dir, pulse=pulse_doc(node=hostile),
          lvsd=lvsd_doc(virtual_name=SCRIPT_NAME, servers=[server(SCRIPT_NAME, "10.254.0.21"),
                                                           server("web2", "10.254.0.22")]))
    page = status_page.render_page(report(), "lvs1 & <b>")
    assert SCRIPT_NAME not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "lvs1 &amp; &lt;b&gt;" in page
    text, tags = page_text(page)
    assert SCRIPT_NAME in text, "shown as text"
    assert f"TCP {VIP}:80 wlc (virtual {SCRIPT_NAME})" in text
    assert tags.count("script") == 1 and "img" not in tags and "b" not in tags
    # the script draws with textContent only: no innerHTML, no HTML from data
    assert "innerHTML" not in status_page.SCRIPT and "insertAdjacentHTML" not in status_page.SCRIPT
    assert "textContent" in status_page.SCRIPT


def test_status_json_is_the_view_and_the_lvs_status_document(run_dir):
    fresh(run_dir, lvsd=lvsd_doc(servers=[server(SCRIPT_NAME, "10.254.0.21"),
                                          server("web2", "10.254.0.22")]))
    document = json.loads(status_page.status_json(report(), "lvs1"))
    assert document["headline"]["text"] == "lvs1 is ACTIVE (primary of the pair)"
    assert document["refresh_seconds"] == status_page.REFRESH_SECONDS
    servers = texts(document, f"TCP {VIP}:80")
    assert SCRIPT_NAME in [row[0] for row in servers], "raw: the page's script sets textContent"
    assert document["report"]["agents"]["pulse"]["data"]["state"] == "active"
    [service] = document["report"]["ipvs"]["services"]
    assert {d["server"] for d in service["destinations"]} == {SCRIPT_NAME, "web2"}


# --- the endpoint ---------------------------------------------------------------------------------

def get(url, credentials=None):
    request = urllib.request.Request(url)
    if credentials is not None:
        token = base64.b64encode(credentials.encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.status, answer.headers, answer.read().decode()


def status_code(url, credentials=None):
    try:
        return get(url, credentials)[0]
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def endpoint(run_dir):
    fresh(run_dir)
    servers = []

    def start(auth=None):
        served = start_metrics_server("127.0.0.1", 0, read_table=reader(fake_table()), auth=auth)
        servers.append(served)
        return f"http://127.0.0.1:{served.port}"

    yield start
    for served in servers:
        served.close()


def test_the_endpoint_serves_the_page_json_and_unchanged_metrics(endpoint):
    base = endpoint()
    code, headers, page = get(f"{base}/")
    assert code == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'sha256-" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    text, _tags = page_text(page)
    assert f"{os.uname().nodename} is ACTIVE (primary of the pair)" in text and "web1" in text
    code, headers, body = get(f"{base}/status.json")
    assert code == 200 and headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["report"]["exit_status"] == 0
    code, headers, metrics = get(f"{base}/metrics")
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples, _types = parse_exposition(metrics)
    assert sample(samples, "lvs_cluster_pulse_active") == 1
    assert sample(samples, "lvs_cluster_real_server_connections", address="10.254.0.21",
                  state="active") == 3
    assert status_code(f"{base}/other") == 404


def auth_file(tmp_path, content="alice:s3cret pass\n# comment\n\nbob:x:y\n", mode=0o600):
    path = tmp_path / "status.auth"
    path.write_text(content)
    os.chmod(path, mode)
    return str(path)


def test_basic_auth_guards_every_path(endpoint, tmp_path):
    base = endpoint(StatusAuth(auth_file(tmp_path)))
    for path in ("/", "/status.json", "/metrics", "/other"):
        try:
            get(f"{base}{path}")
        except urllib.error.HTTPError as refused:
            assert refused.code == 401
            assert refused.headers["WWW-Authenticate"] == (
                f'Basic realm="{REALM}", charset="UTF-8"')
        else:
            pytest.fail(f"{path} answered without credentials")
        for wrong in ("alice:wrong", "alice:s3cret", "bob:x", "carol:s3cret pass", "alice",
                      ":s3cret pass"):
            assert status_code(f"{base}{path}", wrong) == 401, (path, wrong)
    assert status_code(f"{base}/", "alice:s3cret pass") == 200
    assert status_code(f"{base}/metrics", "bob:x:y") == 200
    assert status_code(f"{base}/other", "bob:x:y") == 404


def test_a_changed_auth_file_is_used_at_once_and_a_bad_one_denies_all(endpoint, tmp_path):
    path = auth_file(tmp_path)
    base = endpoint(StatusAuth(path))
    assert status_code(f"{base}/metrics", "alice:s3cret pass") == 200
    auth_file(tmp_path, "carol:new password\n")
    os.utime(path, ns=(time.time_ns() + 10**9,) * 2)  # a distinct mtime whatever the clock
    assert status_code(f"{base}/metrics", "alice:s3cret pass") == 401
    assert status_code(f"{base}/metrics", "carol:new password") == 200
    os.chmod(path, 0o644)
    assert status_code(f"{base}/metrics", "carol:new password") == 401
    os.chmod(path, 0o600)
    assert status_code(f"{base}/metrics", "carol:new password") == 200
    os.unlink(path)
    assert status_code(f"{base}/metrics", "carol:new password") == 401


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602])
def test_an_auth_file_others_can_read_or_write_is_refused(tmp_path, mode):
    path = auth_file(tmp_path, mode=mode)
    with pytest.raises(StatusAuthError, match=f"{path}: mode {mode:04o} gives group/other"):
        StatusAuth(path)


def test_an_auth_file_of_another_user_is_refused(tmp_path, monkeypatch):
    path = auth_file(tmp_path)
    if os.getuid() == 0:
        os.chown(path, 54321, -1)  # neither root nor us
    else:
        monkeypatch.setattr(os, "getuid", lambda: os.stat(path).st_uid + 1)
    with pytest.raises(StatusAuthError, match="owned by uid"):
        StatusAuth(path)


@pytest.mark.parametrize(("content", "problem"), [
    ("", "no user:password line"),
    ("# only a comment\n", "no user:password line"),
    ("alice\n", "line 1: expected user:password"),
    ("alice:one\nalice:two\n", "line 2: user 'alice' again (first on line 1)"),
    ("ok:fine\n:nouser\n", "line 2: the user name is empty"),
    ("alice:\n", "line 1: empty password"),
])
def test_bad_auth_files_are_refused_naming_the_line(tmp_path, content, problem):
    path = auth_file(tmp_path, content)
    with pytest.raises(StatusAuthError, match=re.escape(f"{path}: ") + ".*" + re.escape(problem)
                       ) as refused:
        StatusAuth(path)
    for line in content.splitlines():
        password = line.partition(":")[2]
        assert not password or password not in str(refused.value), "a password in an error"


def test_a_missing_or_non_utf8_auth_file_is_refused(tmp_path):
    with pytest.raises(StatusAuthError, match="cannot open"):
        StatusAuth(str(tmp_path / "absent"))
    path = tmp_path / "latin1"
    path.write_bytes(b"j\xf6rg:pw\n")
    os.chmod(path, 0o600)
    with pytest.raises(StatusAuthError, match="not UTF-8"):
        StatusAuth(str(path))


def test_pulse_refuses_to_start_with_an_open_auth_file(tmp_path, capsys):
    path = auth_file(tmp_path, mode=0o640)
    with pytest.raises(SystemExit) as stopped:
        pulse_setup.parse_args(["--status-auth-file", path])
    assert stopped.value.code == 2
    assert f"--status-auth-file: status auth file {path}: mode 0640" in capsys.readouterr().err
    args = pulse_setup.parse_args(["--status-auth-file", auth_file(tmp_path)])
    assert args.status_auth.allows("Basic " + base64.b64encode(b"alice:s3cret pass").decode())
    assert pulse_setup.parse_args([]).status_auth is None
