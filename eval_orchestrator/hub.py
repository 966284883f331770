"""Each job's results folder, committed to a Hugging Face Hub dataset repo with huggingface_hub.

One commit per job (summary, usage log, Inspect log) under
``<upload_dir>/<collection>/<vN>/<task>-<job key>``; the returned URL goes into the W&B run's
summary and notes and the results artifact's metadata. The token comes from ``HF_TOKEN`` (read
by huggingface_hub itself, never logged), the host from ``HF_ENDPOINT``.
"""

from __future__ import annotations

from pathlib import Path

from eval_orchestrator import env
from eval_orchestrator.job import Job
from eval_orchestrator.publish import _slug


def results_path(upload_dir: str, job: Job) -> str:
    return "/".join(
        p.strip("/") for p in (upload_dir, _slug(job.collection), job.version, f"{_slug(job.task_name)}-{job.key}") if p
    )


def upload_results(repo_id: str, upload_dir: str, job: Job, files: dict[str, Path]) -> str:
    """Commit ``files`` ({name in repo: local path}) for ``job``; returns the folder's URL on the Hub."""
    from huggingface_hub import CommitOperationAdd, HfApi, constants

    if constants.HF_HUB_OFFLINE:
        raise RuntimeError("HF_HUB_OFFLINE is set, so nothing can be uploaded to the Hub; unset it to upload")
    api = HfApi()
    api.create_repo(repo_id, repo_type="dataset", exist_ok=True, private=True)
    folder = results_path(upload_dir, job)
    operations = [
        CommitOperationAdd(path_in_repo=f"{folder}/{name}", path_or_fileobj=str(path))
        for name, path in sorted(files.items())
        if path.is_file()
    ]
    api.create_commit(
        repo_id,
        operations,
        repo_type="dataset",
        commit_message=f"eval-orchestrator: {job.task_name} on {job.ref}",
        commit_description=f"job {job.key}, checkpoint digest {job.digest}",
    )
    endpoint = (env.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
    return f"{endpoint}/datasets/{repo_id}/tree/main/{folder}"
