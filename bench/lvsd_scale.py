#!/usr/bin/env python3
# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvsd at scale (issue #15): start-up, a 1 % reload, steady-state CPU and RSS, in one guest.

Standard library only (runs on the guest's python3; see bench/README.md, ``make bench-scale``):

  lvsd_scale.py measure --lib DIR --out FILE.json [--scales 10000x10,1000x4 --window 60]
      ON the guest, as root: for each scale writes an lvs.cf of SERVICES x SERVERS, starts
      the listeners of the shared real servers, runs lvsd and measures. Clears the IPVS table.
  lvsd_scale.py report FILE.json          prints the tables; the last lines are the figures
  lvsd_scale.py gen SERVICES SERVERS      prints the lvs.cf (``--changed``: the reloaded one)
  lvsd_scale.py listen                    the real servers' listeners (TCP accept, UDP echo)
  lvsd_scale.py lvsd -- ARGS              lvsd's main with SIGUSR1/SIGUSR2 = start/stop cProfile
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import select
import selectors
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime

PORT = 8080  # every real server's port: the checks of one address are shared by all services
SERVER_V4 = [f"10.30.0.{n}" for n in range(1, 11)]
SERVER_V6 = [f"fd00:30::{n}" for n in range(1, 11)]
TICK = os.sysconf("SC_CLK_TCK")
LOG_TIME = re.compile(rb"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) lvsd: ", re.M)
HERE = os.path.abspath(__file__)


# --- the configuration --------------------------------------------------------------------------

def kind_of(index: int) -> str:
    """One service in ten each UDP, fwmark and IPv6 TCP; the rest IPv4 TCP."""
    return {0: "udp", 1: "fwmark", 2: "tcp6"}.get(index % 10, "tcp")


def is_changed(index: int) -> bool:
    """1 %: one service per hundred, its position varying so that every kind is changed."""
    return index % 100 == (index // 100) % 10


def generate(services: int, servers: int, changed: bool = False) -> str:
    """lvs.cf: SERVICES virtuals on 10 ports per VIP (an alias label each), each over SERVERS
    of the shared pool (NAT, port 8080, weight 1, connect checks every 10 s); fwmark ones and
    every 50th persistent. ``changed``: the 1 % edited, alternately scheduler wlc -> rr and
    the first server's weight 1 -> 2."""
    out = ["serial_no = 1", "service = lvs", "primary = 10.254.0.11", "backup_active = 0",
           "network = nat", "hard_shutdown = 0", ""]
    flip = 0
    for index in range(services):
        kind, vip = kind_of(index), index // 10
        edit = ""
        if changed and is_changed(index):
            edit, flip = ("scheduler" if flip % 2 == 0 else "weight"), flip + 1
        if kind == "tcp6":
            address, pool = f"fd00:100::{vip:x} eth0:{2 * vip + 2}", SERVER_V6
        else:
            quad = f"10.{100 + vip // 62500}.{vip // 250 % 250}.{vip % 250 + 1}"
            address = f"{quad} eth0:{2 * vip + 1}"
            pool = SERVER_V4
        out += [f"virtual vs{index} {{", "    active = 1", f"    address = {address}",
                f"    port = {10000 + index % 10}",
                f"    protocol = {'udp' if kind == 'udp' else 'tcp'}",
                f"    scheduler = {'rr' if edit == 'scheduler' else 'wlc'}"]
        if kind == "fwmark":  # persistent: NAT sends every marked port to port 8080
            out.append(f"    fwmark = {index + 1}")
        if kind == "fwmark" or index % 50 == 3:
            out.append("    persistent = 300")
        if kind == "udp":
            out.append('    expect = "ok"')  # the listener answers an empty datagram "ok"
        for number in range(servers):
            weight = 2 if edit == "weight" and number == 0 else 1
            out += [f"    server rs{number} {{", f"        address = {pool[number % len(pool)]}",
                    "        active = 1", f"        weight = {weight}", f"        port = {PORT}",
                    "    }"]
        out += ["}", ""]
    return "\n".join(out)


# --- the real servers ---------------------------------------------------------------------------

def listen() -> None:
    """Port 8080 on every address (v4 and v6): TCP accepted and closed, UDP echoed."""
    sel = selectors.DefaultSelector()
    for family, any_address in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            sock = socket.socket(family, kind)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((any_address, PORT))
            if kind == socket.SOCK_STREAM:
                sock.listen(512)
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ, kind)
    while True:
        for key, _ in sel.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                if key.data == socket.SOCK_STREAM:
                    sock.accept()[0].close()
                else:
                    data, peer = sock.recvfrom(4096)
                    sock.sendto(data or b"ok", peer)
            except OSError:
                pass


def run_lvsd(argv: list[str]) -> int:
    """lvsd's own main; SIGUSR1 starts cProfile, SIGUSR2 writes $LVSD_PROFILE_OUT (pstats)."""
    profiler = cProfile.Profile()
    out = os.environ.get("LVSD_PROFILE_OUT", "lvsd.pstats")
    signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
    signal.signal(signal.SIGUSR2, lambda *_: (profiler.disable(), profiler.dump_stats(out)))
    from lvs_agents import lvsd  # noqa: PLC0415 - from PYTHONPATH, on the guest

    return lvsd.main(argv)


# --- measuring ----------------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stream:
        fields = stream.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def memory_mib(pid: int) -> dict[str, float]:
    out = {}
    with open(f"/proc/{pid}/status") as stream:
        for line in stream:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = round(int(value.split()[0]) / 1024, 1)
    return out


def kernel_table() -> dict[str, str]:
    """/proc/net/ip_vs as {service: its scheduler/flags line + destinations (addr, fwd, weight)}."""
    table: dict[str, list[str]] = {}
    current: list[str] = []
    with open("/proc/net/ip_vs") as stream:
        for line in stream.read().splitlines()[3:]:
            fields = line.split()
            if line.startswith("  ->"):
                current.append(" ".join(fields[1:4]))
            else:
                current = table.setdefault(" ".join(fields[:2]), [" ".join(fields[2:])])
    return {key: "|".join([lines[0]] + sorted(lines[1:])) for key, lines in table.items()}


def loadavg() -> str:
    with open("/proc/loadavg") as stream:
        return " ".join(stream.read().split()[:3])


class Daemon:
    """One lvsd process, its log in a file read incrementally."""

    def __init__(self, work: str, lib: str, config: str, resync: float, name: str) -> None:
        self.log_path = os.path.join(work, f"{name}.log")
        self.log_file = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.text = bytearray()
        read_fd, write_fd = os.pipe()
        env = {**os.environ, "PYTHONPATH": lib, "LVSD_PROFILE_OUT": f"{work}/{name}.pstats"}
        argv = [sys.executable, HERE, "lvsd", "--", "-n", "-c", config, "--run-dir", work,
                "--last-good", f"{work}/last-good.cf", "--resync", str(resync),
                "--ready-fd", str(write_fd)]
        self.started = time.time()
        self.process = subprocess.Popen(argv, env=env, pass_fds=(write_fd,), cwd=work,
                                        stdin=subprocess.DEVNULL, stdout=self.log_file,
                                        stderr=self.log_file)
        os.close(write_fd)
        self.ready_fd = read_fd

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float) -> float:
        ready, _, _ = select.select([self.ready_fd], [], [], timeout)
        got = os.read(self.ready_fd, 64) if ready else b""
        if b"READY" not in got:
            raise RuntimeError(f"lvsd not ready (exit status {self.process.poll()}, waited up to "
                               f"{timeout} s): {bytes(self.read()[-2000:])!r}")
        os.close(self.ready_fd)
        return time.time() - self.started

    def read(self) -> bytearray:
        with open(self.log_path, "rb") as stream:
            stream.seek(len(self.text))
            self.text += stream.read()
        return self.text

    def wait_log(self, needle: bytes, count: int, timeout: float, since: int = 0) -> float:
        """Until ``needle`` is in the log ``count`` times after byte ``since``: the wall-clock
        time of the line that made the count (its own log timestamp)."""
        deadline = time.time() + timeout
        while True:
            text = self.read()
            if text.count(needle, since) >= count:
                position = since
                for _ in range(count):
                    position = text.index(needle, position) + 1
                return log_time(text, position)
            if self.process.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"lvsd: {needle!r} x{count} not logged: {text[-2000:]!r}")
            time.sleep(0.5)

    def cpu_window(self, seconds: float) -> dict[str, object]:
        samples, start_cpu, start = [], cpu_seconds(self.pid), time.time()
        while time.time() - start < seconds:
            time.sleep(1.0)
            samples.append(round(cpu_seconds(self.pid) - start_cpu, 2))
        elapsed = time.time() - start
        used = cpu_seconds(self.pid) - start_cpu
        return {"seconds": round(elapsed, 1), "cpu_s": round(used, 2),
                "cpu_percent": round(100 * used / elapsed, 2), "cumulative_cpu_s": samples,
                "guest_loadavg": loadavg()}

    def profile(self, seconds: float, work: str, name: str) -> str:
        os.kill(self.pid, signal.SIGUSR1)
        time.sleep(seconds)
        os.kill(self.pid, signal.SIGUSR2)
        path = f"{work}/{name}.pstats"
        for _ in range(100):
            time.sleep(0.5)
            if os.path.exists(path):
                break
        time.sleep(2)
        text = io.StringIO()
        stats = pstats.Stats(path, stream=text)
        text.write(f"# lvsd, {seconds:g} s window, cProfile (under UML times are inflated: "
                   "read ncalls)\n")
        stats.sort_stats("ncalls").print_stats(35)
        stats.sort_stats("cumulative").print_stats(35)
        return text.getvalue()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log_file.close()


