"""Submit a plan to a Determined cluster and follow it to its end (`watch.executor: determined`).

The experiment is the grid `determined export` writes (one trial per checkpoint x task), created
through the ``determined`` SDK's client with ``DET_MASTER`` and the credentials Determined users
already set (``DET_USER`` / ``DET_PASS``, or a cached ``det user login``). The trials write their
Inspect logs to the plan's log root, which must be storage the watcher shares with the cluster, so
the comparison afterwards reads them as it reads a local run's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval_orchestrator import env
from eval_orchestrator.errors import ConfigError, Unavailable, UserError
from eval_orchestrator.notify import Notify
from eval_orchestrator.run_config import RunConfig

MASTER_VARIABLES = ("DET_MASTER", "DET_MASTER_ADDR")  # the SDK's own order
TERMINAL = frozenset({"COMPLETED", "CANCELED", "DELETED", "ERROR"})


@dataclass(frozen=True)
class ExperimentOutcome:
    id: int
    state: str  # the SDK's ExperimentState name: COMPLETED, ERROR, CANCELED, DELETED

    @property
    def ok(self) -> bool:
        return self.state == "COMPLETED"


def master_url(environ: Mapping[str, str] | None = None) -> str:
    if found := env.first(MASTER_VARIABLES, environ):
        return found[1]
    raise ConfigError("watch.executor is determined but DET_MASTER is not set; export DET_MASTER=https://<master>:8080")


def check_ready(config: RunConfig, context: str | None, environ: Mapping[str, str] | None = None) -> None:
    """Everything the executor needs, checked before the first poll (nothing is submitted yet)."""
    try:
        import determined  # noqa: F401
    except ImportError:
        raise ConfigError(
            "watch.executor is determined but the determined package is not installed; "
            "pip install 'eval-orchestrator[determined]'"
        ) from None
    master_url(environ)
    if not Path(config.inspect.log_dir).is_absolute():
        raise ConfigError(
            f"watch.executor is determined: inspect.log_dir ({config.inspect.log_dir!r}) must be an absolute path on "
            "storage the cluster's trials and this watcher share, so the comparison can read the trials' logs"
        )
    if context is not None and not Path(context).is_dir():
        raise ConfigError(
            f"watch.determined.context {context!r} is not a directory; give the folder of your task files"
        )


@contextmanager
def _determined_errors(what: str) -> Iterator[None]:
    """The SDK's exceptions as ours: unreachable -> 75, refused login -> 2 naming the variables."""
    from determined.common.api import errors

    try:
        yield
    except errors.MasterNotFoundException as exc:
        raise Unavailable(f"the Determined master is unreachable while {what}: {str(exc).splitlines()[0]}") from None
    except (errors.UnauthenticatedException, errors.ForbiddenException, EOFError):  # EOF: it asked for a password
        raise UserError(
            f"the Determined master refused the login while {what}: set DET_USER and DET_PASS "
            "(or run `det user login`) for a user that may create experiments"
        ) from None
    except errors.APIException as exc:
        if exc.status_code is not None and exc.status_code >= 500:
            raise Unavailable(f"the Determined master failed while {what}: {exc.message}") from None
        raise UserError(f"the Determined master refused {what}: {exc.message}") from None
    except errors.BadRequestException as exc:
        raise UserError(f"Determined: {what}: {exc}") from None


class DeterminedExecutor:
    """One client session; ``submit`` a plan for one version, ``wait`` for an experiment by id."""

    def __init__(self, context: str | None, poll_seconds: float, export_options: Mapping[str, int]) -> None:
        self.context, self.poll_seconds, self.export_options = context, poll_seconds, dict(export_options)
        self._client: Any = None

    def _sdk(self) -> Any:
        if self._client is None:
            from determined.experimental import Determined  # type: ignore[attr-defined,unused-ignore]  # not in __all__ (no SDK: unused)

            # The SDK's own order: DET_USER/DET_PASS, then the `det user login` cache, then the default user.
            with _determined_errors("logging in"):
                self._client = Determined(master=master_url())
        return self._client

    def submit(self, config: RunConfig, name: str) -> int:
        from eval_orchestrator.det.export import experiment_config, validate

        experiment = experiment_config(config, name=name, **self.export_options)
        validate(experiment)
        with _determined_errors(f"creating the experiment {name}"):
            created = self._sdk().create_experiment(experiment, model_dir=self.context)
        return int(created.id)

    def wait(self, experiment_id: int, notify: Notify) -> ExperimentOutcome:
        """Poll the experiment until it reaches a terminal state (its trials may be retried by the cluster)."""
        with _determined_errors(f"following experiment {experiment_id}"):
            experiment = self._sdk().get_experiment(experiment_id)
            last = None
            while True:
                experiment.reload()
                state = experiment.state.name if experiment.state is not None else "UNKNOWN"
                if state != last:
                    notify(f"Determined experiment {experiment_id}: {state.lower()}")
                    last = state
                if state in TERMINAL:
                    return ExperimentOutcome(experiment_id, state)
                time.sleep(self.poll_seconds)
