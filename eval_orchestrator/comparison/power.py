"""``power(baseline, mde)``: how many samples a paired comparison needs to detect ``mde``, per task.

Read from the baseline's Inspect logs (where ``run`` wrote them): the spread of the paired
differences against ``candidate`` when one is given, else sqrt(2) x the baseline's own spread (two
independent draws: an upper bound, since versions of one model agree on most samples), times the
cluster design effect (the cluster-robust variance over the simple one) when ``cluster`` is set.
n = deff x ((z_{1-alpha/2} + z_power) sd / mde)^2, and the MDE at the dataset's full size.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import stats as scipy_stats

from eval_orchestrator.checkpoint import ResolvedCheckpoint
from eval_orchestrator.comparison import stats
from eval_orchestrator.comparison.compare import CompareOptions, find_logs
from eval_orchestrator.comparison.scores import TaskScores, read_task_scores
from eval_orchestrator.config import build_store_config
from eval_orchestrator.errors import UserError
from eval_orchestrator.notify import Notify, quiet
from eval_orchestrator.refs import CheckpointRef
from eval_orchestrator.registry.factory import Registries


class TaskPower(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str
    metric: str
    sd: float  # of the paired differences (observed, or estimated from the baseline)
    source: str  # where sd came from
    design_effect: float  # 1 without clusters
    needed: int  # paired samples to detect mde at alpha with the power asked for
    dataset: int  # samples in the task's dataset (as the baseline's log records it, else in the log)
    enough: bool
    mde_at_full: float  # the smallest difference the whole dataset detects


def power(
    baseline: CheckpointRef,
    mde: float,
    options: CompareOptions,
    target: float = stats.POWER,
    candidate: CheckpointRef | None = None,
    notify: Notify = quiet,
) -> list[TaskPower]:
    if not mde > 0:
        raise UserError(f"--mde {mde:g} must be a positive difference of the metric, e.g. 0.02")
    registries = Registries(build_store_config(), notify)
    base_version = registries.resolve(baseline)
    base_logs = find_logs(base_version, options, options.tasks)
    if not base_logs:
        raise UserError(f"{base_version.version_ref} has no successful log here: run it first (or pass --config)")
    cand_logs = find_logs(registries.resolve(candidate), options, options.tasks) if candidate else {}
    z = float(scipy_stats.norm.ppf(1 - options.alpha / 2) + scipy_stats.norm.ppf(target))
    rows = []
    for task in sorted(base_logs):
        base = read_task_scores(task, base_logs[task], options.cluster)
        cand = read_task_scores(task, cand_logs[task], options.cluster) if task in cand_logs else None
        dataset = _dataset_size(base_logs[task]) or len(next(iter(base.metrics.values()), {})) + base.errored
        for metric, scores in sorted(base.metrics.items()):
            rows.append(_task_power(task, metric, base, cand, scores, dataset, z, mde, options.cluster, base_version))
    return rows


def _task_power(
    task: str,
    metric: str,
    base: TaskScores,
    cand: TaskScores | None,
    scores: dict[str, float],
    dataset: int,
    z: float,
    mde: float,
    cluster: str | None,
    base_version: ResolvedCheckpoint,
) -> TaskPower:
    paired = sorted(scores.keys() & cand.metrics.get(metric, {}).keys()) if cand else []
    if len(paired) >= 2 and cand is not None:
        ids = paired
        values = np.array([cand.metrics[metric][i] - scores[i] for i in ids])
        sd, source = float(values.std(ddof=1)), f"{len(ids)} paired differences"
    else:
        ids = sorted(scores)
        values = np.array([scores[i] for i in ids])
        sd = math.sqrt(2) * float(values.std(ddof=1)) if len(ids) >= 2 else float("nan")
        source = f"sqrt(2) x the sd of {base_version.version}'s {len(ids)} scores"
    deff = 1.0
    if cluster and len(ids) >= 2 and sd > 0:
        codes = stats.cluster_codes([base.clusters.get(i) for i in ids], ids)
        robust = stats.cluster_stderr(values, codes)
        deff = max(1.0, (robust / (values.std(ddof=1) / math.sqrt(len(ids)))) ** 2) if np.isfinite(robust) else 1.0
    if not np.isfinite(sd):
        raise UserError(f"{task}/{metric}: the baseline has fewer than 2 scored samples; power needs more")
    needed = max(2, math.ceil(deff * (z * sd / mde) ** 2)) if sd > 0 else 2
    full = z * sd * math.sqrt(deff / dataset) if dataset else float("nan")
    return TaskPower(task=task, metric=metric, sd=sd, source=source, design_effect=deff, needed=needed,
                     dataset=dataset, enough=needed <= dataset, mde_at_full=full)  # fmt: skip


def _dataset_size(log: Path) -> int:
    from inspect_ai.log import read_eval_log

    header = read_eval_log(log, header_only=True)
    return int(header.eval.dataset.samples or 0)
