"""Monte Carlo for Theorem 9: heads that fail, layers of heads, and what redundancy buys.

The claims of this section are declared at the bottom (``CLAIMS``).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from pavlov_theory.claims import Claim, Context, Outcome, Param
from pavlov_theory.device import rows_per_chunk
from pavlov_theory.montecarlo import batch_generator
from pavlov_theory.montecarlo import dtype as ctx_dtype
from pavlov_theory.proofs import propagation as proof
from pavlov_theory.sampling import KEY_DISTS, sample
from pavlov_theory.stats import fit_power_law, judge_bound, proportion_ci

from .capacity import D_V, DELTA, KEY_DIST


def head_keys(trials: int, H: int, n: int, d_k: int, key_dist: str, gen: torch.Generator,
              dtype: torch.dtype, d_model: int = 0) -> torch.Tensor:
    """Keys of shape ``(trials, H, n, d_k)``: independent per head (``d_model = 0``), or unit
    projections ``e_i W_h`` of one shared sphere embedding of width ``d_model`` through
    independent Gaussian ``W_h``, which makes the heads' similarities correlated."""
    if d_model == 0:
        return sample(key_dist, (trials, H, n), d_k, gen, dtype)
    embedding = sample("sphere", (trials, 1, n), d_model, gen, dtype)
    projection = torch.randn((trials, H, d_model, d_k), generator=gen, device=gen.device, dtype=dtype)
    keys = embedding @ projection
    return keys / torch.linalg.vector_norm(keys, dim=-1, keepdim=True)


def head_noise(trials: int, H: int, n: int, d_k: int, d_v: int, key_dist: str, gen: torch.Generator,
               dtype: torch.dtype, d_model: int = 0, shared_values: bool = False) -> torch.Tensor:
    """Noise vectors ``(trials, H, d_v)`` of H heads probed with stored item 0: each head's
    ``sum_{j != 0} (k_0 . k_j) v_j``. Values are the same in every head (``shared_values``,
    heads storing one association redundantly) or independent per head."""
    keys = head_keys(trials, H, n, d_k, key_dist, gen, dtype, d_model)
    values = sample("sphere", (trials, 1 if shared_values else H, n), d_v, gen, dtype)
    coeff = (keys @ keys[:, :, :1].transpose(-1, -2)).squeeze(-1)  # (trials, H, n)
    coeff[..., 0] = 0
    return (coeff[..., None, :] @ values).squeeze(-2)


