"""``stamp.json``: what the store verified about a checkpoint it holds (the manifest, and each file's
size and mtime when it was checked). Read back through a typed model: a damaged or foreign stamp
is None (the copy is then fetched again, or listed as damaged), never a KeyError later."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eval_orchestrator.checkpoint import Manifest, ResolvedCheckpoint
from eval_orchestrator.errors import OrchestratorError
from eval_orchestrator.refs import CheckpointRef

STAMP = "stamp.json"
MAX_STAMP_BYTES = 64 * 1024 * 1024  # a manifest of a million files is far less


class Stamp(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    ref: CheckpointRef  # pinned to the version
    digest: str | None = None
    manifest: dict[str, Any]
    files: dict[str, tuple[int, int]]  # path -> (size, mtime_ns) when it was verified
    checks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    local_md5: dict[str, str] = Field(default_factory=dict)

    def resolved(self) -> ResolvedCheckpoint:
        return ResolvedCheckpoint(ref=self.ref, version=self.ref.alias, manifest=Manifest.from_json(self.manifest))

    def write(self, entry: Path) -> None:
        (entry / STAMP).write_text(json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True))


def read_stamp(entry: Path) -> Stamp | None:
    """A stored checkpoint's stamp, or None when it is missing, damaged, or names a bad reference or path."""
    file = entry / STAMP
    try:
        if file.stat().st_size > MAX_STAMP_BYTES:
            return None
        stamp = Stamp.model_validate_json(file.read_bytes())
        stamp.resolved()  # a manifest naming a path outside the checkpoint is refused here
    except (OSError, ValueError, ValidationError, OrchestratorError, RecursionError):
        return None
    return stamp
