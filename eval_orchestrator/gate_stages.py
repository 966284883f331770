"""The sequential gate's stages: each task's samples (or whole clusters) in one seeded order both
versions share, evaluated a slice at a time through Inspect's sample-id selection (each stage its
own plan folder under the version's log dir: an ordinary resumable eval set, reused by a later gate
with the same order), and looked at after each stage with ``comparison.sequential``. The gate stops
at the first look where every task is decided, or as soon as one is held (it fails on any task).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from eval_orchestrator.checkpoint import ResolvedCheckpoint
from eval_orchestrator.comparison import sequential, stats
from eval_orchestrator.comparison.compare import CompareOptions, find_logs
from eval_orchestrator.comparison.flips import flips
from eval_orchestrator.comparison.model import ComparisonReport, MetricComparison, Side, VersionRef
from eval_orchestrator.comparison.scores import read_task_scores
from eval_orchestrator.comparison.verdict import Verdict
from eval_orchestrator.errors import UserError
from eval_orchestrator.job import args_suffix
from eval_orchestrator.notify import Notify
from eval_orchestrator.run_config import RunConfig
from eval_orchestrator.watch_config import GateConfig

Evaluate = Callable[[list[str]], str]  # sample ids of one stage -> the plan folder its logs are in


class TaskDecision(BaseModel):
    """Where the sequential gate stopped on one task and metric."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str
    metric: str
    look: int  # the look it stopped at (1-based)
    looks: int  # the looks its design has
    used: int  # paired samples it used
    total: int  # samples in the task's dataset
    boundary: float  # on the t scale
    verdict: Verdict
    gate: Literal["passed", "held"]


@dataclass(frozen=True)
class Staged:
    report: ComparisonReport
    decisions: list[TaskDecision]
    stages: int
    used: int  # samples per version
    total: int
    spent: Spent  # the candidate's stages


@dataclass(frozen=True)
class Spent:
    """What the candidate's evaluated stages cost (from its Inspect logs), and the estimate of what
    the samples left out would have cost at the same rate."""

    tokens: int
    seconds: float
    tokens_saved: int
    seconds_saved: float


def task_label(name: str, args: dict[str, object]) -> str:
    """A task's label in logs and comparisons (publish.task_label's, from a loaded task's name and args)."""
    return name + (f"-{suffix}" if (suffix := args_suffix(args)) else "")


def orders(config: RunConfig, cluster: str | None, seed: int) -> dict[str, tuple[str, list[list[str]]]]:
    """Per task label: Inspect's task name, and its samples' ids in units (a sample, or a whole
    cluster) in one seeded order."""
    from eval_orchestrator.task_loader import load_tasks

    out = {}
    for loaded in load_tasks(config.tasks):
        units: dict[str, list[str]] = {}
        for index, sample in enumerate(loaded.task.dataset):
            sample_id = str(sample.id if sample.id is not None else index + 1)
            key = str((sample.metadata or {}).get(cluster, f"\0{sample_id}")) if cluster else sample_id
            units.setdefault(key, []).append(sample_id)
        label = task_label(loaded.name, loaded.config.args)
        rng = np.random.default_rng([seed, zlib.crc32(label.encode())])
        grouped = [units[k] for k in sorted(units)]
        out[label] = (loaded.name, [grouped[i] for i in rng.permutation(len(grouped))])
    return out


