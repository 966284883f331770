"""W&B Reports, built with W&B's own library (``wandb_workspaces.reports.v2``, public preview; pinned).

A comparison's Report: the regressed samples first (a table, both versions side by side), the
per-task table (delta, interval, p, verdict, n), the forest plot and the flips table of the
comparison run, run sets of both versions' eval runs with their metrics panels, and links to the
results artifacts and the command that opens the Inspect logs. A collection's Report: each task's
metric across versions with its interval (the report run's history: one step per version) and the
versions where a task changed detectably against its predecessor.

Blocks are written as markdown where a table of our own numbers is shown: W&B renders it, and it
needs no query to stay right. Links are relative to the W&B host the Report is on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eval_orchestrator.comparison.model import CollectionReport, ComparisonReport
from eval_orchestrator.comparison.report_spec import ReportSpec
from eval_orchestrator.publish import RESULTS_TYPE, results_ref

FLIP_ROWS = 25  # regressed samples listed per Report (the comparison run's table has them all)
REPORT_RUN_TYPE = "report"


def _cell(value: object) -> str:
    """A markdown table cell: one line, no column separator."""
    text = "-" if value is None else (f"{value:+.3f}" if isinstance(value, float) else str(value))
    return " ".join(text.split()).replace("|", "\\|")[:200]


def _table(header: list[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _p(value: float | None) -> str:
    return "-" if value is None else ("<0.001" if value < 0.001 else f"{value:.3f}")


def _regressed_table(spec: ReportSpec) -> str:
    regressed = [f for f in spec.flips if f.direction == "regressed"]
    if not regressed:
        return "No paired sample scored lower on the candidate."
    shown = regressed[:FLIP_ROWS]
    rows: list[list[object]] = [
        [
            f"{f.task}/{f.metric}",
            f.sample_id,
            f.cluster,
            f.input,
            f.target,
            f.baseline_answer,
            f.baseline_score,
            f.candidate_answer,
            f.candidate_score,
        ]
        for f in shown
    ]
    more = (
        f"\n\n{len(regressed) - len(shown)} more in the comparison run's `flips` table."
        if len(regressed) > len(shown)
        else ""
    )
    header = [
        "task/metric",
        "sample",
        "cluster",
        "input",
        "target",
        "baseline answer",
        "baseline score",
        "candidate answer",
        "candidate score",
    ]
    return _table(header, rows) + more


def _rows_table(report: ComparisonReport) -> str:
    rows: list[list[object]] = []
    for row in report.rows:
        interval = f"[{row.ci[0]:+.3f}, {row.ci[1]:+.3f}]" if row.ci else "-"
        flips = f"+{row.flips.improved.count} / -{row.flips.regressed.count}" if row.flips else "-"
        rows.append(
            [
                row.task,
                row.metric,
                row.baseline.mean,
                row.candidate.mean,
                row.delta,
                interval,
                f"{_p(row.p_value)} ({_p(row.p_adjusted)})",
                row.verdict,
                row.gate,
                row.n_paired,
                flips,
            ]
        )
    header = ["task", "metric", "baseline", "candidate", "Δ", "interval", "p (Holm)", "verdict", "gate", "n", "flips"]
    return _table(header, rows)


def _links(spec: ReportSpec, report: ComparisonReport, entity: str) -> str:
    collection = report.candidate.ref.collection
    lines = ["Results artifacts:"]
    for side in (report.baseline, report.candidate):
        for task in report.tasks:
            name, alias = results_ref(collection, task, side.version).split(":", 1)
            lines.append(f"- [{name}:{alias}](/{entity}/{spec.project}/artifacts/{RESULTS_TYPE}/{name}/{alias})")
    if spec.log_dirs:
        lines.append("\nInspect logs (open them with Inspect's viewer where they are):\n\n```")
        lines += [f"inspect view --log-dir {where}  # {version}" for version, where in spec.log_dirs.items()]
        lines.append("```")
    return "\n".join(lines)


def _eval_runset(wr: Any, spec: ReportSpec, entity: str, role: str, collection: str, digest: str, version: str) -> Any:
    filters = f"Config('checkpoint_name') = '{collection}' and Config('checkpoint_digest') = '{digest}'"
    return wr.Runset(entity=entity, project=spec.project, name=f"{role} {collection}:{version}", filters=filters)


def _comparison_blocks(wr: Any, spec: ReportSpec, report: ComparisonReport, entity: str) -> list[Any]:
    collection = report.candidate.ref.collection
    compare_runs = wr.Runset(
        entity=entity,
        project=spec.project,
        name="comparison",
        filters=f"Config('baseline_digest') = '{report.baseline.digest}' and "
        f"Config('candidate_digest') = '{report.candidate.digest}'",
    )
    eval_runs = [
        _eval_runset(wr, spec, entity, "baseline", collection, report.baseline.digest, report.baseline.version),
        _eval_runset(wr, spec, entity, "candidate", collection, report.candidate.digest, report.candidate.version),
    ]
    panels = [
        wr.BarPlot(title=task, metrics=keys, groupby="config.checkpoint_version")
        for task, keys in sorted(spec.run_metrics.items())
        if keys
    ]
    interval = f"{100 * (1 - report.alpha):g}% paired bootstrap intervals ({report.resamples} resamples)"
    clustered = f", clustered on `{report.cluster}`" if report.cluster else ""
    return [
        wr.MarkdownBlock(
            text=(f"**Decision: {spec.decision}.** " if spec.decision else "")
            + f"Δ = candidate − baseline; {interval}{clustered}; "
            "p-values Holm-adjusted across every row."
        ),
        wr.H2(text="Regressed samples"),
        wr.MarkdownBlock(text=_regressed_table(spec)),
        wr.H2(text="Per task"),
        wr.MarkdownBlock(text=_rows_table(report)),
        wr.H2(text="Forest plot and flips"),
        wr.PanelGrid(
            runsets=[compare_runs],
            panels=[
                wr.MediaBrowser(title="forest plot", media_keys=["forest_plot"]),
                wr.WeavePanelSummaryTable(table_name="flips"),
                wr.WeavePanelSummaryTable(table_name="comparison"),
            ],
        ),
        wr.H2(text="Eval runs"),
        wr.PanelGrid(runsets=eval_runs, panels=panels),
        wr.H2(text="Artifacts and Inspect logs"),
        wr.MarkdownBlock(text=_links(spec, report, entity)),
    ]


def _collection_blocks(wr: Any, spec: ReportSpec, result: CollectionReport, entity: str) -> list[Any]:
    changes = [
        [c.version, c.previous, c.task, c.metric, c.delta, f"[{c.ci[0]:+.3f}, {c.ci[1]:+.3f}]", c.verdict]
        for c in result.changes
    ]
    changed = (
        _table(["version", "against", "task", "metric", "Δ", "interval", "verdict"], changes)
        if changes
        else "No task changed detectably between consecutive versions."
    )
    run = wr.Runset(
        entity=entity,
        project=spec.project,
        name="across versions",
        filters=f"Config('report_collection') = '{result.collection}'",
    )
    panels = [
        wr.LinePlot(
            title=f"{task} · {metric}",
            x="version",
            y=[f"{task}/{metric}/{k}" for k in ("mean", "ci_low", "ci_high")],
            title_x="version",
            title_y=metric,
        )
        for task, metric in sorted(result.series())
    ]
    cells = [
        [c.version, c.task, c.metric, c.mean, f"[{c.ci[0]:.3f}, {c.ci[1]:.3f}]", c.n, "best" if c.best else ""]
        for c in result.cells
    ]
    return [
        wr.MarkdownBlock(
            text=f"{100 * (1 - result.alpha):g}% bootstrap intervals per version; a change is a paired "
            "interval against the previous version that excludes 0 (not adjusted: a marker, not a gate)."
        ),
        wr.H2(text="Where a task changed"),
        wr.MarkdownBlock(text=changed),
        wr.H2(text="Across versions"),
        wr.PanelGrid(runsets=[run], panels=panels),
        wr.H2(text="Every version"),
        wr.MarkdownBlock(text=_table(["version", "task", "metric", "mean", "interval", "n", ""], cells)),
    ]


def build(spec: ReportSpec) -> Any:
    """The Report object (no request made until it is saved)."""
    import wandb_workspaces.reports.v2 as wr

    entity = spec.entity or _default_entity()
    if spec.comparison is not None:
        blocks = _comparison_blocks(wr, spec, spec.comparison, entity)
    elif spec.collection is not None:
        blocks = _collection_blocks(wr, spec, spec.collection, entity)
    else:
        raise ValueError("a report spec needs a comparison or a collection")
    return wr.Report(
        project=spec.project,
        entity=entity,
        title=spec.title,
        description=spec.description,
        blocks=blocks,
        width="fluid",
    )


def _default_entity() -> str:
    from eval_orchestrator.wandb_api import open_api

    return str(open_api().default_entity)


def save(spec: ReportSpec) -> str:
    """Save the Report in W&B; its URL."""
    import contextlib
    import sys

    report = build(spec)
    with contextlib.redirect_stdout(sys.stderr):  # wandb-workspaces prints "Saved report to: ..."
        report.save()
    return str(report.url)
