"""Theorem 6: the exact SNR per key distribution, the capacities it implies, and what lies beyond."""
from dataclasses import replace

import numpy as np
import pytest
import sympy as sp
import torch
from scipy import integrate, stats
from sympy.stats import Probability

from pavlov_theory.claims import ParamError, get_claim
from pavlov_theory.derivation import Derivation, DerivationError
from pavlov_theory.proofs import capacity as proof
from pavlov_theory.proofs.capacity import delta, epsilon
from pavlov_theory.proofs.vectors import d_k, d_v, key_moments, n
from pavlov_theory.sampling import generator, sample
from pavlov_theory.simulations import capacity as sim


def test_sphere_snr_is_the_papers_formula_exactly():
    assert sp.simplify(proof.signal_noise("sphere").results["snr"] - d_k / (n - 1)) == 0


def test_rademacher_snr_is_the_papers_formula_exactly():
    assert sp.simplify(proof.signal_noise("rademacher").results["snr"] - d_k / (n - 1)) == 0


def test_gaussian_snr_gains_the_fourth_moment_of_the_norm():
    assert sp.simplify(proof.signal_noise("gaussian").results["snr"] - (d_k + 2) / (n - 1)) == 0


def test_gaussian_snr_over_the_papers_is_one_plus_two_over_dk():
    assert sp.simplify(proof.signal_noise("gaussian").results["snr_over_paper"] - (1 + 2 / d_k)) == 0


def test_noise_power_is_the_same_for_all_key_distributions():
    powers = {d: proof.signal_noise(d).results["noise_power"] for d in ("sphere", "gaussian", "rademacher")}
    assert all(sp.simplify(p - (n - 1) / d_k) == 0 for p in powers.values())


def test_average_case_capacity_is_eq_35_for_sphere_keys():
    der = proof.average_case("sphere")
    assert sp.simplify(der.results["capacity"] - der.results["paper_capacity"]) == 0


def test_average_case_capacity_for_gaussian_keys_adds_two_over_snr_min():
    der = proof.average_case("gaussian")
    assert sp.simplify(der.results["capacity"] - der.results["paper_capacity"] - 2 / proof.snr_min) == 0


def test_capacity_from_the_derived_snr_is_the_derived_capacity():
    der = proof.average_case("gaussian")
    snr = proof.signal_noise("gaussian").evaluate("snr", n=9, d_k=32)
    got = der.evaluate("capacity_from_snr", snr_measured=snr, n0=9, snr_min=3.0)
    assert got == pytest.approx(der.evaluate("capacity", d_k=32, snr_min=3.0), rel=1e-12)


POINTS = [
    {"d_k": 16, "n": 5, "key_dist": "gaussian"},
    {"d_k": 64, "n": 128, "key_dist": "sphere"},
    {"d_k": 32, "n": 17, "key_dist": "rademacher"},
]


@pytest.mark.mc
@pytest.mark.parametrize("point", POINTS)
def test_simulated_snr_matches_derivation(point, ctx):
    claim = get_claim("capacity.noise_power")
    assert claim.check(claim.resolve(point), ctx).verdict in ("exact", "refined")


@pytest.mark.mc
def test_paper_snr_is_rejected_for_gaussian_keys_at_small_dk(ctx):
    claim = get_claim("capacity.noise_power")
    outcome = claim.check(claim.resolve(POINTS[0]), ctx)
    paper = [e for e in outcome.evidence if e["name"] == "paper_form"][0]
    assert outcome.verdict == "refined" and paper["rejected"]


def test_average_case_is_judged_against_the_papers_capacity():
    claim = get_claim("capacity.average_case")
    assert (claim.judge, claim.kind, claim.quantity) == ("refined", "refined", "capacity_from_snr")


@pytest.mark.mc
def test_capacity_from_snr_matches_derivation_and_eq_35_for_sphere_keys(ctx):
    claim = get_claim("capacity.average_case")
    point = claim.resolve({"d_k": 32, "snr_min": 4.0, "key_dist": "sphere"})
    assert claim.check(point, ctx).verdict == "exact"


