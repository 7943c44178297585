# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The metrics endpoint: ``GET /metrics`` on a threaded HTTP server (pulse runs it).

It runs inside pulse, so clients must not be able to use up pulse's threads: at most
``MAX_CLIENTS`` connections are served at once (more are closed at once) and a connection
that sends nothing for ``CLIENT_TIMEOUT`` seconds is dropped."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .status_metrics import current_metrics
from .status_report import IpvsTable, read_ipvs_table

DEFAULT_METRICS_HOST = "127.0.0.1"
DEFAULT_METRICS_PORT = 9539
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_CLIENTS = 16
CLIENT_TIMEOUT = 5.0

log = logging.getLogger("lvs-status")


class MetricsServer:
    """A ThreadingHTTPServer on a daemon thread; ``port`` is the bound port."""

    def __init__(self, server: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.host, self.port = server.server_address[:2]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(read_table: Callable[[], IpvsTable]) -> type[BaseHTTPRequestHandler]:
    class MetricsHandler(BaseHTTPRequestHandler):
        server_version = "lvs-cluster-metrics"
        timeout = CLIENT_TIMEOUT

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.split("?", 1)[0] != "/metrics":
                self._answer(404, "text/plain; charset=utf-8", b"not found; try /metrics\n")
                return
            try:
                body = current_metrics(read_table).encode()
            except Exception:  # a scrape must never kill the thread silently
                log.exception("rendering the metrics failed")
                self._answer(500, "text/plain; charset=utf-8", b"internal error\n")
                return
            self._answer(200, CONTENT_TYPE, body)

        def _answer(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.debug("metrics: %s %s", self.address_string(), format % args)

    return MetricsHandler


def start_metrics_server(host: str = DEFAULT_METRICS_HOST, port: int = DEFAULT_METRICS_PORT,
                         read_table: Callable[[], IpvsTable] = read_ipvs_table) -> MetricsServer:
    """Serve GET /metrics on host:port (port 0: any free one) until ``close()``."""
    server_class = type("MetricsHTTPServer", (_BoundedServer,), {"address_family": _family(host)})
    server = server_class((host, port), _handler(read_table))
    thread = threading.Thread(target=server.serve_forever, name="lvs-metrics", daemon=True)
    thread.start()
    return MetricsServer(server, thread)


class _BoundedServer(ThreadingHTTPServer):
    """A thread per connection, at most MAX_CLIENTS of them; the rest are closed at once."""

    daemon_threads = True

    def __init__(self, *arguments: Any) -> None:
        super().__init__(*arguments)
        self.slots = threading.BoundedSemaphore(MAX_CLIENTS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
