"""Every memory update in its forms, checked against each other (float64, small sizes)."""
import pytest
import torch

from pavlov_theory import memory
from pavlov_theory.testing import assert_close

TOL = 1e-10


def _inputs(seed=0, batch=(2, 3), T=9, d_k=5, d_v=4, unit=True):
    gen = torch.Generator().manual_seed(seed)
    q, k = (torch.randn(*batch, T, d_k, generator=gen, dtype=torch.float64) for _ in range(2))
    v = torch.randn(*batch, T, d_v, generator=gen, dtype=torch.float64)
    if unit:
        k = k / k.norm(dim=-1, keepdim=True)
    return q, k, v


@pytest.mark.parametrize("gamma", [1.0, 0.8])
@pytest.mark.parametrize("alpha", [1.0, 0.3])
def test_delta_recurrent_matches_naive(alpha, gamma):
    q, k, v = _inputs()
    assert_close("delta", memory.delta_naive(q, k, v, alpha, gamma),
                 memory.delta_recurrent(q, k, v, alpha, gamma), TOL)


def test_delta_first_write_is_hebbian():
    q, k, v = _inputs(T=1)
    assert_close("first write", memory.recurrent_form(q, k, 0.7 * v),
                 memory.delta_recurrent(q, k, v, alpha=0.7), TOL)


def test_delta_with_orthogonal_keys_is_hebbian():
    # with orthogonal keys nothing stored predicts a new key: the error term is the value itself
    q, _, v = _inputs(T=5, d_k=5)
    k = torch.eye(5, dtype=torch.float64).expand(2, 3, 5, 5)
    assert_close("orthogonal keys", memory.recurrent_form(q, k, v),
                 memory.delta_recurrent(q, k, v), TOL)


def test_delta_recalls_newest_pair_at_alpha_one():
    _, k, v = _inputs(T=12, d_k=5)
    out = memory.delta_recurrent(k, k, v, alpha=1.0)
    assert_close("newest pair", v, out, TOL)


def test_gated_delta_recalls_newest_pair_at_alpha_one():
    _, k, v = _inputs(T=12, d_k=5)
    assert_close("newest pair, gated", v, memory.delta_recurrent(k, k, v, alpha=1.0, gamma=0.6), TOL)


def test_oja_recurrent_matches_naive():
    q, k, v = _inputs()
    assert_close("oja", memory.oja_naive(q, k, v, 0.05), memory.oja_recurrent(q, k, v, 0.05), TOL)


def test_oja_first_write_is_hebbian():
    q, k, v = _inputs(T=1)
    assert_close("oja first write", memory.recurrent_form(q, k, 0.05 * v),
                 memory.oja_recurrent(q, k, v, 0.05), TOL)


@pytest.mark.parametrize("theta_decay", [0.0, 0.9])
def test_bcm_recurrent_matches_naive(theta_decay):
    q, k, v = _inputs(batch=(2,))
    assert_close("bcm", memory.bcm_naive(q, k, v, 0.1, theta_decay),
                 memory.bcm_recurrent(q, k, v, 0.1, theta_decay), TOL)


def test_bcm_without_averaging_stores_nothing():
    # theta_decay = 0: the threshold is the current activity, so phi = 0 at every step
    q, k, v = _inputs()
    assert_close("bcm, theta = v", torch.zeros_like(v), memory.bcm_recurrent(q, k, v, 0.1, 0.0), TOL)


def test_bcm_threshold_is_running_average():
    v = torch.ones(1, 50, 3, dtype=torch.float64)
    theta = memory.bcm_threshold(v, 0.5)
    assert_close("threshold", 1 - 0.5 ** torch.arange(1, 51, dtype=torch.float64), theta[0, :, 0], TOL)
