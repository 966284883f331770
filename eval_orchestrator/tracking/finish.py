"""A job's end in W&B: summary, per-sample table, results artifact (and Hub copy), then
``run.finish()``, and a lineage record saying what W&B still lacks for ``sync`` to send.

Whatever W&B cannot take now (it is unreachable, ``finish()`` timed out, or it holds fewer
history rows than were logged) is spooled on disk instead of handed to the SDK, which would wait
on W&B and then fail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval_orchestrator.audit import USAGE_FILE, job_dir
from eval_orchestrator.error_text import one_line
from eval_orchestrator.paths import is_remote
from eval_orchestrator.publish import log_results_artifact, results_artifact_ref, write_summary
from eval_orchestrator.spool import JobSummary, LineageRecord, ResultsFiles, write_table
from eval_orchestrator.tracking.progress import JobProgress
from eval_orchestrator.tracking.rows import final_metrics, run_id, samples_table
from eval_orchestrator.tracking.wandb_run import JobRun
from eval_orchestrator.wandb_api import outage

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog

log = logging.getLogger(__name__)

Fail = Callable[[str], None]  # reports a tracking failure (the orchestrator fails the command)


@dataclass
class _Spooling:
    """What goes to disk for `sync` instead of to W&B now."""

    results: bool
    table: bool = False
    upload: bool = False  # the run's own files: finish() did not get them to W&B


def job_summary(eval_log: EvalLog | None, progress: JobProgress, exception: BaseException | None) -> JobSummary:
    """How a job ended (``eval_log``: its header, or None when none came back)."""
    results = eval_log.results if eval_log is not None else None
    return JobSummary(
        status=eval_log.status if eval_log is not None else "error",
        metrics=final_metrics(eval_log) if eval_log is not None else {},
        # An errored eval has no results: count what this process saw finish, with or without error.
        samples_total=results.total_samples if results else progress.completed + progress.errored,
        # From the log: a resumed eval's reused samples never reach this process's hooks.
        samples_completed=results.completed_samples if results else progress.completed,
        samples_errored=progress.errored,
        tokens_total=progress.tokens,
        inspect_log=eval_log.location if eval_log is not None and eval_log.location else None,
        error=(one_line(eval_log.error.message) if eval_log is not None and eval_log.error else None)
        or (repr(exception) if exception else None),
    )


def _hub_copy(job_run: JobRun, files: dict[str, Path], fail: Fail) -> str | None:
    repo = job_run.settings.hf_upload_repo
    if not repo:
        return None
    from eval_orchestrator.hub import upload_results

    try:
        url = upload_results(repo, job_run.settings.hf_upload_dir, job_run.job, files)
    except Exception:
        fail(f"uploading the results to the Hugging Face Hub repo {repo}")
        return None
    job_run.summarize({"hf_results_url": url})
    job_run.run.notes = f"Results on the Hugging Face Hub: {url}"
    return url


def _results_files(job_run: JobRun, summary: JobSummary, fail: Fail) -> ResultsFiles | None:
    """Write summary.json beside the Inspect log (and copy to the Hub): the results artifact's parts."""
    if summary.status != "success" or not summary.inspect_log:
        return None
    log_dir = (
        summary.inspect_log.rsplit("/", 1)[0] if is_remote(summary.inspect_log) else Path(summary.inspect_log).parent
    )
    own_dir = job_dir(log_dir, job_run.job.key, job_run.settings.dir)
    log_path = _local_log(job_run, summary.inspect_log)
    summary = JobSummary.model_validate(job_run.scrub.tree(summary.model_dump()))
    summary_file = write_summary(job_run.job, own_dir, summary)
    log_path = _shippable_log(job_run, log_path)
    usage_file = own_dir / USAGE_FILE
    files = {"summary.json": summary_file, "usage.jsonl": usage_file, f"logs/{log_path.name}": log_path}
    hub_url = _hub_copy(job_run, files, fail)
    return ResultsFiles(
        log=str(log_path),
        summary=str(summary_file),
        usage=str(usage_file),
        metrics=summary.metrics,
        hub_url=hub_url,
        environment=job_run.settings.environment,
    )


def _local_log(job_run: JobRun, location: str) -> Path:
    """The job's Inspect log as a local file: itself, or a copy of one Inspect wrote to a URL (s3://...),
    kept in the W&B spool for the results artifact."""
    if not is_remote(location):
        return Path(location)
    import fsspec  # Inspect's own file layer

    copy = job_run.spool.scrubbed_copy(job_run.job.key, location.rsplit("/", 1)[-1])
    with fsspec.open(location, "rb") as remote:
        copy.write_bytes(remote.read())
    return copy


