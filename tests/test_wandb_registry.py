"""The W&B backend through the real SDK against the loopback W&B-protocol server."""

from __future__ import annotations

import base64
import hashlib
import threading
from pathlib import Path

import pytest

from eval_orchestrator import orchestrate
from eval_orchestrator.config import build_store_config
from eval_orchestrator.errors import RegistryError, Unavailable, VerificationFailed
from tests.servers.wandb_server import ORG_ENTITY, VIEWER, Server
from tests.trees import read_tree

FILES = {"config.json": b'{"n_layer": 2}', "weights.bin": bytes(range(256)) * 1200, "sub/tok.json": b"{}"}
REGISTRY = (ORG_ENTITY, "wandb-registry-model")


def _b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


@pytest.mark.parametrize(
    "ref",
    [
        "wandb-registry-model/tiny:prod",  # registry, org from the viewer's only organization
        "acme/wandb-registry-model/tiny:prod",  # registry with the org's display name
        "acme-org/wandb-registry-model/tiny:v0",  # registry with the org entity and a version index
        f"{VIEWER}/model-registry/tiny:prod",  # legacy model registry, migrated to the org registry
    ],
)
def test_registry_reference_forms_resolve_to_the_same_version(wandb_server: Server, ref: str) -> None:
    wandb_server.state.add_version(*REGISTRY, "tiny", FILES, ("prod",), metadata={"step": 7}, description="first")
    item = orchestrate.resolve(ref)
    assert item.resolved.version == "v0"
    assert item.resolved.aliases == ("latest", "prod")
    assert item.resolved.metadata == {"step": 7}
    assert item.resolved.description == "first"
    assert item.resolved.created_at
    assert read_tree(item.path) == FILES
    assert item.bytes_copied == sum(len(b) for b in FILES.values())


