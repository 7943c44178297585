"""Smoke check on a real kernel: add a virtual service with two real servers through pyroute2,
read both back from the kernel, remove the service, and prove it is gone.

Usage: ipvs_roundtrip.py VIP PORT RIP1 RIP2. Prints one JSON line; exits non-zero on any mismatch.
"""

import json
import socket
import sys

from pyroute2 import IPVS, IPVSDest, IPVSService


def services(ipvs: IPVS) -> list[IPVSService]:
    return [IPVSService.from_message(m) for m in ipvs.service("dump")]


def find(ipvs: IPVS, vip: str, port: int) -> IPVSService | None:
    for service in services(ipvs):
        if service["addr"] == vip and service["port"] == port:
            return service
    return None


def main() -> int:
    vip, port, rip1, rip2 = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    wanted = {rip1: 1, rip2: 3}
    report: dict[str, object] = {}
    with IPVS() as ipvs:
        if find(ipvs, vip, port) is not None:  # left by an interrupted earlier run
            ipvs.service("del", service=IPVSService(addr=vip, port=port,
                                                    protocol=socket.IPPROTO_TCP))
        service = IPVSService(addr=vip, port=port, protocol=socket.IPPROTO_TCP, sched_name="rr")
        ipvs.service("add", service=service)
        for rip, weight in wanted.items():
            ipvs.dest("add", service=service,
                      dest=IPVSDest(addr=rip, port=port, weight=weight))
        found = find(ipvs, vip, port)
        report["service_read_back"] = found is not None
        report["scheduler"] = found["sched_name"] if found else None
        dests = {IPVSDest.from_message(m)["addr"]: IPVSDest.from_message(m)
                 for m in ipvs.dest("dump", service=service)}
        report["destinations"] = {a: {"port": d["port"], "weight": d["weight"]}
                                  for a, d in dests.items()}
        ipvs.service("del", service=service)
        report["removed"] = find(ipvs, vip, port) is None
    ok = (report["service_read_back"] and report["scheduler"] == "rr"
          and report["destinations"] == {r: {"port": port, "weight": w}
                                         for r, w in wanted.items()}
          and report["removed"])
    report["ok"] = bool(ok)
    print(json.dumps(report, sort_keys=True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
