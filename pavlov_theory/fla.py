"""flash-linear-attention's pure-torch reference kernels, called in this project's conventions.

The package ``fla-core`` (the optional extra ``fla``: ``pip install .[fla]``) ships, beside its
triton kernels, plain torch reference implementations of each operator in files named
``fla/ops/<op>/naive.py``. Importing ``fla.ops`` needs triton (its ``__init__`` imports every
kernel), but the naive files import only torch and einops. This module therefore finds the
installed package without importing it and loads each naive file by its path.

Every function here takes the project's layout, ``q`` and ``k`` of shape ``(..., T, d_k)`` and
``v`` of shape ``(..., T, d_v)`` with keys and queries as row vectors, and returns fla's output in
the same layout and dtype. The conventions matched:

- layout: fla works on ``[B, T, H, K]`` (linear attention, simple GLA, gated delta rule) or
  ``[B, H, T, K]`` (retention, delta rule); the leading dimensions here become ``B`` and ``H = 1``.
- scale: fla multiplies ``q`` by ``K**-0.5`` unless told otherwise; the memory of the paper has
  no such factor, so ``scale=1.0`` is passed wherever the function accepts it, and where the
  reference hard-codes it the query is multiplied by ``K**0.5`` first (said at each place).
- decay: simple GLA and the gated delta rule take a log-gate ``g`` per step and head, the state
  being multiplied by ``exp(g)``; a decay ``gamma`` is passed as ``g = log(gamma)``.
- delta rule: fla's ``beta`` (per step and head) is the learning rate ``alpha`` of eq 22. The
  references do not normalise keys (fla's layers do that before calling the kernel); callers
  here pass whatever keys they mean.
- precision: most references cast to float32 inside; :data:`REFERENCES` says which, and the
  result is cast back to the input dtype (so a float64 result of a float32 reference carries
  float32 rounding).
- chunk sizes: where a reference needs ``T`` divisible by its chunk size, the sequence is padded
  with zero steps at the end and the padding cut off afterwards; the operators are causal, so
  steps appended after the last one change none of the outputs kept.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import torch

PINNED = "0.6.0"
INSTALL = "pip install .[fla]"


@dataclass(frozen=True)
class Reference:
    """One fla-core reference function: its source file, name, layout and working precision."""

    op: str
    form: str
    module: str
    function: str
    layout: str
    float32_inside: bool
    chunk: int | None = None

    @property
    def qualname(self) -> str:
        return f"fla.ops.{self.module}.naive.{self.function}"


REFERENCES = {
    (r.op, r.form): r
    for r in (
        Reference("linear_attention", "recurrent", "linear_attn", "naive_recurrent_linear_attn",
                  "[B,T,H,K]", True),
        Reference("linear_attention", "chunk", "linear_attn", "naive_chunk_linear_attn",
                  "[B,T,H,K]", False, 64),
        Reference("simple_gla", "recurrent", "simple_gla", "naive_recurrent_simple_gla", "[B,T,H,K]", True),
        Reference("simple_gla", "chunk", "simple_gla", "naive_chunk_simple_gla", "[B,T,H,K]", True, 64),
        Reference("simple_gla", "parallel", "simple_gla", "naive_parallel_simple_gla", "[B,T,H,K]", True),
        Reference("retention", "parallel", "retention", "naive_retention", "[B,H,T,K]", True),
        Reference("delta_rule", "recurrent", "delta_rule", "delta_rule_recurrence", "[B,H,T,K]", True),
        Reference("delta_rule", "chunk", "delta_rule", "delta_rule_chunkwise", "[B,H,T,K]", False, 32),
        Reference("gated_delta_rule", "recurrent", "gated_delta_rule", "naive_recurrent_gated_delta_rule",
                  "[B,T,H,K]", True),
        Reference("gated_delta_rule", "chunk", "gated_delta_rule", "naive_chunk_gated_delta_rule",
                  "[B,T,H,K]", True, 64),
    )
}


def version() -> str | None:
    """The installed fla-core version, or None when it is not installed."""
    try:
        return importlib.metadata.version("fla-core")
    except importlib.metadata.PackageNotFoundError:
        return None


def _package_dir() -> Path | None:
    # find_spec of a top-level package locates it without running its __init__
    spec = importlib.util.find_spec("fla")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def missing_reason() -> str | None:
    """Why the references cannot be used here (None when they can)."""
    installed = version()
    if installed is None or _package_dir() is None:
        return f"fla-core is not installed ({INSTALL})"
    if installed != PINNED:
        return f"fla-core {installed} is installed; these references are pinned to {PINNED} ({INSTALL})"
    if importlib.util.find_spec("einops") is None:
        return f"einops is not installed ({INSTALL})"
    return None


def available() -> bool:
    return missing_reason() is None


@cache
def _naive(module: str) -> ModuleType:
    reason = missing_reason()
    if reason is not None:
        raise ImportError(reason)
    path = _package_dir() / "ops" / module / "naive.py"
    spec = importlib.util.spec_from_file_location(f"pavlov_theory._fla_naive_{module}", path)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def _function(op: str, form: str):
    ref = REFERENCES[(op, form)]
    return getattr(_naive(ref.module), ref.function)


def _heads_last(x: torch.Tensor) -> torch.Tensor:
    """(..., T, d) -> [B, T, 1, d] with B the product of the leading dimensions."""
    return x.reshape(-1, *x.shape[-2:]).unsqueeze(2)


def _heads_first(x: torch.Tensor) -> torch.Tensor:
    """(..., T, d) -> [B, 1, T, d]."""
    return x.reshape(-1, *x.shape[-2:]).unsqueeze(1)


def _per_step(value, like: torch.Tensor) -> torch.Tensor:
    """A scalar or a tensor broadcastable to (..., T), as fla's [B, T] per-step, per-head gate."""
    out = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    return out.expand(like.shape[:-1]).reshape(-1, like.shape[-2])


