"""`executor: ray` runs on a real two-node loopback cluster: units spread over both nodes with the
results of a local run, reruns (after a killed driver too), the plan's fail_on_error, an S3 log dir,
secrets, and what is refused before anything runs. Asserted from Ray's state API, the Inspect
logs and the W&B offline files."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli import CLI
from tests.ray_cluster import (
    AGENT,
    FIXTURES,
    SKILL,
    SLOW,
    V0,
    RayTestCluster,
    metrics_by_job,
    offline_runs,
    run,
    two_node_cluster,
    unit_tasks,
    write_plan,
)
from tests.test_cli import assert_one_line_error
from tests.test_watch import register

ray = pytest.importorskip(
    "ray", reason="needs the ray extra: in .venv, which make install builds (not in .venv-determined)"
)


pytestmark = pytest.mark.xdist_group("ray-runs")  # one cluster per module, on one xdist worker


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayTestCluster]:
    yield from two_node_cluster()


def test_split_by_task_runs_on_both_nodes_with_the_results_of_a_local_run(
    isolated_env: Path, cluster: RayTestCluster
) -> None:
    register(isolated_env, 10)
    register(isolated_env, 16)
    tasks = [{"spec": SKILL}, {"spec": SLOW, "args": {"count": 4, "delay": 0.2}}, {"spec": AGENT}]
    plan = write_plan(isolated_env, tasks, {"kind": "ray", "address": cluster.address, "split": "task"})
    started = time.time()
    on_ray = run(plan)
    assert on_ray.returncode == 0, on_ray.stderr[-3000:]
    outcomes = json.loads(on_ray.stdout)
    assert len(outcomes) == 6 and {o["status"] for o in outcomes} == {"success"}
    assert {o["node_id"] for o in outcomes} == cluster.nodes  # the units were spread over both nodes
    assert "samples on node" in on_ray.stderr  # live progress, gathered from the workers

    # Ray's own account: six task units (plus a capture unit per version), each run on the node the
    # outcome names, none still running.
    units = [t for t in unit_tasks(cluster.address) if t.creation_time_ms and t.creation_time_ms / 1000 >= started]
    assert len(units) == 8 and {t.state for t in units} == {"FINISHED"}
    assert {t.node_id for t in units} == cluster.nodes

    # Each version's tasks went into its one log dir: one .eval per task, one W&B run per job.
    version_dirs = sorted((isolated_env / "logs" / "tiny").iterdir())
    assert [len(list(d.rglob("*.eval"))) for d in version_dirs] == [3, 3]
    assert len(offline_runs(isolated_env / "wb")) == 6 == len(set(offline_runs(isolated_env / "wb")))

    # Run again: every task is finished, so none runs (Ray lists no new eval unit), and nothing is added.
    again_since = time.time()
    again = run(plan)
    assert again.returncode == 0, again.stderr[-3000:]
    assert metrics_by_job(again.stdout) == metrics_by_job(on_ray.stdout)
    assert len([t for t in unit_tasks(cluster.address) if (t.creation_time_ms or 0) / 1000 >= again_since]) == 2
    assert [len(list(d.rglob("*.eval"))) for d in version_dirs] == [3, 3]
    assert len(offline_runs(isolated_env / "wb")) == 6

    local_root = isolated_env / "local"
    local_root.mkdir()
    local_plan = write_plan(local_root, tasks, {"kind": "local"})
    here = run(local_plan, env={"WANDB_DIR": str(local_root / "wb")})
    assert here.returncode == 0, here.stderr[-3000:]
    assert {o["node_id"] for o in json.loads(here.stdout)} == {None}
    assert metrics_by_job(here.stdout) == metrics_by_job(on_ray.stdout)
    assert metrics_by_job(on_ray.stdout)[("v1", "skill")]["includes/accuracy"] == pytest.approx(16 / 20)


def test_a_selected_task_is_failed_by_the_plans_fail_on_error(isolated_env: Path, cluster: RayTestCluster) -> None:
    """Inspect runs a selected task with fail_on_error off, leaving the decision to the runner: ours."""
    register(isolated_env, 10)
    task = {"spec": f"{FIXTURES / 'broken_tasks.py'}@one_sample_fails"}
    plan = write_plan(isolated_env, [task], {"kind": "ray", "address": cluster.address, "split": "task"}, (V0,))
    failed = run(plan)
    assert failed.returncode == 1, failed.stderr[-3000:]
    [outcome] = json.loads(failed.stdout)
    assert outcome["status"] == "error", outcome
    tolerated = run(plan, "--fail-on-error", "0.5")  # the same finished log, judged by the new rule
    assert tolerated.returncode == 0, tolerated.stderr[-3000:]
    assert json.loads(tolerated.stdout)[0]["status"] == "success"


def test_an_s3_log_dir_is_written_by_the_workers_and_read_back(
    isolated_env: Path, cluster: RayTestCluster, s3: Any
) -> None:
    s3.client.create_bucket(Bucket="evals")
    register(isolated_env, 10)
    register(isolated_env, 16)
    plan = write_plan(isolated_env, [{"spec": SKILL}], {"kind": "ray", "address": cluster.address})
    done = run(plan, "--log-dir", "s3://evals/logs")
    assert done.returncode == 0, done.stderr[-3000:]
    outcomes = json.loads(done.stdout)
    assert [o["log"].startswith("s3://evals/logs/tiny/") for o in outcomes] == [True, True]
    keys = [o["Key"] for o in s3.client.list_objects_v2(Bucket="evals", Prefix="logs/")["Contents"]]
    assert len([k for k in keys if k.endswith(".eval")]) == 2
    assert metrics_by_job(done.stdout)[("v0", "skill")]["includes/accuracy"] == pytest.approx(10 / 20)
    # The driver shipped each log in its W&B results: a copy kept in the spool.
    assert len(list((isolated_env / "wb").rglob("*.eval"))) >= 2


def test_a_declared_secret_reaches_the_worker_through_its_environment_only(
    isolated_env: Path, cluster: RayTestCluster
) -> None:
    import hashlib
    import pickle

    from eval_orchestrator.config import build_config
    from eval_orchestrator.executors.ray_units import UnitSpec
    from tests.test_secrets import PLANT, leaks

    register(isolated_env, 10)
    digest = hashlib.sha256(PLANT.encode()).hexdigest()
    executor = {
        "kind": "ray",
        "address": cluster.address,
        "runtime_env": {"env_vars": {"EVAL_TEST_TOKEN_SHA256": digest}},
    }
    plan = write_plan(isolated_env, [{"spec": f"{FIXTURES / 'secret_tasks.py'}@needs_secret"}], executor, (V0,))
    settings = json.loads(plan.read_text())
    done = run(plan, "--secret", "EVAL_TEST_TOKEN", env={"EVAL_TEST_TOKEN": PLANT})
    assert done.returncode == 0, done.stderr[-3000:]
    [outcome] = json.loads(done.stdout)
    assert outcome["metrics"]["includes/accuracy"] == 1.0  # the worker's eval saw the secret
    assert leaks(isolated_env, done.stdout, done.stderr) == []
    assert leaks(cluster.session_dir) == []  # nor in the Ray nodes' logs
    # What the driver puts in the object store names the secret, never holds its value.
    config = build_config(None, {**settings, "secrets": [{"name": "EVAL_TEST_TOKEN"}]})
    spec = UnitSpec("tiny:v0", config, {})
    assert b"EVAL_TEST_TOKEN" in pickle.dumps(spec) and PLANT.encode() not in pickle.dumps(spec)


def test_an_unreachable_cluster_is_75_before_any_checkpoint_is_fetched(isolated_env: Path) -> None:
    import socket

    register(isolated_env, 10)
    register(isolated_env, 16)
    with socket.socket() as bound:  # a loopback port nothing listens on
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
    plan = write_plan(isolated_env, [{"spec": SKILL}], {"kind": "ray", "address": f"127.0.0.1:{port}"})
    done = run(plan)
    assert_one_line_error(done, f"the Ray cluster at 127.0.0.1:{port} does not answer", code=75)
    assert not [p for p in (isolated_env / "store").rglob("*") if p.is_file()]  # nothing fetched


def test_a_relative_log_dir_on_a_cluster_is_refused(isolated_env: Path, cluster: RayTestCluster) -> None:
    register(isolated_env, 10)
    plan = write_plan(isolated_env, [{"spec": SKILL}], {"kind": "ray", "address": cluster.address}, (V0,))
    done = run(plan, "--log-dir", "logs")
    assert_one_line_error(done, "inspect.log_dir 'logs' is relative; the workers need the same folder")


def test_joining_a_cluster_after_a_local_instance_in_one_process_is_refused(
    isolated_env: Path, cluster: RayTestCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eval_orchestrator.executors import ray_cluster

    # The flag a local instance sets (starting one here costs 5 s; the test of the embedded default
    # runs it in its own process for this very reason).
    monkeypatch.setattr(ray_cluster, "_local_instance_used", True)
    register(isolated_env, 10)
    plan = write_plan(isolated_env, [{"spec": SKILL}], {"kind": "ray", "address": cluster.address}, (V0,))
    done = run(plan)
    assert_one_line_error(done, "this process already ran a local Ray instance")
    assert not [p for p in (isolated_env / "store").rglob("*") if p.is_file()]  # nothing fetched


def test_a_log_dir_one_node_cannot_see_is_refused(
    isolated_env: Path, cluster: RayTestCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eval_orchestrator.executors import ray_executor

    # The probe itself, on the real cluster: a marker written here is seen from both nodes (one machine).
    from eval_orchestrator.executors.ray_cluster import Cluster

    ray.init(address=cluster.address, log_to_driver=False)
    try:
        assert ray_executor._seen_by_every_node(isolated_env / "probe", Cluster(tuple(cluster.nodes), False, 0.0))
    finally:
        ray.shutdown()
    # One machine cannot show a folder that one node sees and another does not: the probe's answer is
    # replaced to see the refusal the user gets.
    monkeypatch.setattr(ray_executor, "_seen_by_every_node", lambda folder, nodes: False)
    register(isolated_env, 10)
    plan = write_plan(isolated_env, [{"spec": SKILL}], {"kind": "ray", "address": cluster.address}, (V0,))
    done = run(plan)
    assert_one_line_error(done, "is not shared by the cluster's 2 nodes")


def test_a_killed_driver_rerun_resumes_without_a_second_wandb_run(isolated_env: Path, cluster: RayTestCluster) -> None:
    register(isolated_env, 10)
    solved = isolated_env / "solved.txt"
    task = {"spec": SLOW, "args": {"count": 6, "delay": 0.3, "record": str(solved)}}
    plan = write_plan(isolated_env, [task], {"kind": "ray", "address": cluster.address}, (V0,))
    settings = json.loads(plan.read_text())
    settings["inspect"]["max_samples"] = 1
    plan.write_text(json.dumps(settings))
    driver = subprocess.Popen([*CLI, "run", "--config", str(plan)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (solved.exists() and len(solved.read_text().split()) >= 2):
        assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()[1][-2000:]
        time.sleep(0.05)
    driver.kill()
    driver.communicate()
    again = run(plan)
    assert again.returncode == 0, again.stderr[-3000:]
    assert sorted(set(solved.read_text().split()), key=int) == [str(i) for i in range(6)]
    assert len(offline_runs(isolated_env / "wb")) == 1  # the re-run continued the first run's W&B run
    [log_dir] = (isolated_env / "logs" / "tiny").iterdir()
    assert len(list(log_dir.rglob("*.eval"))) == 1
