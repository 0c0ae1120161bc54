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

import math
from typing import Callable

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


def probe_powers_naive(keys: torch.Tensor, values: torch.Tensor) -> tuple[float, float]:
    """The Hebbian memory read literally, for one stream of ``(n, d_k)`` keys and ``(n, d_v)``
    values: ``S`` as a sum of outer products, each stored key as the probe. Returns the mean over
    the probes of the signal power ``||(k.k) v||^2`` and of the noise power ``||k S - (k.k) v||^2``."""
    S = sum(torch.outer(k, v) for k, v in zip(keys, values))
    signal = noise = 0.0
    for k, v in zip(keys, values):
        wanted = (k @ k) * v
        signal += float(wanted @ wanted) / len(keys)
        noise += float((k @ S - wanted) @ (k @ S - wanted)) / len(keys)
    return signal, noise


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


# ------------------------------------------------------------------ other update rules (sec 5.3)
#
# Every rule below writes one pair per step and outputs ``q_i S_i`` after the write of pair ``i``
# (shape ``(..., T, d_v)``). The ``*_recurrent`` forms update the whole batch one step at a time;
# the ``*_naive`` forms loop over sequences and steps and use the expanded form of each rule
# (eq 23 for the delta rule, eq 25 for Oja's), so the two forms check each other.