@pytest.mark.mc
def test_eq_35_is_rejected_for_gaussian_keys(ctx):
    claim = get_claim("capacity.average_case")
    outcome = claim.check(claim.resolve({"d_k": 16, "snr_min": 4.0, "key_dist": "gaussian"}), ctx)
    paper = [e for e in outcome.evidence if e["name"] == "paper_form"][0]
    assert outcome.verdict == "refined" and paper["rejected"]


@pytest.mark.gpu
@pytest.mark.mc
def test_simulated_snr_matches_derivation_on_cuda(ctx):
    claim = get_claim("capacity.noise_power")
    outcome = claim.check(claim.resolve({"d_k": 256, "n": 257}), replace(ctx, device="cuda"))
    assert outcome.verdict in ("exact", "refined") and outcome.device == "cuda"


def _literal_cosines(dist, trials, d, seed, others=3):
    K = sample(dist, (trials, others + 1), d, generator(seed, "cpu"), torch.float64)
    return (K[:, 0] ** 2).sum(-1), (K[:, 1:] @ K[:, 0, :, None]).squeeze(-1)


@pytest.mark.parametrize("dist", ["sphere", "gaussian", "rademacher"])
def test_probe_cosines_have_the_law_of_a_probes_inner_products(dist):
    _, drawn = sim.probe_cosines(dist, 20000, 3, 16, generator(1, "cpu"), torch.float64)
    _, literal = _literal_cosines(dist, 20000, 16, 2)
    assert stats.ks_2samp(drawn.flatten().numpy(), literal.flatten().numpy()).pvalue > 1e-3


@pytest.mark.parametrize("dist", ["sphere", "gaussian", "rademacher"])
def test_probe_cosines_have_the_derived_second_moment(dist):
    _, drawn = sim.probe_cosines(dist, 20000, 3, 16, generator(1, "cpu"), torch.float64)
    squares = (drawn**2).flatten().numpy()
    se = squares.std() / np.sqrt(squares.size)
    assert abs(squares.mean() - key_moments(dist).evaluate("cos2", d_k=16)) < 5 * se


def test_probe_norm_of_gaussian_keys_has_the_derived_fourth_moment():
    norm2, _ = sim.probe_cosines("gaussian", 20000, 1, 16, generator(1, "cpu"), torch.float64)
    fourth = (norm2**2).numpy()
    se = fourth.std() / np.sqrt(fourth.size)
    assert abs(fourth.mean() - key_moments("gaussian").evaluate("norm4", d_k=16)) < 5 * se


def test_gaussian_probe_cosines_scale_with_the_probes_norm():
    norm2, drawn = sim.probe_cosines("gaussian", 20000, 3, 16, generator(1, "cpu"), torch.float64)
    literal_norm2, literal = _literal_cosines("gaussian", 20000, 16, 2)
    cross = lambda a, c: float(np.corrcoef(a.numpy(), (c**2).sum(-1).numpy())[0, 1])
    assert abs(cross(norm2, drawn) - cross(literal_norm2, literal)) < 0.05


def _moments_agree(drawn, literal, sigmas=5.0):
    """Means of two independent samples (columns) agree within ``sigmas`` standard errors."""
    drawn, literal = np.atleast_2d(np.asarray(drawn).T).T, np.atleast_2d(np.asarray(literal).T).T
    se = np.hypot(drawn.std(0) / np.sqrt(len(drawn)), literal.std(0) / np.sqrt(len(literal)))
    return np.abs(drawn.mean(0) - literal.mean(0)) <= sigmas * se + 1e-12


@pytest.mark.parametrize("dist", ["sphere", "gaussian", "rademacher"])
def test_probe_cosines_have_the_first_and_second_moments_of_literal_keys(dist):
    # the joint law of (||k_0||^2, c_1..c_m): means and second moments, the sum of squared cosines
    # (the Rao-Blackwellised noise) and its cross moment with the probe's norm included
    norm2, drawn = sim.probe_cosines(dist, 40000, 5, 8, generator(11, "cpu"), torch.float64)
    literal_norm2, literal = _literal_cosines(dist, 40000, 8, 12, others=5)
    stats_of = lambda q, c: np.column_stack([
        q, q**2, c[:, 0], c[:, 0] ** 2, c[:, 0] ** 4, c[:, 0] * c[:, 1], c[:, 0] ** 2 * c[:, 1] ** 2,
        (c**2).sum(-1), (c**2).sum(-1) ** 2, q**2 * (c**2).sum(-1)])
    assert np.all(_moments_agree(stats_of(norm2.numpy(), drawn.numpy()),
                                 stats_of(literal_norm2.numpy(), literal.numpy())))


