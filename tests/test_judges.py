"""Each judge's rule, once: what passes, what fails, what stays undecided."""
import pytest

from pavlov_theory import judges
from pavlov_theory.stats import Interval


def ci(lo, hi):
    return Interval((lo + hi) / 2, lo, hi, 100)


def test_exact_passes_a_narrow_interval_around_the_theory():
    assert judges.exact(1.0, ci(0.99, 1.01)) == "exact"


def test_exact_is_undecided_when_the_interval_could_not_catch_a_two_percent_error():
    assert judges.exact(1.0, ci(0.95, 1.05)) == "undecided"


def test_exact_fails_when_the_interval_excludes_the_theory():
    assert judges.exact(1.0, ci(1.05, 1.15)) == "fails"


def test_exact_passing_interval_rejects_the_theory_off_by_two_percent():
    interval = ci(0.985, 1.015)
    assert judges.exact(1.0, interval) == "exact"
    assert judges.exact(1.02, interval) == "fails" and judges.exact(0.98, interval) == "fails"


def test_refined_needs_the_papers_form_outside_the_interval():
    assert judges.refined(1.0, 1.1, ci(0.99, 1.01)) == "refined"
    assert judges.refined(1.0, 1.005, ci(0.99, 1.01)) == "exact"
    assert judges.refined(1.0, 1.1, ci(0.9, 1.1)) == "undecided"


def test_bound_holds_when_the_upper_limit_is_under_it():
    assert judges.bound(0.1, ci(0.01, 0.05)) == "holds"


def test_bound_is_undecided_when_the_interval_straddles_it():
    assert judges.bound(0.1, ci(0.05, 0.15)) == "undecided"


def test_bound_fails_when_the_lower_limit_is_above_it():
    assert judges.bound(0.1, ci(0.12, 0.2)) == "fails"


@pytest.mark.parametrize("limit", [1.0, 3.5])
def test_a_bound_of_one_or_more_is_vacuous(limit):
    assert judges.bound(limit, ci(0.0, 0.01)) == judges.VACUOUS


def test_looseness_is_the_bound_over_the_upper_limit():
    assert judges.looseness(0.1, ci(0.01, 0.05)) == pytest.approx(2.0)


def test_scaling_needs_a_decade():
    assert judges.scaling(0.5, ci(0.49, 0.51), shift=0.1, decades=0.9) == "undecided"


def test_scaling_holds_when_the_interval_contains_the_law_and_excludes_the_shift():
    assert judges.scaling(0.5, ci(0.45, 0.55), shift=0.1, decades=2) == "holds"
    assert judges.scaling(0.5, ci(0.3, 0.7), shift=0.1, decades=2) == "undecided"


def test_scaling_reports_the_declared_verdict_on_each_side():
    assert judges.scaling(0.5, ci(0.7, 0.8), 0.1, 2, above="loose", below="fails") == "loose"
    assert judges.scaling(0.5, ci(0.2, 0.3), 0.1, 2, above="loose", below="fails") == "fails"


def test_growth_needs_two_doublings_of_the_variable():
    assert judges.growth(0.0, ci(-0.3, 0.3), shift=1.0, doublings=1.9, decades=3) == "undecided"


def test_growth_needs_a_decade_of_the_quantity():
    assert judges.growth(0.0, ci(-0.3, 0.3), shift=1.0, doublings=2, decades=0.9) == "undecided"


def test_growth_holds_when_q_contains_the_law_and_excludes_the_shift():
    assert judges.growth(0.0, ci(-0.3, 0.3), shift=1.0, doublings=2, decades=2) == "holds"
    assert judges.growth(0.0, ci(-1.2, 0.3), shift=1.0, doublings=2, decades=2) == "undecided"


def test_growth_fails_when_q_excludes_the_law():
    assert judges.growth(0.0, ci(-1.2, -0.8), shift=1.0, doublings=2, decades=2) == "fails"


def test_identity_is_exact_within_tolerance_only():
    assert judges.identity(1e-14, 1e-12) == "exact" and judges.identity(1e-9, 1e-12) == "fails"


def test_sign_holds_above_zero_fails_below_the_null_band():
    assert judges.sign(ci(0.1, 0.2), null=0.01) == "holds"
    assert judges.sign(ci(-0.2, 0.005), null=0.01) == "fails"
    assert judges.sign(ci(-0.1, 0.1), null=0.01) == "undecided"


