"""Run config -> Determined experiment config: a grid over checkpoint x task, one trial each.

The run config's other sections travel as ``const`` hyperparameters, so every trial rebuilds the
same run config (and ``validate`` proves each of the grid's trials does, before anything is
submitted). Secrets never go into the file: a run config holding one is refused, and credentials
reach the trials by name (see the README).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from eval_orchestrator.det.hparams import config_from_hparams
from eval_orchestrator.errors import ConfigError
from eval_orchestrator.redact import secret_path
from eval_orchestrator.run_config import RunConfig, TaskConfig

ENTRYPOINT = "eval-orchestrator determined run"
SEARCHER_METRIC = "score"
CONST_SECTIONS = ("inspect", "model", "hooks", "wandb", "store")


def _task_point(task: TaskConfig) -> dict[str, Any]:
    point: dict[str, Any] = {"task_name": task.spec}
    if task.fewshot is not None:
        point["num_fewshot"] = task.fewshot
    if task.num_samples is not None:
        point["num_samples"] = task.num_samples
    if task.language is not None:
        point["language"] = task.language
    point.update(task.args)
    return point


def _refuse_secrets(tree: Any) -> None:
    if path := secret_path(tree):
        raise ConfigError(
            f"the run config holds a secret at '{path}'; it would be written into the experiment config: "
            "pass it to the trials by name (an environment variable from a secret) instead"
        )


def experiment_config(
    config: RunConfig,
    *,
    name: str,
    max_concurrent_trials: int = 4,
    slots_per_trial: int = 1,
    max_restarts: int = 2,
) -> dict[str, Any]:
    # Only what the run config sets: a default written out here would override the cluster's env.
    sections = config.model_dump(mode="json", include=set(CONST_SECTIONS), exclude_unset=True)
    if "wandb" in sections:
        sections["wandb"].pop("dir", None)  # a trial writes its runs inside its own container
    _refuse_secrets(sections)
    hyperparameters: dict[str, Any] = {
        "checkpoint": {"type": "categorical", "vals": [str(ref) for ref in config.checkpoints]},
        "task_args": {"type": "categorical", "vals": [_task_point(t) for t in config.tasks]},
    }
    hyperparameters.update({key: {"type": "const", "val": value} for key, value in sections.items()})
    return {
        "name": name,
        "entrypoint": ENTRYPOINT,
        "hyperparameters": hyperparameters,
        "searcher": {
            "name": "grid",
            "metric": SEARCHER_METRIC,
            "smaller_is_better": False,
            "max_concurrent_trials": max_concurrent_trials,
        },
        "resources": {"slots_per_trial": slots_per_trial},
        "max_restarts": max_restarts,
    }


def grid_points(experiment: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every trial's hyperparameters, expanded the way the grid searcher does (categorical x const)."""
    names, choices = [], []
    for key, spec in experiment["hyperparameters"].items():
        names.append(key)
        if spec.get("type") == "categorical":
            choices.append(list(spec["vals"]))
        elif spec.get("type") == "const":
            choices.append([spec["val"]])
        else:
            raise ConfigError(f"hyperparameter {key!r} has type {spec.get('type')!r}; the export emits only these two")
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]


def validate(experiment: Mapping[str, Any]) -> list[RunConfig]:
    """Check the experiment config as the cluster and each trial will read it.

    The ``determined`` package ships no experiment-config schema (its master validates), so we
    read it through the package's own ``ExperimentConfig`` (as the trial harness does) and rebuild
    every grid point's run config through the trial's own code path.
    """
    from determined import ExperimentConfig  # type: ignore[attr-defined,unused-ignore]  # not in its __all__ (no SDK: unused)

    wrapped = ExperimentConfig(experiment)
    if wrapped.get_searcher_metric() != SEARCHER_METRIC or wrapped.slots_per_trial() < 1:
        raise ConfigError("experiment config: the searcher metric or slots_per_trial is wrong")
    if wrapped.get_entrypoint() != ENTRYPOINT:
        raise ConfigError("experiment config: the entrypoint is not the eval-orchestrator trial")
    return [config_from_hparams(point, environ={}) for point in grid_points(experiment)]
