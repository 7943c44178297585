# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench-checks: CPU of lvsd's check engine (files/lib/lvs_agents/checks/).

Subcommands (run-checks.sh drives them; each runs where it is told to, host namespace or
guest):

* ``listen``: one process serving every address of 10.255.0.0/16 (the caller puts the /16 on
  ``lo``): port 81 accepts and closes (TCP checks), port 80 answers ``HTTP/1.0 200 OK``; it
  counts accepted connections into a file every 0.5 s (the checks actually done).
* ``engine``: runs the check engine on N endpoints at a 1 s interval and measures only its
  own process CPU time (user + system) over the window, after a warm-up.
* ``keepalived-conf``: a keepalived.conf with one virtual_server per endpoint and TCP_CHECK or
  HTTP_GET on its one real_server, delay_loop 1.
* ``cpu``: utime+stime of a pid (from /proc/PID/stat) over a window, and the listener's count.
* ``report``: the side-by-side table and the closing lines from a results JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import socket
import sys
import time

TCP_PORT, HTTP_PORT = 81, 80
REPLY = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"


def endpoint(index: int) -> str:
    return f"10.255.{1 + index // 250}.{1 + index % 250}"


# --- listener ----------------------------------------------------------------------------------

def listen(args: argparse.Namespace) -> int:
    """epoll loop: accept on both ports, answer HTTP, count accepts into ``--count-file``."""
    epoll = select.epoll()
    listeners = {}
    for port in (TCP_PORT, HTTP_PORT):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
        sock.listen(4096)
        listeners[sock.fileno()] = (sock, port)
        epoll.register(sock.fileno(), select.EPOLLIN)
    clients: dict[int, socket.socket] = {}
    accepted = 0
    next_write = time.monotonic()
    while True:
        for fd, _events in epoll.poll(0.5):
            if fd in listeners:
                sock, port = listeners[fd]
                while True:
                    try:
                        conn, _ = sock.accept()
                    except BlockingIOError:
                        break
                    accepted += 1
                    if port == TCP_PORT:
                        conn.close()
                        continue
                    conn.setblocking(False)
                    clients[conn.fileno()] = conn
                    epoll.register(conn.fileno(), select.EPOLLIN)
            else:
                conn = clients.pop(fd)
                epoll.unregister(fd)
                try:
                    if conn.recv(4096):
                        conn.send(REPLY)
                except OSError:
                    pass
                conn.close()
        if time.monotonic() >= next_write:
            with open(args.count_file + ".tmp", "w") as out:
                out.write(str(accepted))
            os.replace(args.count_file + ".tmp", args.count_file)
            next_write = time.monotonic() + 0.5


def accepted(count_file: str) -> int:
    try:
        with open(count_file) as stream:
            return int(stream.read() or 0)
    except (OSError, ValueError):
        return 0


# --- our engine --------------------------------------------------------------------------------

def engine(args: argparse.Namespace) -> int:
    sys.path.insert(0, args.lib)
    from lvs_agents.checks import CheckSpec, Scheduler

    port = HTTP_PORT if args.mode == "http" else TCP_PORT
    options = {"send": "GET / HTTP/1.0\\r\\n\\r\\n", "expect": "HTTP"} if args.mode == "http" \
        else {}
    specs = {n: CheckSpec.build(endpoint(n), port, virtual_port=port + 1000,
                                timeout=args.interval, **options) for n in range(args.count)}
    counts = {"ok": 0, "failed": 0}
    reasons: dict[str, int] = {}

    def on_result(key: object, result: object) -> None:
        if result.ok:  # type: ignore[attr-defined]
            counts["ok"] += 1
        else:
            counts["failed"] += 1
            reason = result.reason  # type: ignore[attr-defined]
            reasons[reason] = reasons.get(reason, 0) + 1

    async def main() -> dict[str, object]:
        scheduler = Scheduler(on_result, granularity=args.granularity)
        scheduler.start(specs)
        await asyncio.sleep(args.warmup)
        counts.update(ok=0, failed=0)
        reasons.clear()
        before, wall = os.times(), time.monotonic()
        listener_before = accepted(args.count_file) if args.count_file else None
        await asyncio.sleep(args.duration)
        after, elapsed = os.times(), time.monotonic() - wall
        listener_after = accepted(args.count_file) if args.count_file else None
        scheduler.stop()
        cpu = (after.user - before.user) + (after.system - before.system)
        checks = counts["ok"] + counts["failed"]
        return {"mode": args.mode, "endpoints": args.count, "interval": args.interval,
                "window_s": round(elapsed, 3), "checks": checks, "failed": counts["failed"],
                "failure_reasons": dict(sorted(reasons.items(), key=lambda i: -i[1])[:5]),
                "listener_accepts": None if listener_before is None
                else listener_after - listener_before,
                "cpu_s": round(cpu, 4), "user_s": round(after.user - before.user, 4),
                "system_s": round(after.system - before.system, 4),
                "cpu_percent": round(100 * cpu / elapsed, 2),
                "us_per_check": round(1e6 * cpu / max(1, checks), 1)}

    print(json.dumps(asyncio.run(main())))
    return 0


# --- keepalived --------------------------------------------------------------------------------

def keepalived_conf(args: argparse.Namespace) -> int:
    lines = ["global_defs {", "    router_id bench_checks", "}"]
    for n in range(args.count):
        vip = f"10.253.{n // 250}.{1 + n % 250}"
        port = HTTP_PORT if args.mode == "http" else TCP_PORT
        if args.mode == "http":
            check = ["        HTTP_GET {", "            url {", "                path /",
                     "                status_code 200", "            }",
                     "            connect_timeout 1", "            retry 0", "        }"]
        else:
            check = ["        TCP_CHECK {", "            connect_timeout 1", "            retry 0",
                     "        }"]
        lines += [f"virtual_server {vip} {port} {{", "    delay_loop 1", "    lb_algo rr",
                  "    lb_kind NAT", "    protocol TCP",
                  f"    real_server {endpoint(n)} {port} {{", "        weight 1", *check,
                  "    }", "}"]
    print("\n".join(lines))
    return 0


def ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stream:
        fields = stream.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def cpu(args: argparse.Namespace) -> int:
    """CPU of ``--pid`` over ``--duration`` s, with the listener's accepts in that window."""
    hz = os.sysconf("SC_CLK_TCK")
    time.sleep(args.warmup)
    start_ticks, start_accepts, wall = ticks(args.pid), accepted(args.count_file), \
        time.monotonic()
    time.sleep(args.duration)
    used = (ticks(args.pid) - start_ticks) / hz
    elapsed = time.monotonic() - wall
    checks = accepted(args.count_file) - start_accepts
    print(json.dumps({"mode": args.mode, "endpoints": args.count, "window_s": round(elapsed, 3),
                      "checks": checks, "listener_accepts": checks, "cpu_s": round(used, 4),
                      "cpu_percent": round(100 * used / elapsed, 2),
                      "us_per_check": round(1e6 * used / max(1, checks), 1)}))
    return 0


# --- report ------------------------------------------------------------------------------------

def report(args: argparse.Namespace) -> int:
    with open(args.result) as stream:
        result = json.load(stream)
    host, guest = result["host"], result.get("guest")
    print(f"check engine CPU, host kernel, {host['tcp']['endpoints']} endpoints at 1 s "
          f"(listeners in a private network namespace)")
    print(f"{'mode':<6} {'checks':>8} {'failed':>7} {'CPU %':>7} {'us/check':>9}")
    for mode in ("tcp", "http"):
        row = host[mode]
        print(f"{mode:<6} {row['checks']:>8} {row['failed']:>7} {row['cpu_percent']:>7} "
              f"{row['us_per_check']:>9}")
    if guest is not None:
        print()
        report_guest(guest)
    print()
    print(f"checks_cpu_percent: {host['tcp']['cpu_percent']}")
    print(f"checks_cpu_percent_http: {host['http']['cpu_percent']}")
    if guest is not None:
        tcp_ratio = guest["ours"]["tcp"]["us_per_check"] / \
            guest["keepalived"]["tcp"]["us_per_check"]
        print(f"checks_vs_keepalived: {tcp_ratio:.2f}")
    return 0


def report_guest(guest: dict) -> None:
    print(f"CPU per check in one UML guest, {guest['ours']['tcp']['endpoints']} endpoints at 1 s")
    print(f"{'mode':<6} {'ours us':>9} {'keepalived us':>14} {'ratio':>7} "
          f"{'ours checks':>12} {'ka checks':>10}")
    for mode in ("tcp", "http"):
        ours, theirs = guest["ours"][mode], guest["keepalived"][mode]
        ratio = ours["us_per_check"] / theirs["us_per_check"] if theirs["us_per_check"] \
            else float("inf")
        print(f"{mode:<6} {ours['us_per_check']:>9} {theirs['us_per_check']:>14} "
              f"{ratio:>7.2f} {ours['checks']:>12} {theirs['checks']:>10}")


def combine(args: argparse.Namespace) -> int:
    names = ["host_tcp", "host_http"]
    if args.host_only != "1":
        names += ["ours_tcp", "ours_http", "ka_tcp", "ka_http"]
    parts = {}
    for name in names:
        with open(os.path.join(args.dir, f"{name}.json")) as stream:
            parts[name] = json.loads(stream.read().strip().splitlines()[-1])
    result: dict[str, object] = {
        "commit": args.commit, "host_loadavg": args.loadavg, "time": time.time(),
        "host": {"tcp": parts["host_tcp"], "http": parts["host_http"]}}
    if "ours_tcp" in parts:
        result["guest"] = {"ours": {"tcp": parts["ours_tcp"], "http": parts["ours_http"]},
                           "keepalived": {"tcp": parts["ka_tcp"], "http": parts["ka_http"]}}
    with open(args.out, "w") as stream:
        json.dump(result, stream, indent=2)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="checks.py")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("listen")
    p.add_argument("--count-file", required=True)
    p.set_defaults(run=listen)
    for name, function in (("engine", engine), ("cpu", cpu)):
        p = commands.add_parser(name)
        p.add_argument("--mode", choices=("tcp", "http"), default="tcp")
        p.add_argument("--count", type=int, default=1000)
        p.add_argument("--interval", type=float, default=1.0)
        p.add_argument("--duration", type=float, default=12.0)
        p.add_argument("--warmup", type=float, default=3.0)
        p.add_argument("--count-file")
        p.add_argument("--lib", default=os.path.join(os.path.dirname(__file__), "..", "files",
                                                     "lib"))
        p.add_argument("--pid", type=int)
        p.add_argument("--granularity", type=float, default=0.02,
                       help="the scheduler's slot (s); see run-checks.sh for the guest's")
        p.set_defaults(run=function)
    p = commands.add_parser("keepalived-conf")
    p.add_argument("--mode", choices=("tcp", "http"), default="tcp")
    p.add_argument("--count", type=int, default=200)
    p.set_defaults(run=keepalived_conf)
    p = commands.add_parser("combine")
    p.add_argument("--dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--commit", default="unknown")
    p.add_argument("--loadavg", default="")
    p.add_argument("--host-only", default="0", help="1: no guest parts (HOST_ONLY=1)")
    p.set_defaults(run=combine)
    p = commands.add_parser("report")
    p.add_argument("result")
    p.set_defaults(run=report)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
