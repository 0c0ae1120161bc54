"""Floating-point operations per trial of each benchmarked kernel: the one place they are stated.

Only the products a kernel computes are counted, two flops per multiply-add; drawing the random
vectors, normalising them and elementwise work are not. GFLOP/s is therefore the rate of the
kernel's useful arithmetic, and its fraction of the device's matmul rate says how close the
kernel comes to a plain matrix product on the same device.

Each count is that of the kernel's algorithm as its docstring states it: a kernel regrouped to
compute fewer products needs its count changed here with it, or its GFLOP/s becomes an effective
rate (the old form's work per second), which can exceed the matmul rate.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

Flops = Callable[[Mapping[str, Any]], float]


def noise_curves(p: Mapping[str, Any]) -> float:
    """``capacity.noise_curves``: one stream of ``n`` pairs, every load at once."""
    n, d_k, d_v = p["n"], p["d_k"], p["d_v"]
    gram = 2 * n * n * d_k      # G = K K^T: (n x d_k)(d_k x n)
    overlap = 2 * n * n * d_v   # V V^T: (n x d_v)(d_v x n)
    update = 2 * n**3           # U = G @ strictly_lower(V V^T): (n x n)(n x n)
    return gram + overlap + update


def residual_chain(p: Mapping[str, Any]) -> float:
    """``conditioning.residual_chain`` (and ``chain`` where ``n >= d_k``): ``L`` layers probed with
    all ``n`` starts, scores times values."""
    n, d_k, hops = p["n"], p["d_k"], p["L"]
    scores = 2 * n * n * d_k    # r X_{l-1}^T: (n x d_k)(d_k x n)
    retrieve = 2 * n * n * d_k  # scores @ X_l: (n x n)(n x d_k); the residual's "+ r" is elementwise
    return hops * (scores + retrieve)


def chain(p: Mapping[str, Any]) -> float:
    """``conditioning.chain``: where ``n < d_k`` the product ``G_0 G_1 ... G_{L-1} X_L`` of ``n x n``
    Grams (``G_l = X_l X_l^T``), with the keys of width ``n`` where they are drawn in their span
    (``keys_in_span``), else ``d_k``; where ``n >= d_k`` as :func:`residual_chain`."""
    from pavlov_theory.simulations.conditioning import keys_in_span

    n, d_k, hops = p["n"], p["d_k"], p["L"]
    if n >= d_k:
        return residual_chain(p)
    width = n if keys_in_span(p) else d_k
    grams = hops * 2 * n * n * width  # G_0 ... G_{L-1}: (n x width)(width x n) each
    products = (hops - 1) * 2 * n**3  # their running product: (n x n)(n x n)
    last = 2 * n * n * width          # times X_L: (n x n)(n x width)
    return grams + products + last


def chain_drawn_keys(p: Mapping[str, Any]) -> float:
    """``conditioning.chain_drawn_keys``: :func:`chain` with every key drawn in ``d_k`` dimensions."""
    from pavlov_theory.sampling import with_drawn_keys

    return chain(with_drawn_keys(p))


def head_noise(p: Mapping[str, Any]) -> float:
    """``propagation.head_noise`` and ``failures``: ``H`` heads, each probed with its item 0.

    Matrix-vector work only (no operand is reused across items), so the kernel is bound by memory
    traffic and the random draws, not by arithmetic: its fraction of matmul stays small. With
    independent keys the cosines come from their law (no ``k_0 . k_j`` products) and the values are
    written in their span where ``2 (n - 1) <= d_v``; with an embedding or ``keys = drawn`` the cosines
    are the keys' inner products and the values have ``d_v`` coordinates."""
    n, d_k, heads = p["n"], p["d_k"], p["H"]
    from pavlov_theory.simulations.propagation import cosines_from_law, value_width

    coefficients = 0 if cosines_from_law(p) else 2 * (n - 1) * d_k  # k_0 . k_j for the n - 1 other items
    width = value_width(p)                             # values in their span, or in d_v dimensions
    noise = 2 * (n - 1) * width                        # sum_j c_j v_j
    power = 2 * width                                  # ||noise||^2
    return heads * (coefficients + noise + power)


