"""`watch` on a W&B registry collection through the W&B test server: an alias moving is the trigger,
promotion adds an alias through the SDK, and a poll costs a fixed handful of requests."""

from __future__ import annotations

import json
from pathlib import Path

from eval_orchestrator.config import build_config
from eval_orchestrator.watch.loop import Watcher
from tests.cli import invoke
from tests.servers.wandb_server import Server
from tests.test_watch import watch_once

SKILL = Path(__file__).parent / "fixtures" / "skill_tasks.py"


def _decisions(server: Server) -> dict[str, dict[str, object]]:
    """The watch decision in each results artifact version's metadata, by its checkpoint alias."""
    return {
        alias: version.metadata["watch_decision"]
        for coll in server.state.collections.values()
        if coll.type == "eval-results"
        for version in coll.versions
        if "watch_decision" in version.metadata
        for alias, index in coll.aliases.items()
        if index == version.index and alias.startswith("tiny-v")
    }


def _plan(root: Path, mode: str = "offline") -> Path:
    plan = {
        "tasks": [{"spec": f"{SKILL}@skill"}],
        "model": {"name": "mockllm/{path}", "args": {}},
        "inspect": {"log_dir": str(root / "logs"), "display": "none"},
        "wandb": {"mode": mode, "project": "evals", "entity": "team"},
        "watch": {
            "collections": ["team/models/tiny:candidate"],  # every time this alias moves
            "baseline": "prod",
            "promote": "staging",
            "ledger": str(root / "ledger.sqlite"),
            "backoff_seconds": 0,
        },
    }
    path = root / "plan.yaml"
    path.write_text(json.dumps(plan))
    return path


def test_an_alias_move_in_w_and_b_is_evaluated_compared_and_promoted(wandb_server: Server, isolated_env: Path) -> None:
    state = wandb_server.state
    state.add_version("team", "models", "tiny", {"skill.txt": b"10"}, ("prod",))
    plan = _plan(isolated_env)
    quiet = watch_once(plan)
    assert quiet.returncode == 0 and "nothing new" in quiet.stderr, quiet.stderr[-3000:]  # no 'candidate' yet

    state.add_version("team", "models", "tiny", {"skill.txt": b"16"}, ("candidate",))  # v1, better
    first = watch_once(plan)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "promoted: team/models/tiny:v1" in first.stderr
    coll = state.collections[("team", "models", "tiny")]
    assert coll.aliases["staging"] == 1 and coll.aliases["prod"] == 0  # promoted in W&B, through the SDK

    state.add_version("team", "models", "tiny", {"skill.txt": b"4"}, ("candidate",))  # v2, worse
    second = watch_once(plan)
    assert second.returncode == 3 and "held: team/models/tiny:v2" in second.stderr, second.stderr[-3000:]
    assert coll.aliases["staging"] == 1
    assert watch_once(plan).returncode == 0  # nothing moved since: nothing to do

    # Offline, the decisions wait in the spool; `sync` puts them into the versions' results artifacts.
    assert not _decisions(wandb_server)
    synced = invoke("sync")
    assert synced.returncode == 0, synced.stderr[-3000:]
    decisions = _decisions(wandb_server)
    assert decisions["tiny-v1"]["outcome"] == "promoted"
    assert decisions["tiny-v1"]["promote_alias"] == "staging"
    assert decisions["tiny-v2"]["outcome"] == "held"
    [row] = decisions["tiny-v2"]["rows"]  # type: ignore[misc]
    assert row["verdict"] == "worse" and row["delta"] < 0 and row["ci_high"] < 0
    again = invoke("sync")
    assert again.returncode == 0 and "put the watch decision" not in again.stderr


def test_online_the_decision_goes_straight_into_the_results_artifact(wandb_server: Server, isolated_env: Path) -> None:
    state = wandb_server.state
    state.add_version("team", "models", "tiny", {"skill.txt": b"10"}, ("prod",))
    plan = _plan(isolated_env, mode="online")
    state.add_version("team", "models", "tiny", {"skill.txt": b"16"}, ("candidate",))
    done = watch_once(plan, {"WANDB_MODE": "online"})  # the environment's offline would win over the file
    assert done.returncode == 0, done.stderr[-3000:]
    decision = _decisions(wandb_server)["tiny-v1"]
    assert decision["outcome"] == "promoted" and decision["baseline"] == "team/models/tiny:v0"
    assert decision["digest"] == state.collections[("team", "models", "tiny")].versions[1].digest


def test_a_poll_of_a_hundred_versions_costs_a_fixed_number_of_requests(
    wandb_server: Server, isolated_env: Path
) -> None:
    state = wandb_server.state
    for index in range(100):
        state.add_version("team", "models", "big", {"skill.txt": str(index % 20).encode()})
    plan = json.loads(_plan(isolated_env).read_text())
    plan["watch"]["collections"] = ["team/models/big"]
    config = build_config(None, {**plan, "checkpoints": ["team/models/big"]})
    watcher = Watcher(config)
    counts = []
    for _ in range(3):
        before = len(state.operations)
        watcher.poll()
        counts.append(state.operations[before:])
    # The first poll opens the API session and learns the collection's type; then one listing a cycle.
    assert counts[1] == counts[2] == ["ProjectArtifacts"], counts
    print(f"\nGraphQL requests per poll of a 100-version collection: first {counts[0]}, then {counts[1]}")

    # Versions that land between two polls are all seen (a listing, not the newest alias).
    state.add_version("team", "models", "big", {"skill.txt": b"1"})
    state.add_version("team", "models", "big", {"skill.txt": b"2"})
    assert [str(ref) for ref in watcher.poll()] == ["team/models/big:v100", "team/models/big:v101"]
