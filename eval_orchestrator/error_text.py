"""Error text users can act on: one line, Rich markup stripped, a dependency's fix line kept whole."""

from __future__ import annotations

import re

# Rich markup as Inspect and its providers write it: [bold], [/bold], [blue], [bright_black], [link=...].
_MARKUP = re.compile(
    r"\[/?(?:bold|italic|underline|dim|link|bright_\w+|red|green|yellow|blue|cyan|magenta|white)[^\]]*\]"
)


def one_line(text: str) -> str:
    """Lines joined into one (a fix such as `pip install anthropic` on its own line is kept whole)."""
    text = _MARKUP.sub("", text)
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def error_text(exc: BaseException) -> str:
    """An exception as one line: its message, or its type when it has none."""
    message = one_line(str(exc))
    return message or type(exc).__name__
