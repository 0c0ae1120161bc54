"""Beyond linear attention: softmax retrieval and feature maps (derivations, helpers, bad input)."""
import math
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import sympy as sp
import torch

from pavlov_theory import judges
from pavlov_theory.claims import get_claim
from pavlov_theory.proofs import softmax as proof
from pavlov_theory.sampling import generator, sample
from pavlov_theory.simulations import softmax
from pavlov_theory.stats import Interval, look_sizes
from pavlov_theory.testing import assert_close, assert_same_mean


def test_derivations_build():
    for derive in (proof.cosine_mgf, proof.snr, proof.capacity, proof.optimal_beta, proof.gradient,
                   proof.feature_maps):
        assert derive().steps


def test_cosine_mgf_is_one_at_zero_and_exceeds_the_mean_field_nowhere_below_it_at_small_t():
    der = proof.cosine_mgf()
    assert_close("M(0)", 1.0, der.evaluate("mgf", d_k=16, t=1e-9), 1e-9)
    for t in (0.5, 1.0):  # the quartic cumulant is negative: M below the Gaussian form
        assert der.evaluate("mgf", d_k=16, t=t) < der.evaluate("mean_field_mgf", d_k=16, t=t)


def test_cosine_mgf_matches_a_monte_carlo_cosine():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(200_000, 2, 8, generator=gen, dtype=torch.float64)
    x = x / x.norm(dim=-1, keepdim=True)
    cos = (x[:, 0] * x[:, 1]).sum(-1)
    derived = proof.cosine_mgf().evaluate("mgf", d_k=8, t=2.0)
    assert_close("E exp(2c)", float(torch.exp(2 * cos).mean()), derived, 5e-3)


def test_unnormalised_snr_tends_to_the_uniform_average_and_beats_the_unnormalised_hebbian_read_out():
    der = proof.snr()
    point = {"d_k": 16, "n": 64, "s": 1.0}
    uniform = der.evaluate("uniform_snr", **point)
    assert_close("beta -> 0", uniform, der.evaluate("snr", beta=1e-6, **point), 1e-5)
    assert der.evaluate("snr", beta=4.0, **point) > 10 * der.evaluate("linear_snr", **point)


def test_mean_field_snr_is_low_by_about_the_quartic_cumulant_at_two_beta():
    der = proof.snr()
    point = {"d_k": 64, "n": 256, "s": 1.0, "beta": 3.0}
    correction = der.evaluate("mean_field_correction", **point)
    assert_close("4 beta^4/(d_k^2 (d_k+2))", 4 * 3.0**4 / (64**2 * 66), correction, 1e-12)
    log_ratio = math.log(der.evaluate("snr", **point) / der.evaluate("mean_field_snr", **point))
    assert_close("log(exact/mean field)", correction, log_ratio, 0.1)


def test_normalised_read_out_powers_are_the_weighted_target_and_the_weighted_rest():
    params = {"n": 6, "d_k": 4, "d_v": 3, "beta": 2.0, "s": 1.0}
    signal, noise = softmax.normalised_powers(params, 50, generator(2, "cpu"), torch.float64)
    assert np.all(signal > 0) and np.all(signal <= 1) and np.all(noise >= 0)
    assert np.all(noise <= 1)  # ||sum_{j>0} w_j v_j|| <= sum_{j>0} w_j <= 1


def test_rem_ratio_reaches_one_at_beta_rem():
    der = proof.snr()
    beta_rem = der.evaluate("beta_rem", d_k=16, n=64)
    assert_close("rem ratio", 1.0, der.evaluate("rem_ratio", d_k=16, n=64, beta=beta_rem), 1e-12)


def test_capacity_laws_tell_exponential_from_power():
    der = proof.capacity()
    assert der.evaluate("q_power") == -1 and der.evaluate("q_exponential") == 0
    assert der.evaluate("q_stretched") == -0.5
    assert abs(der.evaluate("q_mf", d_k=4, kappa=0.5, delta=0.5)) < 0.05
    assert_close("rate", 0.375, der.evaluate("rate", kappa=0.5), 1e-12)


def test_mean_field_capacity_is_the_load_where_mean_r1_reaches_rho():
    der, mgf = proof.capacity(), proof.cosine_mgf()
    d, kappa, delta = 8, 0.5, 0.5
    beta, rho = kappa * (d - 1), math.sqrt(delta) / (1 - math.sqrt(delta))
    load = der.evaluate("capacity_mf", d_k=d, kappa=kappa, delta=delta)
    mean_r1 = (load - 1) * math.exp(-beta) * mgf.evaluate("mgf", d_k=d, t=beta)
    assert_close("E[R1] at capacity", rho, mean_r1, 1e-9)


