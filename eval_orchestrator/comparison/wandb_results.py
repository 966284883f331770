"""``compare --from-wandb``: a version's Inspect logs, taken out of its W&B results artifacts, so a
machine with no local logs (a CI job) can compare. Each job's artifact is
``<collection>-<task>[-<args hash>]-results:<collection>-<vN>`` in the project the runs logged to.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from eval_orchestrator.checkpoint import ResolvedCheckpoint
from eval_orchestrator.errors import NotFound, UserError
from eval_orchestrator.job import DEFAULT_PROJECT
from eval_orchestrator.publish import results_ref
from eval_orchestrator.wandb_api import base_url, not_found, open_api, wandb_errors


def download_logs(
    resolved: ResolvedCheckpoint, tasks: Sequence[str], project: str | None, entity: str | None
) -> dict[str, Path]:
    """{task: its Inspect log}, downloaded from the version's results artifacts into a temp dir."""
    import wandb

    if not tasks:
        raise UserError("--from-wandb finds results artifacts by task: name them with --task NAME")
    api = open_api()
    target = Path(tempfile.mkdtemp(prefix="eval-orchestrator-results-"))
    found: dict[str, Path] = {}
    with wandb_errors(base_url()):
        prefix = "/".join(p for p in (entity, project or DEFAULT_PROJECT) if p)
        for task in tasks:
            name = f"{prefix}/{results_ref(resolved.collection, task, resolved.version)}"
            try:
                artifact = api.artifact(name)
            except wandb.errors.CommError as exc:
                if not not_found(exc):
                    raise
                raise NotFound(
                    f"no results artifact {name} in W&B for {resolved.version_ref}; run it with --wandb-project "
                    "(or give the project with --wandb-project), or compare from --log-dir"
                ) from None
            root = Path(artifact.download(root=str(target / resolved.digest / task)))
            logs = sorted((root / "logs").glob("*.eval"))
            if not logs:
                raise UserError(f"results artifact {name} holds no Inspect log (logs/*.eval)")
            found[task] = logs[-1]
    return found
