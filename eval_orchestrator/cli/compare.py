"""`eval-orchestrator compare BASELINE CANDIDATE` and `report COLLECTION`."""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from eval_orchestrator.cli.options import GATE_FLAGS, JSON, WANDB_FLAGS, config_layer, options

if TYPE_CHECKING:
    from eval_orchestrator.comparison.model import CollectionReport, ComparisonReport
    from eval_orchestrator.job import TrackingSettings


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    return "-" if value is None else ("<0.001" if value < 0.001 else f"{value:.3f}")


def print_comparison(report: ComparisonReport, gated: bool = False) -> None:
    from rich.table import Table

    from eval_orchestrator.cli.common import console as make_console

    styles = {"better": "green", "worse": "red", "non-inferior": "cyan", "no detectable difference": "",
              "not compared": "yellow"}  # fmt: skip
    title = f"{report.candidate.ref} vs {report.baseline.ref}"
    table = Table(title=title)
    for column in ("task", "metric", "baseline ± SE", "candidate ± SE", "Δ [CI]", "p (Holm)", "n", "verdict"):
        table.add_column(column)
    for row in report.rows:
        ci = f"[{row.ci[0]:+.3f}, {row.ci[1]:+.3f}]" if row.ci else ""
        delta = f"{row.delta:+.3f} {ci}" if row.delta is not None else "-"
        counts = f"{row.n_paired} paired"
        if row.n_baseline_only or row.n_candidate_only:
            counts += f", {row.n_baseline_only}/{row.n_candidate_only} one side only"
        if row.baseline.errored or row.candidate.errored:
            counts += f", {row.baseline.errored}/{row.candidate.errored} errored"
        table.add_row(
            row.task,
            row.metric,
            f"{_number(row.baseline.mean)} ± {_number(row.baseline.stderr)}",
            f"{_number(row.candidate.mean)} ± {_number(row.candidate.stderr)}",
            delta,
            f"{_p(row.p_value)} ({_p(row.p_adjusted)})",
            counts,
            f"[{styles[row.verdict]}]{row.verdict}[/]" if styles[row.verdict] else row.verdict,
        )
    console = make_console()
    console.print(table)
    interval = (
        f"{100 * (1 - report.alpha):g}% paired bootstrap interval ({report.resamples} resamples, seed {report.seed})"
    )
    clustered = f", clustered on {report.cluster!r}" if report.cluster else ""
    margin = f", non-inferiority margin {report.margin:g}" if report.margin is not None else ""
    console.print(f"Δ = candidate - baseline; {interval}{clustered}{margin}", highlight=False)
    if gated:  # the gate is reported only when one was asked for
        held = [f"{row.task}/{row.metric} ({row.verdict})" for row in report.held]
        gate = f"holds the candidate on {', '.join(held)}" if held else "passes"
        console.print(f"gate (--fail-on-regression): {gate}", highlight=False)
    for note in report.notes:
        console.print(f"note: {note}", highlight=False)


COMPARE_WANDB = tuple(flag for flag in WANDB_FLAGS)


