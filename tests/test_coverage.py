"""Coverage of the intervals, measured at a skewed point; the first look sized from the skewness of a
pilot; and the interval properties they rely on."""
from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest
from scipy.stats import kurtosis as scipy_kurtosis
from scipy.stats import t as student_t

from pavlov_theory import coverage, judges
from pavlov_theory.claims import Context
from pavlov_theory.engine import (
    PILOT_TRIALS,
    TRIALS_PER_KURT,
    TRIALS_PER_SKEW2,
    Kernel,
    draw,
    first_look,
    sample_until,
    sized,
    studentized_values,
)
from pavlov_theory.sampling import derive_seed, generator
from pavlov_theory.stats import (
    HIGH_READING,
    LONG_ARM,
    LONG_ARMS,
    SKEW_SALIENCE,
    kurtosis_upper,
    limit_skews,
    mean_ci,
    ratio_of_means_ci,
    ratio_skew_reading,
    ratio_test,
    salience_and_upper,
    skew_corrected_limits,
    skew_readings,
    skewness,
    skewness_that_stands_out,
    skewness_upper,
    studentized_limits,
)


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


def test_a_skewness_within_two_jackknife_errors_of_zero_widens_each_arm_by_its_high_reading():
    x = np.random.default_rng(2).standard_t(5, size=64)
    g, upper = skewness(x), skewness_upper(x)  # |g| + 2 se
    assert abs(g) < upper - abs(g)  # the reading lies within 2 se of 0 for this sample
    assert skewness_that_stands_out(x) == 0.0
    assert limit_skews(x) == (0.0, upper, upper)
    ci, plain = mean_ci(x, 1e-3), coverage.plain_t_ci(x, 1e-3)
    assert ci.lo < plain.lo and plain.hi < ci.hi


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([5, 16, 64, 400]), st.floats(0.2, 4.0),
       st.sampled_from([1e-2, 1e-4, 1e-6]))
def test_the_mean_interval_holds_the_student_t_one_unless_it_corrects_a_skewness_that_stands_out(
        seed, size, shape, alpha):
    """Where the skewness stands out the interval read from the sample is Hall's for it, else the
    verifier's contains plain t."""
    x = np.random.default_rng(seed).gamma(shape, size=size)
    ci, plain = mean_ci(x, alpha), coverage.plain_t_ci(x, alpha)
    salient = skewness_that_stands_out(x)
    if salient != 0:
        lo, hi = studentized_limits(x.mean(), x.std(ddof=1) / np.sqrt(size), salient, size, alpha)
        sample = mean_ci(x, alpha, "sample")
        assert (sample.lo, sample.hi) == pytest.approx((lo, hi), rel=1e-12, abs=1e-12)
    else:
        assert ci.lo <= plain.lo + 1e-12 and plain.hi - 1e-12 <= ci.hi


@pytest.mark.parametrize("size, alpha", [(8, 1e-6), (16, 1e-2), (64, 1e-6), (128, 1e-5), (4096, 1e-7)])
def test_an_unresolved_skewness_lengthens_both_arms_steadily_in_its_high_reading(size, alpha):
    """The widening grows with the reading, without the steep point of Hall's inverse."""
    arms = []
    for s in np.linspace(0.0, 6.0, 61):
        lo, hi = skew_corrected_limits(0.0, 1.0, (0.0, s, s), size, alpha)
        assert lo == pytest.approx(-hi, rel=1e-12)
        arms.append(hi)
    assert np.all(np.diff(arms) > 0)


@pytest.mark.parametrize("size, alpha", [(16, 1e-2), (128, 1e-5), (4096, 1e-7)])
def test_the_lengthening_is_the_first_order_term_of_halls_limits(size, alpha):
    """For a small reading ``s`` each arm moves as Hall's limit for a skewness ``s`` toward that
    side does, to first order in ``s``: the lengthening is that limit's derivative at 0."""
    s = 1e-5
    _, hall_hi = studentized_limits(0.0, 1.0, s, size, alpha)
    hall_lo, _ = studentized_limits(0.0, 1.0, -s, size, alpha)
    _, t_hi = studentized_limits(0.0, 1.0, 0.0, size, alpha)
    lo, hi = skew_corrected_limits(0.0, 1.0, (0.0, s, s), size, alpha)
    assert hi - t_hi == pytest.approx(hall_hi - t_hi, rel=1e-3)
    assert lo + t_hi == pytest.approx(hall_lo + t_hi, rel=1e-3)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([5, 16, 64, 400]), st.floats(0.2, 4.0), st.booleans(),
       st.sampled_from([1e-2, 1e-4, 1e-8]))
def test_reading_the_long_arm_high_holds_the_interval_read_from_the_sample(seed, size, shape, left, alpha):
    """Each reading's interval for the mean contains the ``sample`` one; they differ only where the
    skewness stands out, and there only on the long-tail side (right for a right-skewed sample)."""
    x = np.random.default_rng(seed).gamma(shape, size=size) * (-1 if left else 1)
    sample, high = mean_ci(x, alpha, "sample"), mean_ci(x, alpha, "high")
    g = skewness_that_stands_out(x)
    if g > 0:
        assert high.lo == sample.lo and high.hi > sample.hi
    elif g < 0:
        assert high.lo < sample.lo and high.hi == sample.hi
    else:
        assert (high.lo, high.hi) == (sample.lo, sample.hi)


def test_the_verifiers_estimators_read_the_skewness_as_both_arms_lengthened():
    """What every claim's check calls (stats.ESTIMATORS) is the reading that lengthens both arms
    (stats.LONG_ARM), not the high or the sample one, on values whose skewness stands out."""
    from pavlov_theory.stats import ESTIMATORS
    rng = np.random.default_rng(0)
    values = {"mean": (rng.exponential(size=512),),
              "ratio": (rng.gamma(4.0, size=512), rng.gamma(16.0, size=512))}
    readings = {"mean": lambda arm: mean_ci(*values["mean"], 1e-6, arm),
                "ratio": lambda arm: ratio_of_means_ci(*values["ratio"], 1e-6, arm)}
    for name, read in readings.items():
        found = ESTIMATORS[name](values[name], 1e-6)
        limits = {arm: (read(arm).lo, read(arm).hi) for arm in LONG_ARMS}
        assert LONG_ARM == "both"
        assert (found.lo, found.hi) == limits["both"]
        assert len(set(limits.values())) == len(LONG_ARMS)


@pytest.mark.parametrize("sign", [1, -1])
def test_reading_the_long_arm_high_lengthens_it_by_the_first_order_term_for_the_rest(sign):
    """For a skewness that stands out, the long arm (upper for a right skew, lower for a left one)
    moves out by :func:`unresolved_lengthening` of the high reading less the sample skewness's size,
    in standard errors: Hall's limit for ``g`` plus the first-order term for ``s - |g|``."""
    from pavlov_theory.stats import unresolved_lengthening
    x = sign * np.random.default_rng(0).exponential(size=512)
    g, s, alpha = skewness(x), skewness_upper(x), 1e-6
    assert np.sign(g) == sign and skewness_that_stands_out(x) == g
    assert limit_skews(x, long_arm="high") == ((g, 0.0, s - g) if sign > 0 else (g, s + g, 0.0))
    se = x.std(ddof=1) / np.sqrt(x.size)
    q = student_t.ppf(1 - alpha / 2, x.size - 1)
    sample, high = mean_ci(x, alpha, "sample"), mean_ci(x, alpha, "high")
    moved = (high.hi - sample.hi) if sign > 0 else (sample.lo - high.lo)
    assert moved / se == pytest.approx(unresolved_lengthening(s - abs(g), q, x.size), rel=1e-9)
    assert (high.lo == sample.lo) if sign > 0 else (high.hi == sample.hi)


@pytest.mark.parametrize("salient, g, s, side, expected", [
    (True, 0.5, 1.0, None, (0.5, 0.0, 0.5)),     # right skew: the upper arm, for s - g
    (True, -0.5, 1.0, None, (-0.5, 0.5, 0.0)),   # left skew: the lower arm, for s - |g|
    (True, -0.5, 1.0, 1.0, (-0.5, 0.0, 1.5)),    # the long side given as upper, g below 0 there
    (True, 0.5, 1.0, -1.0, (0.5, 1.5, 0.0)),     # the long side given as lower, g above 0 there
    (True, 1.2, 1.0, 1.0, (1.2, 0.0, 0.0)),      # g already beyond the high reading: nothing further
    (False, 0.3, 1.0, -1.0, (0.0, 1.0, 1.0)),    # unresolved: both arms for s, whatever the side
])
def test_the_high_reading_lengthens_the_given_long_side_for_the_rest_of_s(salient, g, s, side, expected):
    """The long side is the one given (for a ratio, read at the estimated ratio), not the sign of
    the skewness at each tested theta, so the reading is continuous as that skewness crosses 0."""
    from pavlov_theory.stats import _reading
    assert tuple(float(v) for v in _reading(salient, g, s, "high", side)) == pytest.approx(expected)
    assert tuple(float(v) for v in _reading(salient, g, s, "sample", side)) == (
        (g, 0.0, 0.0) if salient else (0.0, s, s))


@pytest.mark.parametrize("salient, g, s, side, expected", [
    (True, 0.5, 1.0, None, (0.5, 0.5, 0.5)),     # right skew: the lower arm back for s - g as well
    (True, -0.5, 1.0, None, (-0.5, 0.5, 0.5)),   # left skew: the upper arm back for s - |g|
    (True, 0.5, 2.0, None, (0.5, 0.5, 1.5)),     # no further back than g corrects: to 0, not below
    (True, -0.5, 2.0, None, (-0.5, 1.5, 0.5)),   # the same for a left skew, the arms swapped
    (True, -0.5, 2.0, -1.0, (-0.5, 1.5, 0.5)),   # the long side given as lower, as g says
    (True, 0.3, 2.0, 1.0, (0.3, 0.3, 1.7)),      # the long side given as upper: back to the lower arm
    (True, -0.5, 1.0, 1.0, (-0.5, 0.0, 1.5)),    # g corrects toward the given short side: nothing back
    (True, 1.2, 1.0, 1.0, (1.2, 0.0, 0.0)),      # nothing further on the long side, so nothing back
    (False, 0.3, 1.0, -1.0, (0.0, 1.0, 1.0)),    # unresolved: both arms for s, as every reading
])
def test_reading_both_arms_gives_the_short_arm_back_what_the_long_arm_gains(salient, g, s, side, expected):
    """The short arm reads the skewness as far below ``g`` as the long arm reads it above, but not
    past 0; both arms are still corrected for the sample skewness ``g``, as in the high reading."""
    from pavlov_theory.stats import _reading
    assert tuple(float(v) for v in _reading(salient, g, s, "both", side)) == pytest.approx(expected)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([5, 16, 64, 400]), st.floats(0.2, 4.0), st.booleans(),
       st.sampled_from([1e-2, 1e-4, 1e-8]))
