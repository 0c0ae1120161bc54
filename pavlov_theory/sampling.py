"""Random keys and values: uniform on the unit sphere, Gaussian N(0, I/d), Rademacher +-1/sqrt(d).

All three have E[x x^T] = I/d, so E||x||^2 = 1. Draws are reproducible: a seed and a list of
labels (claim id, parameters, batch index) are hashed into an independent generator seed.
"""
from __future__ import annotations

import hashlib
import math
from typing import Any, Mapping

import torch

from .params import KEY_DISTS


def derive_seed(seed: int, *labels: object) -> int:
    """A 63-bit seed determined by ``seed`` and ``labels``, stable across runs and platforms."""
    text = "|".join([str(int(seed))] + [repr(label) for label in labels])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def generator(seed: int, device: str) -> torch.Generator:
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def sample(
    dist: str,
    shape: tuple[int, ...],
    dim: int,
    gen: torch.Generator,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """A tensor of shape ``(*shape, dim)`` of independent vectors from ``dist``."""
    device = gen.device
    full = (*shape, dim)
    if dist == "sphere":
        x = torch.randn(full, generator=gen, device=device, dtype=dtype)
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
        # float32 normals are exactly 0 about once in 10^7 draws, so a 1-dimensional draw can have
        # norm 0 (a set of measure 0 for the law it stands for): it becomes the first unit vector
        # instead of 0/0 (the row is all zeros, so 0 / tiny keeps it so, and its first entry is set)
        zero = norm == 0
        x.div_(norm.clamp_min_(torch.finfo(dtype).tiny))  # in place: the draw is the bulk of the memory
        x[..., :1].masked_fill_(zero, 1.0)
        return x
    if dist == "gaussian":
        return torch.randn(full, generator=gen, device=device, dtype=dtype).div_(math.sqrt(dim))
    if dist == "rademacher":
        bits = torch.randint(0, 2, full, generator=gen, device=device)
        return bits.mul_(2).sub_(1).to(dtype).div_(math.sqrt(dim))
    raise ValueError(f"key_dist: expected one of {', '.join(KEY_DISTS)}, got {dist!r}")


def chi2(dof: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Chi-square draws with ``dof`` degrees of freedom each (a tensor, on ``gen``'s device), as
    twice Gamma(dof/2, 1)."""
    return torch._standard_gamma(dof / 2, generator=gen).mul_(2)


# key laws whose Gram matrix has a Bartlett form (:func:`sample_in_span`)
SPAN_LAWS = ("gaussian", "sphere")
# how a kernel with a faster exact form draws its keys: from the law of what it reads (``law``,
# the default) or every key in full (``drawn``, the plain form the bench compares with)
KEY_FORMS = ("law", "drawn")


def keys_from_law(params: Mapping[str, Any]) -> bool:
    """Whether ``params`` lets a kernel draw what it reads from its law (``keys = law``, the
    default) rather than every key (``keys = drawn``)."""
    keys = params.get("keys", "law")
    if keys not in KEY_FORMS:
        raise ValueError(f"keys: expected one of {', '.join(KEY_FORMS)}, got {keys!r}")
    return keys == "law"


def with_drawn_keys(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with the ``keys = drawn`` switch set: the plain form that draws every key."""
    return {**params, "keys": "drawn"}


def sample_in_span(dist: str, shape: tuple[int, ...], n: int, dim: int, gen: torch.Generator,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``n`` independent keys of ``dist`` in ``dim >= n`` dimensions, written in an orthonormal
    basis of their own span: ``(*shape, n, n)``, lower triangular, in ``n (n - 1)/2`` normal and
    ``n`` gamma draws instead of ``n dim`` normals. Whatever depends on the keys only through their
    Gram matrix has the law it has for ``sample(dist, (*shape, n), dim)``.

    Bartlett's decomposition: an ``n x dim`` standard normal ``Z`` is ``T Q^T`` with ``Q`` orthonormal
    columns and ``T`` lower triangular, its entries independent, ``T_ij ~ N(0, 1)`` below the
    diagonal and ``T_ii^2 ~ chi2(dim - i)`` (``i = 0..n-1``) on it. Gaussian keys are ``Z/sqrt(dim)``,
    sphere keys its rows normalised: the rows of ``T`` scaled the same way."""
    if dist not in SPAN_LAWS:
        raise ValueError(f"key_dist: a Gram matrix in closed form needs one of {', '.join(SPAN_LAWS)}, "
                         f"got {dist!r}")
    if not 1 <= n <= dim:
        raise ValueError(f"n: expected 1 <= n <= dim = {dim}, got {n}")
    device = gen.device
    rows, cols = torch.tril_indices(n, n, -1, device=device)
    below = torch.randn((*shape, rows.numel()), generator=gen, device=device, dtype=dtype)
    # index_copy_ into the flat rows: the same entries as keys[..., rows, cols] = below, 4 times faster
    keys = torch.zeros((*shape, n * n), device=device, dtype=dtype).index_copy_(-1, rows * n + cols, below)
    keys = keys.view(*shape, n, n)
    dof = (dim - torch.arange(n, device=device, dtype=dtype)).expand(*shape, n)
    keys.diagonal(dim1=-2, dim2=-1).copy_(chi2(dof, gen).sqrt_())
    if dist == "gaussian":
        return keys.div_(math.sqrt(dim))
    return keys.div_(torch.linalg.vector_norm(keys, dim=-1, keepdim=True))


def probe_cosines(dist: str, trials: int, others: int, d_k: int, gen: torch.Generator,
                  dtype: torch.dtype, norm2: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A probe key's squared norm ``||k_0||^2``, shape ``(trials,)``, and its inner products
    ``c_j = k_0 . k_j`` with ``others`` independent keys, shape ``(trials, others)``, drawn from
    their exact law given the probe (each in ``O(1)`` instead of ``d_k`` draws):

    - sphere: rotating ``k_0`` to ``e_1``, ``c_j`` is a coordinate of a uniform unit vector,
      ``g / sqrt(g^2 + chi2(d_k - 1))``; ``||k_0||^2 = 1``.
    - gaussian: given ``k_0``, ``c_j ~ N(0, ||k_0||^2 / d_k)`` independently, with
      ``d_k ||k_0||^2 ~ chi2(d_k)``.
    - rademacher: flipping ``k_j``'s signs where ``k_0``'s are negative leaves its law, so ``c_j``
      is the mean of ``d_k`` random signs, ``(2 Binomial(d_k, 1/2) - d_k) / d_k``; ``||k_0||^2 = 1``.

    ``norm2`` (gaussian keys): the probes' squared norms, given instead of drawn, so a stream's
    cosines can be drawn in chunks for the same probes (the other laws do not depend on it)."""
    shape, device = (trials, others), gen.device
    chi2_of = lambda dof, size: chi2(torch.full(size, float(dof), device=device, dtype=dtype), gen)
    if dist == "sphere":
        g = torch.randn(shape, generator=gen, device=device, dtype=dtype)
        cosines = g / (g.square() + chi2_of(d_k - 1, shape)).sqrt_()
        return torch.ones(trials, device=device, dtype=dtype), cosines
    if dist == "gaussian":
        norm2 = chi2_of(d_k, (trials,)).div_(d_k) if norm2 is None else norm2
        g = torch.randn(shape, generator=gen, device=device, dtype=dtype)
        return norm2, g.mul_((norm2 / d_k).sqrt_()[:, None])
    if dist == "rademacher":
        heads = torch.binomial(torch.full(shape, float(d_k), device=device, dtype=dtype),
                               torch.full(shape, 0.5, device=device, dtype=dtype), generator=gen)
        return torch.ones(trials, device=device, dtype=dtype), heads.mul_(2 / d_k).sub_(1)
    raise ValueError(f"key_dist: expected one of {', '.join(KEY_DISTS)}, got {dist!r}")


def unit_with_cosine(anchor: torch.Tensor, cosine: float, gen: torch.Generator) -> torch.Tensor:
    """Unit vectors whose cosine with each row of ``anchor`` is exactly ``cosine``.

    The orthogonal part is a uniformly random direction orthogonal to the anchor.
    """
    a = anchor / torch.linalg.vector_norm(anchor, dim=-1, keepdim=True)
    u = torch.randn(a.shape, generator=gen, device=a.device, dtype=a.dtype)
    u = u - (u * a).sum(-1, keepdim=True) * a
    u = u / torch.linalg.vector_norm(u, dim=-1, keepdim=True)
    return cosine * a + math.sqrt(max(0.0, 1.0 - cosine**2)) * u


def pair_chunks(
    seed: int,
    trials: int,
    n: int,
    chunk: int,
    d_k: int,
    d_v: int,
    key_dist: str,
    device: str,
    dtype: torch.dtype,
):
    """Yield ``(keys, values)`` of shapes ``(trials, c, d_k)`` and ``(trials, c, d_v)`` for
    consecutive chunks of the ``n`` stored pairs; values are on the unit sphere.

    Each chunk has its own seed, so iterating twice yields the same pairs: a memory can be
    built in one pass and probed in a second without holding all ``n`` pairs at once.
    """
    for index, start in enumerate(range(0, n, chunk)):
        gen = generator(derive_seed(seed, "chunk", index), device)
        size = min(chunk, n - start)
        keys = sample(key_dist, (trials, size), d_k, gen, dtype)
        values = sample("sphere", (trials, size), d_v, gen, dtype)
        yield keys, values
