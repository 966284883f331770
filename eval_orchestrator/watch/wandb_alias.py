"""Promotion in W&B: add an alias to a registered version through the SDK (W&B moves it off the
version that had it)."""

from __future__ import annotations

from eval_orchestrator.refs import format_ref, parse_ref
from eval_orchestrator.wandb_api import base_url, open_api, wandb_errors


def add_alias(ref_text: str, alias: str) -> None:
    api = open_api()
    with wandb_errors(base_url()):
        artifact = api.artifact(format_ref(parse_ref(ref_text)))
        if alias not in artifact.aliases:
            artifact.aliases.append(alias)
            artifact.save()