def failures(params: Mapping[str, Any], ctx: Context, claim_id: str, trials: int) -> dict[str, np.ndarray]:
    """Per-trial failure indicators for one point: head 0, all heads (the paper's layer event),
    and the averaged output of redundant heads (what summing heads does). Trials are drawn in
    chunks that fit ``ctx.memory_budget``."""
    H, n, d_k, d_v, d_model = params["H"], params["n"], params["d_k"], params["d_v"], params.get("d_model", 0)
    size = torch.finfo(ctx_dtype(ctx)).bits // 8
    per_trial = 4 * H * (d_model * d_k + n * (d_k + d_v)) * size
    chunk = rows_per_chunk(per_trial, ctx.memory_budget)
    out: dict[str, list[np.ndarray]] = {"head": [], "all_heads": [], "averaged": []}
    for index, start in enumerate(range(0, trials, chunk)):
        gen = batch_generator(ctx, claim_id, params, index)
        args = (min(chunk, trials - start), H, n, d_k, d_v, params["key_dist"], gen, ctx_dtype(ctx))
        independent = (head_noise(*args, d_model=d_model) ** 2).sum(-1) >= params["delta"]
        averaged = head_noise(*args, d_model=d_model, shared_values=True).mean(1)
        out["head"].append(independent[:, 0].cpu().numpy())
        out["all_heads"].append(independent.all(1).cpu().numpy())
        out["averaged"].append(((averaged**2).sum(-1) >= params["delta"]).cpu().numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def network_failures(trials: int, L: int, H: int, n: int, d_k: int, d_v: int, key_dist: str, delta: float,
                     ctx: Context, claim_id: str, params: Mapping[str, Any]) -> np.ndarray:
    """Failure counts of networks of depth 1..L (independent layers of H independent heads; a
    layer fails when all its heads fail, the network when any layer fails), from one run:
    depth ``l`` uses the first ``l`` layers. Returns an int array of length L."""
    size = torch.finfo(ctx_dtype(ctx)).bits // 8
    chunk = rows_per_chunk(4 * L * H * n * (d_k + d_v) * size, ctx.memory_budget)
    counts = np.zeros(L, dtype=np.int64)
    for index, start in enumerate(range(0, trials, chunk)):
        t = min(chunk, trials - start)
        gen = batch_generator(ctx, claim_id, params, index)
        noise = head_noise(t * L, H, n, d_k, d_v, key_dist, gen, ctx_dtype(ctx))
        layer_fails = ((noise**2).sum(-1) >= delta).all(-1).reshape(t, L)
        counts += layer_fails.cummax(dim=1).values.sum(0).cpu().numpy()
    return counts


# ----------------------------------------------------------------------------- claims

HEADS = Param("H", int, 2, 1, 16, help="heads per layer")
D_MODEL = Param("d_model", int, 32, 1, 65536, help="width of the shared embedding the heads project")
FAILURE_TRIALS = {"ci": 20_000, "book": 100_000, "paper": 1_000_000}
HEAD_COUNT_TRIALS = {"ci": 4_000, "book": 20_000, "paper": 200_000}  # every H of the sweep, L layers each


def _bound_outcome(claim_id: str, quantity: str, params, ctx, count: int, trials: int, bound: float,
                   evidence: list) -> Outcome:
    ci = proportion_ci(count, trials, ctx.alpha)
    if bound >= 1:
        verdict = "holds"  # a bound of 1 or more says nothing and cannot be violated
    elif ci.lo > bound:
        verdict = "fails"
    else:
        verdict = judge_bound(bound, ci.hi) if ci.hi <= bound else "undecided"
    ratio = bound / ci.estimate if ci.estimate > 0 else float("inf")
    evidence = [{"name": "bound", "value": bound}, {"name": "bound_over_measured", "value": ratio}] + evidence
    return Outcome(claim_id, quantity, dict(params), bound, ci.estimate, (ci.lo, ci.hi), verdict, trials,
                   ctx.seed, ctx.device, evidence=evidence, note="theory is the paper's bound; estimate the measured probability")


def check_head_failure(params: Mapping[str, Any], ctx: Context) -> Outcome:
    der = proof.theorem9(params["key_dist"])
    trials = min(ctx.max_trials, FAILURE_TRIALS.get(ctx.scale, FAILURE_TRIALS["book"]))
    fails = failures({**params, "H": 1}, ctx, "propagation.head_failure", trials)["head"]
    bound = der.evaluate("head", **params) * ctx.theory_factor
    markov = der.evaluate("head_markov", **params)
    return _bound_outcome("propagation.head_failure", "p_head", params, ctx, int(fails.sum()), trials, bound,
                          [{"name": "markov_with_minus_one", "value": markov}])


def check_layer_failure(params: Mapping[str, Any], ctx: Context, claim_id: str = "propagation.layer_failure") -> Outcome:
    der = proof.theorem9(params["key_dist"])
    trials = min(ctx.max_trials, FAILURE_TRIALS.get(ctx.scale, FAILURE_TRIALS["book"]))
    f = failures(params, ctx, claim_id, trials)
    bound = der.evaluate("layer", **params) * ctx.theory_factor
    p_head = f["head"].mean()
    averaged_bound = min(1.0, der.evaluate("averaged_noise", **params) / params["delta"])
    evidence = [
        {"name": "head_failure_rate", "value": float(p_head)},
        {"name": "independence_prediction_p_head^H", "value": float(p_head ** params["H"])},
        {"name": "summed_heads_failure_rate", "value": float(f["averaged"].mean())},
        {"name": "summed_heads_markov_bound", "value": averaged_bound},
    ]
    return _bound_outcome(claim_id, "p_layer", params, ctx, int(f["all_heads"].sum()), trials, bound, evidence)


def check_network_error(params: Mapping[str, Any], ctx: Context) -> Outcome:
    """Eq 46 at every depth 1..L against Clopper-Pearson limits, and the growth exponent of the
    measured failure probability in L (1 where the first-order form of eq 48 applies)."""
    der = proof.theorem9(params["key_dist"])
    trials = min(ctx.max_trials, FAILURE_TRIALS.get(ctx.scale, FAILURE_TRIALS["book"]))
    counts = network_failures(trials, params["L"], params["H"], params["n"], params["d_k"], params["d_v"],
                              params["key_dist"], params["delta"], ctx, "propagation.network_error", params)
    depths = np.arange(1, params["L"] + 1)
    violations, rows = [], []
    for depth, count in zip(depths, counts):
        bound = der.evaluate("network", **{**params, "L": depth}) * ctx.theory_factor
        ci = proportion_ci(int(count), trials, ctx.alpha / (2 * len(depths)))
        if bound < 1 and ci.lo > bound:
            violations.append(int(depth))
        rows.append({"L": int(depth), "measured": ci.estimate, "ci": [ci.lo, ci.hi], "bound": bound,
                     "first_order": der.evaluate("network_first_order", **{**params, "L": depth})})
    positive = counts > 0
    fit = (fit_power_law(depths[positive], counts[positive] / trials, ctx.alpha / 2) if positive.sum() >= 3
           else None)
    verdict = "fails" if violations else ("holds" if fit is not None else "undecided")
    estimate, ci = (fit.estimate, (fit.lo, fit.hi)) if fit is not None else (float("nan"), (float("nan"),) * 2)
    return Outcome("propagation.network_error", "depth_exponent", dict(params), 1.0, estimate, ci, verdict, trials,
                   ctx.seed, ctx.device, evidence=[{"name": "by_depth", "value": rows},
                                                   {"name": "violated_depths", "value": violations}],
                   note="theory 1 is the first-order exponent of eq 48; the verdict is the bound of eq 46")


def check_head_count(params: Mapping[str, Any], ctx: Context) -> Outcome:
    """Measured network error for every H dividing d_model (d_k = d_model/H), the H that
    minimises it (with every H whose interval overlaps the best), beside H* of the bound."""
    der = proof.head_count()
    trials = min(ctx.max_trials, HEAD_COUNT_TRIALS.get(ctx.scale, HEAD_COUNT_TRIALS["book"]))
    heads = [h for h in range(1, params["d_model"] + 1) if params["d_model"] % h == 0 and params["d_model"] // h >= 2]
    heads = [h for h in heads if h <= 16]
    rows = []
    for h in heads:
        point = {**params, "H": h, "d_k": params["d_model"] // h}
        counts = network_failures(trials, params["L"], h, params["n"], point["d_k"], params["d_v"], params["key_dist"],
                                  params["delta"], ctx, "propagation.head_count", point)
        ci = proportion_ci(int(counts[-1]), trials, ctx.alpha / len(heads))
        rows.append({"H": h, "d_k": point["d_k"], "measured": ci.estimate, "ci": [ci.lo, ci.hi],
                     "bound": float(min(1.0, der.evaluate("bound", **{**params, "H": h})))})
    best_hi = min(r["ci"][1] for r in rows)
    plausible = [r["H"] for r in rows if r["ci"][0] <= best_hi]
    best = min(rows, key=lambda r: (r["measured"], r["H"]))["H"]
    h_star = der.evaluate("optimal_H", **params)
    bound_best = min(rows, key=lambda r: r["bound"])["H"]
    verdict = "holds" if any(abs(h - h_star) <= max(1.0, 0.5 * h_star) for h in plausible) else "fails"
    return Outcome("propagation.head_count", "best_H", dict(params), h_star, float(best),
                   (float(min(plausible)), float(max(plausible))), verdict, trials * len(heads), ctx.seed, ctx.device,
                   evidence=[{"name": "by_H", "value": rows}, {"name": "bound_best_H_on_grid", "value": bound_best}],
                   note="holds if a head count within a factor of 1.5 of H* is among the measured best")


CLAIMS = (
    Claim(
        id="propagation.head_failure",
        paper_ref="Theorem 9, appendix A.2.1, eq 40",
        statement="A head fails (noise power >= delta) with probability below n/(delta d_k).",
        kind="bound",
        quantity="p_head",
        params=(Param("d_k", int, 64, 2, 4096), D_V, Param("n", int, 16, 2, 4096), KEY_DIST, DELTA),
        derive=proof.theorem9,
        check=check_head_failure,
        grid={
            "ci": [{"d_k": 64, "n": n} for n in (8, 24)],
            "book": [{"d_k": d, "n": int(r * d), "key_dist": k} for d in (32, 128) for r in (0.125, 0.25, 0.375)
                     for k in ("sphere", "gaussian")],
            "paper": [{"d_k": d, "n": int(r * d), "key_dist": k} for d in (32, 128, 512)
                      for r in (0.125, 0.25, 0.375, 0.5) for k in KEY_DISTS],
        },
    ),
    Claim(
        id="propagation.layer_failure",
        paper_ref="Theorem 9, appendix A.2.2, eqs 41-43",
        statement="With H independent heads a layer fails only if all fail: P(layer fails) < (n/(delta d_k))^H.",
        kind="bound",
        quantity="p_layer",
        params=(Param("d_k", int, 32, 2, 4096), D_V, Param("n", int, 12, 2, 4096), KEY_DIST, DELTA, HEADS),
        derive=proof.theorem9,
        check=check_layer_failure,
        grid={
            "ci": [{"H": h} for h in (1, 2, 3)],
            "book": [{"H": h, "n": n} for n in (8, 12) for h in (1, 2, 3, 4)],
            "paper": [{"H": h, "n": n, "d_k": 64} for n in (16, 24) for h in (1, 2, 3, 4, 6)],
        },
    ),
    Claim(
        id="propagation.shared_heads",
        paper_ref="Theorem 9, the independence assumption of eq 41",
        statement="The layer bound (n/(delta d_k))^H still holds when the heads' keys are projections of one "
                  "shared embedding of width d_model < H d_k.",
        kind="bound",
        quantity="p_layer",
        params=(Param("d_k", int, 32, 2, 4096), D_V, Param("n", int, 12, 2, 4096), KEY_DIST, DELTA,
                Param("H", int, 4, 1, 16, help="heads per layer"), D_MODEL),
        derive=proof.theorem9,
        check=lambda params, ctx: check_layer_failure(params, ctx, "propagation.shared_heads"),
        grid={
            "ci": [{"d_model": m} for m in (16, 64)],
            "book": [{"d_model": m} for m in (16, 32, 64, 128)],
            "paper": [{"d_model": m, "H": 6, "n": 24, "d_k": 64} for m in (32, 64, 128, 384)],
        },
    ),
    Claim(
        id="propagation.network_error",
        paper_ref="Theorem 9, appendix A.2.3-A.2.4, eqs 44-50",
        statement="A network of L layers fails with probability below 1 - (1 - (n/(delta d_k))^H)^L, about "
                  "L (n/(delta d_k))^H: linear in depth.",
        kind="bound",
        quantity="depth_exponent",
        params=(Param("d_k", int, 32, 2, 4096), D_V, Param("n", int, 12, 2, 4096), KEY_DIST, DELTA,
                Param("H", int, 2, 1, 16, help="heads per layer"), Param("L", int, 16, 2, 256, help="largest depth")),
        derive=proof.theorem9,
        check=lambda params, ctx: check_network_error(params, ctx),
        grid={
            "ci": [{"H": 2, "n": 12}, {"H": 1, "n": 12}],
            "book": [{"H": h, "n": m} for h, m in ((1, 8), (1, 12), (2, 12), (3, 12))],
            "paper": [{"H": h, "n": m, "L": 32} for h, m in ((1, 8), (1, 12), (2, 12), (3, 12), (4, 16))],
        },
    ),
    Claim(
        id="propagation.head_count",
        paper_ref="beyond the paper (section 5.2.1, depth-width trade-off)",
        statement="At fixed width d_model = H d_k the bound L (n H/(delta d_model))^H is least at "
                  "H* = delta d_model/(e n); compare with the H that minimises the measured network error.",
        kind="statement",
        quantity="best_H",
        params=(Param("d_model", int, 64, 4, 4096, help="width H d_k"), D_V, Param("n", int, 8, 2, 4096), KEY_DIST,
                DELTA, Param("L", int, 4, 1, 256, help="depth")),
        derive=proof.head_count,
        check=lambda params, ctx: check_head_count(params, ctx),
        grid={
            "ci": [{"n": 8}],
            "book": [{"n": m} for m in (4, 8, 16)],
            "paper": [{"n": m, "d_model": 128} for m in (4, 8, 16, 24, 32)],
        },
    ),
)