def test_ramsauer_bound_reproduces_their_worked_example():
    # beta = 1, K = 3 (beta K^2 = 9), d = 20, p = 0.001: c = 3.1546, so N >= 7
    bound = softmax.ramsauer_bound(20, 9.0, 0.001)
    assert_close("c", 3.1546, (bound / math.sqrt(0.001)) ** (4 / 19), 1e-4)
    assert math.floor(bound) == 7


def test_load_grid_is_geometric_and_reaches_the_top():
    loads = softmax.load_grid(1000)
    assert loads[0] == 2 and loads[-1] >= 1000
    assert all(b > a for a, b in zip(loads, loads[1:]))


def test_crossing_brackets_the_load_where_failures_pass_epsilon():
    loads = (2, 4, 8, 16, 32)
    counts = np.array([0, 10, 50, 900, 1000])
    cap = softmax.crossing(counts, loads, 1000, 0.1, 1e-3)
    assert 8 <= cap["capacity"] <= 16 and cap["ci"][0] <= cap["capacity"] <= cap["ci"][1]


def test_optimal_beta_is_the_inverse_noise_variance():
    der = proof.optimal_beta()
    assert der.evaluate("optimal_beta", sigma2=0.125) == 8.0
    assert_close("uniform error", 63 / 64, der.evaluate("uniform_error", n=64), 1e-12)
    assert any("posterior" in step.label for step in der.steps)
    decomposition = [step for step in der.steps if step.relation == "<="]
    assert decomposition and decomposition[0].certificate.free_symbols >= set(sp.symbols("v1:4", real=True))


def test_gradient_exponents_are_gaussian_not_shepard():
    der = proof.gradient()
    assert der.evaluate("shepard_exponent") == 1 and der.evaluate("gaussian_exponent") == 2
    assert 1.9 < der.evaluate("linear_exponent", D_lo=0.1) < 2.3
    assert 1.9 < der.evaluate("softmax_exponent", D_lo=0.1, beta=4.0, n=64, d_k=16) < 2.3


def test_feature_means_are_the_rectified_gaussian_moments():
    der = proof.feature_maps()
    assert_close("relu mean", 1 / math.sqrt(2 * math.pi), der.evaluate("relu_mean"), 1e-12)
    assert_close("dpfp mean", 1 / (2 * math.pi), der.evaluate("dpfp_mean"), 1e-12)
    elu1 = 1 / math.sqrt(2 * math.pi) + 0.5 + math.exp(0.5) * 0.5 * math.erfc(1 / math.sqrt(2))
    assert_close("elu1 mean", elu1, der.evaluate("elu1_mean"), 1e-12)


@pytest.mark.parametrize("phi", proof.FEATURE_MAPS)
def test_common_mode_bounds_the_raw_snr_while_centring_restores_growth(phi):
    der = proof.feature_maps()
    raw = [der.evaluate(f"{phi}_snr_raw", d_k=d, n=64) for d in (16, 1024)]
    centred = [der.evaluate(f"{phi}_snr_centred", d_k=d, n=64) for d in (16, 1024)]
    assert raw[1] < der.evaluate(f"{phi}_snr_limit", n=64) * 1.01 and raw[1] < 2 * raw[0]
    assert centred[1] > 20 * centred[0]  # grows without bound (DPFP: correlated features, slower)


def test_common_mode_law_is_confirmed_by_brute_force_with_a_nonzero_mean():
    labels = [step.label for step in proof.feature_maps().steps if step.relation == "confirms"]
    for size in (2, 3):
        assert any(f"ReLU raw, m = {size}: E[(phi . phi')^2]" in label for label in labels)
        assert any(f"ReLU centred, m = {size}: E[(phi . phi')^2]" in label for label in labels)


def test_feature_moment_steps_have_closed_form_right_sides():
    for step in proof.feature_maps().steps[:8]:  # the ReLU and elu + 1 moments
        assert not step.rhs.has(sp.Integral)


def test_dpfp_features_match_the_closed_form_products():
    x = torch.tensor([[0.5, -1.0, 2.0, -0.3]])
    u = [0.5, 0, 2.0, 0, 0, 1.0, 0, 0.3]
    expected = torch.tensor([[u[i] * u[(i + 1) % 8] for i in range(8)]])
    assert_close("dpfp", expected, softmax.features("dpfp", x), 1e-12)


def _run(*args):
    out = subprocess.run([sys.executable, "-m", "pavlov_theory.cli", *args], capture_output=True, text=True)
    return out.returncode, (out.stderr + out.stdout).strip()


