#!/usr/bin/env python3
# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark the IPVS reconcile engine against ipvsadm, inside a guest with a real IPVS kernel.

Two modes (standard library only; see bench/README.md):

  reconcile.py measure --engine DIR --out FILE.json [--rungs 1000x4,10000x10 --runs 3]
      Runs ON the guest, as root. DIR is a copy of the core package
      plugins/module_utils/lvs_cluster; without --engine the package ``lvs_cluster`` is
      imported from PYTHONPATH. It clears and rewrites the IPVS table.

  reconcile.py report FILE.json
      Prints the tables of a result; the last lines are the ratios ours/anchor per rung and
      the growth factors between the rungs.

Each rung is a table of SERVICES x DESTS (bench/reconcile_table.py: mixed TCP/UDP/fwmark,
IPv4/IPv6, a few persistent). Rows (each repeated --runs times after --warmup untimed rounds,
ours and the anchor interleaved; the IPVS table is reset between runs, never inside a timed
path; after every timed step the kernel table is read back and must plan to 0 operations):

  full_apply  read the live (empty) table + plan(desired, live) + apply, from a fresh
              netlink socket, vs ``ipvsadm-restore < file`` of the same table (whole process).
  noop        read the live table + plan (no operation), vs ``ipvsadm -Sn > /dev/null``.
  changed10   10 % of the objects changed (every 10th service another scheduler, every 10th
  changed1    destination another weight; 1 %: every 100th): read + plan + apply, vs
              ``ipvsadm -R`` of only the changes (``-E``/``-e`` lines): ``ipvsadm-restore``
              is a script that runs ``ipvsadm -C`` and then ``ipvsadm -R``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reconcile_breakdown  # noqa: E402 - beside this file, on the guest too
import reconcile_table as tables  # noqa: E402

GOALS = {"full_apply": 0.1, "noop": 0.3, "changed10": 1.0, "changed1": 1.0}
RATIO_NAMES = {"full_apply": "full_apply_vs_restore", "noop": "noop_vs_save",
               "changed10": "changed10_vs_restore", "changed1": "changed1_vs_restore"}
GROWTH_GOAL = 30.0
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

class Rung:
    """One table size: its tables, restore files and rows."""

    def __init__(self, engine: Engine, args: argparse.Namespace, services: int,
                 dests: int) -> None:
        self.e = engine
        self.args = args
        self.name = f"{services}x{dests}"
        self.work = Path(args.workdir) / self.name
        self.work.mkdir(parents=True, exist_ok=True)
        started = clock()
        self.desired = tables.build_desired(engine.model, services, dests)
        self.desired_build = clock() - started
        self.n_objects = tables.count_objects(self.desired)
        self.base_file = self.work / "table.restore"
        self.base_file.write_text("\n".join(tables.restore_lines(self.desired)) + "\n")
        self.changes = {}
        for row, every in (("changed10", 10), ("changed1", 100)):
            table, n_services, n_dests = tables.changed_table(self.desired, every)
            lines = tables.change_lines(self.desired, table)
            path = self.work / f"{row}.restore"
            path.write_text("\n".join(lines) + "\n")
            self.changes[row] = {"table": table, "services": n_services, "dests": n_dests,
                                 "file": path, "lines": len(lines)}
        self.scope = engine.rc.Scope.everything()

    # table state (never timed)
    def clear(self) -> None:
        """An empty IPVS as after boot: the module unloaded and loaded again. ``ipvsadm -C``
        alone is not that: the kernel keeps deleted destinations in a trash list for minutes
        and scans the whole list for every destination added (``ip_vs_trash_get_dest``), so
        adding 100,000 destinations after deleting 100,000 took 180 s instead of 12 s, on
        both sides."""
        run_process(["ipvsadm", "-C"])
        loaded = [line.split()[0] for line in Path("/proc/modules").read_text().splitlines()
                  if line.startswith("ip_vs")]
        schedulers = [name for name in loaded if name != "ip_vs"]
        if "ip_vs" in loaded:
            run_process(["rmmod", *schedulers, "ip_vs"])
        # the schedulers too: a first service would load its own from the kernel, in a row
        run_process(["modprobe", "-a", "ip_vs", "ip_vs_wlc", "ip_vs_rr"])

    def load_base(self) -> None:
        """The base table, by the engine (untimed set-up: at 110,000 objects ipvsadm-restore
        takes minutes under UML); every row checks the table it leaves anyway."""
        self.clear()
        rc = self.e.rc
        with self.e.nl.IpvsNetlink() as kernel:
            rc.apply(kernel, rc.plan(self.desired, {}, self.scope), {})

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
            log(f"{self.name} {name} {label}: ours {split['total']:.3f} s (read "
                f"{split['read']:.3f}, plan {split['plan']:.3f}, apply {split['apply']:.3f}; "
                f"{split['read_minor_faults']} page faults in read), anchor "
                f"{anchor_time:.3f} s")
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
        out["ours"]["what"] = f"read + plan + apply, {self.n_objects} operations"
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

    def changed(self, name: str) -> dict:
        change = self.changes[name]
        ops = change["services"] + change["dests"]
        out = self.row(
            name,
            self.load_base, lambda: self.ours(change["table"], ops),
            lambda: self.verify(change["table"], f"{name} ours"),
            self.load_base, lambda: run_process(["ipvsadm", "-R"], stdin=change["file"]),
            lambda: self.verify(change["table"], f"{name} ipvsadm -R"))
        out["ours"]["what"] = (f"read + plan + apply, {ops} edits ({change['services']} "
                               f"schedulers, {change['dests']} weights) of "
                               f"{self.n_objects} objects")
        out["anchor"]["what"] = f"ipvsadm -R < changes ({change['lines']} -E/-e lines)"
        return out

    def measure(self) -> dict:
        log(f"{self.name}: {self.n_objects} objects; desired table built in "
            f"{self.desired_build:.3f} s")
        rows = {"full_apply": self.full_apply(), "noop": self.noop(),
                "changed10": self.changed("changed10"), "changed1": self.changed("changed1")}
        out: dict = {"objects": self.n_objects, "desired_build": self.desired_build,
                     "rows": rows}
        self.load_base()
        try:  # engine internals: never lose the rows for it
            out["noop_breakdown"] = reconcile_breakdown.breakdown(
                self.e, self.desired, self.scope, self.args.runs, summary)
            out["profile"] = reconcile_breakdown.profile_noop(self.e, self.desired, self.scope)
        except Exception as exc:  # noqa: BLE001
            out["noop_breakdown"] = {"error": repr(exc)}
        self.clear()
        return out