def test_registry_org_from_wandb_entity(wandb_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    wandb_server.state.add_version(*REGISTRY, "tiny", FILES, ("prod",))
    monkeypatch.setenv("WANDB_ENTITY", ORG_ENTITY)  # a team entity: its organization is the org
    assert orchestrate.resolve("wandb-registry-model/tiny:prod").resolved.version == "v0"
    assert "GetDefaultEntity" not in wandb_server.state.operations


def test_team_project_reference_and_alias_move(wandb_server: Server, isolated_env: Path) -> None:
    state = wandb_server.state
    v0 = state.add_version("team", "proj", "tiny", FILES, ("prod",))
    first = orchestrate.resolve("team/proj/tiny:prod")
    assert first.resolved.version == "v0" and first.resolved.digest == v0.digest

    changed = dict(FILES, **{"weights.bin": b"new weights"})
    state.add_version("team", "proj", "tiny", changed, ("prod",))  # `prod` moves to v1
    second = orchestrate.resolve("team/proj/tiny:prod")
    assert second.resolved.version == "v1"
    assert read_tree(second.path) == changed
    assert first.path.is_dir() and read_tree(first.path) == FILES  # the old version stays cached

    gets = len(state.file_gets)
    again = orchestrate.resolve("team/proj/tiny:v0")
    assert again.path == first.path and again.bytes_copied == 0
    assert len(state.file_gets) == gets, "a warm resolve must not download"
    # One copy only: nothing under W&B's own cache or ./artifacts.
    assert not list((isolated_env / "wb-cache").rglob("*.bin"))
    assert not (isolated_env / "artifacts").exists()


@pytest.mark.parametrize("fault", ["corrupt", "truncate"])
def test_bad_bytes_are_refused_and_nothing_is_left(wandb_server: Server, fault: str, isolated_env: Path) -> None:
    wandb_server.state.add_version("team", "proj", "tiny", FILES)
    getattr(wandb_server.state.faults, fault).add("weights.bin")
    with pytest.raises(VerificationFailed, match=r"'weights.bin' of tiny:v0"):
        orchestrate.resolve("team/proj/tiny:latest")
    store = isolated_env / "store" / "checkpoints" / "tiny"
    assert [p.name for p in store.iterdir()] == []  # no partial dir, no entry


def test_missing_artifact_alias_and_project_are_one_line_errors(wandb_server: Server) -> None:
    wandb_server.state.add_version("team", "proj", "tiny", FILES)
    with pytest.raises(RegistryError, match="team/proj/nope:latest not found"):
        orchestrate.resolve("team/proj/nope")
    with pytest.raises(RegistryError, match="no version or alias 'prod' of 'tiny'"):
        orchestrate.resolve("team/proj/tiny:prod")
    with pytest.raises(RegistryError, match="in team/other, or no such project there"):
        orchestrate.resolve("team/other/tiny:latest")


def test_bad_api_key(wandb_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "f1" * 20)
    with pytest.raises(RegistryError, match="rejected the API key; check WANDB_API_KEY"):
        orchestrate.resolve("team/proj/tiny:latest")


def test_unreachable_base_url(unreachable_wandb: str) -> None:
    with pytest.raises(Unavailable, match=f"cannot reach W&B at {unreachable_wandb}"):
        orchestrate.resolve("team/proj/tiny:latest")


def test_unknown_operation_is_named(wandb_server: Server) -> None:
    import wandb

    with pytest.raises(Exception, match="unknown operation 'NoSuchOperation'"):
        wandb.Api()._service_api.execute_graphql("query NoSuchOperation { viewer { id } }")


# -- '-local' artifacts -----------------------------------------------------------------------


def _local_refs(root: Path, files: dict[str, bytes]) -> dict[str, dict[str, object]]:
    return {
        name: {"ref": (root / name).as_uri(), "digest": _b64(data), "size": len(data)} for name, data in files.items()
    }


def _write(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)


def test_complete_local_artifact_is_used_in_place(wandb_server: Server, tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "step-5"
    _write(shared, FILES)
    wandb_server.state.add_version("team", "proj", "tiny", {}, ("step-5-local",), refs=_local_refs(shared, FILES))
    item = orchestrate.resolve("team/proj/tiny:step-5")
    assert item.path == shared and item.bytes_copied == 0
    assert item.resolved.in_place == str(shared)
    assert wandb_server.state.file_gets == []


def test_local_artifact_with_wrong_bytes_of_right_size_is_not_used(wandb_server: Server, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    _write(shared, dict(FILES, **{"config.json": b'{"n_layer": 3}'}))  # same size, other bytes
    wandb_server.state.add_version("team", "proj", "tiny", {}, ("step-5-local",), refs=_local_refs(shared, FILES))
    store = build_store_config({"wait_timeout": 0.3, "poll_interval": 0.1})
    with pytest.raises(RegistryError, match=r"'config\.json' does not match its digest"):
        orchestrate.resolve("team/proj/tiny:step-5", store)


def test_incomplete_local_waits_for_the_upload(wandb_server: Server, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    _write(shared, {k: v[: len(v) // 2] for k, v in FILES.items()})  # the trainer is still writing
    state = wandb_server.state
    state.add_version("team", "proj", "tiny", {}, ("step-5-local",), refs=_local_refs(shared, FILES))
    uploaded = threading.Timer(0.6, lambda: state.add_version("team", "proj", "tiny", FILES, ("step-5",)))
    uploaded.start()
    lines: list[str] = []
    store = build_store_config({"wait_timeout": 30, "poll_interval": 0.2})
    item = orchestrate.resolve("team/proj/tiny:step-5", store, notify=lines.append)
    uploaded.join()
    assert item.resolved.version == "v1" and item.resolved.in_place is None
    assert read_tree(item.path) == FILES
    assert any("waiting for team/proj/tiny:step-5" in line and "has" in line for line in lines)


def test_wait_times_out_with_what_it_waited_for(wandb_server: Server, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    wandb_server.state.add_version("team", "proj", "tiny", {}, ("step-5-local",), refs=_local_refs(shared, FILES))
    store = build_store_config({"wait_timeout": 0.5, "poll_interval": 0.1})
    with pytest.raises(RegistryError, match=r"timed out after 0.5s waiting for team/proj/tiny:step-5 to be uploaded"):
        orchestrate.resolve("team/proj/tiny:step-5", store)


def test_neither_alias_nor_local_fails_at_once(wandb_server: Server) -> None:
    wandb_server.state.add_version("team", "proj", "tiny", FILES)
    store = build_store_config({"wait_timeout": 3600})
    with pytest.raises(RegistryError, match=r"nor 'step-9-local'"):
        orchestrate.resolve("team/proj/tiny:step-9", store)


# -- WANDB_CACHE_SKIP -------------------------------------------------------------------------


def test_cache_skip_keeps_nothing(wandb_server: Server, isolated_env: Path) -> None:
    wandb_server.state.add_version("team", "proj", "tiny", FILES)
    store = build_store_config({"cache_skip": True})
    item = orchestrate.resolve("team/proj/tiny:latest", store)
    assert read_tree(item.path) == FILES  # usable while leased
    assert orchestrate.release([item], store) == [item]
    assert not item.path.exists()
    assert [p.name for p in (isolated_env / "store" / "checkpoints" / "tiny").iterdir()] == []


def test_cache_skip_uses_a_kept_copy_and_leaves_it(wandb_server: Server) -> None:
    wandb_server.state.add_version("team", "proj", "tiny", FILES)
    kept = orchestrate.resolve("team/proj/tiny:latest")
    store = build_store_config({"cache_skip": True})
    leased = orchestrate.resolve("team/proj/tiny:latest", store)
    assert leased.path == kept.path and leased.bytes_copied == 0
    assert orchestrate.release([leased], store) == []
    assert kept.path.is_dir()
