#!/usr/bin/env python3
"""Python start-up and import cost of the engine, the lvs-cf CLI, the agents and the modules.

Runs on a lab guest (or the host) with the standard library alone: `measure()` for a script such
as bench/run-reconcile.sh, the table from `__main__`.

Every row is a fresh `python3 -c 'import X'` process (fork/exec included) with the trees on
PYTHONPATH, timed by wall clock --runs times after one untimed warm-up run (which writes the
__pycache__ files, as the router role's compileall does); the rows take turns (round robin), so a
burst of load on a shared host spreads over all of them. A row's import cost is its time minus
`python3 -c pass`'s: median - median, and min - min (the min is the steadier figure on a loaded
host). Each row also gets the number of modules the import loads and the child's minor page
faults beyond `pass`'s: under User-Mode Linux every system call and page fault is a round trip
through the host, and these two counts do not move with the host's load. Then each module's
smallest self time over three `-X importtime` runs of the engine.

    python3 bench/import_time.py                  # a clone's plugins/module_utils, files/lib
    python3 import_time.py --path /root/lvsbench  # a guest's folder with lvs_cluster/ (lvs_agents/)
    python3 import_time.py --path DIR --json out.json --compare before.json
    python3 import_time.py --path NEW --before-path OLD   # two trees, runs interleaved

Rows whose package is not under --path (lvs_agents when only the core was copied) are skipped.
The last lines are `engine_modules:`, `engine_page_faults:`, `engine_import_min_s:` and
`engine_import_s:` (with --compare or --before-path: `<before> -> <after>`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PATH = [os.path.join(HERE, "..", "plugins", "module_utils"),
                os.path.join(HERE, "..", "files", "lib")]

ENGINE = "engine"
# row name -> modules imported (what the entry point or the Ansible module imports from the core)
_MODULE = ["lvs_cluster.ipvs.netlink", "lvs_cluster.ipvs.reconcile", "lvs_cluster.ipvs.options",
           "lvs_cluster.ipvs.results"]
TARGETS = {
    ENGINE: ["lvs_cluster.ipvs.reconcile"],
    "lvs-cf": ["lvs_cluster.lvs_cf.cli"],
    "pulse": ["lvs_agents.pulse"],
    "lvsd": ["lvs_agents.lvsd"],
    "nanny": ["lvs_agents.nanny"],
    "lvs-status": ["lvs_agents.status"],
    "send_arp": ["lvs_agents.send_arp"],
    "m:ipvs_service": _MODULE,
    "m:ipvs_real_server": [*_MODULE, "lvs_cluster.ipvs.drain"],
    "m:ipvs_table": [*_MODULE, "lvs_cluster.ipvs.drain", "lvs_cluster.ipvs.text"],
    "m:ipvs_info": ["lvs_cluster.ipvs.netlink", "lvs_cluster.ipvs.results"],
    "m:kernel_params": ["lvs_cluster.kernel_params"],
    "m:lvs_cf": ["lvs_cluster.lvs_cf.errors", "lvs_cluster.lvs_cf.shells"],
    "m:lvs_import": ["lvs_cluster.importing.result", "lvs_cluster.importing.source"],
}
COUNT_CODE = ("import sys; before = set(sys.modules); import {mods}; "
              "print(len(set(sys.modules) - before))")


def _env(path: list[str]) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(path)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(python: str, code: str, env: dict[str, str],
         args: tuple[str, ...] = ()) -> tuple[float, str, str, int]:
    """Wall clock, stdout, stderr and the child's minor page faults (under UML each fault is a
    round trip through the host: with the module count, a figure a loaded host does not blur)."""
    faults = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt
    start = time.perf_counter()
    proc = subprocess.run([python, *args, "-c", code], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    faults = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt - faults
    if proc.returncode != 0:
        raise RuntimeError(f"{python} -c {code!r} failed: {proc.stderr.strip()[-500:]}")
    return elapsed, proc.stdout, proc.stderr, faults


def _interleaved(python: str, jobs: list[tuple[object, str, dict[str, str]]],
                 runs: int) -> dict[object, list[tuple[float, int]]]:
    """Time each (key, code, env) job runs times, round robin, after one untimed warm-up each
    ((seconds, minor faults) per run)
    (writes __pycache__, warms the page cache). Round robin spreads a burst of load on a shared
    host over every row instead of one."""
    for _, code, env in jobs:
        _run(python, code, env)
    samples: dict[object, list[tuple[float, int]]] = {key: [] for key, _, _ in jobs}
    for _ in range(runs):
        for key, code, env in jobs:
            elapsed, _, _, faults = _run(python, code, env)
            samples[key].append((elapsed, faults))
    return samples


def _available(mods: list[str], path: list[str]) -> bool:
    """Whether every module of a row is in the tree (an older tree may lack a newer module)."""
    def found(module: str) -> bool:
        parts = module.split(".")
        return any(os.path.isdir(os.path.join(p, *parts))
                   or os.path.isfile(os.path.join(p, *parts[:-1], parts[-1] + ".py"))
                   for p in path)
    return all(found(module) for module in mods)


def importtime(python: str, mods: list[str], env: dict[str, str], top: int = 15,
               repeats: int = 3) -> dict:
    """`-X importtime` of importing mods: each module's smallest self time over repeats runs (after
    a warm run; the minimum filters out a loaded host's bursts), the largest of those, the count."""
    code = "import " + ", ".join(mods)
    _run(python, code, env)
    base = {e[0] for e in _parse_importtime(_run(python, "pass", env, ("-X", "importtime"))[2])}
    best: dict[str, list[int]] = {}
    for _ in range(repeats):
        stderr = _run(python, code, env, ("-X", "importtime"))[2]
        for name, self_us, cumulative in _parse_importtime(stderr):
            if name in base:
                continue
            old = best.setdefault(name, [self_us, cumulative])
            old[0], old[1] = min(old[0], self_us), min(old[1], cumulative)
    entries = sorted(best.items(), key=lambda e: e[1][0], reverse=True)
    return {"modules": len(entries), "self_us_total": sum(v[0] for _, v in entries),
            "repeats": repeats, "top_self_us": [[name, v[0], v[1]] for name, v in entries[:top]]}


