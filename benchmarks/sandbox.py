"""A throwaway working dir for a benchmark: our registry and store, W&B offline, Inspect quiet, all
under it (set in this process's environment, so the evals it runs inherit them)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def offline_sandbox(prefix: str, **more: str) -> Path:
    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.update(
        WANDB_MODE="offline",
        WANDB_DIR=str(work / "wb"),
        WANDB_SILENT="true",
        EVAL_ORCHESTRATOR_REGISTRY=str(work / "registry"),
        WANDB_ARTIFACT_DIR=str(work / "store"),
        INSPECT_DISPLAY="none",
        **more,
    )
    return work
