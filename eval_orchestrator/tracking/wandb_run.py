"""One job's W&B run: started in a thread (falling back to offline when W&B is away), rows
logged in order once it exists, each online row also kept with its step for ``sync``.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from eval_orchestrator.job import Job, TrackingSettings, WandbRunMode
from eval_orchestrator.scrub import Scrubber
from eval_orchestrator.spool import Spool, append_history
from eval_orchestrator.tracking.rows import run_id, run_name, run_tags
from eval_orchestrator.wandb_api import first_line, git_settings, history_short_of, outage, sdk_settings

log = logging.getLogger(__name__)


@dataclass
class JobRun:
    job: Job
    settings: TrackingSettings  # its mode turns offline after a fallback
    run: Any = None  # the wandb Run
    starting: Future[None] | None = None  # wandb.init, running in a thread
    pending: list[dict[str, Any]] = field(default_factory=list)  # rows logged before the run existed
    fallback: str | None = None  # why an online run went offline
    local_id: str | None = None  # the offline run's own id, when it cannot be the job's
    model_used: bool = False  # use_artifact recorded the model version in W&B
    attempt: str = field(default_factory=lambda: uuid.uuid4().hex[:12])  # this process's part of the run
    next_step: int = 0  # the W&B step the next logged row gets
    history_file: Path | None = None  # online: every logged row with its step, in case W&B misses some
    summary: dict[str, Any] = field(default_factory=dict)  # what the run's summary was given
    lock: FileLock | None = None  # held while this process has the job's run open
    scrub: Scrubber = field(default_factory=Scrubber)  # declared secrets' values, replaced in all we log

    @property
    def online(self) -> bool:
        return self.settings.mode == "online"

    @property
    def spool(self) -> Spool:
        return Spool(self.settings.dir)

    def pending_file(self, what: str) -> Path:
        return self.spool.pending_file(run_id(self.job.key), self.attempt, what)

    def start(self, config: dict[str, Any]) -> None:
        """Create the W&B run (in a worker thread). Online, W&B being away sends it offline."""
        import wandb

        if self.online:
            try:
                if why := outage():
                    self.fallback = f"W&B unreachable ({why}); logging offline"
                else:
                    self.run = self._init(config, "online")
            except (wandb.errors.AuthenticationError, wandb.errors.UsageError):
                raise  # a bad key or setting is the user's to fix, not an outage
            except Exception as exc:
                # W&B failed while creating the run. The SDK may still hold the job's run id in this
                # process, so log offline under a local id; `sync` uploads it into the job's own run
                # (wandb sync --id) and logs the results artifact there.
                self.fallback = f"W&B unreachable ({type(exc).__name__}: {first_line(exc)}); logging offline"
                self.local_id = f"{run_id(self.job.key)}x{os.getpid():x}"
            if self.fallback:
                # The eval goes on, logged offline; `eval-orchestrator sync` uploads it later.
                log.warning("%s: %s", self.job.label, self.fallback)
                self.settings = self.settings.offline()
        if self.run is None:
            if not self.online:
                self._drop_dead_attempts(self.local_id or run_id(self.job.key))
            self.run = self._init(config, self.settings.mode, self.local_id)
        if not self.online:
            return
        # If W&B goes away mid-run, `sync` re-logs the rows it lacks from this file, at their steps
        # (a resumed run continues the step count).
        self.next_step = self.run.starting_step
        self.history_file = self.pending_file("history.jsonl")
        if self.job.ref.backend == "wandb":
            # Lineage: it exists even if the eval then crashes.
            self.run.use_artifact(str(self.job.ref))
            self.model_used = True

    def _drop_dead_attempts(self, rid: str) -> None:
        """One offline run folder per run id: an attempt that died mid-run left one that nothing names
        (this attempt takes its samples over); removed once we hold the run's lock, which a live
        attempt elsewhere would hold."""
        self.lock = self.spool.run_lock(rid)
        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            self.lock = None  # the same job is open in another live process: its folder stays
            return
        for folder in self.spool.orphan_offline_runs(rid):
            log.info("%s: removing %s, left by an attempt that died", self.job.label, folder)
            shutil.rmtree(folder, ignore_errors=True)

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def _init(self, config: dict[str, Any], mode: WandbRunMode, local_id: str | None = None) -> Any:
        import wandb

        settings = self.settings
        return wandb.init(
            # One run per job, the same on every attempt: a resumed or re-run plan continues it.
            id=local_id or run_id(self.job.key),
            resume="allow" if mode == "online" else None,
            project=settings.project,
            entity=settings.entity,
            mode=mode,
            dir=settings.dir,
            group=self.job.group,
            job_type=self.job.task_name,
            name=run_name(self.job),
            tags=run_tags(self.job, settings.tags),
            config=config,
            reinit="create_new",
            settings=sdk_settings(
                # W&B's requirements scan reads every installed package's metadata at each init (a
                # third of a job's busy time); the plan records the environment once instead.
                x_save_requirements=False,
                **git_settings(settings.git),
                init_timeout=settings.init_timeout,
                # Past this, finish() gives up on uploading: the data stays on disk for `sync`.
                finish_timeout=settings.finish_timeout,
                finish_timeout_raises=True,
            ),
        )

    @property
    def ready(self) -> bool:
        return self.starting is not None and self.starting.done() and self.starting.exception() is None

    def log(self, row: dict[str, Any] | None = None) -> None:
        """Log ``row`` once the run exists (rows logged before then wait, in order)."""
        if row is not None:
            self.pending.append(self.scrub.tree(row))
        if not self.ready:
            return
        while self.pending:
            row = self.pending.pop(0)
            self.run.log(row)
            if self.history_file is not None:
                append_history(self.history_file, self.next_step, row)
            self.next_step += 1

    def summarize(self, values: dict[str, Any]) -> None:
        """Set run summary keys, and remember them for `sync` should W&B not get them."""
        scrubbed = self.scrub.tree(values)
        self.run.summary.update(scrubbed)  # one summary record for all keys (a key at a time sends one each)
        self.summary.update(scrubbed)

    def rows_missing(self) -> str | None:
        """Why W&B lacks history rows this attempt logged, or None when it holds them all or cannot say."""
        run, logged = self.run, self.next_step
        if self.history_file is None or logged <= run.starting_step:
            return None
        held = history_short_of(run.entity, run.project, run.id, logged)
        if held is None:
            return None
        return f"W&B holds {held} of the run's {logged} history rows (its uploads gave up during an outage)"