def test_reading_both_arms_holds_the_high_interval_and_lengthens_only_its_short_arm(seed, size, shape,
                                                                                     left, alpha):
    """The ``both`` interval for the mean contains the ``high`` one, with the same long arm; where
    the skewness stands out its short arm moves out by :func:`unresolved_lengthening` of the lesser
    of the high reading's rest and the sample skewness's size, in standard errors."""
    from pavlov_theory.stats import unresolved_lengthening
    x = np.random.default_rng(seed).gamma(shape, size=size) * (-1 if left else 1)
    high, both = mean_ci(x, alpha, "high"), mean_ci(x, alpha, "both")
    g = skewness_that_stands_out(x)
    if g == 0:
        assert (both.lo, both.hi) == (high.lo, high.hi)
        return
    assert (both.hi, both.lo) == ((high.hi, both.lo) if g > 0 else (both.hi, high.lo))
    moved = (high.lo - both.lo) if g > 0 else (both.hi - high.hi)
    se = x.std(ddof=1) / np.sqrt(x.size)
    q = student_t.ppf(1 - alpha / 2, x.size - 1)
    back = min(skewness_upper(x) - abs(g), abs(g))
    assert moved / se == pytest.approx(unresolved_lengthening(back, q, x.size), rel=1e-9)
    assert moved > 0


@pytest.mark.parametrize("design", ["gamma", "correlated", "left"])
def test_the_ratio_test_read_high_accepts_every_theta_the_sample_reading_accepts(design):
    """At every theta of a grid through and beyond the interval, also where the skewness at theta
    changes sign (the long side is the reading's, at the estimated ratio), so the interval read
    high holds the one read from the sample; and it is longer on the long side where the skewness
    stands out."""
    rng = np.random.default_rng(4)
    for _ in range(12):
        size = int(rng.integers(20, 300))
        if design == "gamma":
            num, den = rng.gamma(4.0, size=size), rng.gamma(16.0, size=size)
        elif design == "correlated":
            den = rng.exponential(size=size)
            num = 2 * den + rng.exponential(size=size)
        else:
            den = rng.gamma(9.0, size=size)
            num = 20.0 - rng.gamma(2.0, size=size)
        reading = ratio_skew_reading(num, den)
        sample, high = ratio_of_means_ci(num, den, 1e-6, "sample"), ratio_of_means_ci(num, den, 1e-6, "high")
        assert high.lo <= sample.lo and sample.hi <= high.hi
        if reading[0]:
            assert (high.hi > sample.hi) if reading[2] > 0 else (high.lo < sample.lo)
        finite = [v for v in (sample.lo, sample.hi) if np.isfinite(v)]
        reach = 3 * max((abs(v - sample.estimate) for v in finite), default=abs(sample.estimate))
        grid = np.linspace(sample.estimate - reach, sample.estimate + reach, 801)
        rows = lambda v: np.broadcast_to(v, (grid.size, size))
        tested = lambda arm: ratio_test(rows(num), rows(den), grid, 1e-6, reading, arm)
        assert np.all(tested("high") <= tested("sample") + 1e-12)
        assert np.all(tested("both") <= tested("high") + 1e-12)
        both = ratio_of_means_ci(num, den, 1e-6, "both")
        if reading[0]:  # salient: the long arm is the high reading's, the short arm moves out
            (long_both, long_high), (short_both, short_high), out = (
                ((both.hi, high.hi), (both.lo, high.lo), -1) if reading[2] > 0
                else ((both.lo, high.lo), (both.hi, high.hi), 1))
            assert long_both == pytest.approx(long_high, rel=1e-9)  # brentq's tolerance apart at most
            assert out * (short_both - short_high) > 1e-9 * abs(short_high) or not np.isfinite(short_high)
        else:
            assert (both.lo, both.hi) == (high.lo, high.hi)


def test_an_unknown_long_arm_reading_is_refused_by_name():
    with pytest.raises(ValueError, match="long_arm must be one of sample, high, both"):
        mean_ci(np.random.default_rng(0).exponential(size=64), 0.05, "low")


def test_a_skewness_beyond_two_jackknife_errors_is_corrected_for_in_full():
    x = np.random.default_rng(0).exponential(size=512)
    g, upper = skewness(x), skewness_upper(x)
    assert abs(g) > upper - abs(g)
    assert skewness_that_stands_out(x) == skewness(x)


def test_three_samples_or_a_zero_standard_error_never_stand_out():
    assert skewness_that_stands_out(np.array([1.0, 2.0, 10.0])) == 0.0
    assert skewness_that_stands_out(np.array([[1.0, 2.0, 10.0]])).tolist() == [0.0]
    assert skewness_that_stands_out(np.ones(50)) == 0.0


def test_the_ratio_test_refuses_a_skewness_reading_of_another_shape():
    rng = np.random.default_rng(1)
    den = rng.exponential(size=(3, 50))
    with pytest.raises(ValueError, match="broadcast|dimensions"):
        ratio_test(2 * den, den, 2.0, 0.01, (np.ones((3, 1), dtype=bool), np.zeros(3), np.ones(3)))
    with pytest.raises(ValueError, match="broadcast|dimensions"):
        ratio_test(2 * den, den, 2.0, 0.01, (np.ones(3, dtype=bool), np.zeros((3, 1)), np.ones(3)))
    with pytest.raises(ValueError, match="broadcast|dimensions"):
        ratio_test(2 * den, den, 2.0, 0.01, (np.ones(3, dtype=bool), np.zeros(3), np.ones((3, 1))))


def test_the_skewness_that_stands_out_on_rows_is_that_of_each_row():
    rng = np.random.default_rng(4)
    rows = np.concatenate([rng.exponential(size=(3, 200)), rng.standard_t(5, size=(3, 200))])
    each = [skewness_that_stands_out(row) for row in rows]
    assert skewness_that_stands_out(rows) == pytest.approx(each, rel=1e-12, abs=0)
    assert 0 < np.count_nonzero(each) < len(each)


@pytest.mark.parametrize("size", [2, 3, 4, 5, 200])
def test_salience_and_the_high_reading_from_one_jackknife_are_the_two_functions_values_exactly(size):
    rng = np.random.default_rng(size)
    rows = np.concatenate([rng.exponential(size=(3, size)), rng.standard_t(5, size=(3, size)),
                           np.ones((1, size))])
    salient, upper = salience_and_upper(rows)
    assert np.array_equal(salient, skewness_that_stands_out(rows) != 0)
    assert np.array_equal(upper, skewness_upper(rows))
    one = salience_and_upper(rows[0])
    assert one == (skewness_that_stands_out(rows[0]) != 0, skewness_upper(rows[0]))
    assert type(one[0]) is bool and type(one[1]) is float


def test_salience_and_the_high_reading_match_the_jackknife_error_from_leaving_each_value_out():
    rng = np.random.default_rng(9)
    read = set()
    for x in (rng.exponential(size=40), rng.standard_t(5, size=40), rng.normal(size=40)):
        left_out = np.array([skewness(np.delete(x, i)) for i in range(x.size)])
        se = np.sqrt((x.size - 1) / x.size * np.sum((left_out - left_out.mean()) ** 2))
        salient, upper = salience_and_upper(x)
        assert salient == (abs(skewness(x)) > SKEW_SALIENCE * se)
        assert upper == pytest.approx(abs(skewness(x)) + HIGH_READING * se, rel=1e-9)
        read.add(salient)
    assert read == {True, False}  # both readings are met


def test_the_ratio_test_reads_its_skewness_once_at_the_estimated_ratio():
    rng = np.random.default_rng(9)
    den = rng.exponential(size=300)
    num = 2 * den + rng.exponential(size=300)
    decided, spread, side = ratio_skew_reading(num, den)
    at_estimate = num - num.mean() / den.mean() * den
    assert decided == (skewness_that_stands_out(at_estimate) != 0) and spread == skewness_upper(at_estimate)
    assert side == (1.0 if skewness(at_estimate) >= 0 else -1.0)
    for theta in (2.5, 3.0, 3.5):
        assert ratio_test(num, den, theta, 0.01) == ratio_test(num, den, theta, 0.01, (decided, spread, side))
        test = lambda reading: ratio_test(num, den, theta, 0.01, reading)
        assert test((True, spread, side)) != test((False, spread, side))
        assert test((False, 2 * spread, side)) < test((False, spread, side))  # a higher reading widens


def test_ratio_interval_matches_the_delta_method_for_large_normal_samples():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 0.1, 100_000), rng.normal(2.0, 0.1, 100_000)
    ci = ratio_of_means_ci(a, b, 1e-3)
    delta = 3.29 * np.sqrt(np.var(a - 0.5 * b) / a.size) / 2.0
    assert ci.lo < 0.5 < ci.hi and ci.width / 2 == pytest.approx(delta, rel=0.02)


def test_ratio_interval_is_a_point_for_constant_samples():
    ci = ratio_of_means_ci(np.full(10, 3.0), np.full(10, 2.0), 0.05)
    assert ci.lo == pytest.approx(1.5) and ci.hi == pytest.approx(1.5)


def _powers(params, trials, gen, dtype):
    """Two positive per-trial powers, heavy-tailed like a noise power."""
    x = torch.rand((2, trials), generator=gen, dtype=torch.float64)
    return (1 + x[0]).numpy(), (x[1] ** 4).numpy()


def test_a_skewed_ratio_check_judges_no_look_below_the_size_its_pilot_asks_for():
    kernel = Kernel("test.powers", _powers, _powers, lambda p, size: 16 * size, {})
    ctx = Context(device="cpu", seed=0, max_trials=100_000, scale="ci")
    ci, verdict = sample_until(ctx, {}, kernel, "ratio", lambda c: "fails", first=64)
    pilot = draw(ctx, {}, kernel, PILOT_TRIALS, "pilot")
    assert verdict == "fails" and ci.n == first_look("ratio", 64, pilot) > 64


