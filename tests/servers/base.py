"""What every loopback test server shares: one ThreadingHTTPServer on 127.0.0.1, started and stopped
the same way (and started again on the same port, for outage tests), and the JSON reply."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class LoopbackServer:
    """``handler`` serves the requests; ``url`` is where a client reaches it (127.0.0.1 only)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self._handler = handler
        self.port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()  # keep-alive connections, cut by stop()
        self._bind()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _bind(self) -> None:
        server = self

        class Tracked(self._handler):  # type: ignore[name-defined,misc]
            def setup(self) -> None:
                super().setup()
                server._connections.add(self.connection)

            def finish(self) -> None:
                server._connections.discard(self.connection)
                super().finish()

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Tracked)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]

    def start(self) -> Self:
        """Serve; after a stop(), on the same port again (the service back after an outage)."""
        if self._httpd is None:
            self._bind()
        assert self._httpd is not None
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until start(); open ones are cut."""
        if self._httpd is not None:
            if self._thread is not None and self._thread.is_alive():  # shutdown() waits for serve_forever
                self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        for conn in list(self._connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def send_json(req: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body).encode()
    req.send_response(status)
    req.send_header("Content-Type", "application/json")
    req.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        req.send_header(name, value)
    req.end_headers()
    req.wfile.write(data)
