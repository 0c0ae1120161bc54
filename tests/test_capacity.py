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
