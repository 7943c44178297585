"""Probe a TCP/HTTP VIP from a lab client: one request every INTERVAL seconds, each with a
TIMEOUT, recording who answered (the body of the lab's web servers is their host name).

Prints `probing` when it starts, and on SIGINT or after DURATION seconds one JSON line:
{"samples": [[monotonic time of the request, server name or null], ...]}.
"""

import argparse
import json
import signal
import socket
import time


def one_request(host, port, timeout):
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            chunks = []
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                sock.settimeout(left)
                chunk = sock.recv(4096)
                if not chunk:
                    break
                chunks.append(chunk)
    except OSError:
        return None
    reply = b"".join(chunks)
    if not reply.startswith(b"HTTP/1.") or b" 200 " not in reply.split(b"\r\n", 1)[0]:
        return None
    return reply.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip() or None


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
