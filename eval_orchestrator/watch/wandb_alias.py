"""Promotion in W&B: add an alias to a registered version through the SDK (W&B moves it off the
version that had it)."""

from __future__ import annotations

import os

from eval_orchestrator.refs import format_ref, parse_ref
from eval_orchestrator.wandb_api import check_reachable, wandb_errors


def add_alias(ref_text: str, alias: str) -> None:
    import wandb

    base_url = os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai"
    check_reachable(base_url)
    with wandb_errors(base_url):
        artifact = wandb.Api().artifact(format_ref(parse_ref(ref_text)))
        if alias not in artifact.aliases:
            artifact.aliases.append(alias)
            artifact.save()
