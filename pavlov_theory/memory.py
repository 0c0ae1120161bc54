"""Hebbian association memory (causal linear attention) in three equivalent forms.

Shapes: queries ``q`` and keys ``k`` are ``(..., T, d_k)``, values ``v`` are ``(..., T, d_v)``;
feature maps are applied by the caller. With decay ``gamma`` the memory after step ``i`` is
``S_i = gamma S_{i-1} + k_i^T v_i`` (paper eq 17; ``gamma = 1`` is eq 8) and the output of step
``i`` is ``q_i S_i`` (eq 7 before ``Norm``).

- :func:`parallel_form`: the masked matrix product ``(Q K^T * M) V`` (naive reference, O(T^2)).
- :func:`recurrent_form`: the update of eq 8/17 one step at a time (a Python loop over steps:
  a reference, not a fast path).
- :func:`chunked_form`: exact within-chunk masked products plus a state carried across chunks.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

FEATURE_MAPS = ("identity", "elu1", "relu")
NORMS = ("none", "rmsnorm", "layernorm")


def feature_map(name: str, x: torch.Tensor) -> torch.Tensor:
    """phi of eqs 3-6: ``identity``, ``elu1`` (elu + 1, positive) or ``relu``."""
    if name == "identity":
        return x
    if name == "elu1":
        return F.elu(x) + 1
    if name == "relu":
        return F.relu(x)
    raise ValueError(f"phi: expected one of {', '.join(FEATURE_MAPS)}, got {name!r}")


def normalize(name: str, x: torch.Tensor) -> torch.Tensor:
    """Norm of eq 4 over the feature dimension, without gain or bias."""
    if name == "none":
        return x
    if name == "rmsnorm":
        return F.rms_norm(x, (x.shape[-1],), eps=torch.finfo(x.dtype).tiny)
    if name == "layernorm":
        return F.layer_norm(x, (x.shape[-1],), eps=torch.finfo(x.dtype).tiny)
    raise ValueError(f"norm: expected one of {', '.join(NORMS)}, got {name!r}")


def decay_mask(T: int, gamma: float, like: torch.Tensor) -> torch.Tensor:
    """``M[i, j] = gamma**(i-j)`` for ``j <= i``, else 0 (``gamma = 1``: the causal mask)."""
    idx = torch.arange(T, device=like.device)
    lag = (idx[:, None] - idx[None, :]).to(like.dtype)
    mask = torch.pow(torch.as_tensor(gamma, dtype=like.dtype, device=like.device), lag)
    return torch.where(lag >= 0, mask, torch.zeros_like(mask))


def parallel_form(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    scores = q @ k.transpose(-1, -2)
    return (scores * decay_mask(q.shape[-2], gamma, q)) @ v


def recurrent_form(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    state = q.new_zeros((*q.shape[:-2], q.shape[-1], v.shape[-1]))
    outputs = []
    for i in range(q.shape[-2]):
        state = gamma * state + k[..., i, :, None] * v[..., i, None, :]
        outputs.append((q[..., i, None, :] @ state).squeeze(-2))
    return torch.stack(outputs, dim=-2)


def chunked_form(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, gamma: float = 1.0, chunk: int = 16
) -> torch.Tensor:
    T = q.shape[-2]
    state = q.new_zeros((*q.shape[:-2], q.shape[-1], v.shape[-1]))
    outputs = []
    for start in range(0, T, chunk):
        qc, kc, vc = (x[..., start : start + chunk, :] for x in (q, k, v))
        C = qc.shape[-2]
        steps = torch.arange(1, C + 1, device=q.device, dtype=q.dtype)
        carried = (gamma**steps)[:, None] * (qc @ state)
        outputs.append(carried + parallel_form(qc, kc, vc, gamma))
        # state after the chunk: decay the old state, add each pair decayed by its age in the chunk
        age = (gamma ** (C - steps))[:, None]
        state = gamma**C * state + kc.transpose(-1, -2) @ (age * vc)
    return torch.cat(outputs, dim=-2)


def association_matrix(k: torch.Tensor, v: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """``S_T = sum_j gamma**(T-j) k_j^T v_j`` of shape ``(..., d_k, d_v)``."""
    T = k.shape[-2]
    age = torch.arange(T - 1, -1, -1, device=k.device, dtype=k.dtype)
    return k.transpose(-1, -2) @ ((gamma**age)[:, None] * v)


def conditioning_output(
    x: torch.Tensor,
    w_q: torch.Tensor,
    w_k: torch.Tensor,
    w_v: torch.Tensor,
    phi: str = "identity",
    norm: str = "none",
    alpha: float = 1.0,
) -> torch.Tensor:
    """Eq 15 with ``f = phi``, ``g = I`` and ``X = Y = Z = x``: the conditioning circuit as
    linear attention (Theorem 5), in the parallel form."""
    q, k, v = feature_map(phi, x @ w_q), feature_map(phi, x @ w_k), x @ w_v
    return normalize(norm, alpha * parallel_form(q, k, v))
