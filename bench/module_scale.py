#!/usr/bin/env python3
# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module ipvs_table at scale: whole Ansible tasks against the engine alone (bench/README.md).

  module_scale.py run --lab NAME --out FILE.json [--services 10000 --dests 10 --runs 3]
      On the controller (root), with the lab NAME up (one guest, lvs1): writes the vars file,
      times each case as whole ansible-playbook tasks run inside the lab's namespace, then runs
      this file on the guest (`engine`, `pieces`) and writes the result.
  module_scale.py engine --path DIR --package PKG --vars FILE [--runs 3]        (on the guest)
      The engine alone on the same table: build, read_table + plan (empty / live), apply.
  module_scale.py pieces --ansiballz FILE [--diff]                             (on the guest)
      The module's run split into pieces, from the payload Ansible sent (kept on the guest).
  module_scale.py report FILE.json
      Prints a result; the last line is module_noop_vs_engine.

Guest modes use the standard library only (plus the code they are pointed at).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

clock = time.perf_counter
REPO = Path(__file__).resolve().parent.parent
GUEST = "lvs1"
REMOTE = "/root/modscale"
NOOP_GOAL = 3.0

TIMER_CALLBACK = '''
from __future__ import annotations
import json, os, time
from ansible.plugins.callback import CallbackBase

class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "lvs_bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tasks, self.current = [], {}

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.current = {"task": task.get_name(), "start": time.monotonic()}

    def _done(self, result, status):
        seconds = time.monotonic() - self.current["start"]
        res = result._result
        entry = dict(self.current, seconds=seconds, status=status,
                     changed=bool(res.get("changed")),
                     operations=len(res.get("operations") or []),
                     result_bytes=len(json.dumps(res, default=str)),
                     diff_bytes=len(json.dumps(res.get("diff"), default=str)))
        if status != "ok":
            entry["msg"] = str(res.get("msg"))[:500]
        self.tasks.append(entry)

    def v2_runner_on_ok(self, result):
        self._done(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._done(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._done(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        with open(os.environ["LVS_BENCH_TIMER_OUT"], "w") as out:
            json.dump(self.tasks, out)
'''

TASKS = {
    "command_true": {"ansible.builtin.command": "true"},
    "ipvs_info": {"lvs.cluster.ipvs_info": {"stats": False}},
    "table_1": {"lvs.cluster.ipvs_table": {"services": "{{ lvs_bench_tiny }}"}},
    "table_big": {"lvs.cluster.ipvs_table": {"services": "{{ lvs_bench_services }}"}},
}


# --- the declaration ----------------------------------------------------------------------------

def generate_services(count: int, dests: int) -> list[dict[str, Any]]:
    """count services of dests destinations each: per 10 services 6 TCP and 2 UDP IPv4, 1 TCP
    IPv6, 1 fwmark; every 50th persistent; NAT and direct routing, weights 1-5."""
    services: list[dict[str, Any]] = []
    for i in range(count):
        kind = i % 10
        base = i * dests
        if kind == 8:
            service: dict[str, Any] = {"address": f"fd00:10::{i >> 16:x}:{i & 0xffff:x}",
                                       "port": 443,
                                       "scheduler": "wrr"}
            addresses = [f"fd00:20::{(base + j) >> 16:x}:{(base + j) & 0xffff:x}"
                         for j in range(dests)]
        else:
            addresses = [f"10.{20 + k // 62500}.{k // 250 % 250}.{k % 250 + 1}"
                         for k in range(base, base + dests)]
            if kind == 9:
                service = {"fwmark": i + 1, "scheduler": "rr"}
            else:
                service = {"protocol": "udp" if kind in (6, 7) else "tcp",
                           "address": f"10.10.{i // 250}.{i % 250 + 1}",
                           "port": 53 if kind in (6, 7) else 80}
        if i % 50 == 0:
            service.update(persistence_timeout=300, persistence_netmask=24 if kind != 8 else 64)
        service["destinations"] = [
            {"address": address, "forwarding": "nat" if kind < 6 else "direct",
             "weight": 1 + (base + j) % 5} for j, address in enumerate(addresses)]
        services.append(service)
    return services


