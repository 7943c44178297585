"""Probe a TCP/HTTP VIP from a lab client: one request every INTERVAL seconds, each with a
TIMEOUT, recording who answered (the body of the lab's web servers is their host name).

Prints `probing` when it starts, and on SIGINT or after DURATION seconds one JSON line:
{"samples": [[monotonic time of the request, server name or null], ...]}.
"""

import argparse
import json
import signal
import time

# The collection's drill probe (playbooks/files/vip_probe.py), pushed beside this file: one
# request and who answered it, the same code for the drill and the lab's tests.
from vip_probe import one_request


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--timeout", type=float, default=0.2)
    parser.add_argument("--duration", type=float, default=60)
    args = parser.parse_args()
    host, port = args.target.rsplit(":", 1)
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    samples = []
    print("probing", flush=True)
    start = time.monotonic()
    next_at = start
    while not stop and time.monotonic() - start < args.duration:
        moment = time.monotonic()
        samples.append([moment, one_request(host, int(port), args.timeout)])
        next_at += args.interval
        pause = next_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        else:
            next_at = time.monotonic()
    print(json.dumps({"samples": samples}), flush=True)


if __name__ == "__main__":
    main()