@click.command()
@click.argument("baseline")
@click.argument("candidate")
@options(GATE_FLAGS)
@click.option("--log-dir", help="The Inspect log root `run` wrote under (default: the --config's, else ./logs).")
@click.option(
    "--config",
    "plan_file",
    type=click.Path(dir_okay=False),
    help="The run config that produced the logs: its log root, and its own logs when it changed the model, "
    "generate config or limits (plans like that keep their logs apart).",
)
@click.option("--from-wandb", is_flag=True, help="Take the Inspect logs out of the versions' W&B results artifacts.")
@click.option("--fail-on-regression", is_flag=True, help="Exit 3 when a task regressed (worse, or below -margin).")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write a forest plot (PNG).")
@click.option(
    "--wandb-report",
    is_flag=True,
    help="Save a W&B Report of the comparison (offline: spooled for `sync`); --json then prints "
    '{"rows": [...], "report": {"url", "title"}}.',
)
@options(COMPARE_WANDB, (JSON,))
def compare(
    baseline: str,
    candidate: str,
    log_dir: str | None,
    plan_file: str | None,
    from_wandb: bool,
    fail_on_regression: bool,
    plot: str | None,
    wandb_report: bool,
    **params: Any,
) -> None:
    """Is CANDIDATE better than BASELINE? Paired statistics per task and metric, from their Inspect logs."""
    from eval_orchestrator import env
    from eval_orchestrator.comparison.compare import CompareOptions
    from eval_orchestrator.comparison.compare import compare as run_compare
    from eval_orchestrator.config import validated
    from eval_orchestrator.errors import GateFailed
    from eval_orchestrator.refs import CheckpointRef

    variant = ""
    if plan_file:
        from eval_orchestrator.config import build_config
        from eval_orchestrator.plan import plan_identity

        plan = build_config(plan_file)
        variant = plan_identity(plan).folder
        log_dir = log_dir or plan.inspect.log_dir
    wandb = config_layer(WANDB_FLAGS, params).get("wandb", {})
    wandb_project, wandb_entity, wandb_mode = wandb.get("project"), wandb.get("entity"), wandb.get("mode")
    where = {"log_dir": log_dir or "logs", "variant": variant, "from_wandb": from_wandb,
             "wandb_project": wandb_project or env.get("WANDB_PROJECT"),
             "wandb_entity": wandb_entity or env.get("WANDB_ENTITY")}  # fmt: skip
    options = validated(CompareOptions, {**config_layer(GATE_FLAGS, params), **where}, "compare options")
    base_ref, cand_ref = CheckpointRef.parse(baseline), CheckpointRef.parse(candidate)
    tracking = _tracking(wandb_project, wandb_entity, wandb_mode, wandb_report)
    with contextlib.redirect_stdout(sys.stderr), tempfile.TemporaryDirectory() as scratch:
        report = run_compare(base_ref, cand_ref, options, notify=lambda line: click.echo(line, err=True))
        written = None
        if plot or wandb_report:  # the Report shows the forest plot the comparison run logs
            from eval_orchestrator.comparison.plot import forest_plot

            written = forest_plot(report, plot or str(Path(scratch) / "forest_plot.png"))
        published = None
        if tracking is not None:
            _log_to_wandb(report, written, tracking)
            if wandb_report:
                from eval_orchestrator.comparison.report_publish import comparison_spec, publish

                published = publish(comparison_spec(report, tracking), tracking)
                click.echo(published.describe(), err=True)
    rows = [row.model_dump(mode="json") for row in report.rows]
    if params["as_json"] and published is not None:
        click.echo(json.dumps({"rows": rows, "report": published.model_dump(mode="json")}, indent=2))
    elif params["as_json"]:
        click.echo(json.dumps(rows, indent=2))
    else:
        print_comparison(report, gated=fail_on_regression)
    if fail_on_regression and report.gate == "held":
        names = ", ".join(f"{row.task}/{row.metric} ({row.verdict})" for row in report.held) or "no task compared"
        raise GateFailed(f"held by the gate: {names}")


def _tracking(project: str | None, entity: str | None, mode: str | None, required: bool) -> TrackingSettings | None:
    """Where the comparison is logged in W&B: None when no W&B flag asked for it (nor a Report)."""
    from eval_orchestrator.config import build_wandb_config
    from eval_orchestrator.job import TrackingSettings

    if not (required or project or mode not in (None, "disabled")):
        return None
    settings = build_wandb_config(None, {"project": project, "entity": entity, "mode": mode})
    tracking = TrackingSettings.from_sections(settings)
    if required and tracking.mode == "disabled":
        from eval_orchestrator.errors import UserError

        raise UserError("--wandb-report needs W&B: leave W&B enabled (--wandb-mode online or offline)")
    return tracking


