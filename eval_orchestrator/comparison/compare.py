"""``compare(baseline, candidate)``: is the candidate checkpoint better, per task and metric?

Both references are resolved through their registry (version and digest; no bytes fetched), their
Inspect logs are found where ``run`` wrote them (or taken out of their W&B results artifacts),
samples are paired by id, and each task x metric gets the paired statistics of ``stats.py``, with
Holm-adjusted p-values across all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import ConfigDict

from eval_orchestrator.checkpoint import ResolvedCheckpoint
from eval_orchestrator.comparison import stats
from eval_orchestrator.comparison.flips import flips
from eval_orchestrator.comparison.model import ComparisonReport, MetricComparison, Side, VersionRef
from eval_orchestrator.comparison.scores import TaskScores, latest_logs, read_task_scores
from eval_orchestrator.config import build_store_config
from eval_orchestrator.errors import UserError
from eval_orchestrator.notify import Notify, quiet
from eval_orchestrator.plan import local_log_dir_for
from eval_orchestrator.refs import CheckpointRef
from eval_orchestrator.registry.factory import Registries
from eval_orchestrator.run_config import StoreConfig
from eval_orchestrator.watch_config import GateConfig


class CompareOptions(GateConfig):
    """The gate's statistics options (bounds declared once, in ``GateConfig``), and where the logs are."""

    model_config = ConfigDict(frozen=True)

    log_dir: str = "logs"  # the Inspect log root `run` wrote under
    variant: str = ""  # the plan's log folder under each version's (plan.variant_id); '' = the default plan
    from_wandb: bool = False  # take the logs out of the versions' W&B results artifacts
    wandb_project: str | None = None  # where those artifacts are (from_wandb)
    wandb_entity: str | None = None


def _version_ref(resolved: ResolvedCheckpoint) -> VersionRef:
    return VersionRef(ref=resolved.version_ref, version=resolved.version, digest=resolved.digest)


def _absent(task: str) -> TaskScores:
    """A side with no successful log of ``task``."""
    return TaskScores(task=task, log="", metrics={}, epochs=0, errored=0)


def find_logs(resolved: ResolvedCheckpoint, options: CompareOptions, tasks: Sequence[str]) -> dict[str, Path]:
    """The newest successful log per task of one version."""
    if options.from_wandb:
        from eval_orchestrator.comparison.wandb_results import download_logs

        return download_logs(resolved, tasks, options.wandb_project, options.wandb_entity)
    where = local_log_dir_for(options.log_dir, resolved.collection, resolved.version, resolved.digest, options.variant)
    logs = latest_logs(where) if where.is_dir() else {}
    if not logs and where.is_dir() and any(where.glob("*.eval")):
        return {}  # evaluated, and nothing succeeded: every task is held, not a missing run
    if not logs:
        others = sorted(p.name for p in where.glob("plan-*")) if where.is_dir() else []
        hint = f" (other plans' logs are in {', '.join(others)}: pass that plan's --config)" if others else ""
        raise UserError(
            f"no Inspect logs for {resolved.version_ref} under {options.log_dir}/ (looked in {where}){hint}; "
            "run it first or pass --from-wandb"
        )
    return logs


def _only_plan(base: ResolvedCheckpoint, cand: ResolvedCheckpoint, options: CompareOptions, notify: Notify) -> str:
    """Without --config: the default plan's logs, or else the one plan both versions were evaluated with."""
    folders = []
    for side in (base, cand):
        where = local_log_dir_for(options.log_dir, side.collection, side.version, side.digest)
        if where.is_dir() and any(where.glob("*.eval")):
            return ""  # the default plan's logs are there
        folders.append({p.name for p in where.glob("plan-*") if any(p.glob("*.eval"))} if where.is_dir() else set())
    common = sorted(folders[0] & folders[1])
    if len(common) == 1:
        notify(f"comparing the logs of the one plan both versions ran ({common[0]})")
        return common[0]
    if len(common) > 1:
        raise UserError(
            f"both versions were evaluated by several plans ({', '.join(common)}); pass the plan's --config to choose"
        )
    return ""


