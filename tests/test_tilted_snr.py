"""The importance-sampling measurement at the SNR scan point (pavlov_theory.tilted_snr): the Gamma
factorization against the derived SNR and the capacity kernel, its quadrature, the proposal on its
arm, the draws against a one-at-a-time reference, the per-trial weights (and their power against a
wrong normalizer), the estimate against the counted first-look scan, and the stored scan."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import sympy
from scipy import stats as sps

from pavlov_theory import coverage, tilted, tilted_snr
from pavlov_theory.sampling import generator
from pavlov_theory.stats import LONG_ARM, LONG_ARMS

STORED = Path(__file__).resolve().parents[1] / "book" / "measured" / "coverage-tilted-snr.json"
FIRST_LOOK = Path(__file__).resolve().parents[1] / "book" / "measured" / "coverage-first-look.json"
RULE = Path(__file__).resolve().parents[1] / "book" / "measured" / "coverage-rule.json"
SIZES = Path(__file__).resolve().parents[1] / "book" / "measured" / "coverage-tilted-snr-sizes.json"


def test_the_gamma_components_give_the_derived_snr():
    truth = coverage._law(coverage.SCAN_POINT["dist"]).evaluate("snr", **tilted_snr._point())
    assert tilted_snr.derived()["theta"] == sympy.nsimplify(truth)


def test_the_quadrature_integrates_the_exact_moments_of_y():
    y, log_w = tilted_snr.quadrature()
    w = np.exp(log_w)
    found = tilted_snr.derived()
    variance = float(found["variance"])
    assert abs(np.sum(w * y)) < 1e-9
    assert np.sum(w * y * y) == pytest.approx(variance, rel=1e-10)
    assert np.sum(w * y**3) / variance**1.5 == pytest.approx(float(found["skewness"]), rel=1e-8)


def test_log_z_is_the_same_from_more_nodes_at_every_recorded_proposal():
    for level in tilted_snr.SNR_LEVELS:
        for side in tilted.SIDES:
            l1, l2 = tilted_snr.proposal(tilted_snr.floor_look(), 1 - level, side)
            log_z = tilted_snr.tilted_moments(l1, l2)[0]
            assert abs(log_z - tilted_snr.tilted_moments(l1, l2, 96)[0]) < 1e-11


@pytest.mark.mc
def test_the_kernel_draws_y_of_the_variance_the_components_give(mc_alpha):
    signal, noise = coverage._signal_noise(tilted_snr._point(), 2**20, generator(3, "cpu"))
    y = signal - float(tilted_snr.derived()["theta"]) * noise
    found = tilted_snr.derived()
    variance, kurt = float(found["variance"]), float(found["kurtosis"])
    se = variance * math.sqrt((kurt + 2) / y.size)  # of the sample variance, from the exact moments
    assert 2 * sps.norm.sf(abs(y.var() - variance) / se) > mc_alpha


@pytest.mark.parametrize("side", tilted.SIDES)
def test_the_proposal_puts_a_look_on_the_arm_at_the_least_divergence_nearby(side):
    size, alpha = tilted_snr.floor_look(), 1e-6
    l1, l2 = tilted_snr.proposal(size, alpha, side)
    arm = tilted.signed_arm(size, alpha, side)
    assert tilted_snr.t_statistic(l1, l2, size) == pytest.approx(arm, rel=1e-9)
    least = tilted_snr.divergence(l1, l2)
    for factor in (0.9, 1.1):
        other = factor * l2
        assert tilted_snr.divergence(tilted_snr._on_edge(other, size, arm), other) > least


def test_the_tilted_draws_are_their_one_at_a_time_reference():
    l1, l2 = tilted_snr.proposal(tilted_snr.floor_look(), 1e-6, "below")
    fast = tilted_snr.draw_tilted(40, 3, l1, l2, generator(5, "cpu"))
    naive = tilted_snr.draw_tilted_naive(40, 3, l1, l2, generator(5, "cpu"))
    np.testing.assert_array_equal(fast[0], naive[0])
    np.testing.assert_array_equal(fast[1], naive[1])
    assert fast[2] == naive[2]


@pytest.fixture(scope="module")
def tilted_draws():
    """A million tilted trials for each side at the deepest level, with the tilt and the candidates
    kept and drawn."""
    found = {}
    for side in tilted.SIDES:
        l1, l2 = tilted_snr.proposal(tilted_snr.floor_look(), 1 - max(tilted_snr.SNR_LEVELS), side)
        signal, noise, counts = tilted_snr.draw_tilted(2**10, 2**10, l1, l2, generator(9, "cpu"))
        found[side] = (signal - float(tilted_snr.derived()["theta"]) * noise, l1, l2, counts)
    return found


def _trial_weights(draws, side: str, log_z_error: float = 0.0) -> tuple[float, float]:
    """The mean of the per-trial weights of the side's draws and its standard error, with ``Z``
    read off by a relative ``log_z_error``."""
    y, l1, l2, _ = draws[side]
    mean, se = tilted_snr.trial_weight_mean([tilted_snr.trial_weight_sums(y, l1, l2)])
    return mean * math.exp(log_z_error), se * math.exp(log_z_error)


@pytest.mark.mc
@pytest.mark.parametrize("side", tilted.SIDES)
def test_each_trial_weight_has_mean_one_under_the_tilted_kernel(tilted_draws, side, mc_alpha):
    """Where ``Z`` (from the Gamma factorization) is the normalizer of the kernel's tilted draws."""
    mean, se = _trial_weights(tilted_draws, side)
    assert se < 2e-4
    assert 2 * sps.norm.sf(abs(mean - 1) / se) > mc_alpha


