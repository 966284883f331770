"""The Registry protocol every backend (local, W&B) implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from eval_orchestrator.checkpoint import FileSource, ResolvedCheckpoint
from eval_orchestrator.refs import CheckpointRef


@dataclass(frozen=True)
class VersionInfo:
    """One version as a registry lists it."""

    collection: str
    version: str
    aliases: tuple[str, ...]
    files: int
    bytes: int
    created_at: str
    digest: str


class Registry(Protocol):
    def resolve(self, ref: CheckpointRef) -> ResolvedCheckpoint: ...

    def source(self, resolved: ResolvedCheckpoint) -> FileSource: ...
