#!/usr/bin/env python3
# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark the IPVS reconcile engine against ipvsadm, inside a guest with a real IPVS kernel.

Two modes (standard library only; see bench/README.md):

  reconcile.py measure --engine DIR --out FILE.json [--services 1000 --dests 4 --runs 5]
      Runs ON the guest, as root. DIR is a copy of the core package
      plugins/module_utils/lvs_cluster; without --engine the package ``lvs_cluster`` is
      imported from PYTHONPATH. It clears and rewrites the IPVS table.

  reconcile.py report FILE.json
      Prints the table of a result; the last lines are the ratios ours/anchor.

Rows (each repeated --runs times after --warmup untimed rounds, ours and the anchor
interleaved; the IPVS table is reset between runs, never inside a timed path):

  full_apply  read the live (empty) table + plan(desired, live) + apply, from a fresh
              netlink socket, vs ``ipvsadm-restore < file`` of the same table (whole process).
  noop        read the live table + plan (no operation), vs ``ipvsadm -Sn > /dev/null``.
  changed10   10 % of the objects changed (every 10th service gets another scheduler, every
              10th destination another weight): read + plan + apply, vs ``ipvsadm -R`` of only
              the changes (``-E``/``-e`` lines): ``ipvsadm-restore`` is a script that runs
              ``ipvsadm -C`` and then ``ipvsadm -R``, so it cannot apply changes alone.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import hashlib
import importlib
import io
import json
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOALS = {"full_apply": 0.1, "noop": 0.3, "changed10": 0.1}
RATIO_NAMES = {"changed10": "changed10_vs_restore", "full_apply": "full_apply_vs_restore",
               "noop": "noop_vs_save"}
PACKAGE = "lvs_cluster"
clock = time.perf_counter


# --- engine and table ---------------------------------------------------------------------------

class Engine:
    """The three engine modules, imported from a copied package directory."""

    def __init__(self, package_dir: str | None) -> None:
        name = PACKAGE
        if package_dir:
            path = Path(package_dir).resolve()
            sys.path.insert(0, str(path.parent))
            name = path.name
        self.package = name
        self.model = importlib.import_module(f"{name}.ipvs.model")
        self.nl = importlib.import_module(f"{name}.ipvs.netlink")
        self.rc = importlib.import_module(f"{name}.ipvs.reconcile")


def build_desired(engine: Engine, services: int, dests: int) -> dict:
    """services TCP VIPs 10.10.x.y:80 (wlc), each with its own dests NAT real servers :80."""
    m = engine.model
    table = {}
    for i in range(services):
        service = m.Service("inet", "tcp", f"10.10.{i // 250}.{i % 250 + 1}", 80,
                            scheduler="wlc")
        table[service] = tuple(
            m.Destination(f"10.{20 + k // 62500}.{k // 250 % 250}.{k % 250 + 1}", 80,
                          forwarding="nat", weight=1)
            for k in range(i * dests, (i + 1) * dests))
    return table


def changed_table(engine: Engine, desired: dict) -> tuple[dict, int, int]:
    """Every 10th service scheduler wlc -> rr; every 10th destination (counted over the whole
    table, offset 5 so none is under a changed service when dests = 4) weight 1 -> 2."""
    replace = dataclasses.replace
    out = {}
    services = destinations = 0
    k = 0
    for i, (service, dests) in enumerate(desired.items()):
        if i % 10 == 0:
            service = replace(service, scheduler="rr")
            services += 1
        new = []
        for dest in dests:
            if k % 10 == 5:
                dest = replace(dest, weight=dest.weight + 1)
                destinations += 1
            new.append(dest)
            k += 1
        out[service] = tuple(new)
    return out, services, destinations


FORWARDING_OPTION = {"nat": "-m", "direct": "-g", "tunnel": "-i"}


def _svc(service) -> str:
    return f"-t {service.address}:{service.port}"