def _log_to_wandb(report: ComparisonReport, plot: Path | None, tracking: TrackingSettings) -> None:
    from eval_orchestrator.comparison.wandb_log import log_comparison

    record = log_comparison(report, tracking, plot)
    where = (
        "W&B" if record.mode == "online" else f"{tracking.dir}/wandb (offline; upload with `eval-orchestrator sync`)"
    )
    click.echo(f"comparison logged to {where}: run {record.run_id}", err=True)


@click.command()
@click.argument("collection")
@click.option("--log-dir", default="logs", show_default=True, help="The Inspect log root `run` wrote under.")
@click.option("--alpha", type=float, default=0.05, show_default=True, help="1 - the interval's coverage.")
@click.option("--cluster", help="Sample-metadata key to cluster on.")
@click.option("--json", "as_json", is_flag=True, help="Print the cells as JSON.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write metric-over-version plot (PNG).")
@click.option(
    "--wandb-report",
    is_flag=True,
    help="Save a W&B Report: each task across versions with its interval, the detectable changes marked "
    "(offline: spooled for `sync`).",
)
@options(COMPARE_WANDB)
def report(
    collection: str,
    log_dir: str,
    alpha: float,
    cluster: str | None,
    as_json: bool,
    plot: str | None,
    wandb_report: bool,
    **params: Any,
) -> None:
    """Every evaluated version of COLLECTION x every task: mean and interval, the best version marked,
    and where a task changed detectably against the version before."""
    from eval_orchestrator.comparison.report import collection_report
    from eval_orchestrator.refs import CollectionRef, name_problem

    name = CollectionRef.parse(collection.partition(":")[0]).name if "/" in collection else collection
    if problem := name_problem(name):
        from eval_orchestrator.errors import UserError

        raise UserError(f"collection {problem}")
    wandb = config_layer(WANDB_FLAGS, params).get("wandb", {})
    tracking = _tracking(wandb.get("project"), wandb.get("entity"), wandb.get("mode"), wandb_report)
    result = collection_report(name, log_dir, alpha, cluster)
    if tracking is not None and wandb_report:
        from eval_orchestrator.comparison.report_publish import collection_spec, log_collection_run, publish

        with contextlib.redirect_stdout(sys.stderr):
            log_collection_run(result, tracking)
            published = publish(collection_spec(result, tracking), tracking)
        click.echo(published.describe(), err=True)
        result = result.model_copy(update={"report_url": published.url})
    if plot:
        from eval_orchestrator.comparison.plot import history_plot

        history_plot(result, plot)
    if as_json:
        click.echo(result.model_dump_json(indent=2))
    else:
        print_report(result)


def print_report(result: CollectionReport) -> None:
    from rich.table import Table

    from eval_orchestrator.cli.common import console as make_console

    table = Table(title=f"{result.collection}: every evaluated version")
    table.add_column("task · metric")
    for version in result.versions:
        table.add_column(version)
    for (task, metric), cells in sorted(result.series().items()):
        by_version = {cell.version: cell for cell in cells}
        shown = []
        for version in result.versions:
            cell = by_version.get(version)
            text = "-" if cell is None else f"{cell.mean:.3f} [{cell.ci[0]:.3f}, {cell.ci[1]:.3f}]"
            shown.append(f"[bold green]{text} *[/]" if cell is not None and cell.best else text)
        table.add_row(f"{task} · {metric}", *shown)
    console = make_console()
    console.print(table)
    console.print(f"{100 * (1 - result.alpha):g}% bootstrap intervals; * the best version of each row", highlight=False)
    for change in result.changes:
        low, high = change.ci
        console.print(
            f"changed: {change.task} · {change.metric} {change.verdict} in {change.version} than "
            f"{change.previous} (Δ {change.delta:+.3f} [{low:+.3f}, {high:+.3f}])",
            highlight=False,
        )
