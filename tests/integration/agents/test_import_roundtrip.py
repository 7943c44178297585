"""The import's round trip on real kernels, for the unit tests' fixture files.

keepalived.conf: for each file,
keepalived itself (its checker, on router lvs1 of a lab) builds an IPVS table from the file;
then the playbook lvs.cluster.import reads the same file on both routers into variables, the
router role rolls them out (its lvs.cf step on routers it set up: apply_imported.yml), and
lvs1's table - built by our
lvsd after its health checks - must equal keepalived's, line for line (`ipvsadm -Sn`).

Piranha's lvs.cf: for each file, the table the original file means (the collection's
expected table of it, every real server healthy, loaded with `ipvsadm -R`) against the table
lvsd builds after the import and the rollout (every real server of these files is healthy on
the lab).

It runs on the agents' lab after their tests (conftest.py; AGENTS_TEST_LAB=<name> reuses a
running, rolled-out lab instead): each test stops pulse on both routers first and sets every
router setting it needs.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "lab"))
sys.path.insert(0, str(REPO / "plugins" / "module_utils"))

from lvs_cluster.ipvs.text import table_text  # noqa: E402
from lvs_cluster.lvs_cf.expected import expected_ipvs  # noqa: E402
from lvs_cluster.lvs_cf.shells import load  # noqa: E402
from lvslab.cluster import ROUTERS, Cluster  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")

FIXTURES = REPO / "tests" / "unit" / "fixtures" / "import"
SHAPES = ["dr-http.conf", "nat-tcp.conf", "tun-fwmark.conf", "groups.conf",
          "include/keepalived.conf"]
LAB_BACKUP_PRIVATE = "10.254.1.12"  # lvs2's router_private_address in lab/cluster/inventory
PIRANHA = ["redhat_direct_pair.cf", "nat_fwmark_udp.cf", "tunnel_one_router.cf"]
REMOTE = "/etc/keepalived/import"
SETTLE = 30.0  # the longest a fixture's checks take to decide every server (fall x timeout)
# keepalived starts every real server alive and runs its first check within delay_loop: a
# failing server leaves only after that check and its retry.
KEEPALIVED_DECIDES = 15.0
# lvsd's slow start (Piranha's): a server comes up at weight max(1, weight >> 5) and doubles
# every 20 s, so weight 5 is reached after 60 s; keepalived sets the weight at once.
SLOW_START = 90.0


def copy_fixtures(cluster: Cluster, router: str) -> None:
    for path in sorted([*FIXTURES.rglob("*.conf"), *FIXTURES.rglob("*.cf")]):
        relative = path.relative_to(FIXTURES)
        data = base64.b64encode(path.read_bytes()).decode()
        cluster.ssh(router, f"mkdir -p {REMOTE}/{relative.parent} && "
                    f"echo {data} | base64 -d > {REMOTE}/{relative}")


def table(cluster: Cluster, router: str) -> list[str]:
    return sorted(cluster.ssh(router, "ipvsadm -Sn").stdout.splitlines())


def settled_table(cluster: Cluster, router: str, settle: float = SETTLE,
                  wanted: list[str] | None = None,
                  normalise: Callable[[list[str]], list[str]] = list) -> list[str]:
    """The table once it stopped changing for 3 s (or equals ``wanted``), within ``settle``."""
    deadline = time.monotonic() + settle
    last, stable_since = normalise(table(cluster, router)), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = normalise(table(cluster, router))
        if wanted is not None and now == wanted:
            return now
        if now != last:
            last, stable_since = now, time.monotonic()
        elif wanted is None and time.monotonic() - stable_since >= 3:
            return now
    return last


def keepalived_table(cluster: Cluster, router: str, conf: str) -> list[str]:
    """What keepalived's checker programs from `conf` once its checks have decided."""
    cluster.ssh(router, "ipvsadm -C")
    cluster.ssh(router, f"(timeout -s TERM 60 keepalived --check --dont-fork --log-console "
                f"--log-detail --use-file {conf} --pid /run/kimport.pid "
                f"--checkers_pid /run/kimport-checkers.pid > /run/kimport.log 2>&1 &)")
    try:
        time.sleep(KEEPALIVED_DECIDES)
        return settled_table(cluster, router, settle=SETTLE)
    finally:
        cluster.ssh(router, "pkill -TERM -x keepalived; for i in $(seq 50); do "
                    "pgrep -x keepalived >/dev/null || break; sleep 0.1; done; ipvsadm -C",
                    check=False)


def fwmark_port_normalised(lines: list[str]) -> tuple[list[str], int]:
    """The one difference that is no difference: a direct-routing or tunnelled destination of
    a firewall-mark service, whose port the kernel never uses (packets keep their own), is
    written with port 0 by keepalived and with the real server's port by lvs.cf (as Piranha's
    ipvsadm did). Both become 0; the count says how many lines that touched."""
    out, touched = [], 0
    for line in lines:
        words = line.split()
        if words[:2] == ["-a", "-f"] and ("-g" in words or "-i" in words):
            server = words[words.index("-r") + 1]
            host, _colon, port = server.rpartition(":")
            if port != "0":
                words[words.index("-r") + 1] = f"{host}:0"
                touched += 1
        out.append(" ".join(words))
    return sorted(out), touched


