"""The audited trail of alias moves: who moved an alias onto which version, when, why, from which
version, and on what evidence (the version's last gate decision).

Each version carries, in its registry metadata under one key (``eval_orchestrator``), its last gate
decision and the alias moves onto it, so the trail travels with the version (W&B shows it on the
version's page) and ``registry history`` reads it from either registry. Every move is also appended
to a local trail file. Moving an alias onto a version whose last gate held it is refused unless the
move is an override, which is recorded as one.
"""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eval_orchestrator.checkpoint import ResolvedCheckpoint
from eval_orchestrator.credentials import credential_path
from eval_orchestrator.errors import HeldVersion, NotFound, UserError
from eval_orchestrator.refs import CheckpointRef, CollectionRef, alias_problem
from eval_orchestrator.registry.base import VersionInfo
from eval_orchestrator.registry.factory import Registries

METADATA_KEY = "eval_orchestrator"  # our namespace in a version's metadata (left out of run configs)
TRAIL_FILE = "alias-trail.jsonl"
REASON_CHARS = 500


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GateEvidence(_Record):
    """A gate's decision about one version: what a later alias move relies on."""

    outcome: Literal["passed", "held"]
    source: Literal["watch", "gate"]
    reason: str
    decided_at: str
    baseline: str | None = None  # the baseline's pinned reference
    baseline_digest: str | None = None
    comparison_run: str | None = None  # the W&B comparison run's id
    report_url: str | None = None  # the W&B Report of the comparison


class AliasMove(_Record):
    collection: str  # e.g. local-registry/tiny
    alias: str
    version: str
    digest: str
    who: str
    when: str
    reason: str
    by: Literal["promote", "watch", "gate"]
    previous: str | None = None  # the version that had the alias, None when it is new
    override: bool = False  # moved although the version's last gate held it
    evidence: GateEvidence | None = None


class VersionTrail(_Record):
    """What we keep in a version's metadata."""

    gate: GateEvidence | None = None
    alias_moves: list[AliasMove] = Field(default_factory=list)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")  # orders two moves in one second


def read(metadata: Any) -> VersionTrail:
    """A version's trail out of its metadata (empty when it has none); a damaged one is refused."""
    raw = metadata.get(METADATA_KEY) if hasattr(metadata, "get") else None
    if raw is None:
        return VersionTrail()
    try:
        return VersionTrail.model_validate(raw)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise UserError(
            f"the version's metadata {METADATA_KEY!r} is damaged ({where}); remove that key in the registry "
            "to start its trail afresh"
        ) from None


def without_trail(metadata: dict[str, Any]) -> dict[str, Any]:
    """A version's own metadata, as a run's config shows it (the trail is not a property of the weights)."""
    return {key: value for key, value in metadata.items() if key != METADATA_KEY}


def who(registries: Registries, ref: CheckpointRef) -> str:
    """The W&B viewer for a W&B version (the API key's user), else the OS user."""
    if ref.backend == "wandb":
        try:
            from eval_orchestrator.wandb_api import open_api

            viewer = open_api().viewer
            name = getattr(viewer, "username", None) or getattr(viewer, "entity", None)
            if name:
                return f"{name} (W&B)"
        except Exception:  # W&B unreachable: the move is still recorded, by the OS user
            pass
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's uid)
        return f"uid {os.getuid()}"


def trail_file(registries: Registries) -> Path:
    """The local trail: beside the embedded registry's collections (one file for both registries)."""
    from eval_orchestrator.paths import default_registry_root

    root = Path(registries.store.registry) if registries.store.registry else default_registry_root()
    return root / TRAIL_FILE


def record_gate(registries: Registries, version: CheckpointRef, evidence: GateEvidence) -> None:
    """Keep ``evidence`` as the version's last gate decision (``version`` pinned to vN)."""
    registry = registries.of(version)
    current = read(registry.resolve(version).metadata)
    registry.update_metadata(version, {METADATA_KEY: _dump(current.model_copy(update={"gate": evidence}))})


def move_alias(
    registries: Registries,
    ref: CheckpointRef,
    alias: str,
    reason: str,
    by: Literal["promote", "watch", "gate"],
    override: bool = False,
) -> AliasMove:
    """Move ``alias`` onto the version ``ref`` names, with its record; refused (exit 3) when the
    version's last gate held it, unless ``override``."""
    if problem := alias_problem(alias):  # before anything is recorded
        raise UserError(problem)
    reason = " ".join(reason.split())
    if not reason:
        raise UserError("--reason is empty; say why the alias moves (it is kept in the version's trail)")
    if len(reason) > REASON_CHARS:
        raise UserError(f"--reason is {len(reason)} characters; keep it under {REASON_CHARS} (link to the rest)")
    if (shaped := credential_path(reason)) is not None:
        raise UserError(
            f"--reason holds what looks like a {shaped[1]}; the reason is written into the version's metadata "
            "in the registry: leave credentials out of it"
        )
    registry = registries.of(ref)
    target = registry.resolve(ref)
    pinned = target.version_ref
    trail = read(target.metadata)
    evidence = trail.gate
    if evidence is not None and evidence.outcome == "held" and not override:
        against = f" against {evidence.baseline}" if evidence.baseline else ""
        raise HeldVersion(
            f"{pinned} was held by the gate{against} at {evidence.decided_at} ({evidence.reason}); "
            f"pass --override to move {alias!r} onto it anyway (recorded as an override)"
        )
    move = AliasMove(
        collection=str(pinned.collection_ref),
        alias=alias,
        version=target.version,
        digest=target.digest,
        previous=_holder(registries, pinned, alias, target),
        who=who(registries, pinned),
        when=now(),
        reason=reason,
        by=by,
        override=override and evidence is not None and evidence.outcome == "held",
        evidence=evidence,
    )
    last = trail.alias_moves[-1] if trail.alias_moves else None
    if last is not None and _same_move(last, move):  # a crashed watcher's move, done again: one record
        move = last
    else:  # the record first: a move is never made without it
        moves = [*trail.alias_moves, move]
        registry.update_metadata(pinned, {METADATA_KEY: _dump(trail.model_copy(update={"alias_moves": moves}))})
    registry.set_alias(pinned, alias)
    _append(trail_file(registries), move.model_dump_json())
    return move


def _append(path: Path, line: str) -> None:
    """One line per move, appended whole, and once (a move done again after a crash is not repeated)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    if lines and lines[-1] == line:
        return
    with path.open("a", encoding="utf-8") as out:
        out.write(line + "\n")


def _same_move(last: AliasMove, new: AliasMove) -> bool:
    """``new`` repeats ``last`` (a crashed watcher's move, done again; the alias may already be there)."""
    keys = {"alias", "digest", "reason", "by", "override"}
    again = new.previous is None or new.previous == last.previous
    return again and last.model_dump(include=keys) == new.model_dump(include=keys)


def _holder(registries: Registries, pinned: CheckpointRef, alias: str, target: ResolvedCheckpoint) -> str | None:
    try:
        holder = registries.resolve(pinned.with_alias(alias))
    except NotFound:
        return None
    return None if holder.digest == target.digest else holder.version


def history(registries: Registries, collection: CollectionRef) -> list[AliasMove]:
    """Every recorded alias move of ``collection``, oldest first, from the versions' metadata."""
    versions: list[VersionInfo] = registries.of(collection).list_versions(collection)
    moves = [move for info in versions for move in read(info.metadata).alias_moves]
    return sorted(moves, key=lambda move: move.when)


def _dump(trail: VersionTrail) -> dict[str, Any]:
    return trail.model_dump(mode="json", exclude_none=True)
