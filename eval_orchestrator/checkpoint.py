"""What a checkpoint version is, for every part that handles one: neutral ground that both
``registry/`` (which resolves versions) and ``store/`` (which materialises them) import.

Manifests are W&B's format: entries (path, base64 MD5 digest, size) and the manifest digest. The
digest formula is W&B's own (``ArtifactManifestV1.digest``), so a checkpoint keeps its identity
when it moves between the local registry and W&B; a test checks it against the SDK.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    Any,
    Protocol,
    Required,  # pydantic reads TypedDicts from here on 3.11
)

from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypedDict

from eval_orchestrator.errors import RegistryError
from eval_orchestrator.refs import CheckpointRef, CollectionRef

HASH_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class ManifestEntry:
    path: str
    digest: str  # base64 of the MD5 of the bytes (W&B's "digest")
    size: int
    ref: str | None = None  # set for reference entries (s3://..., file://...)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A manifest names where bytes land under the store: from W&B it is remote input, so a path
        # must stay inside the checkpoint ('../../.ssh/x' would not).
        parts = self.path.split("/")
        if (
            not self.path
            or self.path.startswith("/")
            or "\\" in self.path
            or "\0" in self.path
            or any(part in ("", ".", "..") for part in parts)
        ):
            raise RegistryError(
                f"the checkpoint's manifest names an unsafe file path {self.path[:80]!r} (absolute, '..', or empty "
                "segments); the version is refused: re-register it from a plain folder"
            )
        if self.size < 0:
            raise RegistryError(
                f"the checkpoint's manifest gives {self.path!r} a negative size; the version is refused"
            )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"digest": self.digest, "size": self.size}
        if self.ref:
            out["ref"] = self.ref
        if self.extra:
            out["extra"] = dict(self.extra)
        return out


@dataclass(frozen=True)
class Manifest:
    entries: Mapping[str, ManifestEntry]

    @classmethod
    def of(cls, entries: Iterable[ManifestEntry]) -> Manifest:
        return cls({e.path: e for e in sorted(entries, key=lambda e: e.path)})

    @property
    def digest(self) -> str:
        hasher = hashlib.md5(usedforsecurity=False)
        hasher.update(b"wandb-artifact-manifest-v1\n")
        for name, entry in sorted(self.entries.items()):
            hasher.update(f"{name}:{entry.digest}\n".encode())
        return hasher.hexdigest()

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.entries.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "storagePolicy": "wandb-storage-policy-v1",
            "storagePolicyConfig": {},
            "contents": {path: e.to_json() for path, e in sorted(self.entries.items())},
        }

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        """A manifest read back from JSON (a registry's file, a store's stamp): validated, so a damaged
        or hostile one is a ValueError (the caller names the file), never a KeyError later."""
        try:
            contents = _MANIFEST.validate_python(data)["contents"]
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ValueError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
        return cls.of(
            ManifestEntry(path, item["digest"], item.get("size") or 0, item.get("ref"), item.get("extra") or {})
            for path, item in contents.items()
        )

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True)


class _EntryJson(TypedDict, total=False):
    digest: Required[str]
    size: int | None
    ref: str | None
    extra: dict[str, Any] | None


class _ManifestJson(TypedDict):
    contents: dict[str, _EntryJson]


_MANIFEST = TypeAdapter(_ManifestJson)


def b64_md5(hasher: Any) -> str:
    return base64.b64encode(hasher.digest()).decode("ascii")


def file_digest(path: Path) -> tuple[str, int]:
    """(base64 MD5, size) of a file, read in large chunks."""
    hasher = hashlib.md5(usedforsecurity=False)
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return b64_md5(hasher), size


def manifest_of_dir(root: Path) -> Manifest:
    """Manifest of every regular file under ``root`` (paths relative, '/'-separated)."""
    entries = []
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        digest, size = file_digest(file)
        entries.append(ManifestEntry(file.relative_to(root).as_posix(), digest, size))
    return Manifest.of(entries)


@dataclass(frozen=True)
class VersionId:
    """One registered version's identity: its collection (registry, entity/project, name), its version
    and its content digest. ``str()`` is the one way to print it: the reference pinned to the version."""

    collection: CollectionRef
    version: str  # "vN"
    digest: str  # the manifest digest

    @property
    def ref(self) -> CheckpointRef:
        return self.collection.at(self.version)

    @property
    def label(self) -> str:
        """Short form for tables and logs: 'tiny:v1'."""
        return f"{self.collection.name}:{self.version}"

    def __str__(self) -> str:
        return str(self.ref)


@dataclass(frozen=True)
class ResolvedCheckpoint:
    """One immutable checkpoint version: what an alias pointed at when it was resolved."""

    ref: CheckpointRef  # as the user wrote it (may name an alias)
    version: str  # "vN"
    manifest: Manifest
    aliases: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    created_at: str | None = None
    # Set when the files are already verified where they lie (a '-local' artifact): no copy.
    in_place: str | None = None

    @property
    def collection(self) -> str:
        return self.ref.collection

    @property
    def id(self) -> VersionId:
        return VersionId(self.ref.collection_ref, self.version, self.digest)

    @property
    def digest(self) -> str:
        return self.manifest.digest

    @property
    def version_ref(self) -> CheckpointRef:
        """The reference pinned to this exact version."""
        return self.ref.with_alias(self.version)


class FileSource(Protocol):
    """Where a registry's bytes come from; the store hashes and places them."""

    def iter_bytes(self, entry: ManifestEntry) -> Iterator[bytes]: ...
