import os
import threading
from pathlib import Path

import pytest

from eval_orchestrator.checkpoint import manifest_of_dir
from eval_orchestrator.errors import StoreError, VerificationFailed
from eval_orchestrator.refs import parse_ref
from eval_orchestrator.registry.local import LocalRegistry
from eval_orchestrator.store.checkpoint_store import CheckpointStore


@pytest.fixture
def registry(tmp_path: Path, checkpoint_dir: Path) -> LocalRegistry:
    reg = LocalRegistry(tmp_path / "reg")
    reg.add(checkpoint_dir, "tiny")
    return reg


def fetch(registry: LocalRegistry, store: CheckpointStore, ref: str = "local-registry/tiny:v0", verify: bool = False):
    resolved = registry.resolve(parse_ref(ref))
    return store.fetch(resolved, registry.source(resolved), verify=verify)


def test_fetch_is_verified_keyed_by_digest_and_idempotent(tmp_path: Path, registry: LocalRegistry) -> None:
    store = CheckpointStore(tmp_path / "store")
    first = fetch(registry, store)
    assert first.bytes_copied == first.resolved.manifest.total_bytes > 0
    assert first.path.parent.name == first.resolved.digest
    assert ":" not in str(first.path)
    assert manifest_of_dir(first.path).digest == first.resolved.digest

    second = fetch(registry, store, "local-registry/tiny:latest")
    assert second.bytes_copied == 0
    assert second.path == first.path
    leftovers = [p.name for p in first.path.parent.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # no temp dirs left behind


def test_corrupted_source_is_refused_and_nothing_stays(tmp_path: Path, registry: LocalRegistry) -> None:
    weights = tmp_path / "reg/tiny/versions/v0/files/weights.bin"
    data = bytearray(weights.read_bytes())
    data[1000] ^= 0xFF  # same size, different bytes
    weights.write_bytes(bytes(data))
    store = CheckpointStore(tmp_path / "store")
    with pytest.raises(VerificationFailed, match=r"'weights.bin' of tiny:v0 does not match its manifest digest"):
        fetch(registry, store)
    assert not any((tmp_path / "store/checkpoints/tiny").iterdir())


def test_truncated_source_is_refused(tmp_path: Path, registry: LocalRegistry) -> None:
    weights = tmp_path / "reg/tiny/versions/v0/files/weights.bin"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(VerificationFailed, match=r"has 100 bytes, the manifest says 300000"):
        fetch(registry, CheckpointStore(tmp_path / "store"))


def test_modified_stored_file_is_detected_and_replaced(tmp_path: Path, registry: LocalRegistry) -> None:
    store = CheckpointStore(tmp_path / "store")
    first = fetch(registry, store)
    (first.path / "config.json").write_text('{"n_layer": 99}')  # someone edits the cached copy
    again = fetch(registry, store)
    assert again.bytes_copied == first.bytes_copied  # refused and materialised again
    assert (again.path / "config.json").read_text() == '{"n_layer": 2}'


def test_same_size_same_mtime_corruption_needs_verify(tmp_path: Path, registry: LocalRegistry) -> None:
    store = CheckpointStore(tmp_path / "store")
    first = fetch(registry, store)
    weights = first.path / "weights.bin"
    st = weights.stat()
    data = bytearray(weights.read_bytes())
    data[0] ^= 0xFF
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))  # hide the edit from the cheap check
    resolved = registry.resolve(parse_ref("local-registry/tiny:v0"))
    with pytest.raises(StoreError, match="does not match its digest"):
        store.check(store.entry_dir(resolved), resolved, rehash=True)
    healed = fetch(registry, store, verify=True)
    assert healed.bytes_copied > 0
    store.check(store.entry_dir(resolved), resolved, rehash=True)  # now exact


def test_concurrent_fetches_copy_once(tmp_path: Path, registry: LocalRegistry) -> None:
    store = CheckpointStore(tmp_path / "store")
    results = []
    threads = [threading.Thread(target=lambda: results.append(fetch(registry, store))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.path for r in results}) == 1
    assert sorted(r.bytes_copied > 0 for r in results) == [False, False, False, True]


def test_path_traversal_in_manifest_is_refused(tmp_path: Path, registry: LocalRegistry) -> None:
    from dataclasses import replace

    from eval_orchestrator.checkpoint import Manifest, ManifestEntry
    from eval_orchestrator.errors import RegistryError

    # A manifest (from W&B: remote input) cannot even name such a path...
    for unsafe in ("../escape.txt", "/etc/passwd", "a/../../b", "a//b", "./a", "a\\..\\b", ""):
        with pytest.raises(RegistryError, match="unsafe file path"):
            ManifestEntry(unsafe, "x", 1)
        with pytest.raises(RegistryError, match="unsafe file path"):
            Manifest.from_json({"contents": {unsafe: {"digest": "x", "size": 1}}})
    # ...and the store, given one anyway, refuses it before writing a byte.
    resolved = registry.resolve(parse_ref("local-registry/tiny:v0"))
    evil_entry = object.__new__(ManifestEntry)
    object.__setattr__(evil_entry, "path", "../escape.txt")
    for name, value in (("digest", "x"), ("size", 1), ("ref", None), ("extra", {})):
        object.__setattr__(evil_entry, name, value)
    evil = replace(resolved, manifest=Manifest({"../escape.txt": evil_entry}))
    with pytest.raises(VerificationFailed, match="unsafe path"):
        CheckpointStore(tmp_path / "store").fetch(evil, registry.source(resolved))
    assert not (tmp_path / "store/checkpoints/escape.txt").exists()
