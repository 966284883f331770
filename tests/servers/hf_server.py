"""A loopback server speaking the Hugging Face Hub endpoints huggingface_hub uses to commit small files.

``HF_ENDPOINT`` points huggingface_hub at it. It answers ``POST /api/repos/create``, the
``preupload`` endpoint (every file "regular": small files go inline, base64, in the commit) and the
NDJSON ``commit`` endpoint, checks the bearer token, and keeps every committed file. Any other
request is answered 404 and recorded in ``unknown``, so a huggingface_hub upgrade that talks
differently fails the tests loudly.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.servers.base import LoopbackServer, send_json

TOKEN = "hf_" + "t0" * 17
REPO_PATH = re.compile(r"^/api/(models|datasets|spaces)/([^/]+/[^/]+)/(preupload|commit)/([^/?]+)")


@dataclass
class HubState:
    repos: dict[str, str] = field(default_factory=dict)  # repo id -> type
    files: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (repo, path) -> bytes
    commits: list[dict[str, Any]] = field(default_factory=list)  # header values, in order
    unknown: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class HubServer(LoopbackServer):
    def __init__(self) -> None:
        self.state = HubState()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                hub._post(self)

            def do_GET(self) -> None:
                if self.path == "/api/agent-harnesses":  # huggingface_hub's best-effort user-agent lookup
                    send_json(self, 200, {"standardEnvVars": [], "harnesses": {}})
                    return
                send_json(self, 404, {"error": f"hub test server: unknown GET {self.path}"})
                hub.state.unknown.append(f"GET {self.path}")

        super().__init__(Handler)

    def _post(self, req: BaseHTTPRequestHandler) -> None:
        body = req.rfile.read(int(req.headers.get("Content-Length") or 0))
        if req.headers.get("Authorization") != f"Bearer {TOKEN}":
            send_json(req, 401, {"error": "Invalid credentials in Authorization header"})
            return
        if req.path == "/api/repos/create":
            spec = json.loads(body)
            repo = f"{spec['organization']}/{spec['name']}" if spec.get("organization") else spec["name"]
            with self.state.lock:
                exists = repo in self.state.repos
                self.state.repos.setdefault(repo, spec.get("type") or "model")
            kind = spec.get("type") or "model"
            url = f"{self.url}/{kind}s/{repo}" if kind != "model" else f"{self.url}/{repo}"
            send_json(req, 409 if exists else 200, {"url": url, "error": "You already created this repo"})
            return
        match = REPO_PATH.match(req.path)
        if match is None:
            self.state.unknown.append(f"POST {req.path}")
            send_json(req, 404, {"error": f"hub test server: unknown POST {req.path}"})
            return
        kind, repo, action, _revision = match.groups()
        if repo not in self.state.repos:
            send_json(req, 404, {"error": f"Repository Not Found for url: {req.path}"})
            return
        if action == "preupload":
            files = json.loads(body)["files"]
            modes = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]
            send_json(req, 200, {"files": modes})
            return
        header: dict[str, Any] = {}
        with self.state.lock:
            for line in body.decode().splitlines():
                item = json.loads(line)
                if item["key"] == "header":
                    header = item["value"]
                elif item["key"] == "file":
                    value = item["value"]
                    self.state.files[(repo, value["path"])] = base64.b64decode(value["content"])
                else:
                    self.state.unknown.append(f"commit operation {item['key']}")
            self.state.commits.append({"repo": repo, **header})
            oid = hashlib.sha1(body, usedforsecurity=False).hexdigest()
        prefix = f"{self.url}/{kind}/{repo}" if kind != "models" else f"{self.url}/{repo}"
        send_json(req, 200, {"commitUrl": f"{prefix}/commit/{oid}", "commitOid": oid, "success": True})
