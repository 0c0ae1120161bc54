"""The importance-sampling measurement of miss rates below 1e-6 (pavlov_theory.tilted): its
cumulant generating function, likelihood ratios and tilt, checked against SymPy and SciPy; its
estimates against exact Gamma tails; its power against an interval known to undercover; how its
chunks make its rows; and the stored scan."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as sps

from pavlov_theory import coverage, tilted
from pavlov_theory.engine import PILOT_TRIALS
from pavlov_theory.sampling import generator
from pavlov_theory.stats import studentized_limits

STORED = Path(__file__).resolve().parents[1] / "book" / "measured" / "coverage-tilted.json"
MEAN, RATIO = ("mean", (4.0,)), ("ratio", (4.0, 16.0))


@pytest.mark.parametrize("estimator, shapes", [MEAN, RATIO])
def test_the_cgf_is_the_log_of_sympys_moment_generating_function(estimator, shapes):
    import sympy
    from sympy.stats import Gamma, moment_generating_function

    coefs = tilted.coefficients(estimator, shapes)
    t = sympy.Symbol("t")
    mgf = sympy.Integer(1)
    for j, (k, c) in enumerate(zip(shapes, coefs)):
        mgf *= moment_generating_function(Gamma(f"X{j}", sympy.nsimplify(k), 1))(sympy.nsimplify(c) * t)
    for value in (-0.5, -0.1, 0.1, 0.5):
        expected = float(sympy.log(mgf.subs(t, value)))
        assert math.isclose(tilted.cgf(value, shapes, coefs), expected, rel_tol=1e-12)


@pytest.mark.parametrize("estimator, shapes", [MEAN, RATIO])
def test_the_cgf_slope_is_the_derivative_of_the_cgf(estimator, shapes):
    coefs = tilted.coefficients(estimator, shapes)
    for t in (-0.3, 0.0, 0.2):
        h = 1e-6
        numeric = (tilted.cgf(t + h, shapes, coefs) - tilted.cgf(t - h, shapes, coefs)) / (2 * h)
        assert math.isclose(tilted.cgf_slope(t, shapes, coefs), numeric, rel_tol=1e-7, abs_tol=1e-9)


@pytest.mark.parametrize("estimator, shapes", [MEAN, RATIO])
def test_the_log_likelihood_ratio_is_that_of_the_gamma_densities(estimator, shapes):
    coefs = tilted.coefficients(estimator, shapes)
    t = 0.15
    values, log_ratio = tilted.draw_tilted(shapes, coefs, t, 3, 50, generator(1, "cpu"))
    expected = sum(sps.gamma.logpdf(v, k).sum(1) - sps.gamma.logpdf(v, k, scale=1 / (1 - t * c)).sum(1)
                   for v, k, c in zip(values, shapes, coefs))
    np.testing.assert_allclose(log_ratio, expected, rtol=1e-10)


@pytest.mark.parametrize("estimator, shapes", [MEAN, RATIO])
@pytest.mark.parametrize("side", tilted.SIDES)
def test_the_tilt_moves_the_mean_of_the_studentized_values_by_the_shift(estimator, shapes, side):
    coefs = tilted.coefficients(estimator, shapes)
    shift = tilted.edge_shift(shapes, coefs, 200, 1e-8, side)
    t = tilted.tilt(shapes, coefs, shift)
    assert (shift < 0) == (side == "below") and (t < 0) == (side == "below")
    moved = sum(k * c / (1 - t * c) for k, c in zip(shapes, coefs))  # the tilted Gamma laws' means
    assert math.isclose(moved - tilted.cgf_slope(0.0, shapes, coefs), shift, rel_tol=1e-9)


def test_the_edge_shift_is_a_student_t_arm_of_the_standard_error():
    shapes, coefs = (4.0, 16.0), tilted.coefficients("ratio", (4.0, 16.0))
    sigma = math.sqrt(4.0 + 16.0 / 16)  # var(X - Y/4) = 4 + 16/16
    arm = sps.t.ppf(1 - 1e-6 / 2, 99) * sigma / 10
    assert math.isclose(tilted.edge_shift(shapes, coefs, 100, 1e-6, "above"), arm)
    assert math.isclose(tilted.edge_shift(shapes, coefs, 100, 1e-6, "below"), -arm)


def test_the_side_estimate_is_the_mean_of_the_weights_and_its_standard_error():
    w = np.array([0.0, 2.0, 0.0, 1.0, 5.0])
    sums = tilted.weighted_sums(w > 0, np.log(np.where(w > 0, w, 1.0)))
    np.testing.assert_allclose(sums, [8.0, 30.0, 3.0, 5.0], rtol=1e-12)
    rate, se = tilted.side_estimate(sums, len(w))
    assert math.isclose(rate, w.mean()) and math.isclose(se, w.std(ddof=1) / math.sqrt(len(w)))


def _row(below, above, nominal=1 - 1e-8, replicates=10_000):
    return {"nominal": nominal, "replicates": replicates, "sums_below": below, "sums_above": above}


def _sums(rate, se, hits, share, replicates=10_000):
    """Sums of a side whose estimate is ``rate`` with standard error ``se``."""
    total = rate * replicates
    squares = (se * se * replicates * (replicates - 1) / replicates + rate * rate) * replicates
    return [total, squares, hits, share * total]


def test_judge_row_reads_the_one_coverage_rule():
    near = tilted.judge_row(_row(_sums(5e-9, 2e-10, 5000, 0.01), _sums(5e-9, 2e-10, 5000, 0.01)))
    assert near["verdict"] == "nominal" and math.isclose(near["miss_rate"], 1e-8)
    assert near["verdict"] == coverage.judge_coverage(coverage.Interval(0, *near["ci"], 1), 1 - 1e-8)
    far = tilted.judge_row(_row(_sums(3e-8, 1e-9, 5000, 0.01), _sums(5e-9, 2e-10, 5000, 0.01)))
    assert far["verdict"] == "undercovers"
    low = tilted.judge_row(_row(_sums(1e-9, 1e-10, 5000, 0.01), _sums(1e-9, 1e-10, 5000, 0.01)))
    assert low["verdict"] == "overcovers"


@pytest.mark.parametrize("hits, share", [(tilted.MIN_HITS - 1, 0.01), (5000, 2 * tilted.MAX_SHARE)])
def test_a_thin_side_or_a_dominant_replicate_leaves_a_row_undecided(hits, share):
    """However far its estimate lies from nominal: such a row's interval is not trusted."""
    row = tilted.judge_row(_row(_sums(3e-8, 1e-9, hits, share), _sums(5e-9, 2e-10, 5000, 0.01)))
    assert row["verdict"] == "undecided"


