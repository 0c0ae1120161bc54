"""Monte Carlo for section 5.1: chains of Hebbian layers (higher-order conditioning).

The claims of this section are declared at the bottom (``CLAIMS``).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from pavlov_theory import memory
from pavlov_theory.claims import Claim, Context, Outcome, Param
from pavlov_theory.device import rows_per_chunk
from pavlov_theory.montecarlo import dtype as ctx_dtype
from pavlov_theory.montecarlo import sequential_exact
from pavlov_theory.proofs import conditioning as proof
from pavlov_theory.sampling import KEY_DISTS, sample

from .capacity import KEY_DIST


def chain_retrievals(
    trials: int, L: int, n: int, d_k: int, key_dist: str, gen: torch.Generator, dtype: torch.dtype,
    residual: bool = False, norm: str = "none", budget: int = 256 * 2**20,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Probe ``L`` stacked layers, layer ``l`` storing ``x_{l-1}^i -> x_l^i``, with every start
    ``x_0^i`` at once. Returns the retrievals ``r_L`` and targets ``x_L``, both ``(trials, n, d_k)``.
    ``residual`` adds each layer's input to its output (eq 20 with ``W_O = I``); ``norm`` is
    applied to each layer's output (eq 19)."""
    size = torch.finfo(dtype).bits // 8
    batch = rows_per_chunk(4 * n * d_k * size + 2 * d_k * d_k * size, budget)
    outs, targets = [], []
    for start in range(0, trials, batch):
        t = min(batch, trials - start)
        previous = sample(key_dist, (t, n), d_k, gen, dtype)
        r = previous
        for _ in range(L):
            current = sample(key_dist, (t, n), d_k, gen, dtype)
            out = memory.normalize(norm, r @ memory.association_matrix(previous, current))
            r = out + r if residual else out
            previous = current
        outs.append(r)
        targets.append(previous)
    return torch.cat(outs), torch.cat(targets)


def chain_nsr(trials: int, L: int, n: int, d_k: int, key_dist: str, gen: torch.Generator,
              dtype: torch.dtype, budget: int = 256 * 2**20) -> np.ndarray:
    """Per-trial mean over the ``n`` chains of ``||r_L - x_L||^2`` (no residual, no Norm)."""
    r, target = chain_retrievals(trials, L, n, d_k, key_dist, gen, dtype, budget=budget)
    return ((r - target) ** 2).sum(-1).mean(-1).double().cpu().numpy()


def routing_accuracy(
    trials: int, n: int, d_k: int, gen: torch.Generator, dtype: torch.dtype = torch.float32,
) -> dict[str, float]:
    """The dynamic-routing example of section 5.1.3 with the same (identity) weights in both
    contexts. Concepts are random unit vectors: animal, mammal, reptile, dog, lizard. Context 1
    writes animal -> mammal into layer 1, context 2 writes animal -> reptile; layer 2 holds
    mammal -> dog and reptile -> lizard. Each memory also holds ``n - 1`` (layer 1) or ``n - 2``
    (layer 2) random distractor pairs. Probing with animal and decoding the two-hop retrieval as
    the nearest of all stored layer-2 values, returns how often each context reaches its answer."""
    animal, mammal, reptile, dog, lizard = (sample("sphere", (trials,), d_k, gen, dtype) for _ in range(5))
    noise_k2, noise_v2 = (sample("sphere", (trials, n - 2), d_k, gen, dtype) for _ in range(2))
    keys2 = torch.cat([mammal[:, None], reptile[:, None], noise_k2], 1)
    values2 = torch.cat([dog[:, None], lizard[:, None], noise_v2], 1)
    S2 = memory.association_matrix(keys2, values2)
    result = {}
    for name, middle, answer in (("path 1: animal -> mammal -> dog", mammal, 0),
                                 ("path 2: animal -> reptile -> lizard", reptile, 1)):
        noise_k1, noise_v1 = (sample("sphere", (trials, n - 1), d_k, gen, dtype) for _ in range(2))
        S1 = memory.association_matrix(torch.cat([animal[:, None], noise_k1], 1),
                                       torch.cat([middle[:, None], noise_v1], 1))
        r = (animal[:, None] @ S1 @ S2).squeeze(1)
        decoded = torch.einsum("td,tnd->tn", r, values2).argmax(-1)
        result[name] = float((decoded == answer).double().mean())
    return result


# ----------------------------------------------------------------------------- claims

HOPS = Param("L", int, 3, 1, 64, help="number of stacked layers (hops)")


def check_multi_hop(params: Mapping[str, Any], ctx: Context) -> Outcome:
    der = proof.multi_hop(params["key_dist"])
    theory = der.evaluate("nsr", **params) * ctx.theory_factor
    draw = lambda gen, size: (chain_nsr(size, params["L"], params["n"], params["d_k"], params["key_dist"],
                                        gen, ctx_dtype(ctx), ctx.memory_budget),)
    # the per-trial error is a product of L random factors, right-skewed for small n: start from
    # a sample large enough for the t interval to be trusted
    ci, verdict = sequential_exact("conditioning.multi_hop", params, ctx, theory, draw, first=2048)
    paper = der.evaluate("paper_nsr", **params)
    return Outcome("conditioning.multi_hop", "nsr", dict(params), theory, ci.estimate, (ci.lo, ci.hi), verdict,
                   ci.n, ctx.seed, ctx.device,
                   evidence=[{"name": "paper_nsr", "value": paper, "paper_in_ci": bool(ci.lo <= paper <= ci.hi)}])


def _grid(dims, loads, hops, dists):
    return [{"d_k": d, "n": max(2, int(r * d)), "L": h, "key_dist": k}
            for k in dists for d in dims for r in loads for h in hops]


CLAIMS = (
    Claim(
        id="conditioning.multi_hop",
        paper_ref="section 5.1, eqs 18-20 (Definition 8)",
        statement="Noise compounds over L hops of stacked Hebbian layers as (1 + (n-1)/d_k)^L - 1: exact for "
                  "sphere keys; gaussian keys give (1 + (n+1)/d_k)^L - 1.",
        kind="exact",
        quantity="nsr",
        params=(Param("d_k", int, 64, 2, 4096), Param("n", int, 16, 2, 4096), HOPS, KEY_DIST),
        derive=lambda: [proof.multi_hop(d) for d in KEY_DISTS],
        check=check_multi_hop,
        grid={
            "ci": _grid((64,), (0.5,), (1, 3, 6), ("sphere", "gaussian")),
            "book": _grid((32, 128), (0.25, 0.5), (1, 2, 4, 6), ("sphere", "gaussian")),
            "paper": _grid((32, 128, 512), (0.25, 0.5, 1.0), (1, 2, 3, 4, 6, 8), KEY_DISTS),
        },
    ),
)