@pytest.mark.parametrize("dist", ["sphere", "gaussian", "rademacher"])
def test_probe_kernel_has_the_means_of_the_whole_memory_kernel(dist):
    params = {"n": 6, "d_k": 8, "d_v": 4, "key_dist": dist}
    probe = np.column_stack(sim.PROBE_SIGNAL_NOISE(params, 40000, generator(13, "cpu"), torch.float64))
    whole = np.column_stack(sim.SIGNAL_NOISE(params, 40000, generator(14, "cpu"), torch.float64))
    assert np.all(_moments_agree(probe, whole))
    der = proof.signal_noise(dist)
    derived = [der.evaluate(name, **params) for name in ("signal_power", "noise_power")]
    assert np.all(np.abs(probe.mean(0) - derived) <= 5 * probe.std(0) / np.sqrt(len(probe)) + 1e-12)


def test_whole_memories_are_simulated_at_the_probe_points_and_one_probe_beyond():
    small = [get_claim(c).resolve(get_claim(c).probe.point) for c in ("capacity.noise_power",)]
    big = {"n": 4096, "d_k": 1024, "d_v": 64, "key_dist": "sphere"}
    assert all(sim.snr_kernel(p) is sim.SIGNAL_NOISE for p in small)
    assert sim.snr_kernel(big) is sim.PROBE_SIGNAL_NOISE


def test_values_are_sampled_at_some_book_points_of_every_key_distribution():
    claim = get_claim("capacity.noise_power")
    points = [claim.resolve(p) for p in claim.points("book")]
    assert {p["key_dist"] for p in points if sim.snr_kernel(p) is sim.SIGNAL_NOISE} == set(sim.KEY_DISTS)


# ----------------------------------------------------------------------------- worst case

def _inequalities(der):
    return [s.label for s in der.steps if s.relation == "<="]


@pytest.mark.parametrize("bound", ["Markov", "union"])
def test_bound_is_proved_pointwise_on_both_regions(bound):
    labels = _inequalities(proof.worst_case("sphere"))
    assert sum(label.startswith(f"{bound}, pointwise") for label in labels) == 2


@pytest.mark.parametrize("bound", ["Markov", "union"])
def test_bound_is_carried_to_probabilities_by_an_inequality_of_expectations(bound):
    labels = _inequalities(proof.worst_case("sphere"))
    assert any(label.startswith(f"{bound}, taking expectations") for label in labels)


def test_markov_result_is_the_conclusion_of_the_expectation_steps():
    der = proof.worst_case("sphere")
    eq36 = [s for s in der.steps if s.label.startswith("eq 36")][0]
    assert eq36.relation == "=" and isinstance(eq36.lhs, sp.Subs) and der.results["markov"] == eq36.rhs


def test_union_result_is_the_sum_of_markov_bounds_proved_as_an_inequality():
    der = proof.worst_case("sphere")
    eq37 = [s for s in der.steps if s.label.startswith("eq 37")][0]
    assert eq37.relation == "<=" and sp.simplify(eq37.rhs.doit() - der.results["union"]) == 0


def test_sweep_stops_at_the_first_load_whose_mean_noise_exceeds_delta():
    noise = lambda load: proof.signal_noise("sphere").evaluate("noise_power", n=load, d_k=64)
    last = sim.sweep_loads(proof.worst_case("sphere"), 64, 0.3)
    assert noise(last - 1) <= 0.3 < noise(last)


def test_union_bound_is_n_times_markov():
    der = proof.worst_case("sphere")
    assert sp.simplify(der.results["union"] - n * der.results["markov"]) == 0


def test_union_capacity_tends_to_the_papers_sqrt_law():
    der = proof.worst_case("sphere")
    assert sp.limit(der.results["capacity"] / sp.sqrt(epsilon * delta * d_k), d_k, sp.oo) == 1


def test_worst_case_growth_exponent_is_derived_one_half():
    assert proof.worst_case("sphere").results["exponent"] == sp.Rational(1, 2)


