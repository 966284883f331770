"""A W&B-protocol test server on loopback: the GraphQL operations the pinned SDK sends, and files.

It is deliberately strict: an operation it does not know is answered with a GraphQL error that
names it, so an SDK upgrade that changes the protocol fails loudly instead of passing silently.
Its state is plain Python (entities, projects, collections, versions, aliases) that tests seed and
inspect directly; faults (corrupted or truncated bytes, slow files) are switches on the state.

Read path (``wandb.Api().artifact(...)``): Viewer, GetDefaultEntity, FetchOrgInfoFromEntity,
ServerFeaturesQuery, ArtifactMembershipByName, FetchArtifactManifest (+ GET of the manifest),
ArtifactMembershipFiles / GetArtifactMembershipFileUrls (+ GET per file).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from tests.servers.base import LoopbackServer
from tests.servers.wandb_views import ViewOperations, Views

API_KEY = "e0" * 20  # W&B keys have 40+ characters
VIEWER = "alice"
ORG = "acme"
ORG_ENTITY = "acme-org"

OPERATION = re.compile(r"\b(?:query|mutation)\s+(\w+)")


def b64_md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def manifest_digest(contents: Mapping[str, Mapping[str, Any]]) -> str:
    hasher = hashlib.md5(usedforsecurity=False)
    hasher.update(b"wandb-artifact-manifest-v1\n")
    for name, entry in sorted(contents.items()):
        hasher.update(f"{name}:{entry['digest']}\n".encode())
    return hasher.hexdigest()


@dataclass
class Version:
    id: str
    entity: str
    project: str
    collection: str
    index: int
    type: str
    files: dict[str, bytes]
    refs: dict[str, dict[str, Any]]  # reference entries: path -> {ref, digest, size}
    metadata: dict[str, Any]
    description: str | None
    created_at: str
    created_by: str | None = None  # the run that logged it

    @cached_property  # versions are immutable; hashing large files on every request would dominate
    def contents(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {p: {"digest": b64_md5(b), "size": len(b)} for p, b in self.files.items()}
        out.update(self.refs)
        return out

    @property
    def digest(self) -> str:
        return manifest_digest(self.contents)

    @property
    def size(self) -> int:
        return sum(int(e["size"]) for e in self.contents.values())


@dataclass
class Collection:
    entity: str
    project: str
    name: str
    type: str
    versions: list[Version] = field(default_factory=list)
    aliases: dict[str, int] = field(default_factory=dict)

    def aliases_of(self, index: int) -> list[str]:
        return sorted(a for a, i in self.aliases.items() if i == index)


def _telemetry(config: str | None) -> Any:
    """The "t" key W&B keeps of a run's `_wandb` config (set once a client has started the run)."""
    try:
        return json.loads(config or "{}").get("_wandb", {}).get("value", {}).get("t")
    except (json.JSONDecodeError, AttributeError):
        return None


@dataclass
class Faults:
    corrupt: set[str] = field(default_factory=set)  # file names served with one byte flipped
    truncate: set[str] = field(default_factory=set)  # file names served with the last byte missing
    delay_per_file: float = 0.0  # seconds to sleep before each file body
    chunk_delay: float = 0.0  # seconds to sleep between 64 KiB pieces of a file body (a slow link)
    down: bool = False  # W&B is "down": every request gets a 503 (as during an outage)
    stall: bool = False  # W&B hangs: requests get no answer until this is cleared
    down_ops: set[str] = field(default_factory=set)  # only these GraphQL operations get a 503
    refused_ops: set[str] = field(default_factory=set)  # these get a GraphQL error (W&B refused: no retry)
    slow_ops: dict[str, float] = field(default_factory=dict)  # seconds to sleep before answering these
    history_refusals: int = 0  # this many file_stream posts carrying history rows get a 503 (a blip)


