"""W&B Automations -> the watcher: ``POST /webhook`` queues the version a registry event names.

W&B sends the JSON payload the user pasted in its UI (``{"event_type": "${event_type}",
"artifact_version_string": "${artifact_version_string}"}``) with ``Authorization: Bearer <token>``
from a team secret. The token is compared in constant time with EVAL_ORCHESTRATOR_WEBHOOK_TOKEN:
wrong or missing -> 401 and nothing queued; malformed -> 400; oversized -> 413; a version outside
the watched collections -> 422; accepted -> 202, into the same ledger the poller fills.
Also ``GET /healthz`` and ``GET /status`` (the ledger's recent entries). Starlette on uvicorn.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from eval_orchestrator.errors import OrchestratorError, UserError
from eval_orchestrator.refs import CheckpointRef
from eval_orchestrator.watch.ledger import Entry

MAX_BODY = 64 * 1024


class WebhookPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")  # W&B users may add their own template fields

    event_type: str
    artifact_version_string: str


def _entry_json(entry: Entry) -> dict[str, Any]:
    fields = {"version", "digest", "ref", "role", "state", "attempts", "error"}
    return {"collection": entry.ref.collection, **entry.model_dump(mode="json", include=fields)}


def make_app(
    token: str, enqueue: Callable[[CheckpointRef], Entry], recent: Callable[[], list[Entry]], wake: threading.Event
) -> Any:
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    expected = f"Bearer {token}".encode()

    async def webhook(request: Request) -> JSONResponse:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            return JSONResponse({"error": f"body over {MAX_BODY} bytes"}, status_code=413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return JSONResponse({"error": f"body over {MAX_BODY} bytes"}, status_code=413)
        try:
            payload = WebhookPayload.model_validate(json.loads(body))
        except (ValueError, ValidationError) as exc:
            reason = str(exc).splitlines()[0]
            return JSONResponse({"error": f"expected {{event_type, artifact_version_string}}: {reason}"}, 400)
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
        entries = await run_in_threadpool(recent)
        return JSONResponse({"entries": [_entry_json(e) for e in entries]})

    return Starlette(
        routes=[
            Route("/webhook", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/status", status, methods=["GET"]),
        ]
    )


class WebhookServer:
    """uvicorn in a background thread, stopped with the watcher."""

    def __init__(self, app: Any, listen: str) -> None:
        import uvicorn

        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit():
            raise UserError(f"--listen {listen!r} is not HOST:PORT, e.g. 0.0.0.0:8765")
        config = uvicorn.Config(app, host=host, port=int(port), log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="webhook", daemon=True)

    def __enter__(self) -> WebhookServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
