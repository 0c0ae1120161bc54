"""Sections 2-4.1: Theorem 5, generalization, normalization and the selectivity statement."""
import numpy as np
import pytest
import sympy as sp
import torch

from pavlov_theory import judges, memory
from pavlov_theory.claims import get_claim
from pavlov_theory.engine import draw
from pavlov_theory.proofs import capacity
from pavlov_theory.proofs import framework as proof
from pavlov_theory.proofs.vectors import d_k
from pavlov_theory.sampling import generator
from pavlov_theory.simulations import framework as sim
from pavlov_theory.stats import mean_ci
from pavlov_theory.testing import assert_close


def test_equivalence_is_proved_at_every_size():
    decayed = sum(1 for _, m, _ in proof.EQUIVALENCE_SIZES if m == 1)
    expected = 2 * len(proof.INDEX_SIZES) + len(proof.EQUIVALENCE_SIZES) + decayed
    assert len(proof.equivalence().steps) == expected


def test_symbolic_check_rejects_a_non_causal_form():
    Q, K, V = (proof._symbol_matrix(x, 3, 2) for x in "qkv")
    assert not (Q * K.T * V - proof.recurrent(Q, K, V)).is_zero_matrix


def test_symbolic_check_rejects_a_wrong_decay():
    Q, K, V = (proof._symbol_matrix(x, 3, 2) for x in "qkv")
    wrong = proof.masked_parallel(Q, K, V, proof.gamma**2) - proof.recurrent(Q, K, V, proof.gamma)
    assert not wrong.applyfunc(sp.expand).is_zero_matrix


def test_linear_response_is_the_similarity_for_unit_keys():
    assert proof.generalization("sphere").results["response"] == proof.s


def test_gaussian_response_slope_is_the_mean_key_norm():
    slope = proof.generalization("gaussian").results["response"] / proof.s
    assert abs(float(slope.subs(d_k, 64)) - 0.99610) < 1e-4


def test_softmax_weight_ratio_holds_by_definition_of_softmax():
    logits = torch.tensor([0.7, 0.0, -0.3, 0.2], dtype=torch.float64)
    beta = 3.0
    weights = torch.softmax(beta * logits, -1)
    derived = proof.generalization("sphere").evaluate("weight_ratio", s=0.7, beta=beta)
    assert_close("softmax w(s)/w(0)", derived, float(weights[0] / weights[1]), 1e-12)


def test_raw_power_is_the_capacity_signal_plus_noise():
    for dist in ("sphere", "gaussian"):
        raw = proof.normalization(dist).results["raw_power"]
        assert sp.simplify(raw - capacity.signal_noise(dist).results["raw_power"]) == 0
    assert sp.simplify(proof.normalization("sphere").results["raw_power"] - (1 + (proof.n - 1) / d_k)) == 0


@pytest.mark.parametrize("norm", ["rmsnorm", "layernorm"])
def test_torch_norm_output_has_the_derived_squared_norm(norm):
    r = torch.randn(32, 48, generator=generator(1, "cpu"), dtype=torch.float64) * 7.0
    power = (memory.normalize(norm, r) ** 2).sum(-1)
    derived = proof.normalization("sphere").evaluate("normalized_power", d_v=48)
    assert_close(f"||{norm}(r)||^2", np.full(32, derived), power, 1e-12)


def test_torch_rmsnorm_keeps_the_direction():
    r = torch.randn(32, 48, generator=generator(2, "cpu"), dtype=torch.float64)
    cos = torch.nn.functional.cosine_similarity(memory.normalize("rmsnorm", r), r, dim=-1)
    assert_close("cos(RMSNorm(r), r)", np.ones(32), cos, 1e-12)


def test_rmsnorm_margin_change_is_derived_zero():
    assert proof.normalization("sphere").results["rms_margin_change"] == 0


@pytest.mark.parametrize("phi,norm,gamma", [("identity", "none", 1.0), ("elu1", "rmsnorm", 0.9),
                                            ("relu", "layernorm", 1.0)])
def test_three_forms_agree(phi, norm, gamma, ctx):
    claim = get_claim("framework.equivalence")
    assert claim.check(claim.resolve({"phi": phi, "norm": norm, "gamma": gamma}), ctx).verdict == "exact"


def test_equivalence_deviation_detects_an_off_by_one_mask(ctx):
    params = get_claim("framework.equivalence").resolve({"T": 16, "d_k": 4, "d_v": 4})
    parallel, recurrent, chunked, cond = sim.FORMS(params, 2, generator(0, "cpu"), torch.float64)[:4]
    shifted = np.concatenate([np.zeros_like(parallel[:, :1]), parallel[:, :-1]], axis=1)  # one step late
    assert sim.form_deviation((parallel, shifted, chunked, cond), 1.0) > 1e-6


def test_equivalence_deviation_sees_a_wrong_scale_that_norm_would_hide():
    params = get_claim("framework.equivalence").resolve({"T": 8, "d_k": 4, "d_v": 4, "norm": "rmsnorm"})
    outputs = list(sim.FORMS(params, 2, generator(0, "cpu"), torch.float64))
    outputs[1] = 2 * outputs[1]  # a recurrent form off by a factor 2 before Norm
    outputs[5] = memory.normalize("rmsnorm", torch.from_numpy(outputs[1])).numpy()
    assert sim.form_deviation(outputs[4:], 1.0) < 1e-12  # after Norm the error is invisible
    assert sim.form_deviation(outputs[:4], 1.0) > 0.5


def test_generalization_has_no_softmax_branch_and_selectivity_no_threshold():
    assert "retrieval" not in {p.name for p in get_claim("framework.generalization").params}
    assert "min_gain" not in {p.name for p in get_claim("framework.selectivity").params}


@pytest.mark.mc
@pytest.mark.parametrize("key_dist", ["sphere", "gaussian"])
def test_linear_generalization_matches_derivation(key_dist, ctx):
    claim = get_claim("framework.generalization")
    assert claim.check(claim.resolve({"s": 0.6, "key_dist": key_dist}), ctx).verdict == "exact"


@pytest.mark.mc
def test_raw_power_matches_derivation(ctx):
    claim = get_claim("framework.normalization")
    assert claim.check(claim.resolve({"n": 32, "key_dist": "gaussian"}), ctx).verdict == "exact"


def test_rmsnorm_does_not_amplify_selectivity(ctx):
    claim = get_claim("framework.selectivity")
    outcome = claim.check(claim.resolve({"norm": "rmsnorm"}), ctx)
    assert outcome.verdict == "fails" and outcome.theory == 0.0


@pytest.mark.mc
def test_layernorm_lowers_the_margin_on_average(ctx):
    claim = get_claim("framework.selectivity")
    outcome = claim.check(claim.resolve({"norm": "layernorm"}), ctx)
    assert outcome.verdict == "fails" and outcome.ci[1] < 0


def test_selectivity_judge_would_accept_a_real_gain(ctx):
    params = get_claim("framework.selectivity").resolve({"n": 16})
    (change,) = draw(ctx, params, sim.MARGIN, 256)
    band = sim.margin_rounding(params["d_v"], ctx.eps)
    assert judges.sign(mean_ci(change + 0.05, ctx.alpha), band) == "holds"