def _clusters(ids: list[str], base: TaskScores, cand: TaskScores, key: str, notes: list[str]) -> np.ndarray:
    labels = [base.clusters.get(i) or cand.clusters.get(i) for i in ids]
    missing = sum(label is None for label in labels)
    if missing:
        notes.append(f"{base.task}: {missing} sample(s) have no metadata {key!r}; each is its own cluster")
    return stats.cluster_codes(labels, ids)


def _side(resolved: ResolvedCheckpoint, scores: TaskScores, metric: str, key: str | None) -> Side:
    by_sample = scores.metrics.get(metric, {})
    values = np.fromiter(by_sample.values(), dtype=np.float64, count=len(by_sample))
    clusters = None
    if key is not None and values.size:
        clusters = stats.cluster_codes([scores.clusters.get(i) for i in by_sample], list(by_sample))
    mean, stderr = stats.mean_stderr(values, clusters)
    return Side(
        ref=resolved.version_ref,
        version=resolved.version,
        digest=resolved.digest,
        mean=_finite(mean),
        stderr=_finite(stderr),
        n=int(values.size),
        errored=scores.errored,
        log=scores.log or None,
    )


def _finite(value: float | None) -> float | None:
    return value if value is not None and np.isfinite(value) else None


def _margin_fits(metric: str, base: TaskScores, cand: TaskScores, margin: float | None) -> None:
    """A margin as wide as the metric's whole range would pass anything: one line, exit 2."""
    if margin is None:
        return
    values = [v for side in (base, cand) for v in side.metrics.get(metric, {}).values()]
    if not values:
        return
    low, high = min(values), max(values)
    span = 1.0 if low >= 0 and high <= 1 else high - low  # accuracies and other proportions: [0, 1]
    if margin >= span:
        raise UserError(
            f"--margin {margin:g} is not below the range of {base.task}/{metric} ({span:g}: its scores lie in "
            f"[{min(low, 0.0):g}, {max(high, 1.0 if span == 1.0 else high):g}]), so the gate would pass any "
            "candidate; use a margin well inside it, e.g. 0.02 for an accuracy"
        )


def compare_metric(
    base_version: ResolvedCheckpoint,
    cand_version: ResolvedCheckpoint,
    base: TaskScores,
    cand: TaskScores,
    metric: str,
    options: CompareOptions,
    notes: list[str],
) -> MetricComparison:
    base_scores, cand_scores = base.metrics.get(metric, {}), cand.metrics.get(metric, {})
    ids = sorted(base_scores.keys() & cand_scores.keys())
    baseline = np.array([base_scores[i] for i in ids])
    candidate = np.array([cand_scores[i] for i in ids])
    clusters = _clusters(ids, base, cand, options.cluster, notes) if options.cluster and ids else None
    result = None
    if len(ids) >= 2:
        result = stats.paired(
            baseline,
            candidate,
            alpha=options.alpha,
            binary_single_epoch=metric in base.binary and metric in cand.binary,
            clusters=clusters,
            resamples=options.resamples,
            seed=options.seed,
        )
    ci = result.ci if result else None
    regressed = stats.regressed(ci, options.margin) if ci else False
    return MetricComparison(
        task=base.task,
        metric=metric,
        baseline=_side(base_version, base, metric, options.cluster),
        candidate=_side(cand_version, cand, metric, options.cluster),
        n_paired=len(ids),
        n_baseline_only=len(base_scores.keys() - cand_scores.keys()),
        n_candidate_only=len(cand_scores.keys() - base_scores.keys()),
        delta=result.delta if result else None,
        delta_stderr=_finite(result.delta_stderr) if result else None,
        ci=ci,
        p_value=_finite(result.p_value) if result else None,
        p_adjusted=None,  # set once every row is known (Holm)
        correlation=result.correlation if result else None,
        mde=_finite(result.mde) if result else None,
        # Nothing to compare is not "no difference": the gate holds what it cannot measure.
        verdict=stats.verdict(ci, options.margin) if ci else "not compared",
        regressed=regressed,
        gate="held" if regressed or ci is None else "passed",
        method=result.method if result else _why_not_compared(base, cand, metric, len(ids)),
        clusters=result.clusters if result else None,
        epochs=max(base.epochs, cand.epochs),
        flips=flips(ids, baseline, candidate) if ids else None,
    )


