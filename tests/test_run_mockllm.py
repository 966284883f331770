"""A real inspect_ai.eval_set through orchestrate.run on mockllm, asserted from the W&B offline
files read back, the Inspect logs, and the lineage spool."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from inspect_ai.log import read_eval_log
from inspect_ai.model import ModelOutput, ModelUsage

from eval_orchestrator import orchestrate
from eval_orchestrator.audit import USAGE_FILE, job_dir
from eval_orchestrator.config import build_config
from eval_orchestrator.job import METADATA_KEY
from eval_orchestrator.jsonl import read_jsonl
from eval_orchestrator.registry.local import LocalRegistry
from eval_orchestrator.tasks import capitals as capitals_module
from eval_orchestrator.tasks.capitals import CAPITALS
from tests.wandb_files import read_runs

FIXTURES = Path(__file__).parent / "fixtures"
CAPITALS_SPEC = f"{capitals_module.__file__}@capitals"


def knows(country: str) -> bool:
    """The mock model answers correctly for countries with an even-length name."""
    return len(country) % 2 == 0


def mock_outputs(messages: list[Any], tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
    text = messages[-1].text
    country, city = next((c, y) for c, y in CAPITALS if c in text)
    output = ModelOutput.from_content(model="mockllm/model", content=city if knows(country) else "Atlantis")
    output.usage = ModelUsage(input_tokens=7, output_tokens=2, total_tokens=9)  # offline: no tiktoken
    return output


def expected_accuracy(count: int) -> float:
    return sum(knows(c) for c, _ in CAPITALS[:count]) / count


@pytest.fixture
def two_versions(isolated_env: Path, checkpoint_dir: Path) -> LocalRegistry:
    registry = LocalRegistry(isolated_env / "registry")
    registry.add(checkpoint_dir, "tiny", aliases=["base"])
    (checkpoint_dir / "config.json").write_text('{"n_layer": 4}')
    registry.add(checkpoint_dir, "tiny", metadata={"step": 200})
    return registry


def make_config(tmp: Path, extra_tasks: list[dict[str, Any]] | None = None, writer: str = "auto"):  # type: ignore[no-untyped-def]
    flags = {
        "checkpoints": ["local-registry/tiny:v0", "local-registry/tiny:latest"],
        "tasks": [
            {"spec": CAPITALS_SPEC, "args": {"count": 6}, "language": "en", "fewshot": 0},
            {"spec": CAPITALS_SPEC, "args": {"count": 10}, "language": "fr", "num_samples": 4},
            *(extra_tasks or []),
        ],
        "model": {"name": "mockllm/model", "args": {}},
        "inspect": {"log_dir": str(tmp / "logs"), "display": "none"},
        "wandb": {"project": "unit-evals", "tags": ["ci"], "writer": writer},
    }
    return build_config(None, flags)


def wandb_pid(run: Any) -> int:
    """The process the SDK ran the run in, as its own debug log says."""
    first = (run.path.parent / "logs" / "debug.log").read_text().splitlines()[0]
    return int(first.split()[3].rsplit(":", 1)[1])  # "<date> <time> INFO    <thread>:<pid> [<where>] ..."


# inline: the SDK in this process (small plans); process: the W&B writer process (large plans), asked for here.
@pytest.mark.parametrize("writer", ["inline", "process"])
def test_run_tracks_groups_publishes_and_resumes(isolated_env: Path, two_versions: LocalRegistry, writer: str) -> None:
    config = make_config(isolated_env, writer=writer)
    notes: list[str] = []
    report = orchestrate.run(config, notify=notes.append, model_args_override={"custom_outputs": mock_outputs})

    assert report.ok, (report.failed, report.tracker_errors)
    assert report.tracking.mode == "offline"
    assert len(report.outcomes) == 4
    by_job = {(o.job.version, o.job.task_args["count"]): o for o in report.outcomes}
    assert by_job[("v0", 6)].metrics["includes/accuracy"] == pytest.approx(expected_accuracy(6))
    assert by_job[("v1", 10)].metrics["includes/accuracy"] == pytest.approx(expected_accuracy(4))  # num_samples=4

    # --- W&B: one run per job, grouped by checkpoint version, read back from the .wandb files
    runs = read_runs(isolated_env / "wb")
    assert len(runs) == 4
    assert sorted(r.group for r in runs) == ["tiny:v0", "tiny:v0", "tiny:v1", "tiny:v1"]
    assert {r.job_type for r in runs} == {"capitals"}
    assert {r.project for r in runs} == {"unit-evals"}
    pids = {wandb_pid(run) for run in runs}
    assert pids == {os.getpid()} if writer == "inline" else (len(pids) == 1 and os.getpid() not in pids)
    for run in runs:
        job = next(o.job for o in report.outcomes if o.job.key == run.config["job_key"])
        count = run.config["task_args"]["count"]
        samples = min(count, run.config["num_samples"] or count)
        assert run.config["checkpoint_name"] == "tiny"
        assert run.config["checkpoint_version"] == job.version
        assert run.config["checkpoint_digest"] == job.digest
        assert run.config["checkpoint_ref"] == f"local-registry/tiny:{job.version}"
        assert run.config["task"] == "capitals"
        assert run.config["language"] == ("en" if count == 6 else "fr")
        assert run.config["fewshot"] == (0 if count == 6 else None)
        assert run.config["metric"] == ["includes"]
        assert "includes/accuracy" in run.config["metric_names"]
        for key in ("eval_orchestrator_version", "inspect_ai_version", "wandb_version"):
            assert run.config[key]
        assert {"tiny", job.version, "capitals", "ci"} <= set(run.tags)
        assert run.summary["includes/accuracy"] == pytest.approx(expected_accuracy(samples))
        assert run.summary["samples_completed"] == samples
        assert run.summary["tokens_total"] == 9 * samples
        assert Path(run.summary["inspect_log"]).is_file()
        assert run.summary["inspect_view"] == f"inspect view --log-dir {Path(run.summary['inspect_log']).parent}"
        # History: progress rows (at most one a second), the last one final; samples are in the table.
        progress = [row for row in run.history if "samples_completed" in row]
        assert 1 <= len(progress) <= samples and progress[-1]["samples_completed"] == samples
        assert progress[-1]["running/includes_mean"] == pytest.approx(expected_accuracy(samples))
        assert run.exit_code == 0
        [artifact] = [a for a in run.artifacts if a["type"] == "eval-results"]
        assert artifact["name"].startswith("tiny-capitals-") and artifact["name"].endswith("-results")
        assert f"tiny-{job.version}" in artifact["aliases"]
        assert artifact["metadata"]["checkpoint_digest"] == job.digest
        assert "summary.json" in artifact["files"]
        assert any(f.startswith("logs/") and f.endswith(".eval") for f in artifact["files"])
        assert "usage.jsonl" in artifact["files"]
        assert "requirements.txt" in artifact["files"]  # the environment, recorded once for the plan
        assert run.summary["tokens/model/total"] == 9 * samples  # the eval's model, by its label
        # The per-sample table: one row per sample, every score, excerpts, tokens.
        [table_row] = [row for row in run.history if "samples/_type" in row]
        assert table_row["samples/_type"] == "table-file" and table_row["samples/nrows"] == samples
        table = json.loads((run.path.parent / "files" / table_row["samples/path"]).read_text())
        assert table["columns"] == ["sample_id", "epoch", "input", "output", "target", "includes", "tokens", "error"]
        assert len(table["data"]) == samples and all(r[6] == 9 and r[7] == "" for r in table["data"])
        assert sum(r[5] for r in table["data"]) == pytest.approx(expected_accuracy(samples) * samples)
    results_names = {a["name"] for r in runs for a in r.artifacts if a["type"] == "eval-results"}
    assert len(results_names) == 2  # one sequence per task+args, versions via aliases
    assert v1_aliases(runs) == ["latest"]  # the registry alias that pointed at v1 is a tag too

    # --- Inspect logs carry the job identity; the usage audit log agrees with Inspect's own usage
    for outcome in report.outcomes:
        header = read_eval_log(outcome.log_path, header_only=True)
        calls = read_jsonl(job_dir(Path(outcome.log_path).parent, outcome.job.key, report.tracking.dir) / USAGE_FILE)
        assert (
            calls
            and {c["event"] for c in calls} == {"model_call"}
            and {c["job_key"] for c in calls} == {outcome.job.key}
        )
        usage = header.stats.model_usage["mockllm/model"]
        assert sum(c["total_tokens"] for c in calls) == usage.total_tokens
        assert sum(c["input_tokens"] for c in calls) == usage.input_tokens
        assert sum(c["output_tokens"] for c in calls) == usage.output_tokens
        assert len(calls) == header.results.completed_samples and all(c["duration_s"] >= 0 for c in calls)
        assert header.status == "success"
        assert header.eval.metadata[METADATA_KEY]["job"]["key"] == outcome.job.key
        assert header.eval.model == "mockllm/model"

    # --- Lineage recorded offline, one record per job
    lineage = [json.loads(line) for line in report.lineage_file.read_text().splitlines()]
    assert sorted(r["model_ref"] for r in lineage) == ["local-registry/tiny:v0"] * 2 + ["local-registry/tiny:v1"] * 2
    assert all(r["results_artifact"] and r["mode"] == "offline" for r in lineage)

    # --- A re-run copies nothing, starts no W&B run and re-runs no sample
    logs_before = sorted(p.name for p in (isolated_env / "logs").rglob("*.eval"))
    again = orchestrate.run(config, notify=notes.append, model_args_override={"custom_outputs": mock_outputs})
    assert again.ok
    assert [o.metrics for o in again.outcomes] == [o.metrics for o in report.outcomes]
    assert sorted(p.name for p in (isolated_env / "logs").rglob("*.eval")) == logs_before
    assert len(read_runs(isolated_env / "wb")) == 4
    assert sum("already in the store" in n for n in notes) == 2
    assert any("logging offline" in n for n in notes)


def v1_aliases(runs: list[Any]) -> list[str]:
    return sorted({alias for r in runs if r.group == "tiny:v1" for alias in r.config["checkpoint_aliases"]})


def test_failed_job_finishes_its_run_and_fails_the_report(isolated_env: Path, two_versions: LocalRegistry) -> None:
    flags = {
        "checkpoints": ["local-registry/tiny:v0"],
        "tasks": [{"spec": CAPITALS_SPEC, "args": {"count": 2}}, {"spec": f"{FIXTURES}/broken_tasks.py@broken"}],
        "model": {"name": "mockllm/model", "args": {}},
        "inspect": {"log_dir": str(isolated_env / "logs"), "display": "none"},
    }
    report = orchestrate.run(build_config(None, flags), model_args_override={"custom_outputs": mock_outputs})
    assert not report.ok
    assert [(o.job.task_name, o.status) for o in report.failed] == [("broken", "error")]
    runs = {r.job_type: r for r in read_runs(isolated_env / "wb")}
    assert runs["broken"].exit_code == 1  # finished in on_run_end although on_task_end never fired
    assert runs["broken"].summary["status"] == "error"
    # Without results, the counts are what the tracker saw: 3 samples, all errored (not "0 of 3").
    assert (runs["broken"].summary["samples_total"], runs["broken"].summary["samples_errored"]) == (3, 3)
    assert "exploded on purpose" in runs["broken"].summary["error"]
    # No results artifact for a failed eval; its per-sample table shows each sample's error.
    assert [a["type"] for a in runs["broken"].artifacts] == ["run_table"]
    [table_row] = [row for row in runs["broken"].history if "samples/_type" in row]
    table = json.loads((runs["broken"].path.parent / "files" / table_row["samples/path"]).read_text())
    assert table["data"] and all("solver exploded on purpose" in row[-1] for row in table["data"])
    assert runs["capitals"].exit_code == 0


def test_a_job_with_no_scored_sample_is_not_a_success(isolated_env: Path, two_versions: LocalRegistry) -> None:
    """Every sample errors, but fail_on_error tolerates them: Inspect says success, its metrics are NaN.
    That is no result: the job is "unscored" and the run fails. W&B disabled, twice in one dir."""
    flags = {
        "checkpoints": ["local-registry/tiny:v0"],
        "tasks": [{"spec": f"{FIXTURES}/broken_tasks.py@broken"}],
        "model": {"name": "mockllm/model", "args": {}},
        "inspect": {"log_dir": str(isolated_env / "logs"), "display": "none", "fail_on_error": 4},
        "wandb": {"mode": "disabled"},
    }
    for _ in range(2):  # the second run reads the spool the first left (a disabled run's folder is W&B's temp)
        report = orchestrate.run(build_config(None, flags))
        [outcome] = report.outcomes
        assert outcome.status == "unscored" and not report.ok
        assert outcome.error and "no sample could be scored" in outcome.error


def test_dict_scores_are_a_metric_per_key_and_text_scores_are_left_out(
    isolated_env: Path, two_versions: LocalRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    flags = {
        "checkpoints": ["local-registry/tiny:v0"],
        "tasks": [{"spec": f"{FIXTURES}/dict_score_tasks.py@agent"}],
        "model": {"name": "mockllm/model", "args": {}},
        "inspect": {"log_dir": str(isolated_env / "logs"), "display": "none"},
    }
    report = orchestrate.run(build_config(None, flags))
    assert report.ok, report.tracker_errors
    [run] = read_runs(isolated_env / "wb")
    [table_row] = [row for row in run.history if "samples/_type" in row]
    table = json.loads((run.path.parent / "files" / table_row["samples/path"]).read_text())
    columns = table["columns"]
    assert {"judge/utility", "judge/security"} <= set(columns) and "remark" not in columns
    rows = {row[0]: dict(zip(columns, row, strict=True)) for row in table["data"]}
    assert [rows[str(i)]["judge/utility"] for i in range(4)] == [0.0, 1.0, 0.0, 1.0]
    assert all(row["judge/security"] == 1.0 for row in rows.values())
    progress = [row for row in run.history if "running/judge/utility_mean" in row]
    assert progress and progress[-1]["running/judge/utility_mean"] == 0.5
    assert "Unable to convert value to float" not in caplog.text  # no 0.0 with a warning per sample


def test_each_run_has_the_git_commit_and_remote_read_once_per_plan(
    two_versions: LocalRegistry, isolated_env: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The plan reads git once (wandb's own reader) and hands every run the commit and the remote,
    its password stripped, instead of each run asking git."""
    import os
    import subprocess

    repo = tmp_path_factory.mktemp("user-repo")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], cwd=repo, check=True)
    subprocess.run([*git, "remote", "add", "origin", "https://me:gh-t0ken-value@example.com/team/evals.git"], cwd=repo)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    # Count the git processes: a wrapper first on PATH logs each call, then runs the real git.
    shim = tmp_path_factory.mktemp("shim")
    real = subprocess.run(["bash", "-c", "command -v git"], capture_output=True, text=True).stdout.strip()
    (shim / "git").write_text(f'#!/bin/sh\necho "$@" >> {shim / "calls"}\nexec {real} "$@"\n')
    (shim / "git").chmod(0o755)
    previous = os.getcwd()
    os.environ["PATH"] = f"{shim}{os.pathsep}{os.environ['PATH']}"
    try:
        os.chdir(repo)
        report = orchestrate.run(make_config(isolated_env), model_args_override={"custom_outputs": mock_outputs})
    finally:
        os.chdir(previous)
        os.environ["PATH"] = os.environ["PATH"].split(os.pathsep, 1)[1]
    assert report.ok, (report.failed, report.tracker_errors)
    runs = read_runs(isolated_env / "wb")
    assert len(runs) == 4
    assert {(r.git_commit, r.git_remote_url) for r in runs} == {(commit, "https://me:@example.com/team/evals.git")}
    calls = (shim / "calls").read_text().splitlines()
    # The plan's reading (root, commit, remote) and wandb's own program-path lookup, once per process;
    # before, each run asked git again (its root, commit and remote).
    assert len(calls) <= 4, calls
    assert not any(
        "gh-t0ken-value" in path.read_text(errors="ignore") for path in (isolated_env / "wb").rglob("*.wandb")
    )