def restore_lines(table: dict) -> list[str]:
    """The table as ipvsadm-restore input (only what build_desired produces)."""
    lines = []
    for service, dests in table.items():
        lines.append(f"-A {_svc(service)} -s {service.scheduler}")
        lines += [f"-a {_svc(service)} -r {d.address}:{d.port} "
                  f"{FORWARDING_OPTION[d.forwarding]} -w {d.weight}" for d in dests]
    return lines


def change_lines(before: dict, after: dict) -> list[str]:
    """ipvsadm-restore edits (-E / -e) that turn ``before`` into ``after`` (same keys)."""
    old = {s.key: (s, d) for s, d in before.items()}
    lines = []
    for service, dests in after.items():
        old_service, old_dests = old[service.key]
        if old_service != service:
            lines.append(f"-E {_svc(service)} -s {service.scheduler}")
        lines += [f"-e {_svc(service)} -r {d.address}:{d.port} "
                  f"{FORWARDING_OPTION[d.forwarding]} -w {d.weight}"
                  for d, o in zip(dests, old_dests, strict=True) if d != o]
    return lines


# --- timing helpers -----------------------------------------------------------------------------

def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": [round(v, 6) for v in values]}


def run_process(argv: list[str], stdin: Path | None = None, quiet: bool = True) -> float:
    """Run a command to completion; its wall time (fork and exec included). Fails loudly."""
    with open(stdin or os.devnull, "rb") as source:
        started = clock()
        done = subprocess.run(argv, stdin=source, stdout=subprocess.DEVNULL if quiet else None,
                              stderr=subprocess.PIPE)
        elapsed = clock() - started
    if done.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): "
                           f"{done.stderr.decode(errors='replace')[-500:]}")
    return elapsed


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --- the benchmark ------------------------------------------------------------------------------

def _replies_recv_into(nl):
    """IpvsNetlink._replies receiving into one preallocated 64 KiB buffer (what-if only)."""
    buffer = bytearray(1 << 16)  # the kernel caps a dump datagram at 32 KiB
    view = memoryview(buffer)
    header = nl._NLMSGHDR

    def _replies(self):
        size = self.sock.recv_into(buffer)
        data = memoryview(bytes(view[:size]))
        offset = 0
        while offset + header.size <= size:
            length, kind, flags, seq, _pid = header.unpack_from(data, offset)
            if length < header.size:
                break
            yield kind, flags, seq, data[offset + header.size:offset + length]
            offset += (length + 3) & ~3
    return _replies