def _parse_importtime(stderr: str) -> list[tuple[str, int, int]]:
    out = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative, name = line[len("import time:"):].split("|")
        out.append((name.strip(), int(self_us), int(cumulative)))
    return out


def measure(python: str = "python3", runs: int = 5, path: list[str] | None = None,
            targets: dict[str, list[str]] | None = None, profile: bool = True) -> dict:
    """Time `python -c pass` and each target's import; returns a JSON-able dict.

    path: folders holding lvs_cluster/ (and lvs_agents/), put on PYTHONPATH; default the clone's.
    """
    return compare(python, runs, {"": path}, targets, profile)[""]


def compare(python: str, runs: int, paths: dict[str, list[str] | None],
            targets: dict[str, list[str]] | None = None, profile: bool = True) -> dict[str, dict]:
    """measure() for several trees (label -> path), their runs interleaved: a before/after pair
    measured this way sees the same host load. Returns label -> measure()'s dict."""
    targets = TARGETS if targets is None else targets
    setups = {}
    jobs = []
    for label, path in paths.items():
        path = [os.path.abspath(p) for p in (path or DEFAULT_PATH)]
        env = _env(path)
        rows = {name: mods for name, mods in targets.items() if _available(mods, path)}
        setups[label] = (path, env, rows)
        jobs.append(((label, "pass"), "pass", env))
        jobs += [((label, name), "import " + ", ".join(mods), env) for name, mods in rows.items()]
    samples = _interleaved(python, jobs, runs)
    out = {}
    for label, (path, env, rows) in setups.items():
        startup = [elapsed for elapsed, _ in samples[(label, "pass")]]
        startup_faults = statistics.median(faults for _, faults in samples[(label, "pass")])
        startup_median = statistics.median(startup)
        result_rows = []
        for name, mods in rows.items():
            times = [elapsed for elapsed, _ in samples[(label, name)]]
            faults = statistics.median(faults for _, faults in samples[(label, name)])
            count = int(_run(python, COUNT_CODE.format(mods=", ".join(mods)), env)[1].strip() or 0)
            median = statistics.median(times)
            result_rows.append({"name": name, "modules": mods, "median_s": median,
                                "min_s": min(times), "import_s": median - startup_median,
                                "import_min_s": min(times) - min(startup),
                                "modules_loaded": count, "page_faults": faults - startup_faults,
                                "samples_s": times})
        result = {
            "python": _run(python, "import sys; print(sys.version.split()[0])", env)[1].strip(),
            "runs": runs, "path": path, "startup_s": startup_median, "startup_min_s": min(startup),
            "startup_samples_s": startup, "startup_page_faults": startup_faults,
            "rows": result_rows, "loadavg": _loadavg(),
        }
        engine = next((r for r in result_rows if r["name"] == ENGINE), None)
        if engine is not None:
            result["engine_import_s"] = engine["import_s"]
            result["engine_import_min_s"] = engine["import_min_s"]
            if profile:
                result["engine_importtime"] = importtime(python, engine["modules"], env)
        out[label] = result
    return out


