"""Theorem 6: the exact SNR per key distribution, its simulation, and the average-case capacity."""
import pytest
import sympy as sp

from pavlov_theory.claims import get_claim
from pavlov_theory.proofs import capacity as proof
from pavlov_theory.proofs.vectors import d_k, n
from dataclasses import replace


def test_sphere_snr_is_the_papers_formula_exactly():
    assert sp.simplify(proof.signal_noise("sphere").results["snr"] - d_k / (n - 1)) == 0


def test_rademacher_snr_is_the_papers_formula_exactly():
    assert sp.simplify(proof.signal_noise("rademacher").results["snr"] - d_k / (n - 1)) == 0


def test_gaussian_snr_gains_the_fourth_moment_of_the_norm():
    assert sp.simplify(proof.signal_noise("gaussian").results["snr"] - (d_k + 2) / (n - 1)) == 0


def test_noise_power_is_the_same_for_all_key_distributions():
    powers = {d: proof.signal_noise(d).results["noise_power"] for d in ("sphere", "gaussian", "rademacher")}
    assert all(sp.simplify(p - (n - 1) / d_k) == 0 for p in powers.values())


def test_average_case_capacity_is_eq_35_for_sphere_keys():
    der = proof.average_case("sphere")
    assert sp.simplify(der.results["capacity"] - der.results["paper_capacity"]) == 0


def test_average_case_capacity_for_gaussian_keys_adds_two_over_snr_min():
    der = proof.average_case("gaussian")
    assert sp.simplify(der.results["capacity"] - der.results["paper_capacity"] - 2 / proof.snr_min) == 0


POINTS = [
    {"d_k": 16, "n": 5, "key_dist": "gaussian"},
    {"d_k": 64, "n": 128, "key_dist": "sphere"},
    {"d_k": 32, "n": 17, "key_dist": "rademacher"},
]


@pytest.mark.mc
@pytest.mark.parametrize("point", POINTS)
def test_simulated_snr_matches_derivation(point, ctx):
    claim = get_claim("capacity.noise_power")
    assert claim.check(claim.resolve(point), ctx).verdict == "exact"


@pytest.mark.mc
@pytest.mark.parametrize("factor", [1.02, 0.98])
def test_noise_power_check_rejects_a_two_percent_error(factor, ctx):
    claim = get_claim("capacity.noise_power")
    outcome = claim.check(claim.resolve(POINTS[1]), replace(ctx, theory_factor=factor))
    assert outcome.verdict == "fails"


@pytest.mark.mc
def test_paper_snr_is_rejected_for_gaussian_keys_at_small_dk(ctx):
    claim = get_claim("capacity.noise_power")
    outcome = claim.check(claim.resolve(POINTS[0]), ctx)
    paper = [e for e in outcome.evidence if e["name"] == "paper_snr"][0]
    assert outcome.verdict == "exact" and not paper["paper_in_ci"]


@pytest.mark.mc
@pytest.mark.parametrize("key_dist", ["sphere", "gaussian"])
def test_simulated_capacity_matches_derivation(key_dist, ctx):
    claim = get_claim("capacity.average_case")
    assert claim.check(claim.resolve({"d_k": 32, "snr_min": 4.0, "key_dist": key_dist}), ctx).verdict == "exact"


@pytest.mark.mc
@pytest.mark.parametrize("factor", [1.02, 0.98])
def test_capacity_check_rejects_a_two_percent_error(factor, ctx):
    claim = get_claim("capacity.average_case")
    point = claim.resolve({"d_k": 64, "snr_min": 2.0})
    assert claim.check(point, replace(ctx, theory_factor=factor)).verdict == "fails"


@pytest.mark.gpu
@pytest.mark.mc
def test_simulated_snr_matches_derivation_on_cuda(ctx):
    claim = get_claim("capacity.noise_power")
    outcome = claim.check(claim.resolve({"d_k": 256, "n": 257}), replace(ctx, device="cuda"))
    assert outcome.verdict == "exact" and outcome.device == "cuda"


# ----------------------------------------------------------------------------- worst case and beyond

from pavlov_theory.proofs.capacity import delta, epsilon
from pavlov_theory.sampling import generator
from pavlov_theory.simulations import capacity as sim
import numpy as np
import torch


def test_union_bound_is_n_times_markov():
    der = proof.worst_case("sphere")
    assert sp.simplify(der.results["union"] - n * der.results["markov"]) == 0


def test_union_capacity_tends_to_the_papers_sqrt_law():
    der = proof.worst_case("sphere")
    assert sp.limit(der.results["capacity"] / sp.sqrt(epsilon * delta * d_k), d_k, sp.oo) == 1