@pytest.mark.mc
@pytest.mark.parametrize("estimator, shapes, size", [(*MEAN, 512), (*RATIO, 231)])
@pytest.mark.parametrize("side", tilted.SIDES)
def test_the_tilted_estimate_of_a_sum_tail_agrees_with_the_exact_gamma_tail(estimator, shapes, size, side,
                                                                           mc_alpha):
    """The weights, tilt and estimate together, at a tail probability near 1e-9 known exactly: the
    sum of a look of Gamma(k) values is Gamma(k size); for a ratio, the tail of ``X - theta Y`` for
    independent Gamma sums, integrated."""
    coefs = tilted.coefficients(estimator, shapes)
    shift = tilted.edge_shift(shapes, coefs, size, 1e-8, side)
    t = tilted.tilt(shapes, coefs, shift)
    replicates = 4000
    values, log_ratio = tilted.draw_tilted(shapes, coefs, t, replicates, size, generator(7, "cpu"))
    edge = (tilted.cgf_slope(0.0, shapes, coefs) + shift) * size
    d_sum = sum(c * v for c, v in zip(coefs, values)).sum(1)
    rate, se = tilted.side_estimate(tilted.weighted_sums(d_sum > edge if side == "above" else d_sum < edge,
                                                         log_ratio), replicates)
    tail = (lambda x, a: sps.gamma.sf(x, a)) if side == "above" else (lambda x, a: sps.gamma.cdf(x, a))
    if estimator == "mean":
        exact = tail(edge, shapes[0] * size)
    else:
        a, b = (k * size for k in shapes)
        theta = shapes[0] / shapes[1]
        lo, hi = sps.gamma.ppf(1e-15, b), sps.gamma.isf(1e-15, b)
        exact = integrate.quad(lambda y: tail(edge + theta * y, a) * sps.gamma.pdf(y, b), lo, hi,
                               epsabs=0, epsrel=1e-10, limit=500)[0]
    z = abs(rate - exact) / se
    assert 1e-11 < exact < 1e-7 and se < 0.1 * exact
    assert 2 * sps.norm.sf(z) > mc_alpha, f"estimate {rate:.4g} +- {se:.2g}, exact {exact:.4g}"


@pytest.mark.mc
def test_the_measurement_reads_the_plain_t_interval_as_undercovering_at_1e_8(mc_alpha):
    """Power: the interval the verifier corrects away from, plain Student t, on Gamma(4) values at
    the floor's look, misses far more often than 1e-8 on the long-tail side; the tilted estimate
    must say so."""
    (estimator, shapes), size, alpha = MEAN, coverage.deep_size(4.0), 1e-8
    coefs = tilted.coefficients(estimator, shapes)
    gen = generator(11, "cpu")
    row = {"nominal": 1 - alpha, "replicates": 4000}
    for i, side in enumerate(tilted.SIDES):
        t = tilted.tilt(shapes, coefs, tilted.edge_shift(shapes, coefs, size, alpha, side))
        (x,), log_ratio = tilted.draw_tilted(shapes, coefs, t, row["replicates"], size, gen)
        se = x.std(1, ddof=1) / math.sqrt(size)
        lo, hi = studentized_limits(x.mean(1), se, np.zeros(len(x)), size, alpha)
        row[f"sums_{side}"] = list(tilted.weighted_sums((hi < shapes[0], lo > shapes[0])[i], log_ratio))
    judged = tilted.judge_row(row, confidence=1 - mc_alpha)
    assert judged["verdict"] == "undercovers", judged


