"""`watch` end to end on the local registry, through the real CLI: each version evaluated exactly
once, compared with the baseline, promoted or held; crash-safe under kill -9; two watchers."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from eval_orchestrator.watch.ledger import Ledger
from tests.cli import CLI, Completed, invoke, spawn

SKILL = Path(__file__).parent / "fixtures" / "skill_tasks.py"


def write_plan(root: Path, **watch: object) -> Path:
    settings = {
        "collections": ["local-registry/tiny"],
        "baseline": "prod",
        "promote": "staging",
        "ledger": str(root / "ledger.sqlite"),
        "interval": 1,
        "backoff_seconds": 0,
        **watch,
    }
    plan = {
        "tasks": [{"spec": f"{SKILL}@skill"}],
        "model": {"name": "mockllm/{path}", "args": {}},
        "inspect": {"log_dir": str(root / "logs"), "display": "none"},
        "wandb": {"mode": "offline", "project": "evals"},
        "watch": settings,
    }
    path = root / "plan.yaml"
    path.write_text(json.dumps(plan))  # JSON is YAML
    return path


def register(root: Path, skill: int, *aliases: str) -> None:
    source = root / f"ckpt-{skill}-{len(list(root.glob('ckpt-*')))}"
    source.mkdir()
    (source / "skill.txt").write_text(str(skill))
    alias_args = [arg for alias in aliases for arg in ("--alias", alias)]
    done = invoke("registry", "add", str(source), "--name", "tiny", *alias_args)
    assert done.returncode == 0, done.stderr


def watch_once(plan: Path, env: dict[str, str] | None = None) -> Completed:
    """`watch --once` in this process; with EVAL_ORCHESTRATOR_TEST_KILL_AT in ``env``, as its own
    process, which that kills with SIGKILL."""
    if env and "EVAL_ORCHESTRATOR_TEST_KILL_AT" in env:
        return spawn("watch", "--config", str(plan), "--once", env=env)
    return invoke("watch", "--config", str(plan), "--once", env=env)


def aliases(root: Path) -> dict[str, str]:
    listed = invoke("registry", "ls", "tiny", "--json").stdout
    return {alias: row["version"] for row in json.loads(listed) for alias in row["aliases"]}


def eval_logs(root: Path) -> dict[str, int]:
    # The plan (mockllm, not the default hf model) keeps its logs in a plan-<hash> folder of each version's.
    return {d.name.split("-")[0]: len(list(d.rglob("*.eval"))) for d in (root / "logs" / "tiny").iterdir()}


def test_every_version_once_the_better_promoted_the_worse_held(isolated_env: Path) -> None:
    plan = write_plan(isolated_env)
    register(isolated_env, 10, "prod")
    first = watch_once(plan)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "baseline: local-registry/tiny:v0" in first.stderr

    register(isolated_env, 16)  # v1: better
    register(isolated_env, 4)  # v2: worse
    second = watch_once(plan)
    assert second.returncode == 3, second.stderr[-3000:]
    assert "promoted: local-registry/tiny:v1" in second.stderr and "held: local-registry/tiny:v2" in second.stderr
    assert second.stderr.count("evaluating local-registry/tiny:v") == 2  # v0 was not evaluated again
    assert "decision: held by the gate: local-registry/tiny:v2" in second.stderr  # a decision, not an error
    assert "…" not in second.stderr  # off a terminal the table is as wide as it needs, no cell cut
    assert aliases(isolated_env)["staging"] == "v1" and aliases(isolated_env)["prod"] == "v0"
    assert eval_logs(isolated_env) == {"v0": 1, "v1": 1, "v2": 1}
    entries = {e.version: e for e in Ledger(isolated_env / "ledger.sqlite").entries()}
    assert {v: e.state for v, e in entries.items()} == {"v0": "baseline", "v1": "promoted", "v2": "held"}
    assert entries["v2"].decision is not None
    assert "regressed against v0: skill/includes (worse" in entries["v2"].decision.reason
    # The trail: the watcher's move with the decision it relied on; the held version cannot be promoted.
    [move] = json.loads(invoke("registry", "history", "tiny", "--json").stdout)
    assert (move["alias"], move["version"], move["by"], move["evidence"]["outcome"]) == (
        "staging",
        "v1",
        "watch",
        "passed",
    )
    refused = invoke("promote", "local-registry/tiny:v2", "--alias", "prod", "--reason", "ship")
    assert refused.returncode == 3 and "held by the gate against local-registry/tiny:v0" in refused.stderr

    runs_before = sorted((isolated_env / "wb" / "wandb").glob("offline-run-*"))
    third = watch_once(plan)
    assert third.returncode == 0 and "nothing new" in third.stderr, third.stderr[-3000:]
    assert sorted((isolated_env / "wb" / "wandb").glob("offline-run-*")) == runs_before  # no new run
    assert eval_logs(isolated_env) == {"v0": 1, "v1": 1, "v2": 1}


def test_no_baseline_is_held_unless_allow_first(isolated_env: Path) -> None:
    register(isolated_env, 10)
    held = watch_once(write_plan(isolated_env))
    assert held.returncode == 3 and "no baseline (prod) to compare with; allow_first is off" in held.stderr
    register(isolated_env, 12)
    allowed = watch_once(write_plan(isolated_env, allow_first=True))
    assert allowed.returncode == 0, allowed.stderr[-3000:]
    assert "promoted: local-registry/tiny:v1" in allowed.stderr and aliases(isolated_env)["staging"] == "v1"


def comparison_runs(root: Path) -> tuple[int, int]:
    """(comparison records in the spool, offline folders of comparison runs)."""
    spool = root / "wb" / "wandb"
    records = [
        json.loads(line) for line in (spool / "eval-orchestrator" / "comparisons.jsonl").read_text().splitlines()
    ]
    ids = {record["run_id"] for record in records}
    folders = [f for f in spool.glob("offline-run-*") if f.name.rsplit("-", 1)[-1] in ids]
    return len(records), len(folders)


def run_folders(root: Path) -> dict[str, int]:
    """Offline W&B run folders per run id."""
    counts: dict[str, int] = {}
    for folder in (root / "wb" / "wandb").glob("offline-run-*"):
        counts[folder.name.rsplit("-", 1)[-1]] = counts.get(folder.name.rsplit("-", 1)[-1], 0) + 1
    return counts


@pytest.mark.parametrize("state", ["evaluating", "evaluated", "compared", "logged", "promoting"])
def test_a_watcher_killed_at_each_state_resumes_without_doing_anything_twice(isolated_env: Path, state: str) -> None:
    plan = write_plan(isolated_env)
    register(isolated_env, 10, "prod")
    assert watch_once(plan).returncode == 0
    register(isolated_env, 16)
    killed = watch_once(plan, {"EVAL_ORCHESTRATOR_TEST_KILL_AT": state})
    assert killed.returncode == -9, killed.stderr[-3000:]  # a real kill -9, at that state
    resumed = watch_once(plan)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "promoted: local-registry/tiny:v1" in resumed.stderr
    assert aliases(isolated_env)["staging"] == "v1"
    assert eval_logs(isolated_env)["v1"] == 1  # eval_set reused what was done: one log
    [v1] = [e for e in Ledger(isolated_env / "ledger.sqlite").entries() if e.version == "v1"]
    assert v1.state == "promoted" and v1.claimed_by is None and v1.attempts == 1  # the kill spent no attempt
    moves = json.loads(invoke("registry", "history", "tiny", "--json").stdout)
    assert [(m["alias"], m["version"]) for m in moves] == [("staging", "v1")]  # recorded once
    assert comparison_runs(isolated_env) == (1, 1)  # the comparison was logged to W&B once
    assert set(run_folders(isolated_env).values()) == {1}  # one offline run folder per run id
    assert watch_once(plan).returncode == 0  # and then nothing is left to do


def test_a_watcher_killed_mid_eval_reuses_every_finished_sample(isolated_env: Path) -> None:
    import os
    import signal
    import subprocess
    import time

    solved = isolated_env / "solved.txt"
    plan = write_plan(isolated_env, allow_first=True)
    settings = json.loads(plan.read_text())
    slow = Path(__file__).parent / "fixtures" / "slow_tasks.py"
    settings["tasks"] = [{"spec": f"{slow}@slow", "args": {"count": 10, "delay": 0.3, "record": str(solved)}}]
    settings["model"] = {"name": "mockllm/model", "args": {}}
    settings["inspect"]["max_samples"] = 1
    plan.write_text(json.dumps(settings))
    register(isolated_env, 10)
    proc = subprocess.Popen([*CLI, "watch", "--config", str(plan), "--once"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (solved.exists() and len(solved.read_text().split()) >= 4):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-2000:]
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    before = solved.read_text().split()
    resumed = watch_once(plan)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "(attempt 1 of 3)" in resumed.stderr  # the dead attempt was not spent
    after = solved.read_text().split()
    redone = [sample for sample in set(after) if after.count(sample) > 1]
    # Every sample that finished before the kill was reused; at most the one in flight (max_samples 1)
    # when the kill landed was solved again.
    assert sorted(set(after)) == sorted(str(i) for i in range(10)) and redone in ([], [before[-1]]), (before, after)
    assert eval_logs(isolated_env) == {"v0": 1}  # one .eval for the task: the dead attempt's is gone
    assert set(run_folders(isolated_env).values()) == {1}  # and one W&B run folder


def test_two_watchers_on_one_ledger_never_run_the_same_version(isolated_env: Path) -> None:
    import os

    plan = write_plan(isolated_env, start="all")
    register(isolated_env, 10, "prod")
    for skill in (12, 14, 16):
        register(isolated_env, skill)
    args = [*CLI, "watch", "--config", str(plan), "--once"]
    both = [subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=dict(os.environ)) for _ in range(2)]
    errs = [proc.communicate(timeout=300)[1] for proc in both]
    codes = [proc.returncode for proc in both]
    assert all(code in (0, 3) for code in codes), [(code, err[-1500:]) for code, err in zip(codes, errs, strict=True)]
    started = [line for err in errs for line in err.splitlines() if line.startswith("evaluating ")]
    assert sorted(started) == sorted(set(started)) and len(started) == 4, started  # v0..v3, each once
    assert eval_logs(isolated_env) == {"v0": 1, "v1": 1, "v2": 1, "v3": 1}
    states = {e.version: e.state for e in Ledger(isolated_env / "ledger.sqlite").entries()}
    assert states == {"v0": "baseline", "v1": "promoted", "v2": "promoted", "v3": "promoted"}


def test_webhook_queues_a_version_into_the_same_ledger(isolated_env: Path) -> None:
    """W&B Automations' POSTs: bad token 401, malformed 400, oversized 413, outside 422, good 202."""
    import os
    import signal
    import socket
    import time

    import requests

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    plan = write_plan(isolated_env, interval=3600, start="now")  # only the webhook brings versions in
    register(isolated_env, 10, "prod")
    env = {**os.environ, "EVAL_ORCHESTRATOR_WEBHOOK_TOKEN": "s3cret-token"}
    args = [*CLI, "watch", "--config", str(plan), "--listen", f"127.0.0.1:{port}", "--log-format", "json"]
    watcher = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if requests.get(f"{url}/healthz", timeout=1).json() == {"ok": True}:
                    break
            except (requests.ConnectionError, requests.Timeout):  # bound at once, served once the watcher is up
                time.sleep(0.1)
        good = {"Authorization": "Bearer s3cret-token"}
        payload = {"event_type": "LINK_ARTIFACT", "artifact_version_string": "local-registry/tiny:v1"}
        assert requests.post(f"{url}/webhook", json=payload, timeout=10).status_code == 401
        assert (
            requests.post(f"{url}/webhook", json=payload, headers={"Authorization": "Bearer nope"}).status_code == 401
        )
        assert requests.post(f"{url}/webhook", data=b"{not json", headers=good).status_code == 400
        assert requests.post(f"{url}/webhook", json={"event_type": "x"}, headers=good).status_code == 400
        assert requests.post(f"{url}/webhook", data=b"x" * 70_000, headers=good).status_code == 413
        outside = {**payload, "artifact_version_string": "local-registry/other:v0"}
        assert requests.post(f"{url}/webhook", json=outside, headers=good).status_code == 422
        assert not Ledger(isolated_env / "ledger.sqlite").entries()  # nothing queued so far

        register(isolated_env, 16)  # v1 lands; W&B's automation would call now
        accepted = requests.post(f"{url}/webhook", json=payload, headers=good, timeout=30)
        assert accepted.status_code == 202 and accepted.json()["queued"] == "local-registry/tiny:v1"
        for _ in range(600):
            status = requests.get(f"{url}/status", headers=good, timeout=5).json()
            states = {e["version"]: e["state"] for e in status["entries"]}
            if states.get("v1") == "promoted":
                break
            time.sleep(0.1)
        assert states == {"v0": "baseline", "v1": "promoted"}, states
    finally:
        watcher.send_signal(signal.SIGTERM)
        _, err = watcher.communicate(timeout=60)
    assert watcher.returncode == 143, err[-3000:]
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(line["message"].startswith("promoted: local-registry/tiny:v1") for line in lines)
    assert aliases(isolated_env)["staging"] == "v1"


def test_a_watched_collection_that_does_not_exist_is_refused_at_start(isolated_env: Path) -> None:
    from tests.test_cli import assert_one_line_error

    assert_one_line_error(watch_once(write_plan(isolated_env)), "collection 'tiny' not found", code=2)
    assert not (isolated_env / "ledger.sqlite").exists()  # refused before the ledger is touched


def test_promoting_to_a_version_name_is_refused_at_start(isolated_env: Path) -> None:
    from tests.test_cli import assert_one_line_error

    register(isolated_env, 10, "prod")
    done = watch_once(write_plan(isolated_env, promote="v3"))
    assert_one_line_error(done, "watch.promote: alias 'v3' looks like a version", code=2)