def log_time(text: bytearray, position: int) -> float:
    """The timestamp of the log line holding byte ``position`` (ms resolution, local time)."""
    start = text.rfind(b"\n", 0, position) + 1
    match = LOG_TIME.match(text, start)
    if match is None:
        return time.time()
    return datetime.strptime(match.group(1).decode(), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def operations(text: bytearray) -> dict[str, int]:
    counts: dict[str, int] = {}
    for match in re.finditer(rb"lvsd: ipvs: (\w+)", text):
        action = match.group(1).decode()
        counts[action] = counts.get(action, 0) + 1
    return counts


PARSE_ONLY = """
import resource, sys, time
from lvs_agents import runtime
start = time.perf_counter()
runtime.load_config(sys.argv[1])
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def parse_only(lib: str, config: str) -> dict[str, float]:
    """lvs.cf parsed and validated alone, in a process of its own: seconds and peak RSS."""
    done = subprocess.run([sys.executable, "-c", PARSE_ONLY, config], env={**os.environ,
                          "PYTHONPATH": lib}, capture_output=True, text=True, check=True)
    seconds, peak_kib = done.stdout.split()
    return {"seconds": round(float(seconds), 2), "peak_rss_mib": round(int(peak_kib) / 1024, 1)}


def measure_scale(services: int, servers: int, lib: str, window: float, profile_s: float,
                  work: str) -> dict[str, object]:
    os.makedirs(work, exist_ok=True)
    subprocess.run(["ipvsadm", "-C"], check=True)
    config = f"{work}/lvs.cf"
    t0 = time.perf_counter()
    text = generate(services, servers)
    with open(config, "w") as stream:
        stream.write(text)
    result: dict[str, object] = {"services": services, "servers": servers,
                                 "destinations": services * servers,
                                 "config_bytes": len(text),
                                 "generate_s": round(time.perf_counter() - t0, 2)}
    print(f"lvsd_scale: {services}x{servers}: lvs.cf {len(text) >> 10} KiB", flush=True)
    if services * servers <= 10_000:  # minutes at 10,000 x 10 under UML: the small scale only
        result["parse_only"] = parse_only(lib, config)
        print(f"lvsd_scale: parse alone {result['parse_only']}", flush=True)
    # A: the default resync; start-up, steady state, reload, profile
    daemon = Daemon(work, lib, config, 10.0, "resync10")
    try:
        ready_s = daemon.wait_ready(1800)
        rss_ready = memory_mib(daemon.pid)
        done = daemon.wait_log(b"ipvs: add_destination", services * servers, 3600)
        table = kernel_table()
        result["startup"] = {
            "ready_s": round(ready_s, 2), "programmed_s": round(done - daemon.started, 2),
            "cpu_s": round(cpu_seconds(daemon.pid), 2), "rss_at_ready": rss_ready,
            "rss_programmed": memory_mib(daemon.pid), "kernel_services": len(table),
            "kernel_destinations": sum(v.count("|") for v in table.values()),
            "operations": operations(daemon.read())}
        print(f"lvsd_scale: ready {ready_s:.1f} s, programmed {done - daemon.started:.1f} s",
              flush=True)
        time.sleep(5)
        paced = wait_resync(work, 600)  # lvsd's own account of its first resyncs
        result["resync_paced_first"] = paced
        # at least two of lvsd's resync periods (stretched to its CPU budget on a large table)
        period = float(paced.get("period") or 10.0)
        result["steady_resync10"] = daemon.cpu_window(max(window, min(2.2 * period, 600.0)))
        result["resync_paced"] = lvsd_resync(work)
        result["rss_steady"] = memory_mib(daemon.pid)
        print(f"lvsd_scale: steady (resync 10 s) {result['steady_resync10']['cpu_percent']} %",
              flush=True)
        if profile_s > 0:  # the steady state's (a profile after the reload shows the reload)
            result["profile"] = daemon.profile(profile_s, work, "resync10")
        result["reload"] = reload(daemon, config, services, servers, table)
        result["rss_after_reload"] = memory_mib(daemon.pid)
        print(f"lvsd_scale: reload {result['reload']['seconds']} s", flush=True)
    finally:
        daemon.stop()
    # B: the same table adopted by a new lvsd that resyncs hourly: the rest of the cost
    daemon = Daemon(work, lib, config, 3600.0, "resync3600")
    try:
        result["adopt_ready_s"] = round(daemon.wait_ready(1800), 2)
        time.sleep(15)  # its first checks (period 10 s) are in
        result["steady_resync3600"] = daemon.cpu_window(window)
        result["rss_resync3600"] = memory_mib(daemon.pid)
    finally:
        daemon.stop()
    subprocess.run(["ipvsadm", "-C"], check=True)
    a, b = result["steady_resync10"], result["steady_resync3600"]
    result["resync_cpu_percent"] = round(a["cpu_percent"] - b["cpu_percent"], 2)  # type: ignore[index]
    paced = result.get("resync_paced") or {}
    if paced.get("last_cpu_seconds") is not None and paced.get("period"):  # type: ignore[union-attr]
        result["resync_cpu_percent_lvsd"] = round(  # lvsd's own: last resync's CPU / period
            100 * paced["last_cpu_seconds"] / paced["period"], 2)  # type: ignore[index]
    return result


def lvsd_resync(work: str) -> dict[str, object]:
    """lvsd.json's ``resync``: its period now, its least period, budget, last resync's CPU."""
    try:
        with open(f"{work}/lvsd.json") as stream:
            return dict(json.load(stream).get("resync") or {})
    except (OSError, ValueError):
        return {}


def wait_resync(work: str, timeout: float) -> dict[str, object]:
    """lvsd.json's ``resync`` once a resync has run (its CPU known) and its period settled."""
    end, seen = time.time() + timeout, lvsd_resync(work)
    while time.time() < end:
        seen = lvsd_resync(work)
        if seen.get("last_cpu_seconds") is not None:
            return seen
        time.sleep(2)
    return seen


def reload(daemon: Daemon, config: str, services: int, servers: int,
           before: dict[str, str]) -> dict[str, object]:
    with open(config + ".new", "w") as stream:
        stream.write(generate(services, servers, changed=True))
    os.replace(config + ".new", config)
    since = len(daemon.read())
    cpu0 = cpu_seconds(daemon.pid)
    sent = time.time()
    os.kill(daemon.pid, signal.SIGHUP)
    done = daemon.wait_log(b"lvsd: reloaded ", 1, 1800, since)
    cpu = cpu_seconds(daemon.pid) - cpu0
    ops = operations(daemon.read()[since:])
    after = kernel_table()
    differing = [key for key in before if before.get(key) != after.get(key)]
    expected = sum(1 for index in range(services) if is_changed(index))
    return {"seconds": round(done - sent, 2), "cpu_s": round(cpu, 2), "operations": ops,
            "operations_total": sum(ops.values()), "expected_changed_services": expected,
            "kernel_services_changed": len(differing), "kernel_services": len(after),
            "untouched_ok": len(differing) == expected and sum(ops.values()) == expected
            and len(after) == len(before)}


def measure(args: argparse.Namespace) -> int:
    for command in ("modprobe ip_vs", "ip link set lo up"):
        subprocess.run(command.split(), check=False)
    for address in SERVER_V4:
        subprocess.run(["ip", "addr", "replace", f"{address}/32", "dev", "lo"], check=True)
    for address in SERVER_V6:
        subprocess.run(["ip", "addr", "replace", f"{address}/128", "dev", "lo"], check=True)
    listener = subprocess.Popen([sys.executable, HERE, "listen"], stdin=subprocess.DEVNULL)
    results: list[dict[str, object]] = []
    try:
        for scale in args.scales.split(","):
            services, servers = (int(n) for n in scale.lower().split("x"))
            try:
                results.append(measure_scale(services, servers, args.lib, args.window,
                                             args.profile if services == max_services(args)
                                             else 0, f"{args.work}/{scale}"))
            except (RuntimeError, OSError, subprocess.SubprocessError) as error:
                print(f"lvsd_scale: {scale} failed: {error}", flush=True)
                results.append({"services": services, "servers": servers, "error": str(error)})
            write_document(args, results)
    finally:
        listener.terminate()
        listener.wait()
    return 0 if all("error" not in result for result in results) else 1


def write_document(args: argparse.Namespace, results: list[dict[str, object]]) -> None:
    document = {"scales": results, "host_loadavg": os.environ.get("BENCH_HOST_LOADAVG", ""),
                "guest_loadavg_end": loadavg(), "commit": os.environ.get("BENCH_COMMIT", ""),
                "window_s": args.window, "python": sys.version.split()[0],
                "kernel": os.uname().release, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                    time.gmtime())}
    with open(args.out, "w") as stream:
        json.dump(document, stream, indent=1)


