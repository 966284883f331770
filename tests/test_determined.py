"""Determined: hyperparameters -> run config, off-cluster trials through Determined's own core
context, preemption and resume, and the grid export."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from eval_orchestrator.cli import main
from eval_orchestrator.det.hparams import config_from_hparams
from eval_orchestrator.errors import ConfigError
from tests.test_cli import assert_one_line_error, cli
from tests.wandb_files import read_runs

pytestmark = pytest.mark.determined  # runs in .venv-determined (see the Makefile)

FIXTURES = Path(__file__).parent / "fixtures"
SLOW = f"{FIXTURES / 'slow_tasks.py'}@slow"


def test_the_seed_hyperparameters_map_onto_the_run_config() -> None:
    config = config_from_hparams(
        {
            "experiment_name": "my_experiment",
            "llm_name": "local-registry/llama:prod",
            "wandb_project": "my_wandb_project",
            "task_args": [{"task_name": "inspect_evals/arc_easy", "num_fewshot": 3, "num_samples": 100, "seed": 7}],
            "inspect": {"limit": 5},
        },
        environ={},
    )
    assert [str(ref) for ref in config.checkpoints] == ["local-registry/llama:prod"]
    assert config.wandb.project == "my_wandb_project" and config.wandb.tags == ["experiment:my_experiment"]
    [task] = config.tasks
    assert (task.spec, task.fewshot, task.num_samples, task.args) == ("inspect_evals/arc_easy", 3, 100, {"seed": 7})
    assert config.inspect.limit == 5
    single = config_from_hparams({"checkpoint": "local-registry/a", "task_args": {"task_name": "t.py@t"}}, environ={})
    assert [t.spec for t in single.tasks] == ["t.py@t"]


def test_explicit_false_and_zero_in_hyperparameters_win() -> None:
    hparams = {
        "checkpoint": "local-registry/a",
        "task_args": [{"task_name": "t.py@t", "num_fewshot": 0}],
        "store": {"cache_skip": False, "verify": False},
    }
    env = {"WANDB_CACHE_SKIP": "true"}
    config = config_from_hparams(hparams, environ=env, flags={"store": {"verify": True}})
    assert config.store.cache_skip is False  # not `hparams.x or env.x`
    assert config.tasks[0].fewshot == 0
    assert config.store.verify is True  # an explicit CLI flag still wins over the hyperparameters
    assert config_from_hparams({**hparams, "store": {}}, environ=env).store.cache_skip is True


@pytest.mark.parametrize(
    ("hparams", "fragment"),
    [
        ({"checkpoint": "local-registry/a", "lr": 0.1}, "unknown key 'lr'; use checkpoint (or llm_name)"),
        ({"checkpoint": "a", "llm_name": "b", "task_args": []}, "checkpoint 'a' and llm_name 'b' disagree"),
        ({"checkpoint": "local-registry/a", "task_args": [{"num_fewshot": 1}]}, "task_args[0] must be a mapping"),
        (
            {"checkpoint": "local-registry/a", "task_args": [{"task_name": "t.py@t", "num_samples": "many"}]},
            "invalid value for 'tasks.0.num_samples'",
        ),
    ],
)
def test_bad_hyperparameters_are_one_clear_line(hparams: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_hparams(hparams, environ={})
    assert fragment in str(info.value) and "\n" not in str(info.value)


def _experiment(tmp: Path, hparams: dict[str, Any]) -> Path:
    path = tmp / "experiment.yaml"
    path.write_text(yaml.safe_dump({"name": "evals", "entrypoint": "x", "hyperparameters": hparams}))
    return path


def _register(checkpoint_dir: Path) -> None:
    assert cli("registry", "add", str(checkpoint_dir), "--name", "tiny").returncode == 0


def test_off_cluster_trial_runs_reports_metrics_and_groups_wandb_runs(
    checkpoint_dir: Path, isolated_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _register(checkpoint_dir)
    experiment = _experiment(
        isolated_env,
        {
            "llm_name": {"type": "const", "val": "local-registry/tiny:latest"},
            "wandb_project": "det-evals",
            "task_args": [{"task_name": SLOW, "num_samples": 3, "delay": 0}],
            "model": {"name": "mockllm/model", "args": {}},
            "inspect": {"log_dir": str(isolated_env / "logs"), "display": "none"},
        },
    )
    with caplog.at_level(logging.INFO, logger="determined"):
        result = CliRunner().invoke(main, ["determined", "run", "--experiment-config", str(experiment), "--json"])
    assert result.exit_code == 0, result.output
    [reported] = json.loads(result.stdout)
    assert reported == {"includes/accuracy": 1.0, "includes/stderr": 0.0, "score": 1.0, "succeeded": 1.0}
    # Sent through Determined's own off-cluster train context:
    sent = [r.getMessage() for r in caplog.records if "report_validation_metrics" in r.getMessage()]
    assert len(sent) == 1 and "steps_completed=1" in sent[0] and "'score': 1.0" in sent[0]
    [run] = read_runs(isolated_env / "wb")
    assert run.project == "det-evals" and run.group == "tiny:v0" and run.job_type == "slow"
    assert "experiment" not in run.config and run.summary["status"] == "success"


def test_off_cluster_needs_an_experiment_config_and_one_value_per_hyperparameter(isolated_env: Path) -> None:
    assert_one_line_error(cli("determined", "run"), "not on a Determined cluster: give --experiment-config")
    searched = _experiment(isolated_env, {"checkpoint": {"type": "categorical", "vals": ["a", "b"]}})
    assert_one_line_error(
        cli("determined", "run", "--experiment-config", str(searched)), "'checkpoint' is searched (categorical)"
    )
    unknown = _experiment(isolated_env, {"checkpoint": "local-registry/a", "learning_rate": 0.1})
    assert_one_line_error(cli("determined", "run", "--experiment-config", str(unknown)), "unknown key 'learning_rate'")


def test_preempted_trial_stops_keeps_logs_and_resumes_in_the_same_wandb_run(
    checkpoint_dir: Path, isolated_env: Path
) -> None:
    import determined as det

    from eval_orchestrator.det.trial import run_trial

    _register(checkpoint_dir)
    solved = isolated_env / "solved.txt"
    hparams = {
        "checkpoint": "local-registry/tiny:latest",
        "task_args": {"task_name": SLOW, "count": 12, "delay": 0.25, "record": str(solved)},
        "model": {"name": "mockllm/model", "args": {}},
        "inspect": {"log_dir": str(isolated_env / "logs"), "display": "none", "max_samples": 1},
    }

    class PreemptAfterSomeSamples(det.core.DummyPreemptContext):  # type: ignore[misc]
        """Determined's off-cluster preempt context, told to preempt once a few samples are done."""

        asked_at: float | None = None  # when it first said "preempt"

        def should_preempt(self, auto_ack: bool = True) -> bool:
            due = solved.exists() and len(solved.read_text().split()) >= 3
            if due and self.asked_at is None:
                self.asked_at = time.monotonic()
            return due

    ctx = det.core._dummy_init(checkpoint_storage=str(isolated_env / "det"))
    ctx.preempt = preempt = PreemptAfterSomeSamples(ctx.distributed, det.core.PreemptMode.WorkersAskChief)
    with ctx:
        first = run_trial(ctx, hparams, poll_interval=0.1)
    assert first.preempted and not first.reported
    # From the preemption, not from the start: start-up (imports, W&B) on a loaded 2-core CI machine
    # once took 8.5 s of a start-to-stop bound of 8 s.
    assert preempt.asked_at is not None
    assert time.monotonic() - preempt.asked_at < 5, "the trial did not stop soon after the preemption"
    done_before = solved.read_text().split()
    assert 3 <= len(done_before) < 12

    with det.core._dummy_init(checkpoint_storage=str(isolated_env / "det")) as resumed_ctx:
        second = run_trial(resumed_ctx, hparams, poll_interval=0.1)
    assert not second.preempted and second.report.ok
    [outcome] = second.report.outcomes
    assert outcome.metrics["includes/accuracy"] == 1.0
    # Samples finished before the preemption were reused from the Inspect log, not solved again.
    solved_again = solver_runs = solved.read_text().split()
    assert len(solver_runs) < 12 + len(done_before) and set(solved_again) == {str(i) for i in range(12)}
    runs = read_runs(isolated_env / "wb")
    assert len(runs) == 2 and len({r.run_id for r in runs}) == 1  # both attempts log to one W&B run


