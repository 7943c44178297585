# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failover drill's client: an HTTP request to the VIP every INTERVAL seconds (each with a
TIMEOUT), until DURATION seconds have passed, or RECOVERED seconds after DONE_FILE appeared
(the drill creates it when the backup router has taken over) with the service answering.
Touches READY_FILE once the first request has been answered, so the drill knows when to stop
the active router.

Prints one JSON line: requests, failed, the longest gap (from the last answer before an outage
to the first answer after it, 0.0 without an outage), when the outage began and ended (seconds
since the start), how many answers each real server gave (the body of the answer, trimmed;
the lab's web servers answer with their host name), the slowest answer's time, and the first
failures: when (seconds since the start), after how long, and in which step (connect, refused,
reset, timeout reading, a reply that is not 200)."""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from pathlib import Path


class Failed(Exception):
    """A request that was not answered; the message names the step."""


def one_request(host: str, port: int, timeout: float) -> str | None:
    """The answer's body (trimmed), or None when the request failed (lab/cluster/probe.py)."""
    try:
        return checked_request(host, port, timeout)
    except Failed:
        return None


def checked_request(host: str, port: int, timeout: float) -> str:
    """The answer's body (trimmed), or Failed naming the step that failed."""
    deadline = time.monotonic() + timeout
    step = "connect"
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            step = "send"
            sock.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            step = "read"
            chunks = []
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failed("read: timed out")
                sock.settimeout(left)
                chunk = sock.recv(4096)
                if not chunk:
                    break
                chunks.append(chunk)
    except OSError as error:
        raise Failed(f"{step}: {error.strerror or error}") from None
    reply = b"".join(chunks)
    if not reply.startswith(b"HTTP/1.") or b" 200 " not in reply.split(b"\r\n", 1)[0]:
        raise Failed(f"reply: {reply[:40]!r}")
    body = reply.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip()
    return body[:64] or "(empty)"


def probe(host: str, port: int, interval: float, timeout: float, duration: float,
          recovered: float, ready_file: Path | None, done_file: Path | None
          ) -> dict[str, object]:
    start = time.monotonic()
    last_ok: float | None = None
    outage_since: float | None = None
    gaps: list[tuple[float, float, float]] = []
    served: dict[str, int] = {}
    requests = failed = 0
    slowest = 0.0
    failures: list[dict[str, object]] = []
    done_since: float | None = None
    while True:
        sent = time.monotonic()
        if sent - start >= duration:
            break
        if done_since is None and done_file is not None and done_file.exists():
            done_since = sent
        if done_since is not None and outage_since is None and sent - done_since >= recovered:
            break
        try:
            answer: str | None = checked_request(host, port, timeout)
        except Failed as error:
            answer = None
            if len(failures) < 10:
                failures.append({"at_s": round(sent - start, 3), "after_s":
                                 round(time.monotonic() - sent, 3), "step": str(error)})
        requests += 1
        if answer is None:
            failed += 1
            if outage_since is None and last_ok is not None:
                outage_since = last_ok
        else:
            slowest = max(slowest, time.monotonic() - sent)
            served[answer] = served.get(answer, 0) + 1
            if last_ok is None and ready_file is not None:
                ready_file.touch()
            if outage_since is not None:
                gaps.append((sent - outage_since, outage_since - start, sent - start))
                outage_since = None
            last_ok = sent
        time.sleep(max(0.0, interval - (time.monotonic() - sent)))
    if outage_since is not None:  # never answered again
        gaps.append((time.monotonic() - outage_since, outage_since - start, -1.0))
    longest = max(gaps, default=(0.0, 0.0, 0.0))
    return {"requests": requests, "failed": failed, "answered": last_ok is not None,
            "longest_gap_s": round(longest[0], 3), "outage_began_s": round(longest[1], 3),
            "outage_ended_s": round(longest[2], 3), "recovered": longest[2] >= 0,
            "served_by": served, "slowest_answer_s": round(slowest, 3), "failures": failures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--target", required=True, help="VIP:PORT ([IPv6]:PORT)")
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--timeout", type=float, default=0.2)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--recovered", type=float, default=2.0)
    parser.add_argument("--ready-file", type=Path)
    parser.add_argument("--done-file", type=Path,
                        help="once it exists, stop after RECOVERED seconds without an outage")
    args = parser.parse_args(argv)
    host, _sep, port = args.target.rpartition(":")
    result = probe(host.strip("[]"), int(port), args.interval, args.timeout, args.duration,
                   args.recovered, args.ready_file, args.done_file)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