def _log_gate(gamma, like: torch.Tensor) -> torch.Tensor:
    return torch.log(_per_step(gamma, like))


def _pad_steps(x: torch.Tensor, chunk: int, dim: int) -> torch.Tensor:
    """Append zero steps along ``dim`` up to a multiple of ``chunk``."""
    pad = -x.shape[dim] % chunk
    if pad == 0:
        return x
    shape = list(x.shape)
    shape[dim] = pad
    return torch.cat([x, x.new_zeros(shape)], dim=dim)


def _back(o: torch.Tensor, like: torch.Tensor, v: torch.Tensor, heads_dim: int) -> torch.Tensor:
    """fla's output with a single head at ``heads_dim`` -> (..., T, d_v) in the input dtype."""
    T = v.shape[-2]
    o = o.squeeze(heads_dim)[:, :T]
    return o.reshape(*v.shape[:-1], o.shape[-1]).to(like.dtype)


def linear_attention(q, k, v, form: str = "recurrent") -> torch.Tensor:
    """Causal linear attention ``o_i = q_i sum_{j<=i} k_j^T v_j`` (eq 8), by fla's naive kernels.

    ``form="recurrent"``: ``naive_recurrent_linear_attn`` (float32 inside); ``"chunk"``:
    ``naive_chunk_linear_attn`` (input dtype kept, chunks of 64 steps, padded here).
    """
    fn = _function("linear_attention", form)
    if form == "recurrent":
        o, _ = fn(q=_heads_last(q), k=_heads_last(k), v=_heads_last(v), scale=1.0)
    else:
        chunk = REFERENCES[("linear_attention", form)].chunk
        q4, k4, v4 = (_pad_steps(_heads_last(x), chunk, 1) for x in (q, k, v))
        o = fn(q=q4, k=k4, v=v4, scale=1.0)
    return _back(o, q, v, 2)


