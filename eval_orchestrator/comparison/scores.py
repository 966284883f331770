"""Per-sample scores out of one version's Inspect logs, ready to pair with another version's.

A version's logs are where ``run`` wrote them (``<log root>/<collection>/<vN>-<digest>``), or a
folder of logs taken out of its W&B results artifacts. Each task's newest successful log is read
through Inspect's sample summaries (ids, epochs, scores, errors, metadata), not whole samples.
A sample's score is the mean over its epochs that did not error; a sample with no such epoch is
counted as errored and left out, never scored 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Required,  # pydantic reads TypedDicts from here on 3.11
)

from pydantic import TypeAdapter
from typing_extensions import TypedDict

from eval_orchestrator import inspect_api
from eval_orchestrator.error_text import error_text
from eval_orchestrator.errors import OrchestratorError, UserError
from eval_orchestrator.job import EvalMetadata
from eval_orchestrator.publish import task_label as job_task_label
from eval_orchestrator.score_values import numeric_scores

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog

SUMMARIES = "summaries.json"


@dataclass(frozen=True)
class TaskScores:
    task: str  # the task's name, with its args hash when it ran with task args
    log: str  # the Inspect log the scores came from
    metrics: dict[str, dict[str, float]]  # metric -> {sample id: mean over its scored epochs}
    epochs: int  # the most epochs any sample had
    errored: int  # samples with no epoch that finished without error
    clusters: dict[str, str] = field(default_factory=dict)  # sample id -> cluster label
    binary: frozenset[str] = frozenset()  # metrics whose every per-sample value is 0 or 1
    notes: tuple[str, ...] = ()  # scorers left out, and why


def task_label(header: EvalLog) -> str:
    """The task a log measured: ours carries the job (name + args hash); any other log its task name."""
    meta = EvalMetadata.from_inspect(header.eval.metadata)
    return str(header.eval.task).rsplit("/", 1)[-1] if meta is None else job_task_label(meta.job)


class SampleSummary(TypedDict, total=False):
    """One entry of a log's summaries.json, as far as a comparison reads it (validated: a log is a
    file another program, or an attacker, may have written)."""

    id: Required[str | int]
    epoch: int
    scores: dict[str, Any] | None
    error: Any
    metadata: dict[str, Any] | None
    input: Any  # a text, or chat messages (what a flip's table shows)
    target: Any


_SUMMARIES = TypeAdapter(list[SampleSummary])


@contextmanager
def _reading(log: Path) -> Iterator[None]:
    """Whatever a damaged or foreign log makes the reader raise, as one line naming the log (exit 2)."""
    try:
        yield
    except OrchestratorError:
        raise
    except (Exception, RecursionError) as exc:  # a zip, JSON or schema error from Inspect's reader, or ours
        reason = f"{type(exc).__name__}: {error_text(exc)}"[:200]
        raise UserError(
            f"the Inspect log {log} cannot be read ({reason}); it is damaged or not an Inspect log: "
            "move it aside and evaluate the version again"
        ) from None


def read_header(path: Path) -> EvalLog:
    from inspect_ai.log import read_eval_log

    with _reading(path):
        return read_eval_log(str(path), header_only=True)


def latest_logs(log_dir: Path, every_plan: bool = False) -> dict[str, Path]:
    """Each task's newest successful Inspect log directly under ``log_dir`` (or, with ``every_plan``,
    in its plans' folders too)."""
    newest: dict[str, tuple[str, Path]] = {}
    for path in sorted(log_dir.rglob("*.eval") if every_plan else log_dir.glob("*.eval")):
        header = read_header(path)
        if header.status != "success":
            continue
        label = task_label(header)
        created = str(header.eval.created)
        if label not in newest or created > newest[label][0]:
            newest[label] = (created, path)
    return {label: path for label, (_, path) in newest.items()}


def sample_summaries(log: Path) -> list[SampleSummary]:
    """The log's sample summaries: id, epoch, scores, error, metadata. summaries.json is validated as
    plain typed dicts, not a pydantic object per sample (5x faster on a 20,000-sample log); a log
    still being written keeps them in a journal, which Inspect's public reader reads."""
    with _reading(log):
        raw = inspect_api.read_log_member(log, SUMMARIES)
        if raw is not None:
            return _SUMMARIES.validate_json(raw)
        from inspect_ai.log import read_eval_log_sample_summaries

        fields = {"id", "epoch", "scores", "error", "metadata", "input", "target"}
        read = [summary.model_dump(include=fields) for summary in read_eval_log_sample_summaries(str(log))]
        return _SUMMARIES.validate_python(read)


def read_task_scores(task: str, log: Path, cluster_key: str | None = None) -> TaskScores:
    by_metric: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    epochs: dict[str, int] = defaultdict(int)
    finished: set[str] = set()  # samples with an epoch that did not error
    clusters: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for summary in sample_summaries(log):
        sample_id = str(summary["id"])
        epochs[sample_id] += 1
        metadata = summary.get("metadata") or {}
        if cluster_key is not None and (label := metadata.get(cluster_key)) is not None:
            if not isinstance(label, str | int | float | bool):
                raise UserError(
                    f"sample {sample_id!r} of {log}: its metadata {cluster_key!r} is a {type(label).__name__}; "
                    "--cluster needs a text or number label per sample (e.g. a passage or topic id)"
                )
            clusters[sample_id] = str(label)
        if summary.get("error"):
            continue  # an errored epoch is left out, not scored 0
        finished.add(sample_id)
        for scorer, score in (summary.get("scores") or {}).items():
            value = score.get("value") if isinstance(score, dict) else None
            numbers = numeric_scores(scorer, value)
            if not numbers:
                skipped.setdefault(scorer, type(value).__name__)
            for metric, number in numbers.items():
                by_metric[metric][sample_id].append(number)
    metrics = {
        metric: {sample: sum(values) / len(values) for sample, values in samples.items()}
        for metric, samples in sorted(by_metric.items())
    }
    notes = tuple(
        f"scorer {name!r} skipped: its values are not numbers ({kind})"
        for name, kind in sorted(skipped.items())
        if not any(m == name or m.startswith(name + "/") for m in metrics)
    )
    max_epochs = max(epochs.values(), default=0)
    binary = frozenset(
        metric
        for metric, samples in metrics.items()
        if max_epochs == 1 and all(value in (0.0, 1.0) for value in samples.values())
    )
    return TaskScores(
        task=task,
        log=str(log),
        metrics=metrics,
        epochs=max_epochs,
        errored=sum(1 for sample in epochs if sample not in finished),
        clusters=clusters,
        binary=binary,
        notes=notes,
    )