def imported_vars(cluster: Cluster, conf: str, out: Path) -> dict:
    cluster.playbook("lvs.cluster.import", {"import_src": conf, "import_dir": str(out),
                                            "import_force": True}, limit="lvs_routers")
    variables = yaml.safe_load((out / "group_vars" / "lvs_routers.yml").read_text())
    for router in ROUTERS:
        host_file = out / "host_vars" / f"{router}.yml"
        assert not host_file.exists() or yaml.safe_load(host_file.read_text()) is not None
    return variables


@pytest.mark.parametrize("shape", SHAPES)
def test_the_imported_variables_build_the_table_keepalived_builds(cluster, shape, tmp_path):
    for router in ROUTERS:
        copy_fixtures(cluster, router)
        cluster.ssh(router, "systemctl stop lvs-cluster-pulse; ipvsadm -C")
    conf = f"{REMOTE}/keepalived/{shape}"
    started = time.monotonic()
    theirs = keepalived_table(cluster, "lvs1", conf)
    timings = {"keepalived": time.monotonic() - started}
    assert theirs, f"keepalived built no table from {shape}: " + \
        cluster.ssh("lvs1", "tail -20 /run/kimport.log", check=False).stdout
    variables = imported_vars(cluster, conf, tmp_path)
    timings["import"] = time.monotonic() - started - sum(timings.values())
    assert variables["router_primary"] == "lvs1"
    cluster.playbook(str(Path(__file__).with_name("apply_imported.yml")), variables,
                     limit="lvs_routers")
    timings["rollout"] = time.monotonic() - started - sum(timings.values())
    cluster.ssh("lvs2", "systemctl stop lvs-cluster-pulse")  # lvs1 alone decides the table
    cluster.wait_for("lvs1 active", lambda: (cluster.status("lvs1") or {}).get("state")
                     == "active", timeout=30)
    theirs, _touched = fwmark_port_normalised(theirs)
    ours = settled_table(cluster, "lvs1", settle=SLOW_START, wanted=theirs,
                         normalise=lambda lines: fwmark_port_normalised(lines)[0])
    normalised = fwmark_port_normalised(table(cluster, "lvs1"))[1]
    timings["equal"] = time.monotonic() - started - sum(timings.values())
    print(f"\n{shape}: keepalived's table {len(theirs)} lines, ours {len(ours)} lines, "
          f"{'equal' if ours == theirs else 'DIFFERENT'} ({normalised} fwmark destination "
          f"port(s) set to 0); seconds: "
          + ", ".join(f"{name} {value:.1f}" for name, value in timings.items()))
    assert ours == theirs, (f"{shape}: the tables differ\nkeepalived:\n" + "\n".join(theirs)
                            + "\nours:\n" + "\n".join(ours))
    cluster.ssh("lvs2", "systemctl start lvs-cluster-pulse")


def original_table(cluster: Cluster, router: str, path: Path) -> list[str]:
    """What the original lvs.cf means: its expected table (every server healthy), loaded into
    the router's kernel by ipvsadm and read back."""
    config, _warnings = load(content=path.read_text(), source=path.name)
    rules = table_text(expected_ipvs(config))
    data = base64.b64encode(rules.encode()).decode()
    cluster.ssh(router, f"ipvsadm -C && echo {data} | base64 -d | ipvsadm -R")
    try:
        return table(cluster, router)
    finally:
        cluster.ssh(router, "ipvsadm -C")


@pytest.mark.parametrize("name", PIRANHA)
def test_the_imported_lvs_cf_builds_the_table_the_original_means(cluster, name, tmp_path):
    for router in ROUTERS:
        copy_fixtures(cluster, router)
        cluster.ssh(router, "systemctl stop lvs-cluster-pulse; ipvsadm -C")
    started = time.monotonic()
    theirs = original_table(cluster, "lvs1", FIXTURES / "piranha" / name)
    assert theirs, f"{name} means no table"
    variables = imported_vars(cluster, f"{REMOTE}/piranha/{name}", tmp_path)
    assert variables["router_primary"] == "lvs1"
    options = variables.get("router_lvs_cf_options", {})
    if "backup" in options and "backup_private" not in options:
        # The lab's inventory gives every router a private heartbeat address, so lvs.cf gets a
        # primary_private, which lvs-cf accepts only with the named backup's (a one-router file
        # such as tunnel_one_router.cf names an inactive backup). Not part of the table.
        options["backup_private"] = LAB_BACKUP_PRIVATE
    # a one-router file (no active backup) is rolled out on that router alone
    cluster.playbook(str(Path(__file__).with_name("apply_imported.yml")), variables,
                     limit="lvs_routers" if variables["router_backup"] else "lvs1")
    rollout = time.monotonic() - started
    cluster.ssh("lvs2", "systemctl stop lvs-cluster-pulse")
    cluster.wait_for("lvs1 active", lambda: (cluster.status("lvs1") or {}).get("state")
                     == "active", timeout=30)
    ours = settled_table(cluster, "lvs1", settle=SLOW_START, wanted=theirs)
    print(f"\n{name}: the original's table {len(theirs)} lines, ours {len(ours)} lines, "
          f"{'equal' if ours == theirs else 'DIFFERENT'}; import and rollout {rollout:.1f} s, "
          f"equal {time.monotonic() - started - rollout:.1f} s later")
    assert ours == theirs, (f"{name}: the tables differ\nthe original's:\n" + "\n".join(theirs)
                            + "\nours:\n" + "\n".join(ours))
    if variables["router_backup"]:  # a one-router file leaves lvs2 out of the cluster
        cluster.ssh("lvs2", "systemctl start lvs-cluster-pulse")
