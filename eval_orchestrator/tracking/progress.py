"""Per-job counters the tracker keeps while samples finish: no W&B, no Inspect hook, just state."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from eval_orchestrator.score_values import numeric_scores
from eval_orchestrator.tracking.rows import PROGRESS_INTERVAL_S, sample_row


@dataclass
class JobProgress:
    completed: int = 0
    errored: int = 0
    score_sums: dict[str, float] = field(default_factory=dict)
    tokens_by_model: dict[str, dict[str, int]] = field(default_factory=dict)
    # A resolved model name (a checkpoint's store path) -> its readable label ("model", "role/grader")
    model_labels: dict[str, str] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)  # rows of the per-sample table
    latest: dict[str, Any] | None = None  # the latest progress row, not logged yet
    logged_at: float = 0.0  # when a progress row was last logged (monotonic)

    @property
    def tokens(self) -> int:
        return sum(totals["total"] for totals in self.tokens_by_model.values())

    def add(self, sample: Any) -> None:
        """Count one finished Inspect EvalSample and keep its table row."""
        if sample.error is not None:
            self.errored += 1
        else:
            self.completed += 1
        scores: dict[str, float] = {}
        for scorer, score in (sample.scores or {}).items():
            # A dict-valued score is one metric per key; a value that is no number is left out.
            for name, value in numeric_scores(scorer, score.value).items():
                self.score_sums[name] = self.score_sums.get(name, 0.0) + value
                scores[name] = value
        for model, usage in (sample.model_usage or {}).items():
            label = self.model_labels.get(model, model)
            totals = self.tokens_by_model.setdefault(label, {"input": 0, "output": 0, "total": 0})
            totals["input"] += usage.input_tokens
            totals["output"] += usage.output_tokens
            totals["total"] += usage.total_tokens
        self.samples.append(sample_row(sample, scores))
        row: dict[str, Any] = {
            f"running/{name}_mean": total / max(self.completed, 1) for name, total in self.score_sums.items()
        }
        row["samples_completed"] = self.completed
        row["samples_errored"] = self.errored
        row["tokens_total"] = self.tokens
        self.latest = row

    def due(self) -> dict[str, Any] | None:
        """The progress row to log now, at most one every PROGRESS_INTERVAL_S (a W&B row per sample
        costs more than the sample; each sample is a row of the per-sample table instead)."""
        now = time.monotonic()
        if self.latest is None or now - self.logged_at < PROGRESS_INTERVAL_S:
            return None
        self.logged_at = now
        return self.take()

    def take(self) -> dict[str, Any] | None:
        row, self.latest = self.latest, None
        return row

    def token_summary(self) -> dict[str, int]:
        return {
            f"tokens/{model}/{kind}": count
            for model, totals in self.tokens_by_model.items()
            for kind, count in totals.items()
        }