def test_a_look_the_trial_cap_cut_below_its_size_is_undecided_and_unbounded():
    """Callers that judge the interval again (mapped, or with another judge) must decide nothing
    from it either: every judge reads an unbounded interval as undecided."""
    kernel = Kernel("test.powers", _powers, _powers, lambda p, size: 16 * size, {})
    ctx = Context(device="cpu", seed=0, max_trials=100, scale="ci")
    ci, verdict = sample_until(ctx, {}, kernel, "ratio", lambda c: "fails", first=64)
    assert verdict == "undecided" and (ci.lo, ci.hi) == (-np.inf, np.inf) and np.isfinite(ci.estimate)
    assert judges.exact(ci.estimate, ci) == judges.sign(ci, 0.0) == judges.bound(0.5, ci) == "undecided"


def test_a_fixed_budget_interval_is_unbounded_where_its_own_samples_ask_for_more():
    rng = np.random.default_rng(3)
    skewed, light = rng.lognormal(0.0, 1.5, 300), rng.normal(0.0, 1.0, 300)
    assert first_look("mean", 2, (skewed,)) > skewed.size >= first_look("mean", 2, (light,))
    wide, kept = (sized("mean", (x,), 0.01) for x in (skewed, light))
    assert (wide.lo, wide.hi) == (-np.inf, np.inf) and kept == mean_ci(light, 0.01)


def test_the_first_look_grows_with_the_squared_skewness_read_high():
    rng = np.random.default_rng(4)
    skewed = (rng.exponential(size=PILOT_TRIALS) ** 2,)
    upper = skewness_upper(skewed[0])
    assert upper > abs(skewness(skewed[0]))
    assert first_look("mean", 64, skewed) == int(np.ceil(TRIALS_PER_SKEW2 * upper**2)) > 64


def test_the_first_look_is_what_the_claim_asks_for_constant_samples_and_other_estimators():
    flat = (np.ones(PILOT_TRIALS), np.ones(PILOT_TRIALS))
    assert first_look("mean", 64, flat) == 64 and first_look("ratio", 300, flat) == 300
    assert first_look("proportion", 64, (np.arange(PILOT_TRIALS) % 2 == 0,)) == 64


def test_the_ratio_pilot_reads_the_skew_of_num_less_theta_den():
    rng = np.random.default_rng(5)
    den = rng.exponential(size=PILOT_TRIALS)
    assert first_look("ratio", 2, (2 * den, den)) == 2  # num - theta den is 0 for every trial


def test_the_jackknife_skew_bound_matches_leaving_each_sample_out():
    x = np.random.default_rng(6).gamma(2.0, size=30)
    left_out = np.array([skewness(np.delete(x, i)) for i in range(x.size)])
    se = np.sqrt((x.size - 1) / x.size * np.sum((left_out - left_out.mean()) ** 2))
    assert skewness_upper(x, z=1.5) == pytest.approx(abs(skewness(x)) + 1.5 * se, rel=1e-9)


def test_the_jackknife_kurtosis_bound_is_deterministic_and_matches_scipy_leaving_each_sample_out():
    x = np.random.default_rng(8).standard_t(5, size=40)
    left_out = np.array([scipy_kurtosis(np.delete(x, i)) for i in range(x.size)])
    se = np.sqrt((x.size - 1) / x.size * np.sum((left_out - left_out.mean()) ** 2))
    assert kurtosis_upper(x) == kurtosis_upper(x.copy())
    assert kurtosis_upper(x, z=1.5) == pytest.approx(scipy_kurtosis(x) + 1.5 * se, rel=1e-9)


def _symmetric(values):
    """A pilot whose sample skewness is exactly 0: the values and their negatives."""
    return (np.concatenate([values, -values]),)