@pytest.mark.mc
@pytest.mark.parametrize("side", tilted.SIDES)
def test_the_share_of_candidates_kept_is_z_over_the_largest_tilt(tilted_draws, side, mc_alpha):
    """A check of ``Z`` whose variance is bounded: the share kept is binomial with mean
    :func:`tilted_snr.expected_share`."""
    _, l1, l2, (kept, drawn) = tilted_draws[side]
    assert 2 * sps.norm.sf(abs(tilted_snr.share_z(kept, drawn, l1, l2))) > mc_alpha


@pytest.mark.mc
def test_a_normalizer_off_by_a_thousandth_is_rejected_by_the_trial_weights(tilted_draws, mc_alpha):
    """Power of the check above at this many draws: a ``Z`` one part in a thousand off (a look of
    the floor's size would then weigh about e^5.5 times too much) lies outside the weights'
    interval. The stored scan's many more draws resolve far less (the stored-scan test below)."""
    mean, se = _trial_weights(tilted_draws, "below", log_z_error=1e-3)
    assert 2 * sps.norm.sf(abs(mean - 1) / se) < mc_alpha


@pytest.mark.mc
def test_the_estimate_agrees_with_the_counted_first_look_scan_where_counting_sees_misses(mc_alpha):
    """At 99.9% from 4096 trials the stored first-look scan counts the verifier's misses on each
    side among 40000 fresh replicates; the tilted estimate from its own looks must agree with both."""
    counted = json.loads(FIRST_LOOK.read_text())
    assert coverage.scan_current("first_look", counted)
    row = next(r for r in coverage.verifier_rows(counted["first_look"])
               if r["trials"] == 4096 and r["nominal"] == 0.999)
    size, level, replicates = 4096, 0.999, 1000
    mc_alpha /= len(tilted.SIDES)
    for side in tilted.SIDES:
        sums, _, _ = tilted_snr._snr_chunk(size, level, side, replicates, 11, 0)
        rate, se = tilted.side_estimate(sums[LONG_ARMS.index(LONG_ARM)], replicates)
        misses = row[f"misses_{side}"]
        count_rate, count_se = misses / row["replicates"], math.sqrt(misses) / row["replicates"]
        z = abs(rate - count_rate) / math.hypot(se, count_se)
        assert 2 * sps.norm.sf(z) > mc_alpha, (side, rate, se, count_rate)