def simple_gla(q, k, v, gamma, form: str = "recurrent") -> torch.Tensor:
    """Decayed memory ``S_i = gamma S_{i-1} + k_i^T v_i`` (eq 17), by fla's simple GLA with
    ``g = log(gamma)``; ``gamma`` a scalar or a per-step tensor of shape (..., T).

    ``form`` is ``"recurrent"``, ``"chunk"`` (chunks of 64, padded by fla) or ``"parallel"``;
    all three compute in float32.
    """
    g = _log_gate(gamma, q).unsqueeze(-1)
    o = _function("simple_gla", form)(q=_heads_last(q), k=_heads_last(k), v=_heads_last(v), g=g, scale=1.0)
    return _back(o[0], q, v, 2)


def retention_gamma(head: int) -> float:
    """The decay RetNet fixes for head ``head``: ``1 - 2**(-5 - head)``, as fla's reference sets it."""
    return 1.0 - 2.0 ** (-5 - head)


def retention(q, k, v, head: int = 0) -> torch.Tensor:
    """RetNet's parallel retention (``naive_retention``, float32 inside) for one head, whose decay
    is :func:`retention_gamma` ``(head)``: the reference takes no decay argument, so the input is
    given to ``head + 1`` heads and head ``head`` is returned.
    """
    heads = head + 1
    d_k = q.shape[-1]
    # naive_retention hard-codes q * d_k**-0.5; multiplying q by d_k**0.5 first undoes it
    q4, k4, v4 = (_heads_first(x).expand(-1, heads, -1, -1) for x in (q * math.sqrt(d_k), k, v))
    o = _function("retention", "parallel")(q4, k4, v4)
    return _back(o[:, head : head + 1], q, v, 1)


def delta_rule(q, k, v, alpha=1.0, form: str = "recurrent") -> torch.Tensor:
    """The delta rule ``S_i = S_{i-1} + alpha_i k_i^T (v_i - k_i S_{i-1})`` (eq 22), output
    ``q_i S_i``; ``alpha`` (fla's ``beta``) a scalar or a per-step tensor of shape (..., T).

    ``form="recurrent"``: ``delta_rule_recurrence`` (float32 inside); ``"chunk"``:
    ``delta_rule_chunkwise`` (input dtype kept, chunks of 32 steps, padded here). Keys are used as
    given (not normalised).
    """
    d_k = q.shape[-1]
    beta = _per_step(alpha, q).unsqueeze(1)
    # both references hard-code q * d_k**-0.5; multiplying q by d_k**0.5 first undoes it
    q4, k4, v4 = (_heads_first(x) for x in (q * math.sqrt(d_k), k, v))
    fn = _function("delta_rule", form)
    if form == "recurrent":
        o, _ = fn(q=q4, k=k4, v=v4, beta=beta, output_final_state=False)
    else:
        chunk = REFERENCES[("delta_rule", form)].chunk
        q4, k4, v4, beta = (_pad_steps(x, chunk, 2) for x in (q4, k4, v4, beta))
        o, _ = fn(q=q4, k=k4, v=v4, beta=beta, chunk_size=chunk)
    return _back(o, q, v, 1)


def gated_delta_rule(q, k, v, alpha=1.0, gamma=1.0, form: str = "recurrent") -> torch.Tensor:
    """The gated delta rule ``S_i = gamma S_{i-1} + alpha k_i^T (v_i - gamma k_i S_{i-1})`` (the
    state decays first, then the delta rule of eq 22 erases and writes), output ``q_i S_i``.

    ``alpha`` is fla's ``beta``, ``gamma`` enters as ``g = log(gamma)``; either may be a scalar or a
    per-step tensor of shape (..., T). ``form`` is ``"recurrent"`` or ``"chunk"`` (chunks of 64,
    padded by fla); both compute in float32.
    """
    beta = _per_step(alpha, q).unsqueeze(-1)
    g = _log_gate(gamma, q).unsqueeze(-1)
    q4, k4, v4 = (_heads_last(x) for x in (q, k, v))
    o, _ = _function("gated_delta_rule", form)(q=q4, k=k4, v=v4, beta=beta, g=g, scale=1.0)
    return _back(o, q, v, 2)
