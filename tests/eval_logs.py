"""Real Inspect `.eval` logs with scores we choose, written by Inspect's own recorder.

For the comparison tests and benchmark: `run` makes real logs too, but choosing each sample's score
(to know the right answer) needs a log written directly. `write_eval_log` re-filters its sample
buffer on every sample (quadratic: an hour for 200,000 samples), so this drives the recorder the
way an eval does, flushing every few hundred samples.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLUSH_EVERY = 500


@dataclass(frozen=True)
class Epoch:
    """One epoch of one sample: its scores (scorer -> value), or an error."""

    sample_id: str
    epoch: int
    scores: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    input: str = "question"
    answer: str | None = None  # each scorer's Score.answer


def write_log(
    path: Path,
    task: str,
    epochs: Iterable[Epoch],
    metadata: Mapping[str, Any] | None = None,
    dataset: int | None = None,  # the dataset's size, as the log's header records it
) -> Path:
    """Write a successful `.eval` log of ``task`` holding ``epochs`` to ``path`` (its folder is made)."""
    from inspect_ai._util._async import run_coroutine
    from inspect_ai.log import EvalConfig, EvalDataset, EvalSample, EvalSpec
    from inspect_ai.log._recorders.eval import EvalRecorder
    from inspect_ai.scorer import Score

    path.parent.mkdir(parents=True, exist_ok=True)
    spec = EvalSpec(
        created="2026-01-01T00:00:00+00:00",
        task=task,
        dataset=EvalDataset(samples=dataset),
        model="mockllm/model",
        config=EvalConfig(),
        metadata=dict(metadata or {}),
    )

    async def write() -> None:
        from inspect_ai._util.error import EvalError

        recorder = EvalRecorder(str(path.parent))
        await recorder.log_init(spec, str(path), clean=True)
        await recorder.log_start(spec, _plan())
        for count, item in enumerate(epochs, start=1):
            sample = EvalSample(
                id=item.sample_id,
                epoch=item.epoch,
                input=item.input,
                target="answer",
                scores={name: Score(value=value, answer=item.answer) for name, value in item.scores.items()},
                metadata=dict(item.metadata),
                error=EvalError(message=item.error, traceback="", traceback_ansi="") if item.error else None,
            )
            await recorder.log_sample(spec, sample)
            if count % FLUSH_EVERY == 0:
                await recorder.flush(spec)
        await recorder.log_finish(spec, "success", _stats(), None, None)

    run_coroutine(write())
    return path


def _plan() -> Any:
    from inspect_ai.log import EvalPlan

    return EvalPlan()


def _stats() -> Any:
    from inspect_ai.log import EvalStats

    return EvalStats(started_at="2026-01-01T00:00:00+00:00", completed_at="2026-01-01T00:00:01+00:00")
