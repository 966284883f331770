"""``report COLLECTION``: every evaluated version of a collection x every task, from the Inspect logs
``run`` left under the log root: the training-progress view (mean and interval per cell, the best
version per task marked).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from eval_orchestrator.comparison import stats
from eval_orchestrator.comparison.model import Cell, Change, CollectionReport
from eval_orchestrator.comparison.scores import TaskScores, latest_logs, read_task_scores
from eval_orchestrator.errors import UserError

VERSION_DIR = re.compile(r"^v(\d+)-([0-9a-f]{12})$")


def _version_dirs(root: Path) -> list[tuple[int, str, Path]]:
    found = []
    for path in root.iterdir() if root.is_dir() else []:
        if path.is_dir() and (match := VERSION_DIR.match(path.name)):
            found.append((int(match[1]), match[2], path))
    return sorted(found)


def collection_report(
    collection: str, log_dir: str | Path = "logs", alpha: float = 0.05, cluster: str | None = None, seed: int = 0
) -> CollectionReport:
    """``collection`` is the collection's name (the log root holds one folder per name)."""
    name = collection
    root = Path(log_dir) / name
    dirs = _version_dirs(root)
    if not dirs:
        raise UserError(f"no evaluated versions of {name!r} under {log_dir}/ (looked in {root}); run it first")
    repeated = {number for number, _, _ in dirs if sum(n == number for n, _, _ in dirs) > 1}
    cells: list[Cell] = []
    versions: list[str] = []
    changes: list[Change] = []
    last: dict[str, tuple[str, TaskScores]] = {}  # task -> the latest version before this one that has it
    for number, digest, path in dirs:
        # Two registries' "v1" of one collection name are told apart by their digest.
        label = f"v{number}" + (f"-{digest[:8]}" if number in repeated else "")
        logs = latest_logs(path) or latest_logs(path, every_plan=True)  # the default plan's, else any plan's
        if logs:
            versions.append(label)
        for task, log in sorted(logs.items()):
            scores = read_task_scores(task, log, cluster)
            if task in last:
                changes.extend(_changes(last[task], (label, scores), alpha, seed, cluster))
            last[task] = (label, scores)
            for metric, by_sample in scores.metrics.items():
                values = np.fromiter(by_sample.values(), dtype=np.float64, count=len(by_sample))
                labels = None
                if cluster is not None:
                    labels = stats.cluster_codes([scores.clusters.get(i) for i in by_sample], list(by_sample))
                mean, stderr = stats.mean_stderr(values, labels)
                ci = stats.percentile_interval(
                    stats.bootstrap_means(values, stats.DEFAULT_RESAMPLES, seed, labels), alpha
                )
                cells.append(
                    Cell(
                        version=label,
                        digest=digest,
                        task=task,
                        metric=metric,
                        mean=mean,
                        stderr=stderr if np.isfinite(stderr) else None,
                        ci=ci,
                        n=len(values),
                        errored=scores.errored,
                    )
                )
    best: dict[tuple[str, str], Cell] = {}
    for cell in cells:
        key = (cell.task, cell.metric)
        if key not in best or cell.mean > best[key].mean:
            best[key] = cell
    cells = [cell.model_copy(update={"best": best[(cell.task, cell.metric)] is cell}) for cell in cells]
    return CollectionReport(collection=name, versions=versions, cells=cells, alpha=alpha, changes=changes)


def _changes(
    before: tuple[str, TaskScores], after: tuple[str, TaskScores], alpha: float, seed: int, cluster: str | None
) -> list[Change]:
    """Each metric of a task that changed detectably between two versions (paired, unadjusted: a
    marker on a progress chart, not a gate)."""
    (previous, old), (version, new) = before, after
    found = []
    for metric in sorted(old.metrics.keys() & new.metrics.keys()):
        a, b = old.metrics[metric], new.metrics[metric]
        ids = sorted(a.keys() & b.keys())
        if len(ids) < 2:
            continue
        labels = [new.clusters.get(i) or old.clusters.get(i) for i in ids]
        result = stats.paired(
            np.array([a[i] for i in ids]),
            np.array([b[i] for i in ids]),
            alpha=alpha,
            binary_single_epoch=metric in old.binary and metric in new.binary,
            clusters=stats.cluster_codes(labels, ids) if cluster else None,
            resamples=stats.DEFAULT_RESAMPLES,
            seed=seed,
        )
        verdict = stats.verdict(result.ci, None)
        if verdict in ("better", "worse"):
            found.append(Change(task=old.task, metric=metric, version=version, previous=previous,
                                delta=result.delta, ci=result.ci, verdict=verdict))  # fmt: skip
    return found
