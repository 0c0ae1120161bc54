"""Section 5.1: chains of Hebbian layers, the residual stream, and dynamic routing."""
from dataclasses import replace

import numpy as np
import pytest
import sympy as sp
import torch
from scipy import stats as scipy_stats
from sympy.stats import Expectation

from pavlov_theory.claims import BEYOND
from pavlov_theory.proofs import conditioning as proof
from pavlov_theory.proofs.vectors import d_k, n
from pavlov_theory.sampling import generator, sample
from pavlov_theory.simulations import conditioning as sim

CLAIMS = {claim.id: claim for claim in sim.CLAIMS}


def test_product_law_is_exact_for_sphere_vectors():
    der = proof.multi_hop("sphere")
    assert sp.simplify(der.results["error"] - der.results["product_law"]) == 0


def test_gaussian_vectors_add_two_over_dk_per_hop():
    assert sp.simplify(proof.multi_hop("gaussian").results["per_hop_factor"] - (1 + (n + 1) / d_k)) == 0


def test_one_hop_is_the_noise_power_of_theorem_6():
    error = proof.multi_hop("sphere").results["error"].subs(proof.L, 1)
    assert sp.simplify(error - (n - 1) / d_k) == 0


def test_per_hop_factor_is_derived_for_general_n_from_a_sum():
    step = proof.multi_hop("sphere").steps[0]
    assert step.relation == "=" and step.lhs.has(sp.Sum) and n in step.rhs.free_symbols


@pytest.mark.parametrize("n_items, dim", [(16, 64), (64, 64), (128, 32)])
def test_mean_field_norm_cosine_is_a_cosine_that_falls_with_depth(n_items, dim):
    cosines = [proof.mean_field_norm_cosine(L, n_items, dim) for L in range(1, 6)]
    assert all(0 < c <= 1 for c in cosines)
    assert all(later < earlier for earlier, later in zip(cosines, cosines[1:]))


def test_size_four_computation_is_kept_as_a_confirmation():
    assert any(s.relation == "confirms" and "n = 4" in s.label for s in proof.multi_hop("gaussian").steps)


def test_plain_chain_signal_is_a_product_of_the_derived_square_norm():
    step = next(s for s in proof.multi_hop("rademacher").steps if s.label.startswith("E[r_L . x_L^1]"))
    assert step.lhs.has(sp.Product) and step.lhs.has(Expectation)


def test_residual_path_signal_is_derived_from_the_square_norm():
    step = next(s for s in proof.residual("sphere").steps if s.label.startswith("sum_m E[r_L . x_m^1]"))
    assert step.lhs.has(sp.Product) and step.lhs.has(Expectation)


def test_rmsnorm_power_increment_is_derived_from_the_norm_definition():
    labels = [s.label for s in proof.residual_norm().steps if s.relation == "="]
    assert any(label.startswith("||Norm(v)||^2") for label in labels)


def test_moment_rule_keeps_multiples_of_identity():
    c = sp.Symbol("c")
    out = proof.moment_map(sp.eye(3) * c, 1 / d_k, 0)
    assert out == sp.eye(3) * c * 2 / d_k


def test_chain_claims_are_labelled_beyond_the_paper():
    assert all(CLAIMS[c].paper_ref.startswith(BEYOND)
               for c in ("conditioning.multi_hop", "conditioning.residual"))


def test_chain_retrieval_matches_explicit_layers():
    r, target, path = sim.chain_retrievals(1, 2, 4, 5, "sphere", generator(7, "cpu"), torch.float64)
    g = generator(7, "cpu")
    X = [sample("sphere", (1, 4), 5, g, torch.float64) for _ in range(3)]
    S1, S2 = X[0][0].T @ X[1][0], X[1][0].T @ X[2][0]
    assert torch.allclose(r[0], X[0][0] @ S1 @ S2) and torch.allclose(target[0], X[2][0])
    assert torch.allclose(path[0], X[0][0] + X[1][0] + X[2][0])


def test_residual_chain_matches_explicit_layers():
    r, _, _ = sim.chain_retrievals(1, 2, 4, 5, "sphere", generator(7, "cpu"), torch.float64, residual=True)
    g = generator(7, "cpu")
    X = [sample("sphere", (1, 4), 5, g, torch.float64)[0] for _ in range(3)]
    eye = torch.eye(5, dtype=torch.float64)
    assert torch.allclose(r[0], X[0] @ (eye + X[0].T @ X[1]) @ (eye + X[1].T @ X[2]))


