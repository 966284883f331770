"""The Registry protocol every backend (local, W&B) implements."""

from __future__ import annotations

from typing import Protocol

from eval_orchestrator.checkpoint import FileSource, ResolvedCheckpoint
from eval_orchestrator.refs import CheckpointRef


class Registry(Protocol):
    def resolve(self, ref: CheckpointRef) -> ResolvedCheckpoint: ...

    def source(self, resolved: ResolvedCheckpoint) -> FileSource: ...
