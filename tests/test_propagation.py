"""Theorem 9: head, layer and the shared-embedding case; the head count that minimises the bound."""
from dataclasses import replace

import pytest
import sympy as sp
import torch

from pavlov_theory.claims import get_claim
from pavlov_theory.proofs import propagation as proof
from pavlov_theory.proofs.capacity import delta
from pavlov_theory.proofs.vectors import d_k, n
from pavlov_theory.sampling import generator
from pavlov_theory.simulations import propagation as sim


def test_paper_head_bound_is_markov_plus_one_over_delta_dk():
    der = proof.theorem9()
    assert sp.simplify(der.results["head"] - der.results["head_markov"] - 1 / (delta * d_k)) == 0


def test_first_order_network_bound_is_linear_in_depth():
    der = proof.theorem9()
    assert sp.diff(der.results["network_first_order"], proof.L, 2) == 0


def test_averaging_heads_divides_the_noise_by_h():
    assert sp.simplify(proof.theorem9().results["averaged_noise"] * proof.H - (n - 1) / d_k) == 0


def test_optimal_head_count_is_delta_dmodel_over_e_n():
    assert sp.simplify(proof.head_count().results["optimal_H"] - delta * proof.d_model / (sp.E * n)) == 0


def test_head_noise_matches_direct_retrieval():
    noise = sim.head_noise(2, 3, 5, 4, 3, "sphere", generator(1, "cpu"), torch.float64)
    g = generator(1, "cpu")
    from pavlov_theory.sampling import sample
    keys = sample("sphere", (2, 3, 5), 4, g, torch.float64)
    values = sample("sphere", (2, 3, 5), 3, g, torch.float64)
    S = keys.transpose(-1, -2) @ values
    direct = (keys[:, :, :1] @ S).squeeze(-2) - values[:, :, 0]
    assert torch.allclose(noise, direct)


def test_shared_embedding_keys_are_unit_and_correlated_across_heads():
    keys = sim.head_keys(500, 2, 3, 16, "sphere", generator(2, "cpu"), torch.float64, d_model=8)
    assert torch.allclose(keys.norm(dim=-1), torch.ones(500, 2, 3, dtype=torch.float64))
    c = (keys[:, :, 0] * keys[:, :, 1]).sum(-1)
    assert float(torch.corrcoef(c.T)[0, 1]) > 0.3


@pytest.mark.mc
def test_head_bound_holds(ctx):
    claim = get_claim("propagation.head_failure")
    assert claim.check(claim.resolve({"d_k": 64, "n": 24}), replace(ctx, scale="ci")).verdict == "holds"


@pytest.mark.mc
def test_head_check_rejects_a_bound_below_the_measured_rate(ctx):
    claim = get_claim("propagation.head_failure")
    outcome = claim.check(claim.resolve({"d_k": 64, "n": 24}), replace(ctx, scale="ci", theory_factor=0.01))
    assert outcome.verdict == "fails"


@pytest.mark.mc
def test_layer_bound_holds_for_independent_heads(ctx):
    claim = get_claim("propagation.layer_failure")
    assert claim.check(claim.resolve({"H": 2}), replace(ctx, scale="ci")).verdict == "holds"


@pytest.mark.mc
def test_layer_bound_fails_for_heads_of_a_narrow_shared_embedding(ctx):
    claim = get_claim("propagation.shared_heads")
    assert claim.check(claim.resolve({"d_model": 16}), replace(ctx, scale="ci")).verdict == "fails"


def test_network_failures_are_monotone_in_depth(ctx):
    params = {"d_k": 16, "n": 8, "H": 1, "d_v": 8, "key_dist": "sphere", "delta": 0.5}
    counts = sim.network_failures(500, 6, 1, 8, 16, 8, "sphere", 0.5, replace(ctx, scale="ci"), "t", params)
    assert all(a <= b for a, b in zip(counts, counts[1:])) and counts[-1] > counts[0]


@pytest.mark.mc
def test_network_bound_holds_with_linear_growth_in_its_regime(ctx):
    claim = get_claim("propagation.network_error")
    outcome = claim.check(claim.resolve({"H": 2, "n": 12}), replace(ctx, scale="ci"))
    assert outcome.verdict == "holds"


@pytest.mark.mc
def test_network_check_rejects_a_bound_that_is_too_small(ctx):
    claim = get_claim("propagation.network_error")
    outcome = claim.check(claim.resolve({"H": 1, "n": 12}), replace(ctx, scale="ci", theory_factor=0.01))
    assert outcome.verdict == "fails"


@pytest.mark.mc
def test_one_wide_head_minimises_the_measured_error_at_moderate_load(ctx):
    claim = get_claim("propagation.head_count")
    outcome = claim.check(claim.resolve({"n": 8}), replace(ctx, scale="ci"))
    assert outcome.estimate == 1.0
