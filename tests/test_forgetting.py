"""Definition 7 (eq 17): the SNR under decay, the effective capacity, the optimal decay, and the
paper's statement that decay keeps a fixed capacity while Hebbian memory saturates."""
import math
from dataclasses import replace

import numpy as np
import pytest
import sympy as sp
import torch

from pavlov_theory.claims import ParamError, get_claim
from pavlov_theory.proofs import forgetting as proof
from pavlov_theory.proofs.forgetting import T, gamma, tau
from pavlov_theory.proofs.vectors import d_k
from pavlov_theory.sampling import generator
from pavlov_theory.simulations import forgetting as sim
from pavlov_theory.testing import assert_close, assert_same_mean


def test_sphere_snr_at_gamma_one_is_the_hebbian_law():
    assert sp.simplify(proof.snr("sphere").results["snr_hebbian"] - d_k / (T - 1)) == 0


def test_gaussian_keys_gain_the_fourth_moment_of_the_norm():
    assert sp.simplify(proof.snr("gaussian").results["strength"] - (d_k + 2)) == 0


def test_snr_of_a_two_item_stream_is_read_off_the_definition():
    # T = 2, probe the newest: one interfering item of weight gamma^2, E[c^2] = 1/d_k
    snr = proof.snr("sphere").results["snr"].subs({T: 2, tau: 0})
    assert sp.simplify(snr - d_k / gamma**2) == 0


def test_snr_tends_to_its_limit_as_the_stream_grows():
    der = proof.snr("sphere")
    values = {"d_k": 64, "gamma": 0.9, "tau": 4}
    assert_close("limit", der.evaluate("snr_limit", **values), der.evaluate("snr", **values, T=5000), 1e-12)


def test_effective_capacity_counts_the_lags_whose_snr_reaches_snr_min():
    der, snr = proof.effective_capacity(), proof.snr("sphere")
    point = {"d_k": 64, "gamma": 0.9, "snr_min": 2.0, "T": 1000}
    count = sum(snr.evaluate("snr", **point, tau=t) >= 2.0 for t in range(point["T"]))
    assert der.evaluate("items", **point) == count


def test_effective_capacity_limit_does_not_depend_on_T():
    assert T not in proof.effective_capacity().results["items_limit"].free_symbols


def test_a_short_stream_holds_more_items_than_the_limit():
    der, point = proof.effective_capacity(), {"d_k": 64, "gamma": 0.9, "snr_min": 2.0}
    assert der.evaluate("items", **point, T=10) > der.evaluate("items_limit", **point)


def test_optimal_decay_limit_is_sqrt_tau_over_tau_plus_one():
    der = proof.optimal_decay()
    assert sp.simplify(der.results["gamma_limit"] - sp.sqrt(tau / (tau + 1))) == 0


def test_finite_stream_optimum_is_a_root_of_the_stationarity_polynomial():
    x = proof.optimal_decay().evaluate("x_opt", tau=10, T=30)
    assert abs(sum((a - 10) * x**a for a in range(30))) < 1e-9


def test_finite_stream_optimum_beats_its_neighbours():
    der = proof.snr("sphere")
    best = proof.optimal_decay().evaluate("gamma_opt", tau=10, T=30)
    at = lambda g: der.evaluate("snr", d_k=64, gamma=g, tau=10, T=30)
    assert at(best) > max(at(best - 1e-4), at(best + 1e-4))


def test_finite_stream_optimum_lies_above_the_long_stream_optimum():
    assert proof.optimal_decay().evaluate("x_opt", tau=10, T=30) > 10 / 11


def test_optimum_of_a_stream_too_long_to_resolve_is_the_long_stream_optimum():
    # (10/11)^(10^5) underflows: the root is 10/11 to the last bit, returned by the bracketing
    assert proof.optimal_decay().evaluate("x_opt", tau=10, T=10**5) == 10 / 11


def test_optimal_capacity_solves_its_equation():
    n, _ = proof.optimal_capacity(50.0)
    assert_close("n (1 + 1/(n-1))^(n-1)", 51.0, n * (1 + 1 / (n - 1)) ** (n - 1), 1e-9)


