# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The metrics endpoint on a threaded HTTP server (pulse runs it): ``GET /metrics`` (Prometheus),
``GET /`` (the status page) and ``GET /status.json`` (what the page redraws itself from), all
behind HTTP basic auth when pulse has ``--status-auth-file`` (``status_auth``).

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

from .status_auth import CHALLENGE, StatusAuth
from .status_metrics import current_metrics
from .status_page import (
    CONTENT_SECURITY_POLICY,
    HTML_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    render_page,
    status_json,
)
from .status_report import IpvsTable, gather, read_ipvs_table

DEFAULT_METRICS_HOST = "127.0.0.1"
DEFAULT_METRICS_PORT = 9539
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
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


def _routes(read_table: Callable[[], IpvsTable]) -> dict[str, tuple[str, Callable[[], str]]]:
    """Path -> (content type, what renders the body)."""
    return {
        "/metrics": (CONTENT_TYPE, lambda: current_metrics(read_table)),
        "/": (HTML_CONTENT_TYPE, lambda: render_page(gather(read_table=read_table))),
        "/status.json": (JSON_CONTENT_TYPE, lambda: status_json(gather(read_table=read_table))),
    }


def _handler(read_table: Callable[[], IpvsTable],
             auth: StatusAuth | None) -> type[BaseHTTPRequestHandler]:
    routes = _routes(read_table)

    class MetricsHandler(BaseHTTPRequestHandler):
        server_version = "lvs-cluster-metrics"
        timeout = CLIENT_TIMEOUT

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if auth is not None and not auth.allows(self.headers.get("Authorization")):
                self._answer(401, TEXT_CONTENT_TYPE, b"authentication required\n",
                             {"WWW-Authenticate": CHALLENGE})
                return
            route = routes.get(self.path.split("?", 1)[0])
            if route is None:
                self._answer(404, TEXT_CONTENT_TYPE,
                             b"not found; try /metrics or / (the status page)\n")
                return
            content_type, render = route
            try:
                body = render().encode()
            except Exception:  # a request must never kill the thread silently
                log.exception("rendering %s failed", self.path)
                self._answer(500, TEXT_CONTENT_TYPE, b"internal error\n")
                return
            extra = ({"Content-Security-Policy": CONTENT_SECURITY_POLICY}
                     if content_type == HTML_CONTENT_TYPE else {})
            self._answer(200, content_type, body, extra)

        def _answer(self, code: int, content_type: str, body: bytes,
                    headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.debug("metrics: %s %s", self.address_string(), format % args)

    return MetricsHandler


def start_metrics_server(host: str = DEFAULT_METRICS_HOST, port: int = DEFAULT_METRICS_PORT,
                         read_table: Callable[[], IpvsTable] = read_ipvs_table,
                         auth: StatusAuth | None = None) -> MetricsServer:
    """Serve the metrics and the status page on host:port (port 0: any free one) until
    ``close()``; with ``auth``, only to requests with its credentials."""
    server_class = type("MetricsHTTPServer", (_BoundedServer,), {"address_family": _family(host)})
    server = server_class((host, port), _handler(read_table, auth))
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