def test_a_scans_rows_are_its_chunks_rerun_alone_in_either_number_of_processes():
    """Uneven chunks (a chunk size that splits 400 replicates 150, 150, 100), one level, a look of
    4096 trials: the rows are the same from one process and from two, each side's sums are its
    chunks' sums combined, and the last chunk is :func:`tilted_snr._snr_chunk` rerun alone."""
    size, level = 4096, 1 - 1e-6
    kwargs = dict(levels=(level,), size=size, seed=3, chunk=150 * size)
    rows = tilted_snr.snr_tilted_scan(400, **kwargs)
    timeless = lambda scanned: [{k: v for k, v in r.items() if k != "seconds"} for r in scanned]
    assert timeless(rows) == timeless(tilted_snr.snr_tilted_scan(400, workers=2, **kwargs))
    counts = tilted_snr.snr_counts(size, 400, 150 * size)
    assert counts == [150, 150, 100]
    assert [r["long_arm"] for r in rows] == list(LONG_ARMS) and rows[0]["sizing"] == "fixed"
    for side in tilted.SIDES:
        again, _, _ = tilted_snr._snr_chunk(size, level, side, counts[2], 3, 2)
        for a, r in enumerate(rows):
            assert tilted.combine(r[f"chunk_sums_{side}"]) == r[f"sums_{side}"]
            assert tilted.combine([again[a]]) == r[f"chunk_sums_{side}"][2]


def test_a_sizes_scan_holds_each_sizes_rows_and_the_rules_shares_below_them():
    level = 1 - 1e-4
    found = tilted_snr.snr_sizes_scan(coverage.MIN_REPLICATES, seed=5, sizes=(2048,), levels=(level,),
                                      pilots=300)
    assert [(r["trials"], r["sizing"], r["long_arm"]) for r in found["rows"]] == [
        (2048, "fixed", arm) for arm in LONG_ARMS]
    alone = tilted_snr.snr_tilted_scan(coverage.MIN_REPLICATES, 5, (level,), size=2048)
    timeless = lambda scanned: [{k: v for k, v in r.items() if k != "seconds"} for r in scanned]
    assert timeless(found["rows"]) == timeless(alone)
    looks = tilted_snr.rule_looks(300, 5)
    assert found["rule_shares"] == tilted_snr.shares_below(looks, (2048, tilted_snr.floor_look()))


def test_the_share_below_a_size_counts_the_looks_strictly_below_it_with_its_exact_interval():
    (found,) = tilted_snr.shares_below(np.array([1, 2, 3, 3, 5]), (3,), confidence=0.9)
    exact = sps.binomtest(2, 5).proportion_ci(0.9, method="exact")
    assert found == {"size": 3, "below": 2, "looks": 5, "share": 0.4, "ci": [exact.low, exact.high]}


@pytest.mark.mc
def test_the_rule_looks_split_at_the_stored_rule_scans_quartiles(mc_alpha):
    """The looks :func:`tilted_snr.rule_looks` draws are the rule scan's: a quarter, a half and three
    quarters of them lie at or below the stored scan's quartiles at the scan point (each share's
    noise from the pilots here and from the stored scan's replicates)."""
    report = json.loads(RULE.read_text())
    assert coverage.scan_current("rule", report)
    row = next(r for r in coverage.verifier_rows(report["rule"])
               if r["point"] == "SNR, gaussian keys, d_k=4, n=2")
    looks = tilted_snr.rule_looks(4000, 8)
    z = sps.norm.isf(mc_alpha / 6)
    for share, quartile in zip((0.25, 0.5, 0.75), row["first_look_quartiles"]):
        spread = math.sqrt(share * (1 - share) * (1 / looks.size + 1 / row["replicates"]))
        assert np.mean(looks < quartile) - z * spread <= share <= np.mean(looks <= quartile) + z * spread