def test_finite_count_equals_the_limit_from_the_settle_length_on():
    der, point = proof.effective_capacity(), {"d_k": 64, "gamma": 0.97, "snr_min": 2.0}
    settle = int(der.evaluate("settle_length", **point))
    limit = der.evaluate("items_limit", **point)
    counts = [der.evaluate("items", **point, T=t) for t in (settle - 1, settle, 10 * settle, 10**5)]
    assert counts[0] != limit and counts[1:] == [limit] * 3


def test_saturation_length_is_where_the_hebbian_snr_reaches_snr_min():
    der, point = proof.effective_capacity(), {"d_k": 64, "snr_min": 2.0}
    length = der.evaluate("saturation_length", **point)
    assert_close("d_k/(T-1)", 2.0, proof.snr("sphere").evaluate("snr_hebbian", d_k=64, T=length), 1e-12)


def test_count_probe_point_shifts_the_count_by_one_item_each_way():
    n = proof.effective_capacity().evaluate("items", **sim.COUNT_PROBE, T=1000)
    assert (round(n * 1.02), round(n * 0.98)) == (n + 1, n - 1)


def test_drawn_values_add_cross_terms_to_the_noise():
    params = {"d_k": 4, "d_v": 2, "gamma": 0.9, "tau": 1, "T": 6, "key_dist": "sphere"}
    _, noise = sim.STREAM.fn(params, 3, generator(5, "cpu"), torch.float64)
    draws = sim._draws(params, 3, generator(5, "cpu"), torch.float64)
    probes, (_, keys, _) = next(draws), next(draws)
    weight = torch.tensor([0.9 ** (2 * a) if a != 1 else 0.0 for a in range(6)], dtype=torch.float64)
    averaged = ((probes @ keys.transpose(-1, -2)) ** 2 * weight).sum(-1).mean(-1).numpy()
    assert np.abs(noise - averaged).min() > 1e-6


def test_averaged_noise_is_the_mean_of_the_drawn_noise_given_the_keys():
    # one chunk: the same seed draws the same probes and keys with or without values, so the
    # difference has mean 0 exactly when E[noise | keys] is the averaged noise
    params = {"d_k": 4, "d_v": 2, "gamma": 0.9, "tau": 1, "T": 6, "key_dist": "sphere"}
    _, drawn = sim.STREAM.fn(params, 20000, generator(5, "cpu"), torch.float64)
    _, averaged = sim.AVERAGED.fn({**params, "d_v": 0}, 20000, generator(5, "cpu"), torch.float64)
    difference = drawn - averaged
    assert abs(difference.mean()) < 5 * difference.std() / math.sqrt(difference.size)


def test_averaged_noise_varies_less_than_the_drawn_noise():
    params = {"d_k": 4, "d_v": 2, "gamma": 0.9, "tau": 1, "T": 6, "key_dist": "sphere"}
    _, drawn = sim.STREAM.fn(params, 20000, generator(5, "cpu"), torch.float64)
    _, averaged = sim.AVERAGED.fn({**params, "d_v": 0}, 20000, generator(5, "cpu"), torch.float64)
    assert averaged.var() < drawn.var()


def test_contrast_with_drawn_values_matches_its_naive_reference():
    params = {**sim.CONTRAST.example, "d_v": 2}
    got = sim.CONTRAST.fn(params, 3, generator(7, "cpu"), torch.float64)[0]
    ref = sim.CONTRAST.naive(params, 3, generator(7, "cpu"), torch.float64)[0]
    assert_close("decay contrast", ref, got, 1e-9)


def test_contrast_of_a_decay_with_itself_is_zero():
    params = {**sim.CONTRAST.example, "gamma_ref": sim.CONTRAST.example["gamma"]}
    (contrast,) = sim.CONTRAST.fn(params, 3, generator(7, "cpu"), torch.float64)
    assert_close("contrast", np.zeros(3), contrast, 0.0)


def test_contrast_refuses_keys_of_random_norm():
    gaussian = {**sim.CONTRAST.example, "key_dist": "gaussian"}
    with pytest.raises(ValueError, match=r"^key_dist: expected sphere"):
        sim.CONTRAST.fn(gaussian, 3, generator(7, "cpu"), torch.float64)


