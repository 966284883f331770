"""Reference manifest entries (``file://``, ``s3://``): where their bytes live and how to read them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import unquote, urlparse

from eval_orchestrator.checkpoint import ManifestEntry, file_digest
from eval_orchestrator.errors import StoreError

READ_CHUNK = 1024 * 1024


def local_path(ref: str) -> Path | None:
    """The filesystem path of a ``file://`` reference, None for any other scheme."""
    parsed = urlparse(ref)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.netloc + parsed.path))


def iter_reference(entry: ManifestEntry) -> Iterator[bytes]:
    """Stream the bytes a reference entry points at (the store checks size and digest)."""
    assert entry.ref is not None
    path = local_path(entry.ref)
    if path is None:
        scheme = urlparse(entry.ref).scheme or "?"
        raise StoreError(
            f"file {entry.path!r} is a {scheme}:// reference ({entry.ref}); only file:// is supported so far"
        )
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(READ_CHUNK):
                yield chunk
    except FileNotFoundError:
        raise StoreError(f"file {entry.path!r} references {entry.ref}, which does not exist") from None


def in_place_root(entries: Mapping[str, ManifestEntry]) -> Path | None:
    """The one directory holding every ``file://`` entry at its manifest path, or None.

    A checkpoint can be used where it lies only if loading ``root/<path>`` finds each file.
    """
    roots = set()
    for entry in entries.values():
        path = local_path(entry.ref) if entry.ref else None
        if path is None or not path.as_posix().endswith("/" + entry.path):
            return None
        roots.add(Path(path.as_posix()[: -len(entry.path) - 1]))
    return roots.pop() if len(roots) == 1 else None


def first_mismatch(root: Path, entries: Mapping[str, ManifestEntry]) -> str | None:
    """Why the files under ``root`` are not exactly ``entries`` (size, then MD5), or None if they are."""
    for entry in entries.values():
        file = root / entry.path
        try:
            size = file.stat().st_size
        except FileNotFoundError:
            return f"{entry.path!r} is missing"
        if size != entry.size:
            return f"{entry.path!r} has {size} of {entry.size} bytes"
    for entry in entries.values():
        # Hash only once every size matches: an upload in progress is usually caught by size.
        if file_digest(root / entry.path)[0] != entry.digest:
            return f"{entry.path!r} does not match its digest"
    return None