def test_the_chunk_dispersion_reads_each_rows_chunks_at_its_looks_size():
    config = {"chunk": 150 * 4096}
    chunks = [[2.0, 0.0, 0, 0.0], [1.0, 0.0, 0, 0.0], [1.5, 0.0, 0, 0.0]]
    side = [4.5, 0.5, 0, 0.0]
    row = {"trials": 4096, "replicates": 400, "sums_below": side, "sums_above": side,
           "chunk_sums_below": chunks, "chunk_sums_above": chunks, "long_arm": "high"}
    counts = tilted_snr.snr_counts(4096, 400, config["chunk"])
    assert counts == [150, 150, 100]
    p = 4.5 / 400
    variance = (0.5 / 400 - p * p) * 400 / 399
    one = sum((c[0] - n * p) ** 2 / (n * variance) for c, n in zip(chunks, counts))
    found = tilted_snr.chunk_dispersion([row], config)
    assert found["df"] == 4 and found["q"] == pytest.approx(2 * one)


def test_a_size_without_a_proposal_is_refused_by_name():
    with pytest.raises(ValueError, match="^size: no proposal at 64 trials"):
        tilted_snr.snr_tilted_scan(coverage.MIN_REPLICATES, size=64)


def test_too_few_replicates_are_refused():
    with pytest.raises(ValueError, match="replicates"):
        tilted_snr.snr_tilted_scan(coverage.MIN_REPLICATES - 1)


def _read_stored(path: Path) -> dict:
    if not path.exists():
        pytest.skip(f"no stored {path.name}")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def stored():
    return _read_stored(STORED)


def test_the_stored_scan_has_the_current_configuration(stored):
    assert tilted_snr.scan_current(stored, "tilted_snr")


def test_the_stored_scans_first_and_last_chunks_rerun_to_their_stored_sums(stored):
    """At the deepest level, on both sides, for each reading of the long arm, with the stored seed."""
    level = max(tilted_snr.SNR_LEVELS)
    rows = [r for r in stored["tilted_snr"] if r["nominal"] == level]
    assert [r["long_arm"] for r in rows] == list(LONG_ARMS)
    counts = tilted_snr.snr_counts(rows[0]["trials"], rows[0]["replicates"])
    for side in tilted.SIDES:
        for index in (0, len(counts) - 1):
            again, _, _ = tilted_snr._snr_chunk(rows[0]["trials"], level, side, counts[index], stored["seed"],
                                                index)
            for arm, row in enumerate(rows):
                assert tilted.combine([again[arm]]) == row[f"chunk_sums_{side}"][index]


def _stored_checks(stored):
    """Per level and side (every reading shares the looks): the mean trial weight with its
    standard error, and the share kept with its tilt."""
    rows = tilted.verifier_rows(stored["tilted_snr"])
    return [(r[f"trial_weight_{side}"], r[f"kept_{side}"], r[f"proposal_{side}"]) for r in rows
            for side in tilted.SIDES]


@pytest.mark.mc
def test_the_stored_scans_trial_weights_have_mean_one_and_its_shares_kept_their_expectation(stored, mc_alpha):
    checks = _stored_checks(stored)
    each = mc_alpha / (2 * len(checks))
    for (mean, se), (kept, drawn), (l1, l2) in checks:
        assert 2 * sps.norm.sf(abs(mean - 1) / se) > each, (mean, se)
        assert 2 * sps.norm.sf(abs(tilted_snr.share_z(kept, drawn, l1, l2))) > each, (kept, drawn)


@pytest.mark.mc
def test_the_stored_trial_weights_would_reject_a_z_whose_error_moves_a_look_by_half(stored, mc_alpha):
    """Power of the stored check: a relative error in ``Z`` that multiplies a look of the floor's size
    by 1.5 is outside every side's interval, at the suite's per-test level."""
    error = math.log(1.5) / tilted_snr.floor_look()
    for (mean, se), _, _ in _stored_checks(stored):
        assert 2 * sps.norm.sf(abs(mean * math.exp(error) - 1) / se) < mc_alpha


