"""The watcher: poll the watched collections (one listing each), record new versions in the
ledger, then take each unfinished version through the pipeline; forever, or once (`--once`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from eval_orchestrator.errors import ConfigError
from eval_orchestrator.run_config import RunConfig
from eval_orchestrator.watch.decide import Pipeline
from eval_orchestrator.watch.ledger import Entry, Ledger, new_owner
from eval_orchestrator.watch.settings import WatchConfig
from eval_orchestrator.watch.sources import Seen, Watched, list_versions, version_number

Notify = Callable[[str], None]


@dataclass
class CycleReport:
    discovered: list[str] = field(default_factory=list)  # refs new to the ledger this cycle
    finished: list[Entry] = field(default_factory=list)  # versions that reached a final state
    retrying: list[Entry] = field(default_factory=list)  # failed evals waiting for another attempt

    @property
    def exit_code(self) -> int:
        """--once: 1 an eval failed, 3 a version was held, else 0 (75 is raised, not returned)."""
        states = {entry.state for entry in self.finished}
        if "failed" in states or self.retrying:
            return 1
        return 3 if "held" in states else 0


class Watcher:
    def __init__(self, config: RunConfig, notify: Notify = lambda _: None) -> None:
        if config.watch is None:
            raise ConfigError("the run config has no 'watch:' section; add watch.collections (see README)")
        self.config = config
        self.watch: WatchConfig = config.watch
        if self.watch.executor == "local":
            from eval_orchestrator.preflight import check_plan

            check_plan(config)  # the plan every version will run, checked before the first poll
        else:
            from eval_orchestrator.det.submit import check_ready

            check_ready(config, self.watch.determined.context)  # before the first poll: nothing submitted yet
        self.notify = notify
        self.watched = [Watched.parse(text) for text in self.watch.collections]
        self.ledger = Ledger(self.watch.ledger)
        self.owner = new_owner()
        self.pipeline = Pipeline(config, self.watch, self.ledger, self.owner, notify)
        from eval_orchestrator.orchestrate import Registries

        self.registries = Registries(config.store, notify)  # one W&B API session for every poll

    def poll(self) -> list[str]:
        """List each watched collection once; record the versions to evaluate. Returns new refs."""
        new: list[str] = []
        for watched in self.watched:
            seen = sorted(list_versions(watched, self.config.store, self.registries), key=lambda s: s.number)
            new.extend(s.ref for s in self._select(watched, seen) if self._record(s))
        return new

    def _select(self, watched: Watched, seen: list[Seen]) -> list[Seen]:
        """Apply watch.start: which of the listed versions this watcher is responsible for."""
        plan = self.pipeline.plan_hash
        newest = max((s.number for s in seen), default=-1)
        cursor = self.ledger.cursor(watched.collection, plan)
        if cursor is None:  # the first start of this plan on this collection
            start = self.watch.start
            first = -1 if start == "all" else newest - 1 if start == "latest" else newest
            self.ledger.set_cursor(watched.collection, plan, first)
            cursor = (time.time(), first)
        return [s for s in seen if s.number > cursor[1]]

    def _record(self, seen: Seen) -> bool:
        return self.ledger.discover(
            seen.registry, seen.collection, seen.digest, self.pipeline.plan_hash, seen.version, seen.number, seen.ref
        )

    def enqueue(self, ref_text: str) -> Entry:
        """A version named from outside (a webhook): checked against the watched collections, recorded."""
        from eval_orchestrator.errors import UserError
        from eval_orchestrator.orchestrate import resolve_version
        from eval_orchestrator.refs import parse_ref

        ref = parse_ref(ref_text)
        watched = next((w for w in self.watched if w.covers(ref)), None)
        if watched is None:
            raise UserError(f"{ref_text} is not in a watched collection ({', '.join(self.watch.collections)})")
        resolved = resolve_version(ref_text, self.config.store, registries=self.registries)
        number = version_number(resolved.version)
        key = (ref.backend, watched.collection, resolved.digest, self.pipeline.plan_hash)
        self.ledger.discover(*key[:3], self.pipeline.plan_hash, resolved.version, number, str(resolved.version_ref))
        entry = self.ledger.get(key)
        assert entry is not None
        return entry

    def work(self, report: CycleReport) -> None:
        """Take every claimable version to its end (or its next retry)."""
        while (entry := self.ledger.claim(self.owner, self.watch.lease_seconds)) is not None:
            try:
                done = self.pipeline.process(entry)
            except BaseException:
                self.ledger.release(entry, self.owner)  # resumable by the next start, at its state
                raise
            (report.finished if done.state in ("promoted", "held", "failed", "baseline") else report.retrying).append(
                done
            )

    def cycle(self) -> CycleReport:
        report = CycleReport()
        report.discovered = self.poll()
        for ref in report.discovered:
            self.notify(f"discovered {ref}")
        self.work(report)
        return report
