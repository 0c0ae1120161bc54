"""Monte Carlo for section 5.1: chains of Hebbian layers (higher-order conditioning).

The claims of this section are declared at the bottom (``CLAIMS``).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from pavlov_theory import memory
from pavlov_theory.claims import Claim, Context, Outcome, Param, worst
from pavlov_theory.device import rows_per_chunk
from pavlov_theory.montecarlo import batch_generator
from pavlov_theory.montecarlo import dtype as ctx_dtype
from pavlov_theory.montecarlo import sequential_exact
from pavlov_theory.proofs import conditioning as proof
from pavlov_theory.sampling import KEY_DISTS, sample
from pavlov_theory.stats import Interval, mean_ci, proportion_ci

from .capacity import KEY_DIST


def chain_retrievals(
    trials: int, L: int, n: int, d_k: int, key_dist: str, gen: torch.Generator, dtype: torch.dtype,
    *, residual: bool = False, norm: str = "none", budget: int = 256 * 2**20,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Probe ``L`` stacked layers, layer ``l`` storing ``x_{l-1}^i -> x_l^i``, with every start
    ``x_0^i`` at once. Returns the retrievals ``r_L``, the targets ``x_L`` and the path sums
    ``x_0 + ... + x_L``, each ``(trials, n, d_k)``. ``residual`` adds each layer's input to its
    output (eq 20 with ``W_O = I``); ``norm`` is applied to each layer's output (eq 19)."""
    size = torch.finfo(dtype).bits // 8
    batch = rows_per_chunk(5 * n * d_k * size + 2 * d_k * d_k * size, budget)
    outs, targets, paths = [], [], []
    for start in range(0, trials, batch):
        t = min(batch, trials - start)
        previous = sample(key_dist, (t, n), d_k, gen, dtype)
        r, path = previous, previous.clone()
        for _ in range(L):
            current = sample(key_dist, (t, n), d_k, gen, dtype)
            out = memory.normalize(norm, r @ memory.association_matrix(previous, current))
            r = out + r if residual else out
            path += current
            previous = current
        outs.append(r)
        targets.append(previous)
        paths.append(path)
    return torch.cat(outs), torch.cat(targets), torch.cat(paths)


def chain_nsr(trials: int, L: int, n: int, d_k: int, key_dist: str, gen: torch.Generator,
              dtype: torch.dtype, *, residual: bool = False, budget: int = 256 * 2**20) -> np.ndarray:
    """Per-trial mean over the ``n`` chains of ``||r_L - x_L||^2`` (no Norm); with the residual
    stream, of ``||r_L - (x_0 + ... + x_L)||^2``, since the stream carries every stimulus."""
    r, target, path = chain_retrievals(trials, L, n, d_k, key_dist, gen, dtype, residual=residual, budget=budget)
    return ((r - (path if residual else target)) ** 2).sum(-1).mean(-1).double().cpu().numpy()


def routing_margins(
    trials: int, n: int, d_k: int, gen: torch.Generator, dtype: torch.dtype = torch.float32,
) -> dict[str, np.ndarray]:
    """The dynamic-routing example of section 5.1.3: same weights, two contexts. Concepts are
    random unit vectors: animal, mammal, reptile, dog, lizard. Context 1 writes animal -> mammal
    into layer 1, context 2 animal -> reptile, each among ``n - 1`` random distractor pairs;
    layer 2 holds mammal -> dog and reptile -> lizard among ``n - 2``. Probing with animal gives
    a two-hop retrieval ``r`` per context. Returns per trial and path: the routing margin
    ``r . (own answer - other answer)`` and whether the nearest stored layer-2 value (largest
    score) is the own answer. Path 1 is animal -> mammal -> dog, path 2 animal -> reptile -> lizard."""
    concept = lambda *shape: sample("sphere", shape, d_k, gen, dtype)
    animal, mammal, reptile, dog, lizard = (concept(trials) for _ in range(5))
    keys2 = torch.cat([mammal[:, None], reptile[:, None], concept(trials, n - 2)], 1)
    values2 = torch.cat([dog[:, None], lizard[:, None], concept(trials, n - 2)], 1)
    out = {}
    for path, (middle, own, other) in enumerate(((mammal, dog, lizard), (reptile, lizard, dog)), start=1):
        keys1 = torch.cat([animal[:, None], concept(trials, n - 1)], 1)
        values1 = torch.cat([middle[:, None], concept(trials, n - 1)], 1)
        # r = animal S1 S2 with S = K^T V, computed as scores times values (never a d_k x d_k matrix)
        u = torch.einsum("tn,tnd->td", torch.einsum("tnd,td->tn", keys1, animal), values1)
        r = torch.einsum("tn,tnd->td", torch.einsum("tnd,td->tn", keys2, u), values2)
        out[f"margin_{path}"] = (r * (own - other)).sum(-1).double().cpu().numpy()
        out[f"decoded_{path}"] = (torch.einsum("td,tnd->tn", r, values2).argmax(-1) == path - 1).cpu().numpy()
    return out


