"""Inspect's own flags on `run`, checked where Inspect records them: the eval log header."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from inspect_ai.log import read_eval_log

from tests.cli import invoke
from tests.test_cli import assert_one_line_error, cli

SKILL = Path(__file__).parent / "fixtures" / "skill_tasks.py"


def test_generation_limits_samples_epochs_and_roles_reach_inspect(isolated_env: Path) -> None:
    source = isolated_env / "ckpt"
    source.mkdir()
    (source / "skill.txt").write_text("3")
    assert cli("registry", "add", str(source), "--name", "tiny").returncode == 0
    done = invoke("run", "--checkpoint", "local-registry/tiny:v0",
         "--task", f"{SKILL}@skill", "--model", "mockllm/{path}", "--log-dir", "logs", "--display", "none",
         "--max-tokens", "7", "--temperature", "0.3", "--top-p", "0.9", "--seed", "42", "--max-connections", "3",
         "--timeout", "50", "--sample-id", "1,2", "--sample-id", "5", "--epochs", "2", "--epochs-reducer", "max",
         "--time-limit", "600", "--message-limit", "20", "--token-limit", "10000",
         "--model-role", "grader=mockllm/{version}", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    [outcome] = json.loads(done.stdout)
    header = read_eval_log(outcome["log"], header_only=True)
    config, generate = header.eval.config, header.plan.config
    assert (generate.max_tokens, generate.temperature, generate.top_p, generate.seed) == (7, 0.3, 0.9, 42)
    assert (generate.max_connections, generate.timeout) == (3, 50)
    assert (config.time_limit, config.message_limit, config.token_limit) == (600, 20, 10000)
    assert sorted(str(s) for s in config.sample_id) == ["1", "2", "5"] and config.epochs == 2
    assert config.epochs_reducer == ["max"]
    assert header.eval.model_roles is not None and header.eval.model_roles["grader"].model == "mockllm/v0"
    assert header.results is not None and header.results.total_samples == 6  # ids 1, 2, 5 only, 2 epochs each
    # W&B says why this run differs from another of the same version: every distinguishing setting.
    from tests.wandb_files import read_runs

    [run] = read_runs(isolated_env / "wb")
    assert run.config["model_spec"] == "mockllm/{path}" and run.config["model_roles"] == {"grader": "mockllm/{version}"}
    assert run.config["generate_config"] == {"max_tokens": 7, "temperature": 0.3, "top_p": 0.9, "seed": 42,
                                             "max_connections": 3, "timeout": 50}  # fmt: skip
    assert sorted(map(str, run.config["sample_id"])) == ["1", "2", "5"] and run.config["epochs_reducer"] == ["max"]
    assert run.config["limits"] == {"message_limit": 20, "token_limit": 10000, "time_limit": 600, "fail_on_error": True}
    paths = [key for key in run.summary if key.startswith("tokens/") and str(isolated_env) in key]
    assert not paths  # readable keys, never a store path


def test_a_bad_model_role_is_one_line() -> None:
    assert_one_line_error(
        cli("run", "--checkpoint", "local-registry/x:v0", "--task", "t.py@t", "--model-role", "grader"),
        "--model-role 'grader' is not ROLE=SPEC",
    )


def test_limit_with_sample_id_is_refused_before_any_checkpoint_work(isolated_env: Path) -> None:
    from tests.test_compare import _register

    _register(isolated_env, "tiny", 1)
    task = f"{Path(__file__).parent / 'fixtures' / 'skill_tasks.py'}@skill"
    done = cli("run", "--checkpoint", "local-registry/tiny:v0", "--task", task, "--limit", "2", "--sample-id", "1")
    assert_one_line_error(done, "inspect.limit and inspect.sample_id (--limit, --sample-id) cannot be used together")
    assert not [p for p in (isolated_env / "store").rglob("*") if p.is_file()]  # nothing fetched


def test_run_help_groups_every_option() -> None:
    done = cli("run", "--help")
    assert done.returncode == 0
    sections = [
        line[:-1] for line in done.stdout.splitlines() if line and not line.startswith(" ") and line.endswith(":")
    ]
    assert sections == [
        "Plan", "Tasks and samples", "Model", "Generation", "Limits and errors", "Solvers, sandboxes and approval",
        "Logs and display", "W&B and the Hub", "Checkpoint store", "Executor", "Other options",
    ]  # fmt: skip
    other = done.stdout.split("Other options:")[1]
    assert other.split() == ["--help", "Show", "this", "message", "and", "exit."]  # nothing left unplaced
    generation = done.stdout.split("Generation:")[1].split("Limits and errors:")[0]
    assert all(flag in generation for flag in ("--max-tokens", "--temperature", "--top-p", "--seed"))


def test_samples_limits_errors_logs_and_generation_options_reach_inspect(isolated_env: Path) -> None:
    source = isolated_env / "ckpt"
    source.mkdir()
    (source / "skill.txt").write_text("3")
    assert cli("registry", "add", str(source), "--name", "tiny").returncode == 0
    done = invoke("run", "--checkpoint", "local-registry/tiny:v0", "--task", f"{SKILL}@skill",
                  "--model", "mockllm/{path}", "--display", "none", "--limit", "4", "--sample-shuffle", "7",
                  "--working-limit", "100", "--turn-limit", "5", "--retry-on-error", "2",
                  "--continue-on-fail", "--score-on-error", "--no-fail-on-error", "--max-subprocesses", "2",
                  "--tags", "nightly,a", "--metadata", "team=evals", "--log-buffer", "2", "--no-score-display",
                  "--log-refusals", "--cache-prompt", "false", "--logit-bias", "42=10", "--extra-body", "{k: 1}",
                  "--cache", "1h", "--batch", "500",
                  "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    [outcome] = json.loads(done.stdout)
    header = read_eval_log(outcome["log"], header_only=True)
    config, generate = header.eval.config, header.plan.config
    assert (config.sample_shuffle, config.limit, config.working_limit) == (7, 4, 100)
    assert (config.retry_on_error, config.continue_on_fail, config.score_on_error) == (2, True, True)
    assert (config.fail_on_error, config.log_buffer, config.score_display) == (False, 2, False)
    assert sorted(header.eval.tags or []) == ["a", "nightly"]
    assert header.eval.metadata is not None and header.eval.metadata["team"] == "evals"
    assert header.eval.metadata["checkpoint_name"] == "tiny"  # ours beside the user's
    assert (generate.cache_prompt, generate.logit_bias, generate.extra_body) == (False, {42: 10.0}, {"k": 1})
    assert generate.cache is not None and not isinstance(generate.cache, bool) and generate.cache.expiry == "1h"
    assert generate.batch == 500  # Inspect's own reading of `--cache 1h` and `--batch 500`
    assert header.results is not None and header.results.total_samples == 4
    from tests.wandb_files import read_runs

    [run] = read_runs(isolated_env / "wb")
    assert run.config["sample_shuffle"] == 7
    assert run.config["limits"] == {"working_limit": 100, "turn_limit": 5, "fail_on_error": False, "retry_on_error": 2,
                                    "continue_on_fail": True, "score_on_error": True}  # fmt: skip


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--sample-shuffle", "--sample-id", "1"), "--sample-shuffle, --sample-id) cannot be used together"),
        (("--metadata", "checkpoint_name=x"), "inspect.metadata (--metadata) key(s) checkpoint_name are ours"),
        (("--sentinel-arg", "k=1"), "inspect.sentinel_args (--sentinel-arg) apply to a sentinel; give --sentinel"),
        (("--sentinel", "m/x", "--sentinel-arg", "k"), "--sentinel-arg takes key=value, not 'k'"),
        (("--cache", "soon"), "--cache 'soon' is refused by Inspect"),
        # Inspect's own scanner resolver decides: here inspect-scout is not installed.
        (("--scanner", str(Path(__file__).parent / "fixtures" / "solvers.py")),
         "Scanner support requires optional dependencies. Install with: pip install inspect-scout"),
        (("--scanner", "nope/scanner"), "Could not resolve --scanner 'nope/scanner'"),
        (("--scan-model", "mockllm/x"), "missing required key 'inspect.scan.scanner'"),
    ],
)  # fmt: skip
def test_options_inspect_refuses_are_refused_before_any_checkpoint_work(
    isolated_env: Path, args: tuple[str, ...], fragment: str
) -> None:
    from tests.test_compare import _register

    _register(isolated_env, "tiny", 1)
    done = cli("run", "--checkpoint", "local-registry/tiny:v0", "--task", f"{SKILL}@skill", *args)
    assert_one_line_error(done, fragment)
    assert not [p for p in (isolated_env / "store").rglob("*") if p.is_file()]  # nothing fetched


def test_a_solver_with_its_args_replaces_the_tasks_own_and_is_part_of_the_plan(isolated_env: Path) -> None:
    source = isolated_env / "ckpt"
    source.mkdir()
    (source / "skill.txt").write_text("3")  # the task's own solver: 3 of 20 right
    assert cli("registry", "add", str(source), "--name", "tiny").returncode == 0
    solver = f"{Path(__file__).parent / 'fixtures' / 'solvers.py'}@always"
    base = ("run", "--checkpoint", "local-registry/tiny:v0", "--task", f"{SKILL}@skill", "--model", "mockllm/{path}",
            "--display", "none", "--limit", "4", "--json")  # fmt: skip
    own = invoke(*base)
    replaced = invoke(*base, "--solver", solver, "-S", "answer=yes!", "--no-epochs-reducer")
    assert own.returncode == 0 and replaced.returncode == 0, (own.stderr[-2000:], replaced.stderr[-2000:])
    [first], [second] = json.loads(own.stdout), json.loads(replaced.stdout)
    assert first["metrics"]["includes/accuracy"] == 0.75 and second["metrics"]["includes/accuracy"] == 1.0
    assert first["log"] != second["log"] and first["job_key"] != second["job_key"]  # another plan: its own logs
    header = read_eval_log(second["log"], header_only=True)
    assert [step.params for step in header.plan.steps if step.solver.endswith("always")] == [{"answer": "yes!"}]
    assert header.eval.config.epochs_reducer == []