class Bench:
    def __init__(self, engine: Engine, args: argparse.Namespace) -> None:
        self.e = engine
        self.args = args
        self.work = Path(args.workdir)
        self.work.mkdir(parents=True, exist_ok=True)
        started = clock()
        self.desired = build_desired(engine, args.services, args.dests)
        self.desired_build = clock() - started
        self.changed, self.n_svc_changed, self.n_dst_changed = changed_table(engine,
                                                                             self.desired)
        self.base_file = self.work / "table.restore"
        self.base_file.write_text("\n".join(restore_lines(self.desired)) + "\n")
        self.change_file = self.work / "changes.restore"
        changes = change_lines(self.desired, self.changed)
        self.change_file.write_text("\n".join(changes) + "\n")
        self.n_objects = len(self.desired) + sum(len(d) for d in self.desired.values())
        self.n_change_lines = len(changes)
        self.scope = engine.rc.Scope.everything()

    # table state (never timed)
    def clear(self) -> None:
        run_process(["ipvsadm", "-C"])

    def load_base(self) -> None:
        self.clear()
        run_process(["ipvsadm-restore"], stdin=self.base_file)

    def verify(self, expected: dict, what: str) -> None:
        rc = self.e.rc
        with self.e.nl.IpvsNetlink() as kernel:
            live = rc.read_table(kernel)
        left = rc.plan(expected, live, self.scope).operations
        if left or len(live) != len(expected):
            raise RuntimeError(f"{what}: the kernel table differs from the expected one "
                               f"({len(live)} services; {len(left)} operations left, first: "
                               f"{[op.describe() for op in left[:3]]})")

    # our timed path: what the module does
    def ours(self, desired: dict, expected_ops: int) -> dict[str, float]:
        rc = self.e.rc
        faults = minor_faults()
        t0 = clock()
        kernel = self.e.nl.IpvsNetlink()
        live = rc.read_table(kernel)
        t1 = clock()
        faults = minor_faults() - faults
        the_plan = rc.plan(desired, live, self.scope)
        t2 = clock()
        rc.apply(kernel, the_plan, live)
        t3 = clock()
        kernel.close()
        if len(the_plan.operations) != expected_ops:
            raise RuntimeError(f"plan has {len(the_plan.operations)} operations, "
                               f"{expected_ops} expected")
        return {"total": t3 - t0, "read": t1 - t0, "plan": t2 - t1, "apply": t3 - t2,
                "read_minor_faults": faults}

    def row(self, name: str, setup_ours, ours, check_ours, setup_anchor, anchor,
            check_anchor) -> dict:
        samples: dict[str, list[float]] = {}
        anchor_samples: list[float] = []
        for run in range(self.args.warmup + self.args.runs):
            setup_ours()
            split = ours()
            check_ours()
            setup_anchor()
            anchor_time = anchor()
            check_anchor()
            timed = run >= self.args.warmup
            label = f"run {run - self.args.warmup + 1}" if timed else f"warm-up {run + 1}"
            log(f"{name} {label}: ours {split['total']:.3f} s (read {split['read']:.3f}, plan "
                f"{split['plan']:.3f}, apply {split['apply']:.3f}; "
                f"{split['read_minor_faults']} page faults in read), anchor {anchor_time:.3f} s")
            if timed:
                for key, value in split.items():
                    samples.setdefault(key, []).append(value)
                anchor_samples.append(anchor_time)
        ours_summary = {key: summary(values) for key, values in samples.items()}
        anchor_summary = summary(anchor_samples)
        return {"ours": ours_summary, "anchor": anchor_summary,
                "ratio": ours_summary["total"]["median"] / anchor_summary["median"],
                "ratio_min": ours_summary["total"]["min"] / anchor_summary["min"],
                "goal": GOALS[name]}

    def full_apply(self) -> dict:
        out = self.row(
            "full_apply",
            self.clear, lambda: self.ours(self.desired, self.n_objects),
            lambda: self.verify(self.desired, "full_apply ours"),
            self.clear, lambda: run_process(["ipvsadm-restore"], stdin=self.base_file),
            lambda: self.verify(self.desired, "full_apply ipvsadm-restore"))
        out["ours"]["what"] = (f"read + plan + apply, {self.n_objects} operations "
                               f"({len(self.desired)} services x {self.args.dests} dests)")
        out["anchor"]["what"] = f"ipvsadm-restore < file ({self.n_objects} lines)"
        return out

    def noop(self) -> dict:
        self.load_base()
        out = self.row(
            "noop",
            lambda: None, lambda: self.ours(self.desired, 0), lambda: None,
            lambda: None, lambda: run_process(["ipvsadm", "-Sn"]), lambda: None)
        out["ours"]["what"] = f"read + plan, 0 operations ({self.n_objects} objects live)"
        out["anchor"]["what"] = "ipvsadm -Sn > /dev/null"
        return out

    def changed10(self) -> dict:
        ops = self.n_svc_changed + self.n_dst_changed
        out = self.row(
            "changed10",
            self.load_base, lambda: self.ours(self.changed, ops),
            lambda: self.verify(self.changed, "changed10 ours"),
            # ipvsadm-restore clears the table first (ipvsadm -C, then ipvsadm -R): the
            # changes alone go through ipvsadm -R, which is what restore runs after the clear.
            self.load_base, lambda: run_process(["ipvsadm", "-R"], stdin=self.change_file),
            lambda: self.verify(self.changed, "changed10 ipvsadm -R"))
        out["ours"]["what"] = (f"read + plan + apply, {ops} edits ({self.n_svc_changed} "
                               f"schedulers, {self.n_dst_changed} weights) of "
                               f"{self.n_objects} objects")
        out["anchor"]["what"] = (f"ipvsadm -R < changes ({self.n_change_lines} -E/-e lines; "
                                 "ipvsadm-restore would clear the table first)")
        return out

    # informational
    def startup(self) -> dict:
        parent = str(Path(self.e.nl.__file__).resolve().parents[2])
        code = (f"import sys; sys.path.insert(0, {parent!r}); "
                f"import {self.e.package}.ipvs.reconcile")
        bare = [run_process([sys.executable, "-c", "pass"]) for _ in range(self.args.runs)]
        engine = [run_process([sys.executable, "-c", code]) for _ in range(self.args.runs)]
        return {"python_bare": summary(bare), "python_import_engine": summary(engine)}

    def noop_breakdown(self) -> dict:
        """Where a no-op read goes: syscalls, netlink framing, decode, model, plan."""
        self.load_base()
        samples: dict[str, list[float]] = {}
        counts: dict[str, int] = {}
        for _ in range(self.args.runs):
            for key, value in self._breakdown_once(counts).items():
                samples.setdefault(key, []).append(value)
        out = {key: summary(values) for key, values in samples.items()}
        out["counts"] = counts
        return out

    def _breakdown_once(self, counts: dict[str, int]) -> dict[str, float]:
        nl, m, rc = self.e.nl, self.e.model, self.e.rc
        out: dict[str, float] = {}
        t = clock()
        kernel = nl.IpvsNetlink()
        out["open_socket_resolve_family"] = clock() - t

        # 1. the reads as the engine does them: read_table, then plan
        t = clock()
        live = rc.read_table(kernel)
        out["read_table"] = clock() - t
        t = clock()
        rc.plan(self.desired, live, self.scope)
        out["plan_noop"] = clock() - t

        # 2. system calls only: the same dumps, datagrams kept raw
        identities = [nl.nested(nl.CMD_ATTR_SERVICE, nl.service_identity(s)) for s in live]
        sock = kernel.sock
        calls = {"send": 0, "recv": 0}

        buffer = bytearray(1 << 16)  # the kernel caps dump datagrams at 32 KiB
        buffer_view = memoryview(buffer)

        def receive(bufsize: int) -> bytes:
            if bufsize:
                return sock.recv(bufsize)
            size = sock.recv_into(buffer)
            return bytes(buffer_view[:size])

        def raw_dump(command: int, payload: bytes = b"", bufsize: int = 1 << 20) -> list[bytes]:
            seq, message = kernel._message(kernel.family, command,
                                           nl.NLM_F_REQUEST | nl.NLM_F_DUMP, payload)
            sock.send(message)
            calls["send"] += 1
            datagrams = []
            while True:
                data = receive(bufsize)
                calls["recv"] += 1
                datagrams.append(data)
                # a dump ends with NLMSG_DONE (or an error) in some datagram: find it
                offset = 0
                while offset + 16 <= len(data):
                    length, kind = nl._NLMSGHDR.unpack_from(data, offset)[:2]
                    if kind in (nl.NLMSG_DONE, nl.NLMSG_ERROR):
                        return datagrams
                    offset += (length + 3) & ~3

        t = clock()
        svc_raw = raw_dump(nl.CMD_GET_SERVICE)
        dest_raw = [raw_dump(nl.CMD_GET_DEST, payload) for payload in identities]
        out["syscalls_dumps"] = clock() - t
        counts.update(calls)
        # 2a. the same with smaller receive buffers: recv(1 MiB) makes Python allocate (mmap)
        # and shrink a 1 MiB bytes object on every call, which costs page faults under UML
        for label, bufsize in (("syscalls_dumps_recv_64k", 1 << 16),
                               ("syscalls_dumps_recv_into_prealloc", 0)):
            t = clock()
            raw_dump(nl.CMD_GET_SERVICE, bufsize=bufsize)
            for payload in identities:
                raw_dump(nl.CMD_GET_DEST, payload, bufsize=bufsize)
            out[label] = clock() - t
        counts["datagrams_bytes"] = sum(len(d) for d in svc_raw) + sum(
            len(d) for group in dest_raw for d in group)

        # 3. netlink framing + parse_attrs (top level and nested), as dump() + services() do
        def frame(datagrams: list[bytes], inner: int) -> list[dict[int, bytes]]:
            found = []
            for data in datagrams:
                view = memoryview(data)
                offset = 0
                while offset + 16 <= len(view):
                    length, kind = nl._NLMSGHDR.unpack_from(view, offset)[:2]
                    if kind not in (nl.NLMSG_DONE, nl.NLMSG_ERROR):
                        top = nl.parse_attrs(view[offset + 16 + nl._GENLHDR.size:
                                                  offset + length])
                        if inner in top:
                            found.append(nl.parse_attrs(top[inner]))
                    offset += (length + 3) & ~3
            return found

        t = clock()
        svc_attrs = frame(svc_raw, nl.CMD_ATTR_SERVICE)
        dest_attrs = [frame(group, nl.CMD_ATTR_DEST) for group in dest_raw]
        out["framing_parse_attrs"] = clock() - t
        counts["services"] = len(svc_attrs)
        counts["destinations"] = sum(len(group) for group in dest_attrs)

        # 4. decode (engine's decode_*: values, Stats, model objects with validation)
        t = clock()
        services = [nl.decode_service(a)[0] for a in svc_attrs]
        dests = [[nl.decode_destination(a, 2)[0] for a in group] for group in dest_attrs]
        out["decode_total"] = clock() - t
        # 4a. of which: Stats decode (read_table throws these away)
        t = clock()
        for a in svc_attrs:
            nl._stats(a.get(nl.SVC_STATS64), True)
        for group in dest_attrs:
            for a in group:
                nl._stats(a.get(nl.DEST_STATS64), True)
                nl.DestinationState(
                    active_conns=nl._u(a.get(nl.DEST_ACTIVE_CONNS, b"\0\0\0\0")),
                    inactive_conns=nl._u(a.get(nl.DEST_INACT_CONNS, b"\0\0\0\0")),
                    persistent_conns=nl._u(a.get(nl.DEST_PERSIST_CONNS, b"\0\0\0\0")))
        out["decode_of_which_stats_and_state"] = clock() - t
        # 4b. of which: model construction (dataclass + __post_init__ validation)
        svc_kw = [dict(vars(s)) for s in services]
        dst_kw = [dict(vars(d)) for group in dests for d in group]
        t = clock()
        for kw in svc_kw:
            m.Service(**kw)
        for kw in dst_kw:
            m.Destination(**kw)
        out["decode_of_which_model_construction"] = clock() - t
        # 4c. of which (inside 4b): address parsing with ipaddress
        t = clock()
        for s in services:
            m._canonical_address(s.address, "inet", "x")
        for group in dests:
            for d in group:
                m._canonical_address(d.address, m._family_of(d.address), "x")
        out["model_of_which_ipaddress"] = clock() - t
        # 5. the identity payloads read_table builds for each destination dump
        t = clock()
        for s in live:
            nl.nested(nl.CMD_ATTR_SERVICE, nl.service_identity(s))
        out["dest_dump_requests_build"] = clock() - t
        # 6. what-if: the engine's read_table with _replies() receiving into one preallocated
        # buffer instead of recv(1 MiB) (patched here for the measurement only)
        original = nl.IpvsNetlink._replies
        nl.IpvsNetlink._replies = _replies_recv_into(nl)
        try:
            faults = minor_faults()
            t = clock()
            patched = rc.read_table(kernel)
            out["whatif_read_table_recv_into"] = clock() - t
            counts["whatif_read_table_recv_into_minor_faults"] = minor_faults() - faults
        finally:
            nl.IpvsNetlink._replies = original
        if patched != live:
            raise RuntimeError("the recv_into what-if read a different table")
        faults = minor_faults()
        t = clock()
        rc.read_table(kernel)
        out["read_table_again"] = clock() - t
        counts["read_table_minor_faults"] = minor_faults() - faults
        # 7. reference: the kernel's text view of the same table, one file
        t = clock()
        with open("/proc/net/ip_vs", "rb") as proc:
            counts["proc_net_ip_vs_bytes"] = len(proc.read())
        out["proc_net_ip_vs_read"] = clock() - t
        kernel.close()
        return out

    def apply_breakdown(self) -> dict:
        """A full apply from empty, split into building the requests and pipelining them."""
        nl, rc = self.e.nl, self.e.rc
        samples: dict[str, list[float]] = {}
        for _ in range(self.args.runs):
            self.clear()
            with nl.IpvsNetlink() as kernel:
                operations = rc.plan(self.desired, {}, self.scope).operations
                t = clock()
                requests = [op.request() for op in operations]
                built = clock() - t
                t = clock()
                sent, failures = kernel.pipeline(requests)
                piped = clock() - t
            if failures or sent != len(operations):
                raise RuntimeError(f"pipeline: {sent} sent, failures {failures[:3]}")
            samples.setdefault("build_requests", []).append(built)
            samples.setdefault("pipeline_send", []).append(piped)
        self.verify(self.desired, "apply breakdown")
        return {key: summary(values) for key, values in samples.items()}

    def profile(self) -> str:
        """cProfile of a no-op read + plan, and of a full apply from empty."""
        rc = self.e.rc
        text = io.StringIO()
        text.write("NOTE: under UML each clock read is a system call (no vDSO, ~25 us), and\n"
                   "cProfile reads the clock twice per call: its times are inflated about\n"
                   "100x and follow call counts. Trust ncalls; take times from the breakdown.\n")
        for title, setup, desired in (
                ("no-op: read_table + plan (table loaded)", self.load_base, self.desired),
                ("full apply from empty: read_table + plan + apply", self.clear,
                 self.desired)):
            setup()
            kernel = self.e.nl.IpvsNetlink()
            profiler = cProfile.Profile()
            profiler.enable()
            live = rc.read_table(kernel)
            rc.apply(kernel, rc.plan(desired, live, self.scope), live)
            profiler.disable()
            kernel.close()
            text.write(f"==== cProfile, {title}\n")
            stats = pstats.Stats(profiler, stream=text)
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(25)
        return text.getvalue()


