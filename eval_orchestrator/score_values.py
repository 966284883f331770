"""Inspect score values as numbers, the way Inspect maps them: C/I/P/N -> 1/0/0.5/0, booleans and
yes/no -> 1/0, numbers and numeric strings as they are. A dict-valued score (common in
inspect_evals, e.g. {"utility": "I", "security": "C"}) is one metric per key, ``scorer/key``.

Anything else (lists, free text) is not a number: it is left out, never counted as 0 (Inspect's
own ``value_to_float`` returns 0.0 with a warning for those).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from inspect_ai.scorer import value_to_float

_to_float = value_to_float()
_LETTERS = {"C", "I", "P", "N"}  # Inspect's CORRECT, INCORRECT, PARTIAL, NOANSWER (case matters)
_WORDS = {"yes", "no", "true", "false"}


def as_number(value: Any) -> float | None:
    """``value`` as Inspect would score it, or None when it is not a number at all."""
    if isinstance(value, bool | int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if value in _LETTERS or text in _WORDS:
            return _to_float(value)
        try:
            number = float(text)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def numeric_scores(name: str, value: Any) -> dict[str, float]:
    """The numeric metrics in one sample's score named ``name``: ``{name: x}`` for a scalar,
    ``{name/key: x}`` per numeric key of a dict; empty when nothing in it is a number."""
    if isinstance(value, Mapping):
        found = {f"{name}/{key}": as_number(item) for key, item in value.items()}
        return {key: number for key, number in found.items() if number is not None}
    number = as_number(value)
    return {} if number is None else {name: number}
