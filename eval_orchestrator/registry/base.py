"""The Registry protocol every backend (local, W&B) implements, with one signature each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from eval_orchestrator.checkpoint import FileSource, ResolvedCheckpoint, VersionId
from eval_orchestrator.refs import CheckpointRef, CollectionRef


@dataclass(frozen=True)
class VersionInfo:
    """One version as a registry lists it."""

    collection: str  # the collection's name
    version: str
    aliases: tuple[str, ...]
    files: int
    bytes: int
    created_at: str
    digest: str
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def id_in(self, collection: CollectionRef) -> VersionId:
        return VersionId(collection, self.version, self.digest)


class Registry(Protocol):
    def resolve(self, ref: CheckpointRef) -> ResolvedCheckpoint:
        """The version ``ref`` names now (an alias followed); NotFound when there is none."""
        ...

    def source(self, resolved: ResolvedCheckpoint) -> FileSource:
        """Where the store reads the version's bytes from."""
        ...

    def list_versions(self, collection: CollectionRef) -> list[VersionInfo]:
        """Every version of ``collection`` with its aliases, oldest first (one listing);
        CollectionNotFound when the registry has no such collection."""
        ...

    def set_alias(self, ref: CheckpointRef, alias: str) -> ResolvedCheckpoint:
        """Point ``alias`` at the version ``ref`` names (moving it off the version that had it)."""
        ...

    def update_metadata(self, ref: CheckpointRef, updates: Mapping[str, Any]) -> None:
        """Set these top-level keys of the version's metadata (the version's files never change)."""
        ...