def test_contrast_draws_the_ages_of_the_slower_decay():
    point = {**sim.CONTRAST.example, "T": 10**4, "gamma": 0.9, "gamma_ref": 0.99}
    slower_alone = {**{k: v for k, v in point.items() if k != "gamma_ref"}, "gamma": 0.99}
    assert sim.drawn_ages(point) == sim.drawn_ages(slower_alone)


def test_saturation_refuses_a_shortest_stream_below_the_settle_length():
    # gamma = 0.97: the finite count equals the limit only from T = 102 on, so T/100 = 10 is refused
    with pytest.raises(ParamError, match=r"^T: expected T/100 >= 102"):
        get_claim("forgetting.saturation").resolve({"d_k": 64, "gamma": 0.97, "snr_min": 2.0, "T": 1000})


def test_saturation_refuses_a_decay_that_keeps_no_item():
    with pytest.raises(ParamError, match=r"^snr_min: expected a threshold some item reaches"):
        get_claim("forgetting.saturation").resolve({"d_k": 64, "gamma": 0.99, "snr_min": 2.0})


def test_optimal_capacity_tends_to_hebbian_capacity_over_e():
    n, _ = proof.optimal_capacity(10**6)
    assert_close("n_opt e / (1 + rho)", 1.0, n * math.e / (1 + 10**6), 1e-5)


def test_kernel_truncation_leaves_out_less_than_epsilon_of_the_noise():
    params = {"d_k": 8, "gamma": 0.5, "tau": 1, "T": 500, "key_dist": "sphere"}
    ages = sim.drawn_ages(params)
    assert ages < params["T"] and params["gamma"] ** (2 * ages) <= sim.EPS64


def test_kernel_is_memory_bounded_in_the_stream_length():
    long = sim.STREAM.bytes_per_trial({"d_k": 64, "d_v": 64, "gamma": 1.0, "tau": 0, "T": 10**6}, 4)
    short = sim.STREAM.bytes_per_trial({"d_k": 64, "d_v": 64, "gamma": 1.0, "tau": 0, "T": 10**4}, 4)
    assert long == short


def test_kernel_draws_reproduce_under_the_same_seed():
    params = {"d_k": 8, "d_v": 4, "gamma": 0.9, "tau": 2, "T": 50, "key_dist": "rademacher"}
    a = sim.STREAM.fn(params, 4, generator(3, "cpu"), torch.float64)
    b = sim.STREAM.fn(params, 4, generator(3, "cpu"), torch.float64)
    assert_close("signal", a[0], b[0], 0.0)


def test_lag_outside_the_stream_is_refused_naming_tau():
    with pytest.raises(ParamError, match=r"^tau: expected an integer in \[0, 9\]"):
        get_claim("forgetting.snr_by_lag").resolve({"tau": 10, "T": 10})


def test_gamma_zero_is_refused_with_its_range():
    with pytest.raises(ParamError, match=r"gamma: expected a number in \(0, 1\]"):
        get_claim("forgetting.snr_by_lag").resolve({"gamma": 0.0})


def test_optimal_decay_refuses_a_lag_past_half_the_stream():
    with pytest.raises(ParamError, match=r"^tau: expected an integer in \[1, 4.5\)"):
        get_claim("forgetting.optimal_decay").resolve({"tau": 5, "T": 10})


@pytest.mark.mc
def test_gaussian_snr_by_lag_is_exact(ctx):
    claim = get_claim("forgetting.snr_by_lag")
    point = claim.resolve({"d_k": 16, "gamma": 0.8, "tau": 2, "T": 100, "key_dist": "gaussian"})
    assert claim.check(point, ctx).verdict == "exact"


@pytest.mark.mc
def test_hebbian_snr_at_a_long_stream_is_exact(ctx):
    claim = get_claim("forgetting.snr_by_lag")
    point = claim.resolve({"d_k": 32, "gamma": 1.0, "tau": 0, "T": 20000})
    assert claim.check(point, ctx).verdict == "exact"