def guest_meta(args: argparse.Namespace, engine: Engine) -> dict:
    version = subprocess.run(["ipvsadm", "--version"], capture_output=True, text=True)
    engine_dir = Path(engine.nl.__file__).resolve().parent
    digests = {path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:16]
               for path in sorted(engine_dir.rglob("*.py"))}
    return {
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "kernel": platform.release(), "python": platform.python_version(),
        "ipvsadm": (version.stdout or version.stderr).strip(),
        "cpus": os.cpu_count(), "loadavg_before": os.getloadavg(),
        "host_loadavg_before": os.environ.get("BENCH_HOST_LOADAVG"),
        "engine": str(engine_dir),
        "engine_commit": os.environ.get("BENCH_ENGINE_COMMIT"),
        "engine_sha256_16": digests,
        "services": args.services, "dests_per_service": args.dests,
        "runs": args.runs, "warmup": args.warmup,
    }


def measure(args: argparse.Namespace) -> int:
    engine = Engine(args.engine)
    run_process(["modprobe", "ip_vs"])
    bench = Bench(engine, args)
    result: dict = {"meta": guest_meta(args, engine)}
    result["meta"]["changes"] = {
        "services_scheduler_changed": bench.n_svc_changed,
        "destinations_weight_changed": bench.n_dst_changed,
        "objects": bench.n_objects,
        "fraction": (bench.n_svc_changed + bench.n_dst_changed) / bench.n_objects}
    log(f"{bench.n_objects} objects; desired table built in {bench.desired_build:.3f} s")
    result["rows"] = {"full_apply": bench.full_apply(), "noop": bench.noop(),
                      "changed10": bench.changed10()}
    result["info"] = {"desired_build": bench.desired_build, **bench.startup()}
    try:
        result["noop_breakdown"] = bench.noop_breakdown()
    except Exception as exc:  # uses engine internals: never lose the rows for it
        result["noop_breakdown"] = {"error": repr(exc)}
    try:
        result["apply_breakdown"] = bench.apply_breakdown()
    except Exception as exc:
        result["apply_breakdown"] = {"error": repr(exc)}
    try:
        result["profile"] = bench.profile()
    except Exception as exc:
        result["profile"] = f"error: {exc!r}"
    bench.clear()
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    log(f"wrote {args.out}")
    return 0