# --- helpers ------------------------------------------------------------------------------------

def summary(values: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": [round(v, 4) for v in values]}


def log(message: str) -> None:
    print(f"module-scale: {message}", file=sys.stderr, flush=True)


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, text=True, capture_output=True, check=False, **kwargs)
    if done.returncode:
        raise RuntimeError(f"{' '.join(argv[:6])} ... failed ({done.returncode}):\n"
                           f"{(done.stdout + done.stderr)[-3000:]}")
    return done


# --- controller side ----------------------------------------------------------------------------

class Controller:
    """ansible-playbook inside the lab's namespace, and ssh/scp to its guest."""

    def __init__(self, lab: str, work: Path) -> None:
        self.lab = lab
        self.state = REPO / ".lab" / lab
        self.work = work
        (work / "callbacks").mkdir(parents=True, exist_ok=True)
        (work / "callbacks" / "lvs_bench_timer.py").write_text(TIMER_CALLBACK)
        self.env = {**os.environ, "ANSIBLE_CONFIG": str(self.state / "ansible.cfg"),
                    # this lab's SSH masters only: labs share guest addresses
                    "ANSIBLE_SSH_CONTROL_PATH_DIR": str(REPO / ".lab" / "cp" / lab),
                    "ANSIBLE_CALLBACK_PLUGINS": str(work / "callbacks"),
                    "ANSIBLE_CALLBACKS_ENABLED": "lvs_bench_timer",
                    "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
                    "ANSIBLE_NOCOLOR": "1"}

    def ssh(self, command: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run(["ssh", "-F", str(self.state / "ssh_config"), GUEST, command], **kwargs)

    def scp(self, source: str, target: str) -> None:
        run(["scp", "-q", "-F", str(self.state / "ssh_config"), source, target])

    def clear(self) -> None:
        self.ssh("ipvsadm -C")

    def playbook(self, name: str, tasks: list[dict[str, Any]], vars_file: Path,
                 env: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], float]:
        """One play: load the vars file once (set_fact), then the tasks; each task's time by
        the timer callback, and the whole process's wall time. Not vars_files: Ansible 2.19
        deep-copies a vars file's data at every variable lookup (~1 min per task here)."""
        load = {"name": "load", "ansible.builtin.set_fact": {
            "lvs_bench_services": f"{{{{ (lookup('ansible.builtin.file', '{vars_file}') "
                                  "| from_json)['services'] }}",
            "lvs_bench_tiny": generate_services(1, 1)}}
        book = self.work / f"{name}.yml"
        book.write_text(json.dumps([{"name": name, "hosts": GUEST, "gather_facts": False,
                                     "tasks": [load, *tasks]}]))  # JSON is YAML
        timer = self.work / f"{name}.timer.json"
        argv = ["ip", "netns", "exec", self.lab, str(REPO / ".venv/bin/ansible-playbook"),
                str(book)]
        started = clock()
        done = subprocess.run(argv, env={**self.env, "LVS_BENCH_TIMER_OUT": str(timer),
                                         **(env or {})},
                              text=True, capture_output=True, check=False)
        wall = clock() - started
        (self.work / f"{name}.log").write_text(done.stdout + done.stderr)
        if done.returncode or not timer.exists():
            raise RuntimeError(f"{name}: ansible-playbook failed ({done.returncode}):\n"
                               f"{(done.stdout + done.stderr)[-3000:]}")
        return json.loads(timer.read_text()), wall


CLEAR = {"ansible.builtin.command": "ipvsadm -C"}