def test_beta_out_of_range_is_one_line_and_exit_code_2():
    code, message = _run("check", "softmax.snr", "--set", "beta=60")
    assert code == 2 and len(message.splitlines()) == 1 and "beta" in message and "[0, 50]" in message


def test_unknown_feature_map_is_one_line_and_exit_code_2():
    code, message = _run("check", "softmax.feature_maps", "--set", "phi=gelu")
    assert code == 2 and len(message.splitlines()) == 1 and "phi" in message and "dpfp" in message


def test_claims_are_beyond_the_paper_and_name_section_6_6():
    for claim_id in ("softmax.snr", "softmax.capacity", "softmax.optimal_beta", "softmax.gradient",
                     "softmax.feature_maps"):
        claim = get_claim(claim_id)
        assert claim.beyond_paper and "6.6" in claim.paper_ref


def test_capacity_curves_fail_more_at_higher_load():
    params = {"d_k": 8, "d_v": 8, "kappa": 0.5, "delta": 0.5, "loads": (2, 8, 64, 512)}
    outputs = softmax.capacity_curves(params, 400, generator(5, "cpu"), torch.float64)
    for out in outputs:
        rates = out.mean(0)
        assert rates[0] <= rates[-1]


@pytest.mark.mc
def test_optimal_beta_holds_at_ci(ctx):
    claim = get_claim("softmax.optimal_beta")
    assert all(claim.check(point, ctx).verdict == "holds" for point in claim.points("ci"))


@pytest.mark.mc
def test_optimal_beta_stops_at_the_first_look_that_decides(ctx):
    claim = get_claim("softmax.optimal_beta")
    assert claim.check(claim.points("ci")[0], ctx).trials == softmax.BETA_TRIALS["ci"]


@pytest.mark.mc
def test_optimal_beta_draws_more_looks_where_the_first_is_too_small_for_its_skewness(ctx):
    # near-orthogonal keys and little probe noise: a large beta errs rarely and badly, so the
    # differences are skewed and the first look's intervals are unbounded (engine.sized)
    claim = get_claim("softmax.optimal_beta")
    outcome = claim.check(claim.resolve({"d_k": 64, "n": 64, "sigma2": 0.03}), ctx)
    assert outcome.trials > softmax.BETA_TRIALS["ci"]


def test_optimal_beta_judges_each_look_at_its_share_of_the_level_on_draws_of_its_own(ctx, monkeypatch):
    levels, streams = [], []
    width = len(softmax.BETA_FACTORS)
    monkeypatch.setattr(softmax, "sized", lambda name, samples, level: levels.append(level)
                        or Interval(0.0, -math.inf, math.inf, len(samples[0])))
    monkeypatch.setattr(softmax, "draw", lambda c, p, kernel, size, stream: streams.append(stream)
                        or (np.zeros((size, width)), np.zeros(size), np.zeros(size)))
    claim = get_claim("softmax.optimal_beta")
    claim.check(claim.points("ci")[0], ctx)  # every interval unbounded: never decided
    looks = len(look_sizes(softmax.BETA_TRIALS["ci"], ctx.max_trials))
    half = ctx.alpha / 2
    assert len(levels) == looks * (width + 1)
    assert set(levels) == {half / looks / width, half / looks}
    assert len(set(streams)) == len(streams) == looks


def _record_beta_looks(monkeypatch):
    """Replace the optimal-beta kernel by zeros and record the size of each look it draws."""
    sizes, width = [], len(softmax.BETA_FACTORS)
    monkeypatch.setattr(softmax, "draw", lambda c, p, kernel, size, stream: sizes.append(size)
                        or (np.zeros((size, width)), np.zeros(size), np.zeros(size)))
    return sizes


def test_optimal_beta_cuts_its_first_look_to_max_trials(ctx, monkeypatch):
    sizes = _record_beta_looks(monkeypatch)
    monkeypatch.setattr(softmax, "sized", lambda name, samples, level: Interval(0.0, -math.inf, math.inf, 2))
    claim = get_claim("softmax.optimal_beta")
    cap = softmax.BETA_TRIALS["ci"] // 2
    claim.check(claim.points("ci")[0], replace(ctx, max_trials=cap))
    assert sizes == look_sizes(cap, cap)


def test_optimal_beta_draws_on_while_the_uniform_error_is_undecided(ctx, monkeypatch):
    sizes = _record_beta_looks(monkeypatch)
    monkeypatch.setattr(judges, "argmin", lambda predicted, grid, intervals: ("holds", [predicted]))
    monkeypatch.setattr(judges, "exact", lambda theory, ci: "undecided")
    claim = get_claim("softmax.optimal_beta")
    claim.check(claim.points("ci")[0], ctx)
    assert sizes == look_sizes(softmax.BETA_TRIALS["ci"], ctx.max_trials)


