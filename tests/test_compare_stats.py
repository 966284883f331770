"""The comparison statistics against independently computed values (scipy, statsmodels, by hand)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from eval_orchestrator.comparison import stats


def _binary(n: int, p: float, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(n) < p).astype(np.float64)


def test_a_clearly_better_candidate_is_better_with_an_exact_mcnemar_p() -> None:
    from statsmodels.stats.contingency_tables import mcnemar

    base = _binary(400, 0.5, 1)
    cand = np.where(np.random.default_rng(2).random(400) < 0.3, 1.0, base)  # flips 0s to 1s only
    result = stats.paired(base, cand, alpha=0.05, binary_single_epoch=True)
    table = [
        [np.sum((base == 1) & (cand == 1)), np.sum((base == 1) & (cand == 0))],
        [np.sum((base == 0) & (cand == 1)), np.sum((base == 0) & (cand == 0))],
    ]
    assert result.p_value == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-12)
    assert result.delta == pytest.approx(cand.mean() - base.mean())
    assert result.ci[0] > 0 and stats.verdict(result.ci, None) == "better"
    assert result.method.startswith("exact McNemar")


def test_a_worse_candidate_is_worse_and_no_change_is_no_detectable_difference() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(0.7, 0.1, 500)
    worse = base - 0.05 + rng.normal(0, 0.02, 500)
    same = base + rng.normal(0, 0.02, 500)
    bad = stats.paired(base, worse, alpha=0.05, binary_single_epoch=False)
    assert stats.verdict(bad.ci, None) == "worse" and stats.regressed(bad.ci, None)
    assert bad.p_value == pytest.approx(sps.ttest_rel(worse, base).pvalue, rel=1e-9)  # the paired t
    assert bad.delta_stderr == pytest.approx(np.std(worse - base, ddof=1) / np.sqrt(500))
    flat = stats.paired(base, same, alpha=0.05, binary_single_epoch=False)
    assert flat.ci[0] < 0 < flat.ci[1]
    assert stats.verdict(flat.ci, None) == "no detectable difference" and not stats.regressed(flat.ci, None)


def test_pairing_reports_the_correlation_and_a_minimum_detectable_effect() -> None:
    rng = np.random.default_rng(4)
    base = rng.normal(0.5, 0.2, 1000)
    cand = base + rng.normal(0.01, 0.05, 1000)
    result = stats.paired(base, cand, alpha=0.05, binary_single_epoch=False)
    assert result.correlation == pytest.approx(sps.pearsonr(base, cand).statistic)
    assert result.mde == pytest.approx((sps.norm.ppf(0.975) + sps.norm.ppf(0.8)) * result.delta_stderr)
    # Unpaired, the same difference would need the two sides' variances added: pairing gains here.
    unpaired = np.sqrt(base.var(ddof=1) / 1000 + cand.var(ddof=1) / 1000)
    assert result.delta_stderr < unpaired / 3


def test_clustered_standard_error_matches_statsmodels_and_is_several_times_the_naive_one() -> None:
    import statsmodels.api as sm

    rng = np.random.default_rng(5)
    clusters = np.repeat(np.arange(40), 25)  # 40 passages, 25 questions each
    passage_effect = rng.normal(0, 0.3, 40)[clusters]
    d = 0.02 + passage_effect + rng.normal(0, 0.05, 1000)
    _, clustered = stats.mean_stderr(d, clusters)
    _, naive = stats.mean_stderr(d)
    fit = sm.OLS(d, np.ones(1000)).fit(cov_type="cluster", cov_kwds={"groups": clusters})
    assert clustered == pytest.approx(fit.bse[0], rel=1e-9)
    assert clustered > 3 * naive


def test_the_cluster_bootstrap_resamples_whole_clusters() -> None:
    rng = np.random.default_rng(6)
    clusters = np.repeat(np.arange(30), 20)
    d = rng.normal(0, 0.3, 30)[clusters] + rng.normal(0, 0.05, 600)
    clustered = stats.bootstrap_means(d, 4000, 0, clusters)
    naive = stats.bootstrap_means(d, 4000, 0)
    # The spread of the bootstrap means is the standard error each method implies.
    assert np.std(clustered) == pytest.approx(stats.mean_stderr(d, clusters)[1], rel=0.15)
    assert np.std(clustered) > 3 * np.std(naive)


def test_the_bootstrap_is_seeded_and_the_counting_shortcut_matches_plain_resampling() -> None:
    d = np.random.default_rng(7).choice([-1.0, -0.5, 0.0, 0.5, 1.0], size=2000, p=[0.1, 0.1, 0.5, 0.1, 0.2])
    first = stats.bootstrap_means(d, 10_000, 42)
    assert np.array_equal(first, stats.bootstrap_means(d, 10_000, 42))  # identical output every run
    assert not np.array_equal(first, stats.bootstrap_means(d, 10_000, 43))
    # Few distinct values take the multinomial path; the same data with a tiny jitter (all values
    # distinct) takes plain index resampling: their intervals agree, and agree with scipy's.
    jittered = d + np.random.default_rng(8).normal(0, 1e-9, d.size)
    plain = stats.bootstrap_means(jittered, 10_000, 42)
    low, high = stats.percentile_interval(first, 0.05)
    assert (low, high) == pytest.approx(stats.percentile_interval(plain, 0.05), abs=0.006)
    reference = sps.bootstrap((d,), np.mean, n_resamples=10_000, method="percentile", random_state=1)
    ref = reference.confidence_interval
    assert (low, high) == pytest.approx((ref.low, ref.high), abs=0.006)


def test_holm_matches_statsmodels() -> None:
    from statsmodels.stats.multitest import multipletests

    p = [0.01, 0.04, 0.03, 0.005, 0.2, 0.5]
    assert stats.holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))
    assert np.isnan(stats.holm([0.01, float("nan")])[1])


@pytest.mark.parametrize(
    ("ci", "margin", "verdict", "regressed"),
    [
        ((0.01, 0.05), None, "better", False),
        ((-0.05, -0.01), None, "worse", True),
        ((-0.02, 0.03), None, "no detectable difference", False),
        ((-0.01, 0.03), 0.02, "non-inferior", False),
        ((-0.03, 0.01), 0.02, "no detectable difference", True),  # its low end is below -margin
        ((-0.05, -0.03), 0.02, "worse", True),
        ((-0.015, -0.005), 0.02, "worse", False),  # detectably worse, but within the margin: passes
        ((0.01, 0.03), 0.02, "better", False),
    ],
)
def test_verdicts_and_the_gate(ci: tuple[float, float], margin: float | None, verdict: str, regressed: bool) -> None:
    assert stats.verdict(ci, margin) == verdict
    assert stats.regressed(ci, margin) is regressed
