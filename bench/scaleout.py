"""Scale-out benchmark: what a router's crash costs the clients, three active routers (bgp mode)
against the pulse pair, on the same lab in one run.

Boots the lab `benchso` (lab/topologies/scaleout.yml: an FRR upstream router `edge` spreading
the client's flows over three routers by ECMP, three direct-routing real servers, a client
behind edge), rolls the cluster out as the Molecule scenario `scaleout` does (router_ha: bgp,
lab/cluster/scaleout), then runs trials. In each, the client holds 60 long-lived connections
with requests trickling on them and opens a new connection every 20 ms (lab/cluster/flows.py,
the scenario's extensions/molecule/scaleout/router_event.yml), and one router's guest is killed
(`labctl crash`, a power cut):

* bgp mode: routers crashed in turn (lvs1, lvs2, lvs3, ...); the trial ends once edge routes the
  VIP over the two others. Then the router boots again under the same load (its rejoin: ECMP
  moves some flows back onto it) and the trial ends once edge routes over all three.
* the pair (the same lab: lvs3 stopped, edge reaching the VIP by ARP, bench/scaleout_pair.yml;
  router_ha: pulse with the default timers, keepalive 1 s and deadtime 3 s), without and then
  with the sync daemon: the active router crashed; then booted again and left to settle.

Per trial: the longest gap for new connections, and the share of the held connections that
completed (those through the dead router included). Prints medians side by side and ends with
`scaleout_crash_gap_median_s`, `scaleout_established_survived_pct`,
`scaleout_rejoin_survived_pct`, `pair_crash_gap_median_s`, `pair_established_survived_pct`,
`pair_sync_crash_gap_median_s`, `pair_sync_established_survived_pct`; writes
bench/results/scaleout-<UTC>.json. The lab is always taken down. Needs root.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lab"))

from lvslab.cluster import Cluster, ClusterError  # noqa: E402

TOPOLOGY = REPO / "lab" / "topologies" / "scaleout.yml"
DECLARATION = REPO / "lab" / "cluster" / "scaleout"
EVENT = REPO / "bench" / "scaleout_event.yml"
PAIR = REPO / "bench" / "scaleout_pair.yml"
ROUTERS = {"lvs1": "10.254.2.11", "lvs2": "10.254.2.12", "lvs3": "10.254.2.13"}
PAIR_ROUTERS = ("lvs1", "lvs2")
FINAL_LINES = (
    ("scaleout_crash_gap_median_s", "bgp crash", "gap"),
    ("scaleout_established_survived_pct", "bgp crash", "survived_pct"),
    ("scaleout_rejoin_survived_pct", "bgp rejoin", "survived_pct"),
    ("pair_crash_gap_median_s", "pair crash", "gap"),
    ("pair_established_survived_pct", "pair crash", "survived_pct"),
    ("pair_sync_crash_gap_median_s", "pair+sync crash", "gap"),
    ("pair_sync_established_survived_pct", "pair+sync crash", "survived_pct"),
)


def event(cluster: Cluster, name: str, command: str, hops: list[str]) -> dict[str, Any]:
    """One event under the client's load (bench/scaleout_event.yml): its measurement."""
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "result.json"
        cluster.playbook(str(EVENT), {"event_name": name, "event_command": command,
                                      "event_hops": hops, "bench_result": str(out)},
                         timeout=900)
        measured = json.loads(out.read_text())
    result = measured["result"]
    probe = result["probe"]
    return {"gap": float(probe["longest_gap_s"]), "failed": int(probe["failed"]),
            "requests": int(probe["requests"]), "held": int(result["held"]),
            "survived": int(result["survived"]),
            "survived_pct": 100.0 * int(result["survived"]) / max(1, int(result["held"])),
            "via": measured["via"], "errors": result["errors"][:3]}


def edge_hops(cluster: Cluster) -> list[str]:
    """The next hops edge routes the VIP over."""
    shown = cluster.ssh("edge", "ip -j route show 10.254.100.100").stdout
    routes = json.loads(shown or "[]")
    return sorted(hop["gateway"] for route in routes for hop in route.get("nexthops", []))


def settled_pair(cluster: Cluster) -> str:
    """The pair's active router once one is active and the other standby, hearing it."""
    def check() -> str | None:
        states = {router: cluster.status(router) or {} for router in PAIR_ROUTERS}
        active = [r for r, s in states.items() if s.get("state") == "active"]
        standby = [r for r, s in states.items() if s.get("state") == "standby"
                   and (s.get("peer") or {}).get("state") == "running"]
        return active[0] if len(active) == 1 and len(standby) == 1 else None
    return cluster.wait_for("the pair settled", check, timeout=180, interval=1)