# --- report -------------------------------------------------------------------------------------

def report(path: str) -> int:
    result = json.loads(Path(path).read_text())
    meta = result["meta"]
    print(f"IPVS reconcile benchmark, {meta['utc']}: kernel {meta['kernel']}, python "
          f"{meta['python']}, {meta['ipvsadm']}, {meta['services']} services x "
          f"{meta['dests_per_service']} dests, {meta['runs']} runs (+{meta['warmup']} warm-up)")
    print(f"{'row':<11} {'ours median (min)':>19} {'anchor median (min)':>21} "
          f"{'ratio':>6} {'(min)':>7} {'goal':>5}  met  read / plan / apply (median), "
          "page faults in read")
    for name, row in result["rows"].items():
        ours, anchor = row["ours"], row["anchor"]
        met = "yes" if row["ratio"] <= row["goal"] else "no"
        print(f"{name:<11} {ours['total']['median']:8.3f} ({ours['total']['min']:.3f}) s "
              f"{anchor['median']:10.3f} ({anchor['min']:.3f}) s {row['ratio']:6.3f} "
              f"({row['ratio_min']:.3f}) "
              f"{row['goal']:5.2f}  {met:<3}  {ours['read']['median']:.3f} / "
              f"{ours['plan']['median']:.3f} / {ours['apply']['median']:.3f}, "
              f"{ours.get('read_minor_faults', {}).get('median', '-')}")
    for name, row in result["rows"].items():
        print(f"  {name}: ours = {row['ours']['what']}; anchor = {row['anchor']['what']}")
    info = result.get("info", {})
    if info:
        print(f"  not timed in the rows: building the desired model "
              f"{info['desired_build']:.3f} s; python3 start "
              f"{info['python_bare']['median']:.3f} s, + engine import "
              f"{info['python_import_engine']['median']:.3f} s")
    for title, key in (("no-op read breakdown", "noop_breakdown"),
                       ("full apply breakdown", "apply_breakdown")):
        breakdown = dict(result.get(key, {}))
        if "error" in breakdown:
            print(f"  {title} failed: {breakdown['error']}")
            continue
        counts = breakdown.pop("counts", {})
        if breakdown:
            print(f"  {title} (median s):")
        for name, value in breakdown.items():
            print(f"    {name:<38} {value['median']:7.3f}  (min {value['min']:.3f})")
        if counts:
            print("    " + ", ".join(f"{name} {value}" for name, value in counts.items()))
    rows = result["rows"]
    for name in ("changed10", "full_apply", "noop"):
        print(f"{RATIO_NAMES[name]}: {rows[name]['ratio']:.3f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p_measure = sub.add_parser("measure", help="run the benchmark (on the guest, as root)")
    p_measure.add_argument("--engine", help="a copy of the core package lvs_cluster "
                           f"(default: import {PACKAGE} from PYTHONPATH)")
    p_measure.add_argument("--out", required=True, help="JSON result file")
    p_measure.add_argument("--workdir", default="/tmp/lvsbench-work")
    p_measure.add_argument("--services", type=int, default=1000)
    p_measure.add_argument("--dests", type=int, default=4)
    p_measure.add_argument("--runs", type=int, default=5)
    p_measure.add_argument("--warmup", type=int, default=1)
    p_report = sub.add_parser("report", help="print a result")
    p_report.add_argument("file")
    args = parser.parse_args(argv)
    if args.mode == "measure":
        return measure(args)
    return report(args.file)


if __name__ == "__main__":
    sys.exit(main())