def run_stages(
    cand: ResolvedCheckpoint,
    base: ResolvedCheckpoint,
    base_folder: str | None,
    config: RunConfig,
    options: GateConfig,
    where: CompareOptions,
    evaluate: Evaluate,
    notify: Notify,
) -> Staged:
    """``base_folder``: the plan folder holding the baseline's full logs, or None (staged with the candidate)."""
    order = orders(config, options.cluster, options.seed)
    first = sequential.MIN_FIRST_CLUSTERS if options.cluster else sequential.MIN_FIRST_LOOK
    designs = {label: sequential.schedule(len(units), options.looks, options.alpha, first)
               for label, (_, units) in order.items()}  # fmt: skip
    done = dict.fromkeys(order, 0)  # units evaluated per task
    looked = dict.fromkeys(order, 0)
    folders: list[str] = []  # each stage's plan folder
    sides = _Sides(cand, base, base_folder, where)
    decided: dict[str, list[tuple[TaskDecision, MetricComparison]]] = {}
    stages = 0
    for stage in range(options.looks):
        open_tasks = [label for label in order if label not in decided]
        if not open_tasks or any(d.gate == "held" for rows in decided.values() for d, _ in rows):
            break  # all decided, or one task held: that holds the candidate, the rest need not be spent
        wanted = {}
        for label in open_tasks:
            reach = round((stage + 1) / options.looks * len(order[label][1]))
            wanted[label] = max([s for s in designs[label][1] if s <= reach], default=done[label])
        new_ids = [f"{order[label][0]}:{sample_id}" for label in open_tasks
                   for unit in order[label][1][done[label]:wanted[label]] for sample_id in unit]  # fmt: skip
        if not new_ids:
            continue
        notify(f"gate: stage {stage + 1} of {options.looks}: {len(new_ids)} sample(s) of {len(open_tasks)} task(s)")
        folders.append(evaluate(new_ids))
        stages += 1
        for label in open_tasks:
            done[label] = wanted[label]
            if wanted[label] not in designs[label][1]:
                continue
            looked[label] += 1
            total = sum(len(unit) for unit in order[label][1])
            rows = _look(label, looked[label] - 1, designs[label][0], order[label][1][: done[label]], total, sides,
                         folders, options)  # fmt: skip
            if rows is not None:
                decided[label] = rows
    pairs = [pair for label in order for pair in decided.get(label, [])]
    held = any(d.gate == "held" for d, _ in pairs)
    undecided = [label for label in order if label not in decided]
    why = "another task was held first" if held else "no look decided it: the gate holds"
    notes = [f"{label}: not decided ({why})" for label in undecided]
    report = ComparisonReport(
        baseline=VersionRef(ref=base.version_ref, version=base.version, digest=base.digest),
        candidate=VersionRef(ref=cand.version_ref, version=cand.version, digest=cand.digest),
        rows=[row for _, row in pairs] if held or not undecided else [],  # no rows: the report holds
        alpha=options.alpha, margin=options.margin, cluster=options.cluster, resamples=options.resamples,
        seed=options.seed, notes=[f"sequential gate: {options.looks} looks, O'Brien-Fleming alpha spending", *notes],
    )  # fmt: skip
    total = sum(len(ids) for _, units in order.values() for ids in units)
    used = sum(len(ids) for label, (_, units) in order.items() for ids in units[: done[label]])
    tokens, seconds = _cost(cand, folders, where)
    rate = (total - used) / used if used else 0.0
    return Staged(report, [d for d, _ in pairs], stages, used, total,
                  Spent(tokens, seconds, round(tokens * rate), seconds * rate))  # fmt: skip


def _cost(version: ResolvedCheckpoint, folders: list[str], where: CompareOptions) -> tuple[int, float]:
    """Tokens and eval seconds of ``version``'s logs in the stage folders. The seconds run from the first
    sample's start to the last one's end: the log's own times are whole seconds, so a stage shorter
    than a second read as none."""
    from datetime import datetime

    from inspect_ai.log import read_eval_log, read_eval_log_sample_summaries

    tokens, seconds = 0, 0.0
    for folder in dict.fromkeys(folders):
        try:
            logs = find_logs(version, where.model_copy(update={"variant": folder}), [])
        except UserError:
            continue
        for path in logs.values():
            stats_ = read_eval_log(str(path), header_only=True).stats
            tokens += sum(usage.total_tokens for usage in stats_.model_usage.values())
            samples = read_eval_log_sample_summaries(str(path))
            starts = [datetime.fromisoformat(s.started_at) for s in samples if s.started_at]
            ends = [datetime.fromisoformat(s.completed_at) for s in samples if s.completed_at]
            if starts and ends:
                seconds += (max(ends) - min(starts)).total_seconds()
    return tokens, seconds


