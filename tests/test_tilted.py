"""The importance-sampling measurement of miss rates below what counting reaches
(pavlov_theory.tilted): its likelihood ratios and divergence, checked against SciPy; its proposal;
its estimates against exact Gamma tails; its chunks against a row-by-row reference built from the
verifier's own intervals; its power against an interval known to undercover; its guards; how its
chunks make its rows; and the stored scan."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as sps

from pavlov_theory import coverage, tilted
from pavlov_theory.engine import PILOT_TRIALS, first_look
from pavlov_theory.sampling import derive_seed, generator
from pavlov_theory.stats import LONG_ARMS, mean_ci, ratio_of_means_ci, studentized_limits

STORED = Path(__file__).resolve().parents[1] / "book" / "measured" / "coverage-tilted.json"
MEAN, RATIO = ("mean", (4.0,)), ("ratio", (4.0, 16.0))
DEEPEST = 1 - max(tilted.TILTED_LEVELS)  # the smallest nominal miss rate the scan measures


def _law(estimator, shapes, size, alpha, side):
    return tilted.proposal(tuple(shapes), tilted.coefficients(estimator, shapes), size, alpha, side)


@pytest.mark.parametrize("estimator, shapes", [MEAN, RATIO])
def test_the_log_likelihood_ratio_is_that_of_the_gamma_densities(estimator, shapes):
    law = _law(estimator, shapes, 200, DEEPEST, "above")
    values, log_ratio = tilted.draw_proposed(shapes, law, 3, 50, generator(1, "cpu"))
    expected = sum(sps.gamma.logpdf(v, k).sum(1) - sps.gamma.logpdf(v, a, scale=1 / r).sum(1)
                   for v, k, (a, r) in zip(values, shapes, law))
    np.testing.assert_allclose(log_ratio, expected, rtol=1e-10)


@pytest.mark.parametrize("a, r, k", [(4.3, 1.2, 4.0), (17.0, 0.9, 16.0), (2.0, 2.0, 3.0)])
def test_the_derived_divergence_is_the_integral_of_the_log_density_ratio(a, r, k):
    expected = integrate.quad(lambda x: sps.gamma.pdf(x, a, scale=1 / r)
                              * (sps.gamma.logpdf(x, a, scale=1 / r) - sps.gamma.logpdf(x, k)), 0, np.inf,
                              epsabs=1e-13, limit=200)[0]
    assert math.isclose(tilted.divergence([(a, r)], (k,)), expected, rel_tol=1e-8, abs_tol=1e-12)


@pytest.mark.parametrize("estimator, shapes", [MEAN, RATIO])
@pytest.mark.parametrize("side", tilted.SIDES)
@pytest.mark.parametrize("size", [64, 231, 5000])
def test_the_proposal_lies_on_the_edge_and_closer_than_the_tilt_moved_onto_it(estimator, shapes, side, size):
    """One Student-t arm of its own standard error out, on its side; and nearer the untilted law than
    a feasible rival: the exponential tilt (same shapes, rates ``1 - t c_j``) whose ``t`` puts it on
    the same edge."""
    from scipy.optimize import brentq

    coefs = tilted.coefficients(estimator, shapes)
    law = _law(estimator, shapes, size, DEEPEST, side)
    arm = sps.t.ppf(1 - DEEPEST / 2, size - 1) * (1 if side == "above" else -1)
    assert math.isclose(tilted.edge_distance(law, shapes, coefs, size), arm, rel_tol=1e-6)
    rival = lambda t: [(k, 1 - t * c) for k, c in zip(shapes, coefs)]
    t = brentq(lambda t: tilted.edge_distance(rival(t), shapes, coefs, size) - arm, 0.0,
               0.9 if side == "above" else -0.9)
    assert tilted.divergence(law, shapes) < tilted.divergence(rival(t), shapes)


@pytest.mark.parametrize("estimator, shapes", [MEAN, RATIO])
@pytest.mark.parametrize("side", tilted.SIDES)
def test_the_tilt_moves_the_mean_of_the_studentized_values_by_the_shift(estimator, shapes, side):
    coefs = tilted.coefficients(estimator, shapes)
    shift = tilted.edge_shift(shapes, coefs, 200, DEEPEST, side)
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
    assert math.isclose(tilted.effective_number(sums), 64 / 30)


def _row(below, above, nominal=1 - DEEPEST, replicates=10_000):
    return {"nominal": nominal, "replicates": replicates, "sums_below": below, "sums_above": above}


def _sums(rate, se, replicates=10_000):
    """Sums of a side whose estimate is ``rate`` with standard error ``se`` (so about
    ``(rate / se)^2`` effective replicates)."""
    total = rate * replicates
    squares = (se * se * replicates * (replicates - 1) / replicates + rate * rate) * replicates
    return [total, squares, 2000, total / 100]


def test_judge_row_reads_the_one_coverage_rule():
    at = lambda x: x * DEEPEST
    near = tilted.judge_row(_row(_sums(at(0.5), at(0.01)), _sums(at(0.5), at(0.01))))
    assert near["verdict"] == "nominal" and math.isclose(near["miss_rate"], DEEPEST)
    assert near["verdict"] == coverage.judge_coverage(coverage.Interval(0, *near["ci"], 1), 1 - DEEPEST)
    far = tilted.judge_row(_row(_sums(at(3), at(0.05)), _sums(at(0.5), at(0.01))))
    assert far["verdict"] == "undercovers"
    low = tilted.judge_row(_row(_sums(at(0.1), at(0.002)), _sums(at(0.1), at(0.002))))
    assert low["verdict"] == "overcovers"


def _short(ess):
    """A side far above nominal with ``ess`` effective replicates."""
    total = 3 * DEEPEST * 10_000
    squares = total * total / ess
    return [total, squares, 2000, total / 100]


def test_too_few_effective_replicates_leave_a_row_undecided():
    """However far its estimate lies from nominal: a normal interval on so few is not trusted."""
    fine = tilted.judge_row(_row(_short(tilted.MIN_ESS), _sums(0.5 * DEEPEST, 0.01 * DEEPEST)))
    assert fine["verdict"] == "undercovers"
    row = tilted.judge_row(_row(_short(tilted.MIN_ESS - 1), _sums(0.5 * DEEPEST, 0.01 * DEEPEST)))
    assert row["verdict"] == "undecided"


def test_enough_effective_replicates_bound_any_one_replicates_share():
    """What the docstring promises: at MIN_ESS or more, the largest weight is at most
    ``1 / sqrt(MIN_ESS)`` of the estimate (Cauchy-Schwarz: max w^2 <= sum w^2)."""
    w = np.concatenate([[32_600.0], np.ones(1_000_000)])  # nearly tight: one weight at the bound
    sums = tilted.weighted_sums(w > 0, np.log(w))
    assert tilted.effective_number(sums) >= tilted.MIN_ESS
    assert 0.99 / math.sqrt(tilted.MIN_ESS) < sums[3] / sums[0] <= 1 / math.sqrt(tilted.MIN_ESS)
    rng = np.random.default_rng(2)
    for _ in range(200):
        w = rng.pareto(rng.uniform(0.6, 3.0), size=rng.integers(50, 5000))
        sums = tilted.weighted_sums(w > 0, np.log(np.where(w > 0, w, 1.0)))
        if tilted.effective_number(sums) >= tilted.MIN_ESS:
            assert sums[3] / sums[0] <= 1 / math.sqrt(tilted.MIN_ESS)


def test_a_side_without_a_miss_leaves_its_row_undecided():
    row = tilted.judge_row(_row([0.0, 0.0, 0, 0.0], _sums(0.5 * DEEPEST, 0.01 * DEEPEST)))
    assert row["verdict"] == "undecided" and row["ess_below"] == 0


@pytest.mark.parametrize("estimator, shapes, sizing", [(*MEAN, "floor"), (*MEAN, "rule"), (*RATIO, "floor"),
                                                       (*RATIO, "rule")])
@pytest.mark.parametrize("side", tilted.SIDES)
def test_a_chunk_is_its_row_by_row_reference(estimator, shapes, sizing, side):
    """:func:`tilted._tilted_chunk` against a reference that redraws the same stream, sizes each look
    from its untilted pilot with ``engine.first_look``, weights it with SciPy's Gamma densities and
    judges it with the verifier's own interval (``stats.mean_ci`` or ``stats.ratio_of_means_ci``),
    one replicate at a time, for each reading of the long arm."""
    level, count, seed, index = 1 - 1e-6, 40, 5, 2
    point = coverage._deep_point(estimator, shapes)
    got, sizes = tilted._tilted_chunk(estimator, shapes, sizing, level, side, count, seed, index)
    gen = generator(derive_seed(seed, "tilted", *point["stream"], sizing, level, side, index), "cpu")
    if sizing == "floor":
        chosen = [point["floor"]] * count
    else:
        pilots = [coverage._gamma(k, count, PILOT_TRIALS, gen) for k in shapes]
        chosen = [first_look(estimator, coverage.CASE_FIRST, tuple(p[r] for p in pilots))
                  for r in range(count)]
    assert list(sizes) == chosen
    weights = np.zeros((len(tilted.TILTED_ARMS), count))
    for size in sorted(set(chosen)):
        rows = [r for r in range(count) if chosen[r] == size]
        law = _law(estimator, shapes, size, 1 - level, side)
        values = [coverage._gamma(a, len(rows), size, gen) / rate for a, rate in law]
        for i, r in enumerate(rows):
            look = [v[i] for v in values]
            weight = math.exp(sum(sps.gamma.logpdf(x, k).sum() - sps.gamma.logpdf(x, a, scale=1 / rate).sum()
                                  for x, k, (a, rate) in zip(look, shapes, law)))
            for a, arm in enumerate(tilted.TILTED_ARMS):
                ci = (mean_ci(look[0], 1 - level, arm) if estimator == "mean"
                      else ratio_of_means_ci(look[0], look[1], 1 - level, arm))
                if (ci.hi < point["truth"]) if side == "below" else (ci.lo > point["truth"]):
                    weights[a, r] = weight
    expected = [[w.sum(), (w ** 2).sum(), np.count_nonzero(w), w.max()] for w in weights]
    assert min(e[2] for e in expected) > 0, "no look missed: the reference compares nothing"
    if side == "below":  # the long side of these right-skewed laws: the readings must differ there
        assert expected[0] != expected[1]
    np.testing.assert_allclose(got, expected, rtol=1e-7)


@pytest.mark.mc
@pytest.mark.parametrize("estimator, shapes, size", [(*MEAN, 512), (*RATIO, 231)])
@pytest.mark.parametrize("side", tilted.SIDES)
def test_the_tilted_estimate_of_a_sum_tail_agrees_with_the_exact_gamma_tail(estimator, shapes, size, side,
                                                                           mc_alpha):
    """The weights, proposal and estimate together, at a tail probability near or below the
    deepest level, known exactly: the sum of a look of Gamma(k) values is Gamma(k size); for a
    ratio, the tail of ``X - theta Y`` for independent Gamma sums, integrated."""
    coefs = tilted.coefficients(estimator, shapes)
    shift = tilted.edge_shift(shapes, coefs, size, DEEPEST, side)
    replicates = 20_000  # the proposal is made for the interval's misses, not for this tail: more are needed
    law = _law(estimator, shapes, size, DEEPEST, side)
    values, log_ratio = tilted.draw_proposed(shapes, law, replicates, size, generator(7, "cpu"))
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
    assert exact < 2 * DEEPEST and se < 0.1 * exact
    assert 2 * sps.norm.sf(z) > mc_alpha, f"estimate {rate:.4g} +- {se:.2g}, exact {exact:.4g}"


@pytest.mark.mc
def test_the_measurement_reads_the_plain_t_interval_as_undercovering_at_the_deepest_level(mc_alpha):
    """Power: the interval the verifier corrects away from, plain Student t, on Gamma(4) values at
    the floor's look, misses far more often than 1e-8 on the long-tail side; the tilted estimate
    must say so."""
    (estimator, shapes), size, alpha = MEAN, coverage.deep_size(4.0), DEEPEST
    gen = generator(11, "cpu")
    row = {"nominal": 1 - alpha, "replicates": 20_000}
    for i, side in enumerate(tilted.SIDES):
        law = _law(estimator, shapes, size, alpha, side)
        (x,), log_ratio = tilted.draw_proposed(shapes, law, row["replicates"], size, gen)
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
    expected = [(v, a) for v in levels for a in tilted.TILTED_ARMS]
    assert [(r["nominal"], r["long_arm"]) for r in mean_floor] == expected
    counts = tilted.scan_counts("mean", (16.0,), "floor", 450, chunk=200 * 128)
    assert counts == [200, 200, 50]
    for r in mean_floor:
        arm = tilted.TILTED_ARMS.index(r["long_arm"])
        for side in tilted.SIDES:
            chunks = r[f"chunk_sums_{side}"]
            assert len(chunks) == 3 and tilted.combine(chunks) == r[f"sums_{side}"]
            for index, count in enumerate(counts):
                again, sizes = tilted._tilted_chunk("mean", (16.0,), "floor", r["nominal"], side, count, 3,
                                                    index)
                assert tilted.combine([again[arm]]) == chunks[index] and len(sizes) == count
    ruled = tilted.tilted_scan(450, chunk=100 * (PILOT_TRIALS + 128), sizings=("rule",), levels=levels[:1],
                               mean_shapes=(16.0,), ratio_shapes=None, seed=3)
    assert [r["long_arm"] for r in ruled] == list(tilted.TILTED_ARMS)
    counts = tilted.scan_counts("mean", (16.0,), "rule", 450, chunk=100 * (PILOT_TRIALS + 128))
    assert counts == [100, 100, 100, 100, 50]
    looks = []
    for side in tilted.SIDES:
        for index, count in enumerate(counts):
            again, sizes = tilted._tilted_chunk("mean", (16.0,), "rule", levels[0], side, count, 3, index)
            for arm, row in enumerate(ruled):
                assert tilted.combine([again[arm]]) == row[f"chunk_sums_{side}"][index]
            looks.append(sizes)
    quartiles = [int(q) for q in np.quantile(np.concatenate(looks), (.25, .5, .75))]
    assert [row["first_look_quartiles"] for row in ruled] == [quartiles] * len(tilted.TILTED_ARMS)


def test_the_scans_deepest_level_lies_below_every_scales_per_look_level():
    """What the chapters say of the tilted scan's reach: unlike the deep scans, it measures a miss
    rate below the per-look level of every scale (as the level-split table states it, before a
    check splits its share again among several decisions)."""
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
    assert tilted.scan_current(stored)


def test_no_entry_of_a_current_configuration_is_left_unread():
    """What UNREAD drops is never compared: an entry the current configuration records again must
    leave it, or a change to it would not mark a stored scan stale."""
    from pavlov_theory import tilted_snr

    assert not set(tilted.UNREAD) & set(tilted.tilted_config())
    for config in tilted_snr.CONFIGS.values():
        assert not set(tilted_snr.UNREAD) & set(config())


def test_a_tilted_configuration_is_current_but_for_entries_the_current_one_retired():
    current = json.loads(json.dumps(tilted.tilted_config()))
    assert tilted.scan_current({"tilted_config": current})
    assert tilted.scan_current({"tilted_config": {**current, "long_arm_high": "words"}})
    assert not tilted.scan_current({"tilted_config": {**current, "chunk": current["chunk"] + 1}})
    assert not tilted.scan_current({"tilted_config": {**current, "long_arms": ["high"]}})
    assert not tilted.scan_current({"tilted": []})
    assert not tilted.scan_current(None)


def test_the_recorded_proposals_change_when_the_proposal_does(monkeypatch):
    """A proposal found one hundredth of an arm further out is another configuration."""
    deepest = dict(mean_shapes=(16.0,), ratio_shapes=None, levels=(max(tilted.TILTED_LEVELS),))
    before = tilted.floor_proposals(**deepest)
    arm = tilted.signed_arm
    monkeypatch.setattr(tilted, "signed_arm", lambda size, alpha, side: 1.01 * arm(size, alpha, side))
    tilted.proposal.cache_clear()
    try:
        after = tilted.floor_proposals(**deepest)
    finally:
        tilted.proposal.cache_clear()
    assert [r["law"] for r in after] != [r["law"] for r in before]


def test_a_recorded_proposal_is_on_its_edge():
    for r in tilted.floor_proposals(mean_shapes=(4.0,), ratio_shapes=None):
        arm = tilted.signed_arm(r["trials"], 1 - r["nominal"], r["side"])
        distance = tilted.edge_distance(r["law"], (4.0,), tilted.coefficients("mean", (4.0,)), r["trials"])
        assert distance == pytest.approx(arm, rel=1e-6)


def test_the_stored_rows_sums_are_their_chunks_combined(stored):
    """(The chapters judge the sums again by the current rule, whatever verdict the run wrote.)"""
    for r in stored["tilted"]:
        for side in tilted.SIDES:
            assert tilted.combine(r[f"chunk_sums_{side}"]) == r[f"sums_{side}"]


@pytest.mark.parametrize("estimator, sizing", [("mean", "floor"), ("ratio", "floor"), ("ratio", "rule")])
def test_the_stored_scans_first_and_last_chunks_rerun_to_their_stored_sums(stored, estimator, sizing):
    """At the deepest level, on both sides, for each reading of the long arm, with the stored seed."""
    label = coverage.MEAN_LABEL if estimator == "mean" else coverage.RATIO_LABEL
    level = max(tilted.TILTED_LEVELS)
    rows = [r for r in stored["tilted"] if r["interval"] == label and r["sizing"] == sizing
            and r["nominal"] == level and (estimator == "ratio" or r["truth"] == 16.0)]
    assert [r["long_arm"] for r in rows] == list(tilted.TILTED_ARMS)
    shapes = (rows[0]["truth"],) if estimator == "mean" else tuple(stored["tilted_config"]["ratio_shapes"])
    counts = tilted.scan_counts(estimator, shapes, sizing, rows[0]["replicates"])
    for side in tilted.SIDES:
        for index in (0, len(counts) - 1):
            again, _ = tilted._tilted_chunk(estimator, shapes, sizing, level, side, counts[index],
                                            stored["seed"], index)
            for arm, row in enumerate(rows):
                assert tilted.combine([again[arm]]) == row[f"chunk_sums_{side}"][index]


@pytest.mark.parametrize("estimator, shapes", [MEAN, RATIO])
def test_the_search_gradients_are_those_of_the_divergence_and_the_edge_distance(estimator, shapes):
    from scipy.optimize import check_grad

    coefs = tilted.coefficients(estimator, shapes)
    z = np.log([v for k in shapes for v in (1.07 * k, 0.95)])
    assert check_grad(lambda z: tilted.divergence(tilted._unpack(z), shapes),
                      lambda z: tilted._divergence_gradient(z, shapes), z) < 1e-5
    assert check_grad(lambda z: tilted.edge_distance(tilted._unpack(z), shapes, coefs, 231),
                      lambda z: tilted._edge_gradient(z, shapes, coefs, 231), z) < 1e-5


@pytest.mark.parametrize("estimator, shapes", [MEAN, ("mean", (16.0,)), RATIO])
def test_a_proposal_is_found_at_every_look_a_scan_meets(estimator, shapes):
    """From the smallest first look to the largest the rule draws, at every level and side (the
    search raises where it fails)."""
    coefs = tilted.coefficients(estimator, shapes)
    for size in [*range(coverage.CASE_FIRST, 4000, 97), 20_000]:
        for level in tilted.TILTED_LEVELS:
            for side in tilted.SIDES:
                tilted.proposal(tuple(shapes), coefs, size, 1 - level, side)


def test_the_pooled_agreement_is_the_counted_against_the_predicted_misses():
    rows = [{"nominal": 0.999, "miss_rate": 1e-3, "miss_se": 1e-5}, {"nominal": 0.999, "miss_rate": 2e-3,
                                                                     "miss_se": 2e-5}]
    counted = [{"replicates": 10_000, "covered": 9990}, {"replicates": 20_000, "covered": 19_950}]
    found = tilted.pooled_agreement(list(zip(rows, counted)), 0.999)
    predicted = 10 + 40
    spread = math.sqrt(predicted + 0.1 ** 2 + 0.4 ** 2)
    assert found == pytest.approx({"pairs": 2, "counted": 60, "predicted": predicted, "z": 10 / spread})
    assert tilted.pooled_agreement(list(zip(rows, counted)), 0.9999)["pairs"] == 0


def test_a_tilted_row_is_paired_with_the_counted_row_of_its_own_reading():
    base = {"interval": "i", "point": "p", "sizing": "floor", "nominal": 0.999}
    rows = [{**base, "long_arm": arm, "tilted": arm} for arm in LONG_ARMS]
    counted = [{**base, "long_arm": arm, "counted": arm} for arm in reversed(LONG_ARMS)]
    counted.append({**base, "nominal": 0.99, "long_arm": LONG_ARMS[0], "counted": "other level"})
    pairs = tilted.brute_force_pairs(rows, counted)
    assert [(r["tilted"], c["counted"]) for r, c in pairs] == [(arm, arm) for arm in LONG_ARMS]


def test_the_stored_scan_agrees_with_the_counted_deep_scans_where_counting_is_sharp(stored):
    """At the shallowest level, where the deep scans counted hundreds of misses per row, the misses
    the tilted rows of each reading predict, pooled, lie within three standard errors of the misses
    the deep scans counted for that reading."""
    deep = Path(__file__).resolve().parents[1] / "book" / "measured"
    reports = {key: json.loads((deep / name).read_text())
               for name, key in (("coverage-deep.json", "deep"), ("coverage-deep-ratio.json", "deep_ratio"))}
    assert coverage.config_matches(reports["deep"]["deep_config"], coverage.deep_config())
    assert coverage.config_matches(reports["deep_ratio"]["deep_ratio_config"], coverage.deep_ratio_config())
    counted = [r for key, report in reports.items() for r in coverage.judged_by(report[key])]
    for arm in LONG_ARMS:  # each reading on its own: the readings share their looks
        rows = [tilted.judge_row(r) for r in tilted.rows_read(stored["tilted"], arm)]
        found = tilted.pooled_agreement(tilted.brute_force_pairs(rows, counted), min(tilted.TILTED_LEVELS))
        assert found["pairs"] == 6 and found["counted"] > 500
        assert abs(found["z"]) < 3, (arm, found)


def test_the_chunk_dispersion_is_the_chi_squared_of_the_chunks_about_their_side():
    config = tilted.tilted_config()
    point = coverage._deep_point("mean", (16.0,))["where"]
    counts = tilted.scan_counts("mean", (16.0,), "floor", 20_000)
    assert counts == [16384, 3616]
    chunks = [[2.0, 0.0, 0, 0.0], [1.0, 0.0, 0, 0.0]]
    squares = 0.01
    side = [3.0, squares, 0, 0.0]
    row = {"point": point, "sizing": "floor", "replicates": 20_000, "sums_below": side, "sums_above": side,
           "chunk_sums_below": chunks, "chunk_sums_above": chunks}
    p = 3.0 / 20_000
    variance = (squares / 20_000 - p * p) * 20_000 / 19_999
    one = sum((c[0] - n * p) ** 2 / (n * variance) for c, n in zip(chunks, counts))
    found = tilted.chunk_dispersion([row], config)
    assert found["df"] == 2 and found["q"] == pytest.approx(2 * one)
    assert found["p"] == pytest.approx(sps.chi2.sf(2 * one, 2))


def test_the_chunk_dispersion_refuses_rows_of_two_readings(stored):
    with pytest.raises(ValueError, match="one reading"):
        tilted.chunk_dispersion(stored["tilted"], stored["tilted_config"])


def test_the_stored_scans_chunks_spread_as_its_standard_errors_say(stored):
    """Pooled over every side, the chunks of a side agree with one another and with their counts
    (a consistency check: it cannot see a weight larger than any drawn)."""
    found = tilted.chunk_dispersion(tilted.verifier_rows(stored["tilted"]), stored["tilted_config"])
    assert found["df"] > 100 and found["p"] > tilted.DISPERSION_TAIL, found


def test_the_largest_excess_is_over_the_rows_that_decide():
    rows = [{"verdict": "undercovers", "nominal": 1 - 1e-6, "miss_ci": [1e-6, 1.2e-6]},
            {"verdict": "undecided", "nominal": 1 - 1e-6, "miss_ci": [1e-6, 5e-6]},
            {"verdict": "nominal", "nominal": 1 - 1e-4, "miss_ci": [0.9e-4, 1.1e-4]}]
    assert tilted.largest_excess(rows) is rows[0]
    assert tilted.largest_excess(rows[1:2]) is None