def test_gaussian_keys_have_the_same_markov_bound():
    markov = lambda dist: proof.worst_case(dist).results["markov"]
    assert sp.simplify(markov("gaussian") - markov("sphere")) == 0


def test_noise_curves_match_direct_retrieval():
    params = {"n": 9, "d_k": 6, "d_v": 4, "key_dist": "gaussian"}
    largest, first = sim.noise_curves(params, 2, generator(4, "cpu"), torch.float64)
    g = generator(4, "cpu")
    K, V = sample("gaussian", (2, 9), 6, g, torch.float64), sample("sphere", (2, 9), 4, g, torch.float64)
    for t in range(2):
        for load in range(1, 10):
            S = K[t, :load].T @ V[t, :load]
            powers = ((K[t, :load] @ S - (K[t, :load] ** 2).sum(-1, keepdim=True) * V[t, :load]) ** 2).sum(-1)
            assert abs(float(powers.max()) - largest[t, load - 1]) < 1e-12
            assert abs(float(powers[0]) - first[t, load - 1]) < 1e-12


@pytest.mark.parametrize("dist", ["sphere", "gaussian"])
def test_span_keys_have_the_derived_gram_moments(dist):
    keys = sim.span_keys(dist, 20000, 6, 16, generator(3, "cpu"), torch.float64)
    gram = keys @ keys.transpose(1, 2)
    moments = key_moments(dist)
    for values, name in ((gram[:, 0, 5] ** 2, "cos2"), (gram[:, 5, 5] ** 2, "norm4")):
        se = float(values.std()) / np.sqrt(values.numel())
        assert abs(float(values.mean()) - moments.evaluate(name, d_k=16)) <= 5 * se + 1e-12


@pytest.mark.parametrize("dist", ["sphere", "gaussian"])
def test_span_keys_have_the_gram_law_of_keys_in_d_k_dimensions(dist):
    frobenius = lambda K: ((K @ K.transpose(1, 2)) ** 2).sum((1, 2)).numpy()
    span = frobenius(sim.span_keys(dist, 20000, 6, 16, generator(3, "cpu"), torch.float64))
    literal = frobenius(sample(dist, (20000, 6), 16, generator(4, "cpu"), torch.float64))
    assert stats.ks_2samp(span, literal).pvalue > 1e-3


@pytest.mark.parametrize("dist", ["sphere", "gaussian"])
@pytest.mark.parametrize("n, d", [(6, 16), (5, 5)])
def test_span_keys_gram_entries_have_the_mean_and_variance_of_direct_sampling(dist, n, d):
    gram = lambda K: (K @ K.transpose(1, 2)).numpy()
    span = gram(sim.span_keys(dist, 40000, n, d, generator(15, "cpu"), torch.float64))
    direct = gram(sample(dist, (40000, n), d, generator(16, "cpu"), torch.float64))
    entries = lambda G: np.column_stack([G[:, 0, 0], G[:, n - 1, n - 1], G[:, 0, n - 1], G[:, n - 2, n - 1],
                                         G[:, 1, 2] * G[:, 2, 3] * G[:, 3, 1]])
    a, b = entries(span), entries(direct)
    assert np.all(_moments_agree(a, b))  # means
    assert np.all(_moments_agree((a - a.mean(0)) ** 2, (b - b.mean(0)) ** 2))  # variances


def test_span_keys_are_drawn_directly_beyond_d_k():
    assert sim.span_keys("gaussian", 2, 9, 6, generator(0, "cpu"), torch.float64).shape == (2, 9, 6)


def test_crossing_finds_the_load_before_the_first_exceedance():
    counts = np.array([0, 0, 1, 3, 60, 400, 1000])
    est, lo, hi = sim.crossing(counts, 1000, 0.05, 1e-3)
    assert est == 4 and lo <= est <= hi


def test_growth_exponent_is_unbounded_when_a_crossing_is_not_resolved():
    rows = [{"d_k": 16, "capacity": 3, "capacity_lo": 0, "capacity_hi": 4, "n_max": 10},
            {"d_k": 256, "capacity": 60, "capacity_lo": 55, "capacity_hi": 66, "n_max": 130}]
    fit = sim.growth_exponent(rows)
    assert fit.lo == -np.inf and fit.hi == np.inf


