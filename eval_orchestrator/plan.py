"""The Plan: a run config expanded once into checkpoint versions x jobs, before anything runs.

Each planned version knows its eval_set log dir, the Inspect model spec and args (templated over
the checkpoint), and its jobs with their stable keys and W&B group fields. Launch, tracking and
the report read the plan; nothing goes back to the config to rebuild a part of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval_orchestrator.checkpoint import ResolvedCheckpoint
from eval_orchestrator.job import Job, TrackingSettings, canonical_json
from eval_orchestrator.paths import Location, child, is_remote
from eval_orchestrator.redact import redact
from eval_orchestrator.run_config import InspectOptions, ModelConfig, RunConfig, TaskConfig, WandbWriter
from eval_orchestrator.store.checkpoint_store import Materialized
from eval_orchestrator.task_loader import LoadedTask
from eval_orchestrator.trail import without_trail


@dataclass(frozen=True)
class PlannedVersion:
    """One checkpoint version: one eval_set over all the plan's tasks."""

    checkpoint: Materialized
    log_dir: Location  # a folder, or a URL (s3://...) Inspect writes to itself
    model: str
    model_args: Mapping[str, Any]
    model_roles: Mapping[str, str]  # role -> model spec (graders, judges), templated like the model
    model_base_url: str | None
    jobs: tuple[Job, ...]  # one per loaded task, in the order the tasks load


@dataclass(frozen=True)
class Plan:
    versions: tuple[PlannedVersion, ...]
    tasks: tuple[TaskConfig, ...]
    tracking: TrackingSettings
    inspect: InspectOptions
    generate: Mapping[str, Any]  # Inspect GenerateConfig fields
    hooks: tuple[str, ...]  # extra Inspect hooks that must be installed
    wandb_writer: WandbWriter = "auto"  # where the W&B runs' SDK work runs

    @property
    def jobs(self) -> list[Job]:
        return [job for version in self.versions for job in version.jobs]


def build_plan(
    config: RunConfig,
    checkpoints: list[Materialized],
    tasks: list[LoadedTask],
    tracking: TrackingSettings,
    model_args_override: Mapping[str, Any] | None = None,
) -> Plan:
    """Expand ``config`` over the resolved ``checkpoints`` and loaded ``tasks``.

    Two refs naming one version (``:latest`` and ``:v1``) plan it once.
    """
    versions: list[PlannedVersion] = []
    seen: set[str] = set()
    variant = plan_variant(config)
    for item in checkpoints:
        if item.resolved.digest in seen:
            continue
        seen.add(item.resolved.digest)
        name, args = model_spec(config, item)
        base_url = args.pop("base_url", None)  # Inspect's own parameter (model_base_url), not a model arg
        versions.append(
            PlannedVersion(
                checkpoint=item,
                log_dir=version_log_dir(config, item),
                model=name,
                model_args={**args, **(model_args_override or {})},
                model_base_url=None if base_url is None else str(base_url),
                model_roles={role: _template(spec, template_fields(item)) for role, spec in config.model.roles.items()},
                jobs=tuple(make_job(item.resolved, loaded, variant) for loaded in tasks),
            )
        )
    return Plan(
        versions=tuple(versions),
        tasks=tuple(config.tasks),
        tracking=tracking,
        inspect=config.inspect,
        generate=dict(config.model.generate),
        hooks=tuple(config.hooks),
        wandb_writer=config.wandb.writer,
    )


