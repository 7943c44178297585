# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a no-op reconcile of bench/reconcile.py goes, piece by piece with the engine's own
functions (standard library only; runs on the guest, the table loaded):

  read_table          the engine's read (services dump + one destination dump per service)
  plan_noop           plan(desired, live): 0 operations
  syscalls_dumps      the same dumps, datagrams kept raw: sends and receives only
  decode_destinations the raw destination replies through the engine's decoder
  checked_model       the same objects through the checked constructors (what a declared
                      table costs to build, and what reads cost before from_kernel)
  proc_net_ip_vs      reading /proc/net/ip_vs, the kernel's text view of the table (reference)

and a cProfile of one no-op read + plan. Under UML every clock read is a system call (no vDSO),
and cProfile reads the clock twice per call: trust its ncalls, take times from the pieces.
"""

from __future__ import annotations

import cProfile
import dataclasses
import io
import pstats
import time
from collections.abc import Callable

clock = time.perf_counter


def _raw_dump(kernel, nl, command: int, payload: bytes, calls: dict[str, int]) -> list[bytes]:
    seq, message = kernel._message(kernel.family, command, nl.NLM_F_REQUEST | nl.NLM_F_DUMP,
                                   payload)
    kernel.sock.send(message)
    calls["send"] += 1
    buffer = kernel._buffer
    datagrams = []
    while True:
        size = kernel.sock.recv_into(buffer)
        calls["recv"] += 1
        data = bytes(buffer[:size])
        datagrams.append(data)
        offset = 0
        while offset + 16 <= len(data):
            length, kind = nl.NLMSGHDR.unpack_from(data, offset)[:2]
            if kind in (nl.NLMSG_DONE, nl.NLMSG_ERROR):
                return datagrams
            offset += (length + 3) & ~3


def _bodies(nl, datagrams: list[bytes]) -> list[memoryview]:
    found = []
    for data in datagrams:
        view = memoryview(data)
        offset = 0
        while offset + 16 <= len(view):
            length, kind = nl.NLMSGHDR.unpack_from(view, offset)[:2]
            if kind not in (nl.NLMSG_DONE, nl.NLMSG_ERROR):
                found.append(view[offset + 16:offset + length])
            offset += (length + 3) & ~3
    return found


def breakdown_once(engine, desired: dict, scope) -> tuple[dict[str, float], dict[str, int]]:
    nl, rc = engine.nl, engine.rc
    out: dict[str, float] = {}
    counts: dict[str, int] = {}
    with nl.IpvsNetlink() as kernel:
        t = clock()
        live = rc.read_table(kernel)
        out["read_table"] = clock() - t
        t = clock()
        rc.plan(desired, live, scope)
        out["plan_noop"] = clock() - t

        calls = {"send": 0, "recv": 0}
        identities = [(nl.FAMILIES[s.family], nl.nested(nl.CMD_ATTR_SERVICE,
                                                        nl.service_identity(s))) for s in live]
        t = clock()
        _raw_dump(kernel, nl, nl.CMD_GET_SERVICE, b"", calls)
        raw = [(family, _raw_dump(kernel, nl, nl.CMD_GET_DEST, payload, calls))
               for family, payload in identities]
        out["syscalls_dumps"] = clock() - t
        counts.update(calls)
        counts["bytes"] = sum(len(d) for _f, group in raw for d in group)

        bodies = [(family, _bodies(nl, group)) for family, group in raw]
        t = clock()
        dests = [nl.destination_options(body, family)
                 for family, group in bodies for body in group]
        out["decode_destinations"] = clock() - t
        counts["destinations"] = len(dests)

    fields = [dataclasses.asdict(s) for s in live] + [dataclasses.asdict(d) for d in dests]
    kinds = [type(s) for s in live] + [type(d) for d in dests]
    t = clock()
    for kind, values in zip(kinds, fields, strict=True):
        kind(**values)
    out["checked_model"] = clock() - t

    t = clock()
    with open("/proc/net/ip_vs", "rb") as proc:
        counts["proc_net_ip_vs_bytes"] = len(proc.read())
    out["proc_net_ip_vs"] = clock() - t
    return out, counts


def breakdown(engine, desired: dict, scope, runs: int,
              summary: Callable[[list[float]], dict]) -> dict:
    samples: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for _ in range(runs):
        pieces, counts = breakdown_once(engine, desired, scope)
        for key, value in pieces.items():
            samples.setdefault(key, []).append(value)
    out: dict = {key: summary(values) for key, values in samples.items()}
    out["counts"] = counts
    return out


def profile_noop(engine, desired: dict, scope) -> str:
    text = io.StringIO()
    text.write("cProfile of a no-op read_table + plan. Under UML each clock read is a system "
               "call: times are inflated and follow call counts; trust ncalls.\n")
    with engine.nl.IpvsNetlink() as kernel:
        profiler = cProfile.Profile()
        profiler.enable()
        live = engine.rc.read_table(kernel)
        engine.rc.plan(desired, live, scope)
        profiler.disable()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(20)
    return text.getvalue()
