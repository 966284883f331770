"""Per-sample flips: which paired samples got better and which got worse.

A delta of +0.02 can hide 40 samples that improved and 32 that regressed; the regressed ones are what
an engineer opens first. Counting is done on the paired, epoch-averaged scores the statistics use;
the side-by-side details (input, target, both answers) are read back from the two Inspect logs only
for the capped ids that are shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from eval_orchestrator.comparison.model import ComparisonReport, Flips, FlipSet
from eval_orchestrator.comparison.scores import SampleSummary, TaskScores, read_task_scores, sample_summaries

FLIP_IDS = 100  # ids listed per direction; the count is always exact
TEXT_CHARS = 2000  # of an input, target or answer in a table cell
Direction = Literal["regressed", "improved"]
_TOLERANCE = 1e-12  # float noise in an epoch mean is not a flip


def flips(ids: list[str], baseline: Iterable[float], candidate: Iterable[float], cap: int = FLIP_IDS) -> Flips:
    changes = [(c - b, sample) for sample, b, c in zip(ids, baseline, candidate, strict=True)]
    improved = sorted((-d, s) for d, s in changes if d > _TOLERANCE)
    regressed = sorted((d, s) for d, s in changes if d < -_TOLERANCE)
    return Flips(
        improved=FlipSet(count=len(improved), ids=[s for _, s in improved[:cap]]),
        regressed=FlipSet(count=len(regressed), ids=[s for _, s in regressed[:cap]]),
        unchanged=len(changes) - len(improved) - len(regressed),
    )


@dataclass(frozen=True)
class SampleView:
    """One sample of one log as a flips table shows it (its first epoch's input and answer)."""

    input: str
    target: str
    answer: str
    cluster: str


@dataclass(frozen=True)
class FlipRow:
    task: str
    metric: str
    direction: Direction
    sample_id: str
    baseline_score: float | None
    candidate_score: float | None
    baseline: SampleView
    candidate: SampleView


def _text(value: Any) -> str:
    """A summary's input (a text or chat messages) or target (a text or a list) as plain text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:TEXT_CHARS]
    if isinstance(value, list):
        parts = [_text(item.get("content") if isinstance(item, Mapping) else item) for item in value]
        return "\n".join(part for part in parts if part)[:TEXT_CHARS]
    if isinstance(value, Mapping):  # a content block
        return _text(value.get("text") or value.get("content"))
    return str(value)[:TEXT_CHARS]


def _views(log: str | None, wanted: set[str], cluster: str | None) -> dict[str, SampleView]:
    if not log or not wanted:
        return {}
    out: dict[str, SampleView] = {}
    for summary in sample_summaries(Path(log)):
        sample = str(summary["id"])
        if sample in wanted and sample not in out:
            out[sample] = _view(summary, cluster)
    return out


def _view(summary: SampleSummary, cluster: str | None) -> SampleView:
    scores = summary.get("scores") or {}
    answers = [s.get("answer") for s in scores.values() if isinstance(s, Mapping) and s.get("answer") is not None]
    label = (summary.get("metadata") or {}).get(cluster) if cluster else None
    return SampleView(
        input=_text(summary.get("input")),
        target=_text(summary.get("target")),
        answer=_text(answers[0] if answers else None),
        cluster="" if label is None else str(label),
    )


def _epoch_means(log: str | None, task: str, metric: str, cache: dict[str, TaskScores]) -> dict[str, float]:
    if not log:
        return {}
    if log not in cache:
        cache[log] = read_task_scores(task, Path(log))
    return cache[log].metrics.get(metric, {})


def flip_rows(report: ComparisonReport) -> list[FlipRow]:
    """Every listed flip of ``report``, regressions first, with both sides' details and epoch means."""
    by_direction: dict[Direction, list[FlipRow]] = {"regressed": [], "improved": []}
    read: dict[str, TaskScores] = {}
    empty = SampleView(input="", target="", answer="", cluster="")
    for row in report.rows:
        if row.flips is None:
            continue
        listed: dict[Direction, list[str]] = {"regressed": row.flips.regressed.ids, "improved": row.flips.improved.ids}
        wanted = {sample for ids in listed.values() for sample in ids}  # each log read once for both directions
        base_views = _views(row.baseline.log, wanted, report.cluster)
        cand_views = _views(row.candidate.log, wanted, report.cluster)
        base_scores = _epoch_means(row.baseline.log, row.task, row.metric, read)
        cand_scores = _epoch_means(row.candidate.log, row.task, row.metric, read)
        for direction, ids in listed.items():
            by_direction[direction] += [
                FlipRow(
                    task=row.task,
                    metric=row.metric,
                    direction=direction,
                    sample_id=sample,
                    baseline_score=base_scores.get(sample),
                    candidate_score=cand_scores.get(sample),
                    baseline=base_views.get(sample, empty),
                    candidate=cand_views.get(sample, empty),
                )
                for sample in ids
            ]
    return by_direction["regressed"] + by_direction["improved"]
