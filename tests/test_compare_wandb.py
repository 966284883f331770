"""A real `run` of two versions, then `compare` through the CLI with the comparison logged to W&B
offline (read back from its `.wandb` file), then `sync` uploading it and replaying its lineage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from eval_orchestrator.comparison.wandb_log import COMPARISON_TYPE
from tests.cli import invoke
from tests.servers.wandb_server import Server
from tests.wandb_files import read_runs

TASK = Path(__file__).parent / "fixtures" / "versioned_tasks.py"
CLI = [sys.executable, "-m", "eval_orchestrator.cli"]
W_AND_B = ["--wandb-mode", "offline", "--wandb-project", "evals", "--wandb-entity", "team"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return invoke(*args)


def test_run_compare_log_offline_then_sync(wandb_server: Server, isolated_env: Path) -> None:
    for version in range(2):
        source = isolated_env / f"ckpt{version}"
        source.mkdir()
        (source / "weights.bin").write_text(f"weights {version}")
        assert _cli("registry", "add", str(source), "--name", "tiny").returncode == 0
    ran = _cli(
        "run", "--checkpoint", "local-registry/tiny:v0", "--checkpoint", "local-registry/tiny:v1",
        "--task", f"{TASK}@versioned", "--model", "mockllm/{version}", "--log-dir", "logs", "--display", "none",
        "--json", *W_AND_B,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-2000:]
    scores = {o["version"]: o["metrics"]["includes/accuracy"] for o in json.loads(ran.stdout)}
    assert scores == {"v0": 0.25, "v1": 0.75}

    compared = _cli(
        "compare", "local-registry/tiny:v0", "local-registry/tiny:v1", "--log-dir", "logs", "--plot", "forest.png",
        "--json", *W_AND_B,
    )  # fmt: skip
    assert compared.returncode == 0, compared.stderr[-2000:]
    [row] = json.loads(compared.stdout)
    assert (row["task"], row["metric"], row["verdict"], row["n_paired"]) == ("versioned", "includes", "better", 20)
    assert row["p_value"] == 2 * 0.5**10  # exact McNemar: 10 discordant pairs, all for the candidate
    assert "comparison logged to" in compared.stderr

    [comparison] = [run for run in read_runs(isolated_env / "wb") if run.job_type == "compare"]
    assert comparison.group == "tiny:v1" and comparison.project == "evals"
    assert comparison.config["baseline_version"] == "v0" and comparison.config["candidate_version"] == "v1"
    assert comparison.config["baseline_digest"] == row["baseline"]["digest"]
    assert comparison.summary["delta/versioned/includes"] == 0.5
    assert comparison.summary["verdict/versioned/includes"] == "better"
    logged = {key.split("/", 1)[0]: entry[key] for entry in comparison.history for key in entry if "/_type" in key}
    assert logged == {"comparison": "table-file", "flips": "table-file", "forest_plot": "image-file"}, logged
    [artifact] = [a for a in comparison.artifacts if a["type"] == COMPARISON_TYPE]
    assert artifact["name"] == "tiny-comparison" and "v0-vs-v1" in artifact["aliases"]
    assert artifact["files"] == ["comparison.json", "forest_plot.png"]

    synced = _cli("sync")
    assert synced.returncode == 0, synced.stderr[-2000:]
    state = wandb_server.state
    assert ("team", "evals", comparison.run_id) in state.runs  # the comparison run is in W&B
    used = {artifact_id for (_, _, run, artifact_id) in state.used if run == comparison.run_id}
    results = {
        version.id: (collection.name, version.id)
        for collection in state.collections.values()
        if collection.type == "eval-results"
        for version in collection.versions
    }
    # Lineage: baseline results + candidate results -> the comparison.
    assert sorted(results[i][0] for i in used) == ["tiny-versioned-results", "tiny-versioned-results"]
    assert len(used) == 2
    again = _cli("sync")
    assert again.returncode == 0 and "uploaded 0 run(s), replayed 0 lineage link(s)" in again.stdout

    # A machine without the logs compares from the results artifacts the sync put in W&B.
    elsewhere = isolated_env / "ci-machine"
    elsewhere.mkdir()
    remote = invoke("compare", "local-registry/tiny:v0", "local-registry/tiny:v1", "--from-wandb", "--task",
                    "versioned", "--wandb-project", "evals", "--wandb-entity", "team", "--json")  # fmt: skip
    assert remote.returncode == 0, remote.stderr[-2000:]
    [from_wandb] = json.loads(remote.stdout)
    for side in ("baseline", "candidate"):  # the logs were read from a download folder
        assert from_wandb[side].pop("log").endswith(".eval") and row[side].pop("log").endswith(".eval")
    assert from_wandb == row  # the same answer as from the local logs
    missing = invoke("compare", "local-registry/tiny:v0", "local-registry/tiny:v1", "--from-wandb", "--task", "other",
         "--wandb-project", "evals", "--wandb-entity", "team")  # fmt: skip
    assert missing.returncode == 2 and "no results artifact team/evals/tiny-other-results:tiny-v0" in missing.stderr