def test_gaussian_keys_have_the_same_markov_bound():
    assert sp.simplify(proof.worst_case("gaussian").results["markov"] - proof.worst_case("sphere").results["markov"]) == 0


def test_product_law_has_the_exact_mean_noise_power():
    der = proof.concentration()
    assert sp.simplify(der.results["shape_A"] * der.results["scale_A"] - (n - 1) / d_k) == 0


def test_designed_noise_is_below_random_noise_by_less_than_one():
    der = proof.designed_keys()
    assert sp.simplify(der.results["random_excess"] - (d_k - 1) / d_k) == 0


def test_noise_curves_match_direct_retrieval():
    largest, first = sim.noise_curves(2, 9, 6, 4, "gaussian", generator(4, "cpu"), torch.float64)
    from pavlov_theory.sampling import sample
    g = generator(4, "cpu")
    K, V = sample("gaussian", (2, 9), 6, g, torch.float64), sample("sphere", (2, 9), 4, g, torch.float64)
    for t in range(2):
        for load in range(1, 10):
            S = K[t, :load].T @ V[t, :load]
            noise = K[t, :load] @ S - (K[t, :load] ** 2).sum(-1, keepdim=True) * V[t, :load]
            powers = (noise**2).sum(-1)
            assert abs(float(powers.max()) - largest[t, load - 1]) < 1e-12
            assert abs(float(powers[0]) - first[t, load - 1]) < 1e-12


def test_crossing_finds_the_load_before_the_first_exceedance():
    counts = np.array([0, 0, 1, 3, 60, 400, 1000])
    est, lo, hi = sim.crossing(counts, 1000, 0.05, 1e-3)
    assert est == 4 and lo <= est <= hi


def test_tight_frame_attains_the_frame_potential_bound():
    keys = sim.tight_frame(48, 16, "cpu", torch.float64)
    gram = keys @ keys.T
    assert torch.allclose(gram.diagonal(), torch.ones(48, dtype=torch.float64))
    assert abs(float((gram**2).sum()) - 48**2 / 16) < 1e-9


@pytest.mark.mc
def test_worst_case_bounds_hold_but_capacity_grows_faster_than_sqrt(ctx):
    claim = get_claim("capacity.worst_case")
    outcome = claim.check(claim.resolve({"d_k": 256}), replace(ctx, scale="ci"))
    assert outcome.verdict == "loose" and outcome.ci[0] > 0.5


@pytest.mark.mc
def test_worst_case_check_rejects_a_bound_that_is_too_small(ctx):
    claim = get_claim("capacity.worst_case")
    outcome = claim.check(claim.resolve({"d_k": 256}), replace(ctx, scale="ci", theory_factor=0.05))
    assert outcome.verdict == "fails"


@pytest.mark.mc
def test_concentration_law_predicts_the_measured_capacity(ctx):
    claim = get_claim("capacity.concentration")
    assert claim.check(claim.resolve({"d_k": 256}), replace(ctx, scale="ci")).verdict == "refined"


@pytest.mark.mc
@pytest.mark.parametrize("factor", [1.1, 0.9])
def test_concentration_check_rejects_a_capacity_ten_percent_off(factor, ctx):
    claim = get_claim("capacity.concentration")
    outcome = claim.check(claim.resolve({"d_k": 256}), replace(ctx, scale="ci", theory_factor=factor))
    assert outcome.verdict == "fails"


@pytest.mark.mc
@pytest.mark.parametrize("n", [16, 96])
def test_designed_keys_match_derivation(n, ctx):
    claim = get_claim("capacity.designed_keys")
    assert claim.check(claim.resolve({"d_k": 32, "n": n}), ctx).verdict == "exact"


@pytest.mark.mc
@pytest.mark.parametrize("factor", [1.02, 0.98])
def test_designed_keys_check_rejects_a_two_percent_error(factor, ctx):
    claim = get_claim("capacity.designed_keys")
    assert claim.check(claim.resolve({"d_k": 32, "n": 96}), replace(ctx, theory_factor=factor)).verdict == "fails"


@pytest.mark.mc
def test_decoding_mean_field_law_overestimates_the_error(ctx):
    claim = get_claim("capacity.decoding")
    outcome = claim.check(claim.resolve({"n": 128}), ctx)
    assert outcome.verdict == "fails" and outcome.ci[1] < outcome.theory


@pytest.mark.mc
def test_decoding_check_accepts_the_measured_rate_as_theory(ctx):
    claim = get_claim("capacity.decoding")
    point = claim.resolve({"n": 192})
    measured = claim.check(point, ctx).estimate
    outcome = claim.check(point, replace(ctx, theory_factor=measured / sim.mean_field_error(192, 64, 64)))
    assert outcome.verdict == "refined"
