"""One version through the loop: evaluate it (the same code path as `run`), compare it with the
baseline, and promote it (move an alias) or hold it, each step recorded in the ledger first so a
watcher killed anywhere resumes at the step it was on.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from eval_orchestrator.comparison.model import ComparisonReport
from eval_orchestrator.errors import RegistryError, Unavailable, UserError
from eval_orchestrator.job import canonical_json
from eval_orchestrator.plan import log_dir_for, plan_variant, variant_id
from eval_orchestrator.refs import parse_ref
from eval_orchestrator.run_config import RunConfig
from eval_orchestrator.watch.ledger import TERMINAL, Entry, Ledger
from eval_orchestrator.watch.settings import WatchConfig
from eval_orchestrator.watch.sources import version_number

if TYPE_CHECKING:
    from eval_orchestrator.det.submit import DeterminedExecutor

Notify = Callable[[str], None]
READY = frozenset({"baseline", "promoted", "held", "compared", "evaluated"})  # a baseline with results
KILL_AT = "EVAL_ORCHESTRATOR_TEST_KILL_AT"


def _crash_point(state: str) -> None:
    """Fault injection for the crash-safety tests: a real kill -9 of this process the moment the
    ledger holds ``state`` (EVAL_ORCHESTRATOR_TEST_KILL_AT); nothing happens without it."""
    if os.environ.get(KILL_AT) == state:
        os.kill(os.getpid(), signal.SIGKILL)


class Decision(BaseModel):
    """Why a version was promoted, held, recorded as the baseline, or failed (kept in the ledger)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome: Literal["promoted", "held", "baseline", "failed"]
    reason: str
    version: str
    digest: str
    baseline: str | None = None  # the baseline's pinned ref
    baseline_digest: str | None = None
    promoted_alias: str | None = None
    comparison: ComparisonReport | None = None


def plan_hash(config: RunConfig) -> str:
    """What makes two evaluations of one version the same: tasks, model, Inspect options, hooks."""
    import hashlib

    inspect = config.inspect.model_dump(exclude={"log_dir", "display"})
    ident = canonical_json([config.model_dump(include={"tasks", "model", "hooks"}), inspect])
    return hashlib.sha256(ident.encode()).hexdigest()[:16]


