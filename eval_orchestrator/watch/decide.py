"""One version through the loop: evaluate it (the same code path as `run`), compare it with the
baseline, and promote it (move an alias) or hold it, each step recorded in the ledger first so a
watcher killed anywhere resumes at the step it was on.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from eval_orchestrator import env
from eval_orchestrator.comparison.model import ComparisonReport
from eval_orchestrator.comparison.wandb_log import comparison_run_id
from eval_orchestrator.errors import NotFound, OrchestratorError, Unavailable, UserError
from eval_orchestrator.notify import Notify
from eval_orchestrator.plan import local_log_dir_for, plan_identity
from eval_orchestrator.registry.factory import Registries
from eval_orchestrator.run_config import RunConfig
from eval_orchestrator.trail import GateEvidence, move_alias, now, record_gate
from eval_orchestrator.watch.decision import Decision
from eval_orchestrator.watch.ledger import TERMINAL, Entry, ExternalRun, Ledger, LedgerKey
from eval_orchestrator.watch_config import WatchConfig

if TYPE_CHECKING:
    from eval_orchestrator.det.submit import DeterminedExecutor
    from eval_orchestrator.gate import GateResult
    from eval_orchestrator.refs import CheckpointRef

READY = frozenset({"baseline", "promoted", "held", "logged", "compared", "evaluated"})  # a baseline with results
KILL_AT = "EVAL_ORCHESTRATOR_TEST_KILL_AT"


def _crash_point(state: str) -> None:
    """Fault injection for the crash-safety tests: a real kill -9 of this process the moment the
    ledger holds ``state`` (EVAL_ORCHESTRATOR_TEST_KILL_AT); nothing happens without it."""
    if env.get(KILL_AT) == state:
        os.kill(os.getpid(), signal.SIGKILL)


class Pipeline:
    def __init__(
        self, config: RunConfig, watch: WatchConfig, ledger: Ledger, owner: str, notify: Notify, registries: Registries
    ) -> None:
        self.config, self.watch, self.ledger, self.owner, self.notify = config, watch, ledger, owner, notify
        self.registries = registries
        self.plan = plan_identity(config)
        self._determined: DeterminedExecutor | None = None

    # -- the steps ---------------------------------------------------------------------------

    def process(self, entry: Entry) -> Entry:
        """Take a claimed version from its state to a final one (or back to the queue after a failure)."""
        if entry.state in ("discovered", "evaluating"):
            entry = self._evaluate(entry)
            if entry.state != "evaluated":
                return entry
        if entry.role == "baseline":
            return self._finish(entry, self._decision(entry, "baseline", "the baseline: evaluated for comparisons"))
        if entry.state == "evaluated":
            entry = self._compare(entry)
            if entry.state != "compared":
                return entry
        if entry.state == "compared":
            entry = self._record(entry)  # once: a watcher killed after this does not log it again
        return self._gate(entry) if entry.state == "logged" else entry

    def _run_config(self, ref: CheckpointRef | None = None) -> RunConfig:
        config = self.config.model_copy(update={"checkpoints": [ref]}) if ref is not None else self.config
        if self.watch.executor == "ray":  # the run config's executor: section says which cluster, and how
            config = config.model_copy(update={"executor": config.executor.model_copy(update={"kind": "ray"})})
        return config

    def _decision(self, entry: Entry, outcome: str, reason: str, **more: object) -> Decision:
        return Decision.model_validate(
            {"outcome": outcome, "reason": reason, "version": entry.version, "digest": entry.digest, **more}
        )

    def _evaluate(self, entry: Entry) -> Entry:
        # The attempt counts when it ends: one cut short by a dead watcher is taken up again, not spent.
        attempt = entry.attempts + 1
        entry = self.ledger.advance(entry, self.owner, "evaluating")
        self.notify(f"evaluating {entry.ref} (attempt {attempt} of {self.watch.max_attempts})")
        _crash_point("evaluating")
        config = self._run_config(entry.ref)
        with self._lease(entry):
            try:
                if self.watch.executor == "determined":
                    entry, problems = self._on_determined(entry, config)
                elif self._staged(entry, config, evaluate=True) is not None:
                    problems = []  # decided in _compare, from the stages' logs
                else:
                    problems = self._here(config)
            except Unavailable:
                raise  # the watcher stops (75) with the version left at its state, to resume
            except Exception as exc:  # the eval could not run at all: retried like a failed one
                if isinstance(exc, UserError) and self.watch.executor == "determined":
                    raise  # the master refused us: every version would fail the same way
                problems = [f"{type(exc).__name__}: {exc}"]
        if not problems:
            entry = self.ledger.advance(entry, self.owner, "evaluated", attempts=attempt, clear=frozenset({"error"}))
            _crash_point("evaluated")
            return entry
        error = "; ".join(problems)
        if attempt >= self.watch.max_attempts:
            decision = self._decision(entry, "failed", f"eval failed {attempt} time(s): {error}")
            return self._finish(entry, decision, error=error, attempts=attempt)
        wait = self.watch.backoff_seconds * 2 ** (attempt - 1)
        self.notify(f"{entry.ref}: eval failed ({error}); retrying in {wait:g}s")
        return self.ledger.advance(entry, self.owner, "discovered", attempts=attempt, error=error,
                                   next_attempt_at=time.time() + wait, clear=frozenset({"external"}))  # fmt: skip

    def _staged(self, entry: Entry, config: RunConfig, evaluate: bool) -> GateResult | None:
        """The sequential gate for a new version (watch.gate.sequential, a baseline to compare with):
        evaluated in stages, or (``evaluate=False``) decided from the stages' logs; None otherwise."""
        if not self.watch.gate.sequential or entry.role == "baseline" or self.watch.executor == "determined":
            return None
        base = self._baseline(entry)
        if base is None or base.digest == entry.digest:
            return None  # no baseline yet, or this is it: the plain path decides (allow_first, "baseline")
        from eval_orchestrator import gate

        gate.check_sequential(config)
        cand_version, base_version = self.registries.resolve(entry.ref), self.registries.resolve(base.ref)
        where = gate.compare_options(config, self.watch.gate)
        have_base = gate.has_every_task(base_version, config, where)
        return gate.sequential_gate(cand_version, base_version, have_base, config, self.watch.gate, self.notify,
                                    evaluate=evaluate)  # fmt: skip

    def _here(self, config: RunConfig) -> list[str]:
        from eval_orchestrator import orchestrate

        report = orchestrate.run(config, notify=self.notify)
        report.raise_if_disk_full()  # 75: the watcher stops with the version at its state, not a failed attempt
        return [f"{o.job.label}: {o.status}" for o in report.failed] + report.tracker_errors

    def _on_determined(self, entry: Entry, config: RunConfig) -> tuple[Entry, list[str]]:
        """One experiment per version: its id goes into the ledger before we wait, so a restarted
        watcher follows the same experiment instead of submitting a second one."""
        from eval_orchestrator.det.submit import DeterminedExecutor

        settings = self.watch.determined
        if self._determined is None:
            options = settings.model_dump(include={"max_concurrent_trials", "slots_per_trial", "max_restarts"})
            self._determined = DeterminedExecutor(settings.context, settings.poll_seconds, options)
        if entry.external is not None:
            experiment_id = entry.external.id
            self.notify(f"{entry.ref}: following Determined experiment {experiment_id}, submitted before")
        else:
            name = f"eval-orchestrator-{entry.ref.collection}-{entry.version}"
            experiment_id = self._determined.submit(config, name)
            external = ExternalRun("determined", experiment_id)
            entry = self.ledger.advance(entry, self.owner, "evaluating", external=external)
            self.notify(f"{entry.ref}: submitted as Determined experiment {experiment_id}")
            _crash_point("submitted")
        outcome = self._determined.wait(experiment_id, self.notify)
        return entry, [] if outcome.ok else [f"Determined experiment {experiment_id} ended {outcome.state}"]

    def _baseline(self, entry: Entry) -> Entry | None:
        """The baseline version for ``entry`` (evaluated first if its results are missing), or None."""
        if self.watch.baseline is None:
            return None
        try:
            resolved = self.registries.resolve(entry.ref.with_alias(self.watch.baseline))
        except NotFound:
            return None  # no such alias yet
        if resolved.digest == entry.digest:
            return entry
        key = LedgerKey(entry.source, resolved.digest, self.plan.key)
        self.ledger.discover(key, version=resolved.version, ref=resolved.version_ref, role="baseline")
        base = self.ledger.get(key)
        assert base is not None
        if base.state not in READY or not self._has_logs(base):
            base = self._take_or_wait(key)
        return base if base.state in READY else None

    def _take_or_wait(self, key: LedgerKey) -> Entry:
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
                raise Unavailable(f"the baseline {current.ref if current else key.source} is still being evaluated")
            time.sleep(0.5)

    def _has_logs(self, entry: Entry) -> bool:
        where = local_log_dir_for(self.config.inspect.log_dir, entry.ref.collection, entry.version, entry.digest,
                            self.plan.folder)  # fmt: skip
        return where.is_dir() and any(where.glob("*.eval"))

    def _compare(self, entry: Entry) -> Entry:
        from eval_orchestrator.comparison.compare import compare

        base = self._baseline(entry)
        if base is not None and base.digest == entry.digest:
            decision = self._decision(entry, "baseline", f"it is the baseline ({self.watch.baseline})")
            return self._finish(entry, decision)
        comparison = None
        if base is not None and (staged := self._staged(entry, self._run_config(), evaluate=False)) is not None:
            comparison = staged.comparison
        elif base is not None:
            from eval_orchestrator.gate import compare_options

            options = compare_options(self.config, self.watch.gate)
            comparison = compare(base.ref, entry.ref, options, self.config.store, self.notify)
        entry = self.ledger.advance(entry, self.owner, "compared", decision=self._decide(entry, base, comparison))
        _crash_point("compared")
        return entry

    def _decide(self, entry: Entry, base: Entry | None, comparison: ComparisonReport | None) -> Decision:
        against = {"comparison": comparison, "baseline": base.ref if base else None,
                   "baseline_digest": base.digest if base else None}  # fmt: skip
        if comparison is None or base is None:
            if self.watch.allow_first:
                return self._decision(entry, "promoted", "no baseline to compare with (allow_first)", **against)
            why = f"no baseline ({self.watch.baseline or 'watch.baseline unset'}) to compare with; allow_first is off"
            return self._decision(entry, "held", why, **against)
        if comparison.gate == "held":  # a regression, or a task it could not compare: fails closed
            names = ", ".join(
                f"{r.task}/{r.metric} ({r.verdict}" + (f", Δ {r.delta:+.3f})" if r.delta is not None else ")")
                for r in comparison.held
            )
            why = "regressed against" if comparison.regressions else "could not be compared with"
            return self._decision(entry, "held", f"{why} {base.version}: {names or 'no task compared'}", **against)
        summary = ", ".join(f"{r.task}/{r.metric} {r.verdict}" for r in comparison.rows)
        return self._decision(entry, "promoted", f"no regression against {base.version}: {summary}", **against)

    def _record(self, entry: Entry) -> Entry:
        """The decision into W&B, then the ledger says so."""
        if entry.decision is None:  # compared, but the decision is not in the ledger: decide again
            entry = self._compare(self.ledger.advance(entry, self.owner, "evaluated"))
            if entry.state != "compared" or entry.decision is None:
                return entry
        decision = self._log(entry, entry.decision)
        entry = self.ledger.advance(entry, self.owner, "logged", decision=decision)
        _crash_point("logged")
        return entry

    def _gate(self, entry: Entry) -> Entry:
        decision = entry.decision
        assert decision is not None  # logged: the decision is in the ledger
        if decision.outcome == "promoted" and self.watch.promote:
            self._record_gate(entry, decision)
            move_alias(self.registries, entry.ref, self.watch.promote, decision.reason, by="watch")
            _crash_point("promoting")
            decision = decision.model_copy(update={"promoted_alias": self.watch.promote})
        elif decision.outcome == "promoted":
            decision = decision.model_copy(
                update={"reason": decision.reason + " (watch.promote unset: no alias moved)"}
            )
        return self._finish(entry, decision)

    # -- effects -----------------------------------------------------------------------------

    def _log(self, entry: Entry, decision: Decision) -> Decision:
        """The decision into W&B, with the comparison: a compare run, an eval-comparison artifact, and
        (watch.report) a W&B Report whose URL the decision then carries."""
        if decision.comparison is None or self.config.wandb.mode == "disabled":
            return decision
        from eval_orchestrator.comparison.wandb_log import log_comparison
        from eval_orchestrator.job import TrackingSettings
        from eval_orchestrator.spool import DecisionNote, NoteRow

        comparison = decision.comparison
        tracking = TrackingSettings.from_config(self.config)
        if self.watch.report:
            from eval_orchestrator.comparison.report_publish import comparison_spec, publish

            published = publish(comparison_spec(comparison, tracking, decision.outcome), tracking)
            self.notify(f"{entry.ref}: {published.describe()}")
            decision = decision.model_copy(update={"report_url": published.url})
        extra = {"decision": decision.outcome, "decision_reason": decision.reason, "promote_alias": self.watch.promote,
                 "report_url": decision.report_url}  # fmt: skip
        rows = [NoteRow(task=r.task, metric=r.metric, delta=r.delta, ci_low=r.ci[0] if r.ci else None,
                        ci_high=r.ci[1] if r.ci else None, verdict=r.verdict) for r in comparison.rows]  # fmt: skip
        promoted = self.watch.promote if decision.outcome == "promoted" else None
        note = DecisionNote(rows=rows, promote_alias=promoted,
                            **decision.model_dump(mode="json", include={"outcome", "reason", "version", "digest",
                                                                        "baseline", "baseline_digest",
                                                                        "report_url"}))  # fmt: skip
        log_comparison(comparison, tracking, None, extra, note=note)
        return decision

    def _record_gate(self, entry: Entry, decision: Decision) -> None:
        """The decision as the version's last gate (what `promote` checks): held and failed fail closed."""
        comparison = decision.comparison
        evidence = GateEvidence(
            outcome="passed" if decision.outcome == "promoted" else "held",
            source="watch",
            reason=decision.reason,
            decided_at=now(),
            baseline=str(decision.baseline) if decision.baseline else None,
            baseline_digest=decision.baseline_digest,
            comparison_run=comparison_run_id(comparison)
            if comparison is not None and self.config.wandb.mode != "disabled"
            else None,
            report_url=decision.report_url,
        )
        record_gate(self.registries, entry.ref, evidence)

    def _finish(self, entry: Entry, decision: Decision, error: str | None = None, attempts: int | None = None) -> Entry:
        if decision.outcome in ("held", "failed"):
            try:
                self._record_gate(entry, decision)
            except OrchestratorError as exc:  # the registry is down: the ledger still holds it
                self.notify(f"warning: the hold of {entry.ref} is not in its registry metadata ({exc})")
        entry = self.ledger.advance(entry, self.owner, decision.outcome, decision=decision, error=error,
                                    attempts=attempts)  # fmt: skip
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