def test_the_first_look_grows_with_the_kurtosis_read_high():
    heavy = _symmetric(np.random.default_rng(7).laplace(size=PILOT_TRIALS // 2))
    upper = kurtosis_upper(heavy[0])
    assert first_look("mean", 64, heavy) == int(np.ceil(TRIALS_PER_KURT * upper))
    assert first_look("mean", 64, heavy) > max(64, TRIALS_PER_SKEW2 * skewness_upper(heavy[0]) ** 2)


def test_symmetric_light_tailed_samples_keep_the_claims_first_look():
    light = _symmetric(np.random.default_rng(7).uniform(-1, 1, size=PILOT_TRIALS // 2))
    assert kurtosis_upper(light[0]) < 0
    assert first_look("mean", 64, light) == 64


def test_the_rule_scan_measures_the_synthetic_student_t_point_at_centre_zero():
    rows = coverage.rule_scan(coverage.MIN_REPLICATES, levels=(0.95,), points=coverage.HEAVY_RULE_POINTS)
    assert [r["truth"] for r in rows] == [0.0] * len(coverage.SCAN_ARMS)
    assert "synthetic Student t" in rows[0]["point"]
    assert [r["long_arm"] for r in rows] == list(coverage.SCAN_ARMS)
    assert rows[0]["first_look_quartiles"][0] >= coverage.CASE_FIRST


def test_the_rule_scan_puts_each_points_chunks_together_on_one_worker_or_two():
    """Two synthetic points, two levels, over uneven chunks: each row holds its own point's chunks, as
    each reruns alone, in order, with their misses summed and the quartiles of all their looks."""
    points = (coverage.HEAVY_RULE_POINTS[0], ({"dist": "student_t", "df": 7}, "mean"))
    levels, chunk = (0.9, 0.99), 8 * PILOT_TRIALS * 150
    counts = coverage.rule_chunk_counts(coverage.MIN_REPLICATES, chunk)
    assert counts == [150, 150, 100]
    one, two = (coverage.rule_scan(coverage.MIN_REPLICATES, seed=2, levels=levels, points=points,
                                   workers=w, chunk=chunk) for w in (1, 2))
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert strip(one) == strip(two)
    per_point = len(levels) * len(coverage.SCAN_ARMS)
    for p, (where, estimator) in enumerate(points):
        rows = one[p * per_point:(p + 1) * per_point]
        alone = [coverage._rule_chunk(where, estimator, coverage.CASE_FIRST, 2, k, count, levels)
                 for k, count in enumerate(counts)]
        looks = [size for _, chosen, _ in alone for size in chosen]
        assert len(looks) == coverage.MIN_REPLICATES
        assert all(r["point"] == coverage.heavy_label(where["df"]) for r in rows)
        assert all(r["first_look_quartiles"] == [int(q) for q in np.quantile(looks, (.25, .5, .75))]
                   for r in rows)
        for k, r in enumerate(rows):  # reading by reading, level by level
            a, i = divmod(k, len(levels))
            assert (r["long_arm"], r["nominal"]) == (coverage.SCAN_ARMS[a], levels[i])
            assert r["chunk_misses"] == [m[a, i].tolist() for m, _, _ in alone]
            assert [r["misses_below"], r["misses_above"]] == sum(m[a, i] for m, _, _ in alone).tolist()
    whole = coverage.rule_scan(coverage.MIN_REPLICATES, seed=2, levels=levels, points=points)
    assert strip(whole) != strip(one)  # the chunks are what is seeded: other chunks, other draws


@pytest.mark.parametrize("scan", [coverage.first_look_scan, coverage.heavy_scan])
def test_a_size_scan_gives_the_same_rows_on_one_worker_or_two_in_the_order_of_its_sizes(scan):
    sizes = (128, 64)
    one, two = (scan(coverage.MIN_REPLICATES, seed=2, sizes=sizes, levels=(0.9,), workers=w) for w in (1, 2))
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert strip(one) == strip(two)
    assert [(r["trials"], r["long_arm"]) for r in one] == [(z, a) for z in sizes for a in coverage.SCAN_ARMS]
    alone = [row for size in sizes
             for row in scan(coverage.MIN_REPLICATES, seed=2, sizes=(size,), levels=(0.9,))]
    assert strip(alone) == strip(one)


@pytest.mark.mc
def test_ratio_interval_covers_from_the_skew_rules_first_look(mc_alpha):
    """At the most skewed point of the coverage table, fresh replicates at 95%, each from the first
    look the skew rule sizes (4000 replicates, at the suite's level). What the rule buys over a
    fixed small look shows at the smallest miss rates, which the coverage chapter's scan measures."""
    ruled = coverage.rule_scan(4000, seed=1, levels=(0.95,), points=((coverage.SCAN_POINT, "ratio"),))
    word = lambda r: coverage.verdict(r["covered"], r["replicates"], 0.95, 1 - mc_alpha)[0]
    assert word(ruled[0]) != "undercovers", ruled
    assert ruled[0]["first_look_quartiles"][0] > 64


def test_the_ratio_interval_holds_exactly_the_values_its_test_accepts():
    rng = np.random.default_rng(2)
    num, den = rng.exponential(size=(20, 64)) ** 2, rng.exponential(size=(20, 64)) ** 3
    for a, b in zip(num, den):
        ci = ratio_of_means_ci(a, b, 0.01)
        for theta in (t for t in (ci.lo, ci.estimate, ci.hi) if np.isfinite(t)):
            for near in (theta * (1 - 1e-6), theta * (1 + 1e-6)):
                assert (ratio_test(a, b, near, 0.01) <= 0) == ci.contains(near)


@pytest.mark.parametrize("size", [8, 20, 32, 64])
def test_the_ratio_interval_is_the_whole_set_its_test_accepts_on_a_grid(size):
    """Test inversion: on a fine grid of theta, the accepted values are exactly those inside the
    interval (no hole inside, no island outside), for samples whose skewness is read unresolved
    and samples whose skewness stands out."""
    rng = np.random.default_rng(size)
    num, den = rng.gamma(1.0, size=(60, size)), rng.gamma(4.0, size=(60, size))
    corrected, _, _ = ratio_skew_reading(num, den)
    assert 0 < corrected.sum() < len(num) or size < 20
    for a, b in zip(num, den):
        ci = ratio_of_means_ci(a, b, 0.1)
        lo, hi = (v if np.isfinite(v) else ci.estimate + np.sign(v) * 4.0 for v in (ci.lo, ci.hi))
        grid = np.linspace(lo - 1.0, hi + 1.0, 3001)
        accepted = ratio_test(np.broadcast_to(a, (grid.size, size)), np.broadcast_to(b, (grid.size, size)),
                              grid, 0.1, ratio_skew_reading(a, b)) <= 0
        inside = (grid >= ci.lo) & (grid <= ci.hi)
        edge = np.minimum(np.abs(grid - ci.lo), np.abs(grid - ci.hi)) < 1e-9 * max(1.0, abs(ci.estimate))
        assert np.array_equal(accepted[~edge], inside[~edge]), (ci, grid[accepted != inside])


def test_at_the_estimated_ratio_the_test_reads_the_mean_interval_of_num_minus_theta_den():
    """There the per-trial values the reading is taken on are the ones tested, so the test's limits
    are the mean interval's of those values, however the skewness is read (resolved or not)."""
    rng = np.random.default_rng(12)
    num, den = rng.gamma(1.0, size=(40, 48)), rng.gamma(4.0, size=(40, 48))
    corrected, _, _ = ratio_skew_reading(num, den)
    assert 0 < corrected.sum() < len(num)
    for a, b in zip(num, den):
        theta = a.mean() / b.mean()
        w = a - theta * b
        ci, se = mean_ci(w, 1e-4), w.std(ddof=1) / np.sqrt(w.size)
        assert ratio_test(a, b, theta, 1e-4) == pytest.approx(max(ci.lo, -ci.hi) / se, rel=1e-9)


def test_the_ratio_test_on_rows_is_the_test_on_each_row():
    rng = np.random.default_rng(3)
    num, den = rng.exponential(size=(5, 64)), rng.exponential(size=(5, 64))
    rows = ratio_test(num, den, 1.1, 1e-3)
    assert rows.shape == (5,) and np.allclose(rows, [ratio_test(a, b, 1.1, 1e-3) for a, b in zip(num, den)])


def test_smallest_first_look_is_above_every_undercovering_size():
    scan = ((64, "undercovers"), (128, "nominal"), (256, "undercovers"), (512, "nominal"), (1024, "nominal"))
    rows = [{"trials": t, "verdict": v} for t, v in scan]
    assert coverage.smallest_first_look(rows) == 512
    assert coverage.smallest_first_look(rows[:3]) is None


def test_coverage_is_not_measured_from_fewer_than_the_minimum_replicates():
    with pytest.raises(ValueError, match="replicates"):
        coverage.measure(coverage.proportion_case(0.3, 50), coverage.MIN_REPLICATES - 1)


def test_a_check_whose_cap_is_below_the_pilots_size_decides_nothing():
    kernel = Kernel("test.powers", _powers, _powers, lambda p, size: 16 * size, {})
    ctx = Context(device="cpu", seed=0, max_trials=100, scale="ci")
    ci, verdict = sample_until(ctx, {}, kernel, "ratio", lambda c: "fails", first=64)
    assert first_look("ratio", 64, draw(ctx, {}, kernel, PILOT_TRIALS, "pilot")) > 100
    assert verdict == "undecided" and ci.n == 100


def test_a_capped_look_whose_own_trials_ask_for_no_more_is_trusted():
    """The pilot of a law with one rare extreme trial can ask for more than the cap; the capped look's
    own trials, far more of them, decide whether it is enough."""
    def rare_outlier(params, trials, gen, dtype):  # the extreme trial falls in the pilot only
        x = torch.rand(trials, generator=gen, dtype=torch.float64).numpy()
        return (np.where((np.arange(trials) == 7) & (trials == PILOT_TRIALS), 1e3, 1.0 + x),)

    kernel = Kernel("test.outlier", rare_outlier, rare_outlier, lambda p, size: 8 * size, {})
    ctx = Context(device="cpu", seed=0, max_trials=20_000, scale="ci")
    pilot = draw(ctx, {}, kernel, PILOT_TRIALS, "pilot")
    assert first_look("mean", 64, pilot) > 20_000  # the pilot's one outlier reads as a huge skew
    ci, verdict = sample_until(ctx, {}, kernel, "mean", lambda c: "exact", first=64)
    assert verdict == "exact" and ci.n == 20_000


@pytest.mark.mc
@pytest.mark.parametrize("claim_id, point", [
    ("rules.delta_limit", {"d_k": 4, "n": 8}),
    ("softmax.gradient", {"n": 16}),
    ("softmax.optimal_beta", {"n": 16}),
    ("conditioning.routing", {"d_k": 16, "n": 4, "values": "averaged"}),
    ("conditioning.routing", {"d_k": 16, "n": 4, "values": "sampled"}),
])
def test_a_fixed_budget_check_whose_trials_ask_for_more_is_undecided(claim_id, point, ctx, monkeypatch):
    """Every check that passes its intervals (a fixed budget's, or each look's) through
    engine.sized, with every interval deemed too small: the check runs to the end and decides
    nothing."""
    from pavlov_theory import engine
    from pavlov_theory.claims import get_claim

    monkeypatch.setattr(engine, "too_few", lambda estimator, samples: True)
    claim = get_claim(claim_id)
    outcome = claim.check(claim.resolve(point), replace(ctx, max_trials=4096))
    assert outcome.verdict == "undecided"


def test_the_vectorised_mean_misses_are_those_of_the_verifiers_mean_interval_row_by_row():
    """The deep scan counts misses of stats.mean_ci itself: on rows of skewed samples (some whose
    skewness stands out, some not) and a truth near the limits, each row's miss agrees."""
    rng = np.random.default_rng(5)
    x = rng.gamma(2.0, size=(300, 48))
    truth, levels = 2.0, (0.9, 0.999)
    stands_out = skewness_that_stands_out(x) != 0
    assert 0 < stands_out.sum() < len(x)
    misses, others = coverage._mean_misses(x, truth, levels, ("plain", "salient_only"))
    assert misses.shape == (len(coverage.SCAN_ARMS), len(levels), 2)
    for i, level in enumerate(levels):
        for a, arm in enumerate(coverage.SCAN_ARMS):
            cis = [mean_ci(row, 1 - level, arm) for row in x]
            below = sum(ci.hi < truth for ci in cis)
            above = sum(ci.lo > truth for ci in cis)
            assert misses[a, i].tolist() == [below, above] and below + above > 0
        below, above = misses[coverage.SCAN_ARMS.index(LONG_ARM), i]
        plain = [coverage.plain_t_ci(row, 1 - level) for row in x]
        assert others[i, 0] == sum(not ci.contains(truth) for ci in plain)
        se = lambda row: row.std(ddof=1) / np.sqrt(row.size)
        before = [studentized_limits(row.mean(), se(row), skewness_that_stands_out(row), row.size, 1 - level)
                  for row in x]
        assert others[i, 1] == sum(not lo <= truth <= hi for lo, hi in before) > below + above


def test_the_gamma_moments_of_the_deep_scan_are_scipys():
    from scipy.stats import gamma

    for shape in coverage.DEEP_SHAPES:
        skew, kurt = gamma.stats(shape, moments="sk")
        assert np.isclose(coverage.gamma_skewness(shape), skew)
        assert np.isclose(coverage.gamma_kurtosis(shape), kurt)


def _first_look_at(monkeypatch, skew: float, kurt: float) -> int:
    """What the engine's first-look rule gives a pilot whose high readings are ``skew`` and ``kurt``."""
    from pavlov_theory import engine

    monkeypatch.setattr(engine, "skewness_upper", lambda values: skew)
    monkeypatch.setattr(engine, "kurtosis_upper", lambda values: kurt)
    return int(engine.first_looks(coverage.CASE_FIRST, np.zeros(PILOT_TRIALS)))


def test_the_deep_scans_floor_is_the_look_the_engine_gives_the_exact_moments(monkeypatch):
    for shape in coverage.DEEP_SHAPES:
        exact = _first_look_at(monkeypatch, coverage.gamma_skewness(shape), coverage.gamma_kurtosis(shape))
        assert coverage.deep_size(shape) == exact


@pytest.mark.parametrize("estimator, shapes, sizing", [("mean", (16.0,), "floor"), ("mean", (16.0,), "rule"),
                                                       ("ratio", coverage.DEEP_RATIO_SHAPES, "rule")])
def test_a_deep_scans_rows_are_its_chunks_rerun_alone_and_summed(estimator, shapes, sizing):
    """Over uneven chunks (150, 150, 100): the misses, the reference columns, the quartiles of the
    looks and the count below the floor are those of every chunk, each rerun alone."""
    levels, replicates, per = (0.9, 0.99), coverage.MIN_REPLICATES, 150
    point = coverage._deep_point(estimator, shapes)
    floor = point["floor"]
    values = len(shapes) * (floor if sizing == "floor" else floor + PILOT_TRIALS)
    chunk = per * values if sizing == "floor" else -(-per * values // coverage.DEEP_RULE_CHUNKS)
    counts = coverage.chunk_counts(replicates, per)
    assert counts == [150, 150, 100]
    rows = coverage._deep_rows(estimator, shapes, sizing, replicates, 2, levels, 1, False, chunk)
    alone = [coverage._deep_chunk(estimator, shapes, sizing, count, 2, k, levels)
             for k, count in enumerate(counts)]
    looks = np.concatenate([z for _, _, z in alone])
    misses, others = sum(m for m, _, _ in alone), sum(o for _, o, _ in alone)
    assert len(rows) == len(coverage.SCAN_ARMS) * len(levels)
    for k, r in enumerate(rows):  # reading by reading, level by level
        a, i = divmod(k, len(levels))
        assert (r["long_arm"], r["nominal"]) == (coverage.SCAN_ARMS[a], levels[i])
        assert [r["misses_below"], r["misses_above"]] == misses[a, i].tolist()
        assert [r[f"{name}_covered"] for name in point["references"]] == (replicates - others[i]).tolist()
        assert r["first_look_quartiles"] == [int(q) for q in np.quantile(looks, (.25, .5, .75))]
        assert r["below_floor"] == int(np.sum(looks < floor))
        assert r["chunk_misses"] == [m[a, i].tolist() for m, _, _ in alone]
        assert r["chunk_references"] == [o[i].tolist() for _, o, _ in alone]
    assert coverage.deep_chunk_counts(estimator, shapes, sizing, replicates, chunk) == counts


def test_the_deep_ratio_scans_floor_is_the_look_the_engine_gives_the_exact_moments(monkeypatch):
    exact = _first_look_at(monkeypatch, *coverage.ratio_moments(*coverage.DEEP_RATIO_SHAPES))
    assert coverage.deep_ratio_size(*coverage.DEEP_RATIO_SHAPES) == exact


def test_the_deep_scan_gives_the_same_rows_on_one_worker_or_two():
    """Over several chunks (a chunk of four looks of the floor: a few hundred chunks per row)."""
    chunk = 4 * coverage.deep_size(16.0)
    one, two = (coverage.deep_scan(coverage.MIN_REPLICATES, seed=2, shapes=(16.0,), levels=(0.9, 0.99),
                                   workers=w, chunk=chunk) for w in (1, 2))
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert strip(one) == strip(two)
    assert one[0]["truth"] == 16.0 and one[0]["trials"] == coverage.deep_size(16.0)
    reordered = coverage.deep_scan(coverage.MIN_REPLICATES, seed=2, shapes=(16.0,), levels=(0.9, 0.99),
                                   chunk=2 * chunk)
    assert strip(reordered) != strip(one)  # the chunks are what is seeded: other chunks, other draws


def test_the_deep_scans_rule_rows_draw_the_looks_the_engine_reads_from_each_pilot():
    """Replicate by replicate: the pilot and then the look, from the chunk's generator."""
    shape, count = 16.0, 50
    _, _, sizes = coverage._deep_chunk("mean", (shape,), "rule", count, 3, 0, (0.9,))
    gen = generator(derive_seed(3, "deep", shape, "rule", 0), "cpu")
    pilots = coverage._gamma(shape, count, PILOT_TRIALS, gen)
    assert sizes.tolist() == [first_look("mean", coverage.CASE_FIRST, (p,)) for p in pilots]


def _judged_looks(monkeypatch, counter: str, estimator: str, shapes: tuple[float, ...], count: int) -> list:
    """The values a rule chunk of the deep scan hands its miss counter, look size by look size."""
    judged = []
    real = getattr(coverage, counter)

    def recording(*args, **kwargs):
        judged.append([np.array(a) for a in args[:len(shapes)]])
        return real(*args, **kwargs)

    monkeypatch.setattr(coverage, counter, recording)
    coverage._deep_chunk(estimator, shapes, "rule", count, 3, 0, (0.9,))
    return judged


@pytest.mark.parametrize("estimator, counter, stream, shapes", [
    ("mean", "_mean_misses", "deep", (16.0,)),
    ("ratio", "_ratio_misses", "deep ratio", coverage.DEEP_RATIO_SHAPES),
])
def test_the_deep_scans_rule_looks_are_fresh_values_drawn_after_the_pilots(monkeypatch, estimator, counter,
                                                                         stream, shapes):
    """A look judges values of its own, the generator's next ones after every pilot, never the
    pilot's: the pilots are drawn, then each look size's rows in increasing size."""
    count = 40
    judged = _judged_looks(monkeypatch, counter, estimator, shapes, count)
    key = shapes[0] if estimator == "mean" else tuple(shapes)
    gen = generator(derive_seed(3, stream, key, "rule", 0), "cpu")
    pilots = [coverage._gamma(k, count, PILOT_TRIALS, gen) for k in shapes]
    sizes = [looks[0].shape[1] for looks in judged]
    assert sizes == sorted(set(sizes)) and sum(looks[0].shape[0] for looks in judged) == count
    for looks in judged:
        expected = [coverage._gamma(k, looks[0].shape[0], looks[0].shape[1], gen) for k in shapes]
        assert all(np.array_equal(a, b) for a, b in zip(looks, expected))
        assert not any(np.isin(a, p).any() for a, p in zip(looks, pilots))


def test_the_deep_scan_rejects_a_wrong_truth():
    """Its power: Gamma(16) values judged against a mean 2% off miss far beyond the nominal rate."""
    x = torch._standard_gamma(torch.full((2000, coverage.deep_size(16.0)), 16.0, dtype=torch.float64),
                              generator=generator(7, "cpu")).numpy()
    misses, _ = coverage._mean_misses(x, 16.0 * 1.02, (0.99,))
    word, _ = coverage.verdict(2000 - int(misses[coverage.SCAN_ARMS.index(LONG_ARM)].sum()), 2000, 0.99)
    assert word == "undercovers"


def test_a_coverage_row_too_few_to_tell_nominal_from_a_few_times_the_miss_rate_is_undecided():
    assert coverage.verdict(400, 400, 1 - 1e-4)[0] == "undecided"
    assert coverage.verdict(2 * 10**6 - 2, 2 * 10**6, 1 - 1e-6)[0] == "undecided"
    assert coverage.verdict(10**6 - 100, 10**6, 1 - 1e-4)[0] == "nominal"
    assert coverage.verdict(10**6 - 1000, 10**6, 1 - 1e-4)[0] == "undercovers"
    assert coverage.verdict(380, 400, 0.95)[0] == "nominal"


def test_a_nominal_row_excludes_twice_the_nominal_miss_rate():
    """Seven misses where seven are expected leave an upper limit of the miss rate just above twice
    nominal (about 2.06 times): the row cannot tell nominal from twice it; eight of eight (about
    1.97 times) can, and so can ten of ten."""
    upper = lambda misses, replicates: binomtest(misses, replicates).proportion_ci(0.95).high / 1e-4
    assert 2 < upper(7, 70_000) < 2.1 and 1.9 < upper(8, 80_000) < 2
    assert coverage.verdict(70_000 - 7, 70_000, 1 - 1e-4)[0] == "undecided"
    assert coverage.verdict(80_000 - 8, 80_000, 1 - 1e-4)[0] == "nominal"
    assert coverage.verdict(100_000 - 10, 100_000, 1 - 1e-4)[0] == "nominal"


def test_the_high_readings_on_rows_are_those_of_each_row():
    rng = np.random.default_rng(4)
    x = rng.gamma(0.5, size=(6, 40))
    assert skewness_upper(x).tolist() == [skewness_upper(row) for row in x]
    assert kurtosis_upper(x).tolist() == [kurtosis_upper(row) for row in x]


def test_the_stored_deep_scan_matches_the_scan_the_code_would_run():
    """The coverage chapter shows a stored deep scan: its points, looks and levels must be those of
    the current code, or the scan must be run again (its command is in the chapter)."""
    import json
    from pathlib import Path

    stored = json.loads((Path(__file__).parents[1] / "book" / "measured" / "coverage-deep.json").read_text())
    rows = stored["deep"]
    assert coverage.config_matches(stored["deep_config"], coverage.deep_config())
    expected = [(k, z, arm, level) for k in coverage.DEEP_SHAPES for z in coverage.DEEP_SIZINGS
                for arm in coverage.SCAN_ARMS for level in coverage.DEEP_LEVELS]
    assert [(r["truth"], r["sizing"], r["long_arm"], r["nominal"]) for r in rows] == expected
    for r in rows:
        if r["sizing"] == "floor":
            assert r["first_look_quartiles"] == [coverage.deep_size(r["truth"])] * 3
        assert r["replicates"] >= coverage.MIN_REPLICATES and r["interval"] == coverage.MEAN_LABEL


DEEP_STORED = [*(("deep", "mean", (k,)) for k in coverage.DEEP_SHAPES),
               ("deep-ratio", "ratio", coverage.DEEP_RATIO_SHAPES)]


@pytest.mark.parametrize("name, estimator, shapes", DEEP_STORED)
def test_the_stored_deep_rows_are_their_chunks_summed(name, estimator, shapes):
    point = coverage._deep_point(estimator, shapes)
    rows = [r for r in _stored_scan(name)[name.replace("-", "_")] if r["point"] == point["where"]]
    assert rows
    for r in rows:
        counts = coverage.deep_chunk_counts(estimator, shapes, r["sizing"], r["replicates"])
        assert len(r["chunk_misses"]) == len(r["chunk_references"]) == len(counts)
        assert np.sum(r["chunk_misses"], axis=0).tolist() == [r["misses_below"], r["misses_above"]]
        covered = r["replicates"] - np.sum(r["chunk_references"], axis=0)
        assert covered.tolist() == [r[f"{ref}_covered"] for ref in point["references"]]


@pytest.mark.parametrize("name, estimator, shapes", DEEP_STORED)
@pytest.mark.parametrize("sizing", coverage.DEEP_SIZINGS)
def test_the_stored_deep_scans_first_last_and_most_missed_chunks_rerun_to_their_stored_counts(
        name, estimator, shapes, sizing):
    """With the stored seed, at every level, the first chunk, the last (the shorter remainder) and
    the one where the verifier's interval missed most: a change to the draws or the rule shows in
    every chunk, and one to the intervals in the chunks whose misses it moves."""
    stored = _stored_scan(name)
    point = coverage._deep_point(estimator, shapes)
    rows = [r for r in stored[name.replace("-", "_")]
            if r["point"] == point["where"] and r["sizing"] == sizing]
    levels = tuple(dict.fromkeys(r["nominal"] for r in rows))
    assert levels == coverage.DEEP_LEVELS
    assert [(r["long_arm"], r["nominal"]) for r in rows] == [(a, v) for a in coverage.SCAN_ARMS
                                                             for v in levels]
    counts = coverage.deep_chunk_counts(estimator, shapes, sizing, rows[0]["replicates"])
    assert len(counts) > 1 and counts[-1] < counts[0]
    missed = np.sum([r["chunk_misses"] for r in rows], axis=(0, 2))  # per chunk, over levels and sides
    assert missed.max() > 0
    for index in sorted({0, len(counts) - 1, int(np.argmax(missed))}):
        misses, others, _ = coverage._deep_chunk(estimator, shapes, sizing, counts[index], stored["seed"],
                                                 index, levels)
        for k, r in enumerate(rows):
            a, i = divmod(k, len(levels))
            assert r["chunk_misses"][index] == misses[a, i].tolist()
            assert r["chunk_references"][index] == others[i].tolist()


def test_the_deep_scans_deepest_level_is_not_below_any_scales_per_look_level():
    """What the coverage chapter says of the deep scan's reach: its deepest miss rate lies above the
    per-look level of every scale (so it does not reach the stated level)."""
    from pavlov_theory import ledger
    from pavlov_theory.claims import SCALES, registry
    from pavlov_theory.stats import look_sizes

    claims = registry()
    for scale in SCALES:
        points = sum(len(c.points(scale)) for c in claims.values())
        looks = len(look_sizes(coverage.CASE_FIRST, ledger.MAX_TRIALS[scale]))
        per_look = ledger.DEFAULT_FWER / points / looks
        assert 1 - max(coverage.DEEP_LEVELS) > per_look, scale


def test_the_ratio_moments_are_those_sympy_derives_for_the_difference_of_gammas():
    import sympy
    from sympy.stats import Gamma, kurtosis, skewness

    a, b = (sympy.Rational(int(k)) for k in coverage.DEEP_RATIO_SHAPES)
    w = Gamma("X", a, 1) - a / b * Gamma("Y", b, 1)
    skew, kurt = coverage.ratio_moments(*coverage.DEEP_RATIO_SHAPES)
    assert np.isclose(skew, float(skewness(w)))
    assert np.isclose(kurt, float(kurtosis(w)) - 3)


def test_the_vectorised_ratio_misses_are_those_of_the_verifiers_ratio_interval_row_by_row():
    rng = np.random.default_rng(6)
    num, den = rng.gamma(1.0, size=(200, 40)), rng.gamma(4.0, size=(200, 40))
    truth, levels = 0.25, (0.9, 0.999)
    misses, others = coverage._ratio_misses(num, den, truth, levels, coverage.FIRST_LOOK_REFERENCES)
    assert coverage.FIRST_LOOK_REFERENCES == coverage.RATIO_REFERENCES == ("plain", "salient_only")
    verifier = coverage.SCAN_ARMS.index(LONG_ARM)
    for i, level in enumerate(levels):
        for a, arm in enumerate(coverage.SCAN_ARMS):
            cis = [ratio_of_means_ci(x, y, 1 - level, arm) for x, y in zip(num, den)]
            sides = [sum(ci.hi < truth for ci in cis), sum(ci.lo > truth for ci in cis)]
            assert misses[a, i].tolist() == sides
        deltas = [coverage.delta_ratio_ci(a, b, 1 - level) for a, b in zip(num, den)]
        assert others[i, 0] == sum(not ci.contains(truth) for ci in deltas)
        assert others[i, 1] > misses[verifier, i].sum()  # the interval before the widening misses more
    assert misses[verifier].sum() > 0


def test_the_ratio_test_before_the_widening_rejects_whatever_the_verifiers_test_rejects():
    """Where the skewness stands out the test before the widening is the one read from the sample,
    which rejects whatever the verifier's (both arms lengthened, stats.LONG_ARM) rejects; elsewhere
    the verifier's is wider."""
    rng = np.random.default_rng(8)
    num, den = rng.gamma(1.0, size=(400, 40)), rng.gamma(4.0, size=(400, 40))
    reading = ratio_skew_reading(num, den)
    corrected = reading[0]
    assert 0 < corrected.sum() < len(num)
    for theta in (0.15, 0.25, 0.4):
        now = ratio_test(num, den, theta, 1e-3, reading)
        before = coverage._salient_only_ratio_excess(num, den, theta, 1e-3, corrected)
        sample = ratio_test(num, den, theta, 1e-3, reading, "sample")
        assert np.allclose(sample[corrected], before[corrected], rtol=1e-12, atol=1e-12)
        assert np.all(now <= before + 1e-12)
        assert np.any(now[~corrected] < before[~corrected])


def test_the_studentized_ratio_values_on_rows_are_those_of_each_row():
    rng = np.random.default_rng(7)
    num, den = rng.gamma(1.0, size=(5, 30)), rng.gamma(4.0, size=(5, 30))
    rows = studentized_values("ratio", (num, den))
    assert all(np.array_equal(rows[i], studentized_values("ratio", (num[i], den[i]))) for i in range(5))


def test_the_deep_ratio_scans_rule_rows_draw_the_looks_the_engine_reads_from_each_pilot():
    shapes, count = coverage.DEEP_RATIO_SHAPES, 40
    _, _, sizes = coverage._deep_chunk("ratio", shapes, "rule", count, 3, 0, (0.9,))
    gen = generator(derive_seed(3, "deep ratio", shapes, "rule", 0), "cpu")
    num, den = (coverage._gamma(k, count, PILOT_TRIALS, gen) for k in shapes)
    assert sizes.tolist() == [first_look("ratio", coverage.CASE_FIRST, (a, b)) for a, b in zip(num, den)]


def test_the_deep_ratio_scan_gives_the_same_rows_on_one_worker_or_two():
    chunk = 8 * coverage.deep_ratio_size(*coverage.DEEP_RATIO_SHAPES)
    one, two = (coverage.deep_ratio_scan(coverage.MIN_REPLICATES, seed=2, levels=(0.9, 0.99), workers=w,
                                         chunk=chunk) for w in (1, 2))
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert strip(one) == strip(two)


def test_the_deep_ratio_scan_rejects_a_wrong_truth():
    """Its power: a ratio judged against a value 3% off misses far beyond the nominal rate."""
    gen = generator(8, "cpu")
    size = coverage.deep_ratio_size(*coverage.DEEP_RATIO_SHAPES)
    num, den = (coverage._gamma(k, 2000, size, gen) for k in coverage.DEEP_RATIO_SHAPES)
    truth = coverage.DEEP_RATIO_SHAPES[0] / coverage.DEEP_RATIO_SHAPES[1]
    misses, _ = coverage._ratio_misses(num, den, truth * 1.03, (0.99,))
    missed = int(misses[coverage.SCAN_ARMS.index(LONG_ARM)].sum())
    assert coverage.verdict(2000 - missed, 2000, 0.99)[0] == "undercovers"


def test_the_stored_deep_ratio_scan_matches_the_scan_the_code_would_run():
    import json
    from pathlib import Path

    path = Path(__file__).parents[1] / "book" / "measured" / "coverage-deep-ratio.json"
    stored = json.loads(path.read_text())
    assert coverage.config_matches(stored["deep_ratio_config"], coverage.deep_ratio_config())
    shapes = coverage.DEEP_RATIO_SHAPES
    rows = stored["deep_ratio"]
    assert [(r["sizing"], r["long_arm"], r["nominal"]) for r in rows] == [
        (z, arm, level) for z in coverage.DEEP_SIZINGS for arm in coverage.SCAN_ARMS
        for level in coverage.DEEP_LEVELS]
    for r in rows:
        assert r["truth"] == shapes[0] / shapes[1] and r["interval"] == coverage.RATIO_LABEL
        if r["sizing"] == "floor":
            assert r["first_look_quartiles"] == [coverage.deep_ratio_size(*shapes)] * 3


def test_a_deep_floor_chunk_judges_its_own_draws_against_the_gamma_mean():
    shape, count, levels = 16.0, 30, (0.5, 0.9)
    misses, plain, _ = coverage._deep_chunk("mean", (shape,), "floor", count, 4, 1, levels)
    gen = generator(derive_seed(4, "deep", shape, "floor", 1), "cpu")
    x = coverage._gamma(shape, count, coverage.deep_size(shape), gen)
    for arm, found in zip(coverage.SCAN_ARMS, misses.tolist()):
        cis = [[mean_ci(row, 1 - level, arm) for row in x] for level in levels]
        assert found == [[sum(ci.hi < shape for ci in c), sum(ci.lo > shape for ci in c)] for c in cis]
    assert misses.sum(axis=(1, 2)).min() > 0


def test_a_deep_ratio_floor_chunk_judges_its_own_draws_against_the_ratio_of_the_shapes():
    shapes, count, levels = coverage.DEEP_RATIO_SHAPES, 30, (0.5, 0.9)
    misses, _, _ = coverage._deep_chunk("ratio", shapes, "floor", count, 4, 1, levels)
    gen = generator(derive_seed(4, "deep ratio", shapes, "floor", 1), "cpu")
    num, den = (coverage._gamma(k, count, coverage.deep_ratio_size(*shapes), gen) for k in shapes)
    truth = shapes[0] / shapes[1]
    for arm, found in zip(coverage.SCAN_ARMS, misses.tolist()):
        cis = [[ratio_of_means_ci(a, b, 1 - level, arm) for a, b in zip(num, den)] for level in levels]
        assert found == [[sum(ci.hi < truth for ci in c), sum(ci.lo > truth for ci in c)] for c in cis]
    assert misses.sum(axis=(1, 2)).min() > 0


@pytest.mark.parametrize("flag", list(coverage.SCAN_FLAGS) + ["workers"])
def test_the_coverage_cli_refuses_too_few_replicates_or_workers_naming_the_flag(flag, capsys):
    value = "0" if flag == "workers" else str(coverage.MIN_REPLICATES - 1)
    with pytest.raises(SystemExit) as stop:
        coverage.main([f"--{flag}", value])
    assert stop.value.code == 2 and f"{flag}:" in capsys.readouterr().err


def test_judged_by_reads_a_reference_column_as_the_verdict_rule_does():
    # 19766 of 20000 at 99%: undercovers at the rule's 95% confidence, not at 99%
    row = {"trials": 64, "nominal": 0.99, "replicates": 20000, "covered": 19800, "plain_covered": 19766,
           "verdict": "stored"}
    (own,), (plain,) = coverage.judged_by([row]), coverage.judged_by([row], "plain_covered")
    assert own["verdict"] == "nominal" and plain["verdict"] == "undercovers"
    word, ci = coverage.verdict(19766, 20000, 0.99)
    assert (plain["covered"], plain["coverage"], plain["ci"]) == (19766, 19766 / 20000, [ci.lo, ci.hi])
    assert coverage.verdict(19766, 20000, 0.99, confidence=0.99)[0] == "nominal"
    assert row["covered"] == 19800 and row["verdict"] == "stored"  # the stored row is left as it was


def test_skew_readings_are_each_readings_limit_skews_and_the_skewness_that_stands_out_from_one_jackknife():
    x = np.random.default_rng(9).gamma(2.0, size=(200, 40))
    salient, readings = skew_readings(x, LONG_ARMS)
    assert 0 < np.count_nonzero(salient) < len(x)
    np.testing.assert_allclose(salient, skewness_that_stands_out(x), rtol=1e-12)
    assert len(readings) == len(LONG_ARMS)
    for arm, found in zip(LONG_ARMS, readings):
        for mine, alone in zip(found, limit_skews(x, long_arm=arm)):
            np.testing.assert_array_equal(mine, alone)


def _row(arm, trials, nominal, covered):
    return {"interval": "i", "point": "p", "trials": trials, "nominal": nominal, "covered": covered,
            "long_arm": arm}


def test_the_verifier_rows_are_its_readings_with_the_other_readings_counts_of_the_same_look_and_level():
    others = [a for a in coverage.SCAN_ARMS if a != LONG_ARM]
    rows = [_row(arm, t, v, 100 * k + 10 * t + int(v > .95))
            for k, arm in enumerate(coverage.SCAN_ARMS) for t in (1, 2) for v in (.95, .99)]
    found = coverage.verifier_rows(rows)
    assert [(r["long_arm"], r["trials"], r["nominal"]) for r in found] == \
        [(LONG_ARM, t, v) for t in (1, 2) for v in (.95, .99)]
    for r in found:
        for arm in others:
            k = coverage.SCAN_ARMS.index(arm)
            assert r[f"{arm}_covered"] == 100 * k + 10 * r["trials"] + int(r["nominal"] > .95)
        assert f"{LONG_ARM}_covered" not in r


def test_the_verifier_rows_pair_rows_that_differ_only_in_point_or_sizing_with_their_own():
    rows = [{**_row(arm, 1, .95, 10 * k + j), "point": point, "sizing": sizing}
            for k, arm in enumerate(coverage.SCAN_ARMS)
            for j, (point, sizing) in enumerate((("p", "floor"), ("p", "rule"), ("q", "floor")))]
    found = coverage.verifier_rows(rows)
    assert len(found) == 3
    for r in found:
        j = r["covered"] % 10
        assert all(r[f"{arm}_covered"] == 10 * coverage.SCAN_ARMS.index(arm) + j
                   for arm in coverage.SCAN_ARMS if arm != LONG_ARM)


@pytest.mark.parametrize("change", ["duplicate", "missing", "unread", "absent"])
def test_the_verifier_rows_refuse_rows_whose_readings_do_not_pair_one_to_one(change):
    rows = [_row(arm, 1, .95, 1) for arm in coverage.SCAN_ARMS]
    other = next(r for r in rows if r["long_arm"] != LONG_ARM)
    if change == "absent":  # a reading with no row at all
        rows.remove(other)
    elif change == "duplicate":
        rows.append(dict(other))
    elif change == "missing":
        rows.remove(other)
        rows.append({**other, "trials": 2})
    else:
        del other["long_arm"]
    with pytest.raises(ValueError, match="verifier_rows"):
        coverage.verifier_rows(rows)


def test_rows_read_refuses_a_reading_that_does_not_exist():
    with pytest.raises(ValueError, match="arm must be one of"):
        coverage.rows_read([_row(LONG_ARM, 1, .95, 1)], "widest")


def test_a_rule_chunk_counts_each_replicates_interval_by_each_reading_as_mean_ci_does():
    """The rule scan judges replicates of one size together: its misses are those of
    :func:`stats.mean_ci` on each replicate's look, for each reading of the long arm."""
    where, levels, count = coverage.HEAVY_POINT, (0.9, 0.99), 60
    misses, chosen, _ = coverage._rule_chunk(where, "mean", coverage.CASE_FIRST, 4, 0, count, levels)
    gen = generator(derive_seed(4, "rule", where, "mean", coverage.CASE_FIRST, 0), "cpu")
    coverage._student_t(where["df"], count * PILOT_TRIALS, gen)  # the pilots
    looks = np.split(coverage._student_t(where["df"], sum(chosen), gen), np.cumsum(chosen)[:-1])
    assert len(set(chosen)) > 1  # replicates of more than one size
    for a, arm in enumerate(coverage.SCAN_ARMS):
        for i, level in enumerate(levels):
            cis = [mean_ci(x, 1 - level, arm) for x in looks]
            assert misses[a, i].tolist() == [sum(ci.hi < 0 for ci in cis), sum(ci.lo > 0 for ci in cis)]
    assert misses.sum() > 0


def test_the_first_look_scan_counts_its_references_on_the_same_replicates():
    scanned = coverage.first_look_scan(coverage.MIN_REPLICATES, 5, sizes=(64,), levels=(0.95,))
    rows = coverage.verifier_rows(scanned)
    where = coverage.SCAN_POINT
    point = coverage._point(where["d_k"], where["n"], where["dist"], d_v=1)
    truth = coverage._law(where["dist"]).evaluate("snr", **point)
    gen = generator(derive_seed(5, "first look", coverage.SCAN_POINT, 64, 0), "cpu")
    signal, noise = (x.reshape(coverage.MIN_REPLICATES, 64)
                     for x in coverage._signal_noise(point, coverage.MIN_REPLICATES * 64, gen))
    plain = sum(not coverage.delta_ratio_ci(a, b, 0.05).contains(truth) for a, b in zip(signal, noise))
    own = sum(not ratio_of_means_ci(a, b, 0.05).contains(truth) for a, b in zip(signal, noise))
    assert rows[0]["replicates"] - rows[0]["covered"] == own
    assert rows[0]["replicates"] - rows[0]["plain_covered"] == plain
    reading = ratio_skew_reading(signal, noise)
    before = coverage._salient_only_ratio_excess(signal, noise, truth, 0.05, reading[0]) > 0
    assert rows[0]["replicates"] - rows[0]["salient_only_covered"] == int(np.sum(before))
    sample = sum(not ratio_of_means_ci(a, b, 0.05, "sample").contains(truth) for a, b in zip(signal, noise))
    assert rows[0]["replicates"] - rows[0]["sample_covered"] == sample
    assert len({own, plain, int(np.sum(before)), sample}) == 4  # at this seed the four counts differ


def _stored_scan(name: str) -> dict:
    import json
    from pathlib import Path

    return json.loads((Path(__file__).parents[1] / "book" / "measured" / f"coverage-{name}.json").read_text())


def _json_round_trip(value):
    import json

    return json.loads(json.dumps(value))


def _without_seconds(rows):
    return [{key: value for key, value in r.items() if key != "seconds"} for r in rows]


@pytest.mark.parametrize("name, keys", [("first-look", ("first_look", "calibration")), ("rule", ("rule",)),
                                        ("heavy", ("heavy", "heavy_rule"))])
def test_a_stored_scan_was_run_with_the_current_configuration(name, keys):
    """The coverage chapter shows the stored scans behind the rule's constants: their points, sizes,
    levels and constants must be the current code's in every entry the scan reads, or the scan must
    be run again."""
    stored = _stored_scan(name)
    assert coverage.scan_current(name.replace("-", "_"), stored)
    unread = coverage.UNREAD[name.replace("-", "_")]
    assert {k: v for k, v in stored["scan_config"].items() if k not in unread} == \
        {k: v for k, v in _json_round_trip(coverage.scan_config()).items() if k not in unread}
    assert all(stored.get(key) for key in keys)
    assert all(r["replicates"] >= coverage.MIN_REPLICATES for key in keys if key != "calibration"
               for r in stored[key])


def test_a_scan_is_stale_where_an_entry_it_reads_differs_and_current_where_only_an_unread_one_does():
    current = _json_round_trip(coverage.scan_config())
    assert coverage.scan_current("rule", {"scan_config": {**current, "scan_sizes": [64]}})
    assert not coverage.scan_current("first_look", {"scan_config": {**current, "scan_sizes": [64]}})
    assert not coverage.scan_current("rule", {"scan_config": {**current, "trials_per_skew2": 1}})
    without_levels = {key: value for key, value in current.items() if key != "levels"}
    assert not coverage.scan_current("heavy", {"scan_config": without_levels})
    assert not coverage.scan_current("heavy", {})
    assert not coverage.scan_current("rule", {"scan_config": {**current, "retired_entry": 1}})


def test_the_rule_and_heavy_scans_read_neither_the_first_look_sizes_nor_its_references(monkeypatch):
    """What :data:`coverage.UNREAD` leaves out of their staleness: their rows are the same with
    other first-look sizes and references."""
    few, level = coverage.MIN_REPLICATES, (0.95,)
    points = (coverage.RULE_POINTS[0], coverage.RULE_POINTS[3])  # the ratio at the scan point, a mean
    rule = lambda: coverage.rule_scan(few, 3, levels=level, points=points)
    heavy = lambda: coverage.heavy_scan(few, 3, levels=level, sizes=coverage.HEAVY_SIZES[:1])
    before = [_without_seconds(rule()), _without_seconds(heavy())]
    monkeypatch.setattr(coverage, "SCAN_SIZES", (7,))
    monkeypatch.setattr(coverage, "FIRST_LOOK_REFERENCES", ())
    assert [_without_seconds(rule()), _without_seconds(heavy())] == before


@pytest.mark.parametrize("name, key, scan", [("first-look", "first_look", coverage.first_look_scan),
                                             ("heavy", "heavy", coverage.heavy_scan)])
def test_a_stored_scans_smallest_size_is_what_the_current_code_counts(name, key, scan):
    """The configuration names the intervals but does not compute them: the stored rows of the
    smallest size (all its replicates, over more than one chunk) are rerun with the stored seed and
    must come out the same, misses of every counted interval included."""
    stored = _stored_scan(name)
    rows = [r for r in stored[key] if r["trials"] == min(r["trials"] for r in stored[key])]
    assert rows[0]["replicates"] * rows[0]["trials"] > coverage.SCAN_CHUNK  # more than one chunk
    again = scan(rows[0]["replicates"], stored["seed"], sizes=(rows[0]["trials"],))
    assert _without_seconds(again) == _without_seconds(rows)


def _stored_rule_points(name: str = "rule"):
    """A stored rule scan's rows, point by point, with the point and estimator they were run at: the
    rule points' (``rule``), or the synthetic Student-t point's (``heavy``)."""
    stored = _stored_scan(name)
    config, rows = stored["scan_config"], stored[name if name == "rule" else "heavy_rule"]
    per_point = len(config["levels"]) * len(config["long_arms"])
    run_at = config["rule_points"] if name == "rule" else [[config["heavy_point"], "mean"]]
    return stored, rows, [(where, estimator, rows[p * per_point:(p + 1) * per_point])
                          for p, (where, estimator) in enumerate(run_at)]


@pytest.mark.parametrize("name", ["rule", "heavy"])
def test_a_stored_rule_scans_chunks_add_up_to_its_rows(name):
    _, rows, points = _stored_rule_points(name)
    assert len(rows) == sum(len(mine) for _, _, mine in points)
    for r in rows:
        assert len(r["chunk_misses"]) == len(coverage.rule_chunk_counts(r["replicates"]))
        assert [sum(side) for side in zip(*r["chunk_misses"])] == [r["misses_below"], r["misses_above"]]


@pytest.mark.parametrize("name, estimator", [("rule", "mean"), ("rule", "ratio"), ("heavy", "mean")])
def test_a_stored_rule_scans_first_and_last_chunks_are_what_the_current_code_counts(name, estimator):
    """The first and the last (shorter) chunk of the stored point of each estimator whose looks are
    the shortest (its pilots, the sizes they choose and the intervals of those looks) are rerun with
    the stored seed: their misses at every level must be the stored chunks'. The looks are hundreds
    to thousands of trials, so this reaches sizes the first-look scan's rerun does not."""
    stored, _, points = _stored_rule_points(name)
    shortest = lambda point: point[2][0]["first_look_quartiles"]
    where, _, rows = min((p for p in points if p[1] == estimator), key=shortest)
    counts = coverage.rule_chunk_counts(rows[0]["replicates"])
    assert len(rows[0]["chunk_misses"]) == len(counts) > 1 and counts[-1] < counts[0]
    levels = tuple(dict.fromkeys(r["nominal"] for r in rows))
    for index in (0, len(counts) - 1):
        misses, chosen, _ = coverage._rule_chunk(where, estimator, rows[0]["trials"], stored["seed"], index,
                                                 counts[index], levels)
        assert [m for per_arm in misses.tolist() for m in per_arm] == [r["chunk_misses"][index] for r in rows]
        assert min(chosen) >= rows[0]["trials"]


def test_the_stored_calibration_is_what_the_current_code_reads():
    stored = _stored_scan("first-look")
    found = stored["calibration"]
    assert coverage.calibration(found["trials"], stored["seed"]) == found


@pytest.mark.parametrize("name, kept", [("first-look", {"first_look", "calibration"}), ("rule", {"rule"}),
                                        ("heavy", {"heavy", "heavy_rule"})])
def test_a_stored_scan_keeps_no_summary_of_its_rows_beside_them(name, kept):
    """What a reading needs is read from the rows, for whichever reading is the verifier's: a
    summary stored beside them would go stale when stats.LONG_ARM changes."""
    stored = _stored_scan(name)
    assert set(stored) == kept | {"seed", "confidence", "torch", "scan_config", "workers"}
    if "calibration" in stored:
        assert set(stored["calibration"]) == {"skewness", "trials"}


def _judged_readings(name: str, key: str) -> dict[str, list[dict]]:
    """The rows of one current stored scan, judged by the current verdict rules, reading by reading:
    counted rows by :func:`coverage.judged_by`, tilted ones by :func:`tilted.judge_row`."""
    from pavlov_theory import tilted, tilted_snr

    stored = _stored_scan(name)
    if key in ("first_look", "rule", "heavy", "heavy_rule"):
        current = coverage.scan_current("heavy" if key == "heavy_rule" else key, stored)
    elif key in ("deep", "deep_ratio"):
        current = coverage.config_matches(stored[f"{key}_config"], getattr(coverage, f"{key}_config")())
    else:
        current = tilted.scan_current(stored) if key == "tilted" else tilted_snr.scan_current(stored, key)
    assert current, f"the stored {name} scan is stale"
    found = stored[key]
    rows = found["rows"] if isinstance(found, dict) else found
    judged = coverage.judged_by if not name.startswith("tilted") else (
        lambda rs: [tilted.judge_row(r) for r in rs])
    return {arm: judged(coverage.rows_read(rows, arm)) for arm in coverage.SCAN_ARMS}


def _undercovering(rows: list[dict]) -> set:
    return {tuple(r[k] for k in coverage.ROW_KEYS if k in r) for r in rows if r["verdict"] == "undercovers"}


@pytest.mark.parametrize("name, key", [
    ("first-look", "first_look"), ("rule", "rule"), ("heavy", "heavy"), ("heavy", "heavy_rule"),
    ("deep", "deep"), ("deep-ratio", "deep_ratio"), ("tilted", "tilted"), ("tilted-snr", "tilted_snr"),
    ("tilted-snr-sizes", "tilted_snr_sizes")])
def test_the_verifiers_reading_undercovers_in_no_stored_row_another_reading_covers(name, key):
    """In every stored scan, each row where the verifier's reading (stats.LONG_ARM) undercovers
    undercovers by every other reading too. For counted rows this follows from the containment of
    the readings' intervals and the vectorised misses agreeing with them (both tested above); for
    the tilted rows, estimated from weights, it is a finding of its own."""
    judged = _judged_readings(name, key)
    assert all(judged.values()), {arm: len(rows) for arm, rows in judged.items()}
    under = {arm: _undercovering(rows) for arm, rows in judged.items()}
    for arm in coverage.SCAN_ARMS:
        assert under[LONG_ARM] <= under[arm], (arm, under[LONG_ARM] - under[arm])


def test_reading_the_long_arm_alone_undercovers_at_the_snr_point_where_the_verifiers_reading_does_not():
    """The switch had a reason: at the verifier's most skewed SNR point, from its floor look, every
    row of the stored tilted scan decides for the high reading and the verifier's; the high reading
    undercovers in each, with the excess on its short arm (the side :func:`tilted_snr.unguarded_side`
    names, placed there by :func:`tilted_snr.excess_side`), and the verifier's reading in none."""
    from pavlov_theory import tilted_snr

    judged = _judged_readings("tilted-snr", "tilted_snr")
    assert judged["high"] and judged[LONG_ARM]
    assert all(r["verdict"] != "undecided" for arm in ("high", LONG_ARM) for r in judged[arm])
    assert all(r["verdict"] == "undercovers" for r in judged["high"])
    assert not _undercovering(judged[LONG_ARM])
    assert all(tilted_snr.excess_side(r) == tilted_snr.unguarded_side() for r in judged["high"])


@pytest.mark.parametrize("arm", coverage.SCAN_ARMS)
def test_the_skew_constant_grants_at_least_the_size_each_reading_needs(arm):
    """The stored first-look scan counts the ratio interval by every reading of the skewness on the
    same replicates, read by the current verdict rule: the constant grants at least the size each
    needs at the scan point, the verifier's (stats.LONG_ARM) among them (a margin, as the chapter
    and the comment above the constant say; not a calibration)."""
    stored = _stored_scan("first-look")
    needed = coverage.smallest_by(coverage.rows_read(stored["first_look"], arm))
    assert needed is not None
    assert coverage.margin(TRIALS_PER_SKEW2, needed, stored["calibration"]["skewness"]) >= 1


def test_the_margin_is_the_trials_granted_over_the_trials_needed():
    assert coverage.margin(512, 2048, 2.0) == 1.0
    assert coverage.margin(512, 1024, -2.0) == 2.0
    assert coverage.margin(512, None, 2.0) is None


def test_the_kurtosis_constant_is_the_earlier_intervals_covering_size_over_the_excess_kurtosis():
    """TRIALS_PER_KURT was set on the interval corrected for every skewness it reads; the stored scan
    counts that interval beside the current one, and gives the constant again. The current interval
    undercovers at no level at a size no larger than the constant grants there (undecided rows count as
    not undercovering), and at each size where it undercovers, plain t misses at least as often on the
    same replicates."""
    stored = coverage.verifier_rows(_stored_scan("heavy")["heavy"])
    kurtosis = coverage.heavy_kurtosis(coverage.HEAVY_POINT["df"])
    earlier = coverage.covering_by(stored, "always_corrected_covered")
    assert TRIALS_PER_KURT == int(np.ceil(earlier / kurtosis))
    covering = coverage.covering_by(stored)
    assert covering is not None and covering <= TRIALS_PER_KURT * kurtosis
    for r in coverage.judged_by(stored):
        if r["verdict"] == "undercovers":
            assert r["plain_covered"] <= r["covered"]


def test_smallest_and_covering_sizes_read_a_column_by_the_current_rule():
    rows = [{"trials": t, "nominal": 0.99, "replicates": 20000, "covered": 19800, "verdict": "undercovers",
             "old_covered": c} for t, c in ((64, 19650), (128, 19800), (256, 19650), (512, 19800))]
    assert coverage.smallest_by(rows) == 64 and coverage.covering_by(rows) == 64  # stored verdicts ignored
    assert coverage.smallest_by(rows, "old_covered") == 512
    assert coverage.covering_by(rows, "old_covered") == 128
    assert coverage.smallest_by(rows, "missing_covered") is None


def test_the_rule_scans_draws_in_pieces_are_the_kernels_draws_one_piece_after_another():
    params = coverage._point(16, 4, "gaussian", d_v=8)
    per_trial = coverage.signal_noise_bytes(params)
    whole = coverage._signal_noise_within(params, 50, generator(1, "cpu"), budget=10**9)
    at_once = coverage._signal_noise(params, 50, generator(1, "cpu"))
    assert all(np.array_equal(a, b) for a, b in zip(whole, at_once))
    pieces = coverage._signal_noise_within(params, 50, generator(1, "cpu"), budget=20 * per_trial)
    gen = generator(1, "cpu")
    by_hand = [coverage._signal_noise(params, size, gen) for size in (20, 20, 10)]
    assert all(np.array_equal(a, np.concatenate(b)) for a, b in zip(pieces, zip(*by_hand)))


def test_the_rule_pieces_are_where_the_rule_scans_draws_are_cut(monkeypatch):
    """``rule_pieces`` (recorded in the scan config, so a stored rule scan cut elsewhere reads stale)
    is the size of the first draw of more trials than fit the budget at each kernel point; a
    synthetic Student-t point is drawn whole."""
    drawn = []
    real = coverage._signal_noise
    monkeypatch.setattr(coverage, "_signal_noise",
                        lambda params, trials, gen: drawn.append(trials) or real(params, trials, gen))
    points = (*coverage.RULE_POINTS[:1], *coverage.HEAVY_RULE_POINTS)
    budget = 64 * coverage.signal_noise_bytes(coverage._rule_params(points[0][0]))
    pieces = coverage.rule_pieces(points, budget)
    assert pieces[1] is None and coverage.rule_pieces() == coverage.scan_config()["rule_pieces"]
    coverage._signal_noise_within(coverage._rule_params(points[0][0]), 3 * pieces[0] + 5,
                                  generator(0, "cpu"), budget)
    assert drawn == [pieces[0]] * 3 + [5]


def test_an_undercovering_margin_counts_the_misses_beyond_the_most_that_would_not_undercover():
    """At 99.99% of 20000 replicates, 6 misses read undercovers and 5 do not: the row of 6 misses is
    one miss from another verdict, the row of 8 three, and a row that does not undercover none."""
    row = lambda misses: {"replicates": 20000, "covered": 20000 - misses, "nominal": 0.9999}
    assert coverage.verdict(20000 - 6, 20000, 0.9999)[0] == "undercovers"
    assert coverage.verdict(20000 - 5, 20000, 0.9999)[0] != "undercovers"
    assert [coverage.undercovering_margin(row(m)) for m in (5, 6, 8)] == [0, 1, 3]


def test_the_largest_undercovering_size_is_where_the_smallest_first_look_begins_after():
    verdicts = [(64, "undercovers"), (128, "nominal"), (256, "undercovers"), (512, "undecided"),
                (1024, "nominal")]
    rows = [{"trials": t, "verdict": v} for t, v in verdicts]
    assert coverage.largest_undercovering(rows) == 256
    assert coverage.smallest_first_look(rows) == 512
    assert coverage.largest_undercovering(rows[1:2]) is None
    assert coverage.smallest_first_look(rows[1:2]) == 128


def test_the_book_names_every_reading_of_the_skewness_and_no_other():
    assert set(coverage.READING_TITLES) == set(coverage.READING_WORDS) == set(LONG_ARMS)


@pytest.mark.parametrize("estimator", ["proportion", "Mean", ""])
def test_the_scans_refuse_an_estimator_they_do_not_judge(estimator):
    from pavlov_theory import tilted

    values = (np.ones((2, 8)), np.ones((2, 8)))
    with pytest.raises(ValueError, match="estimator must be mean or ratio"):
        coverage._value_misses(estimator, values, 1.0, (0.95,))
    with pytest.raises(ValueError, match="estimator must be mean or ratio"):
        tilted._sides(estimator, values, 1.0, 0.05, LONG_ARM)