def routing_draw(trials: int, n: int, d_k: int, ctx: Context, params: Mapping[str, Any],
                 claim_id: str = "conditioning.routing") -> dict[str, np.ndarray]:
    """``routing_margins`` for ``trials`` trials, in seeded chunks that fit the memory budget."""
    size = torch.finfo(ctx_dtype(ctx)).bits // 8
    chunk = rows_per_chunk(8 * n * d_k * size, ctx.memory_budget)
    parts = [routing_margins(min(chunk, trials - start), n, d_k, batch_generator(ctx, claim_id, params, index),
                             ctx_dtype(ctx))
             for index, start in enumerate(range(0, trials, chunk))]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


# ----------------------------------------------------------------------------- claims

HOPS = Param("L", int, 3, 1, 64, help="number of stacked layers (hops)")


def check_multi_hop(params: Mapping[str, Any], ctx: Context) -> Outcome:
    der = proof.multi_hop(params["key_dist"])
    theory = der.evaluate("nsr", **params) * ctx.theory_factor
    draw = lambda gen, size: (chain_nsr(size, params["L"], params["n"], params["d_k"], params["key_dist"],
                                        gen, ctx_dtype(ctx), budget=ctx.memory_budget),)
    # the per-trial error is a product of L random factors, right-skewed for small n: start from
    # a sample large enough for the t interval to be trusted
    ci, verdict = sequential_exact("conditioning.multi_hop", params, ctx, theory, draw, first=2048)
    paper = der.evaluate("paper_nsr", **params)
    return Outcome("conditioning.multi_hop", "nsr", dict(params), theory, ci.estimate, (ci.lo, ci.hi), verdict,
                   ci.n, ctx.seed, ctx.device,
                   evidence=[{"name": "paper_nsr", "value": paper, "paper_in_ci": bool(ci.lo <= paper <= ci.hi)}])


def check_residual(params: Mapping[str, Any], ctx: Context) -> Outcome:
    der = proof.residual(params["key_dist"])
    theory = der.evaluate("nsr", **params) * ctx.theory_factor
    draw = lambda gen, size: (chain_nsr(size, params["L"], params["n"], params["d_k"], params["key_dist"], gen,
                                        ctx_dtype(ctx), residual=True, budget=ctx.memory_budget),)
    ci, verdict = sequential_exact("conditioning.residual", params, ctx, theory, draw, first=2048)
    power = der.evaluate("power", **params)
    return Outcome("conditioning.residual", "nsr", dict(params), theory, ci.estimate, (ci.lo, ci.hi), verdict,
                   ci.n, ctx.seed, ctx.device,
                   evidence=[{"name": "power", "value": power},
                             {"name": "first_order_cosine_with_answer", "value": power ** -0.5},
                             {"name": "plain_chain_nsr", "value": proof.multi_hop(params["key_dist"]).evaluate("nsr", **params)}])


ROUTING_TRIALS = {"ci": 20_000, "book": 50_000, "paper": 1_000_000}


