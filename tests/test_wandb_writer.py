"""The W&B writer process (``wandb.writer: process``): what happens when it, or the plan, stops early.

What it writes is the same as the eval process would write (test_run_mockllm's main test and
test_online_tracking's lineage test run both ways); these are its failure paths, each with a real
writer process and real evals.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eval_orchestrator import orchestrate
from eval_orchestrator.config import build_config
from eval_orchestrator.registry.local import LocalRegistry
from eval_orchestrator.spool import Spool
from eval_orchestrator.tracking import sinks
from eval_orchestrator.tracking.hook import tracker
from eval_orchestrator.tracking.writer import WriterClient
from tests.wandb_files import read_runs

SLOW = Path(__file__).parent / "fixtures" / "slow_tasks.py"


def _plan(tmp: Path, delay: float, count: int = 4) -> dict[str, object]:
    return {
        "checkpoints": ["local-registry/tiny:v0"],
        "tasks": [{"spec": f"{SLOW}@slow", "args": {"count": count, "delay": delay + n * 1e-6}} for n in range(2)],
        "model": {"name": "mockllm/model", "args": {}},
        "inspect": {"log_dir": str(tmp / "logs"), "display": "none", "max_samples": 1},
        "wandb": {"project": "writer", "writer": "process"},
    }


def test_a_writer_that_dies_mid_plan_fails_the_command_in_one_line_and_the_evals_finish(
    isolated_env: Path, checkpoint_dir: Path
) -> None:
    LocalRegistry(isolated_env / "registry").add(checkpoint_dir, "tiny")
    killed: list[int] = []

    def kill_the_writer(label: str, key: str, done: int, planned: int) -> None:
        runs = tracker().runs
        if not killed and isinstance(runs, WriterClient):
            runs.process.kill()  # what an out-of-memory kill of the writer would do
            runs.process.wait()
            killed.append(runs.process.pid)

    with sinks.reporting_to(kill_the_writer):
        report = orchestrate.run(build_config(None, _plan(isolated_env, 0.05)))
    assert killed, "the plan did not use the writer process"
    assert [o.status for o in report.outcomes] == ["success", "success"]  # the evals went on
    assert not report.ok and report.tracker_errors
    assert all("\n" not in error and "Traceback" not in error for error in report.tracker_errors)
    assert any("the W&B writer process exited" in error for error in report.tracker_errors), report.tracker_errors


def test_a_terminated_plan_waits_for_the_writer_to_close_every_run(isolated_env: Path, checkpoint_dir: Path) -> None:
    LocalRegistry(isolated_env / "registry").add(checkpoint_dir, "tiny")
    config = isolated_env / "plan.json"  # JSON is YAML
    # 20 samples of 0.4 s, one at a time: still running when the signal comes, however slow the runs open
    config.write_text(json.dumps(_plan(isolated_env, 0.4, count=20)))
    args = [sys.executable, "-m", "eval_orchestrator.cli", "run", "--config", str(config)]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(list((isolated_env / "wb").glob("wandb/offline-run-*/run-*.wandb"))) < 2:  # both runs open
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    time.sleep(0.5)  # a sample or so in
    proc.send_signal(signal.SIGTERM)  # as a scheduler stops a job (the writer ignores it: the plan decides)
    stderr = proc.communicate(timeout=120)[1]
    assert proc.returncode == 143, stderr[-2000:]
    assert "Traceback" not in stderr
    runs = read_runs(isolated_env / "wb")
    assert len(runs) == 2 and all(run.exit_code == 1 for run in runs)  # closed, as not done, by the writer
    lineage = [json.loads(line) for line in Spool(str(isolated_env / "wb")).lineage_file.read_text().splitlines()]
    assert sorted(record["local_run_id"] for record in lineage) == sorted(run.run_id for run in runs)


def test_the_writer_runs_its_own_wandb_service(
    isolated_env: Path, checkpoint_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # wandb sets WANDB_SERVICE in a process once it ran there; a writer that joined this process's
    # service would tear it down when it exits, under the runs this process still has open.
    LocalRegistry(isolated_env / "registry").add(checkpoint_dir, "tiny")
    monkeypatch.setenv("WANDB_SERVICE", "3-1-unix-/nonexistent/socket")  # a service that is not there
    report = orchestrate.run(build_config(None, _plan(isolated_env, 0.0)))
    assert report.ok, report.tracker_errors
    assert [run.exit_code for run in read_runs(isolated_env / "wb")] == [0, 0]
