"""Build and run one ``inspect_ai.eval_set`` per checkpoint version, over all its tasks.

The model is loaded once per version; each version gets its own log dir (eval_set ties one
eval_set_id to one log dir); the model name and args are stable (the store path is keyed by
digest), so a re-run resumes and reuses finished samples.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval_orchestrator.config import RunConfig, TaskConfig
from eval_orchestrator.errors import UserError
from eval_orchestrator.plan import METADATA_KEY, Job, grouping_label
from eval_orchestrator.store.checkpoint_store import Materialized

# Third-party W&B hooks (inspect_wandb) would log a second run per eval: ours is the one.
THIRD_PARTY_HOOKS_OFF = {"INSPECT_WANDB_MODELS_ENABLED": "false", "INSPECT_WANDB_WEAVE_ENABLED": "false"}


@dataclass(frozen=True)
class LoadedTask:
    config: TaskConfig
    task: Any  # inspect_ai.Task


@dataclass
class VersionResult:
    materialized: Materialized
    jobs: list[Job]
    logs: list[Any]  # inspect_ai.log.EvalLog headers
    success: bool
    log_dir: Path


def load_tasks(tasks: list[TaskConfig]) -> list[LoadedTask]:
    """Load every task once, up front, so a missing task fails before any checkpoint work."""
    from inspect_ai._eval.loader import load_tasks as inspect_load_tasks  # no public loader yet

    loaded: list[LoadedTask] = []
    for task_config in tasks:
        try:
            found = inspect_load_tasks([task_config.spec], task_config.args)
        except Exception as exc:  # Inspect raises several kinds here; all mean the same to the user
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(
                f"task {task_config.spec!r} could not be loaded ({reason}); "
                "check the spec ('file.py@task' or 'package/task') and its -T args"
            ) from None
        if not found:
            raise UserError(f"task {task_config.spec!r} not found; check the spec ('file.py@task' or 'package/task')")
        loaded.extend(LoadedTask(task_config, task) for task in found)
    return loaded


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


def model_spec(config: RunConfig, materialized: Materialized) -> tuple[str, dict[str, Any]]:
    resolved = materialized.resolved
    fields = {
        "path": str(materialized.path),
        "collection": resolved.collection,
        "version": resolved.version,
        "digest": resolved.digest,
    }
    return _template(config.model.name, fields), _template(config.model.args, fields)


def version_log_dir(config: RunConfig, materialized: Materialized) -> Path:
    resolved = materialized.resolved
    # The digest keeps two registries' "tiny:v1" apart; no ':' in the path (vllm splits on it).
    return Path(config.inspect.log_dir).resolve() / resolved.collection / f"{resolved.version}-{resolved.digest[:12]}"


def make_job(materialized: Materialized, loaded: LoadedTask) -> Job:
    resolved = materialized.resolved
    task_config = loaded.config
    args = dict(task_config.args)
    return Job(
        collection=resolved.collection,
        version=resolved.version,
        digest=resolved.digest,
        ref=str(resolved.version_ref),
        requested_ref=str(resolved.ref),
        aliases=list(resolved.aliases),
        task_spec=task_config.spec,
        task_name=loaded.task.name.rsplit("/", 1)[-1],  # 'pkg/task' -> 'task', as Inspect shows it
        task_args=args,
        language=grouping_label(task_config.language, args, "language", "lang"),
        fewshot=grouping_label(task_config.fewshot, args, "fewshot", "num_fewshot"),
        num_samples=task_config.num_samples,
        registry_metadata=dict(resolved.metadata),
    )


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def run_version(
    config: RunConfig,
    materialized: Materialized,
    wandb_settings: dict[str, Any],
    model_args_override: dict[str, Any] | None = None,
) -> VersionResult:
    from inspect_ai import eval_set, task_with

    from eval_orchestrator.tracking import required_hook_names

    jobs: list[Job] = []
    tasks = []
    log_dir = version_log_dir(config, materialized)
    # Fresh Task objects per version: task_with mutates the task it is given.
    for loaded in load_tasks(config.tasks):
        job = make_job(materialized, loaded)
        jobs.append(job)
        task = loaded.task
        dataset = task.dataset[: job.num_samples] if job.num_samples else task.dataset
        ours = {"job": job.to_metadata(), "wandb": wandb_settings, "log_dir": str(log_dir)}
        metadata = {**(task.metadata or {}), METADATA_KEY: ours}
        tasks.append(task_with(task, dataset=dataset, metadata=metadata))

    name, args = model_spec(config, materialized)
    if model_args_override:
        args = {**args, **model_args_override}
    required = ",".join([*required_hook_names(), *config.hooks])
    opts = config.inspect
    with _environment({"INSPECT_REQUIRED_HOOKS": required, **THIRD_PARTY_HOOKS_OFF}):
        success, logs = eval_set(
            tasks=tasks,
            log_dir=str(log_dir),
            model=name,
            model_args=args,
            limit=opts.limit,
            epochs=opts.epochs,
            max_tasks=opts.max_tasks,
            max_samples=opts.max_samples,
            retry_attempts=opts.retry_attempts,
            retry_immediate=opts.retry_attempts > 0,
            fail_on_error=opts.fail_on_error,
            display=opts.display,
            metadata={"eval_orchestrator_checkpoint": str(materialized.resolved.version_ref)},
            **config.model.generate,
        )
    return VersionResult(materialized, jobs, list(logs), bool(success), log_dir)