@dataclass
class State:
    api_key: str = API_KEY
    collections: dict[tuple[str, str, str], Collection] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    operations: list[str] = field(default_factory=list)  # every GraphQL operation, in order
    file_gets: list[str] = field(default_factory=list)  # every file GET path
    unknown: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (name, query, variables)
    runs: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)  # UpsertBucket inputs, merged
    file_stream: list[dict[str, Any]] = field(default_factory=list)  # every file_stream POST body
    uploads: dict[str, bytes] = field(default_factory=dict)  # PUT path -> bytes
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)  # artifact id -> CreateArtifact input
    used: list[tuple[str, str, str, str]] = field(default_factory=list)  # UseArtifact: entity, project, run, id
    projects: set[tuple[str, str]] = field(default_factory=set)  # UpsertModel (Weave creates its project)
    views: Views = field(default_factory=Views)  # W&B Reports (wandb_views.py)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: int = 0

    def run_file(self, entity: str, project: str, run: str, name: str) -> dict[int, str]:
        """W&B's copy of one of a run's file_stream files (history, summary...): lines by offset.

        A later post at an offset replaces what was there, as in W&B."""
        lines: dict[int, str] = {}
        with self.lock:
            for post in self.file_stream:
                chunk = post.get("files", {}).get(name)
                if chunk is not None and f"/{entity}/{project}/{run}/" in post["path"]:
                    for i, line in enumerate(chunk.get("content", [])):
                        lines[chunk["offset"] + i] = line
        return lines

    def history_rows(self, entity: str, project: str, run: str) -> int:
        return len(self.run_file(entity, project, run, "wandb-history.jsonl"))

    def next_id(self, kind: str) -> str:
        with self.lock:
            self._ids += 1
            return base64.b64encode(f"{kind}:{self._ids}".encode()).decode()

    def add_version(
        self,
        entity: str,
        project: str,
        name: str,
        files: Mapping[str, bytes],
        aliases: tuple[str, ...] = (),
        *,
        refs: Mapping[str, Mapping[str, Any]] | None = None,
        metadata: Mapping[str, Any] | None = None,
        description: str | None = None,
        type: str = "model",
        artifact_id: str | None = None,
    ) -> Version:
        """Log a new version: it becomes vN and `latest`; ``aliases`` move onto it."""
        with self.lock:
            key = (entity, project, name)
            coll = self.collections.setdefault(key, Collection(entity, project, name, type))
            version = Version(
                id=artifact_id or self.next_id("Artifact"),
                entity=entity,
                project=project,
                collection=name,
                index=len(coll.versions),
                type=type,
                files=dict(files),
                refs={p: dict(r) for p, r in (refs or {}).items()},
                metadata=dict(metadata or {}),
                description=description,
                created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            )
            coll.versions.append(version)
            for alias in ("latest", *aliases):
                coll.aliases[alias] = version.index
            return version

    def move_alias(self, entity: str, project: str, name: str, alias: str, index: int) -> None:
        with self.lock:
            self.collections[(entity, project, name)].aliases[alias] = index

    def find(self, entity: str, project: str, name_alias: str) -> tuple[Collection, Version] | None:
        name, _, alias = name_alias.partition(":")
        alias = alias or "latest"
        with self.lock:
            coll = self.collections.get((entity, project, name))
            if coll is None and project == "model-registry":
                # The legacy model registry was migrated into the org's model registry.
                coll = self.collections.get((ORG_ENTITY, "wandb-registry-model", name))
            if coll is None:
                return None
            match = re.fullmatch(r"v(\d+)", alias)
            index = int(match.group(1)) if match else coll.aliases.get(alias)
            if index is None or index >= len(coll.versions):
                return None
            return coll, coll.versions[index]

    def project_exists(self, entity: str, project: str) -> bool:
        with self.lock:
            return (
                project == "model-registry"
                or any((e, p) == (entity, project) for e, p, _ in [*self.collections, *self.runs])
                or (entity, project) in self.projects
                or (project.startswith("wandb-registry-") and entity == ORG_ENTITY)
            )

    def version_by_id(self, artifact_id: str) -> Version | None:
        with self.lock:
            for coll in self.collections.values():
                for version in coll.versions:
                    if version.id == artifact_id:
                        return version
        return None