ARGMIN_GRID = [1, 2, 4, 8]
ARGMIN_CIS = [ci(0.0, 0.01), ci(0.005, 0.02), ci(0.1, 0.2), ci(0.5, 0.6)]


def test_argmin_holds_when_every_plausible_minimiser_is_in_the_predicted_cell():
    assert judges.argmin(1.5, ARGMIN_GRID, ARGMIN_CIS) == ("holds", [1, 2])


def test_argmin_fails_when_no_plausible_minimiser_is_in_the_predicted_cell():
    assert judges.argmin(5.0, ARGMIN_GRID, ARGMIN_CIS)[0] == "fails"


def test_argmin_is_undecided_when_the_data_do_not_locate_a_minimum():
    assert judges.argmin(1.0, ARGMIN_GRID, ARGMIN_CIS)[0] == "undecided"
    assert judges.argmin(1.5, ARGMIN_GRID, [ci(0.0, 1.0)] * 4)[0] == "undecided"


def test_argmin_of_a_bound_that_is_trivial_everywhere_is_vacuous():
    assert judges.argmin(1.5, ARGMIN_GRID, ARGMIN_CIS, limits=[1.0, 2.0, 4.0, 8.0])[0] == judges.VACUOUS


def test_combine_takes_the_worst():
    assert judges.combine(["exact", "undecided"]) == "undecided"
    assert judges.combine(["exact", "fails", "undecided"]) == "fails"
    assert judges.combine(["exact", "refined"]) == "refined"


def test_combine_leaves_vacuous_points_out():
    assert judges.combine(["holds", judges.VACUOUS]) == "holds"


def test_combine_of_only_vacuous_points_is_undecided():
    assert judges.combine([judges.VACUOUS, judges.VACUOUS]) == "undecided"


def test_combine_refuses_an_unknown_verdict():
    with pytest.raises(ValueError):
        judges.combine(["great"])


def test_a_nan_interval_or_deviation_decides_nothing_in_every_judge():
    nan = float("nan")
    unreadable = Interval(nan, nan, nan, 10)
    assert judges.exact(1.0, unreadable) == "undecided"
    assert judges.refined(1.0, 2.0, unreadable) == "undecided"
    assert judges.bound(0.5, unreadable) == "undecided"
    assert judges.sign(unreadable, -0.1) == "undecided"
    assert judges.scaling(1.0, unreadable, 0.1, 2.0) == "undecided"
    assert judges.identity(nan, 1e-12) == "undecided"
    assert judges.argmin(1.0, [0.5, 1.0, 2.0], [Interval(1, 0.9, 1.1, 10), unreadable,
                                                Interval(2, 1.9, 2.1, 10)])[0] == "undecided"


@pytest.mark.parametrize("lo, hi", [(float("nan"), 0.1), (0.1, float("nan"))])
def test_an_interval_with_one_nan_limit_decides_nothing_in_every_judge(lo, hi):
    half = Interval(0.05, lo, hi, 10)
    assert judges.exact(0.05, half) == "undecided"
    assert judges.bound(0.5, half) == "undecided"
    assert judges.sign(half, -0.1) == "undecided"
    assert judges.scaling(0.05, half, 0.01, 2.0) == "undecided"
    assert judges.growth(0.05, half, 0.01, 3.0, 2.0) == "undecided"


def test_a_nan_compared_value_decides_nothing_in_every_judge():
    nan, ci = float("nan"), Interval(1.0, 0.99, 1.01, 10)
    assert judges.exact(nan, ci) == "undecided"
    assert judges.bound(nan, ci) == "undecided"
    assert judges.sign(ci, nan) == "undecided"
    assert judges.scaling(nan, ci, 0.1, 2.0) == "undecided"
    assert judges.argmin(nan, [0.5, 1.0], [ci, Interval(2, 1.9, 2.1, 10)]) == ("undecided", [0.5, 1.0])
    assert judges.refined(1.0, nan, ci) == "undecided"
    assert judges.identity(0.0, nan) == "undecided"
    assert judges.bound(0.5, ci, trivial=nan) == "undecided"
