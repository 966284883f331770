"""Online W&B tracking against the loopback W&B-protocol server: lineage, results, registry links."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval_orchestrator import orchestrate
from eval_orchestrator.config import build_config
from eval_orchestrator.tracking.rows import run_id
from tests.servers.wandb_server import Server
from tests.test_run_mockllm import CAPITALS_SPEC, expected_accuracy, mock_outputs

FILES = {"config.json": b'{"n_layer": 2}', "weights.bin": b"w" * 5000}


def _config(tmp: Path, **wandb: object):  # type: ignore[no-untyped-def]
    return build_config(
        None,
        {
            "checkpoints": ["team/models/tiny:prod"],
            "tasks": [
                {"spec": CAPITALS_SPEC, "args": {"count": 4}},
                {"spec": CAPITALS_SPEC, "args": {"count": 6}},
            ],
            "model": {"name": "mockllm/model", "args": {}},
            "inspect": {"log_dir": str(tmp / "logs"), "display": "none"},
            "wandb": {"project": "evals", "entity": "team", "mode": "online", **wandb},
        },
    )


# inline: the SDK in the eval process; process: the W&B writer process a large plan gets.
@pytest.mark.parametrize("writer", ["inline", "process"])
def test_lineage_results_and_registry_links_of_a_two_task_plan(
    wandb_server: Server, isolated_env: Path, writer: str
) -> None:
    state = wandb_server.state
    model = state.add_version("team", "models", "tiny", FILES, ("prod",))
    config = _config(isolated_env, link_results="wandb-registry-evals/capitals-results", writer=writer)
    report = orchestrate.run(config, model_args_override={"custom_outputs": mock_outputs})
    assert report.ok, (report.failed, report.tracker_errors)
    assert report.tracking.mode == "online"

    for outcome in report.outcomes:
        rid = run_id(outcome.job.key)
        run = state.runs[("team", "evals", rid)]  # one run per job, its id derived from the job key
        assert run["groupName"] == "tiny:v0" and run["jobType"] == "capitals"
        config_keys = json.loads(run["config"]) if isinstance(run["config"], str) else run["config"]
        assert config_keys["checkpoint_ref"]["value"] == "team/models/tiny:v0"
        assert config_keys["checkpoint_digest"]["value"] == model.digest
        # Lineage: the run used the model version...
        assert ("team", "evals", rid, model.id) in state.used
        # ...and logged its results artifact, aliased with the checkpoint version, metrics in metadata.
        [results] = [
            v
            for c in state.collections.values()
            for v in c.versions
            if c.type == "eval-results" and v.created_by == rid and c.entity == "team"
        ]
        count = outcome.job.task_args["count"]
        assert results.metadata["includes/accuracy"] == expected_accuracy(count)
        assert results.metadata["checkpoint_ref"] == "team/models/tiny:v0"
        assert {"summary.json", "usage.jsonl"} <= set(results.files)
        coll = state.collections[("team", "evals", results.collection)]
        assert "tiny-v0" in coll.aliases_of(results.index)

    # Use before results: the model's lineage is recorded before any result exists.
    ops = state.operations
    assert ops.index("UseArtifact") < ops.index("CreateArtifact")
    # Both results artifacts linked into the registry collection.
    linked = state.collections[("acme-org", "wandb-registry-evals", "capitals-results")]
    assert len(linked.versions) == 2


@pytest.mark.parametrize("writer", ["inline", "process"])
def test_a_plan_killed_mid_run_resumes_in_the_same_run_without_a_second_results_version(
    wandb_server: Server, isolated_env: Path, writer: str
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    state = wandb_server.state
    state.add_version("team", "models", "tiny", FILES, ("prod",))
    solved = isolated_env / "solved.txt"
    slow = Path(__file__).parent / "fixtures" / "slow_tasks.py"
    args = [
        sys.executable, "-m", "eval_orchestrator.cli", "run", "--checkpoint", "team/models/tiny:prod",
        "--task", f"{slow}@slow", "-T", "count=8", "-T", "delay=0.3", "-T", f"record={solved}",
        "--model", "mockllm/model", "--max-samples", "1", "--log-dir", str(isolated_env / "logs"),
        "--wandb-mode", "online", "--wandb-project", "evals", "--wandb-entity", "team", "--display", "none",
        "--wandb-writer", writer,
    ]  # fmt: skip
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (solved.exists() and len(solved.read_text().split()) >= 3):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # a crash: no cleanup of any kind
    proc.wait()
    before = len(solved.read_text().split())

    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    runs = [key for key in state.runs if key[:2] == ("team", "evals")]
    assert len(runs) == 1  # the second attempt continued the first attempt's run
    assert "RunResumeStatus" in state.operations
    results = [v for c in state.collections.values() if c.type == "eval-results" for v in c.versions]
    assert len(results) == 1
    assert len(solved.read_text().split()) - before < 8  # finished samples were reused, not redone
    # The second attempt continued the run's history where W&B's copy ended: no step twice.
    [(entity, project, rid)] = runs
    history = state.run_file(entity, project, rid, "wandb-history.jsonl")
    assert history and all(json.loads(row)["_step"] == offset for offset, row in history.items())
    summaries = state.run_file(entity, project, rid, "wandb-summary.json")
    assert json.loads(summaries[max(summaries)])["samples_completed"] == 8  # reused samples count too
    again = subprocess.run(args, capture_output=True, text=True, timeout=300)  # nothing left to do
    assert again.returncode == 0, again.stderr[-2000:]
    assert len([v for c in state.collections.values() if c.type == "eval-results" for v in c.versions]) == 1


def test_results_are_committed_to_the_hub_and_the_url_recorded(wandb_server: Server, isolated_env: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.servers.hf_server import TOKEN, HubServer

    hub = HubServer().start()
    try:
        state = wandb_server.state
        state.add_version("team", "models", "tiny", FILES, ("prod",))
        slow = Path(__file__).parent / "fixtures" / "slow_tasks.py"
        env = dict(os.environ, HF_ENDPOINT=hub.url, HF_TOKEN=TOKEN, HF_HUB_OFFLINE="0")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "eval_orchestrator.cli",
                "run",
                "--checkpoint",
                "team/models/tiny:prod",
                "--task",
                f"{slow}@slow",
                "-T",
                "count=3",
                "-T",
                "delay=0",
                "--model",
                "mockllm/model",
                "--log-dir",
                str(isolated_env / "logs"),
                "--wandb-mode",
                "online",
                "--wandb-project",
                "evals",
                "--wandb-entity",
                "team",
                "--hf-upload-repo",
                "acme/eval-results",
                "--hf-upload-dir",
                "runs",
                "--display",
                "none",
                "--json",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert TOKEN not in done.stderr and TOKEN not in done.stdout
        [outcome] = json.loads(done.stdout)
        folder = f"runs/tiny/v0/slow-{outcome['job_key']}"
        committed = {path: data for (repo, path), data in hub.state.files.items() if repo == "acme/eval-results"}
        assert set(committed) == {
            f"{folder}/summary.json",
            f"{folder}/usage.jsonl",
            f"{folder}/logs/" + Path(outcome["log"]).name,
        }
        assert json.loads(committed[f"{folder}/summary.json"])["metrics"]["includes/accuracy"] == 1.0
        assert hub.state.repos == {"acme/eval-results": "dataset"} and not hub.state.unknown
        url = f"{hub.url}/datasets/acme/eval-results/tree/main/{folder}"
        [results] = [v for c in state.collections.values() if c.type == "eval-results" for v in c.versions]
        assert results.metadata["hf_results_url"] == url
        [run] = [r for key, r in state.runs.items() if key[:2] == ("team", "evals")]
        assert url in run["notes"]
        streamed = "".join(
            line for post in state.file_stream for f in post.get("files", {}).values() for line in f["content"]
        )
        assert url in streamed  # the run summary carries it too (sent over file_stream)
        assert TOKEN not in streamed and TOKEN not in json.dumps(run)
    finally:
        hub.stop()


def test_a_bad_hub_repo_id_is_one_line() -> None:
    from tests.test_cli import assert_one_line_error, cli

    assert_one_line_error(
        cli("run", "--checkpoint", "local-registry/x", "--task", "t.py@t", "--hf-upload-repo", "no-slash"),
        "invalid value for 'hub.upload_repo' (got 'no-slash'): Value error, must be ORG/NAME",
    )
