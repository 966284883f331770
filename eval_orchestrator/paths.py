"""Default locations, from the platform's user dirs (overridable by config / env)."""

from __future__ import annotations

from pathlib import Path

APP = "eval-orchestrator"

# A log dir is a local folder, or a URL Inspect writes to itself (s3://bucket/prefix, and other fsspec
# filesystems): Inspect reads and writes both; our own per-job files then live under the W&B dir.
Location = Path | str


def is_remote(location: Location) -> bool:
    return "://" in str(location)


def child(location: Location, *parts: str) -> Location:
    """``location`` / parts, as a URL for a remote location and as a Path for a local one."""
    if is_remote(location):
        return "/".join([str(location).rstrip("/"), *parts])
    return Path(location).joinpath(*parts)


def default_registry_root() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP)) / "registry"


def default_store_root() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP)) / "artifacts"
