"""`watch.executor: determined` through the real CLI and the real ``determined`` SDK, against a stand-in
master on loopback that runs each experiment's trials the way the trial entrypoint runs off-cluster:
one experiment per version, followed to its end, then compared; exactly once across a kill -9."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from eval_orchestrator.watch.ledger import Ledger
from tests.servers.det_master import MasterState, serve
from tests.test_watch import SKILL, aliases, eval_logs, register, watch_once, write_plan

pytestmark = pytest.mark.determined  # runs in .venv-determined (see the Makefile)


@pytest.fixture
def master(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MasterState]:
    with serve(isolated_env / "agent") as (url, state):
        monkeypatch.setenv("DET_MASTER", url)
        yield state


def determined_plan(root: Path, **watch: object) -> Path:
    context = root / "context"
    context.mkdir(exist_ok=True)
    shutil.copy(SKILL, context / SKILL.name)
    plan = write_plan(root, executor="determined", determined={"context": str(context), "poll_seconds": 0.2}, **watch)
    settings = json.loads(plan.read_text())
    settings["tasks"] = [{"spec": f"{SKILL.name}@skill"}]  # relative: found in the uploaded context
    plan.write_text(json.dumps(settings))
    return plan


def created(master: MasterState) -> int:
    return master.requests.count("POST /api/v1/experiments")


def test_each_version_runs_as_one_experiment_then_is_compared_and_promoted(
    isolated_env: Path, master: MasterState
) -> None:
    plan = determined_plan(isolated_env)
    register(isolated_env, 10, "prod")
    first = watch_once(plan)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "submitted as Determined experiment 1" in first.stderr and "baseline: local-registry/tiny:v0" in first.stderr

    register(isolated_env, 16)  # v1: better
    register(isolated_env, 4)  # v2: worse
    second = watch_once(plan)
    assert second.returncode == 3, second.stderr[-3000:]
    assert "promoted: local-registry/tiny:v1" in second.stderr and "held: local-registry/tiny:v2" in second.stderr
    assert created(master) == 3  # one experiment per version
    for experiment in master.experiments.values():
        assert experiment.state == "STATE_COMPLETED"
        [trial] = experiment.trials  # one checkpoint (the version, pinned) x one task
        assert trial.returncode == 0, trial.stderr[-2000:]
        assert trial.hparams["checkpoint"] == f"local-registry/tiny:v{experiment.id - 1}"
        assert set(experiment.context) == {SKILL.name}  # the context folder, uploaded by the SDK
    assert eval_logs(isolated_env) == {"v0": 1, "v1": 1, "v2": 1}  # the trials wrote to the shared log root
    entries = {e.version: e for e in Ledger(isolated_env / "ledger.sqlite").entries()}
    assert {v: str(e.external) for v, e in entries.items()} == {f"v{i}": f"determined:{i + 1}" for i in range(3)}
    assert aliases(isolated_env)["staging"] == "v1"

    third = watch_once(plan)
    assert third.returncode == 0 and created(master) == 3, third.stderr[-3000:]
    # What the SDK needed: a login (then its cached token, checked), one create and polls per version.
    kinds = {re.sub(r"\d+$", "N", r) for r in master.requests}
    expected = {"POST /api/v1/auth/login", "GET /api/v1/me", "POST /api/v1/experiments", "GET /api/v1/experiments/N"}
    assert kinds == expected


def test_a_watcher_killed_after_submitting_follows_the_same_experiment(isolated_env: Path, master: MasterState) -> None:
    plan = determined_plan(isolated_env, allow_first=True)
    register(isolated_env, 12)
    killed = watch_once(plan, {"EVAL_ORCHESTRATOR_TEST_KILL_AT": "submitted"})
    assert killed.returncode == -9 and created(master) == 1, killed.stderr[-3000:]
    resumed = watch_once(plan)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "following Determined experiment 1, submitted before" in resumed.stderr
    assert created(master) == 1  # no second experiment for the same version
    assert "promoted: local-registry/tiny:v0" in resumed.stderr and eval_logs(isolated_env) == {"v0": 1}


def test_a_failed_experiment_is_retried_then_marked_failed(isolated_env: Path, master: MasterState) -> None:
    master.fail_trials = True
    plan = determined_plan(isolated_env, allow_first=True, max_attempts=2)
    register(isolated_env, 12)
    failed = watch_once(plan)
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert created(master) == 2  # a retry is a new experiment
    assert "failed: local-registry/tiny:v0" in failed.stderr and "ended ERROR" in failed.stderr
    [entry] = Ledger(isolated_env / "ledger.sqlite").entries()
    assert entry.state == "failed" and entry.attempts == 2


def test_the_master_refusing_or_missing_stops_the_watcher_with_one_line(
    isolated_env: Path, master: MasterState, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = determined_plan(isolated_env, allow_first=True)
    register(isolated_env, 12)
    master.refuse_login = True
    refused = watch_once(plan)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr[-3000:]
    assert "refused the login" in refused.stderr and "DET_USER and DET_PASS" in refused.stderr

    unreachable = watch_once(plan, {"DET_MASTER": "http://127.0.0.1:9"})
    assert unreachable.returncode == 75 and "unreachable" in unreachable.stderr, unreachable.stderr[-3000:]
    [entry] = Ledger(isolated_env / "ledger.sqlite").entries()
    assert entry.state != "failed" and entry.external is None  # nothing was marked: the next start retries

    monkeypatch.delenv("DET_MASTER")
    unset = watch_once(plan)
    assert unset.returncode == 2 and "DET_MASTER is not set" in unset.stderr
    assert created(master) == 0
