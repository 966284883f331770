"""Read a directory tree back as {relative posix path: bytes}, to compare checkpoints exactly."""

from __future__ import annotations

from pathlib import Path


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
