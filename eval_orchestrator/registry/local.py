"""The embedded, file-backed registry: W&B semantics (immutable vN, moving aliases) with no account.

Layout under the root::

    <collection>/versions/vN/manifest.json   W&B-format manifest (path, base64 MD5, size)
    <collection>/versions/vN/version.json    metadata, description, created_at
    <collection>/versions/vN/files/...       the bytes
    <collection>/aliases.json                {alias: "vN"}; "latest" moves on every add
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock
from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypedDict  # pydantic reads TypedDicts from here on 3.11

from eval_orchestrator.checkpoint import HASH_CHUNK, Manifest, ManifestEntry, ResolvedCheckpoint, manifest_of_dir
from eval_orchestrator.errors import CollectionNotFound, RegistryError, UserError, VersionNotFound, from_os_error
from eval_orchestrator.refs import (
    DEFAULT_ALIAS,
    VERSION_PATTERN,
    CheckpointRef,
    CollectionRef,
    alias_problem,
    name_problem,
)
from eval_orchestrator.registry.base import VersionInfo


class _VersionFile(TypedDict, total=False):
    """version.json, as read back (a file another program may have written)."""

    metadata: dict[str, Any]
    description: str | None
    created_at: str
    source: str


_VERSION_FILE = TypeAdapter(_VersionFile)


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)


def _check_alias(alias: str) -> None:
    if problem := alias_problem(alias):  # 'vN' is the version index, never an alias (as in W&B)
        raise UserError(problem)


def _read_json(file: Path, repair: str) -> Any:
    """A registry file, or one line naming it when it is damaged (never a KeyError later)."""
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise RegistryError(f"the local registry file {file} is damaged ({type(exc).__name__}); {repair}") from None


class LocalFileSource:
    def __init__(self, files_dir: Path) -> None:
        self.files_dir = files_dir

    def iter_bytes(self, entry: ManifestEntry) -> Iterator[bytes]:
        try:
            with (self.files_dir / entry.path).open("rb") as fh:
                while chunk := fh.read(HASH_CHUNK):
                    yield chunk
        except FileNotFoundError:
            raise RegistryError(
                f"registry file {entry.path!r} is missing from {self.files_dir}; the local registry is damaged"
            ) from None


class LocalRegistry:
    """The default registry backend; root from EVAL_ORCHESTRATOR_REGISTRY or the user data dir."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # -- reading -----------------------------------------------------------------------------

    def _collection_dir(self, collection: str) -> Path:
        if problem := name_problem(collection):
            raise RegistryError(f"collection name {problem}")
        folder = self.root / collection
        assert folder.parent == self.root  # the grammar allows no '/', '.' or '..'
        return folder

    def _aliases(self, collection: str) -> dict[str, str]:
        file = self._collection_dir(collection) / "aliases.json"
        if not file.exists():
            return {}
        table = _read_json(file, f"run `eval-orchestrator registry repair {collection}` to rebuild it")
        # Each alias names a version of this collection: never a path ("../../other" would be followed).
        valid = isinstance(table, dict) and all(
            isinstance(v, str) and VERSION_PATTERN.match(v) and not name_problem(a) for a, v in table.items()
        )
        if not valid or not isinstance(table, dict):
            raise RegistryError(
                f"the local registry file {file} is damaged (not an alias table); "
                f"run `eval-orchestrator registry repair {collection}` to rebuild it"
            )
        return {str(alias): str(version) for alias, version in table.items()}

    def _versions(self, collection: str) -> list[str]:
        versions_dir = self._collection_dir(collection) / "versions"
        if not versions_dir.is_dir():
            return []
        found = [p.name for p in versions_dir.iterdir() if VERSION_PATTERN.match(p.name)]
        return sorted(found, key=lambda v: int(v[1:]))

    def collections(self) -> list[str]:
        if self.root.exists() and not self.root.is_dir():
            raise RegistryError(
                f"the local registry root {self.root} is a file, not a folder; "
                "set EVAL_ORCHESTRATOR_REGISTRY (or store.registry) to a folder"
            )
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "versions").is_dir())

    def resolve(self, ref: CheckpointRef) -> ResolvedCheckpoint:
        versions = self._versions(ref.collection)
        if not versions:
            known = ", ".join(self.collections()) or "none"
            raise CollectionNotFound(
                f"collection {ref.collection!r} not found in the local registry at {self.root} "
                f"(collections: {known}); register one with "
                f"`eval-orchestrator registry add DIR --name {ref.collection}`"
            )
        aliases = self._aliases(ref.collection)
        if ref.version_index is not None:
            version = ref.alias
            if version not in versions:
                raise VersionNotFound(
                    f"version {ref.alias} of {ref.collection!r} not found; it has {versions[0]}..{versions[-1]}"
                )
        elif ref.alias in aliases:
            version = aliases[ref.alias]
        else:
            raise VersionNotFound(
                f"alias {ref.alias!r} not found in {ref.collection!r}; it has aliases: {', '.join(sorted(aliases))}"
            )
        manifest, info = self._read_version(ref.collection, version)
        return ResolvedCheckpoint(
            ref=ref,
            version=version,
            manifest=manifest,
            aliases=tuple(sorted(a for a, v in aliases.items() if v == version)),
            metadata=info.get("metadata", {}),
            description=info.get("description"),
            created_at=info.get("created_at"),
        )

    def _read_version(self, collection: str, version: str) -> tuple[Manifest, dict[str, Any]]:
        vdir = self._collection_dir(collection) / "versions" / version
        repair = f"run `eval-orchestrator registry repair {collection}` to set the damaged version aside"
        try:
            manifest = Manifest.from_json(_read_json(vdir / "manifest.json", repair))
            info = _VERSION_FILE.validate_python(_read_json(vdir / "version.json", repair))
        except FileNotFoundError as exc:
            raise RegistryError(f"the local registry file {exc.filename} is missing; {repair}") from None
        except ValidationError as exc:
            field = ".".join(str(p) for p in exc.errors()[0]["loc"])
            raise RegistryError(
                f"the local registry file {vdir / 'version.json'} is damaged ({field}); {repair}"
            ) from None
        except (ValueError, RegistryError) as exc:  # a manifest field of the wrong type, or an unsafe path
            raise RegistryError(
                f"the local registry file {vdir / 'manifest.json'} is damaged ({exc}); {repair}"
            ) from None
        return manifest, dict(info)

    def files_dir(self, resolved: ResolvedCheckpoint) -> Path:
        return self._collection_dir(resolved.collection) / "versions" / resolved.version / "files"

    def source(self, resolved: ResolvedCheckpoint) -> LocalFileSource:
        return LocalFileSource(self.files_dir(resolved))

    def list_versions(self, collection: CollectionRef) -> list[VersionInfo]:
        if not self._versions(collection.name):
            known = ", ".join(self.collections()) or "none"
            raise CollectionNotFound(
                f"collection {collection.name!r} not found in the local registry at {self.root} (collections: {known})"
            )
        return self._listing([collection.name])

    def all_versions(self) -> list[VersionInfo]:
        """Every version of every collection (``registry ls``)."""
        return self._listing(self.collections())

    def _listing(self, names: list[str]) -> list[VersionInfo]:
        rows = []
        for name in names:
            aliases = self._aliases(name)
            for version in self._versions(name):
                manifest, info = self._read_version(name, version)
                rows.append(
                    VersionInfo(
                        collection=name,
                        version=version,
                        aliases=tuple(sorted(a for a, v in aliases.items() if v == version)),
                        files=len(manifest.entries),
                        bytes=manifest.total_bytes,
                        created_at=info.get("created_at", ""),
                        digest=manifest.digest,
                        metadata=info.get("metadata", {}),
                    )
                )
        return rows

    # -- writing -----------------------------------------------------------------------------

    def _lock(self, collection: str) -> FileLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / f".{collection}.lock"))

    def add(
        self,
        source: str | Path,
        collection: str,
        aliases: list[str] | tuple[str, ...] = (),
        metadata: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> ResolvedCheckpoint:
        """Register the files under ``source`` as the next immutable version vN.

        ``source`` is a directory (its files are copied in) or ``s3://bucket/prefix`` (a reference
        version: the manifest pins each object's ETag and versionID; the bytes stay in S3).
        """
        if str(source).startswith("s3://"):
            from eval_orchestrator.s3_objects import list_reference

            uri = str(source)
            self._check_new_version(collection, aliases)
            entries = list_reference(uri)

            def record(staging: Path) -> Manifest:
                return Manifest.of(entries)

            return self._new_version(collection, aliases, metadata, description, uri, record)
        src = Path(source)
        if not src.is_dir():
            raise UserError(
                f"checkpoint directory {str(src)!r} not found; pass a directory of model files or s3://bucket/prefix"
            )
        self._check_new_version(collection, aliases)
        from eval_orchestrator.registry.copy_source import copy_source, plan_copy

        if not plan_copy(src):  # also refuses links out of the folder, loops, FIFOs: before any copy
            raise UserError(f"checkpoint directory {str(src)!r} holds no files")

        def copy(staging: Path) -> Manifest:
            copy_source(src, staging / "files")
            return manifest_of_dir(staging / "files")

        return self._new_version(collection, aliases, metadata, description, str(src.resolve()), copy)

    @staticmethod
    def _check_new_version(collection: str, aliases: list[str] | tuple[str, ...]) -> None:
        if problem := name_problem(collection):
            raise UserError(f"collection name {problem}")
        for alias in aliases:
            _check_alias(alias)

    def _new_version(
        self,
        collection: str,
        aliases: list[str] | tuple[str, ...],
        metadata: Mapping[str, Any] | None,
        description: str | None,
        source: str,
        fill: Callable[[Path], Manifest],
    ) -> ResolvedCheckpoint:
        cdir = self._collection_dir(collection)
        try:
            return self._add_locked(cdir, collection, aliases, metadata, description, source, fill)
        except OSError as exc:
            raise from_os_error(exc, f"registering {collection!r} in the local registry") from None

    def _add_locked(
        self,
        cdir: Path,
        collection: str,
        aliases: list[str] | tuple[str, ...],
        metadata: Mapping[str, Any] | None,
        description: str | None,
        source: str,
        fill: Callable[[Path], Manifest],
    ) -> ResolvedCheckpoint:
        with self._lock(collection):
            (cdir / "versions").mkdir(parents=True, exist_ok=True)
            # We hold the collection's lock, so a staging folder left here is a dead add's (kill -9).
            for stale in cdir.glob(".add-*"):
                shutil.rmtree(stale, ignore_errors=True)
            versions = self._versions(collection)
            # Numbers are never reused, even those of versions `registry repair` set aside.
            aside = [int(m[1]) for p in (cdir / "damaged").glob("v*-*") if (m := re.match(r"v(\d+)-", p.name))]
            version = f"v{max([int(v[1:]) for v in versions] + aside, default=-1) + 1}"
            staging = Path(tempfile.mkdtemp(prefix=f".add-{version}-", dir=cdir))
            try:
                manifest = fill(staging)
                (staging / "manifest.json").write_text(manifest.dumps())
                info = {
                    "metadata": dict(metadata or {}),
                    "description": description,
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "source": source,
                }
                (staging / "version.json").write_text(json.dumps(info, indent=2, sort_keys=True))
                os.rename(staging, cdir / "versions" / version)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            table = self._aliases(collection)
            for alias in (DEFAULT_ALIAS, *aliases):
                table[alias] = version
            _write_json_atomic(cdir / "aliases.json", table)
        return self.resolve(CheckpointRef("local", collection, version))

    def set_alias(self, ref: CheckpointRef, alias: str) -> ResolvedCheckpoint:
        """Point ``alias`` at the version ``ref`` resolves to (moving it if it exists)."""
        _check_alias(alias)
        with self._lock(ref.collection):
            resolved = self.resolve(ref)
            table = self._aliases(ref.collection)
            table[alias] = resolved.version
            _write_json_atomic(self._collection_dir(ref.collection) / "aliases.json", table)
        return self.resolve(ref.with_alias(resolved.version))

    def update_metadata(self, ref: CheckpointRef, updates: Mapping[str, Any]) -> None:
        with self._lock(ref.collection):
            resolved = self.resolve(ref)
            _, info = self._read_version(ref.collection, resolved.version)
            info["metadata"] = {**info.get("metadata", {}), **updates}
            vdir = self._collection_dir(ref.collection) / "versions" / resolved.version
            _write_json_atomic(vdir / "version.json", info)