def test_averaged_noise_is_the_sampled_noise_averaged_over_the_values():
    params = {"n": 6, "d_k": 4, "beta": 2.0, "s": 0.8}
    ratio = softmax._weight_ratios(params, 1, generator(4, "cpu"), torch.float64)[0, 0]
    values = sample("sphere", (200_000, 6), 3, generator(5, "cpu"), torch.float64)
    noise = ((ratio[None, :, None] * values).sum(1) ** 2).sum(-1)
    se = float(noise.std()) / math.sqrt(noise.numel())
    assert abs(float(noise.mean()) - float((ratio * ratio).sum())) < 5 * se


def test_values_are_sampled_at_one_point_per_scale_and_averaged_at_the_probe_point():
    claim = get_claim("softmax.snr")
    for scale in ("ci", "book", "paper"):
        assert [p["values"] for p in claim.points(scale)].count("sampled") == 1
    assert claim.probe_point()["values"] == "averaged"


def test_averaged_softmax_response_is_the_target_weight():
    params = {"n": 7, "d_k": 5, "d_v": 3, "beta": 3.0, "distances": (0.3,)}
    keys, values, ortho = softmax._gradient_probes(params, 2, generator(6, "cpu"), torch.float64)
    s, c = softmax._plane(0.3)
    weights = torch.softmax(3.0 * (s * keys + c * ortho)[:, :7] @ keys.transpose(1, 2), -1)
    _, soft = softmax.gradient_responses(params, 2, generator(6, "cpu"), torch.float64)
    assert_close("w_ii", weights.diagonal(dim1=1, dim2=2).mean(-1), soft[:, 1], 1e-12)


@pytest.mark.parametrize("s", [1.0, 0.8])
def test_averaged_snr_kernels_have_the_means_of_the_sampled_ones(s):
    params, trials = {"n": 6, "d_k": 4, "d_v": 3, "beta": 2.0, "s": s}, 100_000
    pairs = ((softmax.softmax_powers, softmax.softmax_powers_averaged),
             (softmax.normalised_powers, softmax.normalised_powers_averaged))
    for index, (plain, averaged) in enumerate(pairs):
        a = plain(params, trials, generator(31 + index, "cpu"), torch.float64)
        b = averaged(params, trials, generator(41 + index, "cpu"), torch.float64)
        for name, x, y in zip(("signal", "noise"), a, b):
            assert_same_mean(f"{plain.__name__} {name}", x, y)


def test_gradient_responses_have_the_means_of_the_drawn_read_outs():
    """On the same draws, the softmax response averaged over the values differs from the drawn
    ``sum_j w_ij (v_j . v_i)`` by a mean-0 term; the linear response has mean ``s = 1 - D^2/2``."""
    params, trials = {"n": 7, "d_k": 5, "d_v": 3, "beta": 3.0, "distances": (0.3, 0.9)}, 50_000
    keys, values, ortho = softmax._gradient_probes(params, trials, generator(8, "cpu"), torch.float64)
    linear, soft = softmax.gradient_responses(params, trials, generator(8, "cpu"), torch.float64)
    for index, dist in enumerate((0.0, *params["distances"])):
        s, c = softmax._plane(dist)
        weights = torch.softmax(3.0 * (s * keys + c * ortho) @ keys.transpose(1, 2), -1)
        drawn = ((weights @ values) * values).sum(-1).mean(-1).numpy()
        gap = drawn - soft[:, index]
        assert abs(gap.mean()) < 5 * gap.std() / math.sqrt(trials), dist
        se = linear[:, index].std() / math.sqrt(trials)
        assert abs(linear[:, index].mean() - s) < 5 * se, dist


def test_the_mean_field_mgf_is_computed_from_the_assumed_normal_law():
    der = proof.cosine_mgf()
    assumed = next(s for s in der.steps if s.relation == "assumes")
    step = der.steps[der.steps.index(assumed) + 1]
    assert step.lhs.has(assumed.rhs) and step.rhs == der.results["mean_field_mgf"]


def test_snr_draws_the_normalised_read_out_within_max_trials(ctx):
    """The reported normalised SNR obeys ``--trials`` like every interval of the check."""
    claim = get_claim("softmax.snr")
    point = next(p for p in claim.points("ci") if p["values"] == "averaged")
    cap = softmax.NORMALISED_TRIALS["averaged"]["ci"] // 4
    result = claim.check(point, replace(ctx, max_trials=cap))
    (row,) = [r for r in result.evidence if r["name"] == "normalised_snr"]
    assert row["trials"] == cap
