"""The one place that knows which backend serves a reference: a registry per backend, opened once
per command (one W&B API session, not one per reference)."""

from __future__ import annotations

from pathlib import Path

from eval_orchestrator.checkpoint import ResolvedCheckpoint
from eval_orchestrator.notify import Notify, quiet
from eval_orchestrator.paths import default_registry_root
from eval_orchestrator.refs import Backend, CheckpointRef, CollectionRef
from eval_orchestrator.registry.base import Registry
from eval_orchestrator.registry.local import LocalRegistry
from eval_orchestrator.run_config import StoreConfig


def local_registry(store: StoreConfig | None = None) -> LocalRegistry:
    """The embedded registry the settings name (EVAL_ORCHESTRATOR_REGISTRY; the environment's when None)."""
    if store is None:
        from eval_orchestrator.config import build_store_config

        store = build_store_config()
    return LocalRegistry(Path(store.registry) if store.registry else default_registry_root())


class Registries:
    def __init__(self, store: StoreConfig, notify: Notify = quiet) -> None:
        self.store = store
        self.notify = notify
        self._opened: dict[Backend, Registry] = {}

    def of(self, ref: CheckpointRef | CollectionRef) -> Registry:
        if ref.backend not in self._opened:
            if ref.backend == "local":
                self._opened["local"] = local_registry(self.store)
            else:
                from eval_orchestrator.registry.wandb_registry import WandbRegistry  # imports wandb: only when used

                self._opened["wandb"] = WandbRegistry(self.store, self.notify)
        return self._opened[ref.backend]

    def resolve(self, ref: CheckpointRef) -> ResolvedCheckpoint:
        """The version and digest ``ref`` names now, through its registry (no bytes fetched)."""
        return self.of(ref).resolve(ref)