def _template(value: Any, fields: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, text in fields.items():
            value = value.replace("{" + key + "}", text)
        return value
    if isinstance(value, dict):
        return {k: _template(v, fields) for k, v in value.items()}
    if isinstance(value, list):
        return [_template(v, fields) for v in value]
    return value


def template_fields(materialized: Materialized) -> dict[str, str]:
    resolved = materialized.resolved
    return {
        "path": str(materialized.path),
        "collection": resolved.collection,
        "version": resolved.version,
        "digest": resolved.digest,
    }


def model_spec(config: RunConfig, materialized: Materialized) -> tuple[str, dict[str, Any]]:
    """The Inspect model name and args for a checkpoint: templates over {path}, {collection}, ..."""
    fields = template_fields(materialized)
    name: str = _template(config.model.name, fields)
    args: dict[str, Any] = _template(config.model.args, fields)
    return name, args


INSPECT_RESULT_OPTIONS = (
    "limit",
    "epochs",
    "epochs_reducer",
    "sample_id",
    "sample_shuffle",  # which samples a --limit takes
    "time_limit",
    "message_limit",
    "token_limit",
    "working_limit",
    "turn_limit",
    "cost_limit",
    "score_on_error",
    "sandbox",
    "approval",
    "review",
    "solver",
    "solver_args",
    "sentinel",
    "sentinel_args",
)


@dataclass(frozen=True)
class PlanIdentity:
    """What tells one plan's evaluations of a version from another's, computed once from the config."""

    key: str  # tasks, model, Inspect options and hooks: the watch ledger's and cursors' plan
    variant: Mapping[str, Any]  # the result-changing options that are not defaults (job keys)
    folder: str  # the log folder of a non-default plan under each version's ('' for the default plan)


def plan_identity(config: RunConfig) -> PlanIdentity:
    import hashlib

    inspect = config.inspect.model_dump(exclude={"log_dir", "display"})
    ident = canonical_json([config.model_dump(mode="json", include={"tasks", "model", "hooks"}), inspect])
    variant = plan_variant(config)
    return PlanIdentity(hashlib.sha256(ident.encode()).hexdigest()[:16], variant, variant_id(variant))


def plan_variant(config: RunConfig) -> dict[str, Any]:
    """What changes a result besides the checkpoint, the task and its args: the model spec, args and
    roles, the generate config, and the sample/epoch/limit options. Only what differs from the
    defaults, so a default plan keeps the job keys, W&B runs and log dirs it always had."""
    model, inspect = ModelConfig(), InspectOptions()
    out: dict[str, Any] = {}
    if config.model.name != model.name:
        out["model"] = config.model.name
    if config.model.args != model.args:
        out["model_args"] = config.model.args  # the templates, not the paths they fill (machine-specific)
    if config.model.roles:
        out["model_roles"] = config.model.roles
    if config.model.generate:
        out["generate"] = config.model.generate
    for name in INSPECT_RESULT_OPTIONS:
        if (value := getattr(config.inspect, name)) != getattr(inspect, name):
            out[name] = value
    return out


def variant_id(variant: Mapping[str, Any]) -> str:
    """The folder of a non-default plan's logs under the version's log dir ('' for the default plan)."""
    import hashlib

    return "" if not variant else "plan-" + hashlib.sha256(canonical_json(variant).encode()).hexdigest()[:10]


def log_dir_for(root: Location, collection: str, version: str, digest: str, variant: str = "") -> Location:
    """A version's eval_set log dir under the log root (what `compare` and `report` read back).

    Plans that differ in a result-changing option (``variant_id``) get a folder of their own; plans
    with other tasks share the version's folder, where eval_set tells their logs apart."""
    # The digest keeps two registries' "tiny:v1" apart; no ':' in the path (vllm splits on it).
    parts = [collection, f"{version}-{digest[:12]}", *([variant] if variant else [])]
    return child(root if is_remote(root) else Path(root).resolve(), *parts)


def local_log_dir_for(root: Location, collection: str, version: str, digest: str, variant: str = "") -> Path:
    """A version's log dir, to read its logs from here: a folder (logs Inspect wrote to a URL are read
    from the versions' W&B results artifacts instead, which hold them)."""
    where = log_dir_for(root, collection, version, digest, variant)
    if isinstance(where, str):
        from eval_orchestrator.errors import UserError

        raise UserError(
            f"the logs are at {where}: compare and report read a local or shared folder; take them out of the "
            "versions' W&B results artifacts with --from-wandb"
        )
    return where


def version_log_dir(config: RunConfig, materialized: Materialized) -> Location:
    resolved = materialized.resolved
    variant = variant_id(plan_variant(config))
    return log_dir_for(config.inspect.log_dir, resolved.collection, resolved.version, resolved.digest, variant)


def grouping_label(explicit: Any, args: Mapping[str, Any], *names: str) -> Any:
    """An explicit grouping value, else the first task arg of that meaning."""
    if explicit is not None:
        return explicit
    for name in names:
        if name in args:
            return args[name]
    return None


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None  # a grouping label only: a fewshot arg that is not a number groups nothing


def make_job(resolved: ResolvedCheckpoint, loaded: LoadedTask, variant: Mapping[str, Any] | None = None) -> Job:
    task_config = loaded.config
    args = dict(task_config.args)
    language = grouping_label(task_config.language, args, "language", "lang")
    return Job(
        collection=resolved.collection,
        version=resolved.version,
        digest=resolved.digest,
        ref=resolved.version_ref,
        requested_ref=resolved.ref,
        aliases=tuple(resolved.aliases),
        task_spec=task_config.spec,
        task_name=loaded.name,
        task_args=args,
        language=None if language is None else str(language),
        fewshot=_as_int(grouping_label(task_config.fewshot, args, "fewshot", "num_fewshot")),
        num_samples=task_config.num_samples,
        # W&B metadata is remote input (no secret goes on); the alias trail is not the weights' property
        registry_metadata=redact(without_trail(dict(resolved.metadata))),
        variant=dict(variant or {}),
        task_version=getattr(loaded.task, "version", 0) or 0,
    )