def test_a_scans_rows_are_its_chunks_rerun_alone_in_either_number_of_processes():
    """Uneven chunks (a chunk size that splits 450 replicates 200, 200, 50), both sizings and a mean
    and a ratio point: each side's sums are its chunks' sums combined, and each chunk is
    :func:`tilted._tilted_chunk` rerun alone."""
    levels = (1 - 1e-5, 1 - 1e-7)
    kwargs = dict(levels=levels, mean_shapes=(16.0,), ratio_shapes=(4.0, 16.0), seed=3)
    rows = tilted.tilted_scan(450, chunk=200 * 128, sizings=("floor",), **kwargs)
    timeless = lambda scanned: [{k: v for k, v in r.items() if k != "seconds"} for r in scanned]
    assert timeless(rows) == timeless(tilted.tilted_scan(450, chunk=200 * 128, sizings=("floor",), workers=2,
                                                         **kwargs))
    mean_floor = [r for r in rows if r["interval"] == coverage.MEAN_LABEL]
    for r, level in zip(mean_floor, levels):
        counts = tilted.scan_counts("mean", (16.0,), "floor", 450, chunk=200 * 128)
        assert counts == [200, 200, 50]
        for side in tilted.SIDES:
            chunks = r[f"chunk_sums_{side}"]
            assert len(chunks) == 3 and tilted.combine(chunks) == r[f"sums_{side}"]
            for index, count in enumerate(counts):
                again, sizes = tilted._tilted_chunk("mean", (16.0,), "floor", level, side, count, 3, index)
                assert tilted.combine([again]) == chunks[index] and len(sizes) == count
    ruled = tilted.tilted_scan(450, chunk=100 * (PILOT_TRIALS + 128), sizings=("rule",), levels=levels[:1],
                               mean_shapes=(16.0,), ratio_shapes=None, seed=3)
    (row,) = ruled
    counts = tilted.scan_counts("mean", (16.0,), "rule", 450, chunk=100 * (PILOT_TRIALS + 128))
    assert counts == [100, 100, 100, 100, 50]
    looks = []
    for side in tilted.SIDES:
        for index, count in enumerate(counts):
            again, sizes = tilted._tilted_chunk("mean", (16.0,), "rule", levels[0], side, count, 3, index)
            assert tilted.combine([again]) == row[f"chunk_sums_{side}"][index]
            looks.append(sizes)
    assert row["first_look_quartiles"] == [int(q) for q in np.quantile(np.concatenate(looks), (.25, .5, .75))]


def test_the_scans_deepest_level_lies_below_every_scales_per_look_level():
    """What the chapters say of the tilted scan's reach: unlike the deep scans, it measures a miss
    rate below the per-look level of every scale."""
    from pavlov_theory import ledger
    from pavlov_theory.claims import SCALES, registry
    from pavlov_theory.stats import look_sizes

    claims = registry()
    for scale in SCALES:
        points = sum(len(c.points(scale)) for c in claims.values())
        looks = len(look_sizes(coverage.CASE_FIRST, ledger.MAX_TRIALS[scale]))
        assert 1 - max(tilted.TILTED_LEVELS) < ledger.DEFAULT_FWER / points / looks, scale


@pytest.fixture(scope="module")
def stored():
    if not STORED.exists():
        pytest.skip("no stored tilted scan")
    return json.loads(STORED.read_text())


def test_the_stored_scan_has_the_current_configuration(stored):
    assert stored["tilted_config"] == tilted.tilted_config()


def test_the_stored_rows_are_their_chunks_combined_and_judged_by_the_current_rule(stored):
    for r in stored["tilted"]:
        for side in tilted.SIDES:
            assert tilted.combine(r[f"chunk_sums_{side}"]) == r[f"sums_{side}"]
        assert tilted.judge_row(r)["verdict"] == r["verdict"]


@pytest.mark.parametrize("estimator, sizing", [("mean", "floor"), ("ratio", "rule")])
def test_the_stored_scans_first_and_last_chunks_rerun_to_their_stored_sums(stored, estimator, sizing):
    """At the deepest level, on both sides, with the stored seed."""
    label = coverage.MEAN_LABEL if estimator == "mean" else coverage.RATIO_LABEL
    level = min(tilted.TILTED_LEVELS)
    (row,) = [r for r in stored["tilted"] if r["interval"] == label and r["sizing"] == sizing
              and r["nominal"] == level and (estimator == "ratio" or r["truth"] == 16.0)]
    shapes = (row["truth"],) if estimator == "mean" else tuple(stored["tilted_config"]["ratio_shapes"])
    counts = tilted.scan_counts(estimator, shapes, sizing, row["replicates"])
    for side in tilted.SIDES:
        for index in (0, len(counts) - 1):
            again, _ = tilted._tilted_chunk(estimator, shapes, sizing, level, side, counts[index],
                                            stored["seed"], index)
            assert tilted.combine([again]) == row[f"chunk_sums_{side}"][index]