def failures_drawn_keys(p: Mapping[str, Any]) -> float:
    """``propagation.failures_drawn_keys``: :func:`head_noise` with every key drawn."""
    from pavlov_theory.sampling import with_drawn_keys

    return head_noise(with_drawn_keys(p))


def network_failures(p: Mapping[str, Any]) -> float:
    """``propagation.network_failures``: ``L`` independent layers of ``H`` heads per trial."""
    return p["L"] * head_noise(p)


def signal_noise_powers(p: Mapping[str, Any]) -> float:
    """``capacity.signal_noise_powers``: a memory of ``n`` pairs, every stored key probing it."""
    n, d_k, d_v = p["n"], p["d_k"], p["d_v"]
    build = 2 * n * d_k * d_v   # S = K^T V: (d_k x n)(n x d_v)
    probe = 2 * n * d_k * d_v   # K S: (n x d_k)(d_k x d_v)
    norms = 2 * n * d_k         # ||k_m||^2 for the n keys
    powers = 2 * 2 * n * d_v    # ||signal||^2 and ||noise||^2 of the n read-outs
    return build + probe + norms + powers


def probe_signal_noise(p: Mapping[str, Any]) -> float:
    """``capacity.probe_signal_noise``: one probe's cosines drawn from their law, values averaged out:
    the only product is ``sum_j c_j^2`` over the ``n - 1`` other keys (O(n), no d_k or d_v)."""
    return 2 * (p["n"] - 1)


def item_noise(p: Mapping[str, Any]) -> float:
    """``capacity.item_noise``: the first item's noise from its ``n - 1`` cosines and drawn values."""
    n, d_v = p["n"], p["d_v"]
    noise = 2 * (n - 1) * d_v   # sum_j c_j v_j: (1 x n-1)(n-1 x d_v)
    powers = 2 * 2 * d_v        # ||noise||^2 and ||rest||^2
    total = 2 * (n - 1)         # A = sum_j c_j^2
    return noise + powers + total


def stream_powers(p: Mapping[str, Any]) -> float:
    """``forgetting.stream_powers`` (values drawn, ``d_v > 0``) and ``stream_powers_averaged``
    (``d_v = 0``): PROBES probe keys read against the ``a`` drawn ages (``drawn_ages``), per decay."""
    from pavlov_theory.simulations.forgetting import PROBES, decays, drawn_ages

    ages, d_k, d_v, count = drawn_ages(p), p["d_k"], p["d_v"], len(decays(p))
    coefficients = 2 * PROBES * ages * d_k  # keys @ probes^T: (a x d_k)(d_k x PROBES)
    # values drawn: (c * weight) @ values, (PROBES x a)(a x d_v) per decay, then ||noise||^2;
    # averaged out: c^2 @ (weight^2)^T, (PROBES x a)(a x decays)
    noise = count * (2 * PROBES * ages * d_v + 2 * PROBES * d_v) if d_v else 2 * PROBES * ages * count
    signal = 2 * PROBES * d_k               # ||k_m||^2 of the probes
    return coefficients + noise + signal


def probe_stream_powers(p: Mapping[str, Any]) -> float:
    """``forgetting.probe_stream_powers(_averaged)``: one probe's ``a`` drawn cosines (no matrix
    product forms them), weighted per decay: ``c^2 @ (weight^2)^T``, (1 x a)(a x decays), or with
    values drawn ``(c * weight) @ values``, (1 x a)(a x d_v) per decay, then ``||noise||^2``."""
    from pavlov_theory.simulations.forgetting import decays, drawn_ages

    ages, d_v, count = drawn_ages(p), p["d_v"], len(decays(p))
    return count * (2 * ages * d_v + 2 * d_v) if d_v else 2 * ages * count