def test_the_unguarded_side_is_the_one_the_sample_and_high_readings_share(stored):
    """Reading the long arm high lengthens one arm only: on the other side the two readings count the
    same misses with the same weights, on every row of the stored scan; reading both arms changes
    that side alone, and shares the guarded side's sums with the high reading."""
    side = tilted_snr.unguarded_side()
    other = next(s for s in tilted.SIDES if s != side)
    for level in tilted_snr.SNR_LEVELS:
        at_level = [r for r in stored["tilted_snr"] if r["nominal"] == level]
        high, sample, both = (next(r for r in at_level if r["long_arm"] == arm)
                              for arm in ("high", "sample", "both"))
        assert high[f"sums_{side}"] == sample[f"sums_{side}"] != both[f"sums_{side}"]
        assert high[f"sums_{other}"] == both[f"sums_{other}"] != sample[f"sums_{other}"]


def _row_with_sides(below: float, above: float, se: float, replicates: int = 10_000) -> dict:
    """A tilted row whose sides estimate ``below`` and ``above`` with standard error ``se``: sums of
    weights ``[total, squares, hits, largest]`` with that mean and spread over the replicates."""
    def sums(mean):
        variance = se * se * replicates
        squares = (variance * (replicates - 1) / replicates + mean * mean) * replicates
        return [mean * replicates, squares, 1, 1.0]
    return {"nominal": 1 - 2e-4, "replicates": replicates,
            "sums_below": sums(below), "sums_above": sums(above)}


@pytest.mark.parametrize("below, above, found", [
    (1.5e-4, 0.5e-4, "below"),   # each side's interval clear of the share (1e-4), on either side of it
    (0.5e-4, 1.5e-4, "above"),
    (1.5e-4, 0.95e-4, None),     # the other side within two standard errors of the share: not placed
    (1.05e-4, 0.5e-4, None),     # the excess within two standard errors of the share: not placed
    (1.5e-4, 1.5e-4, None),      # both sides over their share
])
def test_an_excess_is_placed_on_a_side_only_where_both_sides_intervals_say_so(below, above, found):
    assert tilted_snr.excess_side(_row_with_sides(below, above, se=0.04e-4)) == found


@pytest.mark.parametrize("arm", LONG_ARMS)
def test_the_stored_scans_chunks_spread_as_its_standard_errors_say(stored, arm):
    """Pooled over every level and side of each reading, the chunks agree with one another and with
    their counts (a consistency check: it cannot see a weight larger than any drawn); the readings
    share the threshold."""
    rows = tilted.rows_read(stored["tilted_snr"], arm)
    found = tilted_snr.chunk_dispersion(rows, stored["tilted_snr_config"])
    assert found["df"] > 100 and found["p"] > tilted.DISPERSION_TAIL / len(LONG_ARMS), found


def test_a_configuration_is_current_but_for_entries_its_rows_do_not_read():
    current = json.loads(json.dumps(tilted_snr.snr_tilted_config()))
    assert tilted_snr.scan_current({"tilted_snr_config": {**current, "long_arm": "high"}})
    assert tilted_snr.scan_current({"tilted_snr_config": current})
    assert not tilted_snr.scan_current({"tilted_snr_config": {**current, "floor": current["floor"] + 1}})
    assert not tilted_snr.scan_current({"tilted_snr_config": {**current, "long_arms": ["high"]}})
    assert not tilted_snr.scan_current({"tilted_snr": []})
    assert not tilted_snr.scan_current(None)


def test_stored_rows_refuse_an_unknown_scan_by_name():
    with pytest.raises(ValueError, match="scan must be one of tilted_snr, tilted_snr_sizes"):
        tilted_snr.stored_rows({}, "tilted")