def _run_config(tmp: Path, checkpoints: int, tasks: int, extra: dict[str, Any] | None = None) -> Path:
    config = {
        "checkpoints": [f"local-registry/ckpt-{i}:latest" for i in range(checkpoints)],
        "tasks": [{"spec": f"tasks/t{i}.py@t{i}", "fewshot": i, "args": {"n": i}} for i in range(tasks)],
        "model": {"name": "hf/{collection}", "args": {"model_path": "{path}"}},
        "wandb": {"project": "evals"},
        **(extra or {}),
    }
    path = tmp / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_export_of_a_3x4_plan_is_a_12_point_grid_that_validates(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eval_orchestrator.det.export import grid_points, validate

    monkeypatch.setenv("WANDB_API_KEY", "s3cr3t" * 7)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-s3cr3t-value")
    monkeypatch.setenv("WANDB_PROJECT", "from-my-laptop")
    out = isolated_env / "experiment.yaml"
    done = cli(
        "determined", "export", str(_run_config(isolated_env, 3, 4)), "-o", str(out),
        "--max-concurrent-trials", "6", "--slots-per-trial", "2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "12 trials, at most 6 at a time" in done.stdout
    text = out.read_text()
    assert "s3cr3t" not in text and "aws-s3cr3t-value" not in text and "from-my-laptop" not in text
    experiment = yaml.safe_load(text)
    assert experiment["entrypoint"] == "eval-orchestrator determined run"
    assert experiment["searcher"] == {
        "name": "grid",
        "metric": "score",
        "smaller_is_better": False,
        "max_concurrent_trials": 6,
    }
    assert experiment["resources"] == {"slots_per_trial": 2}
    points = grid_points(experiment)
    assert len(points) == 12
    assert {(p["checkpoint"], p["task_args"]["task_name"]) for p in points} == {
        (f"local-registry/ckpt-{c}:latest", f"tasks/t{t}.py@t{t}") for c in range(3) for t in range(4)
    }
    configs = validate(experiment)  # each trial's run config, rebuilt through the trial's own code
    assert {(str(c.checkpoints[0]), c.tasks[0].fewshot, c.tasks[0].args["n"]) for c in configs} == {
        (f"local-registry/ckpt-{c}:latest", t, t) for c in range(3) for t in range(4)
    }
    assert all(c.wandb.project == "evals" for c in configs)


def test_export_refuses_a_run_config_holding_a_secret(isolated_env: Path) -> None:
    path = _run_config(isolated_env, 1, 1, {"model": {"name": "openai/gpt-4o", "args": {"api_key": "sk-live-123"}}})
    out = isolated_env / "experiment.yaml"
    done = cli("determined", "export", str(path), "-o", str(out))
    assert_one_line_error(done, "model.args: 'api_key' looks like a secret")  # refused by the run config itself
    assert not out.exists() and "sk-live-123" not in done.stderr


def test_a_cluster_trial_tags_its_wandb_runs_with_the_experiment_and_trial(
    checkpoint_dir: Path, isolated_env: Path
) -> None:
    """The ids come from Determined's own ClusterInfo/TrialInfo (as a cluster hands them to a trial);
    the run itself goes through the off-cluster context, since no master is reachable here."""
    import determined as det

    from eval_orchestrator.det.trial import run_trial, trial_identity

    _register(checkpoint_dir)
    hparams = {
        "checkpoint": "local-registry/tiny:latest",
        "task_args": {"task_name": SLOW, "count": 2, "delay": 0},
        "model": {"name": "mockllm/model", "args": {}},
        "inspect": {"log_dir": str(isolated_env / "logs"), "display": "none"},
    }
    trial = det.TrialInfo(42, 7, 1, hparams, {}, 0, 1, False, None)
    info = det.ClusterInfo("http://master:8080", "c", "a", [0], "t", "al", "tok", "TRIAL", trial_info=trial)
    identity = trial_identity(info)
    assert identity == {"determined_experiment_id": 7, "determined_trial_id": 42}
    with det.core._dummy_init(checkpoint_storage=str(isolated_env / "det")) as ctx:
        outcome = run_trial(ctx, info.trial.hparams, identity=identity)
    assert outcome.report.ok and len(outcome.reported) == 1
    [run] = read_runs(isolated_env / "wb")
    assert {"det-experiment-7", "det-trial-42"} <= set(run.tags)
    assert run.config["determined_experiment_id"] == 7 and run.config["determined_trial_id"] == 42
    assert trial_identity(None) == {}


def test_export_writes_only_what_the_run_config_sets(isolated_env: Path) -> None:
    # A default written into the experiment would override the cluster's own environment.
    out = isolated_env / "experiment.yaml"
    assert cli("determined", "export", str(_run_config(isolated_env, 1, 1)), "-o", str(out)).returncode == 0
    hparams = yaml.safe_load(out.read_text())["hyperparameters"]
    assert set(hparams) == {"checkpoint", "task_args", "model", "wandb"}
    assert hparams["wandb"] == {"type": "const", "val": {"project": "evals"}}
