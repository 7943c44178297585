"""Failover benchmark: client-visible gap when the active router's guest is killed.

Boots the lab `benchfo` (default topology: two routers, two direct-routing real servers, a
client; --lab names it otherwise), rolls out the real servers and the client's tools
(lab/cluster/rollout.yml: lvs.cluster.site and the lab's web servers and probe), then for each
setting runs N trials: the client probes the VIP every 20 ms (200 ms timeout), the active
router's whole guest is killed (`labctl crash`: a power cut), the gap between the last good and
the first good response is measured, the guest is booted again and the cluster left to settle.
Settings: lvs.cluster's default (keepalive 1 s, deadtime 3 s), a sub-second one (keepalive
0.05 s, deadtime 0.2 s), both rolled out by the router role with a cold start of both routers,
and Debian's keepalived 2.2.7 on the same lab, default (VRRPv2, advert_int 1) and tuned
(VRRPv3, advert_int 0.1). Prints median/p95 side by side, ends with
`failover_default_median_s`, then `failover_fast_median_s`, `keepalived_tuned_median_s` and
`keepalived_default_median_s`; writes bench/results/failover-<UTC>.json. The lab is always taken
down. Needs root.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lab"))

from lvslab.cluster import ROUTERS, Cluster, ClusterError  # noqa: E402

SETTINGS = {
    "lvs.cluster default": {"kind": "pulse", "router_keepalive": 1, "router_deadtime": 3},
    "lvs.cluster fast": {"kind": "pulse", "router_keepalive": 0.05, "router_deadtime": 0.2},
    "keepalived default": {"kind": "keepalived", "vrrp_version": 2, "advert_int": 1},
    "keepalived tuned": {"kind": "keepalived", "vrrp_version": 3, "advert_int": 0.1},
}
FINAL_LINES = {
    "failover_default_median_s": "lvs.cluster default",
    "failover_fast_median_s": "lvs.cluster fast",
    "keepalived_tuned_median_s": "keepalived tuned",
    "keepalived_default_median_s": "keepalived default",
}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def holder(cluster: Cluster) -> str:
    return cluster.wait_for("exactly one VIP holder", lambda: (
        lambda holders: holders[0] if len(holders) == 1 else None)(cluster.vip_holders()),
        timeout=90)


def deploy(cluster: Cluster, setting: dict) -> None:
    variables = {k: v for k, v in setting.items() if k != "kind"}
    if setting["kind"] == "pulse":
        cluster.playbook("keepalived.yml", {"keepalived_state": "absent"}, limit="lvs_routers")
        cluster.configure(**variables)
    else:
        cluster.playbook("keepalived.yml", {"keepalived_state": "present", **variables},
                         limit="lvs_routers")


def trial(cluster: Cluster) -> float:
    active = holder(cluster)
    other = next(r for r in ROUTERS if r != active)
    probe = cluster.start_probe(duration=120)
    try:
        time.sleep(1.5)
        cluster.crash(active)
        cluster.wait_for(f"{other} holds the VIP", lambda: cluster.holds_vip(other),
                         timeout=60, interval=0.2)
        time.sleep(1.0)
    finally:
        result = cluster.finish_probe(probe)
    cluster.boot(active)
    # settle: the returning router's agent runs again and one router holds the VIP
    time.sleep(8)
    holder(cluster)
    cluster.wait_for("the client served again", cluster.request, timeout=60)
    if not result.failures():
        # the client's traffic did not pass the killed router (e.g. its ARP entry still named
        # the other one): nothing was measured
        raise ClusterError("no probe failed: the crash did not interrupt the client")
    return result.longest_gap()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--only", action="append", choices=sorted(SETTINGS),
                        help="run only these settings (repeatable)")
    parser.add_argument("--keep-lab", action="store_true", help="leave the lab running")
    parser.add_argument("--lab", default="benchfo", help="the lab's name (default: benchfo)")
    args = parser.parse_args()
    chosen = args.only or list(SETTINGS)
    cluster = Cluster(args.lab)
    results: dict[str, list[float]] = {}
    try:
        cluster.up()
        cluster.deploy(limit="real_servers,clients")
        for name in chosen:
            deploy(cluster, SETTINGS[name])
            gaps = results[name] = []
            for number in range(1, args.trials + 1):
                try:
                    gap = trial(cluster)
                except ClusterError as error:  # reported, not counted; the next trial goes on
                    print(f"{name}: trial {number}: FAILED: {error}", flush=True)
                    continue
                gaps.append(gap)
                print(f"{name}: trial {number}: gap {gap:.3f} s", flush=True)
    finally:
        if not args.keep_lab:
            cluster.down()
    print()
    print(f"{'setting':24} {'n':>3} {'median s':>10} {'p95 s':>8} {'min s':>8} {'max s':>8}")
    for name, gaps in results.items():
        if not gaps:
            print(f"{name:24} no successful trial")
            continue
        print(f"{name:24} {len(gaps):>3} {statistics.median(gaps):>10.3f} "
              f"{percentile(gaps, 0.95):>8.3f} {min(gaps):>8.3f} {max(gaps):>8.3f}")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = REPO / "bench" / "results" / f"failover-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"trials": results, "settings": SETTINGS}, indent=2) + "\n")
    print(f"\nresult: {out}")
    print("anchors (lab.md, keepalived in this lab): default 3.14 s, tuned 0.32 s")
    for line, name in FINAL_LINES.items():
        if results.get(name):
            print(f"{line}: {statistics.median(results[name]):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