def _why_not_compared(base: TaskScores, cand: TaskScores, metric: str, paired: int) -> str:
    for side, scores in (("baseline", base), ("candidate", cand)):
        if not scores.log:
            return f"not compared: the {side} has no successful log of {base.task}"
        if not scores.metrics.get(metric):
            return f"not compared: the {side} has no scored sample ({scores.errored} errored)"
    return f"not compared: {paired} paired sample(s) (at least 2 are needed)"


def compare(
    baseline: CheckpointRef | str,
    candidate: CheckpointRef | str,
    options: CompareOptions | None = None,
    store: StoreConfig | None = None,
    notify: Notify = quiet,
) -> ComparisonReport:
    """Compare ``candidate`` with ``baseline`` on every task both have (the library's entry point: text
    references are parsed here, as the CLI's are)."""
    baseline = CheckpointRef.parse(baseline) if isinstance(baseline, str) else baseline
    candidate = CheckpointRef.parse(candidate) if isinstance(candidate, str) else candidate
    options = options or CompareOptions()
    registries = Registries(store or build_store_config(), notify)  # one W&B session for both sides
    base_version = registries.resolve(baseline)
    cand_version = registries.resolve(candidate)
    if not options.from_wandb and not options.variant:
        options = options.model_copy(update={"variant": _only_plan(base_version, cand_version, options, notify)})
    base_logs = find_logs(base_version, options, options.tasks)
    cand_logs = find_logs(cand_version, options, options.tasks)
    notes: list[str] = []
    for task in options.tasks:
        if task not in base_logs and task not in cand_logs:
            have = ", ".join(sorted(base_logs.keys() | cand_logs.keys())) or "none"
            raise UserError(f"neither version has a successful log of task {task!r} (they have: {have})")
    # Every task either side has: one the candidate lacks (its eval failed) is held, not skipped.
    tasks = list(options.tasks) or sorted(base_logs.keys() | cand_logs.keys())
    if not tasks:
        raise UserError(f"{base_version.version_ref} and {cand_version.version_ref} have no task to compare")
    rows: list[MetricComparison] = []
    for task in tasks:
        base = read_task_scores(task, base_logs[task], options.cluster) if task in base_logs else _absent(task)
        cand = read_task_scores(task, cand_logs[task], options.cluster) if task in cand_logs else _absent(task)
        notes.extend(f"{task}: {note}" for note in dict.fromkeys(base.notes + cand.notes))
        metrics = sorted(base.metrics.keys() | cand.metrics.keys())
        if not metrics:
            notes.append(f"{task}: neither version has a numeric score; not compared")
        for metric in metrics:
            _margin_fits(metric, base, cand, options.margin)
            rows.append(compare_metric(base_version, cand_version, base, cand, metric, options, notes))
    adjusted = stats.holm([row.p_value if row.p_value is not None else float("nan") for row in rows])
    rows = [row.model_copy(update={"p_adjusted": _finite(p)}) for row, p in zip(rows, adjusted, strict=True)]
    return ComparisonReport(
        baseline=_version_ref(base_version),
        candidate=_version_ref(cand_version),
        rows=rows,
        alpha=options.alpha,
        margin=options.margin,
        cluster=options.cluster,
        resamples=options.resamples,
        seed=options.seed,
        notes=notes,
    )
