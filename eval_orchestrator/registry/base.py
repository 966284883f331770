"""The Registry protocol every backend (local, W&B) implements, and what resolving returns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from eval_orchestrator.refs import CheckpointRef
from eval_orchestrator.store.manifest import Manifest, ManifestEntry


@dataclass(frozen=True)
class ResolvedCheckpoint:
    """One immutable checkpoint version: what an alias pointed at when it was resolved."""

    ref: CheckpointRef  # as the user wrote it (may name an alias)
    version: str  # "vN"
    manifest: Manifest
    aliases: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    created_at: str | None = None
    # Set when the files are already verified where they lie (a '-local' artifact): no copy.
    in_place: str | None = None

    @property
    def collection(self) -> str:
        return self.ref.collection

    @property
    def digest(self) -> str:
        return self.manifest.digest

    @property
    def version_ref(self) -> CheckpointRef:
        """The reference pinned to this exact version."""
        return self.ref.with_alias(self.version)


class FileSource(Protocol):
    """Where a registry's bytes come from; the store hashes and places them."""

    def iter_bytes(self, entry: ManifestEntry) -> Iterator[bytes]: ...


class Registry(Protocol):
    def resolve(self, ref: CheckpointRef) -> ResolvedCheckpoint: ...

    def source(self, resolved: ResolvedCheckpoint) -> FileSource: ...
