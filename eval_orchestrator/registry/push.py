"""`registry push`: move a local-registry version to W&B with its metadata and aliases.

Teams start on the embedded registry and move. The upload goes through a short W&B run (the SDK
logs artifacts from runs, which also records who pushed what). Registry targets are linked from
the run's project into the registry collection, as the W&B UI does. Pushing the same version twice
is harmless: W&B deduplicates by manifest digest and just moves the aliases.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from eval_orchestrator.checkpoint import ResolvedCheckpoint
from eval_orchestrator.errors import RegistryError, UserError
from eval_orchestrator.refs import LEGACY_REGISTRY_PROJECT, CheckpointRef, format_ref
from eval_orchestrator.registry.local import LocalRegistry
from eval_orchestrator.registry.wandb_registry import WandbRegistry
from eval_orchestrator.run_config import StoreConfig
from eval_orchestrator.wandb_api import first_line, sdk_settings

if TYPE_CHECKING:
    import wandb

PUSH_JOB_TYPE = "registry-push"
RESERVED_ALIASES = {"latest"}


@dataclass(frozen=True)
class PushResult:
    source: str
    target: str  # pinned to the version W&B assigned
    digest: str
    aliases: tuple[str, ...]


def push(
    local: LocalRegistry,
    source: CheckpointRef,
    target: CheckpointRef,
    store: StoreConfig,
    project: str,
    entity: str | None = None,
) -> PushResult:
    if source.backend != "local":
        raise UserError(f"'{source}' is not a local-registry reference; push takes 'local-registry/<c>:<v>'")
    if target.backend != "wandb":
        raise UserError(f"--to '{target}' is not a W&B reference, e.g. 'wandb-registry-model/<collection>'")
    if target.version_index is not None:
        raise UserError(f"--to '{target}' names a version; W&B assigns the next one, so drop ':{target.alias}'")
    resolved = local.resolve(source)
    aliases = [a for a in resolved.aliases if a not in RESERVED_ALIASES]
    if target.alias not in RESERVED_ALIASES and target.alias not in aliases:
        aliases.append(target.alias)

    registry = WandbRegistry(store)
    registry.connect()  # fails here, in one line, on a bad key or an unreachable W&B
    _upload(resolved, local.files_dir(resolved), source, target, aliases, project, entity)

    pushed = registry.resolve(target.with_alias(aliases[0] if aliases else "latest"))
    if pushed.digest != resolved.digest:
        raise RegistryError(
            f"after the push, {format_ref(target)} has digest {pushed.digest}, not {resolved.digest}; "
            "another push may have raced this one"
        )
    pinned_source = format_ref(source.with_alias(resolved.version))
    return PushResult(pinned_source, str(pushed.version_ref), pushed.digest, tuple(aliases))


def _add_contents(artifact: wandb.Artifact, resolved: ResolvedCheckpoint, files: Path) -> None:
    """Files the local registry holds are uploaded; S3 references stay references (W&B re-reads
    each object's ETag, so the pushed digest matches only if nothing was overwritten)."""
    entries = list(resolved.manifest.entries.values())
    if not any(entry.ref for entry in entries):
        artifact.add_dir(str(files))
        return
    for entry in entries:
        if entry.ref:
            version = entry.extra.get("versionID")
            artifact.add_reference(f"{entry.ref}?versionId={version}" if version else entry.ref, name=entry.path)
        else:
            artifact.add_file(str(files / entry.path), name=entry.path)


def _upload(
    resolved: ResolvedCheckpoint,
    files: Path,
    source: CheckpointRef,
    target: CheckpointRef,
    aliases: list[str],
    project: str,
    entity: str | None,
) -> None:
    import wandb

    linked = target.is_registry or target.project == LEGACY_REGISTRY_PROJECT
    run_project = project if linked else target.project
    run_entity = entity if linked else target.entity
    settings = sdk_settings(x_disable_meta=True)
    try:
        run = wandb.init(
            project=run_project,
            entity=run_entity,
            job_type=PUSH_JOB_TYPE,
            mode="online",
            config={"source": format_ref(source), "target": format_ref(target)},
            settings=settings,
            reinit="create_new",
        )
        with run:
            artifact = wandb.Artifact(
                target.collection, type="model", description=resolved.description, metadata=dict(resolved.metadata)
            )
            _add_contents(artifact, resolved, files)
            logged = run.log_artifact(artifact, aliases=aliases)
            logged.wait()
            if linked:
                prefix = f"{target.entity}/" if target.entity else ""
                run.link_artifact(logged, f"{prefix}{target.project}/{target.collection}", aliases=aliases)
    except (wandb.errors.Error, ValueError) as exc:
        raise RegistryError(f"pushing {format_ref(source)} to {format_ref(target)} failed: {first_line(exc)}") from None
