"""The checkpoint store a command's settings name (WANDB_ARTIFACT_DIR, else the user cache dir)."""

from __future__ import annotations

from pathlib import Path

from eval_orchestrator.errors import StoreError
from eval_orchestrator.paths import default_store_root
from eval_orchestrator.run_config import StoreConfig
from eval_orchestrator.store.checkpoint_store import CheckpointStore


def open_store(settings: StoreConfig | None = None) -> CheckpointStore:
    """The store the settings name (the environment's when None)."""
    if settings is None:
        from eval_orchestrator.config import build_store_config

        settings = build_store_config()
    root = Path(settings.artifact_dir) if settings.artifact_dir else default_store_root()
    if root.exists() and not root.is_dir():
        raise StoreError(
            f"the checkpoint store {root} is a file, not a folder; "
            "point WANDB_ARTIFACT_DIR (or --artifact-dir) at a folder"
        )
    return CheckpointStore(
        root, workers=settings.workers, part_size=settings.part_size_mb * 1024 * 1024, retries=settings.retries
    )