def max_services(args: argparse.Namespace) -> int:
    return max(int(scale.lower().split("x")[0]) for scale in args.scales.split(","))


# --- report -------------------------------------------------------------------------------------

def report(path: str) -> int:
    with open(path) as stream:
        document = json.load(stream)
    print(f"lvsd at scale ({document['when']}, commit {document['commit']}, host load "
          f"{document['host_loadavg']}, kernel {document['kernel']}, window "
          f"{document['window_s']} s)")
    header = ("| scale | ready s | programmed s | reload s (ops, kernel changed) | "
              "CPU % resync 10 | CPU % resync 3600 | resync % | resync period s (CPU s) | "
              "RSS MiB (HWM) | after reload |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for scale in document["scales"]:
        if "error" in scale:
            print(f"| {scale['services']}x{scale['servers']} | failed: {scale['error'][:300]} |")
            continue
        start, reloaded = scale["startup"], scale["reload"]
        paced = scale.get("resync_paced") or {}
        rss, rss2 = scale["rss_steady"], scale["rss_after_reload"]
        print(f"| {scale['services']}x{scale['servers']} | {start['ready_s']} | "
              f"{start['programmed_s']} | {reloaded['seconds']} "
              f"({reloaded['operations_total']}, {reloaded['kernel_services_changed']}"
              f"{'' if reloaded['untouched_ok'] else ' NOT AS EXPECTED'}) | "
              f"{scale['steady_resync10']['cpu_percent']} | "
              f"{scale['steady_resync3600']['cpu_percent']} | {scale['resync_cpu_percent']} | "
              f"{paced.get('period', '?')} ({paced.get('last_cpu_seconds', '?')}) | "
              f"{rss['VmRSS']} ({rss['VmHWM']}) | {rss2['VmRSS']} ({rss2['VmHWM']}) |")
    scales = [scale for scale in document["scales"] if "error" not in scale]
    if not scales:
        return 1
    big = max(scales, key=lambda s: s["services"] * s["servers"])
    small = min(scales, key=lambda s: s["services"] * s["servers"])
    if big is not small:
        factor = big["destinations"] / small["destinations"]
        print(f"growth {small['services']}x{small['servers']} -> "
              f"{big['services']}x{big['servers']} ({factor:g}x the destinations): programmed "
              f"{big['startup']['programmed_s'] / max(small['startup']['programmed_s'], 0.01):.1f}x"
              f", reload {big['reload']['seconds'] / max(small['reload']['seconds'], 0.01):.1f}x"
              f", RSS {big['rss_steady']['VmRSS'] / small['rss_steady']['VmRSS']:.1f}x")
    steady_rss = max(big["rss_steady"]["VmRSS"], big["rss_after_reload"]["VmRSS"])
    goals = (steady_rss <= 200, big["resync_cpu_percent"] <= 5)
    print(f"goals at {big['services']}x{big['servers']}: RSS <= 200 MiB "
          f"{'met' if goals[0] else 'NOT met'} ({steady_rss} MiB steady and after the reload; "
          f"peak {max(big['rss_steady']['VmHWM'], big['rss_after_reload']['VmHWM'])} MiB); "
          f"resync <= 5 % of a core {'met' if goals[1] else 'NOT met'} (measured "
          f"{big['resync_cpu_percent']} %, lvsd's own account "
          f"{big.get('resync_cpu_percent_lvsd', '?')} %, period "
          f"{(big.get('resync_paced') or {}).get('period', '?')} s)")
    print(f"lvsd_startup_s: {big['startup']['programmed_s']}")
    print(f"lvsd_reload_1pct_s: {big['reload']['seconds']}")
    print(f"lvsd_resync_cpu_percent: {big['resync_cpu_percent']}")
    print(f"lvsd_steady_cpu_percent: {big['steady_resync10']['cpu_percent']}")
    print(f"lvsd_rss_mib: {steady_rss}")
    print(f"lvsd_peak_rss_mib: {max(big['rss_steady']['VmHWM'], big['rss_after_reload']['VmHWM'])}")
    print(f"lvsd_resync_period_s: {(big.get('resync_paced') or {}).get('period', '?')}")
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "lvsd":
        rest = sys.argv[2:]
        return run_lvsd(rest[1:] if rest[:1] == ["--"] else rest)
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--lib", required=True, help="PYTHONPATH holding lvs_agents and lvs_cluster")
    m.add_argument("--out", required=True)
    m.add_argument("--work", default="/root/lvsdscale/work")
    m.add_argument("--scales", default="10000x10,1000x4")
    m.add_argument("--window", type=float, default=60.0, help="steady-state window, s")
    m.add_argument("--profile", type=float, default=20.0,
                   help="cProfile window at the largest scale, s (0: none)")
    r = sub.add_parser("report")
    r.add_argument("file")
    g = sub.add_parser("gen")
    g.add_argument("services", type=int)
    g.add_argument("servers", type=int)
    g.add_argument("--changed", action="store_true")
    sub.add_parser("listen")
    args = parser.parse_args()
    if args.command == "measure":
        return measure(args)
    if args.command == "report":
        return report(args.file)
    if args.command == "gen":
        print(generate(args.services, args.servers, args.changed))
        return 0
    listen()
    return 0


if __name__ == "__main__":
    sys.exit(main())
