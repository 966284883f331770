"""The watcher: poll the watched collections (one listing each), record new versions in the
ledger, then take each unfinished version through the pipeline; forever, or once (`--once`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from eval_orchestrator.errors import ConfigError, UserError
from eval_orchestrator.notify import Notify, quiet
from eval_orchestrator.paths import is_remote
from eval_orchestrator.refs import CheckpointRef, WatchTarget
from eval_orchestrator.registry.factory import Registries
from eval_orchestrator.run_config import RunConfig
from eval_orchestrator.watch.decide import Pipeline
from eval_orchestrator.watch.ledger import Entry, Ledger, LedgerKey, new_owner
from eval_orchestrator.watch.sources import Seen, list_versions
from eval_orchestrator.watch_config import WatchConfig


@dataclass
class CycleReport:
    discovered: list[CheckpointRef] = field(default_factory=list)  # versions new to the ledger this cycle
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
    def __init__(self, config: RunConfig, notify: Notify = quiet) -> None:
        if config.watch is None:
            raise ConfigError("the run config has no 'watch:' section; add watch.collections (see README)")
        self.config = config
        self.watch: WatchConfig = config.watch
        if self.watch.executor in ("local", "ray"):
            from eval_orchestrator.preflight import check_plan

            check_plan(config)  # the plan every version will run, checked before the first poll
            if is_remote(config.inspect.log_dir):
                raise ConfigError(
                    f"watch compares versions from their logs: inspect.log_dir {config.inspect.log_dir!r} is a URL; "
                    "give a folder (one every node shares, for executor ray)"
                )
            if self.watch.executor == "ray":
                from eval_orchestrator.executors.ray_cluster import require_ray

                require_ray()
        else:
            from eval_orchestrator.det.submit import check_ready

            check_ready(config, self.watch.determined.context)  # before the first poll: nothing submitted yet
        self.notify = notify
        self.registries = Registries(config.store, notify)  # one W&B API session for every poll
        for target in self.watch.collections:  # a collection that does not exist is a typo: refused now
            self.registries.of(target.collection).list_versions(target.collection)
        self.ledger = Ledger(self.watch.ledger)
        self.owner = new_owner()
        self.pipeline = Pipeline(config, self.watch, self.ledger, self.owner, notify, self.registries)

    @property
    def plan(self) -> str:
        return self.pipeline.plan.key

    def poll(self) -> list[CheckpointRef]:
        """List each watched collection once; record the versions to evaluate. Returns new refs."""
        new: list[CheckpointRef] = []
        for target in self.watch.collections:
            seen = sorted(list_versions(target, self.registries), key=lambda s: s.number)
            new.extend(s.id.ref for s in self._select(target, seen) if self._record(target, s))
        return new

    def _select(self, target: WatchTarget, seen: list[Seen]) -> list[Seen]:
        """Apply watch.start: which of the listed versions this watcher is responsible for."""
        newest = max((s.number for s in seen), default=-1)
        cursor = self.ledger.cursor(target.collection, self.plan)
        if cursor is None:  # the first start of this plan on this collection
            start = self.watch.start
            first = -1 if start == "all" else newest - 1 if start == "latest" else newest
            self.ledger.set_cursor(target.collection, self.plan, first)
            cursor = (time.time(), first)
        return [s for s in seen if s.number > cursor[1]]

    def _record(self, target: WatchTarget, seen: Seen) -> bool:
        key = LedgerKey(target.collection, seen.id.digest, self.plan)
        return self.ledger.discover(key, version=seen.id.version, ref=seen.id.ref)

    def enqueue(self, ref: CheckpointRef) -> Entry:
        """A version named from outside (a webhook): checked against the watched collections, recorded."""
        target = next((t for t in self.watch.collections if t.covers(ref)), None)
        if target is None:
            watched = ", ".join(str(t) for t in self.watch.collections)
            raise UserError(f"{ref} is not in a watched collection ({watched})")
        resolved = self.registries.resolve(ref)
        key = LedgerKey(target.collection, resolved.digest, self.plan)
        self.ledger.discover(key, version=resolved.version, ref=resolved.version_ref)
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
