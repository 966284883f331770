"""Pictures of a comparison (a forest plot) and of a collection's history (metric over versions).

matplotlib with the Agg backend: files only, no display needed, imported only when asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eval_orchestrator.comparison.model import CollectionReport, ComparisonReport

COLORS = {"better": "#2a9d4b", "worse": "#c62828", "non-inferior": "#1f6fb2", "no detectable difference": "#555555",
          "not compared": "#999999"}  # fmt: skip


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def forest_plot(report: ComparisonReport, path: str | Path) -> Path:
    """One row per task x metric: the paired difference with its interval, the zero line, the margin."""
    plt = _pyplot()
    rows = [row for row in report.rows if row.ci is not None and row.delta is not None]
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.45 * max(len(rows), 1)))
    for y, row in enumerate(reversed(rows)):
        assert row.ci is not None and row.delta is not None
        color = COLORS[row.verdict]
        ax.plot(row.ci, [y, y], color=color, linewidth=2.5, solid_capstyle="butt")
        ax.plot([row.delta], [y], "o", color=color, markersize=7)
        ax.annotate(
            row.verdict, (row.ci[1], y), xytext=(6, 0), textcoords="offset points", va="center", fontsize=8, color=color
        )
    ax.axvline(0, color="black", linewidth=1)
    if report.margin is not None:
        ax.axvline(-report.margin, color="#c62828", linestyle="--", linewidth=1, label=f"margin -{report.margin:g}")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_yticks(range(len(rows)), [f"{row.task} · {row.metric}" for row in reversed(rows)])
    ax.set_xlabel(f"candidate - baseline ({100 * (1 - report.alpha):g}% paired bootstrap interval)")
    ax.set_title(f"{report.candidate.ref} vs {report.baseline.version}", fontsize=10)
    ax.margins(x=0.25)
    return _save(plt, fig, path)


def history_plot(report: CollectionReport, path: str | Path) -> Path:
    """Each task x metric over the collection's versions, with its interval as a band."""
    plt = _pyplot()
    series = report.series()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for (task, metric), cells in sorted(series.items()):
        xs = [report.versions.index(cell.version) for cell in cells]
        ax.plot(xs, [cell.mean for cell in cells], marker="o", label=f"{task} · {metric}")
        ax.fill_between(xs, [cell.ci[0] for cell in cells], [cell.ci[1] for cell in cells], alpha=0.2)
    ax.set_xticks(range(len(report.versions)), report.versions)
    ax.set_xlabel("version")
    ax.set_ylabel(f"mean ({100 * (1 - report.alpha):g}% interval)")
    ax.set_title(f"{report.collection}: every evaluated version", fontsize=10)
    ax.legend(fontsize=8)
    return _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: str | Path) -> Path:
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
