"""Run one ``inspect_ai.eval_set`` for one checkpoint version of a Plan, over all its tasks.

The model is loaded once per version; each version gets its own log dir (eval_set ties one
eval_set_id to one log dir); the model name and args are stable (the store path is keyed by
digest), so a re-run resumes and reuses finished samples.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eval_orchestrator import attempts, env, inspect_api
from eval_orchestrator.ecosystem import hooks_environment, third_party_output, weave_environment
from eval_orchestrator.error_text import error_text
from eval_orchestrator.errors import EvalFailed, OrchestratorError, UserError
from eval_orchestrator.job import CHECKPOINT_METADATA_KEYS, METADATA_KEY, EvalMetadata
from eval_orchestrator.paths import is_remote
from eval_orchestrator.plan import Plan, PlannedVersion
from eval_orchestrator.task_loader import load_tasks

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog


@dataclass(frozen=True)
class VersionResult:
    version: PlannedVersion
    logs: list[EvalLog]  # headers
    success: bool


@contextlib.contextmanager
def _inspect_errors() -> Iterator[None]:
    """What eval_set raises before a task runs (a provider refusing its args, a missing package) is
    the eval failing, in one line, not a bug of ours."""
    try:
        yield
    except (OrchestratorError, KeyboardInterrupt):
        raise
    except Exception as exc:
        if inspect_api.is_prerequisite_error(exc):
            raise UserError(f"Inspect: {error_text(exc)}") from None
        raise EvalFailed(f"Inspect could not run the eval: {type(exc).__name__}: {error_text(exc)}") from None


def checkpoint_metadata(version: PlannedVersion) -> dict[str, str]:
    """The eval's metadata: which checkpoint version it measured, keyed as in our W&B run config
    (inspect-wandb's Weave hooks make it the Weave evaluation's attributes)."""
    resolved = version.checkpoint.resolved
    values = (str(resolved.version_ref), resolved.collection, resolved.version, resolved.digest)
    return dict(zip(CHECKPOINT_METADATA_KEYS, values, strict=True))


def run_version(plan: Plan, version: PlannedVersion, inspect_env: Mapping[str, str] | None = None) -> VersionResult:
    """``inspect_env``: more environment for eval_set (an external runner's capture or selection mode)."""
    from inspect_ai import eval_set, task_with

    from eval_orchestrator.tracking.hook import required_hook_names

    tasks = []
    # Fresh Task objects per version (task_with mutates); they load in the order the plan's jobs have.
    for loaded, job in zip(load_tasks(plan.tasks), version.jobs, strict=True):
        task = loaded.task
        dataset = task.dataset[: job.num_samples] if job.num_samples else task.dataset
        ours = EvalMetadata(job=job, tracking=plan.tracking, log_dir=str(version.log_dir))
        metadata = {**(task.metadata or {}), METADATA_KEY: ours.to_inspect()}
        tasks.append(task_with(task, dataset=dataset, metadata=metadata))

    required = ",".join([*required_hook_names(), *plan.hooks])
    track = plan.tracking
    if track.weave:
        third_party = weave_environment(track.project, track.entity)
    else:
        third_party = hooks_environment(False, track.project, track.entity)
    quiet = third_party_output(plan.inspect.display)
    hooks_env = {"INSPECT_REQUIRED_HOOKS": required, **quiet, **third_party, **(inspect_env or {})}
    with env.scoped(hooks_env), _inspect_errors():
        success, logs = eval_set(
            tasks=tasks,
            log_dir=str(version.log_dir),
            model=version.model,
            model_args=dict(version.model_args),
            model_base_url=version.model_base_url,
            model_roles=dict(version.model_roles) or None,
            metadata={**(plan.inspect.metadata or {}), **checkpoint_metadata(version)},  # ours: checked apart
            **plan.inspect.eval_set_args(),
            **plan.generate,
        )
    if success and not is_remote(version.log_dir):  # a dead attempt's logs are superseded now
        attempts.sweep_dead_attempts(version.log_dir)
    return VersionResult(version, list(logs), bool(success))