@pytest.mark.mc
def test_worst_case_bounds_hold_but_capacity_grows_faster_than_the_derived_exponent(ctx):
    claim = get_claim("capacity.worst_case")
    outcome = claim.check(claim.resolve({"d_k": 256}), ctx)
    bounds = [e for e in outcome.evidence if e["name"] == "bounds"][0]
    assert outcome.verdict == "loose" and bounds["verdict"] == "holds" and outcome.ci[0] > outcome.theory


@pytest.mark.mc
def test_worst_case_check_rejects_bounds_three_times_too_tight(ctx):
    claim = get_claim("capacity.worst_case")
    outcome = claim.check(claim.resolve({"d_k": 256}), replace(ctx, probe=("bound", 1 / 3)))
    assert [e for e in outcome.evidence if e["name"] == "bounds"][0]["verdict"] == "fails"


# ----------------------------------------------------------------------------- beyond the paper

def test_product_law_has_the_exact_mean_noise_power():
    der = proof.concentration()
    assert sp.simplify(der.results["shape_A"] * der.results["scale_A"] - (n - 1) / d_k) == 0


def test_product_law_failure_is_scipys_gamma_times_chi_square_tail_integral():
    der, p = proof.concentration(), {"n": 64, "d_k": 64, "d_v": 16, "delta": 0.5}
    shape, scale = der.evaluate("shape_A", **p), der.evaluate("scale_A", **p)
    law = lambda a: stats.gamma.pdf(a, shape, scale=scale) * stats.chi2.sf(p["d_v"] * p["delta"] / a,
                                                                                       p["d_v"])
    expected, _ = integrate.quad(law, 0, np.inf, epsabs=1e-12)
    assert abs(der.evaluate("failure", **p) - expected) < 1e-8


def test_the_product_law_is_recorded_as_its_assumptions():
    assumed = [s.label for s in proof.concentration().steps if s.relation == "assumes"]
    assert len(assumed) == 3
    assert "Gaussian" in assumed[0] and "Gamma" in assumed[1] and "mean times u" in assumed[2]


def test_product_law_failure_probability_grows_with_load():
    der = proof.concentration()
    p = [der.evaluate("failure", n=m, d_k=64, d_v=64, delta=0.5) for m in (16, 32, 48)]
    assert 0 < p[0] < p[1] < p[2] < 1


def test_concentration_ci_grid_judges_the_tail_where_capacity_is_set():
    claim, der = get_claim("capacity.concentration"), proof.concentration()
    probabilities = [der.evaluate("failure", **claim.resolve(p)) for p in claim.points("ci")]
    assert min(probabilities) <= 0.1


@pytest.mark.parametrize("d_v", [3, 8, 64])
def test_coordinate_tail_is_the_tail_of_a_sphere_coordinate(d_v):
    x = np.array([-0.9, -0.2, 0.0, 0.1, 0.5, 1.0])
    half = (d_v - 1) / 2  # (1 + t) / 2 ~ Beta(half, half)
    expected = stats.beta.sf((1 + x) / 2, half, half)
    assert np.allclose(sim.coordinate_tail()(float(d_v), x), expected, atol=1e-12)


def test_coordinate_tail_is_derived_with_checked_steps():
    labels = [s.label for s in proof.concentration().steps]
    assert any("incomplete beta" in label for label in labels)
    assert any("symmetric" in label for label in labels)


def test_coordinate_tail_takes_the_sign_probabilities_from_the_sign_law():
    steps = [s for s in proof.concentration().steps if isinstance(s.lhs, Probability)]
    events = [s.lhs.args[0] for s in steps]  # Eq(S, value), S the sign's random symbol
    assert sorted(e.rhs for e in events) == [-1, 1] and all(e.lhs.name == "S" for e in events)
    assert all(s.lhs.doit() == sp.Rational(1, 2) and s.rhs == sp.Rational(1, 2) for s in steps)


def test_coordinate_tail_is_checked_against_its_branches_on_both_sides_of_zero():
    tail = proof.concentration().results["coordinate_tail"]
    x, y = sp.Symbol("x", real=True), sp.Symbol("y", positive=True)
    points = {s.rhs.point[0] for s in proof.concentration().steps
              if isinstance(s.rhs, sp.Subs) and s.rhs.expr == tail and s.rhs.variables == (x,)}
    assert {y, -y} <= points