def _loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return ""


def report(result: dict, before: dict | None = None) -> str:
    """The table (with before's import columns when given) and the engine_import_s lines."""
    old = {r["name"]: r for r in (before or {}).get("rows", [])}
    startup = f"median {result['startup_s']:.3f}, min {result['startup_min_s']:.3f}"
    if before:
        startup += f"  (before: {before['startup_s']:.3f}, {before['startup_min_s']:.3f})"
    lines = [f"python {result['python']}, {result['runs']} runs per row (round robin), "
             f"load {result['loadavg']}",
             f"startup_s (python3 -c pass): {startup}",
             "import = the row's time - pass's (median - median, min - min); modules loaded and "
             "page faults (median) beyond pass's", ""]
    head = ("| row | median s | min s | import median s | import min s | modules loaded "
            "| page faults |")
    if before:
        head += " before: import median s | import min s | modules | page faults |"
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for r in result["rows"]:
        line = (f"| {r['name']} | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['import_s']:.3f} "
                f"| {r['import_min_s']:.3f} | {r['modules_loaded']} | {r['page_faults']:.0f} |")
        if before:
            b = old.get(r["name"])
            line += (f" {b['import_s']:.3f} | {b['import_min_s']:.3f} | {b['modules_loaded']} "
                     f"| {b['page_faults']:.0f} |" if b else " - | - | - | - |")
        lines.append(line)
    prof = result.get("engine_importtime")
    if prof:
        lines += ["", f"engine -X importtime (each module's min of {prof['repeats']} runs): "
                      f"{prof['modules']} modules beyond start-up, self total "
                      f"{prof['self_us_total'] / 1e6:.3f} s; largest:"]
        lines += [f"  {self_us / 1e3:8.1f} ms self  {cum / 1e3:8.1f} ms cumulative  {name}"
                  for name, self_us, cum in prof["top_self_us"]]
    if "engine_import_s" in result:
        lines.append("")
        engine = next(r for r in result["rows"] if r["name"] == ENGINE)
        was = old.get(ENGINE)
        lines.append(f"engine_modules: {was['modules_loaded']} -> {engine['modules_loaded']}" if was
                     else f"engine_modules: {engine['modules_loaded']}")
        lines.append(f"engine_page_faults: {was['page_faults']:.0f} -> {engine['page_faults']:.0f}"
                     if was else f"engine_page_faults: {engine['page_faults']:.0f}")
        if before and "engine_import_s" in before:
            lines.append(f"engine_import_min_s: {before['engine_import_min_s']:.3f} -> "
                         f"{result['engine_import_min_s']:.3f}")
            lines.append(f"engine_import_s: {before['engine_import_s']:.3f} -> "
                         f"{result['engine_import_s']:.3f}")
        else:
            lines.append(f"engine_import_min_s: {result['engine_import_min_s']:.3f}")
            lines.append(f"engine_import_s: {result['engine_import_s']:.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="python3")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--path", action="append",
                        help="a folder holding lvs_cluster/ (and lvs_agents/); repeatable")
    parser.add_argument("--before-path", action="append",
                        help="an older tree, measured interleaved with --path: before/after")
    parser.add_argument("--only", action="append", help="only these rows (repeatable), e.g. engine")
    parser.add_argument("--json", help="write the result here (with --before-path: both, by label)")
    parser.add_argument("--compare", help="a result JSON of an earlier run: print before/after")
    parser.add_argument("--no-profile", action="store_true", help="skip the -X importtime runs")
    args = parser.parse_args(argv)
    targets = {k: v for k, v in TARGETS.items() if not args.only or k in args.only}
    before = None
    if args.before_path:
        both = compare(args.python, args.runs, {"before": args.before_path, "after": args.path},
                       targets, profile=not args.no_profile)
        before, result = both["before"], both["after"]
        saved: dict = both
    else:
        result = saved = measure(args.python, args.runs, args.path, targets,
                                 profile=not args.no_profile)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(saved, f, indent=1)
    if args.compare:
        with open(args.compare) as f:
            before = json.load(f)
    if before and args.before_path:
        print("before:\n" + report(before) + "\n\nafter:")
    print(report(result, before))
    return 0


if __name__ == "__main__":
    sys.exit(main())