def judge_routing(draws: Mapping[str, np.ndarray], bound: float, mean: float, second: float,
                  alpha: float) -> tuple[str, list[dict[str, Any]], Interval]:
    """Judge both paths: the derived mean and second moment of each margin must lie inside their
    t intervals (else the derivation is wrong: ``fails``), and each path's error rate
    ``P(m <= 0)`` must stay under ``bound`` (Clopper-Pearson). Six intervals share ``alpha``.
    Returns the verdict, a row per path, and the interval of the worse path's error rate."""
    level = alpha / 6
    rows, verdicts, worst_ci = [], [], None
    for path in (1, 2):
        m = draws[f"margin_{path}"]
        error = proportion_ci(int((m <= 0).sum()), m.size, level)
        m1, m2 = mean_ci(m, level), mean_ci(m**2, level)
        moments_ok = m1.lo <= mean <= m1.hi and m2.lo <= second <= m2.hi
        if not moments_ok or error.lo > bound:
            verdicts.append("fails")
        else:
            verdicts.append("holds" if error.hi <= bound else "undecided")
        rows.append({"path": path, "error": error.estimate, "error_ci": [error.lo, error.hi],
                     "margin_mean_ci": [m1.lo, m1.hi], "margin_second_moment_ci": [m2.lo, m2.hi],
                     "nearest_value_accuracy": float(draws[f"decoded_{path}"].mean())})
        if worst_ci is None or error.estimate > worst_ci.estimate:
            worst_ci = error
    return worst(verdicts), rows, worst_ci


def check_routing(params: Mapping[str, Any], ctx: Context) -> Outcome:
    der = proof.routing()
    trials = min(ctx.max_trials, ROUTING_TRIALS.get(ctx.scale, ROUTING_TRIALS["book"]))
    draws = routing_draw(trials, params["n"], params["d_k"], ctx, params)
    # a perturbed theory scales the derived variance, which moves both the bound and E[m^2]
    variance = der.evaluate("variance", **params) * ctx.theory_factor
    bound = variance / (variance + 1)
    verdict, rows, ci = judge_routing(draws, bound, der.evaluate("mean"), 1 + variance, ctx.alpha)
    evidence = [{"name": "variance", "value": variance},
                {"name": "gaussian_approximation", "value": der.evaluate("gaussian", **params)},
                {"name": "bound_over_measured", "value": bound / ci.estimate if ci.estimate > 0 else float("inf")},
                {"name": "by_path", "value": rows}]
    return Outcome("conditioning.routing", "path_error", dict(params), bound, ci.estimate, (ci.lo, ci.hi), verdict,
                   trials, ctx.seed, ctx.device, evidence=evidence,
                   note="theory is Cantelli's bound from the derived margin variance; estimate the worse path's "
                        "rate of choosing the other path's answer")


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
    Claim(
        id="conditioning.residual",
        paper_ref="section 5.1, eq 20 (residual stream, W_O = I)",
        statement="With the residual stream the L-hop retrieval carries every stimulus on the path; its error "
                  "against their sum is a_L - (L+1), a_L from a two-state linear recursion (derived).",
        kind="exact",
        quantity="nsr",
        params=(Param("d_k", int, 64, 2, 4096), Param("n", int, 16, 2, 4096), HOPS, KEY_DIST),
        derive=lambda: [proof.residual(d) for d in KEY_DISTS],
        check=check_residual,
        grid={
            "ci": _grid((64,), (0.25,), (1, 4), ("sphere", "gaussian")),
            "book": _grid((32, 128), (0.25, 0.5), (1, 2, 4, 6), ("sphere", "gaussian")),
            "paper": _grid((32, 128, 512), (0.25, 0.5, 1.0), (1, 2, 3, 4, 6, 8), KEY_DISTS),
        },
    ),
    Claim(
        id="conditioning.routing",
        paper_ref="section 5.1.3 (dynamic routing)",
        statement="The same weights route animal to dog in one context and to lizard in the other: each "
                  "context's answer beats the other's with margin of mean 1 and derived variance V, so the "
                  "wrong path wins with probability at most V/(1+V).",
        kind="bound",
        quantity="path_error",
        params=(Param("d_k", int, 64, 2, 4096), Param("n", int, 64, 2, 4096, help="pairs stored in each layer")),
        derive=proof.routing,
        check=check_routing,
        grid={
            "ci": [{"d_k": 32, "n": m} for m in (8, 64)],
            "book": [{"d_k": d, "n": int(r * d)} for d in (32, 64) for r in (0.25, 1.0, 2.0, 4.0)]
            + [{"d_k": 128, "n": int(r * 128)} for r in (0.25, 1.0)],
            "paper": [{"d_k": d, "n": int(r * d)} for d in (32, 128, 512) for r in (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)],
        },
    ),
)