def test_coordinate_tail_for_three_dimensional_values_is_uniform_on_minus_one_one():
    x = sp.Symbol("x", real=True)
    tail = proof.concentration().results["coordinate_tail"].subs(d_v, 3)
    assert sp.simplify(tail.rewrite(sp.Integral).doit() - (1 - x) / 2) == 0


def _wrong_tails():
    """Tails with a wrong incomplete beta: the Beta parameters swapped, x in place of x^2."""
    x = sp.Symbol("x", real=True)
    swapped = sp.betainc_regularized((d_v - 1) / 2, sp.Rational(1, 2), 0, x**2)
    linear = sp.betainc_regularized(sp.Rational(1, 2), (d_v - 1) / 2, 0, sp.Abs(x))
    return [(1 - sp.sign(x) * cdf) / 2 for cdf in (swapped, linear)]


@pytest.mark.parametrize("wrong", _wrong_tails(), ids=["swapped_parameters", "x_not_x_squared"])
def test_three_dimensional_check_rejects_a_wrong_incomplete_beta(wrong):
    x = sp.Symbol("x", real=True)
    step = [s for s in proof.concentration().steps if s.label.startswith("d_v = 3")][0]
    with pytest.raises(DerivationError):
        Derivation("wrong tail").step(step.label, wrong.subs(d_v, 3).rewrite(sp.Integral), step.rhs)
    assert step.rhs == (1 - x) / 2


def test_step_failure_is_the_failure_rate_over_the_steps_value():
    v = sample("sphere", (200000,), 8, generator(5, "cpu"), torch.float64)
    w = torch.zeros(8, dtype=torch.float64)
    w[0] = 0.6
    sampled = float((((w + 0.3 * v) ** 2).sum(-1) >= 0.5).double().mean())
    exact = sim.step_failure(np.array([0.36]), np.array([0.3]), 8, 0.5)[0]
    assert abs(sampled - exact) < 5 * np.sqrt(exact * (1 - exact) / 200000)


def test_control_variates_have_the_derived_means():
    params = {"n": 12, "d_k": 16, "d_v": 8, "delta": 0.5}
    x = sim.controls(sim.item_noise(params, 40000, generator(6, "cpu"), torch.float64))
    se = x.std(0) / np.sqrt(x.shape[0])
    assert np.all(np.abs(x.mean(0) - sim.control_means(params)) < 5 * se)


def test_controlled_failure_has_the_mean_of_the_failure_indicator():
    params = {"n": 12, "d_k": 16, "d_v": 8, "delta": 0.5}
    beta = sim.control_coefficients(sim.item_noise(params, 4000, generator(7, "cpu"), torch.float64))
    samples = sim.item_noise(params, 40000, generator(8, "cpu"), torch.float64)
    controlled, fails = sim.controlled(samples, beta, sim.control_means(params)), samples[1] >= 0.5
    se = np.hypot(controlled.std(), fails.std()) / np.sqrt(fails.size)
    assert abs(controlled.mean() - fails.mean()) < 5 * se and controlled.var() < fails.var() / 2


@pytest.mark.mc
def test_concentration_shows_the_sampled_failure_rate_beside_the_estimate(ctx):
    claim = get_claim("capacity.concentration")
    outcome = claim.check(claim.resolve({"n": 48}), ctx)
    plain = [e for e in outcome.evidence if e["name"] == "sampled_failure_rate"][0]
    pilot = [e for e in outcome.evidence if e["name"] == "pilot_trials"][0]["value"]
    assert plain["ci"][0] <= outcome.estimate <= plain["ci"][1]
    assert plain["trials"] == outcome.trials - pilot  # the evidence reads exactly the judged trials


@pytest.mark.mc
def test_concentration_law_overestimates_the_tail(ctx):
    claim = get_claim("capacity.concentration")
    outcome = claim.check(claim.resolve({"d_k": 16, "n": 3}), ctx)
    assert outcome.verdict == "fails" and outcome.ci[1] < outcome.theory


@pytest.mark.mc
def test_concentration_law_predicts_the_single_item_failure_probability(ctx):
    claim = get_claim("capacity.concentration")
    assert claim.check(claim.resolve({"n": 48}), ctx).verdict == "exact"


