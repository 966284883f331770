"""W&B Automations -> the watcher: ``POST /webhook`` queues the version a registry event names.

W&B sends the JSON payload the user pasted in its UI (``{"event_type": "${event_type}",
"artifact_version_string": "${artifact_version_string}"}``) with ``Authorization: Bearer <token>``
from a team secret. The receiver faces the network, so every request is hostile until proven not:
the token is compared in constant time (401); the body must arrive within a deadline (408) and fit
in 64 KiB (413); it must be JSON nested no deeper than a payload is (400); the event must be one W&B
sends for a new or re-aliased version (422, naming the accepted ones); the version must be in a
watched collection (422). Accepted -> 202, into the same ledger the poller fills. ``GET /healthz``
answers anyone; ``GET /status`` (the ledger's recent entries) only the token. A client that goes
away mid-body is dropped quietly. Starlette on uvicorn, on a socket bound before the first poll.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import json
import socket
import threading
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from eval_orchestrator.errors import OrchestratorError, Unavailable, UserError
from eval_orchestrator.refs import CheckpointRef
from eval_orchestrator.watch.ledger import Entry

MAX_BODY = 64 * 1024
MAX_DEPTH = 32  # W&B's payload is a flat mapping; a user's template adds a level or two
BODY_SILENCE_S = 3.0  # no byte for this long: 408
BODY_DEADLINE_S = 10.0  # the whole body, however it trickles in
# The registry events W&B Automations send for a version that is new or got an alias.
EVENTS = ("LINK_ARTIFACT", "ADD_ARTIFACT_ALIAS", "CREATE_ARTIFACT")


class WebhookPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")  # W&B users may add their own template fields

    event_type: str
    artifact_version_string: str


def _entry_json(entry: Entry) -> dict[str, Any]:
    fields = {"version", "digest", "ref", "role", "state", "attempts", "error"}
    return {"collection": entry.ref.collection, **entry.model_dump(mode="json", include=fields)}


def _depth(value: Any, limit: int) -> int:
    """How deeply ``value`` nests (iteratively: a hostile body must not exhaust our stack either)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


class _BodyProblem(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _read_body(request: Any) -> bytes:
    """The body, within the size limit and the deadlines (silence between chunks, and overall)."""
    chunks = request.stream().__aiter__()
    body = b""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BODY_DEADLINE_S
    while True:
        wait = min(BODY_SILENCE_S, deadline - loop.time())
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), timeout=max(wait, 0.001))
        except StopAsyncIteration:
            return body
        except TimeoutError:
            raise _BodyProblem(408, f"the body did not arrive within {BODY_SILENCE_S:g}s of silence or "
                                    f"{BODY_DEADLINE_S:g}s in all") from None  # fmt: skip
        body += chunk
        if len(body) > MAX_BODY:
            raise _BodyProblem(413, f"body over {MAX_BODY} bytes")


def make_app(
    token: str, enqueue: Callable[[CheckpointRef], Entry], recent: Callable[[], list[Entry]], wake: threading.Event
) -> Any:
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    expected = f"Bearer {token}".encode()

    def authorized(request: Request) -> bool:
        return hmac.compare_digest(request.headers.get("authorization", "").encode(), expected)

    async def webhook(request: Request) -> Response:
        if not authorized(request):
            return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            return JSONResponse({"error": f"body over {MAX_BODY} bytes"}, status_code=413)
        try:
            body = await _read_body(request)
        except ClientDisconnect:
            return Response(status_code=499)  # nobody is left to read it; nothing is logged
        except _BodyProblem as problem:
            return JSONResponse({"error": str(problem)}, status_code=problem.status)
        try:
            data = json.loads(body)
            if _depth(data, MAX_DEPTH) > MAX_DEPTH:
                return JSONResponse({"error": f"the JSON nests deeper than {MAX_DEPTH} levels"}, status_code=400)
            payload = WebhookPayload.model_validate(data)
        except RecursionError:
            return JSONResponse({"error": f"the JSON nests deeper than {MAX_DEPTH} levels"}, status_code=400)
        except (ValueError, ValidationError) as exc:
            reason = str(exc).splitlines()[0][:200]
            return JSONResponse({"error": f"expected {{event_type, artifact_version_string}}: {reason}"}, 400)
        if payload.event_type not in EVENTS:
            message = f"event_type {payload.event_type[:60]!r} is not a new or re-aliased version"
            return JSONResponse({"error": message, "accepted": list(EVENTS)}, status_code=422)
        try:
            ref = CheckpointRef.parse(payload.artifact_version_string)  # the edge: text from W&B, parsed once
            entry = await run_in_threadpool(enqueue, ref)
        except UserError as exc:  # a ref we cannot parse, or outside the watched collections
            return JSONResponse({"error": str(exc)}, status_code=422)
        except OrchestratorError as exc:  # the registry did not answer
            return JSONResponse({"error": str(exc)}, status_code=503)
        wake.set()
        return JSONResponse({"queued": str(entry.ref), "event_type": payload.event_type, "state": entry.state}, 202)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def status(request: Request) -> JSONResponse:
        if not authorized(request):
            return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401)
        entries = await run_in_threadpool(recent)
        return JSONResponse({"entries": [_entry_json(e) for e in entries]})

    return Starlette(
        routes=[
            Route("/webhook", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/status", status, methods=["GET"]),
        ]
    )


def bind(listen: str) -> socket.socket:
    """The listening socket for ``--listen HOST:PORT``, bound now (before the first poll): a bad address
    is exit 2, a port another program holds is exit 75."""
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"--listen {listen!r} is not HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.1:8765")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise UserError(f"--listen {listen!r}: {host!r} is not an address of this machine ({exc})") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:  # (raised from the OSError on purpose: no chained traceback is ever shown)
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise Unavailable(
                f"--listen {listen}: the port is in use by another program; retry or pick another"
            ) from None
        raise UserError(
            f"--listen {listen}: cannot listen there ({exc.strerror}); use an address of this machine"
        ) from None
    return sock


class WebhookServer:
    """uvicorn in a background thread on a socket bound beforehand (``bind``), stopped with the watcher."""

    def __init__(self, app: Any, bound: socket.socket) -> None:
        import uvicorn

        self.socket = bound
        config = uvicorn.Config(app, log_level="critical", lifespan="off", access_log=False, timeout_keep_alive=5)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> WebhookServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()
