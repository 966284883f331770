"""The audited alias trail: `promote` with who/when/why/previous/evidence, the refusal of a held version
and the recorded override, and `registry history`, on the local registry and on W&B (the loopback
W&B-protocol server: the record is round-tripped through the artifact's metadata)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

from eval_orchestrator.config import build_store_config
from eval_orchestrator.refs import CheckpointRef
from eval_orchestrator.registry.factory import Registries
from eval_orchestrator.trail import METADATA_KEY, TRAIL_FILE, GateEvidence, now, record_gate
from tests.servers.wandb_server import VIEWER, Server
from tests.test_cli import assert_one_line_error, cli
from tests.test_compare import _register


def _hold(ref: str) -> None:
    """What `gate` and `watch` record when the gate holds a version (the same function they call)."""
    evidence = GateEvidence(outcome="held", source="gate", reason="held on qa/acc (worse)", decided_at=now(),
                            baseline="local-registry/tiny:v0", baseline_digest="d" * 32)  # fmt: skip
    record_gate(Registries(build_store_config()), CheckpointRef.parse(ref), evidence)


def _history(collection: str) -> list[dict[str, object]]:
    listed = cli("registry", "history", collection, "--json")
    assert listed.returncode == 0, listed.stderr
    moves: list[dict[str, object]] = json.loads(listed.stdout)
    return moves


def test_promote_records_who_when_why_and_from_which_version(isolated_env: Path) -> None:
    _register(isolated_env, "tiny", 3)
    first = cli("promote", "local-registry/tiny:v1", "--alias", "prod", "--reason", "better on qa", "--json")
    assert first.returncode == 0, first.stderr
    move = json.loads(first.stdout)
    assert (move["alias"], move["version"], move["previous"], move["by"]) == ("prod", "v1", None, "promote")
    assert move["who"] == getpass.getuser() and move["reason"] == "better on qa" and move["override"] is False
    assert move["evidence"] is None  # no gate ever decided on v1
    second = cli("promote", "local-registry/tiny:v2", "--alias", "prod", "--reason", "rolled forward")
    assert second.returncode == 0 and "prod -> local-registry/tiny:v2 (from v1)" in second.stdout
    by_hand = cli("registry", "alias", "local-registry/tiny:v0", "prod", "--reason", "rollback")
    assert by_hand.returncode == 0, by_hand.stderr
    moves = _history("tiny")
    assert [(m["version"], m["previous"], m["reason"]) for m in moves] == [
        ("v1", None, "better on qa"), ("v2", "v1", "rolled forward"), ("v0", "v2", "rollback"),
    ]  # fmt: skip
    assert cli("resolve", "local-registry/tiny:prod", "--json").returncode == 0
    trail = (isolated_env / "registry" / TRAIL_FILE).read_text().splitlines()
    assert [json.loads(line)["version"] for line in trail] == ["v1", "v2", "v0"]  # the local trail too
    shown = cli("registry", "history", "tiny")
    assert "prod -> v0 from v2" in shown.stdout and "rollback" in shown.stdout


def test_a_held_version_is_refused_unless_overridden_and_the_override_is_recorded(isolated_env: Path) -> None:
    _register(isolated_env, "tiny", 2)
    assert cli("promote", "local-registry/tiny:v0", "--alias", "prod", "--reason", "baseline").returncode == 0
    _hold("local-registry/tiny:v1")
    refused = cli("promote", "local-registry/tiny:v1", "--alias", "prod", "--reason", "ship it")
    assert_one_line_error(refused, "held by the gate against local-registry/tiny:v0", code=3)
    assert "--override" in refused.stderr
    by_hand = cli("registry", "alias", "local-registry/tiny:v1", "prod")
    assert_one_line_error(by_hand, "held by the gate", code=3)  # `registry alias` is no way around it
    assert [m["version"] for m in _history("tiny")] == ["v0"]  # nothing moved, nothing recorded

    forced = cli("promote", "local-registry/tiny:v1", "--alias", "prod", "--reason", "hotfix, see INC-12",
                 "--override", "--json")  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    move = json.loads(forced.stdout)
    assert move["override"] is True and move["previous"] == "v0"
    assert move["evidence"]["outcome"] == "held" and move["evidence"]["baseline"] == "local-registry/tiny:v0"
    assert "OVERRIDE" in cli("registry", "history", "tiny").stdout


def test_bad_reasons_are_refused(isolated_env: Path) -> None:
    _register(isolated_env, "tiny", 1)
    assert_one_line_error(cli("promote", "local-registry/tiny:v0", "--alias", "prod", "--reason", "  "), "empty")
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    leaked = cli("promote", "local-registry/tiny:v0", "--alias", "prod", "--reason", f"token {token}")
    assert_one_line_error(leaked, "--reason holds what looks like")
    assert token not in leaked.stderr
    assert_one_line_error(cli("promote", "local-registry/tiny:v0", "--alias", "v3", "--reason", "x"), "alias")
    assert _history("tiny") == []


def test_the_trail_round_trips_through_wandb_metadata(wandb_server: Server, isolated_env: Path) -> None:
    state = wandb_server.state
    state.add_version("acme-org", "wandb-registry-model", "tiny", {"w.bin": b"0"}, ("prod",))
    state.add_version("acme-org", "wandb-registry-model", "tiny", {"w.bin": b"1"})
    state.add_version("acme-org", "wandb-registry-model", "tiny", {"w.bin": b"2"}, metadata={"lr": 0.1})
    moved = cli("promote", "wandb-registry-model/tiny:v1", "--alias", "prod", "--reason", "qa +0.04", "--json")
    assert moved.returncode == 0, moved.stderr
    move = json.loads(moved.stdout)
    assert move["who"] == f"{VIEWER} (W&B)" and move["previous"] == "v0"
    coll = state.collections[("acme-org", "wandb-registry-model", "tiny")]
    assert coll.aliases["prod"] == 1
    assert coll.versions[1].metadata[METADATA_KEY]["alias_moves"][0]["reason"] == "qa +0.04"

    _hold("wandb-registry-model/tiny:v2")
    assert coll.versions[2].metadata["lr"] == 0.1  # the version's own metadata is kept
    assert coll.versions[2].metadata[METADATA_KEY]["gate"]["outcome"] == "held"
    refused = cli("promote", "wandb-registry-model/tiny:v2", "--alias", "prod", "--reason", "try")
    assert_one_line_error(refused, "held by the gate", code=3)
    assert coll.aliases["prod"] == 1
    forced = cli("promote", "wandb-registry-model/tiny:v2", "--alias", "prod", "--reason", "try", "--override")
    assert forced.returncode == 0, forced.stderr
    moves = _history("wandb-registry-model/tiny")
    assert [(m["version"], m["previous"], m["override"]) for m in moves] == [("v1", "v0", False), ("v2", "v1", True)]