@pytest.mark.mc
def test_snr_with_four_value_dimensions_is_exact(ctx):
    # d_v = 4: the value cross terms v_j . v_l are large, and average to 0 (at d_v = 2 their
    # variance leaves the interval too wide for the exact rule within the suite's trial budget)
    claim = get_claim("forgetting.snr_by_lag")
    point = claim.resolve({"d_k": 16, "gamma": 0.8, "tau": 1, "T": 40, "d_v": 4})
    assert claim.check(point, ctx).verdict == "exact"


@pytest.mark.mc
def test_saturation_finds_no_hebbian_item_above_snr_min(ctx):
    claim = get_claim("forgetting.saturation")
    outcome = claim.check(claim.resolve({"d_k": 64, "gamma": 0.9, "snr_min": 2.0, "T": 5000}), ctx)
    hebbian = [r for r in outcome.evidence if r["name"].startswith("hebbian")]
    assert [r["T"] for r in hebbian] == sorted(r["T"] for r in hebbian)
    assert [(r["hebbian_items"], r["side"], r["verdict"]) for r in hebbian][2:] == [(0, "fails", "holds")] * 3


@pytest.mark.mc
def test_saturation_reads_the_hebbian_snr_on_either_side_of_the_derived_saturation_length(ctx):
    claim = get_claim("forgetting.saturation")
    outcome = claim.check(claim.resolve({"d_k": 64, "gamma": 0.9, "snr_min": 2.0, "T": 5000}), ctx)
    length = next(r["value"] for r in outcome.evidence if r["name"] == "saturation_length")
    below, above = [r for r in outcome.evidence if r["name"].startswith("hebbian")][:2]
    assert below["T"] < length < above["T"] < 5000 // 100
    assert (below["hebbian_items"], below["side"], below["verdict"]) == (below["T"], "holds", "holds")
    assert (above["hebbian_items"], above["side"], above["verdict"]) == (0, "fails", "holds")


@pytest.mark.mc
@pytest.mark.parametrize("factor", [1.5, 1 / 1.5])
def test_saturation_rejects_a_saturation_length_off_by_half_again(ctx, factor):
    claim = get_claim("forgetting.saturation")
    probed = replace(ctx, probe=("theory", factor))
    outcome = claim.check(claim.resolve({"d_k": 64, "gamma": 0.9, "snr_min": 2.0, "T": 5000}), probed)
    length = next(r["value"] for r in outcome.evidence if r["name"] == "saturation_length") * factor
    lengths = {math.floor(length / sim.SATURATION_MARGIN), math.ceil(length * sim.SATURATION_MARGIN)}
    near = [r for r in outcome.evidence if r["name"].startswith("hebbian") and r["T"] in lengths]
    assert len(near) == 2 and "fails" in [r["verdict"] for r in near]


@pytest.mark.mc
@pytest.mark.parametrize("factor", [sim.MEMORY_FACTOR, 1 / sim.MEMORY_FACTOR])
def test_optimal_decay_location_rejects_a_memory_length_off_by_its_factor(ctx, factor):
    """The location alone (not the SNR at the optimum, which the probe moves as well) rejects a
    memory length off by MEMORY_FACTOR either way."""
    claim = get_claim("forgetting.optimal_decay")
    probed = replace(ctx, probe=("theory", factor))
    outcome = claim.check(claim.resolve({"d_k": 64, "tau": 10, "T": 1000}), probed)
    assert next(r for r in outcome.evidence if r["name"] == "located")["verdict"] == "fails"


@pytest.mark.mc
def test_optimal_decay_reports_the_cell_between_its_neighbours(ctx):
    claim = get_claim("forgetting.optimal_decay")
    outcome = claim.check(claim.resolve({"d_k": 64, "tau": 10, "T": 1000}), ctx)
    assert outcome.ci[0] < outcome.theory < outcome.ci[1]


@pytest.mark.parametrize("dist, d_v", [("sphere", 0), ("gaussian", 3), ("rademacher", 0)])
def test_probe_kernel_matches_its_naive_reference_across_age_chunks(monkeypatch, dist, d_v):
    # chunks of 3 ages: the gaussian probe's norm is held across the chunks of its cosines
    monkeypatch.setattr(sim, "AGE_CHUNK", 3)
    params = {"d_k": 5, "d_v": d_v, "gamma": 0.8, "tau": 4, "T": 8, "key_dist": dist}
    got = sim.PROBE_STREAM.fn(params, 3, generator(7, "cpu"), torch.float64)
    ref = sim.PROBE_STREAM.naive(params, 3, generator(7, "cpu"), torch.float64)
    for name, a, b in zip(("signal", "noise"), ref, got):
        assert_close(name, a, b, 1e-9)


