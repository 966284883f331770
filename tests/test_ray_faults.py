"""`executor: ray` under faults, on a real two-node loopback cluster: a worker killed mid-eval, SIGTERM
(no unit left running, per Ray's state API); the watcher on Ray; the embedded default."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import CLI, invoke, spawn
from tests.ray_cluster import (
    FIXTURES,
    SKILL,
    SLOW,
    V0,
    RayTestCluster,
    command_line,
    offline_runs,
    run,
    running_unit_pids,
    two_node_cluster,
    unit_tasks,
    write_plan,
)
from tests.test_watch import register

ray = pytest.importorskip(
    "ray", reason="needs the ray extra: in .venv, which make install builds (not in .venv-determined)"
)


pytestmark = pytest.mark.xdist_group("ray-faults")  # one cluster per module, on one xdist worker


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayTestCluster]:
    yield from two_node_cluster()


@pytest.mark.parametrize("split", ["version", "task"])
def test_a_worker_killed_mid_eval_is_retried_reusing_every_finished_sample(
    isolated_env: Path, cluster: RayTestCluster, split: str
) -> None:
    register(isolated_env, 10)
    solved = isolated_env / "solved.txt"
    task = {"spec": SLOW, "args": {"count": 16, "delay": 0.3, "record": str(solved)}}
    plan = write_plan(isolated_env, [task], {"kind": "ray", "address": cluster.address, "split": split}, (V0,))
    settings = json.loads(plan.read_text())
    settings["inspect"]["max_samples"] = 1
    plan.write_text(json.dumps(settings))

    killed: list[int] = []

    def kill_the_worker_mid_eval() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if solved.exists() and len(solved.read_text().split()) >= 4 and (busy := running_unit_pids()):
                os.kill(busy[0], signal.SIGKILL)  # kill -9 of the worker process running the unit
                killed.append(len(solved.read_text().split()))
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_worker_mid_eval)
    killer.start()
    done = run(plan)
    killer.join()
    assert killed, "the unit finished before the worker could be killed"
    assert done.returncode == 0, done.stderr[-3000:]
    assert "worker died (" in done.stderr and "attempt 2 of 3, resuming from the logs" in done.stderr, done.stderr
    after = solved.read_text().split()
    assert sorted(set(after), key=int) == [str(i) for i in range(16)]
    redone = [sample for sample in set(after) if after.count(sample) > 1]
    assert len(redone) <= 1, (killed, after)  # at most the sample in flight (max_samples 1) when it died
    [log_dir] = (isolated_env / "logs" / "tiny").iterdir()
    assert len(list(log_dir.rglob("*.eval"))) == 1  # the dead attempt's log was resumed, not left beside
    assert len(offline_runs(isolated_env / "wb")) == 1  # and one W&B run folder
    [outcome] = json.loads(done.stdout)
    assert outcome["metrics"]["includes/accuracy"] == 1.0


def test_sigterm_cancels_every_unit_and_exits_143(isolated_env: Path, cluster: RayTestCluster) -> None:
    register(isolated_env, 10)
    task = {"spec": SLOW, "args": {"count": 40, "delay": 0.5}}
    plan = write_plan(isolated_env, [task], {"kind": "ray", "address": cluster.address}, (V0,))
    driver = subprocess.Popen([*CLI, "run", "--config", str(plan)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (running := unit_tasks(cluster.address, state="RUNNING")):
        assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()[1][-2000:]
        time.sleep(0.2)
    job = running[0].job_id
    driver.send_signal(signal.SIGTERM)
    _, stderr = driver.communicate(timeout=60)
    assert driver.returncode == 143, stderr[-3000:]
    assert "cancelling 1 Ray task(s)" in stderr
    deadline = time.monotonic() + 30  # the state API reports with a short lag
    while unit_tasks(cluster.address, state="RUNNING", job_id=job):
        assert time.monotonic() < deadline, "a unit was left running on the cluster"
        time.sleep(0.5)


def test_the_watcher_on_ray_promotes_the_better_and_holds_the_worse(
    isolated_env: Path, cluster: RayTestCluster
) -> None:
    watch = {
        "collections": ["local-registry/tiny"],
        "baseline": "prod",
        "promote": "staging",
        "ledger": str(isolated_env / "ledger.sqlite"),
        "interval": 1,
        "backoff_seconds": 0,
        "executor": "ray",
    }
    plan = write_plan(isolated_env, [{"spec": SKILL}], {"address": cluster.address}, (), watch=watch)
    register(isolated_env, 10, "prod")
    first = invoke("watch", "--config", str(plan), "--once")
    assert first.returncode == 0, first.stderr[-3000:]
    register(isolated_env, 16)  # v1: better
    register(isolated_env, 4)  # v2: worse
    second = invoke("watch", "--config", str(plan), "--once")
    assert second.returncode == 3, second.stderr[-3000:]
    assert "promoted: local-registry/tiny:v1" in second.stderr and "held: local-registry/tiny:v2" in second.stderr
    assert "samples on node" in second.stderr  # it ran on the cluster
    listed = json.loads(invoke("registry", "ls", "tiny", "--json").stdout)
    aliases = {alias: row["version"] for row in listed for alias in row["aliases"]}
    assert aliases["staging"] == "v1" and aliases["prod"] == "v0"


def test_the_embedded_default_starts_a_loopback_instance_and_stops_it(isolated_env: Path) -> None:
    import hashlib

    import psutil

    from tests.test_secrets import PLANT, leaks

    register(isolated_env, 10)
    digest = hashlib.sha256(PLANT.encode()).hexdigest()
    executor = {"kind": "ray", "runtime_env": {"env_vars": {"EVAL_TEST_TOKEN_SHA256": digest}}}
    plan = write_plan(isolated_env, [{"spec": f"{FIXTURES / 'secret_tasks.py'}@needs_secret"}], executor, (V0,))
    settings = json.loads(plan.read_text())
    settings["inspect"]["log_dir"] = "logs"  # relative: the local instance runs here, so it means ./logs
    plan.write_text(json.dumps(settings))
    # Its own process: after a local instance, Ray (2.60) cannot create actors on another cluster from
    # the same process, and the cluster tests of this worker run in-process.
    done = spawn("run", "--config", str(plan), "--json", "--secret", "EVAL_TEST_TOKEN",
                 env={"RAY_ADDRESS": "", "EVAL_TEST_TOKEN": PLANT})  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "starting a local instance on 127.0.0.1" in done.stderr
    [outcome] = json.loads(done.stdout)
    assert outcome["metrics"]["includes/accuracy"] == 1.0 and len(outcome["node_id"]) == 56
    assert len(list((isolated_env / "logs").rglob("*.eval"))) == 1
    [named] = re.findall(r"Ray: local instance up; its logs are in (\S+)/logs", done.stderr)
    session = Path(named)  # its own instance (another cluster may be up on this machine)
    assert leaks(session) == []  # its Ray processes logged no secret (RAY_LOGGER_LEVEL warning)
    assert [p for p in psutil.process_iter() if str(session) in command_line(p)] == []  # the instance is gone
