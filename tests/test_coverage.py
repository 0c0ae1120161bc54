"""Coverage of the intervals, measured at a skewed point; and the interval properties it relies on."""
import numpy as np
import pytest
from scipy.stats import binomtest

from pavlov_theory import coverage
from pavlov_theory.sampling import derive_seed, generator
from pavlov_theory.stats import mean_ci, ratio_of_means_ci, studentized_limits


def _paired_misses(d_k, n, dist, trials, replicates, seed, alpha, chunk=250):
    """Per replicate, whether the verifier's mean interval and the plain t one, on the same draws
    of the noise power, miss its derived value (replicates drawn ``chunk`` at a time)."""
    truth = coverage.mean_case(d_k, n, dist, trials).truth
    misses = []
    for index in range(0, replicates, chunk):
        rows = min(chunk, replicates - index)
        gen = generator(derive_seed(seed, "paired", d_k, n, dist, trials, index), "cpu")
        noise = coverage._signal_noise(coverage._point(d_k, n, dist), rows * trials, gen)[1]
        for sample in noise.reshape(rows, trials):
            ours, plain = mean_ci(sample, alpha), coverage.plain_t_ci(sample, alpha)
            misses.append((not ours.contains(truth), not plain.contains(truth)))
    return misses


@pytest.mark.mc
def test_skew_corrected_mean_interval_misses_less_than_plain_t_and_not_below_nominal(mc_alpha):
    """Few trials, a chi-square-like noise power: on the same replicates, the skewness-corrected t
    interval must miss significantly less often than the plain t interval (McNemar's exact test on
    the discordant replicates), and its 95% coverage must not lie significantly below 95%. The
    paired comparison can fail: it does if the correction removes nothing."""
    pairs = _paired_misses(16, 2, "sphere", 64, 6000, 1, 0.05)
    only_plain = sum(theirs and not ours for ours, theirs in pairs)
    only_ours = sum(ours and not theirs for ours, theirs in pairs)
    p_value = binomtest(only_ours, only_ours + only_plain, 0.5, alternative="less").pvalue
    assert p_value < mc_alpha, f"corrected-only misses {only_ours}, plain-only {only_plain}: p {p_value:.2g}"
    covered = sum(not ours for ours, _ in pairs)
    word, ci = coverage.verdict(covered, len(pairs), 0.95, confidence=1 - mc_alpha)
    assert word != "undercovers", f"coverage {covered}/{len(pairs)}, interval {ci}"


def test_skew_correction_vanishes_for_symmetric_samples():
    lo, hi = studentized_limits(1.0, 0.1, 0.0, 50, 0.05)
    assert hi - 1.0 == pytest.approx(1.0 - lo)


def test_right_skewed_samples_get_a_longer_upper_arm():
    x = np.random.default_rng(0).exponential(size=64)
    ci = mean_ci(x, 1e-3)
    assert ci.hi - ci.estimate > ci.estimate - ci.lo > 0


def test_ratio_interval_matches_the_delta_method_for_large_normal_samples():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 0.1, 100_000), rng.normal(2.0, 0.1, 100_000)
    ci = ratio_of_means_ci(a, b, 1e-3)
    delta = 3.29 * np.sqrt(np.var(a - 0.5 * b) / a.size) / 2.0
    assert ci.lo < 0.5 < ci.hi and ci.width / 2 == pytest.approx(delta, rel=0.02)


def test_ratio_interval_is_a_point_for_constant_samples():
    ci = ratio_of_means_ci(np.full(10, 3.0), np.full(10, 2.0), 0.05)
    assert ci.lo == pytest.approx(1.5) and ci.hi == pytest.approx(1.5)