@pytest.mark.parametrize("n_items", [4, 9])  # Gram products (n < d_k) and scores times values
def test_plain_chain_errors_are_those_of_the_explicit_chain(n_items):
    params = {"L": 3, "n": n_items, "d_k": 6, "key_dist": "gaussian", "keys": "drawn"}
    gap, target = sim._plain_chain(params, 2, generator(2, "cpu"), torch.float64)
    r, x, _ = sim.chain_retrievals(2, 3, n_items, 6, "gaussian", generator(2, "cpu"), torch.float64)
    assert torch.allclose(gap, r - x) and torch.equal(target, x)


def test_residual_chain_errors_are_those_of_the_explicit_chain():
    params = {"L": 3, "n": 4, "d_k": 6, "key_dist": "sphere"}
    gap, path = sim._residual_chain(params, 2, generator(2, "cpu"), torch.float64)
    r, _, explicit = sim.chain_retrievals(2, 3, 4, 6, "sphere", generator(2, "cpu"), torch.float64,
                                          residual=True)
    assert torch.allclose(gap, r - explicit) and torch.allclose(path, explicit)


def test_rmsnorm_leaves_the_direction_of_the_plain_chain_unchanged():
    plain, _, _ = sim.chain_retrievals(3, 4, 8, 16, "sphere", generator(1, "cpu"), torch.float64)
    normed, _, _ = sim.chain_retrievals(3, 4, 8, 16, "sphere", generator(1, "cpu"), torch.float64,
                                        norm="rmsnorm")
    cos = torch.nn.functional.cosine_similarity(plain, normed, dim=-1)
    assert torch.allclose(cos, torch.ones_like(cos))


def test_residual_recursion_without_the_stream_is_the_plain_chain():
    der = proof.residual("sphere")
    assert sp.simplify(der.results["plain_power"] - 1 - proof.multi_hop("sphere").results["error"]) == 0


def test_residual_one_hop_power_is_two_plus_the_one_hop_noise():
    power = proof.residual("sphere").results["power"].subs(proof.L, 1)
    assert sp.simplify(power - (2 + (n - 1) / d_k)) == 0


def test_residual_error_is_relative_to_the_power_of_its_target():
    der = proof.residual("gaussian")
    assert der.results["target_power"] == proof.L + 1
    assert sp.simplify(der.results["relative_error"] * (proof.L + 1) - der.results["path_error"]) == 0


def test_plain_chain_error_is_relative_to_a_target_of_power_one():
    assert proof.multi_hop("gaussian").results["target_power"] == 1


def test_residual_stream_power_grows_faster_than_the_plain_chain():
    der = proof.residual("sphere")
    growth = der.evaluate("growth", n=16, d_k=64)
    assert growth > proof.multi_hop("sphere").evaluate("per_hop_factor", n=16, d_k=64) + 0.3


@pytest.mark.mc
@pytest.mark.parametrize("key_dist,L", [("sphere", 2), ("gaussian", 5)])
def test_simulated_residual_chain_matches_derivation(key_dist, L, ctx):
    claim = CLAIMS["conditioning.residual"]
    point = claim.resolve({"d_k": 32, "n": 8, "L": L, "key_dist": key_dist})
    assert claim.check(point, ctx).verdict == "exact"


@pytest.mark.mc
@pytest.mark.parametrize("key_dist,L", [("sphere", 3), ("gaussian", 6)])
def test_simulated_multi_hop_matches_derivation(key_dist, L, ctx):
    claim = CLAIMS["conditioning.multi_hop"]
    point = claim.resolve({"d_k": 32, "n": 8, "L": L, "key_dist": key_dist})
    assert claim.check(point, ctx).verdict == "exact"


@pytest.mark.mc
def test_product_law_is_rejected_for_gaussian_vectors_while_the_exact_law_passes(ctx):
    claim = CLAIMS["conditioning.multi_hop"]
    outcome = claim.check(claim.resolve({"d_k": 32, "n": 16, "L": 4, "key_dist": "gaussian"}), ctx)
    product = [row for row in outcome.evidence if row["name"] == "product_law"][0]
    assert outcome.verdict == "exact" and product["rejected"]


def test_routing_margin_variance_leads_with_two_over_dk():
    V = proof.routing().results["variance"]
    assert sp.limit(V * d_k, d_k, sp.oo) == 2


def test_routing_second_moment_is_a_checked_step():
    assert any(s.relation == "=" and s.label.startswith("E[m^2]") for s in proof.routing().steps)


def test_routing_second_moment_is_confirmed_at_two_sizes():
    assert sum(s.relation == "confirms" and s.label.startswith("E[m^2]") for s in proof.routing().steps) >= 2


