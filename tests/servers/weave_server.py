"""A loopback stand-in for the Weave trace server (WF_TRACE_SERVER_URL), for inspect-wandb's Weave hooks.

It answers the calls the pinned weave SDK makes while Inspect evals are traced (server info, objects,
tables, files, call batches, OTel spans), keeps every request so a test can read back what Weave
sent, and answers anything else 404, recorded in ``unknown``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.servers.base import LoopbackServer, send_json

Answer = Callable[[Any], dict[str, Any]]


def _digest(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _table_create(body: Any) -> dict[str, Any]:
    rows = (body.get("table") or {}).get("rows") or []
    return {"digest": _digest(rows), "row_digests": [_digest(row) for row in rows]}


def _upsert_batch(body: Any) -> dict[str, Any]:
    results = []
    for item in body.get("batch") or []:
        call = (item.get("req") or {}).get("start") or {}
        results.append({"id": call.get("id"), "trace_id": call.get("trace_id")})
    return {"res": results}


ROUTES: dict[tuple[str, str], Answer] = {
    ("GET", "/server_info"): lambda _: {"min_required_weave_python_version": "0.0.0", "trace_server_version": "0.0.0"},
    ("GET", "/health"): lambda _: {},
    ("POST", "/obj/create"): lambda body: {"digest": _digest(body)},
    ("POST", "/table/create"): _table_create,
    ("POST", "/file/create"): lambda body: {"digest": _digest(body)},
    ("POST", "/call/upsert_batch"): _upsert_batch,
    ("POST", "/call/start"): lambda body: {"id": body["start"].get("id"), "trace_id": body["start"].get("trace_id")},
    ("POST", "/call/end"): lambda _: {},
    ("POST", "/call/update"): lambda _: {},
    ("POST", "/feedback/batch/create"): lambda body: {"res": []},
    ("POST", "/otel/v1/traces"): lambda _: {},
    ("POST", "/calls/complete"): lambda _: {},
}


@dataclass
class Request:
    method: str
    path: str
    body: Any


class WeaveServer(LoopbackServer):
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.unknown: list[Request] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                size = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(size) if size else b""
                if self.headers.get("content-encoding") == "gzip":
                    raw = gzip.decompress(raw)
                server._answer(self, raw)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        super().__init__(Handler)

    def _answer(self, req: BaseHTTPRequestHandler, raw: bytes) -> None:
        path = req.path.split("?", 1)[0]
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:  # OTel spans come as protobuf
            body = raw
        record = Request(req.command, path, body)
        self.requests.append(record)
        # The v2 routes name the project in the path: /v2/{entity}/{project}/call/start
        v2 = re.fullmatch(r"/v2/[^/]+/[^/]+(/.+)", path)
        route = ROUTES.get((req.command, v2.group(1) if v2 else path))
        if route is None:
            self.unknown.append(record)
            status, payload = 404, {"detail": f"the Weave stand-in does not answer {req.command} {path}"}
        else:
            status, payload = 200, route(body)
        send_json(req, status, payload)

    def calls(self) -> list[dict[str, Any]]:
        """Every call Weave started (alone, batched, or sent complete)."""
        starts: list[dict[str, Any]] = []
        for record in self.requests:
            if record.path.endswith("/call/upsert_batch"):
                starts += [item["req"]["start"] for item in record.body["batch"] if item.get("mode") == "start"]
            elif record.path.endswith("/call/start"):
                starts.append(record.body["start"])
            elif record.path.endswith("/calls/complete"):
                starts += record.body["batch"]
        return starts

    def output_of(self, call_id: str) -> Any:
        """The output a call ended with (sent alone, or complete in a batch)."""
        for record in self.requests:
            if record.path.endswith("/call/end") and record.body["end"]["id"] == call_id:
                return record.body["end"]["output"]
            if record.path.endswith("/calls/complete"):
                for call in record.body["batch"]:
                    if call["id"] == call_id:
                        return call["output"]
        raise KeyError(f"Weave never ended call {call_id}")