def case_tasks(runs: int) -> list[tuple[str, dict[str, Any], int | None]]:
    """(case, task, expected operations) in order; cases named clear_* only reset the table."""
    cases: list[tuple[str, dict[str, Any], int | None]] = [("clear", CLEAR, None)]
    for name, task, ops, times in (("overhead_command_true", "command_true", None, runs),
                                   ("overhead_ipvs_info_empty", "ipvs_info", None, runs),
                                   ("overhead_table_1_apply", "table_1", 2, 1),
                                   ("overhead_table_1_noop", "table_1", 0, runs)):
        cases += [(name, TASKS[task], ops)] * times
    cases.append(("clear", CLEAR, None))
    big = TASKS["table_big"]
    cases += [("a_check_empty", {**big, "check_mode": True}, -1)] * runs
    cases += [("clear", CLEAR, None), ("b_apply", big, -1)] * runs
    cases += [("c_noop", big, 0)] * runs
    cases += [("d_noop_check", {**big, "check_mode": True}, 0)] * runs
    cases += [("e_noop_check_diff", {**big, "check_mode": True, "diff": True}, 0)]
    return cases


def measure_cases(ctl: Controller, vars_file: Path, runs: int, expected_ops: int
                  ) -> dict[str, Any]:
    plan = case_tasks(runs)
    entries, wall = ctl.playbook("cases", [{"name": name, **task} for name, task, _ in plan],
                                 vars_file)
    cases: dict[str, Any] = {"load_vars_set_fact": {"task": summary([entries[0]["seconds"]])},
                             "whole_playbook": {"task": summary([wall])}}
    grouped: dict[str, list[dict[str, Any]]] = {}
    for (name, _task, ops), entry in zip(plan, entries[1:], strict=True):
        want = expected_ops if ops == -1 else ops
        if entry["status"] != "ok" or (want is not None and entry["operations"] != want):
            raise RuntimeError(f"{name}: {entry}")
        log(f"{name}: task {entry['seconds']:.2f} s, {entry['operations']} operations, "
            f"result {entry['result_bytes'] / 1e6:.2f} MB")
        if name != "clear":
            grouped.setdefault(name, []).append(entry)
    for name, samples in grouped.items():
        cases[name] = {"task": summary([s["seconds"] for s in samples]),
                       "operations": samples[-1]["operations"],
                       "changed": samples[-1]["changed"],
                       "result_mb": samples[-1]["result_bytes"] / 1e6,
                       "diff_mb": samples[-1]["diff_bytes"] / 1e6}
    return cases