def test_cantelli_is_recorded_as_proved_inequalities():
    assert sum(s.relation == "<=" for s in proof.routing().steps) >= 2


def test_cantelli_bound_is_variance_over_variance_plus_squared_mean():
    der = proof.routing()
    V, mean = der.results["variance"], der.results["mean"]
    assert sp.simplify(der.results["cantelli"] - V / (V + mean**2)) == 0


def test_routing_margins_match_explicit_association_matrices():
    draws = sim.routing_margins({"n": 5, "d_k": 6}, 2, generator(3, "cpu"), torch.float64)
    g = generator(3, "cpu")
    concept = lambda *shape: sample("sphere", shape, 6, g, torch.float64)
    animal, mammal, reptile, dog, lizard = (concept(2) for _ in range(5))
    K2 = torch.cat([mammal[:, None], reptile[:, None], concept(2, 3)], 1)
    V2 = torch.cat([dog[:, None], lizard[:, None], concept(2, 3)], 1)
    K1 = torch.cat([animal[:, None], concept(2, 4)], 1)
    V1 = torch.cat([mammal[:, None], concept(2, 4)], 1)
    r = (animal[:, None] @ K1.transpose(1, 2) @ V1 @ K2.transpose(1, 2) @ V2).squeeze(1)
    assert np.allclose(draws[0], ((r * (dog - lizard)).sum(-1)).numpy())


def test_routing_reaches_both_answers_at_low_load():
    draws = sim.routing_margins({"n": 4, "d_k": 128}, 500, generator(0, "cpu"), torch.float32)
    assert all(draws[2 + p].mean() > 0.95 and (draws[p] > 0).mean() > 0.99 for p in (0, 1))


def test_routing_decoding_collapses_under_heavy_load():
    draws = sim.routing_margins({"n": 512, "d_k": 32}, 500, generator(0, "cpu"), torch.float32)
    assert all(draws[2 + p].mean() < 0.5 for p in (0, 1))


@pytest.mark.mc
def test_routing_bound_holds_and_the_derived_moments_are_exact(ctx):
    claim = CLAIMS["conditioning.routing"]
    outcome = claim.check(claim.resolve({"d_k": 32, "n": 8}), ctx)
    moments = [row["verdict"] for row in outcome.evidence if row["name"] in ("mean", "second_moment")]
    assert outcome.verdict == "holds" and moments == ["exact", "exact"]


@pytest.mark.mc
def test_routing_compares_the_derived_cantelli_bound(ctx):
    claim = CLAIMS["conditioning.routing"]
    point = claim.resolve({"d_k": 32, "n": 8})
    outcome = claim.check(point, replace(ctx, probe=("bound", 0.5)))
    assert outcome.theory == pytest.approx(0.5 * proof.routing().evaluate("cantelli", **point), rel=1e-12)


@pytest.mark.mc
def test_routing_moment_check_rejects_a_two_percent_error(ctx):
    claim = CLAIMS["conditioning.routing"]
    outcome = claim.check(claim.resolve({"d_k": 32, "n": 8}), replace(ctx, probe=("theory", 1.02)))
    assert outcome.verdict == "fails"


@pytest.mark.mc
def test_residual_rmsnorm_power_is_one_plus_l_dk_and_a_two_percent_error_is_seen(ctx):
    from pavlov_theory.stats import mean_ci
    r, _, _ = sim.chain_retrievals(4000, 3, 16, 32, "sphere", generator(5, "cpu"), torch.float64,
                                   residual=True, norm="rmsnorm")
    ci = mean_ci((r**2).sum(-1).mean(-1).numpy(), ctx.alpha)
    power = proof.residual_norm().evaluate("power", L=3, d_k=32)
    assert (ci.lo <= power <= ci.hi and not ci.lo <= 1.02 * power <= ci.hi
            and not ci.lo <= 0.98 * power <= ci.hi)


def _margins_with_fresh_values(point, draws, samples, seed):
    """Routing margins of both paths for one trial's keys, middles and answers (``draws``, as
    ``_routing_key_draws`` returns them), with the distractor values of both layers drawn afresh
    ``samples`` times: ``animal S_1 S_2 (own - other)`` with ``S = K^T V``."""
    animal, middles, answers, others, others1 = draws
    keys2 = torch.cat([middles[0], middles[1], others[0]])
    g = generator(seed, "cpu")
    fresh = lambda count: sample("sphere", (samples, count), point["d_k"], g, torch.float64)
    values2 = torch.cat([torch.cat(answers).expand(samples, 2, -1), fresh(point["n"] - 2)], 1)
    margins = []
    for path in (0, 1):
        keys1 = torch.cat([animal, others1[path][0]])
        values1 = torch.cat([middles[path].expand(samples, 1, -1), fresh(point["n"] - 1)], 1)
        r = (animal[0] @ keys1.T @ values1 @ keys2.T)[:, None] @ values2
        margins.append((r[:, 0] @ (answers[path] - answers[1 - path])[0]).numpy())
    return margins