def startup(engine: Engine, runs: int) -> dict:
    parent = str(Path(engine.nl.__file__).resolve().parents[2])
    code = f"import sys; sys.path.insert(0, {parent!r}); import {engine.package}.ipvs.reconcile"
    bare = [run_process([sys.executable, "-c", "pass"]) for _ in range(runs)]
    imported = [run_process([sys.executable, "-c", code]) for _ in range(runs)]
    return {"python_bare": summary(bare), "python_import_engine": summary(imported),
            "engine_import": statistics.median(imported) - statistics.median(bare)}


def guest_meta(args: argparse.Namespace, engine: Engine) -> dict:
    version = subprocess.run(["ipvsadm", "--version"], capture_output=True, text=True)
    engine_dir = Path(engine.nl.__file__).resolve().parent.parent
    digests = {str(path.relative_to(engine_dir)): hashlib.sha256(path.read_bytes()).hexdigest()[:16]
               for path in sorted(engine_dir.rglob("*.py"))}
    with open("/proc/meminfo") as meminfo:
        memory = meminfo.readline().split()[1]
    return {
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "kernel": platform.release(), "python": platform.python_version(),
        "ipvsadm": (version.stdout or version.stderr).strip(),
        "cpus": os.cpu_count(), "mem_total_kib": int(memory),
        "loadavg_before": os.getloadavg(),
        "host_loadavg_before": os.environ.get("BENCH_HOST_LOADAVG"),
        "engine": str(engine_dir), "engine_commit": os.environ.get("BENCH_ENGINE_COMMIT"),
        "engine_sha256_16": digests, "rungs": args.rungs, "runs": args.runs,
        "warmup": args.warmup,
    }


def parse_rungs(text: str) -> list[tuple[int, int]]:
    rungs = []
    for part in text.split(","):
        services, _, dests = part.strip().partition("x")
        rungs.append((int(services), int(dests)))
    return rungs


def measure(args: argparse.Namespace) -> int:
    engine = Engine(args.engine)
    run_process(["modprobe", "ip_vs"])
    result: dict = {"meta": guest_meta(args, engine), "rungs": {}}
    for services, dests in parse_rungs(args.rungs):
        rung = Rung(engine, args, services, dests)
        result["rungs"][rung.name] = rung.measure()
        del rung
    result["info"] = startup(engine, args.runs)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    log(f"wrote {args.out}")
    return 0


# --- report -------------------------------------------------------------------------------------

