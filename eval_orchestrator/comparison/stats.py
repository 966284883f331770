"""Paired statistics for two versions' per-sample scores (Miller 2024, "Adding Error Bars to Evals").

Pure numpy/scipy on arrays; nothing here reads a log or knows a checkpoint. d_i = candidate_i -
baseline_i over the paired samples; its mean's standard error is sd(d)/sqrt(n), or the
cluster-robust one when samples share a passage, template or topic; the interval is a seeded
paired bootstrap (resampling clusters when clustered), so the same data give the same output.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from eval_orchestrator.comparison.verdict import Verdict

Array = NDArray[np.float64]

DEFAULT_RESAMPLES = 10_000
POWER = 0.8
# Below this many distinct values, resampling is done on their counts (exact, and far cheaper).
MAX_CATEGORIES = 256
CHUNK_CELLS = 8_000_000  # resampled cells per chunk: bounds memory at ~64 MB


@dataclass(frozen=True)
class PairedResult:
    n: int
    delta: float
    delta_stderr: float
    ci: tuple[float, float]
    p_value: float
    method: str  # how p was computed
    correlation: float | None  # of the two sides' per-sample scores; None when one side is constant
    mde: float  # minimum detectable |delta| at this n, two-sided alpha, 80% power
    clusters: int | None


def cluster_codes(labels: Sequence[str | None], ids: Sequence[str]) -> NDArray[np.int64]:
    """Integer cluster ids (0..G-1) for per-sample labels; a sample without one is its own cluster."""
    named = [label if label is not None else f"\0{i}" for label, i in zip(labels, ids, strict=True)]
    return np.unique(named, return_inverse=True)[1].astype(np.int64)


def mean_stderr(values: Array, clusters: NDArray[np.int64] | None = None) -> tuple[float, float]:
    """Mean and its standard error: sd/sqrt(n), or cluster-robust when ``clusters`` labels samples."""
    n = len(values)
    if n == 0:
        return float("nan"), float("nan")
    mean = float(values.mean())
    if clusters is not None:
        return mean, cluster_stderr(values, clusters)
    if n < 2:
        return mean, float("nan")
    return mean, float(values.std(ddof=1) / np.sqrt(n))


def cluster_stderr(values: Array, clusters: NDArray[np.int64]) -> float:
    """sqrt(G/(G-1) * sum_g (sum_{i in g} (x_i - xbar))^2) / n: the cluster-robust SE of a mean."""
    n = len(values)
    groups = int(clusters.max()) + 1 if n else 0
    if groups < 2:
        return float("nan")
    residual_sums = np.bincount(clusters, weights=values - values.mean(), minlength=groups)
    return float(np.sqrt(groups / (groups - 1) * np.sum(residual_sums**2)) / n)


def bootstrap_means(values: Array, resamples: int, seed: int, clusters: NDArray[np.int64] | None = None) -> Array:
    """``resamples`` means of ``values`` resampled with replacement (whole clusters when given)."""
    rng = np.random.default_rng(seed)
    n = len(values)
    if clusters is not None:
        groups = int(clusters.max()) + 1
        sums = np.bincount(clusters, weights=values, minlength=groups).astype(np.float64)
        sizes = np.bincount(clusters, minlength=groups).astype(np.float64)
        return _multinomial_ratio(rng, groups, np.full(groups, 1 / groups), sums, sizes, resamples)
    distinct, counts = np.unique(values, return_counts=True)
    if len(distinct) <= MAX_CATEGORIES:
        # A resample's mean depends only on how often each distinct value is drawn: a multinomial
        # over the distinct values has exactly the distribution of n draws with replacement.
        return _multinomial_ratio(rng, n, counts / n, distinct.astype(np.float64), None, resamples)
    # Many distinct values: draw indices, in chunks each with its own seeded generator, so the chunks
    # run on every core (numpy releases the GIL) and the output does not depend on how many there are.
    rows = max(1, CHUNK_CELLS // n)
    starts = range(0, resamples, rows)
    seeds = np.random.SeedSequence(seed).spawn(len(starts))

    def chunk(index: int) -> Array:
        start = starts[index]
        picks = np.random.default_rng(seeds[index]).integers(0, n, size=(min(rows, resamples - start), n))
        means: Array = values[picks].mean(axis=1)
        return means

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return np.concatenate(list(pool.map(chunk, range(len(starts)))))


def _multinomial_ratio(
    rng: np.random.Generator, draws: int, probs: Array, sums: Array, sizes: Array | None, resamples: int
) -> Array:
    """Per resample, counts ~ Multinomial(draws, probs) and the mean is counts.sums / draws (or, for
    clusters, counts.sums / counts.sizes: the ratio estimator of the cluster bootstrap)."""
    means = np.empty(resamples)
    rows = max(1, CHUNK_CELLS // len(probs))
    for start in range(0, resamples, rows):
        stop = min(start + rows, resamples)
        counts = rng.multinomial(draws, probs, size=stop - start).astype(np.float64)
        denominators = counts @ sizes if sizes is not None else float(draws)
        means[start:stop] = (counts @ sums) / denominators
    return means


def percentile_interval(means: Array, alpha: float) -> tuple[float, float]:
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def mcnemar_exact(baseline: Array, candidate: Array) -> float:
    """Two-sided exact McNemar p: a binomial test on the discordant pairs (0/1 scores, one epoch)."""
    better = int(np.sum((candidate == 1) & (baseline == 0)))
    worse = int(np.sum((candidate == 0) & (baseline == 1)))
    if better + worse == 0:
        return 1.0
    return float(stats.binomtest(better, better + worse, 0.5).pvalue)


def t_test(delta: float, stderr: float, df: int) -> float:
    """Two-sided p of a mean ``delta`` with standard error ``stderr`` on ``df`` degrees of freedom."""
    if df < 1 or not np.isfinite(stderr):
        return float("nan")
    if stderr == 0:
        return 1.0 if delta == 0 else 0.0
    return float(2 * stats.t.sf(abs(delta) / stderr, df))


def correlation(baseline: Array, candidate: Array) -> float | None:
    if len(baseline) < 2 or np.ptp(baseline) == 0 or np.ptp(candidate) == 0:
        return None
    return float(np.corrcoef(baseline, candidate)[0, 1])


def minimum_detectable_effect(stderr: float, alpha: float, power: float = POWER) -> float:
    """The smallest |delta| a two-sided test at ``alpha`` detects with ``power``, at this SE."""
    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * stderr)


def paired(
    baseline: Array,
    candidate: Array,
    *,
    alpha: float,
    binary_single_epoch: bool,
    clusters: NDArray[np.int64] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> PairedResult:
    """Compare paired per-sample scores (already averaged over epochs, aligned by sample)."""
    d = candidate - baseline
    n = len(d)
    delta, stderr = mean_stderr(d, clusters)
    groups = int(clusters.max()) + 1 if clusters is not None and n else None
    ci = percentile_interval(bootstrap_means(d, resamples, seed, clusters), alpha)
    if binary_single_epoch and clusters is None:
        p, method = mcnemar_exact(baseline, candidate), "exact McNemar"
    elif clusters is not None:
        p, method = t_test(delta, stderr, (groups or 0) - 1), "paired t, cluster-robust SE"
    else:
        p, method = t_test(delta, stderr, n - 1), "paired t"
    return PairedResult(
        n=n,
        delta=delta,
        delta_stderr=stderr,
        ci=ci,
        p_value=p,
        method=f"{method}; {resamples} paired bootstrap resamples" + (" of clusters" if clusters is not None else ""),
        correlation=correlation(baseline, candidate),
        mde=minimum_detectable_effect(stderr, alpha) if np.isfinite(stderr) else float("nan"),
        clusters=groups,
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (NaNs stay NaN and do not count as tests)."""
    indexed = [(p, i) for i, p in enumerate(p_values) if np.isfinite(p)]
    adjusted = [float("nan")] * len(p_values)
    tests = len(indexed)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(indexed)):
        running = max(running, min(1.0, (tests - rank) * p))
        adjusted[i] = running
    return adjusted


def verdict(ci: tuple[float, float], margin: float | None) -> Verdict:
    """Better when the interval lies above zero, worse when below (even within a margin: the drop is
    detectable, and saying so is the honest word); an interval across zero is non-inferior when a
    margin M is given and its lower end is above -M, else no detectable difference."""
    low, high = ci
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    if margin is not None and low > -margin:
        return "non-inferior"
    return "no detectable difference"


def regressed(ci: tuple[float, float], margin: float | None) -> bool:
    """The gate: without a margin, fail on "worse"; with one, fail when the lower end is below -M."""
    return ci[0] < -margin if margin is not None else ci[1] < 0