@pytest.mark.mc
def test_conditional_routing_moments_are_the_average_over_fresh_distractor_values(ctx):
    from pavlov_theory.stats import mean_ci
    point = {"n": 5, "d_k": 6}
    draws = sim._routing_key_draws(point, 1, generator(4, "cpu"), torch.float64)
    conditional = sim.routing_conditional(point, 1, generator(4, "cpu"), torch.float64)
    margins = _margins_with_fresh_values(point, draws, 100_000, 5)
    level = ctx.alpha / 4
    for path in (0, 1):
        for power, value in ((1, conditional[path][0]), (2, conditional[2 + path][0])):
            ci = mean_ci(margins[path] ** power, level)
            assert ci.contains(value) and ci.width < 0.1 * abs(value), (path, power, ci, value)


def test_routing_control_variates_have_derived_mean_zero():
    assert sim._value_moments(32) == (0.0, 1 / 32)


def test_routing_grid_samples_every_value_at_its_first_point_only():
    claim = CLAIMS["conditioning.routing"]
    for scale in ("ci", "book", "paper"):
        assert [p["values"] for p in claim.points(scale)][:2] == ["sampled", "averaged"]
        assert sum(p["values"] == "sampled" for p in claim.points(scale)) == 1


@pytest.mark.mc
def test_routing_moments_are_exact_on_sampled_margins(ctx):
    claim = CLAIMS["conditioning.routing"]
    outcome = claim.check(claim.resolve({"d_k": 32, "n": 8, "values": "sampled"}), ctx)
    moments = [row["verdict"] for row in outcome.evidence if row["name"] in ("mean", "second_moment")]
    assert outcome.verdict == "holds" and moments == ["exact", "exact"]


@pytest.mark.mc
def test_routing_stops_sampling_once_decided(ctx):
    claim = CLAIMS["conditioning.routing"]
    outcome = claim.check(claim.resolve({"d_k": 64, "n": 16}), ctx)
    assert outcome.verdict == "holds" and outcome.trials < ctx.max_trials // 10


@pytest.mark.parametrize("key_dist", ["sphere", "gaussian"])
def test_chain_with_keys_in_their_span_has_the_law_of_drawn_keys(key_dist):
    params = {"L": 3, "n": 4, "d_k": 7, "key_dist": key_dist}
    assert sim.keys_in_span(params)
    span = sim.CHAIN.fn(params, 20000, generator(3, "cpu"), torch.float64)
    drawn = sim.CHAIN_DRAWN_KEYS.fn(params, 20000, generator(4, "cpu"), torch.float64)
    assert scipy_stats.ks_2samp(span[0], drawn[0]).pvalue > 1e-3  # the error
    if key_dist == "sphere":  # unit targets: power 1 up to rounding either way
        assert np.allclose(span[1], 1) and np.allclose(drawn[1], 1)
    else:
        assert scipy_stats.ks_2samp(span[1], drawn[1]).pvalue > 1e-3


def test_chain_with_keys_in_their_span_rejects_keys_of_another_dimension():
    params = {"L": 3, "n": 4, "d_k": 7, "key_dist": "sphere"}
    (span, _) = sim.CHAIN.fn(params, 20000, generator(3, "cpu"), torch.float64)
    (other, _) = sim.CHAIN_DRAWN_KEYS.fn({**params, "d_k": 9}, 20000, generator(4, "cpu"), torch.float64)
    assert scipy_stats.ks_2samp(span, other).pvalue < 1e-6


def test_chain_draws_keys_in_full_where_their_span_does_not_apply():
    for params in ({"L": 2, "n": 4, "d_k": 7, "key_dist": "rademacher"},
                   {"L": 2, "n": 7, "d_k": 4, "key_dist": "sphere"},
                   {"L": 2, "n": 4, "d_k": 7, "key_dist": "sphere", "keys": "drawn"}):
        assert not sim.keys_in_span(params)
    with pytest.raises(ValueError, match="keys: expected one of law, drawn"):
        sim.keys_in_span({"L": 2, "n": 4, "d_k": 7, "key_dist": "sphere", "keys": "both"})