def test_undecided_estimates_name_only_the_undecided_rows_with_their_look_and_level():
    rows = [{"verdict": "undercovers", "nominal": 1 - 1e-6, "miss_rate": 2e-6, "trials": 2048},
            {"verdict": "undecided", "nominal": 1 - 1e-8, "miss_rate": 5e-8, "trials": 1024}]
    assert tilted_snr.undecided_estimates(rows) == "5 times nominal at 1024 trials and 1e-08"
    assert tilted_snr.undecided_estimates(rows[:1]) == ""


def test_reading_words_give_no_rate_for_an_undecided_row():
    decided = {"verdict": "undercovers", "nominal": 1 - 1e-6, "miss_rate": 2e-6}
    undecided = {"verdict": "undecided", "nominal": 1 - 1e-8, "miss_rate": 5e-8}
    words = tilted_snr.reading_words([decided, undecided])
    assert words == ("at 1e-06 undercovers (2 times nominal), "
                     "at 1e-08 undecided (too few effective replicates)")


@pytest.fixture(scope="module")
def stored_sizes():
    return _read_stored(SIZES)


def test_the_stored_sizes_scan_has_the_current_configuration(stored_sizes):
    assert tilted_snr.scan_current(stored_sizes, "tilted_snr_sizes")
    rows = tilted_snr.stored_rows(stored_sizes, "tilted_snr_sizes")
    assert sorted({r["trials"] for r in rows}) == list(tilted_snr.SNR_SIZES)


def test_the_stored_sizes_scans_smallest_look_reruns_its_first_chunk(stored_sizes):
    """At the smallest size and the deepest level, on both sides, for each reading, with the stored seed."""
    size, level = min(tilted_snr.SNR_SIZES), max(tilted_snr.SNR_LEVELS)
    scanned = stored_sizes["tilted_snr_sizes"]["rows"]
    rows = [r for r in scanned if (r["trials"], r["nominal"]) == (size, level)]
    assert [r["long_arm"] for r in rows] == list(LONG_ARMS)
    counts = tilted_snr.snr_counts(size, rows[0]["replicates"])
    for side in tilted.SIDES:
        again, _, _ = tilted_snr._snr_chunk(size, level, side, counts[0], stored_sizes["seed"], 0)
        for arm, row in enumerate(rows):
            assert tilted.combine([again[arm]]) == row[f"chunk_sums_{side}"][0]


def test_the_stored_sizes_scans_rule_shares_are_its_seeds_rule_looks(stored_sizes):
    looks = tilted_snr.rule_looks(seed=stored_sizes["seed"])
    expected = tilted_snr.shares_below(looks, (*tilted_snr.SNR_SIZES, tilted_snr.floor_look()))
    assert stored_sizes["tilted_snr_sizes"]["rule_shares"] == json.loads(json.dumps(expected))


@pytest.mark.mc
def test_the_stored_sizes_scans_trial_weights_have_mean_one_and_its_shares_kept_their_expectation(
        stored_sizes, mc_alpha):
    rows = tilted.verifier_rows(stored_sizes["tilted_snr_sizes"]["rows"])
    checks = [(r[f"trial_weight_{side}"], r[f"kept_{side}"], r[f"proposal_{side}"]) for r in rows
              for side in tilted.SIDES]
    each = mc_alpha / (2 * len(checks))
    for (mean, se), (kept, drawn), (l1, l2) in checks:
        assert 2 * sps.norm.sf(abs(mean - 1) / se) > each, (mean, se)
        assert 2 * sps.norm.sf(abs(tilted_snr.share_z(kept, drawn, l1, l2))) > each, (kept, drawn)


@pytest.mark.parametrize("arm", LONG_ARMS)
def test_the_stored_sizes_scans_chunks_spread_as_its_standard_errors_say(stored_sizes, arm):
    rows = tilted.rows_read(stored_sizes["tilted_snr_sizes"]["rows"], arm)
    found = tilted_snr.chunk_dispersion(rows, stored_sizes["tilted_snr_sizes_config"])
    assert found["df"] > 100 and found["p"] > tilted.DISPERSION_TAIL / len(LONG_ARMS), found
