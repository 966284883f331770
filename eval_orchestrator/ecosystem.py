"""Inspect's ecosystem packages in our process: inspect-wandb and Weave.

inspect-wandb registers two hooks through Inspect's entry points; we load it only with the Weave switch
on. Its W&B Models hooks would log a second W&B run per eval (ours is the one), so they are always off
(also where Inspect loads it itself: a worker's process). Its Weave hooks trace each eval
to Weave; they run only with the ``wandb.weave`` switch on, told our W&B project and entity, and
with the eval's metadata (our job: checkpoint name, version, digest) as the Weave evaluation's
attributes. wandb's own Weave auto-init stays off either way: inspect-wandb turns it off itself,
and two clients would trace the same evals.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from importlib.util import find_spec

from eval_orchestrator import env, inspect_api
from eval_orchestrator.errors import ConfigError

log = logging.getLogger(__name__)

INSPECT_WANDB = "inspect_wandb"  # its Inspect entry point's name
WEAVE_HOOKS = "inspect_wandb/weave_evaluation_hooks"  # inspect-wandb's Weave hooks, as Inspect registers them
WEAVE_INSTALL = "pip install 'inspect-wandb[weave]'"
# Packages whose Inspect entry point only registers tasks, loaded only for a plan that names one of
# them (`inspect_evals/<name>`): inspect-evals' imports all its ~130 task modules (datasets, pyarrow),
# 1.8 s of every run's start-up otherwise (benchmarks/weave_import.py).
TASK_COLLECTIONS = frozenset({"inspect_evals"})


def load_entry_points(weave: bool, tasks: Iterable[str] = ()) -> None:
    """Load installed packages' Inspect entry points (once per process), as the plan needs them: task
    collections only when one of ``tasks`` names them (``inspect_evals/<name>``), inspect-wandb only
    with the Weave switch on.

    With the switch off inspect-wandb has nothing to do in our evals (its W&B Models hooks are off
    for them, its Weave hooks need the switch), and loading it costs: Weave, OpenTelemetry, gql and
    Sentry on import (well over a second), and its hooks' ``enabled()``, which Inspect asks at every
    sample and re-validates inspect-wandb's settings from the environment each time (half the
    busy time of a 10-sample mockllm job; benchmarks/scale.py). A later plan with the switch on
    loads it then.
    """
    # Weave and wandb send their own crash reports to Sentry and flush them, retrying, at exit:
    # nothing leaves the machine unless the user asks for it (WANDB_ERROR_REPORTING=true).
    env.set_default("WANDB_ERROR_REPORTING", "false")
    named = {spec.split("/", 1)[0] for spec in tasks if "/" in spec}
    skip = (TASK_COLLECTIONS - named) | (set() if weave else {INSPECT_WANDB})
    inspect_api.ensure_entry_points(skip)


def check_weave(mode: str, installed_hooks: set[str]) -> None:
    """wandb.weave on: inspect-wandb's Weave hooks are installed and W&B is online (Weave keeps no offline copy)."""
    if WEAVE_HOOKS not in installed_hooks:
        missing = "weave" if find_spec("inspect_wandb") else "inspect-wandb"
        raise ConfigError(f"wandb.weave: true needs inspect-wandb's Weave hooks, but {missing} is not installed: "
                          f"{WEAVE_INSTALL}, or set wandb.weave: false")  # fmt: skip
    if mode != "online":
        raise ConfigError(
            f"wandb.weave: true needs W&B online (Weave has no offline mode), but wandb.mode is {mode}: "
            "set wandb.mode: online with WANDB_API_KEY, or set wandb.weave: false"
        )


# What transformers and huggingface_hub read to stay quiet: their bars ("Loading weights", "Fetching
# files") and advisory warnings ("loss_type=None ...") on every run drown Inspect's own display.
QUIET_THIRD_PARTY = {
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}


def third_party_output(display: str | None) -> dict[str, str]:
    """Third-party bars and warnings off unless the user asked for Inspect's full display (``--display
    full``): the environment for the evals, and the same switches on libraries already imported."""
    if display == "full":
        return {}

    if "transformers" in sys.modules:  # imported already: its env vars were read at import
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call,unused-ignore]  # untyped in transformers
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call,unused-ignore]
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils.tqdm import disable_progress_bars

        disable_progress_bars()
    return dict(QUIET_THIRD_PARTY)


def hooks_environment(weave: bool, project: str, entity: str | None) -> dict[str, str]:
    """The environment inspect-wandb reads while our evals run."""
    env = {"INSPECT_WANDB_MODELS_ENABLED": "false", "WANDB_DISABLE_WEAVE": "true"}
    env["INSPECT_WANDB_WEAVE_ENABLED"] = "true" if weave else "false"
    if weave:
        env["WANDB_PROJECT"] = project
        if entity:
            env["WANDB_ENTITY"] = entity
    return env


def weave_environment(project: str, entity: str | None) -> dict[str, str]:
    """The hooks' environment with wandb.weave on: Weave traces to our project, or, when its server
    cannot take traces now, is skipped with a warning (the evals still run and log to W&B)."""
    if why := weave_outage():
        log.warning("Weave traces skipped: %s; the evals run and log to W&B as usual", why)
        return hooks_environment(False, project, entity)
    if entity is None:  # Weave addresses a project as entity/project: the key's default entity
        from eval_orchestrator.errors import OrchestratorError
        from eval_orchestrator.wandb_api import open_api

        try:
            entity = open_api().default_entity
        except OrchestratorError as exc:
            log.warning("Weave traces skipped: no W&B entity to trace to (%s); set wandb.entity", exc)
            return hooks_environment(False, project, None)
    return hooks_environment(True, project, entity)


def weave_outage(timeout: float = 5.0) -> str | None:
    """Why Weave's trace server cannot take traces now, or None when it answers.

    Asked before the evals start: Weave left to find out itself retries for minutes, and its hooks
    then fail on every sample.
    """
    import requests
    from weave.trace.env import weave_trace_server_url

    from eval_orchestrator.wandb_api import unreachable

    probe = weave_trace_server_url().rstrip("/") + "/server_info"
    return unreachable(probe, lambda: requests.get(probe, timeout=timeout))
