"""`eval-orchestrator registry repair COLLECTION`: make a damaged local collection usable again.

Nothing is deleted but dead staging folders: a version whose manifest or metadata cannot be read is
moved aside to ``<collection>/damaged/`` (its bytes kept for a person to look at), and an alias
table that cannot be read is rebuilt (``latest`` -> the newest good version; the other aliases are
listed as lost, to be set again with ``registry alias``).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field

from eval_orchestrator.errors import RegistryError
from eval_orchestrator.refs import DEFAULT_ALIAS, CheckpointRef
from eval_orchestrator.registry.local import LocalRegistry, _write_json_atomic


@dataclass
class RepairReport:
    collection: str
    staging_removed: int = 0
    set_aside: list[str] = field(default_factory=list)  # versions moved to damaged/
    aliases_dropped: list[str] = field(default_factory=list)  # aliases that named a bad or missing version
    aliases_rebuilt: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.staging_removed or self.set_aside or self.aliases_dropped or self.aliases_rebuilt)


def repair(registry: LocalRegistry, collection: str) -> RepairReport:
    cdir = registry._collection_dir(collection)
    if not (cdir / "versions").is_dir():
        raise RegistryError(f"collection {collection!r} not found in the local registry at {registry.root}")
    report = RepairReport(collection)
    with registry._lock(collection):
        for stale in cdir.glob(".add-*"):
            shutil.rmtree(stale, ignore_errors=True)
            report.staging_removed += 1
        good = []
        for version in registry._versions(collection):
            try:
                registry._read_version(collection, version)
                good.append(version)
            except RegistryError:
                aside = cdir / "damaged" / f"{version}-{int(time.time())}"
                aside.parent.mkdir(exist_ok=True)
                os.rename(cdir / "versions" / version, aside)
                report.set_aside.append(version)
        try:
            table = registry._aliases(collection)
        except RegistryError:
            table, report.aliases_rebuilt = {}, True
        kept = {alias: version for alias, version in table.items() if version in good}
        report.aliases_dropped = sorted(set(table) - set(kept) - {DEFAULT_ALIAS})
        if good:
            kept[DEFAULT_ALIAS] = good[-1]
        else:
            kept.pop(DEFAULT_ALIAS, None)
        if kept != table or report.aliases_rebuilt:
            _write_json_atomic(cdir / "aliases.json", kept)
    if good:
        registry.resolve(CheckpointRef("local", collection, DEFAULT_ALIAS))  # readable again, end to end
    return report
