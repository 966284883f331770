import json
from pathlib import Path

import pytest

from eval_orchestrator.checkpoint import file_digest
from eval_orchestrator.errors import RegistryError, UserError
from eval_orchestrator.refs import CollectionRef, parse_ref
from eval_orchestrator.registry.local import LocalRegistry


def test_versions_are_immutable_and_latest_moves(tmp_path: Path, checkpoint_dir: Path) -> None:
    registry = LocalRegistry(tmp_path / "reg")
    v0 = registry.add(checkpoint_dir, "tiny", aliases=["prod"], metadata={"step": 100})
    (checkpoint_dir / "config.json").write_text('{"n_layer": 3}')
    v1 = registry.add(checkpoint_dir, "tiny")
    assert (v0.version, v1.version) == ("v0", "v1")
    assert v0.digest != v1.digest

    assert registry.resolve(parse_ref("local-registry/tiny:latest")).version == "v1"
    assert registry.resolve(parse_ref("local-registry/tiny:prod")).version == "v0"
    old = registry.resolve(parse_ref("local-registry/tiny:v0"))
    assert old.digest == v0.digest  # editing the source dir later did not touch v0
    assert old.metadata == {"step": 100}
    assert old.aliases == ("prod",)
    assert registry.resolve(parse_ref("local-registry/tiny:v1")).aliases == ("latest",)


def test_manifest_is_wandb_format(tmp_path: Path, checkpoint_dir: Path) -> None:
    registry = LocalRegistry(tmp_path / "reg")
    resolved = registry.add(checkpoint_dir, "tiny")
    stored = json.loads((tmp_path / "reg/tiny/versions/v0/manifest.json").read_text())
    assert stored["storagePolicy"] == "wandb-storage-policy-v1"
    entry = stored["contents"]["sub/tokenizer.json"]
    assert (entry["digest"], entry["size"]) == file_digest(checkpoint_dir / "sub/tokenizer.json")
    assert resolved.manifest.total_bytes == sum(p.stat().st_size for p in checkpoint_dir.rglob("*") if p.is_file())


def test_manifest_digest_matches_wandb_sdk(tmp_path: Path, checkpoint_dir: Path) -> None:
    """Our manifest digest is W&B's, so a checkpoint keeps its identity across backends."""
    import wandb

    resolved = LocalRegistry(tmp_path / "reg").add(checkpoint_dir, "tiny")
    artifact = wandb.Artifact("tiny", type="model")
    artifact.add_dir(str(checkpoint_dir))
    assert artifact.manifest.digest() == resolved.digest


def test_alias_moves_on_request(tmp_path: Path, checkpoint_dir: Path) -> None:
    registry = LocalRegistry(tmp_path / "reg")
    registry.add(checkpoint_dir, "tiny", aliases=["prod"])
    registry.add(checkpoint_dir, "tiny")
    assert registry.resolve(parse_ref("local-registry/tiny:prod")).version == "v0"
    registry.set_alias(parse_ref("local-registry/tiny:v1"), "prod")
    assert registry.resolve(parse_ref("local-registry/tiny:prod")).version == "v1"
    assert [r.aliases for r in registry.list_versions(CollectionRef("local", "tiny"))] == [(), ("latest", "prod")]


def test_unknown_collection_version_alias(tmp_path: Path, checkpoint_dir: Path) -> None:
    registry = LocalRegistry(tmp_path / "reg")
    with pytest.raises(RegistryError, match="collection 'tiny' not found"):
        registry.resolve(parse_ref("local-registry/tiny:v0"))
    registry.add(checkpoint_dir, "tiny")
    with pytest.raises(RegistryError, match="version v5 of 'tiny' not found"):
        registry.resolve(parse_ref("local-registry/tiny:v5"))
    with pytest.raises(RegistryError, match="alias 'prod' not found"):
        registry.resolve(parse_ref("local-registry/tiny:prod"))


def test_bad_input_to_add(tmp_path: Path, checkpoint_dir: Path) -> None:
    registry = LocalRegistry(tmp_path / "reg")
    with pytest.raises(UserError, match="not found"):
        registry.add(tmp_path / "missing", "tiny")
    with pytest.raises(UserError, match="collection name"):
        registry.add(checkpoint_dir, "bad:name")
    with pytest.raises(UserError, match="alias 'v3'"):
        registry.add(checkpoint_dir, "tiny", aliases=["v3"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no files"):
        registry.add(tmp_path / "empty", "tiny")
    assert registry.collections() == []  # nothing half-registered
