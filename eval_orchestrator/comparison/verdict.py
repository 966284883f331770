"""The verdict a comparison reaches, as a type of its own: the typed results (model.py), and what
spools them, name it without importing the statistics (numpy and scipy: most of a second)."""

from typing import Literal

Verdict = Literal["better", "worse", "non-inferior", "no detectable difference", "not compared"]
