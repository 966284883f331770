"""A real S3 endpoint on loopback (moto's server) behind a fault-injecting HTTP proxy.

boto3 talks to the proxy through ``AWS_ENDPOINT_URL``; the proxy forwards every request to moto
and, on demand, answers 500 or 503 SlowDown to the first k requests, cuts response bodies short
(a dropped connection mid-download), slows bodies down, or stops listening altogether and comes
back on the same port (a server restart). It counts requests and body bytes, so tests can prove
what was and was not fetched.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.servers.base import LoopbackServer

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


@dataclass
class Faults:
    fail_first: int = 0  # answer the next k forwarded GET/HEAD requests with an error
    fail_status: int = 500
    drop_first: int = 0  # cut the body of the next k GET responses after drop_after bytes
    drop_after: int = 256 * 1024
    corrupt_first: int = 0  # flip one byte in the body of the next k GET responses...
    corrupt_match: str = ""  # ...whose path contains this
    chunk_delay: float = 0.0  # seconds slept per 64 KiB of body
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, name: str) -> bool:
        with self.lock:
            left = getattr(self, name)
            if left > 0:
                setattr(self, name, left - 1)
                return True
            return False


@dataclass
class Request:
    method: str
    path: str
    range: str | None
    status: int
    body_bytes: int


class FaultProxy(LoopbackServer):
    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.removeprefix("http://").partition(":")
        self.upstream = (host, int(port))
        self.faults = Faults()
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                proxy._forward(self)

            do_HEAD = do_PUT = do_POST = do_DELETE = do_GET

        super().__init__(Handler)

    def gets(self, key_fragment: str = "") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == "GET" and key_fragment in r.path]

    def body_bytes(self, key_fragment: str = "") -> int:
        return sum(r.body_bytes for r in self.gets(key_fragment))

    def restart_after(self, seconds: float) -> threading.Thread:
        self.stop()

        def later() -> None:
            time.sleep(seconds)
            for _ in range(50):
                try:
                    self.start()
                    return
                except OSError:  # the port is briefly unavailable after close
                    time.sleep(0.1)

        thread = threading.Thread(target=later, daemon=True)
        thread.start()
        return thread

    def _record(self, req: BaseHTTPRequestHandler, status: int, sent: int) -> None:
        with self._lock:
            self.requests.append(Request(req.command, req.path, req.headers.get("Range"), status, sent))

    def _forward(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else None
        if req.command in ("GET", "HEAD") and self.faults.take("fail_first"):
            status = self.faults.fail_status
            code = "SlowDown" if status == 503 else "InternalError"
            payload = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
            req.send_response(status)
            req.send_header("Content-Type", "application/xml")
            req.send_header("Content-Length", str(0 if req.command == "HEAD" else len(payload)))
            req.end_headers()
            if req.command != "HEAD":
                req.wfile.write(payload)
            self._record(req, status, 0)
            return
        upstream = http.client.HTTPConnection(*self.upstream, timeout=60)
        headers = {k: v for k, v in req.headers.items() if k.lower() not in HOP_HEADERS}
        upstream.request(req.command, req.path, body=body, headers=headers)
        response = upstream.getresponse()
        req.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in HOP_HEADERS:
                req.send_header(name, value)
        req.end_headers()
        ok_get = req.command == "GET" and response.status < 300
        longer = int(response.getheader("Content-Length") or 0) > self.faults.drop_after
        drop = ok_get and longer and self.faults.take("drop_first")  # only bodies it can cut short
        corrupt = ok_get and self.faults.corrupt_match in req.path and self.faults.take("corrupt_first")
        sent = 0
        try:
            while chunk := response.read(64 * 1024):
                if corrupt:
                    chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                    corrupt = False
                if drop and sent + len(chunk) > self.faults.drop_after:
                    req.wfile.write(chunk[: self.faults.drop_after - sent])
                    sent = self.faults.drop_after
                    req.wfile.flush()
                    req.connection.shutdown(socket.SHUT_RDWR)  # the connection drops mid-body
                    req.close_connection = True
                    return
                if self.faults.chunk_delay:
                    time.sleep(self.faults.chunk_delay)
                req.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            req.close_connection = True  # the client went away (e.g. it was killed)
        finally:
            self._record(req, response.status, sent)
            upstream.close()


class MotoS3:
    """moto's S3 server on loopback, once per test session; reset() empties it between tests."""

    def __init__(self) -> None:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"

    def reset(self) -> None:
        import requests

        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()

    def stop(self) -> None:
        self._server.stop()