@dataclass
class _Sides:
    """Both versions' per-sample scores, read once per log folder (a stage's logs do not change once
    it ran; each look reads only the folders it has not read yet)."""

    cand: ResolvedCheckpoint
    base: ResolvedCheckpoint
    base_folder: str | None  # the baseline's full logs, or None: it is staged with the candidate
    where: CompareOptions
    read: dict[tuple[str, str, str], dict[str, dict[str, float]]] = field(default_factory=dict)

    def scores(self, label: str, stages: list[str]) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
        base_folders = [self.base_folder] if self.base_folder is not None else stages
        return self._merged(self.base, label, base_folders), self._merged(self.cand, label, stages)

    def _merged(self, version: ResolvedCheckpoint, label: str, folders: list[str]) -> dict[str, dict[str, float]]:
        """metric -> sample id -> score, over the logs of ``label`` in every folder."""
        merged: dict[str, dict[str, float]] = {}
        for folder in dict.fromkeys(folders):
            key = (version.digest, folder, label)
            if key not in self.read:
                self.read[key] = _folder_scores(version, label, folder, self.where)
            for metric, values in self.read[key].items():
                merged.setdefault(metric, {}).update(values)
        return merged


def _look(
    label: str,
    index: int,
    plan: sequential.Design,
    units: list[list[str]],
    total: int,
    sides: _Sides,
    stages: list[str],
    options: GateConfig,
) -> list[tuple[TaskDecision, MetricComparison]] | None:
    """One look at one task (every metric), over the stages so far: its rows when every metric
    stopped, else None."""
    ids = [sample_id for unit in units for sample_id in unit]
    base_scores, cand_scores = sides.scores(label, stages)
    cluster_of = {sample_id: str(n) for n, unit in enumerate(units) for sample_id in unit}
    out = []
    for metric in sorted(base_scores.keys() | cand_scores.keys()):
        base_m, cand_m = base_scores.get(metric, {}), cand_scores.get(metric, {})
        paired = [i for i in ids if i in base_m and i in cand_m]
        d = np.array([cand_m[i] - base_m[i] for i in paired])
        codes = stats.cluster_codes([cluster_of[i] for i in paired], paired) if options.cluster and paired else None
        seen = sequential.look(d, index, plan, options.margin, codes)
        if not seen.stop:
            return None
        compared = seen.verdict != "not compared"
        regressed = compared and stats.regressed(seen.ci, options.margin)
        passes = compared and not regressed and (options.margin is None or seen.verdict != "no detectable difference")
        gate: Literal["passed", "held"] = "passed" if passes else "held"
        decision = TaskDecision(task=label, metric=metric, look=seen.look, looks=plan.looks, used=len(paired),
                                total=total,
                                boundary=seen.boundary, verdict=seen.verdict, gate=gate)  # fmt: skip
        row = MetricComparison(
            task=label, metric=metric, baseline=_side(sides.base, base_m, paired),
            candidate=_side(sides.cand, cand_m, paired), n_paired=len(paired), n_baseline_only=0,
            n_candidate_only=0, delta=seen.delta if compared else None,
            delta_stderr=seen.stderr if compared else None, ci=seen.ci if compared else None, p_value=None,
            p_adjusted=None, correlation=None, mde=None, verdict=seen.verdict, regressed=regressed, gate=gate,
            method=f"sequential: look {seen.look} of {plan.looks}, paired mean +/- {seen.boundary:.3f} SE "
            "(repeated confidence interval)" + (", cluster-robust SE" if codes is not None else ""),
            clusters=int(codes.max()) + 1 if codes is not None and len(paired) else None,
            flips=flips(paired, [base_m[i] for i in paired], [cand_m[i] for i in paired]) if paired else None,
        )  # fmt: skip
        out.append((decision, row))
    return out or None


def _side(version: ResolvedCheckpoint, scores: dict[str, float], paired: list[str]) -> Side:
    values = np.array([scores[i] for i in paired])
    mean, stderr = stats.mean_stderr(values)
    finite = bool(len(values))
    return Side(ref=version.version_ref, version=version.version, digest=version.digest,
                mean=mean if finite else None, stderr=stderr if np.isfinite(stderr) else None,
                n=len(values), errored=0)  # fmt: skip


def _folder_scores(
    version: ResolvedCheckpoint, label: str, folder: str, where: CompareOptions
) -> dict[str, dict[str, float]]:
    """metric -> sample id -> score, from the log of ``label`` in one plan folder (none: empty)."""
    try:
        logs = find_logs(version, where.model_copy(update={"variant": folder}), [])
    except UserError:
        return {}
    return read_task_scores(label, logs[label], None).metrics if label in logs else {}
