"""Sections 2-4.1: Theorem 5, generalization, normalization and the selectivity statement."""
from dataclasses import replace

import pytest
import sympy as sp
import torch

from pavlov_theory import memory
from pavlov_theory.claims import get_claim
from pavlov_theory.proofs import framework as proof
from pavlov_theory.proofs.vectors import d_k
from pavlov_theory.sampling import generator
from pavlov_theory.simulations import framework as sim
from pavlov_theory.stats import judge_positive, mean_ci


def test_masked_parallel_equals_recurrent_symbolically():
    assert len(proof.equivalence().steps) == 1 + 2 * len(proof.EQUIVALENCE_SIZES)


def test_symbolic_check_rejects_a_non_causal_form():
    Q, K, V = (proof._symbol_matrix(x, 3, 2) for x in "qkv")
    assert not (Q * K.T * V - proof.recurrent(Q, K, V)).is_zero_matrix


def test_linear_response_is_the_similarity_for_unit_keys():
    assert proof.generalization("sphere").results["response"] == proof.s


def test_gaussian_response_slope_is_the_mean_key_norm():
    slope = proof.generalization("gaussian").results["response"] / proof.s
    assert abs(float(slope.subs(d_k, 64)) - 0.99610) < 1e-4


def test_softmax_weight_ratio_is_exponential():
    assert proof.generalization("sphere").results["weight_ratio"] == sp.exp(proof.beta * proof.s)


def test_raw_power_grows_with_load():
    assert sp.simplify(proof.normalization("sphere").results["raw_power"] - (1 + (proof.n - 1) / d_k)) == 0


@pytest.mark.parametrize("phi,norm,gamma", [("identity", "none", 1.0), ("elu1", "rmsnorm", 0.9),
                                            ("relu", "layernorm", 1.0)])
def test_three_forms_agree(phi, norm, gamma, ctx):
    claim = get_claim("framework.equivalence")
    assert claim.check(claim.resolve({"phi": phi, "norm": norm, "gamma": gamma}), ctx).verdict == "exact"


def test_equivalence_check_detects_an_off_by_one_mask():
    # strictly causal mask: step i misses its own pair, an off-by-one error
    shifted = lambda q, k, v, gamma: torch.tril(q @ k.transpose(-1, -2), diagonal=-1) @ v
    forms = {"parallel": memory.parallel_form, "shifted": shifted}
    out = sim.form_outputs(2, 16, 4, 4, "identity", "none", 1.0, generator(0, "cpu"), torch.float64, forms)
    deviation, _ = sim.max_form_deviation(out, "none")
    assert deviation > 1e-6


@pytest.mark.mc
@pytest.mark.parametrize("key_dist", ["sphere", "gaussian"])
def test_linear_generalization_matches_derivation(key_dist, ctx):
    claim = get_claim("framework.generalization")
    assert claim.check(claim.resolve({"s": 0.6, "key_dist": key_dist}), ctx).verdict == "exact"


@pytest.mark.mc
@pytest.mark.parametrize("factor", [1.02, 0.98])
def test_generalization_check_rejects_a_two_percent_error(factor, ctx):
    claim = get_claim("framework.generalization")
    assert claim.check(claim.resolve({"s": 0.9}), replace(ctx, theory_factor=factor)).verdict == "fails"


def test_softmax_gradient_is_exponential(ctx):
    claim = get_claim("framework.generalization")
    point = claim.resolve({"s": 0.5, "retrieval": "softmax", "beta": 6.0})
    assert claim.check(point, ctx).verdict == "exact"
    assert claim.check(point, replace(ctx, theory_factor=1.02)).verdict == "fails"


@pytest.mark.mc
def test_normalization_matches_derivation(ctx):
    claim = get_claim("framework.normalization")
    assert claim.check(claim.resolve({"n": 32}), ctx).verdict == "exact"


@pytest.mark.mc
@pytest.mark.parametrize("factor", [1.02, 0.98])
def test_normalization_check_rejects_a_two_percent_error(factor, ctx):
    claim = get_claim("framework.normalization")
    assert claim.check(claim.resolve({"n": 128}), replace(ctx, theory_factor=factor)).verdict == "fails"


@pytest.mark.mc
def test_rmsnorm_does_not_amplify_selectivity(ctx):
    claim = get_claim("framework.selectivity")
    assert claim.check(claim.resolve({"norm": "rmsnorm"}), ctx).verdict == "fails"


def test_selectivity_judge_would_accept_a_real_gain(ctx):
    gained = lambda x, values: sim.cosine_margin(x, values) + 0.05
    r = torch.randn(64, 8, dtype=torch.float64)
    values = torch.randn(64, 5, 8, dtype=torch.float64)
    gain = (gained(r, values) - sim.cosine_margin(r, values)).numpy()
    assert judge_positive(mean_ci(gain, 1e-3), 1e-3) == "holds"
