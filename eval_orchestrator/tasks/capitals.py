"""A tiny task the quickstart checkpoint can learn: name the capital of a country.

The facts are also the quickstart's training text, so a briefly trained checkpoint (v1)
scores well above the untrained one (v0): a visible, honest difference in a few seconds.
"""

from __future__ import annotations

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import GenerateConfig
from inspect_ai.scorer import includes
from inspect_ai.solver import generate

CAPITALS: list[tuple[str, str]] = [
    ("France", "Paris"),
    ("Japan", "Tokyo"),
    ("Italy", "Rome"),
    ("Spain", "Madrid"),
    ("Germany", "Berlin"),
    ("Egypt", "Cairo"),
    ("Kenya", "Nairobi"),
    ("Peru", "Lima"),
    ("Norway", "Oslo"),
    ("Greece", "Athens"),
    ("Canada", "Ottawa"),
    ("Chile", "Santiago"),
]


def question(country: str) -> str:
    return f"What is the capital of {country}?"


@task
def capitals(count: int = len(CAPITALS)) -> Task:
    samples = [Sample(input=question(country), target=city, id=country.lower()) for country, city in CAPITALS[:count]]
    return Task(
        dataset=MemoryDataset(samples, name="capitals"),
        solver=generate(),
        scorer=includes(),
        config=GenerateConfig(max_tokens=4),
    )