def bgp_trial(cluster: Cluster, number: int) -> tuple[dict[str, Any], dict[str, Any]]:
    router = sorted(ROUTERS)[(number - 1) % len(ROUTERS)]
    others = [address for name, address in sorted(ROUTERS.items()) if name != router]
    crash = event(cluster, f"crash of {router}", f"crash {router}", others)
    cluster.end_ssh_masters(router)
    rejoin = event(cluster, f"boot of {router}", f"boot {router}", sorted(ROUTERS.values()))
    crash["router"] = rejoin["router"] = router
    return crash, rejoin


def pair_trial(cluster: Cluster) -> dict[str, Any]:
    active = settled_pair(cluster)
    crash = event(cluster, f"crash of {active}", f"crash {active}", [])
    cluster.end_ssh_masters(active)
    cluster.boot(active)
    settled_pair(cluster)
    crash["router"] = active
    return crash


def summary(name: str, trials: list[dict[str, Any]]) -> str:
    if not trials:
        return f"{name:16} no successful trial"
    gaps = [t["gap"] for t in trials]
    kept = [t["survived_pct"] for t in trials]
    failed = sum(t["failed"] for t in trials)
    requests = sum(t["requests"] for t in trials)
    return (f"{name:16} {len(trials):>3} {statistics.median(gaps):>10.3f} {max(gaps):>8.3f} "
            f"{statistics.median(kept):>12.1f} {min(kept):>8.1f} {failed:>7}/{requests}")


def run(cluster: Cluster, trials: int, results: dict[str, list[dict[str, Any]]],
        only: set[str]) -> None:
    cluster.up()
    cluster.playbook(str(REPO / "extensions" / "molecule" / "scaleout" / "prepare.yml"))
    cluster.playbook("lvs.cluster.site")
    if "bgp" in only:
        cluster.wait_for("edge routing over the three routers",
                         lambda: edge_hops(cluster) == sorted(ROUTERS.values()), timeout=120)
        for number in range(1, trials + 1):
            try:
                crash, rejoin = bgp_trial(cluster, number)
            except ClusterError as error:
                print(f"bgp: trial {number}: FAILED: {error}", flush=True)
                continue
            results["bgp crash"].append(crash)
            results["bgp rejoin"].append(rejoin)
            print(f"bgp: trial {number} ({crash['router']}): crash gap {crash['gap']:.3f} s, "
                  f"survived {crash['survived']}/{crash['held']} (via {crash['via']}); rejoin "
                  f"gap {rejoin['gap']:.3f} s, survived {rejoin['survived']}/{rejoin['held']}",
                  flush=True)
    if "pair" not in only:
        return
    cluster.playbook(str(PAIR))
    for name, sync in (("pair crash", False), ("pair+sync crash", True)):
        cluster.playbook("lvs.cluster.site", {"router_ha": "pulse", "router_sync_daemon": sync},
                         limit="all:!lvs3")
        for number in range(1, trials + 1):
            try:
                crash = pair_trial(cluster)
            except ClusterError as error:
                print(f"{name}: trial {number}: FAILED: {error}", flush=True)
                continue
            results[name].append(crash)
            print(f"{name}: trial {number} ({crash['router']}): gap {crash['gap']:.3f} s, "
                  f"survived {crash['survived']}/{crash['held']} {crash['errors']}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--only", action="append", choices=("bgp", "pair"),
                        help="run only these modes (repeatable)")
    parser.add_argument("--keep-lab", action="store_true", help="leave the lab running")
    parser.add_argument("--lab", default="benchso", help="the lab's name (default: benchso)")
    args = parser.parse_args()
    cluster = Cluster(args.lab, topology=TOPOLOGY, declaration=DECLARATION)
    cluster.env["MOLECULE_PROJECT_DIRECTORY"] = str(REPO)  # router_event.yml finds labctl so
    results: dict[str, list[dict[str, Any]]] = {
        name: [] for _line, name, _key in FINAL_LINES}
    try:
        run(cluster, args.trials, results, set(args.only or ("bgp", "pair")))
    finally:
        if not args.keep_lab:
            cluster.down()
    print()
    print(f"{'setting':16} {'n':>3} {'gap med s':>10} {'max s':>8} {'held kept %':>12} "
          f"{'min %':>8} {'new failed'}")
    for name, trials in results.items():
        print(summary(name, trials))
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = REPO / "bench" / "results" / f"scaleout-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresult: {out}")
    for line, name, key in FINAL_LINES:
        if results[name]:
            print(f"{line}: {statistics.median(t[key] for t in results[name]):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