def oja_powers(p: Mapping[str, Any]) -> float:
    """``rules.oja_powers``: eq 24's closed form for a stream of ``T``, probed with ``k_m``."""
    T, d_k, d_v = p["T"], p["d_k"], p["d_v"]
    memory = 2 * T * d_k * d_v  # S = alpha K^T (V * D): (d_k x T)(T x d_v)
    probe = 2 * d_k * d_v       # k_m S
    return memory + probe + 2 * d_k + 2 * 2 * d_v  # ||k_m||^2, ||signal||^2, ||noise||^2


def oja_norm(p: Mapping[str, Any]) -> float:
    """``rules.oja_norm``: the memory as in ``oja_powers``, then ``||S_T||_F^2``."""
    T, d_k, d_v = p["T"], p["d_k"], p["d_v"]
    return 2 * T * d_k * d_v + 2 * d_k * d_v


def oja_averaged(p: Mapping[str, Any]) -> float:
    """``rules.oja_powers_averaged`` and ``oja_norm_averaged``: keys averaged out, only the ``T``
    writes' powers ``||v_l * D_l||^2`` and ``||D_m||^2`` (no key enters)."""
    return 2 * p["T"] * p["d_v"] + 2 * p["d_v"]


def softmax_powers(p: Mapping[str, Any]) -> float:
    """``softmax.powers`` and ``normalised_powers``: one probe against ``n`` keys, its read-out."""
    n, d_k, d_v = p["n"], p["d_k"], p["d_v"]
    scores = 2 * n * d_k         # K q: (n x d_k)(d_k x 1)
    readout = 2 * (n - 1) * d_v  # sum_j w_j v_j over the distractors
    powers = 2 * 2 * d_v         # ||noise||^2 and the signal's ||v_0||^2 (the unnormalised one skips it)
    return scores + readout + powers


def softmax_averaged(p: Mapping[str, Any]) -> float:
    """``softmax.powers_averaged`` and ``normalised_powers_averaged``: values averaged out,
    ``P = min(n, PROBES)`` stored keys probing in turn."""
    from pavlov_theory.simulations.softmax import PROBES

    n, d_k = p["n"], p["d_k"]
    probes = min(n, PROBES)
    scores = 2 * probes * n * d_k  # Q K^T: (P x d_k)(d_k x n)
    powers = 2 * probes * n        # sum_j a_ij^2 per probe
    return scores + powers


FLOPS: dict[str, Flops] = {
    "capacity.noise_curves": noise_curves,
    "conditioning.chain": chain,
    "conditioning.residual_chain": residual_chain,
    "conditioning.chain_drawn_keys": chain_drawn_keys,
    "propagation.head_noise": head_noise,
    "propagation.failures": head_noise,
    "propagation.failures_drawn_keys": failures_drawn_keys,
    "propagation.network_failures": network_failures,
    "capacity.signal_noise_powers": signal_noise_powers,
    "capacity.probe_signal_noise": probe_signal_noise,
    "capacity.item_noise": item_noise,
    "forgetting.stream_powers": stream_powers,
    "forgetting.stream_powers_averaged": stream_powers,
    "forgetting.probe_stream_powers": probe_stream_powers,
    "forgetting.probe_stream_powers_averaged": probe_stream_powers,
    "rules.oja_powers": oja_powers,
    "rules.oja_norm": oja_norm,
    "rules.oja_powers_averaged": oja_averaged,
    "rules.oja_norm_averaged": oja_averaged,
    "softmax.powers": softmax_powers,
    "softmax.normalised_powers": softmax_powers,
    "softmax.powers_averaged": softmax_averaged,
    "softmax.normalised_powers_averaged": softmax_averaged,
}


def flops_per_trial(kernel: str, params: Mapping[str, Any]) -> float | None:
    """Flops one trial of ``kernel`` at ``params`` computes, or None where none is declared."""
    count = FLOPS.get(kernel)
    return None if count is None else float(count(params))
