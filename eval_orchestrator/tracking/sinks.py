"""Who else wants to know a job's progress while it runs: a Ray unit reports to the driver's board.

The tracker hook calls ``report`` after each sample; a unit adds its sink for the time it runs. A sink
that fails is dropped, never the eval.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

ProgressSink = Callable[[str, str, int, int], None]  # job label, job key, samples done, samples planned
_sinks: list[ProgressSink] = []


@contextlib.contextmanager
def reporting_to(sink: ProgressSink) -> Iterator[None]:
    _sinks.append(sink)
    try:
        yield
    finally:
        _sinks.remove(sink)


def report(label: str, key: str, done: int, planned: int) -> None:
    for sink in list(_sinks):
        try:
            sink(label, key, done, planned)
        except Exception:  # the board is gone (the driver stopped): the eval goes on
            _sinks.remove(sink)
