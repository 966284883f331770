"""A group-sequential paired test: look at the paired differences K times, stop at the first look
whose answer is clear, and keep the error rates of looking K times at the configured alpha.

Method: Lan & DeMets (1983) alpha spending with the O'Brien-Fleming-type spending function
f(t) = 2 - 2 Phi(z_{1-a/2} / sqrt(t)) for each side's one-sided level a = alpha / 2, the boundaries
computed by numerical integration of the canonical joint distribution of the z statistics
(independent increments; Jennison & Turnbull 2000, ch. 19). O'Brien-Fleming spends almost nothing at
the first looks, so its last boundary is within a few percent of the fixed test's: a version that is
not clearly better or worse runs to the end and is decided as the fixed-size test would, with almost
no loss of power. At each look the interval is the repeated confidence interval mean +/- c_k SE
(valid whenever the gate stops), SE the paired one, or cluster-robust when clusters enter whole.
The pass/hold of several tasks is an intersection-union test (every task must pass), so each task is
tested at alpha and no multiplicity correction is needed for the gate's false-promotion rate.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

from eval_orchestrator.comparison.stats import Array, mean_stderr, verdict
from eval_orchestrator.comparison.verdict import Verdict

GRID_POINTS = 1601  # of the partial sum's density (a 20 MB kernel): boundaries good to ~1e-3
MIN_FIRST_LOOK = 20  # paired samples before a first look: the SE needs them
MIN_FIRST_CLUSTERS = 10  # or whole clusters, for the cluster-robust SE


@dataclass(frozen=True)
class Design:
    """K looks at these information fractions, and the z boundary of each (either side)."""

    alpha: float  # two-sided, as the fixed gate's interval; each side spends alpha / 2
    fractions: tuple[float, ...]
    boundaries: tuple[float, ...]

    @property
    def looks(self) -> int:
        return len(self.fractions)


def spent(t: float, one_sided: float) -> float:
    """The O'Brien-Fleming-type alpha spent by information fraction ``t``."""
    if t <= 0:
        return 0.0
    return float(2 * (1 - stats.norm.cdf(stats.norm.ppf(1 - one_sided / 2) / np.sqrt(t))))


def design(looks: int, alpha: float, fractions: Sequence[float] | None = None) -> Design:
    """The boundaries for ``looks`` equally spaced looks (or at ``fractions``, ending at 1)."""
    if looks < 1:
        raise ValueError("looks must be at least 1")
    points = tuple(fractions) if fractions is not None else tuple((k + 1) / looks for k in range(looks))
    if len(points) != looks or abs(points[-1] - 1) > 1e-9 or any(b <= a for a, b in itertools.pairwise(points)):
        raise ValueError("fractions must increase to 1, one per look")
    return Design(alpha, points, _boundaries(points, alpha / 2))


def _crossing(c: float, density: Array | None, grid: Array, t: float, dt: float) -> float:
    """P0(not stopped before, Z_k >= c) given the sub-density of S_{k-1} on ``grid`` (None: first look)."""
    if density is None:
        return float(stats.norm.sf(c))
    weights = density * (grid[1] - grid[0])
    return float(weights @ stats.norm.sf((c * np.sqrt(t) - grid) / np.sqrt(dt)))


@lru_cache(maxsize=64)
def _boundaries(fractions: tuple[float, ...], one_sided: float) -> tuple[float, ...]:
    """c_k with P0(Z_1 < c_1, ..., Z_{k-1} < c_{k-1}, Z_k >= c_k) = f(t_k) - f(t_{k-1}).

    The partial sum S_k = Z_k sqrt(t_k) is Brownian motion at time t_k under the null; its density on
    the continuation region is carried from look to look on a grid."""
    grid = np.linspace(-10.0, 10.0, GRID_POINTS)
    step = grid[1] - grid[0]
    density: Array | None = None  # of S_{k-1}, zero above the boundary
    previous_t, bounds = 0.0, []
    for t in fractions:
        target, dt = spent(t, one_sided) - spent(previous_t, one_sided), t - previous_t
        if target <= 1e-15:
            c = 40.0  # nothing to spend here: a boundary no statistic reaches
        else:
            c = float(optimize.brentq(lambda c: _crossing(c, density, grid, t, dt) - target, -10, 40))  # noqa: B023
        bounds.append(c)
        if density is None:
            density = stats.norm.pdf(grid / np.sqrt(t)) / np.sqrt(t)
        else:
            kernel = stats.norm.pdf((grid[:, None] - grid[None, :]) / np.sqrt(dt)) / np.sqrt(dt)
            density = kernel @ (density * step)
        density = np.where(grid < c * np.sqrt(t), density, 0.0)
        previous_t = t
    return tuple(bounds)


def t_boundary(z: float, df: int) -> float:
    """The z boundary as a Student-t one at ``df``: the same tail probability, for an SE that is
    estimated (from n - 1 samples or G - 1 clusters), as the fixed test's paired t does."""
    return float(stats.t.isf(stats.norm.sf(z), df)) if df >= 1 else float("inf")


@dataclass(frozen=True)
class Look:
    """What one look at one task's paired differences says."""

    look: int  # 1-based
    n: int  # paired samples so far
    delta: float
    stderr: float
    boundary: float  # on the t scale at this look's degrees of freedom
    ci: tuple[float, float]  # the repeated confidence interval
    verdict: Verdict
    stop: bool


def look(d: Array, index: int, plan: Design, margin: float | None, clusters: NDArray[np.int64] | None = None) -> Look:
    """Look ``index`` (0-based) at the paired differences ``d`` seen so far (clusters whole)."""
    delta, stderr = mean_stderr(d, clusters)
    units = int(clusters.max()) + 1 if clusters is not None and len(d) else len(d)
    c = t_boundary(plan.boundaries[index], units - 1)
    last = index == plan.looks - 1
    if not np.isfinite(stderr):  # too few to say: only the last look decides (and holds)
        return Look(index + 1, len(d), delta, stderr, c, (float("-inf"), float("inf")), "not compared", last)
    ci = (delta - c * stderr, delta + c * stderr)
    said = verdict(ci, margin)
    clear = said in ("better", "worse") or (said == "non-inferior" and margin is not None)
    return Look(index + 1, len(d), delta, stderr, c, ci, said, last or clear)


def schedule(total: int, looks: int, alpha: float, first_at_least: int = MIN_FIRST_LOOK) -> tuple[Design, list[int]]:
    """How many of ``total`` units (samples, or whole clusters) each look sees, and the design at
    exactly those fractions; looks too early to estimate a standard error are dropped."""
    sizes = sorted({max(1, round((k + 1) / looks * total)) for k in range(looks)} | {total})
    sizes = [s for s in sizes if s >= min(first_at_least, total)]
    return design(len(sizes), alpha, [s / total for s in sizes]), sizes
