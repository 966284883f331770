"""Monte Carlo error rates of the sequential gate next to the fixed-size gate at the same alpha.

Both gates see the same simulated paired scores; the sequential one looks K times (sequential.py's
boundaries and rule, vectorised over replicates), the fixed one once at the full size with the same
paired z interval. Scores are binary (correct / not, a per-sample difficulty, pairs sharing their
luck 70% of the time) or continuous (Gaussian), optionally in clusters whose effect varies, so the
cluster-robust SE and whole-cluster looks are exercised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from eval_orchestrator.comparison.sequential import MIN_FIRST_CLUSTERS, MIN_FIRST_LOOK, design, t_boundary
from eval_orchestrator.comparison.stats import POWER, Array


@dataclass(frozen=True)
class Scenario:
    binary: bool
    effect: float  # the true mean difference, candidate - baseline
    margin: float | None
    n: int = 400
    clusters: int | None = None  # whole clusters of n / clusters samples


@dataclass(frozen=True)
class Rates:
    """One gate's behaviour over the replicates of one scenario."""

    passed: float  # the gate let the candidate through
    better: float  # the verdict was "better"
    mean_fraction: float  # of the samples used
    median_fraction: float
    p90_fraction: float
    reps: int

    def interval(self, rate: float) -> tuple[float, float]:
        """The 95% Wilson interval of a rate over the replicates (the Monte Carlo error)."""
        low, high = stats.binomtest(round(rate * self.reps), self.reps).proportion_ci(method="wilson")
        return float(low), float(high)


def differences(scenario: Scenario, reps: int, rng: np.random.Generator) -> Array:
    """``reps`` x n paired differences; clustered samples are laid out cluster by cluster."""
    n, groups = scenario.n, scenario.clusters or scenario.n
    size = n // groups
    cluster_shift = rng.normal(0, 0.12 if scenario.clusters else 0.0, (reps, groups)).repeat(size, axis=1)
    effect_shift = rng.normal(0, 0.04 if scenario.clusters else 0.0, (reps, groups)).repeat(size, axis=1)
    effect = scenario.effect + effect_shift
    if scenario.binary:
        p = np.clip(rng.uniform(0.25, 0.75, (reps, n)) + cluster_shift, 0.15, 0.85)
        luck = rng.uniform(size=(reps, n))
        shared = rng.uniform(size=(reps, n)) < 0.7
        baseline = (luck < p).astype(np.float64)
        candidate = (np.where(shared, luck, rng.uniform(size=(reps, n))) < p + effect).astype(np.float64)
        return candidate - baseline
    noise = rng.normal(0, 0.2, (reps, n))
    return effect + noise  # a per-sample level shared by both sides cancels in the difference


def _means_and_errors(d: Array, units: list[int], size: int) -> tuple[Array, Array]:
    """Per replicate and look: the mean of the first ``units`` (samples, or clusters of ``size``) and
    its SE (sd/sqrt(n), or cluster-robust), as stats.mean_stderr computes them."""
    reps = d.shape[0]
    sums = d.reshape(reps, -1, size).sum(axis=2)  # per cluster (a sample is a cluster of one)
    means, errors = np.empty((reps, len(units))), np.empty((reps, len(units)))
    for j, g in enumerate(units):
        n = g * size
        mean = sums[:, :g].sum(axis=1) / n
        if size == 1:
            se = d[:, :n].std(axis=1, ddof=1) / np.sqrt(n)
        else:
            se = np.sqrt(g / (g - 1) * ((sums[:, :g] - size * mean[:, None]) ** 2).sum(axis=1)) / n
        means[:, j], errors[:, j] = mean, se
    return means, errors


def _gate(means: Array, errors: Array, bounds: list[float], margin: float | None) -> tuple[Array, Array, Array]:
    """Pass, "better", and the look each replicate stopped at, under sequential.look's rule."""
    reps, looks = means.shape
    stopped = np.full(reps, looks - 1)
    decided = np.zeros(reps, dtype=bool)
    passed, better = np.zeros(reps, dtype=bool), np.zeros(reps, dtype=bool)
    for k in range(looks):
        low, high = means[:, k] - bounds[k] * errors[:, k], means[:, k] + bounds[k] * errors[:, k]
        is_better, is_worse = low > 0, high < 0
        non_inferior = (low > -margin) if margin is not None else np.zeros(reps, dtype=bool)
        stop = ~decided & (is_better | is_worse | non_inferior | (k == looks - 1))
        verdict_passes = (is_better | non_inferior) if margin is not None else ~is_worse
        passed[stop], better[stop], stopped[stop] = verdict_passes[stop], is_better[stop], k
        decided |= stop
    return passed, better, stopped


def simulate(scenario: Scenario, reps: int, looks: int, alpha: float, seed: int) -> tuple[Rates, Rates]:
    """(sequential, fixed) over ``reps`` replicates of ``scenario``."""
    from eval_orchestrator.comparison.sequential import schedule

    rng = np.random.default_rng(seed)
    d = differences(scenario, reps, rng)
    groups = scenario.clusters or scenario.n
    size = scenario.n // groups
    plan, units = schedule(groups, looks, alpha, MIN_FIRST_CLUSTERS if scenario.clusters else MIN_FIRST_LOOK)
    means, errors = _means_and_errors(d, units, size)
    bounds = [t_boundary(c, g - 1) for c, g in zip(plan.boundaries, units, strict=True)]
    seq_passed, seq_better, stopped = _gate(means, errors, bounds, scenario.margin)
    used = np.asarray(units, dtype=np.float64)[stopped] / groups
    fixed = [t_boundary(design(1, alpha).boundaries[0], groups - 1)]
    fixed_passed, fixed_better, _ = _gate(means[:, -1:], errors[:, -1:], fixed, scenario.margin)
    spread = float(used.mean()), float(np.median(used)), float(np.quantile(used, 0.9))
    sequential = Rates(float(seq_passed.mean()), float(seq_better.mean()), *spread, reps)
    once = Rates(float(fixed_passed.mean()), float(fixed_better.mean()), 1.0, 1.0, 1.0, reps)
    return sequential, once


def minimum_detectable_effect(scenario: Scenario, alpha: float, seed: int, reps: int = 2000) -> float:
    """The fixed-size test's MDE (two-sided alpha, 80% power) for this scenario's score model, from the
    median SE of the full-size mean difference under no effect."""
    rng = np.random.default_rng(seed)
    null = Scenario(scenario.binary, 0.0, None, scenario.n, scenario.clusters)
    d = differences(null, reps, rng)
    groups = scenario.clusters or scenario.n
    _, errors = _means_and_errors(d, [groups], scenario.n // groups)
    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(POWER)) * np.median(errors))
