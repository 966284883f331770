"""What a watched collection holds now: one listing per collection per poll.

Local registry: its index (one read of the collection's versions and aliases). W&B: for "every
new version", the collection's listing through the SDK (``Api.artifacts``: one request per 100
versions, each with its aliases and digest), so no version registered between two polls is
missed; for "every time an alias moves", that alias resolved once (one artifact lookup).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from eval_orchestrator.refs import VERSION_PATTERN, CheckpointRef, format_ref, parse_ref
from eval_orchestrator.run_config import StoreConfig

if TYPE_CHECKING:
    from eval_orchestrator.orchestrate import Registries


@dataclass(frozen=True)
class Watched:
    """One entry of ``watch.collections``."""

    text: str
    ref: CheckpointRef
    alias: str | None  # set: follow this alias; None: every new version

    @classmethod
    def parse(cls, text: str) -> Watched:
        ref = parse_ref(text)
        return cls(text, ref, ref.alias if ":" in text else None)

    @property
    def collection(self) -> str:
        """The collection's reference without an alias: the ledger's key for it."""
        return format_ref(self.ref).rsplit(":", 1)[0]

    def covers(self, ref: CheckpointRef) -> bool:
        return (ref.backend, ref.collection, ref.project, ref.entity) == (
            self.ref.backend,
            self.ref.collection,
            self.ref.project,
            self.ref.entity,
        )


@dataclass(frozen=True)
class Seen:
    """A version a listing found."""

    registry: str  # "local" or "wandb"
    collection: str
    version: str
    number: int
    digest: str
    ref: str  # pinned to the version
    aliases: tuple[str, ...]


def version_number(version: str) -> int:
    """N of 'vN' (the order versions were registered in); -1 for anything else."""
    match = VERSION_PATTERN.match(version)
    return int(match.group(1)) if match else -1


def list_versions(watched: Watched, store: StoreConfig, registries: Registries | None = None) -> list[Seen]:
    """The versions the watched entry stands for now: all of them, or the one its alias names.

    Pass the watcher's ``registries`` to keep one W&B API session across polls."""
    from eval_orchestrator.errors import RegistryError
    from eval_orchestrator.orchestrate import Registries, resolve_version

    registries = registries or Registries(store)
    if watched.ref.backend == "local" or watched.alias is None:  # the collection's listing, aliases included
        seen = [
            Seen(watched.ref.backend, watched.collection, r.version, version_number(r.version), r.digest,
                 format_ref(watched.ref.with_alias(r.version)), r.aliases)
            for r in registries.list_versions(watched.ref)
        ]  # fmt: skip
        return seen if watched.alias is None else [s for s in seen if watched.alias in s.aliases]
    try:  # W&B, one alias followed: that alias resolved (one artifact lookup)
        resolved = resolve_version(format_ref(watched.ref.with_alias(watched.alias)), store, registries=registries)
    except RegistryError as exc:
        if "not found" in str(exc):
            return []  # the alias names no version yet
        raise
    return [
        Seen("wandb", watched.collection, resolved.version, version_number(resolved.version), resolved.digest,
             format_ref(resolved.version_ref), tuple(resolved.aliases))
    ]  # fmt: skip
