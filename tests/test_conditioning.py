"""Section 5.1: the multi-hop noise law of stacked Hebbian layers."""
from dataclasses import replace

import pytest
import sympy as sp
import torch

from pavlov_theory.claims import get_claim
from pavlov_theory.proofs import conditioning as proof
from pavlov_theory.proofs.vectors import d_k, n
from pavlov_theory.sampling import generator, sample
from pavlov_theory.simulations import conditioning as sim


def test_product_form_is_exact_for_sphere_vectors():
    der = proof.multi_hop("sphere")
    assert sp.simplify(der.results["nsr"] - der.results["paper_nsr"]) == 0


def test_gaussian_vectors_add_two_over_dk_per_hop():
    assert sp.simplify(proof.multi_hop("gaussian").results["per_hop_factor"] - (1 + (n + 1) / d_k)) == 0


def test_one_hop_is_the_noise_power_of_theorem_6():
    nsr = proof.multi_hop("sphere").results["nsr"].subs(proof.L, 1)
    assert sp.simplify(nsr - (n - 1) / d_k) == 0


def test_moment_rule_keeps_multiples_of_identity():
    c = sp.Symbol("c")
    out = proof.moment_map(sp.eye(3) * c, 1 / d_k, 0)
    assert out == sp.eye(3) * c * 2 / d_k


def test_chain_retrieval_matches_explicit_layers():
    r, target = sim.chain_retrievals(1, 2, 4, 5, "sphere", generator(7, "cpu"), torch.float64)
    g = generator(7, "cpu")
    X = [sample("sphere", (1, 4), 5, g, torch.float64) for _ in range(3)]
    S1, S2 = X[0][0].T @ X[1][0], X[1][0].T @ X[2][0]
    assert torch.allclose(r[0], X[0][0] @ S1 @ S2) and torch.allclose(target[0], X[2][0])


@pytest.mark.mc
@pytest.mark.parametrize("key_dist,L", [("sphere", 3), ("gaussian", 6)])
def test_simulated_multi_hop_matches_derivation(key_dist, L, ctx):
    claim = get_claim("conditioning.multi_hop")
    point = claim.resolve({"d_k": 32, "n": 8, "L": L, "key_dist": key_dist})
    assert claim.check(point, ctx).verdict == "exact"


@pytest.mark.mc
@pytest.mark.parametrize("factor", [1.02, 0.98])
def test_multi_hop_check_rejects_a_two_percent_error(factor, ctx):
    claim = get_claim("conditioning.multi_hop")
    point = claim.resolve({"d_k": 32, "n": 16, "L": 4})
    assert claim.check(point, replace(ctx, theory_factor=factor)).verdict == "fails"


@pytest.mark.mc
def test_paper_product_form_is_rejected_for_gaussian_vectors(ctx):
    claim = get_claim("conditioning.multi_hop")
    outcome = claim.check(claim.resolve({"d_k": 32, "n": 16, "L": 4, "key_dist": "gaussian"}), ctx)
    assert outcome.verdict == "exact" and not outcome.evidence[0]["paper_in_ci"]


def test_routing_reaches_both_answers_at_low_load():
    acc = sim.routing_accuracy(200, 4, 128, generator(0, "cpu"))
    assert all(a > 0.95 for a in acc.values()) and len(acc) == 2


def test_routing_degrades_under_heavy_load():
    acc = sim.routing_accuracy(200, 512, 32, generator(0, "cpu"))
    assert all(a < 0.5 for a in acc.values())
