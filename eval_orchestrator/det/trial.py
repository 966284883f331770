"""The Determined trial entrypoint: hyperparameters in, one eval, validation metrics out.

On a cluster the hyperparameters come from ``det.get_cluster_info()``; off-cluster from the
``hyperparameters:`` section of an experiment config, through Determined's own off-cluster core
context, so both run the same code. Preemption is honoured: a watcher polls
``core_context.preempt.should_preempt()`` and interrupts the eval the way Ctrl-C does, so Inspect
cancels what is in flight and writes its log; the resumed trial runs the same plan, which
``eval_set`` continues from those logs and the tracker continues in the same W&B runs (run ids
derive from job keys).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval_orchestrator import interrupts
from eval_orchestrator.det.hparams import config_from_hparams, plain_hparams
from eval_orchestrator.errors import ConfigError
from eval_orchestrator.notify import Notify, quiet
from eval_orchestrator.run_config import RunConfig

if TYPE_CHECKING:
    from eval_orchestrator.outcomes import RunReport


@dataclass
class TrialOutcome:
    config: RunConfig
    preempted: bool = False
    reported: list[dict[str, Any]] = field(default_factory=list)  # the validation metrics sent
    report: RunReport | None = None  # when the eval finished


def experiment_hparams(experiment_config: str | Path) -> dict[str, Any]:
    """The hyperparameters one off-cluster trial of this experiment config gets."""
    from eval_orchestrator.config import read_yaml

    section = read_yaml(experiment_config).get("hyperparameters")
    if not isinstance(section, Mapping):
        raise ConfigError(f"experiment config {str(experiment_config)!r} has no 'hyperparameters:' mapping")
    return plain_hparams(section)


def trial_identity(info: Any) -> dict[str, Any]:
    """W&B config keys naming the Determined experiment and trial (empty off-cluster)."""
    trial = getattr(info, "trial", None) if info is not None else None
    if trial is None:
        return {}
    return {"determined_experiment_id": trial.experiment_id, "determined_trial_id": trial.trial_id}


class PreemptionWatcher:
    """Polls should_preempt() in the background; on a preemption, interrupts the main thread once."""

    def __init__(self, should_preempt: Callable[[], bool], interval: float = 1.0) -> None:
        self.should_preempt = should_preempt
        self.interval = interval
        self.preempted = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="preemption-watcher", daemon=True)

    def _watch(self) -> None:
        while not self._done.wait(self.interval):
            if self.should_preempt():
                self.preempted.set()
                # Unwinds like Ctrl-C: Inspect cancels and writes its logs.
                interrupts.interrupt_main_when_safe(give_up=self._done)
                return

    def __enter__(self) -> PreemptionWatcher:
        self._previous = interrupts.enable_sigint()  # a process started in the background ignores SIGINT
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        interrupts.restore_sigint(self._previous)


def run_trial(
    core_context: Any,
    hparams: Mapping[str, Any],
    *,
    identity: Mapping[str, Any] | None = None,
    config_file: str | Path | None = None,
    flags: dict[str, Any] | None = None,
    notify: Notify = quiet,
    poll_interval: float = 1.0,
) -> TrialOutcome:
    from eval_orchestrator import orchestrate

    config = config_from_hparams(hparams, config_file, flags)
    ids = dict(identity or {})
    if ids:
        tags = [f"det-experiment-{ids['determined_experiment_id']}", f"det-trial-{ids['determined_trial_id']}"]
        config = config.model_copy(
            update={
                "wandb": config.wandb.model_copy(
                    update={"tags": [*config.wandb.tags, *tags], "config": {**config.wandb.config, **ids}}
                )
            }
        )
    outcome = TrialOutcome(config)
    watcher = PreemptionWatcher(core_context.preempt.should_preempt, poll_interval)
    try:
        with watcher:
            outcome.report = orchestrate.run(config, notify=notify)
    except KeyboardInterrupt:
        if not watcher.preempted.is_set():
            raise
    if watcher.preempted.is_set():  # Inspect may also return its cancelled logs rather than raise
        outcome.preempted = True
        notify("preempted: in-flight samples were cancelled and the logs kept; the resumed trial continues")
        return outcome
    assert outcome.report is not None  # not preempted: the eval ran to its end
    for step, job in enumerate(outcome.report.outcomes, start=1):
        metrics: dict[str, Any] = dict(job.metrics)
        if job.headline is not None:
            metrics["score"] = job.headline[1]  # the searcher's metric: each job's headline
        metrics["succeeded"] = 1.0 if job.status == "success" else 0.0
        core_context.train.report_validation_metrics(steps_completed=step, metrics=metrics)
        outcome.reported.append(metrics)
    return outcome