def test_probe_kernel_holds_the_gaussian_norm_across_the_signal_and_its_age_chunks(monkeypatch):
    # The naive reference reads the same draws, so it cannot see the norm redrawn. Joint moments
    # can: with ||k_m||^2 = X held, signal ~ X^2 and each chunk's noise ~ X, so E[signal noise]
    # takes E[X^3] and E[noise^2] takes E[X^2] across chunks; a norm redrawn for the noise (or for
    # a later chunk) gives E[X^2] E[X] (or E[X]^2) instead, 1 + 4/d_k (or 1 + 2/d_k) times less.
    # Against the sixteen-probe kernel's real keys, a per-trial mean over its (correlated) probes.
    monkeypatch.setattr(sim, "AGE_CHUNK", 3)  # T = 12 ages: four chunks
    point = {"d_k": 4, "d_v": 0, "gamma": 0.9, "tau": 1, "T": 12, "key_dist": "gaussian"}
    signal, noise = sim.probe_powers(point, 4000, generator(1, "cpu"), torch.float64)
    keys = {"signal x noise": (signal * noise)[..., 0].mean(-1), "noise^2": noise.square()[..., 0].mean(-1)}
    signal, noise = sim.cosine_powers(point, 40000, generator(2, "cpu"), torch.float64)
    cosines = {"signal x noise": (signal * noise)[:, 0], "noise^2": noise.square()[:, 0]}
    for name in keys:
        assert_same_mean(name, keys[name], cosines[name])


@pytest.mark.parametrize("point", [
    {"d_k": 8, "d_v": 0, "gamma": 0.8, "tau": 2, "T": 30, "key_dist": "sphere"},
    {"d_k": 8, "d_v": 0, "gamma": 0.9, "tau": 1, "T": 30, "key_dist": "gaussian"},
    {"d_k": 8, "d_v": 0, "gamma": 0.9, "tau": 3, "T": 30, "key_dist": "rademacher"},
    {"d_k": 8, "d_v": 4, "gamma": 0.8, "tau": 2, "T": 30, "key_dist": "gaussian"},
    {"d_k": 8, "d_v": 0, "gamma": 1.0, "tau": 0, "T": 30, "key_dist": "sphere"},
])
def test_probe_kernel_has_the_means_of_the_sixteen_probe_kernel(point):
    old = sim.STREAM.fn(point, 4000, generator(1, "cpu"), torch.float64)
    new = sim.PROBE_STREAM.fn(point, 20000, generator(2, "cpu"), torch.float64)
    for name, a, b in zip(("signal", "noise"), old, new):
        assert_same_mean(name, a, b)


def test_probe_contrast_reads_the_same_cosines_under_both_decays():
    # T = 7 items are all drawn under either decay, so one seed draws the same cosines for the
    # contrast and for each decay's own reading: the contrast is their difference, trial by trial
    point = {**sim.PROBE_CONTRAST.example, "d_v": 2}
    (contrast,) = sim.PROBE_CONTRAST.fn(point, 5, generator(3, "cpu"), torch.float64)
    single = {k: v for k, v in point.items() if k != "gamma_ref"}
    read = lambda g: sim.PROBE_STREAM.fn({**single, "gamma": g}, 5, generator(3, "cpu"), torch.float64)
    nsr = [noise / signal for signal, noise in map(read, (point["gamma"], point["gamma_ref"]))]
    assert_close("contrast", nsr[0] - nsr[1], contrast, 1e-12)


def test_a_point_with_drawn_values_keeps_the_kernel_that_draws_the_keys():
    point = {"d_k": 1024, "d_v": 16, "gamma": 0.9, "tau": 5, "T": 1000, "key_dist": "sphere"}
    assert sim.stream_kernel(point) is sim.STREAM