class Pipeline:
    def __init__(self, config: RunConfig, watch: WatchConfig, ledger: Ledger, owner: str, notify: Notify) -> None:
        self.config, self.watch, self.ledger, self.owner, self.notify = config, watch, ledger, owner, notify
        self.plan_hash = plan_hash(config)
        self.variant = variant_id(plan_variant(config))
        self._determined: DeterminedExecutor | None = None

    # -- the steps ---------------------------------------------------------------------------

    def process(self, entry: Entry) -> Entry:
        """Take a claimed version from its state to a final one (or back to the queue after a failure)."""
        if entry.state in ("discovered", "evaluating"):
            entry = self._evaluate(entry)
            if entry.state != "evaluated":
                return entry
        if entry.role == "baseline":
            return self._finish(entry, Decision(outcome="baseline", reason="the baseline: evaluated for comparisons",
                                                version=entry.version, digest=entry.digest))  # fmt: skip
        if entry.state == "evaluated":
            entry = self._compare(entry)
            if entry.state != "compared":
                return entry
        return self._gate(entry)

    def _evaluate(self, entry: Entry) -> Entry:
        entry = self.ledger.advance(entry, self.owner, "evaluating", attempts=entry.attempts + 1)
        self.notify(f"evaluating {entry.ref} (attempt {entry.attempts} of {self.watch.max_attempts})")
        _crash_point("evaluating")
        config = self.config.model_copy(update={"checkpoints": [entry.ref]})
        with self._lease(entry):
            try:
                if self.watch.executor == "determined":
                    entry, problems = self._on_determined(entry, config)
                else:
                    problems = self._here(config)
            except Unavailable:
                raise  # the watcher stops (75) with the version left at its state, to resume
            except Exception as exc:  # the eval could not run at all: retried like a failed one
                if isinstance(exc, UserError) and self.watch.executor == "determined":
                    raise  # the master refused us: every version would fail the same way
                problems = [f"{type(exc).__name__}: {exc}"]
        if not problems:
            entry = self.ledger.advance(entry, self.owner, "evaluated", error=None)
            _crash_point("evaluated")
            return entry
        error = "; ".join(problems)
        if entry.attempts >= self.watch.max_attempts:
            decision = Decision(outcome="failed", reason=f"eval failed {entry.attempts} time(s): {error}",
                                version=entry.version, digest=entry.digest)  # fmt: skip
            return self._finish(entry, decision, error=error)
        wait = self.watch.backoff_seconds * 2 ** (entry.attempts - 1)
        self.notify(f"{entry.ref}: eval failed ({error}); retrying in {wait:g}s")
        return self.ledger.advance(
            entry, self.owner, "discovered", error=error, next_attempt_at=time.time() + wait, external=None
        )

    def _here(self, config: RunConfig) -> list[str]:
        from eval_orchestrator import orchestrate

        report = orchestrate.run(config, notify=self.notify)
        return [f"{o.job.label}: {o.status}" for o in report.failed] + report.tracker_errors

    def _on_determined(self, entry: Entry, config: RunConfig) -> tuple[Entry, list[str]]:
        """One experiment per version: its id goes into the ledger before we wait, so a restarted
        watcher follows the same experiment instead of submitting a second one."""
        from eval_orchestrator.det.submit import DeterminedExecutor

        settings = self.watch.determined
        if self._determined is None:
            options = settings.model_dump(include={"max_concurrent_trials", "slots_per_trial", "max_restarts"})
            self._determined = DeterminedExecutor(settings.context, settings.poll_seconds, options)
        if entry.external and entry.external.startswith("determined:"):
            experiment_id = int(entry.external.partition(":")[2])
            self.notify(f"{entry.ref}: following Determined experiment {experiment_id}, submitted before")
        else:
            name = f"eval-orchestrator-{parse_ref(entry.ref).collection}-{entry.version}"
            experiment_id = self._determined.submit(config, name)
            entry = self.ledger.advance(entry, self.owner, "evaluating", external=f"determined:{experiment_id}")
            self.notify(f"{entry.ref}: submitted as Determined experiment {experiment_id}")
            _crash_point("submitted")
        outcome = self._determined.wait(experiment_id, self.notify)
        return entry, [] if outcome.ok else [f"Determined experiment {experiment_id} ended {outcome.state}"]

    def _baseline(self, entry: Entry) -> Entry | None:
        """The baseline version for ``entry`` (evaluated first if its results are missing), or None."""
        from eval_orchestrator.orchestrate import resolve_version

        if self.watch.baseline is None:
            return None
        ref = parse_ref(entry.ref).with_alias(self.watch.baseline)
        try:
            resolved = resolve_version(str(ref), self.config.store, self.notify)
        except RegistryError:
            return None  # no such alias yet
        key = (entry.registry, entry.collection, resolved.digest, self.plan_hash)
        if resolved.digest == entry.digest:
            return entry
        number = version_number(resolved.version)
        self.ledger.discover(*key[:3], self.plan_hash, resolved.version, number, str(resolved.version_ref), "baseline")
        base = self.ledger.get(key)
        assert base is not None
        if base.state not in READY or not self._has_logs(base):
            base = self._take_or_wait(key)
        return base if base.state in READY else None

    def _take_or_wait(self, key: tuple[str, str, str, str]) -> Entry:
        """Evaluate the baseline here, or wait for the watcher that is evaluating it (its lease)."""
        deadline = time.monotonic() + self.watch.lease_seconds
        while True:
            claimed = self.ledger.claim(self.owner, self.watch.lease_seconds, keys=[key])
            if claimed is not None:
                return self.process(claimed)
            current = self.ledger.get(key)
            if current is not None and (current.state in TERMINAL or current.next_attempt_at > time.time()):
                return current  # done, or failed and waiting for a retry: no baseline for now
            if time.monotonic() > deadline:
                raise Unavailable(f"the baseline {current.ref if current else key} is still being evaluated")
            time.sleep(0.5)

    def _has_logs(self, entry: Entry) -> bool:
        where = log_dir_for(Path(self.config.inspect.log_dir), parse_ref(entry.ref).collection, entry.version,
                            entry.digest, self.variant)  # fmt: skip
        return where.is_dir() and any(where.glob("*.eval"))

    def _compare(self, entry: Entry) -> Entry:
        from eval_orchestrator.comparison.compare import CompareOptions, compare

        base = self._baseline(entry)
        if base is not None and base.digest == entry.digest:
            decision = Decision(outcome="baseline", reason=f"it is the baseline ({self.watch.baseline})",
                                version=entry.version, digest=entry.digest)  # fmt: skip
            return self._finish(entry, decision)
        comparison = None
        if base is not None:
            gate = self.watch.gate
            options = CompareOptions(tasks=tuple(gate.tasks), log_dir=self.config.inspect.log_dir, variant=self.variant,
                                     cluster=gate.cluster, alpha=gate.alpha, margin=gate.margin)  # fmt: skip
            comparison = compare(base.ref, entry.ref, options, self.config.store, self.notify)
        decision = self._decide(entry, base, comparison)
        entry = self.ledger.advance(entry, self.owner, "compared", decision=decision.model_dump_json())
        _crash_point("compared")
        return entry

    def _decide(self, entry: Entry, base: Entry | None, comparison: ComparisonReport | None) -> Decision:
        held = Decision(outcome="held", reason="", version=entry.version, digest=entry.digest, comparison=comparison,
                        baseline=base.ref if base else None, baseline_digest=base.digest if base else None)  # fmt: skip
        if comparison is None or base is None:
            if self.watch.allow_first:
                return held.model_copy(
                    update={"outcome": "promoted", "reason": "no baseline to compare with (allow_first)"}
                )
            why = f"no baseline ({self.watch.baseline or 'watch.baseline unset'}) to compare with; allow_first is off"
            return held.model_copy(update={"reason": why})
        if comparison.regressions:
            names = ", ".join(
                f"{r.task}/{r.metric} ({r.verdict}, Δ {r.delta or 0:+.3f})" for r in comparison.regressions
            )
            return held.model_copy(update={"reason": f"regressed against {base.version}: {names}"})
        summary = ", ".join(f"{r.task}/{r.metric} {r.verdict}" for r in comparison.rows)
        reason = f"no regression against {base.version}: {summary}"
        return held.model_copy(update={"outcome": "promoted", "reason": reason})

    def _gate(self, entry: Entry) -> Entry:
        decision = Decision.model_validate_json(entry.decision or "{}")
        self._log(entry, decision)
        if decision.outcome == "promoted" and self.watch.promote:
            self._move_alias(entry, self.watch.promote)
            _crash_point("promoting")
            decision = decision.model_copy(update={"promoted_alias": self.watch.promote})
        elif decision.outcome == "promoted":
            decision = decision.model_copy(
                update={"reason": decision.reason + " (watch.promote unset: no alias moved)"}
            )
        return self._finish(entry, decision)

    # -- effects -----------------------------------------------------------------------------

    def _move_alias(self, entry: Entry, alias: str) -> None:
        ref = parse_ref(entry.ref)
        if ref.backend == "local":
            from eval_orchestrator.orchestrate import local_registry

            local_registry(self.config.store).set_alias(ref, alias)
        else:
            from eval_orchestrator.watch.wandb_alias import add_alias

            add_alias(entry.ref, alias)

    def _log(self, entry: Entry, decision: Decision) -> None:
        """The decision into W&B, with the comparison: a compare run and an eval-comparison artifact."""
        if decision.comparison is None or self.config.wandb.mode == "disabled":
            return
        from eval_orchestrator.comparison.wandb_log import log_comparison
        from eval_orchestrator.job import TrackingSettings
        from eval_orchestrator.spool import DecisionNote, NoteRow

        comparison = decision.comparison
        tracking = TrackingSettings.from_config(self.config)
        extra = {"decision": decision.outcome, "decision_reason": decision.reason, "promote_alias": self.watch.promote}
        rows = [NoteRow(task=r.task, metric=r.metric, delta=r.delta, ci_low=r.ci[0] if r.ci else None,
                        ci_high=r.ci[1] if r.ci else None, verdict=r.verdict) for r in comparison.rows]  # fmt: skip
        promoted = self.watch.promote if decision.outcome == "promoted" else None
        note = DecisionNote(rows=rows, promote_alias=promoted,
                            **decision.model_dump(include={"outcome", "reason", "version", "digest", "baseline",
                                                           "baseline_digest"}))  # fmt: skip
        log_comparison(comparison, tracking, None, extra, note=note)

    def _finish(self, entry: Entry, decision: Decision, error: str | None = None) -> Entry:
        entry = self.ledger.advance(entry, self.owner, decision.outcome, decision=decision.model_dump_json(),
                                    error=error)  # fmt: skip
        self.notify(f"{decision.outcome}: {entry.ref} ({entry.digest[:12]}): {decision.reason}")
        return entry

    @contextmanager
    def _lease(self, entry: Entry) -> Iterator[None]:
        """Keep the claim alive while a long eval runs."""
        done = threading.Event()

        def renew() -> None:
            while not done.wait(self.watch.lease_seconds / 3):
                self.ledger.renew(entry, self.owner, self.watch.lease_seconds)

        thread = threading.Thread(target=renew, name="watch-lease", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()


def decision_of(entry: Entry) -> Decision | None:
    return Decision.model_validate(json.loads(entry.decision)) if entry.decision else None
