"""Determined hyperparameters -> run config, with the habits of Determined users kept.

The seed's shape (``llm_name``, ``wandb_project``, ``task_args: [{task_name, num_fewshot,
num_samples}]``) maps onto the run config; any top-level run-config section may be given too.
Values are merged with our usual ``merge``, so an explicit ``false`` or ``0`` wins like any value
(not ``hparams.x or cli.x``, which turns a ``false`` back into the default).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eval_orchestrator.config import build_config, merge
from eval_orchestrator.errors import ConfigError
from eval_orchestrator.run_config import RunConfig

SECTIONS = ("checkpoints", "tasks", "inspect", "model", "hooks", "wandb", "store")
SHORTHANDS = ("checkpoint", "llm_name", "wandb_project", "wandb_entity", "task_args", "experiment_name")
TASK_KEYS = {"task_name": "spec", "num_fewshot": "fewshot", "num_samples": "num_samples", "language": "language"}
SOURCE = "hyperparameters"


def _task(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, Mapping) or "task_name" not in item:
        raise ConfigError(
            f"{SOURCE}: {where} must be a mapping with task_name (and num_fewshot, num_samples, task args)"
        )
    task: dict[str, Any] = {"args": {}}
    for key, value in item.items():
        if key in TASK_KEYS:
            task[TASK_KEYS[key]] = value
        else:
            task["args"][key] = value  # everything else is an Inspect task arg (-T key=value)
    return task


def hparams_tree(hparams: Mapping[str, Any]) -> dict[str, Any]:
    """The run-config keys the hyperparameters set (unknown keys: one line, exit 2)."""
    unknown = sorted(set(hparams) - set(SECTIONS) - set(SHORTHANDS))
    if unknown:
        raise ConfigError(
            f"{SOURCE}: unknown key '{unknown[0]}'; use checkpoint (or llm_name), wandb_project, wandb_entity, "
            f"task_args, experiment_name, or a run-config section: {', '.join(SECTIONS)}"
        )
    tree: dict[str, Any] = {k: hparams[k] for k in SECTIONS if k in hparams}
    names = [hparams[k] for k in ("checkpoint", "llm_name") if k in hparams]
    if len(names) == 2 and names[0] != names[1]:
        raise ConfigError(f"{SOURCE}: checkpoint {names[0]!r} and llm_name {names[1]!r} disagree; give one")
    if names:
        if "checkpoints" in tree:
            raise ConfigError(f"{SOURCE}: give checkpoint (or llm_name) or checkpoints, not both")
        tree["checkpoints"] = [names[0]]
    wandb: dict[str, Any] = {}
    if "wandb_project" in hparams:
        wandb["project"] = hparams["wandb_project"]
    if "wandb_entity" in hparams:
        wandb["entity"] = hparams["wandb_entity"]
    if "experiment_name" in hparams:
        wandb["tags"] = [f"experiment:{hparams['experiment_name']}"]
    if wandb:
        tree["wandb"] = merge(tree.get("wandb", {}), wandb)
    if "task_args" in hparams:
        if "tasks" in tree:
            raise ConfigError(f"{SOURCE}: give task_args or tasks, not both")
        items = hparams["task_args"]
        items = [items] if isinstance(items, Mapping) else items
        if not isinstance(items, list) or not items:
            raise ConfigError(f"{SOURCE}: task_args must be a mapping or a non-empty list of mappings")
        tree["tasks"] = [_task(item, f"task_args[{i}]") for i, item in enumerate(items)]
    return tree


def config_from_hparams(
    hparams: Mapping[str, Any],
    config_file: str | Path | None = None,
    flags: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> RunConfig:
    """defaults < run-config file < environment < hyperparameters < explicit CLI flags."""
    return build_config(config_file, flags, environ, layer=hparams_tree(hparams), source=SOURCE)


def plain_hparams(section: Mapping[str, Any]) -> dict[str, Any]:
    """An experiment config's ``hyperparameters:`` as one trial sees them, off-cluster.

    Plain values and ``{type: const, val: X}`` are taken as they are; a searched hyperparameter
    (categorical, int, double, log) has no single value off-cluster.
    """
    out: dict[str, Any] = {}
    for key, value in section.items():
        if isinstance(value, Mapping) and "type" in value:
            if value["type"] != "const":
                raise ConfigError(
                    f"{SOURCE}: '{key}' is searched ({value['type']}); off-cluster runs need one value: "
                    "give it as a plain value or {type: const, val: ...}, or run the experiment on the cluster"
                )
            out[key] = value.get("val")
        elif isinstance(value, Mapping):
            out[key] = plain_hparams(value)  # a nested group of hyperparameters
        else:
            out[key] = value
    return out
