"""`eval-orchestrator determined run | export`: trials on a Determined cluster (or off it)."""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import click


def _require_determined() -> Any:
    try:
        import determined
    except ImportError:
        from eval_orchestrator.errors import UserError

        raise UserError(
            "the determined package is not installed; pip install 'eval-orchestrator[determined]'"
        ) from None
    return determined


@click.group()
def determined() -> None:
    """Run as a Determined trial, or export a run config as a Determined experiment."""


@determined.command("run")
@click.option(
    "--experiment-config",
    type=click.Path(dir_okay=False),
    help="Off-cluster: the experiment config whose hyperparameters this trial gets.",
)
@click.option("--config", "-c", "config_file", type=click.Path(dir_okay=False), help="Base run config (YAML).")
@click.option("--json", "as_json", is_flag=True, help="Print the reported validation metrics as JSON.")
def determined_run(experiment_config: str | None, config_file: str | None, as_json: bool) -> None:
    """The trial entrypoint: hyperparameters -> one eval -> Determined validation metrics."""
    from eval_orchestrator.det.trial import experiment_hparams, run_trial, trial_identity
    from eval_orchestrator.errors import EvalFailed, UserError

    det = _require_determined()
    info = det.get_cluster_info()
    if info is None:
        if not experiment_config:
            raise UserError(
                "not on a Determined cluster: give --experiment-config FILE to run its hyperparameters here"
            )
        hparams = experiment_hparams(experiment_config)
        storage: str | None = str(Path(tempfile.gettempdir()) / "eval-orchestrator-determined")
    else:
        if info.task_type != "TRIAL":
            raise UserError(f"`determined run` is a trial entrypoint; this task is a {info.task_type}")
        hparams = dict(info.trial.hparams)
        storage = None  # the experiment's own checkpoint storage
    notify = lambda line: click.echo(line, err=True)  # noqa: E731
    # Inspect and wandb print progress on stdout; keep stdout for our JSON alone.
    with contextlib.redirect_stdout(sys.stderr), det.core.init(checkpoint_storage=storage) as core_context:
        outcome = run_trial(
            core_context, hparams, identity=trial_identity(info), config_file=config_file, notify=notify
        )
    if outcome.preempted:
        return  # exit 0: Determined reschedules the trial, which resumes from the logs
    if as_json:
        click.echo(json.dumps(outcome.reported, indent=2))
    else:
        for row in outcome.reported:
            click.echo("validation metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in row.items()))
    report = outcome.report
    if report is not None and not report.ok:
        failed = [f"{o.job.label} ({o.status})" for o in report.failed]
        raise EvalFailed(f"{len(failed) + len(report.tracker_errors)} problem(s): " + "; ".join(failed))


@determined.command("export")
@click.argument("run_config", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Experiment config to write.")
@click.option("--name", help="Experiment name (default: eval-orchestrator-<run config name>).")
@click.option("--max-concurrent-trials", type=click.IntRange(1), default=4, show_default=True)
@click.option("--slots-per-trial", type=click.IntRange(0), default=1, show_default=True)
@click.option("--max-restarts", type=click.IntRange(0), default=2, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON on stdout.")
def determined_export(
    run_config: str,
    output: str,
    name: str | None,
    max_concurrent_trials: int,
    slots_per_trial: int,
    max_restarts: int,
    as_json: bool,
) -> None:
    """Turn RUN_CONFIG into a grid experiment: one trial per checkpoint x task."""
    import yaml

    from eval_orchestrator.config import build_config
    from eval_orchestrator.det.export import experiment_config, validate

    _require_determined()
    # The file alone: this machine's environment (store paths, project) must not leak into the cluster's.
    config = build_config(run_config, environ={})
    experiment = experiment_config(
        config,
        name=name or f"eval-orchestrator-{Path(run_config).stem}",
        max_concurrent_trials=max_concurrent_trials,
        slots_per_trial=slots_per_trial,
        max_restarts=max_restarts,
    )
    trials = validate(experiment)
    header = (
        f"# Exported by eval-orchestrator from {Path(run_config).name}: a grid of "
        f"{len(config.checkpoints)} checkpoint(s) x {len(config.tasks)} task(s) = {len(trials)} trials.\n"
        "# Submit with: det experiment create <this file> <context dir>. Credentials reach trials by name\n"
        "# (secrets / agent environment), never through this file: see the README.\n"
    )
    Path(output).write_text(header + yaml.safe_dump(experiment, sort_keys=False))
    if as_json:
        summary = {"output": output, "name": experiment["name"], "trials": len(trials),
                   "max_concurrent_trials": max_concurrent_trials, "experiment": experiment}  # fmt: skip
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"wrote {output}: {len(trials)} trials, at most {max_concurrent_trials} at a time")
