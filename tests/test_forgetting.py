"""Definition 7 (eq 17): the SNR under decay, the effective capacity, the optimal decay, and the
paper's statement that decay keeps a fixed capacity while Hebbian memory saturates."""
import math

import pytest
import sympy as sp
import torch

from pavlov_theory.claims import ParamError, get_claim
from pavlov_theory.proofs import forgetting as proof
from pavlov_theory.proofs.forgetting import T, gamma, tau
from pavlov_theory.proofs.vectors import d_k
from pavlov_theory.sampling import generator
from pavlov_theory.simulations import forgetting as sim
from pavlov_theory.testing import assert_close


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


def test_optimal_capacity_tends_to_hebbian_capacity_over_e():
    n, _ = proof.optimal_capacity(10**6)
    assert_close("n_opt e / (1 + rho)", 1.0, n * math.e / (1 + 10**6), 1e-5)


def test_kernel_truncation_leaves_out_less_than_epsilon_of_the_noise():
    params = {"d_k": 8, "gamma": 0.5, "tau": 1, "T": 500, "key_dist": "sphere"}
    ages = sim.drawn_ages(params)
    assert ages < params["T"] and params["gamma"] ** (2 * ages) <= sim.EPS64


def test_kernel_is_memory_bounded_in_the_stream_length():
    long = sim.STREAM.bytes_per_trial({"d_k": 64, "gamma": 1.0, "tau": 0, "T": 10**6}, 4)
    short = sim.STREAM.bytes_per_trial({"d_k": 64, "gamma": 1.0, "tau": 0, "T": 10**4}, 4)
    assert long == short


def test_kernel_draws_reproduce_under_the_same_seed():
    params = {"d_k": 8, "gamma": 0.9, "tau": 2, "T": 50, "key_dist": "rademacher"}
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
def test_saturation_judges_both_halves(ctx):
    claim = get_claim("forgetting.saturation")
    outcome = claim.check(claim.resolve({"d_k": 64, "gamma": 0.9, "snr_min": 2.0, "T": 5000}), ctx)
    halves = {row["name"].split()[0] for row in outcome.evidence}
    assert outcome.verdict == "exact" and halves == {"decay", "hebbian"}
