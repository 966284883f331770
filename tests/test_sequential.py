"""The sequential gate's design: published boundaries, the look rule, and (seeded simulation) a
false-promotion rate within alpha / 2 plus Monte Carlo error while it stops early on clear effects."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eval_orchestrator.comparison import sequential
from eval_orchestrator.comparison.simulation import Scenario, minimum_detectable_effect, simulate

ALPHA = 0.05
REPS = 4000


def test_the_boundaries_are_the_published_obrien_fleming_lan_demets_ones() -> None:
    # Jennison & Turnbull (2000) / gsDesign: two-sided 0.05, 5 equally spaced looks.
    published = (4.877, 3.357, 2.680, 2.290, 2.031)
    assert sequential.design(5, ALPHA).boundaries == pytest.approx(published, abs=0.005)
    assert sequential.design(1, ALPHA).boundaries == pytest.approx((1.960,), abs=0.001)  # the fixed test
    assert sequential.spent(1.0, ALPHA / 2) == pytest.approx(ALPHA / 2)
    with pytest.raises(ValueError, match="increase to 1"):
        sequential.design(2, ALPHA, [0.6, 0.5])


def test_a_look_stops_on_a_clear_answer_and_otherwise_goes_on_to_the_last() -> None:
    plan = sequential.design(4, ALPHA)
    rng = np.random.default_rng(0)
    clear = rng.normal(0.5, 0.2, 100)
    first = sequential.look(clear, 0, plan, margin=None)
    assert first.stop and first.verdict == "better" and first.ci[0] > 0 and first.n == 100
    unclear = rng.normal(0.0, 0.2, 100)
    early = sequential.look(unclear, 1, plan, margin=None)
    assert not early.stop and early.verdict == "no detectable difference"
    assert early.boundary > 2.9  # far wider than 1.96 at an early look (and on the t scale)
    assert sequential.look(unclear, 3, plan, margin=None).stop  # the last look always decides
    worse = sequential.look(-clear, 0, plan, margin=0.05)
    assert worse.stop and worse.verdict == "worse"
    tiny = sequential.look(np.array([0.5]), 0, plan, margin=None)
    assert not tiny.stop and tiny.verdict == "not compared"


def test_a_schedule_drops_looks_too_early_for_a_standard_error() -> None:
    plan, sizes = sequential.schedule(50, 10, ALPHA)
    assert sizes == [20, 25, 30, 35, 40, 45, 50] and plan.looks == 7
    assert plan.fractions == pytest.approx([s / 50 for s in sizes])
    assert sequential.schedule(8, 4, ALPHA)[1] == [8]  # too small to look early: one look, the fixed test


def _mc_bound(rate: float, reps: int) -> float:
    return rate + 3 * math.sqrt(rate * (1 - rate) / reps)


@pytest.mark.parametrize(("binary", "clusters"), [(True, None), (False, 80)])
def test_false_promotions_stay_within_alpha_and_clear_effects_stop_by_half(binary: bool, clusters: int | None) -> None:
    null = Scenario(binary, 0.0, None, 400, clusters)
    mde = minimum_detectable_effect(null, ALPHA, seed=1)
    at_margin = Scenario(binary, -mde / 2, mde / 2, 400, clusters)
    sequential_gate, fixed_gate = simulate(at_margin, REPS, 10, ALPHA, seed=11)
    # The candidate is worse by exactly the margin: passing it is a false promotion (one side: alpha/2).
    assert sequential_gate.passed <= _mc_bound(ALPHA / 2, REPS)
    assert sequential_gate.passed <= fixed_gate.passed + 3 * math.sqrt(ALPHA / 2 / REPS)  # no worse than fixed
    no_effect, _ = simulate(null, REPS, 10, ALPHA, seed=12)
    assert no_effect.better <= _mc_bound(ALPHA / 2, REPS)
    assert no_effect.median_fraction == 1.0  # equal versions run to the end
    clear, clear_fixed = simulate(Scenario(binary, 2 * mde, None, 400, clusters), REPS, 10, ALPHA, seed=13)
    assert clear.median_fraction <= 0.5
    assert clear.better >= clear_fixed.better - 3 * math.sqrt(0.01 / REPS)  # no loss of power
