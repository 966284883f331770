"""What a watched collection holds now: one listing per collection per poll.

Local registry: its index (one read of the collection's versions and aliases). W&B: for "every
new version", the collection's listing through the SDK (``Api.artifacts``: one request per 100
versions, each with its aliases and digest), so no version registered between two polls is
missed; for "every time an alias moves", that alias resolved once (one artifact lookup).
"""

from __future__ import annotations

from dataclasses import dataclass

from eval_orchestrator.checkpoint import VersionId
from eval_orchestrator.errors import NotFound
from eval_orchestrator.refs import WatchTarget, version_number
from eval_orchestrator.registry.factory import Registries


@dataclass(frozen=True)
class Seen:
    """A version a listing found."""

    id: VersionId
    aliases: tuple[str, ...]

    @property
    def number(self) -> int:
        return version_number(self.id.version)


def list_versions(target: WatchTarget, registries: Registries) -> list[Seen]:
    """The versions the watched entry stands for now (all of them, or the one its alias names), in
    version order. A collection that does not exist raises CollectionNotFound."""
    collection = target.collection
    registry = registries.of(collection)
    if collection.backend == "local" or target.alias is None:  # the collection's listing, aliases included
        seen = [Seen(info.id_in(collection), info.aliases) for info in registry.list_versions(collection)]
        return seen if target.alias is None else [s for s in seen if target.alias in s.aliases]
    try:  # W&B, one alias followed: that alias resolved (one artifact lookup)
        resolved = registry.resolve(collection.at(target.alias))
    except NotFound:
        return []  # the alias names no version yet
    return [Seen(resolved.id, tuple(resolved.aliases))]