def _rungs(result: dict) -> dict:
    """Rungs by name; a result of the one-rung format (before 2026-12) as its only rung."""
    if "rungs" in result:
        return result["rungs"]
    meta = result["meta"]
    return {f"{meta['services']}x{meta['dests_per_service']}": result}


def _print_rung(name: str, rung: dict) -> None:
    print(f"{name} ({rung.get('objects', '?')} objects)")
    print(f"  {'row':<11} {'ours median (min)':>19} {'anchor median (min)':>21} "
          f"{'ratio':>6} {'(min)':>7} {'goal':>5}  met  read / plan / apply (median)")
    for row_name, row in rung["rows"].items():
        ours, anchor = row["ours"], row["anchor"]
        met = "yes" if row["ratio"] <= row["goal"] else "no"
        print(f"  {row_name:<11} {ours['total']['median']:8.3f} ({ours['total']['min']:.3f}) s "
              f"{anchor['median']:10.3f} ({anchor['min']:.3f}) s {row['ratio']:6.3f} "
              f"({row['ratio_min']:.3f}) {row['goal']:5.2f}  {met:<3}  "
              f"{ours['read']['median']:.3f} / {ours['plan']['median']:.3f} / "
              f"{ours['apply']['median']:.3f}")
    for row_name, row in rung["rows"].items():
        print(f"    {row_name}: ours = {row['ours']['what']}; anchor = {row['anchor']['what']}")
    breakdown = dict(rung.get("noop_breakdown", {}))
    if "error" in breakdown:
        print(f"    no-op breakdown failed: {breakdown['error']}")
    elif breakdown:
        counts = breakdown.pop("counts", {})
        print("    no-op breakdown (median s): " + ", ".join(
            f"{key} {value['median']:.3f}" for key, value in breakdown.items()))
        print("      " + ", ".join(f"{key} {value}" for key, value in counts.items()))


def report(path: str) -> int:
    result = json.loads(Path(path).read_text())
    meta = result["meta"]
    rungs = _rungs(result)
    print(f"IPVS reconcile benchmark, {meta['utc']}: kernel {meta['kernel']}, python "
          f"{meta['python']}, {meta['ipvsadm']}, engine {meta.get('engine_commit')}, "
          f"{meta['runs']} runs (+{meta['warmup']} warm-up), guest load "
          f"{meta['loadavg_before']}, host load {meta.get('host_loadavg_before')}")
    for name, rung in rungs.items():
        _print_rung(name, rung)
    info = result.get("info", {})
    if "python_bare" in info:
        print(f"python3 start {info['python_bare']['median']:.3f} s, with the engine's import "
              f"{info['python_import_engine']['median']:.3f} s")
    for name, rung in rungs.items():
        for row_name, row in rung["rows"].items():
            print(f"{name} {RATIO_NAMES[row_name]}: {row['ratio']:.3f}")
    if len(rungs) > 1:
        names = list(rungs)
        small, large = rungs[names[0]], rungs[names[-1]]
        objects = large.get("objects", 0) / max(small.get("objects", 1), 1)
        for row_name, label in (("full_apply", "growth_full"), ("noop", "growth_noop"),
                                ("changed10", "growth_changed10"),
                                ("changed1", "growth_changed1")):
            if row_name not in small["rows"] or row_name not in large["rows"]:
                continue
            ours = (large["rows"][row_name]["ours"]["total"]["median"]
                    / small["rows"][row_name]["ours"]["total"]["median"])
            anchor = (large["rows"][row_name]["anchor"]["median"]
                      / small["rows"][row_name]["anchor"]["median"])
            print(f"{label}: {ours:.1f} (anchor {anchor:.1f}; {names[-1]}/{names[0]}, "
                  f"{objects:.0f}x the objects; goal <= {GROWTH_GOAL:.0f})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p_measure = sub.add_parser("measure", help="run the benchmark (on the guest, as root)")
    p_measure.add_argument("--engine", help="a copy of the core package lvs_cluster "
                           f"(default: import {PACKAGE} from PYTHONPATH)")
    p_measure.add_argument("--out", required=True, help="JSON result file")
    p_measure.add_argument("--workdir", default="/tmp/lvsbench-work")
    p_measure.add_argument("--rungs", default="1000x4,10000x10",
                           help="SERVICESxDESTS,... (default %(default)s)")
    p_measure.add_argument("--runs", type=int, default=3)
    p_measure.add_argument("--warmup", type=int, default=1)
    p_report = sub.add_parser("report", help="print a result")
    p_report.add_argument("file")
    args = parser.parse_args(argv)
    if args.mode == "measure":
        return measure(args)
    return report(args.file)


if __name__ == "__main__":
    sys.exit(main())
