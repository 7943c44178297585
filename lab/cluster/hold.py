"""Hold one HTTP connection through a VIP open across an event (a reload, a failover).

Connects, sends the first half of a request, prints `open PORT` (its own port: what names the
connection in a router's connection table), then waits for a line on stdin,
sends the rest, and prints the body of the reply (the real server's name) or `error: ...`.
"""

import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
try:
    sock = socket.create_connection((host, port), timeout=5)
    sock.sendall(b"GET / HTTP/1.0\r\n")
except OSError as error:
    print(f"error: connect: {error}", flush=True)
    sys.exit(1)
print(f"open {sock.getsockname()[1]}", flush=True)
sys.stdin.readline()
try:
    sock.settimeout(10)
    sock.sendall(b"\r\n")
    reply = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        reply += chunk
except OSError as error:
    print(f"error: {error}", flush=True)
    sys.exit(1)
if not reply.startswith(b"HTTP/1."):
    print(f"error: reply {reply[:60]!r}", flush=True)
    sys.exit(1)
print(reply.split(b"\r\n\r\n", 1)[-1].decode().strip(), flush=True)