def _shippable_log(job_run: JobRun, log_path: Path) -> Path:
    """The Inspect log to upload: itself, or a scrubbed copy when a task echoed a declared secret into it
    (Inspect's own file is left as Inspect wrote it; a warning names the secret, never its value)."""
    if not job_run.scrub:
        return log_path
    copy = job_run.spool.scrubbed_copy(job_run.job.key, log_path.name)
    found = job_run.scrub.eval_log(log_path, copy)
    if not found:
        copy.unlink()
        return log_path
    log.warning(
        "%s: the Inspect log %s holds the value of declared secret(s) %s (a task echoed it); the copy uploaded "
        "to W&B and the Hub has it replaced by ***NAME***",
        job_run.job.label, log_path, ", ".join(found),
    )  # fmt: skip
    return copy


def _log_table_and_results(job_run: JobRun, samples: list[dict[str, Any]], results: ResultsFiles | None) -> _Spooling:
    # Results of a run logged offline under a local id would belong to that id: `sync` logs them.
    spooling = _Spooling(results=bool(job_run.local_id))
    why: str | None = None
    if job_run.online and (why := outage()):
        spooling.results = spooling.table = True
    else:
        try:
            if samples:
                job_run.run.log({"samples": samples_table(samples)})
            if results is not None and not spooling.results:
                ref = log_results_artifact(job_run.run, job_run.job, results, job_run.settings.link_results)
                job_run.summarize({"results_artifact": ref})
        except Exception:
            if not job_run.online or not (why := outage()):
                raise
            spooling.results = spooling.table = True
    if spooling.table:
        job_run.fallback = f"W&B unreachable at the end of the run ({why})"
    return spooling


def _finish_run(job_run: JobRun, status: str, spooling: _Spooling) -> None:
    try:
        job_run.run.finish(exit_code=0 if status == "success" else 1)
    except TimeoutError:
        # W&B went away mid-run: the run's data is complete on disk, for `sync` to upload. What
        # went to W&B as requests rather than records (artifacts, the table) is not in the run's
        # files, so it is spooled too; W&B deduplicates it by digest if it did arrive.
        spooling.upload = spooling.results = spooling.table = True
        return
    if job_run.online and (missing := job_run.rows_missing()):
        # The SDK's uploads gave up during an outage that ended before the run did, and finish()
        # does not say so: everything is spooled as after a timeout.
        job_run.fallback = missing
        spooling.upload = spooling.results = spooling.table = True


def finish_job(job_run: JobRun, progress: JobProgress, summary: JobSummary, fail: Fail) -> LineageRecord:
    """Close the job's run and record its lineage; returns the record written to the spool."""
    job, run = job_run.job, job_run.run
    job_run.summarize(summary.run_summary())
    job_run.summarize(progress.token_summary())
    results = _results_files(job_run, summary, fail)
    samples = job_run.scrub.tree(progress.samples)
    spooling = _log_table_and_results(job_run, samples, results)
    _finish_run(job_run, summary.status, spooling)
    # Online, the rows W&B may lack are re-logged by `sync` from our own record of them; a
    # `wandb sync` of this run's files would resend the rows W&B already has, as new rows.
    history_pending = spooling.upload and job_run.history_file is not None
    if job_run.history_file is not None and not history_pending:
        job_run.history_file.unlink(missing_ok=True)
    table_pending = None
    if spooling.table and samples:
        table_pending = write_table(job_run.pending_file("samples.json"), samples)
    record = LineageRecord(
        job_key=job.key,
        attempt=job_run.attempt,
        run_id=run_id(job.key),
        local_run_id=run.id,
        run_dir=str(Path(run.dir).parent),
        mode=job_run.settings.mode,
        project=run.project,
        entity=job_run.settings.entity,
        model_ref=job.ref,
        model_digest=job.digest,
        model_used_online=job_run.model_used,
        results_artifact=results_artifact_ref(job) if results and not spooling.results else None,
        status=summary.status,
        upload_pending=spooling.upload,
        results_pending=results if spooling.results else None,
        table_pending=table_pending,
        history_pending=str(job_run.history_file) if history_pending else None,
        summary_pending=job_run.summary if history_pending else None,
        job=job if spooling.results or spooling.table else None,
        link_results=job_run.settings.link_results,
        fallback=job_run.fallback,
    )
    job_run.spool.record(record)
    job_run.release()
    return record
