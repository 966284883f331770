"""How the core reports progress to whoever runs it: one line at a time, to a ``Notify`` the caller
gives (the CLI prints to stderr; a library user may log, or ignore them)."""

from __future__ import annotations

from collections.abc import Callable

Notify = Callable[[str], None]


def quiet(_line: str) -> None:
    """The default: report nothing."""
