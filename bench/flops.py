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


def chain(p: Mapping[str, Any]) -> float:
    """``conditioning.chain`` and ``residual_chain``: ``L`` layers probed with all ``n`` starts."""
    n, d_k, hops = p["n"], p["d_k"], p["L"]
    scores = 2 * n * n * d_k    # r X_{l-1}^T: (n x d_k)(d_k x n)
    retrieve = 2 * n * n * d_k  # scores @ X_l: (n x n)(n x d_k); the residual's "+ r" is elementwise
    return hops * (scores + retrieve)


def head_noise(p: Mapping[str, Any]) -> float:
    """``propagation.head_noise`` and ``failures``: ``H`` heads, each probed with its item 0.

    Matrix-vector work only (no operand is reused across items), so the kernel is bound by memory
    traffic and the random draws, not by arithmetic: its fraction of matmul stays small."""
    n, d_k, d_v, heads = p["n"], p["d_k"], p["d_v"], p["H"]
    coefficients = 2 * n * d_k  # k_0 . k_j for the n items
    noise = 2 * n * d_v         # sum_j c_j v_j
    power = 2 * d_v             # ||noise||^2
    return heads * (coefficients + noise + power)


def network_failures(p: Mapping[str, Any]) -> float:
    """``propagation.network_failures``: ``L`` independent layers of ``H`` heads per trial."""
    return p["L"] * head_noise(p)


FLOPS: dict[str, Flops] = {
    "capacity.noise_curves": noise_curves,
    "conditioning.chain": chain,
    "conditioning.residual_chain": chain,
    "propagation.head_noise": head_noise,
    "propagation.failures": head_noise,
    "propagation.network_failures": network_failures,
}


def flops_per_trial(kernel: str, params: Mapping[str, Any]) -> float | None:
    """Flops one trial of ``kernel`` at ``params`` computes, or None where none is declared."""
    count = FLOPS.get(kernel)
    return None if count is None else float(count(params))