@pytest.mark.mc
def test_concentration_is_undecided_when_the_trials_cannot_resolve_two_percent(ctx):
    claim = get_claim("capacity.concentration")
    assert claim.check(claim.resolve({"n": 48}), replace(ctx, max_trials=512)).verdict == "undecided"


def test_frame_potential_bound_is_proved_for_any_number_of_eigenvalues():
    steps = [s for s in proof.designed_keys().steps if isinstance(s.certificate, sp.Sum)]
    assert any(s.certificate.limits[0][2] == sp.Symbol("r", integer=True, positive=True) for s in steps)


def test_mean_interference_lower_bound_is_an_inequality_for_every_design():
    der = proof.designed_keys()
    assert any(s.relation == "<=" and s.lhs == der.results["designed_noise"] for s in der.steps)


def test_welch_max_at_least_mean_is_an_inequality():
    steps = [s for s in proof.designed_keys().steps if s.label.startswith("Welch")]
    assert steps and all(s.relation == "<=" for s in steps)


def test_designed_noise_is_below_random_noise_by_less_than_one():
    der = proof.designed_keys()
    assert sp.simplify(der.results["random_excess"] - (d_k - 1) / d_k) == 0


def test_tight_frame_attains_the_frame_potential_bound():
    keys = sim.tight_frame(48, 16, "cpu", torch.float64)
    gram = keys @ keys.T
    assert torch.allclose(gram.diagonal(), torch.ones(48, dtype=torch.float64))
    assert abs(float((gram**2).sum()) - 48**2 / 16) < 1e-9


def test_orthonormal_keys_store_d_k_pairs_without_interference():
    noise = sim.frame_noise({"n": 32, "d_k": 32, "d_v": 8}, 4, generator(0, "cpu"), torch.float64)[0]
    assert np.abs(noise).max() < 1e-12


@pytest.mark.parametrize("keys", ["frame", "random"])
def test_coherence_is_at_least_welchs_bound(keys):
    K = sim.tight_frame(96, 32, "cpu", torch.float64) if keys == "frame" else \
        sample("sphere", (96,), 32, generator(1, "cpu"), torch.float64)
    gram = K @ K.T
    gram.fill_diagonal_(0)
    assert float((gram**2).max()) >= proof.designed_keys().evaluate("welch", n=96, d_k=32) * (1 - 1e-12)


def test_designed_keys_grid_has_only_loads_beyond_d_k():
    claim = get_claim("capacity.designed_keys")
    assert all(p["n"] > p["d_k"] for scale in ("ci", "book", "paper") for p in claim.points(scale))


def test_designed_keys_refuses_a_load_within_d_k():
    with pytest.raises(ParamError):
        get_claim("capacity.designed_keys").resolve({"d_k": 32, "n": 32})


@pytest.mark.mc
def test_tight_frame_noise_matches_the_derived_minimum(ctx):
    claim = get_claim("capacity.designed_keys")
    assert claim.check(claim.resolve({"d_k": 32, "n": 96}), ctx).verdict == "exact"


@pytest.mark.mc
def test_decoding_mean_field_law_overestimates_the_error(ctx):
    claim = get_claim("capacity.decoding")
    outcome = claim.check(claim.resolve({"n": 256}), ctx)
    assert outcome.verdict == "fails" and outcome.ci[1] < outcome.theory


def test_decoding_error_is_one_minus_the_gaussian_chance_that_the_right_score_beats_every_competitor():
    """The mean-field error against the same integral done by scipy: the right score 1 + sigma_m z
    beats each of n - 1 independent competitors N(0, sigma_c^2) with probability Phi(./sigma_c)."""
    from scipy import integrate

    der, point = proof.decoding(), {"d_k": 16, "d_v": 16, "n": 8}
    sigma_m, sigma_c = (np.sqrt(der.evaluate(name, **point)) for name in ("var_right", "var_competitor"))
    correct, _ = integrate.quad(lambda z: stats.norm.pdf(z) * stats.norm.cdf((1 + sigma_m * z) / sigma_c)
                                ** (point["n"] - 1), -12, 12)
    assert der.evaluate("error", **point) == pytest.approx(1 - correct, rel=1e-6)