def measure(args: argparse.Namespace) -> None:
    work = REPO / ".lab" / args.lab / "module-scale"
    work.mkdir(parents=True, exist_ok=True)
    ctl = Controller(args.lab, work)
    services = generate_services(args.services, args.dests)
    expected_ops = args.services * (1 + args.dests)
    vars_file = work / "vars.json"
    services_json = json.dumps(services, separators=(",", ":"))
    vars_file.write_text(f'{{"services":{services_json}}}')
    result: dict[str, Any] = {
        "services": args.services, "dests": args.dests, "objects": expected_ops,
        "runs": args.runs, "argument_mb": len(services_json) / 1e6,
        "vars_file_mb": vars_file.stat().st_size / 1e6,
        "engine_commit": os.environ.get("BENCH_ENGINE_COMMIT", "unknown"),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3]}
    log(f"{args.services} services x {args.dests} dests: argument {result['argument_mb']:.2f} "
        f"MB (JSON)")
    result["cases"] = measure_cases(ctl, vars_file, args.runs, expected_ops)
    Path(args.out).write_text(json.dumps(result, indent=1))  # kept if a later step fails

    # the engine alone, on the guest, with the core copied there
    log("engine alone on the guest")
    ctl.ssh(f"rm -rf {REMOTE} && mkdir -p {REMOTE}")
    tar = subprocess.Popen(["tar", "-C", str(REPO / "plugins/module_utils"),
                            "--exclude=__pycache__", "-cf", "-", "lvs_cluster"],
                           stdout=subprocess.PIPE)
    ctl.ssh(f"tar -C {REMOTE} -xf -", stdin=tar.stdout)
    tar.wait()
    ctl.scp(str(vars_file), f"{GUEST}:{REMOTE}/vars.json")
    ctl.scp(__file__, f"{GUEST}:{REMOTE}/module_scale.py")
    done = ctl.ssh(f"cd {REMOTE} && python3 module_scale.py engine --path {REMOTE} "
                   f"--package lvs_cluster --vars vars.json --runs {args.runs}")
    result["engine"] = json.loads(done.stdout)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")  # kept if the pieces fail

    # where the module's time goes: the payload Ansible sent, kept on the guest, in pieces
    log("module pieces (payload kept on the guest)")
    ctl.ssh("rm -rf /root/.ansible/tmp/ansible-tmp-*")
    kept, _wall = ctl.playbook(
        "keep_payload", [{"name": "keep", **TASKS["table_big"], "check_mode": True}], vars_file,
        env={"ANSIBLE_KEEP_REMOTE_FILES": "1", "ANSIBLE_PIPELINING": "0"})
    result["cases"]["keep_payload_not_pipelined"] = {"task": summary([kept[1]["seconds"]])}
    payload = ctl.ssh("ls -t /root/.ansible/tmp/ansible-tmp-*/AnsiballZ_ipvs_table.py "
                      "| head -1").stdout.strip()
    result["payload_mb"] = float(ctl.ssh(f"stat -c %s {payload}").stdout) / 1e6
    pieces = {}
    for name, diff, empty in (("noop_check", False, False), ("noop_check_diff", True, False),
                              ("check_empty", False, True)):
        if empty:
            ctl.clear()
        try:  # at 10k x 10 the guest's SSH session has died here (memory, 1536 MiB)
            done = ctl.ssh(f"cd {REMOTE} && python3 module_scale.py pieces --ansiballz "
                           f"{payload}" + (" --diff" if diff else ""))
        except RuntimeError as err:
            pieces[name] = {"error": str(err)[:300]}
            continue
        pieces[name] = json.loads(done.stdout)
        log(f"pieces {name}: {pieces[name]}")
    result["pieces"] = pieces
    ctl.ssh("rm -rf /root/.ansible/tmp/ansible-tmp-*")
    result["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


# --- guest side ---------------------------------------------------------------------------------

def engine_mode(args: argparse.Namespace) -> None:
    """The engine alone: table_from_params, read_table + plan (empty, live), apply."""
    sys.path.insert(0, args.path)
    options = importlib.import_module(f"{args.package}.ipvs.options")
    nl = importlib.import_module(f"{args.package}.ipvs.netlink")
    rc = importlib.import_module(f"{args.package}.ipvs.reconcile")
    results = importlib.import_module(f"{args.package}.ipvs.results")
    services = json.loads(Path(args.vars).read_text())["services"]
    samples: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        samples.setdefault(key, []).append(value)

    def read_plan(desired: dict) -> tuple[Any, dict, Any, float, float]:
        t0 = clock()
        kernel = nl.IpvsNetlink()
        live = rc.read_table(kernel)
        t1 = clock()
        the_plan = rc.plan(desired, live, rc.Scope.of_table(desired))
        return kernel, live, the_plan, t1 - t0, clock() - t1

    ops = 0
    for _ in range(args.runs):
        t0 = clock()
        desired = options.table_from_params(services)
        add("build_table_from_params", clock() - t0)
        subprocess.run(["ipvsadm", "-C"], check=True)
        kernel, live, the_plan, read, planned = read_plan(desired)
        add("check_empty_read", read)
        add("check_empty_plan", planned)
        t0 = clock()
        reported = [results.operation_result(op) for op in the_plan.operations]
        add("check_empty_operation_results", clock() - t0)
        t0 = clock()
        add("check_empty_json_bytes", len(json.dumps(reported)))
        add("check_empty_json_dumps", clock() - t0)
        t0 = clock()
        rc.apply(kernel, the_plan, live)
        add("apply_only", clock() - t0)
        add("apply_total", read + planned + clock() - t0)
        kernel.close()
        ops = len(the_plan.operations)
        kernel, _live, noop_plan, read, planned = read_plan(desired)
        kernel.close()
        if noop_plan.operations:
            raise RuntimeError(f"no-op plan has {len(noop_plan.operations)} operations")
        add("noop_read", read)
        add("noop_plan", planned)
        add("noop", read + planned)
    out = {key: summary(values) for key, values in samples.items()}
    out["operations"] = ops
    print(json.dumps(out))


def pieces_mode(args: argparse.Namespace) -> None:
    """The module's run, piece by piece, with the code and arguments Ansible sent."""
    payload = Path(args.ansiballz)
    out: dict[str, Any] = {}
    t0 = clock()
    done = subprocess.run([sys.executable, str(payload)], capture_output=True, check=True)
    out["whole_payload_process"] = clock() - t0
    out["whole_payload_stdout_mb"] = len(done.stdout) / 1e6
    debug = payload.parent / "debug_dir"
    if not debug.is_dir():
        subprocess.run([sys.executable, str(payload), "explode"], capture_output=True,
                       check=True)
    sys.path.insert(0, str(debug))
    t0 = clock()
    basic = importlib.import_module("ansible.module_utils.basic")
    mod = importlib.import_module("ansible_collections.lvs.cluster.plugins.modules.ipvs_table")
    out["import"] = clock() - t0
    raw = json.loads((debug / "args").read_bytes())
    raw["ANSIBLE_MODULE_ARGS"]["_ansible_diff"] = args.diff
    basic._ANSIBLE_ARGS = json.dumps(raw).encode()
    basic._ANSIBLE_PROFILE = "legacy"
    out["args_mb"] = len(basic._ANSIBLE_ARGS) / 1e6
    t0 = clock()
    basic._load_params()
    out["load_params_decode_deepcopy"] = clock() - t0
    spec = mod.argument_spec()
    t0 = clock()
    module = basic.AnsibleModule(argument_spec=mod.ipvs_module.unchecked_list(spec, "services"),
                                 supports_check_mode=True)
    out["ansible_module_init"] = clock() - t0
    params = module.params
    t0 = clock()
    params["services"] = mod.ipvs_module.checked_list(module, spec, "services")
    out["services_checked"] = clock() - t0  # simple_spec (Ansible's validator for the rest)
    out["argument_validation"] = (out["ansible_module_init"] + out["services_checked"]
                                  - out["load_params_decode_deepcopy"])
    t0 = clock()
    basic.AnsibleModule(argument_spec=spec, supports_check_mode=True)
    out["ansible_validation_of_the_same"] = clock() - t0  # what the module did before
    t0 = clock()
    desired = mod.options.table_from_params(params["services"])
    scope = mod.scope_of(params, desired)
    out["table_from_params"] = clock() - t0
    t0 = clock()
    kernel = mod.nl.IpvsNetlink()
    live = mod.rc.read_table(kernel)
    out["read_table"] = clock() - t0
    t0 = clock()
    table = mod.rc.plan(desired, live, scope).operations
    out["plan"] = clock() - t0
    kernel.close()
    t0 = clock()
    result: dict[str, Any] = {"changed": bool(table),
                              "operations": [mod.results.operation_result(op) for op in table]}
    out["operation_results"] = clock() - t0
    out["operations"] = len(table)
    if args.diff:
        t0 = clock()
        owned = {s: d for s, d in live.items() if scope.owns(s)}
        result["diff"] = {"before": mod.text.table_text(owned),
                          "after": mod.text.table_text(mod.rc.simulate(owned, table))}
        out["diff_text"] = clock() - t0
    sink = io.StringIO()
    t0 = clock()
    with contextlib.redirect_stdout(sink), contextlib.suppress(SystemExit):
        module.exit_json(**result)
    out["exit_json"] = clock() - t0
    out["exit_json_mb"] = len(sink.getvalue()) / 1e6
    print(json.dumps(out))


# --- report -------------------------------------------------------------------------------------

def report(path: str) -> None:
    result = json.loads(Path(path).read_text())
    cases, engine = result["cases"], result["engine"]
    print(f"ipvs_table: {result['services']} services x {result['dests']} destinations = "
          f"{result['objects']} objects; argument {result['argument_mb']:.2f} MB (JSON), "
          f"AnsiballZ payload {result.get('payload_mb') or 0:.2f} MB; {result['runs']} runs; "
          f"host load {' '.join(result['loadavg_start'])} -> "
          f"{' '.join(result.get('loadavg_end', ['?']))}")
    print(f"\n{'case (one ansible-playbook)':<28} {'task s median (min)':>20} {'ops':>7} "
          f"{'result MB':>9} {'diff MB':>8}")
    for name, case in cases.items():
        task = case["task"]
        print(f"{name:<28} {task['median']:>11.2f} ({task['min']:6.2f}) "
              f"{case.get('operations', ''):>7} "
              f"{case.get('result_mb', 0):>9.2f} {case.get('diff_mb', 0):>8.2f}")
    print(f"\n{'engine alone (guest)':<34} {'median s':>9} {'min s':>7}")
    for name, value in engine.items():
        if isinstance(value, dict) and not name.endswith("bytes"):
            print(f"{name:<34} {value['median']:>9.3f} {value['min']:>7.3f}")
    for name, pieces in result.get("pieces", {}).items():
        print(f"\nmodule run in pieces on the guest, {name}: " + ", ".join(
            f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in pieces.items()))
    overhead = cases["overhead_table_1_noop"]["task"]["median"]
    noop = cases["c_noop"]["task"]["median"]
    engine_noop = engine["noop"]["median"]
    ratio = (noop - overhead) / engine_noop
    print(f"\nconstant task overhead (ipvs_table, 1 service, no-op): {overhead:.2f} s "
          f"(command true {cases['overhead_command_true']['task']['median']:.2f} s, ipvs_info "
          f"empty {cases['overhead_ipvs_info_empty']['task']['median']:.2f} s)")
    print(f"engine no-op (read_table + plan): {engine_noop:.3f} s; module no-op task "
          f"{noop:.2f} s; goal <= {NOOP_GOAL}x: {'met' if ratio <= NOOP_GOAL else 'not met'}")
    for name in ("a_check_empty", "b_apply", "c_noop", "d_noop_check"):
        print(f"{name}_s: {cases[name]['task']['median']:.3f}")
    print(f"engine_noop_s: {engine_noop:.3f}")
    print(f"argument_mb: {result['argument_mb']:.2f}")
    print(f"module_noop_vs_engine: {ratio:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("run")
    p.add_argument("--lab", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--services", type=int, default=10000)
    p.add_argument("--dests", type=int, default=10)
    p.add_argument("--runs", type=int, default=3)
    p = sub.add_parser("engine")
    p.add_argument("--path", required=True)
    p.add_argument("--package", default="lvs_cluster")
    p.add_argument("--vars", required=True)
    p.add_argument("--runs", type=int, default=3)
    p = sub.add_parser("pieces")
    p.add_argument("--ansiballz", required=True)
    p.add_argument("--diff", action="store_true")
    p = sub.add_parser("report")
    p.add_argument("file")
    args = parser.parse_args()
    {"run": measure, "engine": engine_mode, "pieces": pieces_mode,
     "report": lambda a: report(a.file)}[args.mode](args)


if __name__ == "__main__":
    main()
