"""W&B unreachable when a run starts: the eval finishes offline, and `sync` completes the record exactly once."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from eval_orchestrator.jsonl import read_jsonl
from eval_orchestrator.tracking.rows import run_id
from tests.cli import CLI, Completed, invoke, spawn
from tests.servers.wandb_server import Server
from tests.test_online_tracking import FILES

SLOW = Path(__file__).parent / "fixtures" / "slow_tasks.py"


def _run_args(isolated_env: Path, count: int, delay: float, checkpoint: str) -> list[str]:
    return [
        "run", "--checkpoint", checkpoint,
        "--task", f"{SLOW}@slow", "-T", f"count={count}", "-T", f"delay={delay}", "-T",
        f"record={isolated_env / 'solved.txt'}", "--model", "mockllm/model", "--max-samples", "1",
        "--log-dir", str(isolated_env / "logs"), "--wandb-mode", "online", "--wandb-project", "evals",
        "--wandb-entity", "team", "--display", "none", "--json",
    ]  # fmt: skip


def _run(
    isolated_env: Path, count: int = 3, delay: float = 0.0, checkpoint: str = "team/models/tiny:prod"
) -> Completed:
    # Its own process, as in use: a run whose W&B init failed leaves the run id held by the SDK's
    # service until the process ends, and `sync` (in this process) must find it free.
    return spawn(*_run_args(isolated_env, count, delay, checkpoint))


def _sync() -> Completed:
    return invoke("sync")


def _results(server: Server) -> list[object]:
    return [v for c in server.state.collections.values() if c.type == "eval-results" for v in c.versions]


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVAL_ORCHESTRATOR_WANDB_INIT_TIMEOUT_SEC", "5")
    monkeypatch.setenv("EVAL_ORCHESTRATOR_WANDB_FINISH_TIMEOUT_SEC", "5")


@pytest.mark.parametrize("outage", ["everything", "run-creation"])
def test_unreachable_at_start_runs_offline_then_sync_uploads_and_replays_lineage_once(
    wandb_server: Server, isolated_env: Path, checkpoint_dir: Path, short_timeouts: None, outage: str
) -> None:
    state = wandb_server.state
    model = state.add_version("team", "models", "tiny", FILES, ("prod",))
    if outage == "everything":
        # Every request gets a 503 (found before wandb.init). The model comes from the local
        # registry, since W&B cannot resolve one: no W&B lineage to replay, only the upload.
        assert invoke("registry", "add", str(checkpoint_dir), "--name", "tiny").returncode == 0
        checkpoint, lineage = "local-registry/tiny:latest", 0
        state.faults.down = True
    else:
        checkpoint, lineage = "team/models/tiny:prod", 2  # use_artifact + the spooled results artifact
        state.faults.down_ops = {"UpsertBucket"}  # W&B answers, but creating the run fails
    done = _run(isolated_env, checkpoint=checkpoint)
    assert done.returncode == 0, done.stderr[-2000:]
    [outcome] = json.loads(done.stdout)
    assert outcome["metrics"]["includes/accuracy"] == 1.0
    assert "W&B unreachable" in done.stderr and "eval-orchestrator sync" in done.stderr
    rid = run_id(str(outcome["job_key"]))
    assert ("team", "evals", rid) not in state.runs and not _results(wandb_server)

    state.faults.down, state.faults.down_ops = False, set()
    synced = _sync()
    assert synced.returncode == 0, synced.stderr[-2000:]
    assert f"uploaded 1 run(s), replayed {lineage} lineage link(s)" in synced.stdout
    run = state.runs[("team", "evals", rid)]
    assert run["groupName"] == "tiny:v0" and run["jobType"] == "slow"
    if outage == "run-creation":
        assert ("team", "evals", rid, model.id) in state.used  # lineage replayed on the job's own run
    [results] = _results(wandb_server)
    assert results.created_by == rid and results.metadata["includes/accuracy"] == 1.0

    ops = len(state.operations)
    again = _sync()
    assert again.returncode == 0
    assert f"uploaded 0 run(s), replayed 0 lineage link(s), {1 + lineage} already done" in again.stdout
    assert state.operations[ops:] == ["Viewer"]  # only sync's reachability probe: nothing sent twice
    assert len(_results(wandb_server)) == 1


def test_a_sync_killed_halfway_completes_on_the_next_call(
    wandb_server: Server, isolated_env: Path, checkpoint_dir: Path, short_timeouts: None
) -> None:
    import os
    import signal

    import yaml

    state = wandb_server.state
    assert invoke("registry", "add", str(checkpoint_dir), "--name", "tiny").returncode == 0
    config = isolated_env / "run.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "checkpoints": ["local-registry/tiny:latest"],
                "tasks": [{"spec": f"{SLOW}@slow", "args": {"count": n, "delay": 0}} for n in (2, 3)],
                "model": {"name": "mockllm/model", "args": {}},
                "inspect": {"log_dir": str(isolated_env / "logs"), "display": "none"},
                "wandb": {"project": "evals", "entity": "team", "mode": "online"},
            }
        )
    )
    state.faults.down = True
    done = invoke("run", "--config", str(config))
    assert done.returncode == 0, done.stderr[-2000:]
    state.faults.down = False

    ledger = isolated_env / "wb" / "wandb" / "eval-orchestrator" / "synced.jsonl"
    state.faults.slow_ops = {"UpsertBucket": 1.0}  # each upload takes a few seconds
    proc = subprocess.Popen([*CLI, "sync"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (ledger.exists() and ledger.read_text().strip()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # halfway: one run uploaded, the other not
    proc.wait()
    assert len(ledger.read_text().splitlines()) == 1
    state.faults.slow_ops = {}

    second = _sync()
    assert second.returncode == 0, second.stderr[-2000:]
    assert "uploaded 1 run(s), replayed 0 lineage link(s), 1 already done" in second.stdout
    assert len(_results(wandb_server)) == 2 and len({v.created_by for v in _results(wandb_server)}) == 2
    third = _sync()
    assert "uploaded 0 run(s), replayed 0 lineage link(s), 2 already done" in third.stdout
    assert len(_results(wandb_server)) == 2


def _streamed(server: Server, rid: str, file: str) -> dict[int, dict[str, object]]:
    return {offset: json.loads(line) for offset, line in server.state.run_file("team", "evals", rid, file).items()}


@pytest.mark.parametrize("outage", ["refused", "503", "stall"])
def test_wandb_stopped_mid_run_then_started_sync_completes_the_record_once(
    wandb_server: Server, isolated_env: Path, short_timeouts: None, outage: str
) -> None:
    state = wandb_server.state
    model = state.add_version("team", "models", "tiny", FILES, ("prod",))
    solved = isolated_env / "solved.txt"
    # Refused: W&B stops once it holds some history (wandb-core streams it every 15 s), so the sync
    # must complete that part, not append to it again. 503: W&B answers "unavailable" after 3 samples.
    # Stall: W&B stops answering at all after 3 samples (timeouts).
    count, delay = (100, 0.25) if outage == "refused" else (10, 0.3)
    proc = subprocess.Popen(  # its own process: the outage is made from here while it runs
        [*CLI, *_run_args(isolated_env, count, delay, "team/models/tiny:prod")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def outage_due() -> bool:
        if outage == "refused":
            return any("wandb-history.jsonl" in post.get("files", {}) for post in state.file_stream)
        return len(solved.read_text().splitlines() if solved.exists() else []) >= 3

    deadline = time.monotonic() + 120
    while not outage_due():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    [(_, _, created)] = list(state.runs)
    streamed_before = len(_streamed(wandb_server, created, "wandb-history.jsonl"))
    if outage == "refused":
        wandb_server.stop()
    elif outage == "503":
        state.faults.down = True
    else:
        state.faults.stall = True
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    [outcome] = json.loads(out)
    assert outcome["metrics"]["includes/accuracy"] == 1.0  # the eval finished regardless
    assert "upload it with `eval-orchestrator sync`" in err
    rid = run_id(str(outcome["job_key"]))
    assert ("team", "evals", rid, model.id) in state.used  # lineage came before the eval, online
    assert not _results(wandb_server)
    assert len(solved.read_text().splitlines()) == count

    early = _sync()  # W&B still down: says so in one line, sends and marks nothing
    assert early.returncode == 75 and "W&B is unreachable" in early.stderr and "Traceback" not in early.stderr
    assert not (isolated_env / "wb" / "wandb" / "eval-orchestrator" / "synced.jsonl").exists()

    if outage == "refused":
        wandb_server.start()  # W&B is back, on the same address
    state.faults.down = state.faults.stall = False
    synced = _sync()
    assert synced.returncode == 0, synced.stderr[-2000:]
    assert "uploaded 1 run(s), replayed 2 lineage link(s)" in synced.stdout  # the table and the results
    history = _streamed(wandb_server, rid, "wandb-history.jsonl")
    # Complete and not doubled: one row per step, in step order, the last one counting every sample.
    assert len(history) > streamed_before and sorted(history) == list(range(len(history)))
    assert all(row["_step"] == offset for offset, row in history.items())
    assert max(int(str(row.get("samples_completed", 0))) for row in history.values()) == count
    summary = _streamed(wandb_server, rid, "wandb-summary.json")
    latest = summary[max(summary)]
    assert latest["includes/accuracy"] == 1.0 and latest["samples_completed"] == count
    assert str(latest["results_artifact"]).endswith("-results:tiny-v0")
    [results] = _results(wandb_server)
    assert results.created_by == rid and results.metadata["includes/accuracy"] == 1.0
    [table] = [v for c in state.collections.values() if c.type == "run_table" for v in c.versions]
    assert table.created_by == rid

    ops = len(state.operations)
    again = _sync()
    assert again.returncode == 0
    assert "uploaded 0 run(s), replayed 0 lineage link(s), 3 already done" in again.stdout
    assert state.operations[ops:] == ["Viewer"]  # only sync's reachability probe: nothing sent twice


def test_history_uploads_given_up_during_a_blip_are_completed_by_sync(
    wandb_server: Server, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # W&B refuses the history posts for a moment while the rest of it answers. The SDK retries
    # once, then gives up on the run's history and summary, yet finish() returns as if all was sent.
    monkeypatch.setenv("WANDB__FILE_STREAM_RETRY_MAX", "1")
    monkeypatch.setenv("WANDB__FILE_STREAM_RETRY_WAIT_MIN_SECONDS", "0.1")
    monkeypatch.setenv("WANDB__FILE_STREAM_RETRY_WAIT_MAX_SECONDS", "0.2")
    state = wandb_server.state
    state.add_version("team", "models", "tiny", FILES, ("prod",))
    state.faults.history_refusals = 5
    done = _run(isolated_env, count=6)
    assert done.returncode == 0, done.stderr[-3000:]
    [outcome] = json.loads(done.stdout)
    rid = run_id(str(outcome["job_key"]))
    assert not _streamed(wandb_server, rid, "wandb-history.jsonl")  # W&B holds none of the rows
    assert "W&B holds 0 of the run's" in done.stderr and "upload it with `eval-orchestrator sync`" in done.stderr
    [results] = _results(wandb_server)  # logged before the finish: W&B has it

    state.faults.history_refusals = 5  # still refused: sync says so, and marks nothing done
    # Its own process: the SDK's file-stream retry settings above apply to a wandb service that starts
    # with them, not to the one this test process may already run.
    early = spawn("sync")
    assert early.returncode == 75 and "W&B took 0 of the run's" in early.stdout + early.stderr, early.stderr
    assert not _streamed(wandb_server, rid, "wandb-history.jsonl")

    [record] = read_jsonl(isolated_env / "wb" / "wandb" / "eval-orchestrator" / "lineage.jsonl")
    spooled = read_jsonl(Path(record["history_pending"]))
    state.faults.history_refusals = 0
    synced = spawn("sync")
    assert synced.returncode == 0, synced.stderr[-2000:]
    assert "uploaded 1 run(s)" in synced.stdout
    history = _streamed(wandb_server, rid, "wandb-history.jsonl")
    # W&B has them now: the spooled rows and table are removed.
    assert not Path(record["history_pending"]).exists() and not Path(record["table_pending"]).exists()
    # Every row the job logged, once, at its step; then the per-sample table's row.
    assert [history[entry["step"]]["_step"] for entry in spooled] == list(range(len(spooled)))
    assert sorted(history) == list(range(len(spooled) + 1)) and "samples" in history[len(spooled)]
    assert max(int(str(row.get("samples_completed", 0))) for row in history.values()) == 6
    summary = _streamed(wandb_server, rid, "wandb-summary.json")
    latest = summary[max(summary)]
    assert latest["samples_completed"] == 6 and str(latest["results_artifact"]).endswith("-results:tiny-v0")
    assert _results(wandb_server) == [results]  # logged again by sync, deduplicated by its digest

    again = _sync()
    assert "uploaded 0 run(s), replayed 0 lineage link(s)" in again.stdout
