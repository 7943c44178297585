"""Hold long-lived HTTP connections through a VIP across an event (a router's crash or boot)
while probing it with new connections: the scale-out lab's client
(extensions/molecule/scaleout/router_event.yml).

Opens HOLD connections, each with the first line of a request and the start of a header line,
then trickles one more character of that line on each every TRICKLE seconds, so each keeps
sending through whichever router ECMP gives it. (One growing line, not a header line per
trickle: the lab's web server, Python's http.server, closes a request after 100 header lines -
an event that took 50 s broke every held connection that way.) Their local ports go to
PORTS_FILE, for counting them in the routers' connection tables. Beside
them, the collection's drill probe (playbooks/files/vip_probe.py, pushed beside this file) makes
a new connection every INTERVAL seconds. Touches READY_FILE once every connection is open and
the probe is answered; once DONE_FILE appears (and the probe has answered for RECOVERED seconds)
it ends each held request and reads the reply: a connection survived if its real server answered
it. Prints one JSON line: held, survived, the errors of the others, who answered the held ones,
and the probe's result (requests, failed, longest gap).
"""

import argparse
import json
import socket
import threading
from pathlib import Path

from vip_probe import probe


class Held:
    def __init__(self, host, port):
        self.error = None
        self.sock = socket.create_connection((host, port), timeout=5)
        self.sock.sendall(b"GET / HTTP/1.0\r\nX-Trickle: ")
        self.lock = threading.Lock()

    def trickle(self, number):
        if self.error is None:
            try:
                with self.lock:
                    self.sock.sendall(b".")
            except OSError as error:
                self.error = f"trickle {number}: {error}"

    def finish(self):
        """The real server's name, or None (then ``error`` says why)."""
        if self.error is not None:
            return None
        try:
            with self.lock:
                self.sock.sendall(b"\r\n\r\n")
            self.sock.settimeout(10)
            reply = b""
            while True:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
        except OSError as error:
            self.error = f"finish: {error}"
            return None
        finally:
            self.sock.close()
        if not reply.startswith(b"HTTP/1.") or b" 200 " not in reply.split(b"\r\n", 1)[0]:
            self.error = f"reply {reply[:60]!r}"
            return None
        return reply.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--hold", type=int, default=60)
    parser.add_argument("--trickle", type=float, default=0.5)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--timeout", type=float, default=0.2)
    parser.add_argument("--duration", type=float, default=120)
    parser.add_argument("--recovered", type=float, default=3.0)
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--done-file", type=Path, required=True)
    parser.add_argument("--ports-file", type=Path)
    args = parser.parse_args()
    host, port = args.target.rsplit(":", 1)
    held = [Held(host, int(port)) for _ in range(args.hold)]
    if args.ports_file is not None:
        args.ports_file.write_text(" ".join(str(c.sock.getsockname()[1]) for c in held) + "\n")
    stop = threading.Event()

    def trickle():
        number = 0
        while not stop.wait(args.trickle):
            number += 1
            for connection in held:
                connection.trickle(number)

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    result = probe(host, int(port), args.interval, args.timeout, args.duration,
                   args.recovered, args.ready_file, args.done_file)
    stop.set()
    trickler.join()
    answers = [connection.finish() for connection in held]
    held_by = {}
    for answer in answers:
        if answer is not None:
            held_by[answer] = held_by.get(answer, 0) + 1
    print(json.dumps({"held": len(held), "survived": sum(a is not None for a in answers),
                      "errors": sorted({c.error for c in held if c.error}),
                      "held_by": held_by, "probe": result}), flush=True)


if __name__ == "__main__":
    main()