class UnknownOperation(Exception):
    pass


def _project_json(entity: str, project: str) -> dict[str, Any]:
    return {
        "id": f"p-{entity}-{project}",
        "internalId": f"{entity}/{project}",
        "name": project,
        "entity": {"name": entity},
    }


class Server(LoopbackServer, ViewOperations):
    """The W&B-protocol server; ``url`` is the WANDB_BASE_URL to use; stop() and start() again on the
    same port make an outage."""

    def __init__(self, state: State | None = None) -> None:
        self.state = state or State()
        self.handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "Viewer": self._viewer,
            "GetViewer": self._get_viewer,  # Api().viewer
            "GetDefaultEntity": self._default_entity,
            "ServerFeaturesQuery": lambda _v: {"serverInfo": {"features": []}},
            "FetchOrgInfoFromEntity": self._org_info,
            "ArtifactMembershipByName": self._membership_by_name,
            "FetchArtifactManifest": self._fetch_manifest,
            "ArtifactMembershipFiles": self._membership_files,
            "GetArtifactMembershipFileUrls": self._membership_files,
            "UpsertBucket": self._upsert_bucket,
            "ArtifactType": self._artifact_type,
            "CreateArtifact": self._create_artifact,
            "CreateArtifactManifest": self._create_manifest,
            "CreateArtifactFiles": self._create_files,
            "CommitArtifact": self._commit_artifact,
            "ArtifactByID": self._artifact_by_id,
            "LinkArtifact": self._link_artifact,
            "CreateRunFiles": self._create_run_files,
            "UseArtifact": self._use_artifact,
            "RunResumeStatus": self._run_resume_status,
            "RunHistoryLineCount": self._run_history_line_count,
            "AddAliases": self._add_aliases,
            "UpdateArtifact": self._update_artifact,
            "ProjectArtifacts": self._project_artifacts,
            # Weave's own GraphQL (weave.compat.wandb): the project it traces to, made if missing.
            "Project": self._project,
            "UpsertModel": self._upsert_model,
            "DefaultEntity": lambda _v: {"viewer": {"username": VIEWER, "defaultEntity": {"name": VIEWER}}},
            **self.view_handlers(),
        }
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                if not server._outage(self):
                    server._post(self)

            def do_GET(self) -> None:
                if not server._outage(self):
                    server._get(self)

            def do_PUT(self) -> None:
                if not server._outage(self):
                    server._put(self)

        super().__init__(Handler)

    # -- HTTP ---------------------------------------------------------------------------------

    def _authorized(self, req: BaseHTTPRequestHandler) -> bool:
        header = req.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        _user, _, key = base64.b64decode(header[6:]).decode().partition(":")
        return key == self.state.api_key

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str = "application/json") -> None:
        req.send_response(status)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    def _outage(self, req: BaseHTTPRequestHandler) -> bool:
        while self.state.faults.stall:
            time.sleep(0.05)
        if not self.state.faults.down:
            return False
        req.rfile.read(int(req.headers.get("Content-Length") or 0))
        self._send(req, 503, b'{"error": "service unavailable"}')
        return True

    def _post(self, req: BaseHTTPRequestHandler) -> None:
        body = req.rfile.read(int(req.headers.get("Content-Length") or 0))
        if req.path.startswith("/sdk/otel"):  # wandb-core's own telemetry
            self._send(req, 200, b"{}")
            return
        if req.path.startswith("/files/") and req.path.endswith("/file_stream"):
            post = json.loads(body)
            with self.state.lock:
                refuse = self.state.faults.history_refusals > 0 and "wandb-history.jsonl" in post.get("files", {})
                self.state.faults.history_refusals -= refuse
            if refuse:
                self._send(req, 503, b'{"error": "service unavailable"}')
                return
            self.state.file_stream.append({"path": req.path, **post})
            self._send(req, 200, b"{}")
            return
        if req.path != "/graphql":
            self._send(req, 404, b'{"error": "not found"}')
            return
        if not self._authorized(req):
            self._send(req, 401, b'{"errors": [{"message": "user is not logged in"}]}')
            return
        payload = json.loads(body)
        match = OPERATION.search(payload.get("query", ""))
        name = match.group(1) if match else "<anonymous>"
        self.state.operations.append(name)
        if name in self.state.faults.down_ops:
            self._send(req, 503, b'{"errors": [{"message": "service unavailable"}]}')
            return
        if name in self.state.faults.refused_ops:
            self._send(req, 200, json.dumps({"errors": [{"message": f"{name} refused"}], "data": None}).encode())
            return
        if delay := self.state.faults.slow_ops.get(name):
            time.sleep(delay)
        handler = self.handlers.get(name)
        if handler is None:
            self.state.unknown.append((name, payload.get("query", ""), payload.get("variables") or {}))
            out: dict[str, Any] = {"errors": [{"message": f"wandb test server: unknown operation {name!r}"}]}
        else:
            try:
                out = {"data": handler(payload.get("variables") or {})}
            except ValueError as exc:  # what W&B refuses: a GraphQL error, as W&B answers it
                out = {"errors": [{"message": str(exc)}], "data": None}
        self._send(req, 200, json.dumps(out).encode())

    def _get(self, req: BaseHTTPRequestHandler) -> None:
        path = unquote(req.path)
        if path.startswith("/manifests/"):
            version = self.state.version_by_id(path.removeprefix("/manifests/"))
            if version is None:
                self._send(req, 404, b"{}")
                return
            manifest = {
                "version": 1,
                "storagePolicy": "wandb-storage-policy-v1",
                "storagePolicyConfig": {"storageLayout": "V2"},
                "contents": version.contents,
            }
            self._send(req, 200, json.dumps(manifest).encode())
            return
        if path.startswith("/files/"):
            artifact_id, _, name = path.removeprefix("/files/").partition("/")
            version = self.state.version_by_id(artifact_id)
            if version is None or name not in version.files:
                self._send(req, 404, b"{}")
                return
            self.state.file_gets.append(name)
            data = version.files[name]
            faults = self.state.faults
            if name in faults.corrupt and data:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            if name in faults.truncate:
                data = data[:-1]
            if faults.delay_per_file:
                time.sleep(faults.delay_per_file)
            if not faults.chunk_delay:
                self._send(req, 200, data, "application/octet-stream")
                return
            req.send_response(200)
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            try:
                for start in range(0, len(data), 64 * 1024):
                    req.wfile.write(data[start : start + 64 * 1024])
                    time.sleep(faults.chunk_delay)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away
            return
        self._send(req, 404, b"{}")

    def _put(self, req: BaseHTTPRequestHandler) -> None:
        body = req.rfile.read(int(req.headers.get("Content-Length") or 0))
        self.state.uploads[unquote(req.path)] = body
        self._send(req, 200, b"")

    # -- GraphQL operations ---------------------------------------------------------------------

    def _viewer(self, _vars: dict[str, Any]) -> dict[str, Any]:
        return {
            "viewer": {
                "id": "VXNlcjox",
                "entity": VIEWER,
                "username": VIEWER,
                "email": f"{VIEWER}@example.com",
                "flags": None,
                "teams": {"edges": []},
            }
        }

    def _get_viewer(self, _vars: dict[str, Any]) -> dict[str, Any]:
        user = {"id": "VXNlcjox", "name": "Alice", "username": VIEWER, "email": f"{VIEWER}@example.com",
                "admin": False, "flags": None, "entity": VIEWER, "deletedAt": None, "apiKeys": {"edges": []},
                "teams": {"edges": []}}  # fmt: skip
        return {"viewer": user}

    def _project(self, variables: dict[str, Any]) -> dict[str, Any]:
        entity, name = variables["entityName"], variables["name"]
        return {"project": {"name": name} if self.state.project_exists(entity, name) else None}

    def _upsert_model(self, variables: dict[str, Any]) -> dict[str, Any]:
        entity, name = variables.get("entity") or VIEWER, variables["name"]
        with self.state.lock:
            self.state.projects.add((entity, name))
        return {"upsertModel": {"model": {"name": name, "description": variables.get("description")}}}

    def _default_entity(self, _vars: dict[str, Any]) -> dict[str, Any]:
        return {"viewer": {"id": "VXNlcjox", "entity": VIEWER}}

    def _org_info(self, variables: dict[str, Any]) -> dict[str, Any]:
        org = {"name": ORG, "orgEntity": {"name": ORG_ENTITY}}
        if variables["entity"] in (ORG_ENTITY, ORG):
            return {"entity": {"organization": org, "user": None}}
        return {"entity": {"organization": None, "user": {"organizations": [org]}}}

    def _artifact_json(self, coll: Collection, version: Version) -> dict[str, Any]:
        return {
            "__typename": "Artifact",
            "id": version.id,
            "artifactSequence": {
                "__typename": "ArtifactSequence",
                "name": coll.name,
                "project": _project_json(coll.entity, coll.project),
            },
            "versionIndex": version.index,
            "artifactType": {"name": version.type},
            "description": version.description,
            "metadata": json.dumps(version.metadata),
            "ttlDurationSeconds": -1,
            "ttlIsInherited": True,
            "tags": [],
            "historyStep": None,
            "state": "COMMITTED",
            "size": version.size,
            "digest": version.digest,
            "digestAlgorithm": "MANIFEST_MD5",
            "commitHash": version.digest[:12],
            "fileCount": len(version.contents),
            "createdAt": version.created_at,
            "updatedAt": version.created_at,
            "aliases": [
                {
                    "__typename": "ArtifactAlias",
                    "id": f"{version.id}-{alias}",
                    "alias": alias,
                    "artifactCollection": {
                        "__typename": "ArtifactSequence",
                        "name": coll.name,
                        "project": _project_json(coll.entity, coll.project),
                    },
                }
                for alias in coll.aliases_of(version.index)
            ],
        }

    def _membership_by_name(self, variables: dict[str, Any]) -> dict[str, Any]:
        entity, project = variables["entity"], variables["project"]
        if not self.state.project_exists(entity, project):
            return {"project": None}
        found = self.state.find(entity, project, variables["name"])
        if found is None:
            return {"project": {"artifactCollectionMembership": None}}
        coll, version = found
        collection_json = {
            "__typename": "ArtifactPortfolio" if coll.project.startswith("wandb-registry-") else "ArtifactSequence",
            "name": coll.name,
            "project": _project_json(coll.entity, coll.project),
        }
        return {
            "project": {
                "artifactCollectionMembership": {
                    "__typename": "ArtifactCollectionMembership",
                    "id": version.id + "-m",
                    "versionIndex": version.index,
                    "createdAt": version.created_at,
                    "aliases": [
                        {"__typename": "ArtifactAlias", "id": f"{version.id}-{a}", "alias": a}
                        for a in coll.aliases_of(version.index)
                    ],
                    "artifactCollection": collection_json,
                    "artifact": self._artifact_json(coll, version),
                }
            }
        }

    def _fetch_manifest(self, variables: dict[str, Any]) -> dict[str, Any]:
        version = self.state.version_by_id(variables["id"])
        if version is None:
            return {"artifact": None}
        return {"artifact": {"currentManifest": {"file": {"directUrl": f"{self.url}/manifests/{version.id}"}}}}

    def _membership_files(self, variables: dict[str, Any]) -> dict[str, Any]:
        found = self.state.find(
            variables["entity"], variables["project"], f"{variables['collection']}:{variables['alias']}"
        )
        if found is None:
            return {"project": None}
        _coll, version = found
        names = variables.get("fileNames") or sorted(version.files)
        nodes = [
            {
                "__typename": "File",
                "id": f"{version.id}-{name}",
                "name": name,
                "url": f"{self.url}/files/{version.id}/{name}",
                "directUrl": f"{self.url}/files/{version.id}/{name}",
                "sizeBytes": len(version.files[name]),
                "storagePath": None,
                "mimetype": None,
                "updatedAt": version.created_at,
                "digest": b64_md5(version.files[name]),
                "md5": b64_md5(version.files[name]),
            }
            for name in names
            if name in version.files
        ]
        return {
            "project": {
                "artifactCollection": {
                    "__typename": "ArtifactSequence",
                    "artifactMembership": {
                        "files": {
                            "totalCount": len(nodes),
                            "pageInfo": {"__typename": "PageInfo", "endCursor": None, "hasNextPage": False},
                            "edges": [{"node": node} for node in nodes],
                        }
                    },
                }
            }
        }

    # -- runs -----------------------------------------------------------------------------------

    def _upsert_bucket(self, variables: dict[str, Any]) -> dict[str, Any]:
        entity = variables.get("entity") or VIEWER
        project = variables.get("project") or "uncategorized"
        name = variables.get("name") or self.state.next_id("Run")
        with self.state.lock:
            key = (entity, project, name)
            inserted = key not in self.state.runs
            run = self.state.runs.setdefault(key, {"id": self.state.next_id("Run")})
            run.update({k: v for k, v in variables.items() if v is not None})
        return {
            "upsertBucket": {
                "bucket": {
                    "id": run["id"],
                    "name": name,
                    "displayName": run.get("displayName") or name,
                    "description": run.get("description"),
                    "config": run.get("config") or "{}",
                    "sweepName": None,
                    "project": {
                        "id": f"p-{entity}-{project}",
                        "name": project,
                        "entity": {"id": f"e-{entity}", "name": entity},
                    },
                    "historyLineCount": 0,
                },
                "inserted": inserted,
            }
        }

    # -- logging artifacts ----------------------------------------------------------------------

    def _artifact_type(self, variables: dict[str, Any]) -> dict[str, Any]:
        found = self.state.find(variables.get("entity") or VIEWER, variables.get("project") or "", variables["name"])
        artifact = {"artifactType": {"name": found[1].type}} if found else None
        return {"project": {"artifact": artifact}}

    def _create_artifact(self, variables: dict[str, Any]) -> dict[str, Any]:
        spec = variables["input"]
        key = (spec["entityName"], spec["projectName"], spec["artifactCollectionName"])
        with self.state.lock:
            coll = self.state.collections.get(key)
            same = [v for v in coll.versions if v.digest == spec["digest"]] if coll else []
            if same:  # digest deduplication, as W&B does: the existing version gets the aliases
                for alias in spec.get("aliases") or []:
                    coll.aliases[alias["alias"]] = same[0].index  # type: ignore[union-attr]
                artifact_id, state = same[0].id, "COMMITTED"
            else:
                artifact_id, state = self.state.next_id("Artifact"), "PENDING"
                self.state.pending[artifact_id] = dict(spec)
        return {
            "createArtifact": {
                "artifact": {"id": artifact_id, "state": state, "artifactSequence": {"latestArtifact": None}}
            }
        }

    def _create_manifest(self, variables: dict[str, Any]) -> dict[str, Any]:
        artifact_id = variables["artifactID"]
        upload = f"{self.url}/uploads/{artifact_id}/wandb_manifest.json"
        return {
            "createArtifactManifest": {
                "artifactManifest": {
                    "id": f"{artifact_id}-manifest",
                    "file": {"id": f"{artifact_id}-manifest-file", "uploadUrl": upload, "uploadHeaders": []},
                }
            }
        }

    def _create_files(self, variables: dict[str, Any]) -> dict[str, Any]:
        edges = []
        for spec in variables["input"]["artifactFiles"]:
            aid = spec["artifactID"]
            self.state.pending.get(aid, {}).setdefault("md5", {})[spec["name"]] = spec["md5"]
            node: dict[str, Any] = {
                "storagePath": f"{aid}/{spec['name']}",
                "uploadUrl": f"{self.url}/uploads/{aid}/{spec['name']}",
                "uploadHeaders": [],
                "uploadMultipartUrls": None,
                "artifact": {"id": aid},
            }
            edges.append({"node": node})
        return {"createArtifactFiles": {"files": {"edges": edges}}}

    def _commit_artifact(self, variables: dict[str, Any]) -> dict[str, Any]:
        aid = variables["artifactID"]
        with self.state.lock:
            spec = self.state.pending.pop(aid)
            manifest = json.loads(self.state.uploads[f"/uploads/{aid}/wandb_manifest.json"])
            files, refs = {}, {}
            for path, entry in manifest["contents"].items():
                if entry.get("ref"):
                    refs[path] = entry
                    continue
                # Unchanged files are not uploaded again: take them from an earlier version.
                data = self.state.uploads.get(f"/uploads/{aid}/{path}")
                if data is None:
                    data = next(
                        v.files[path]
                        for c in self.state.collections.values()
                        for v in c.versions
                        if v.files.get(path) is not None and b64_md5(v.files[path]) == entry["digest"]
                    )
                files[path] = data
            version = self.state.add_version(
                spec["entityName"],
                spec["projectName"],
                spec["artifactCollectionName"],
                files,
                tuple(a["alias"] for a in spec.get("aliases") or [] if a["alias"] != "latest"),
                refs=refs,
                metadata=json.loads(spec.get("metadata") or "{}"),
                description=spec.get("description"),
                type=spec["artifactTypeName"],
                artifact_id=aid,
            )
            version.created_by = spec.get("runName")
        return {"commitArtifact": {"artifact": {"id": aid, "digest": version.digest}}}

    def _artifact_by_id(self, variables: dict[str, Any]) -> dict[str, Any]:
        with self.state.lock:
            for coll in self.state.collections.values():
                for version in coll.versions:
                    if version.id == variables["id"]:
                        return {"artifact": self._artifact_json(coll, version)}
        return {"artifact": None}

    def _add_aliases(self, variables: dict[str, Any]) -> dict[str, Any]:
        """Artifact.save() of a version whose aliases grew: each alias moves onto it, as in W&B."""
        spec = variables["input"]
        with self.state.lock:
            for alias in spec["aliases"]:
                key = (alias["entityName"], alias["projectName"], alias["artifactCollectionName"])
                coll = self.state.collections[key]
                version = next(v for v in coll.versions if v.id == spec["artifactID"])
                coll.aliases[alias["alias"]] = version.index
        return {"result": {"success": True}}

    def _project_artifacts(self, variables: dict[str, Any]) -> dict[str, Any]:
        """Api.artifacts(type, path): a collection's committed versions, newest first, a page at a time."""
        key = (variables["entity"], variables["project"], variables["collection"])
        with self.state.lock:
            coll = self.state.collections.get(key)
            if coll is None or coll.type != variables["type"]:
                return {"project": {"artifactType": None}}
            start = int(variables.get("cursor") or 0)
            page = sorted(coll.versions, key=lambda v: -v.index)[start : start + int(variables.get("perPage") or 50)]
            end = start + len(page)
            return {
                "project": {
                    "artifactType": {
                        "artifactCollection": {
                            "__typename": "ArtifactSequence",
                            "artifacts": {
                                "totalCount": len(coll.versions),
                                "pageInfo": {
                                    "__typename": "PageInfo",
                                    "endCursor": str(end),
                                    "hasNextPage": end < len(coll.versions),
                                },
                                "edges": [
                                    {"version": f"v{v.index}", "node": self._artifact_json(coll, v)} for v in page
                                ],
                            },
                        }
                    }
                }
            }

    def _update_artifact(self, variables: dict[str, Any]) -> dict[str, Any]:
        """Artifact.save(): description and metadata; answers with the artifact as it is now."""
        spec = variables["input"]
        with self.state.lock:
            for coll in self.state.collections.values():
                for version in coll.versions:
                    if version.id == spec["artifactID"]:
                        version.metadata = json.loads(spec.get("metadata") or "{}")
                        return {"result": {"artifact": self._artifact_json(coll, version)}}
        return {"result": None}

    def _run_history_line_count(self, variables: dict[str, Any]) -> dict[str, Any]:
        entity = variables.get("entity") or VIEWER
        with self.state.lock:
            if (entity, variables["project"], variables["name"]) not in self.state.runs:
                return {"project": None}
            rows = self.state.history_rows(entity, variables["project"], variables["name"])
        return {"project": {"run": {"historyLineCount": rows}}}

    def _run_resume_status(self, variables: dict[str, Any]) -> dict[str, Any]:
        """resume="allow": an existing run continues (null bucket: a new run)."""
        entity = variables.get("entity") or VIEWER
        project = variables.get("project") or "uncategorized"
        with self.state.lock:
            run = self.state.runs.get((entity, project, variables["name"]))
            bucket = None
            if run is not None:
                rows = self.state.history_rows(entity, project, variables["name"])
                summaries = self.state.run_file(entity, project, variables["name"], "wandb-summary.json")
                summary = summaries[max(summaries)] if summaries else "{}"
                bucket = {
                    "id": run["id"],
                    "name": variables["name"],
                    "summaryMetrics": summary,
                    "displayName": run.get("displayName") or variables["name"],
                    "logLineCount": 0,
                    "historyLineCount": rows,
                    "eventsLineCount": 0,
                    "historyTail": "[]",
                    "eventsTail": "[]",
                    "config": run.get("config") or "{}",
                    "tags": run.get("tags") or [],
                    "notes": run.get("notes"),
                    # wandbConfig(keys: ["t"]): wandb-core resumes only a run that has "t" (its telemetry)
                    "wandbConfig": json.dumps({"t": t} if (t := _telemetry(run.get("config"))) else {}),
                }
        return {
            "model": {
                "id": f"p-{entity}-{project}",
                "name": project,
                "entity": {"id": f"e-{entity}", "name": entity},
                "bucket": bucket,
            }
        }

    def _use_artifact(self, variables: dict[str, Any]) -> dict[str, Any]:
        """Lineage: the run (entity/project/runName) consumed the artifact."""
        with self.state.lock:
            found = self._artifact_by_id({"id": variables["artifactID"]})["artifact"]
            if found is None:
                raise KeyError(f"no artifact {variables['artifactID']}")
            key = (variables["entityName"], variables["projectName"], variables["runName"], variables["artifactID"])
            self.state.used.append(key)
        return {"useArtifact": {"artifact": found}}

    def _link_artifact(self, variables: dict[str, Any]) -> dict[str, Any]:
        spec = variables["input"]
        source = self.state.version_by_id(spec["artifactID"])
        assert source is not None, "LinkArtifact of an unknown artifact"
        key = (spec["entityName"], spec["projectName"], spec["artifactPortfolioName"])
        with self.state.lock:
            portfolio = self.state.collections.setdefault(key, Collection(*key, source.type))
            linked = next((v for v in portfolio.versions if v.id == source.id), None)
            if linked is None:
                linked = replace(
                    source, index=len(portfolio.versions), entity=key[0], project=key[1], collection=key[2]
                )
                portfolio.versions.append(linked)
            for alias in ("latest", *(a["alias"] for a in spec.get("aliases") or [])):
                portfolio.aliases[alias] = linked.index
        return {"result": {"versionIndex": linked.index}}

    def _create_run_files(self, variables: dict[str, Any]) -> dict[str, Any]:
        run = "/".join((variables["entity"], variables["project"], variables["run"]))
        files = [{"name": n, "uploadUrl": f"{self.url}/uploads/runs/{run}/{n}"} for n in variables["files"]]
        return {"createRunFiles": {"runID": run, "uploadHeaders": [], "files": files}}