def _outer(k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``k^T v`` for row vectors ``k (..., d_k)`` and ``v (..., d_v)``."""
    return k[..., :, None] * v[..., None, :]


def _sequences(*xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Each input flattened to ``(B, T, d)`` over its leading dimensions."""
    return tuple(x.reshape(-1, *x.shape[-2:]) for x in xs)


def _one_step_at_a_time(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                        new_sequence: Callable[[], Callable[..., torch.Tensor]]) -> torch.Tensor:
    """The loop of every naive form: one sequence and one step at a time, the state starting at
    zero; ``new_sequence()`` gives the update ``step(state, k_i, v_i) -> state`` for a fresh
    sequence (it may keep per-sequence state of its own), and row ``i`` is ``q_i S_i``."""
    qs, ks, vs = _sequences(q, k, v)
    out = q.new_zeros((qs.shape[0], qs.shape[1], v.shape[-1]))
    for b in range(qs.shape[0]):
        state, step = q.new_zeros((q.shape[-1], v.shape[-1])), new_sequence()
        for i in range(qs.shape[1]):
            state = step(state, ks[b, i], vs[b, i])
            out[b, i] = qs[b, i] @ state
    return out.reshape(*q.shape[:-1], v.shape[-1])


def delta_recurrent(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, alpha: float = 1.0, gamma: float = 1.0
) -> torch.Tensor:
    """The delta rule of eq 22, ``S_i = S_{i-1} + alpha k_i^T (v_i - k_i S_{i-1})``.

    For ``gamma < 1`` this is the gated delta rule (the state is decayed first, then erased and
    written): ``S_i = gamma S_{i-1} + alpha k_i^T (v_i - gamma k_i S_{i-1})``; ``gamma = 1`` is
    eq 22 itself. ``alpha`` is the write strength (``beta`` in the gated-delta literature)."""
    state = q.new_zeros((*q.shape[:-2], q.shape[-1], v.shape[-1]))
    outputs = []
    for i in range(q.shape[-2]):
        ki, vi = k[..., i, :], v[..., i, :]
        state = gamma * state
        prediction = (ki[..., None, :] @ state).squeeze(-2)
        state = state + alpha * _outer(ki, vi - prediction)
        outputs.append((q[..., i, None, :] @ state).squeeze(-2))
    return torch.stack(outputs, dim=-2)


def delta_naive(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, alpha: float = 1.0, gamma: float = 1.0
) -> torch.Tensor:
    """Reference for :func:`delta_recurrent`: one sequence and one step at a time, in the
    erase-then-write form of eq 23, ``S_i = (I - alpha k_i^T k_i) gamma S_{i-1} + alpha k_i^T v_i``."""
    eye = torch.eye(q.shape[-1], dtype=q.dtype, device=q.device)

    def step(state, ki, vi):
        kk = ki[:, None]
        return (eye - alpha * kk @ kk.T) @ (gamma * state) + alpha * kk @ vi[None, :]
    return _one_step_at_a_time(q, k, v, lambda: step)


def oja_recurrent(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, alpha: float) -> torch.Tensor:
    """The paper's Oja rule exactly as eq 24 writes it:
    ``S_i = S_{i-1} + alpha (k_i^T v_i - S_{i-1} diag(v_i * v_i))`` (each column ``c`` of the state
    shrinks by ``alpha v_ic^2``). The post-synaptic activity here is the value ``v_i``, not the
    memory's response ``k_i S_{i-1}``: this is not the classical rule of Oja (1982)."""
    state = q.new_zeros((*q.shape[:-2], q.shape[-1], v.shape[-1]))
    outputs = []
    for i in range(q.shape[-2]):
        ki, vi = k[..., i, :], v[..., i, :]
        state = state + alpha * (_outer(ki, vi) - state * (vi * vi)[..., None, :])
        outputs.append((q[..., i, None, :] @ state).squeeze(-2))
    return torch.stack(outputs, dim=-2)


def oja_naive(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, alpha: float) -> torch.Tensor:
    """Reference for :func:`oja_recurrent` in the expanded form of eq 25,
    ``S_i = S_{i-1} (I - alpha diag(v_i * v_i)) + alpha k_i^T v_i``, one sequence and step at a time."""
    eye = torch.eye(v.shape[-1], dtype=q.dtype, device=q.device)

    def step(state, ki, vi):
        return state @ (eye - alpha * torch.diag(vi * vi)) + alpha * ki[:, None] @ vi[None, :]
    return _one_step_at_a_time(q, k, v, lambda: step)


def bcm_threshold(v: torch.Tensor, theta_decay: float) -> torch.Tensor:
    """The running-average threshold of eq 26, per value coordinate:
    ``theta_i = theta_decay theta_{i-1} + (1 - theta_decay) v_i`` with ``theta_0 = 0`` (the average
    of recent activity, the current one included), shape ``(..., T, d_v)``.

    Computed without a loop over steps, as a two-level scan: the steps are cut into chunks of
    ``C = ceil(sqrt(T))``; within a chunk the recurrence from 0 is a product with the decay mask
    ``M[i, j] = b^(i-j)`` (``b = theta_decay``); across chunks the chunk-end values obey the same
    recurrence with ``b^C``, solved by a second mask product; each step then adds
    ``b^(i+1)`` times the threshold at the end of the previous chunk. The cost is ``O(T^1.5)`` per
    coordinate. :func:`bcm_threshold_naive` is the step-by-step reference."""
    T, b = v.shape[-2], theta_decay
    C = math.isqrt(max(T, 1) - 1) + 1  # ceil(sqrt(T))
    chunks = -(-T // C)
    x = F.pad(v.transpose(-1, -2), (0, chunks * C - T))  # (..., d_v, chunks * C)
    x = x.reshape(*x.shape[:-1], chunks, C)
    inner = (1 - b) * (x @ decay_mask(C, b, v).transpose(0, 1))  # from 0 at each chunk's start
    ends = inner[..., -1] @ decay_mask(chunks, b**C, v).transpose(0, 1)  # theta at each chunk's end
    before = F.pad(ends[..., :-1], (1, 0))  # theta just before each chunk (0 before the first)
    powers = torch.pow(torch.as_tensor(b, dtype=v.dtype, device=v.device),
                       torch.arange(1, C + 1, dtype=v.dtype, device=v.device))
    theta = inner + before[..., None] * powers
    return theta.reshape(*theta.shape[:-2], chunks * C)[..., :T].transpose(-1, -2)


def bcm_threshold_naive(v: torch.Tensor, theta_decay: float) -> torch.Tensor:
    """Reference for :func:`bcm_threshold`: the recurrence stepped one step at a time."""
    theta = v.new_zeros(v.shape[:-2] + v.shape[-1:])
    out = []
    for i in range(v.shape[-2]):
        theta = theta_decay * theta + (1 - theta_decay) * v[..., i, :]
        out.append(theta)
    return torch.stack(out, dim=-2)


def bcm_recurrent(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, alpha: float, theta_decay: float
) -> torch.Tensor:
    """The BCM rule of eq 26, ``S_i = S_{i-1} + alpha k_i^T phi(v_i, theta_i)`` with
    ``phi(x, theta) = x (x - theta)`` elementwise and ``theta_i`` the running average of
    :func:`bcm_threshold`. The activity is the value ``v_i``: the update does not depend on
    ``S``, so the memory is Hebbian storage of the transformed values ``phi(v_i, theta_i)``."""
    theta = bcm_threshold(v, theta_decay)
    return alpha * recurrent_form(q, k, v * (v - theta))


def bcm_naive(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, alpha: float, theta_decay: float
) -> torch.Tensor:
    """Reference for :func:`bcm_recurrent`: one sequence and one step at a time, with the
    threshold updated in the same loop and ``phi`` written coordinate by coordinate."""
    d_v = v.shape[-1]

    def new_sequence():
        theta = [0.0] * d_v  # the running average, per coordinate, restarted with each sequence

        def step(state, ki, vi):
            phi = q.new_zeros(d_v)
            for c in range(d_v):
                x = float(vi[c])
                theta[c] = theta_decay * theta[c] + (1 - theta_decay) * x
                phi[c] = x * (x - theta[c])
            return state + alpha * ki[:, None] @ phi[None, :]
        return step
    return _one_step_at_a_time(q, k, v, new_sequence)
