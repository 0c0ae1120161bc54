"""Monte Carlo for sections 2-4.1: the three forms of linear attention agree, retrieval
generalizes linearly (softmax: exponentially), and what Norm does and does not do.

The claims of this section are declared at the bottom (``CLAIMS``).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from pavlov_theory import memory
from pavlov_theory.claims import Claim, Context, Outcome, Param, worst
from pavlov_theory.montecarlo import batch_generator, eps, sequential_exact
from pavlov_theory.montecarlo import dtype as ctx_dtype
from pavlov_theory.proofs import framework as proof
from pavlov_theory.sampling import KEY_DISTS, sample, unit_with_cosine
from pavlov_theory.stats import judge_identity, judge_positive, mean_ci, sequential

from .capacity import D_V, KEY_DIST, N

FORMS = {"parallel": memory.parallel_form, "recurrent": memory.recurrent_form, "chunked": memory.chunked_form}


def form_outputs(
    trials: int, T: int, d_k: int, d_v: int, phi: str, norm: str, gamma: float,
    gen: torch.Generator, dtype: torch.dtype, forms: Mapping[str, Any] = FORMS,
) -> dict[str, torch.Tensor]:
    """``Norm(phi(q_i) S_i)`` for every step of random sequences, once per form."""
    q, k = (memory.feature_map(phi, sample("gaussian", (trials, T), d_k, gen, dtype)) for _ in range(2))
    v = sample("gaussian", (trials, T), d_v, gen, dtype)
    return {name: memory.normalize(norm, form(q, k, v, gamma)) for name, form in forms.items()} | {
        "_raw": memory.parallel_form(q, k, v, gamma)}


def max_form_deviation(outputs: Mapping[str, torch.Tensor], norm: str) -> tuple[float, int]:
    """Largest relative row deviation of any form from the parallel one, and how many rows were
    left out as degenerate (pre-norm row numerically zero, where Norm has no direction)."""
    raw = outputs["_raw"]
    centred = raw - raw.mean(-1, keepdim=True) if norm == "layernorm" else raw
    scale = torch.linalg.vector_norm(centred, dim=-1)
    keep = scale > 1e-6 * scale.max()
    ref = outputs["parallel"]
    worst_dev = 0.0
    for name, out in outputs.items():
        if name.startswith("_") or name == "parallel":
            continue
        diff = torch.linalg.vector_norm(out - ref, dim=-1)
        size = torch.linalg.vector_norm(ref, dim=-1).clamp_min(torch.finfo(ref.dtype).tiny)
        worst_dev = max(worst_dev, float((diff / size)[keep].max()))
    return worst_dev, int((~keep).sum())


def retrieval_response(
    trials: int, n: int, d_k: int, d_v: int, key_dist: str, s: float,
    gen: torch.Generator, dtype: torch.dtype,
) -> np.ndarray:
    """``r . v_0`` with ``r = q S`` for a unit probe ``q`` at cosine ``s`` with stored key ``k_0``."""
    keys = sample(key_dist, (trials, n), d_k, gen, dtype)
    values = sample("sphere", (trials, n), d_v, gen, dtype)
    probe = unit_with_cosine(keys[:, 0], s, gen)
    r = (probe[:, None, :] @ memory.association_matrix(keys, values)).squeeze(1)
    return (r * values[:, 0]).sum(-1).double().cpu().numpy()


def softmax_weight_ratio(
    trials: int, n: int, d_k: int, s: float, beta: float, gen: torch.Generator, dtype: torch.dtype,
) -> np.ndarray:
    """Softmax attention weight on a key at cosine ``s`` with the probe over the weight on a key
    orthogonal to it, amid ``n - 2`` random sphere keys."""
    probe = sample("sphere", (trials,), d_k, gen, dtype)
    keys = sample("sphere", (trials, n), d_k, gen, dtype)
    keys[:, 0] = unit_with_cosine(probe, s, gen)
    keys[:, 1] = unit_with_cosine(probe, 0.0, gen)
    weights = torch.softmax(beta * (keys @ probe[:, :, None]).squeeze(-1), dim=-1)
    return (weights[:, 0] / weights[:, 1]).double().cpu().numpy()


def stored_key_retrieval(
    trials: int, n: int, d_k: int, d_v: int, key_dist: str, gen: torch.Generator, dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(r, values)``: the raw retrieval ``k_0 S`` and the stored values, per trial."""
    keys = sample(key_dist, (trials, n), d_k, gen, dtype)
    values = sample("sphere", (trials, n), d_v, gen, dtype)
    r = (keys[:, :1] @ memory.association_matrix(keys, values)).squeeze(1)
    return r, values


def cosine_margin(x: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Cosine with the right value ``v_0`` minus the largest cosine with a competitor."""
    cos = torch.nn.functional.cosine_similarity(x[:, None, :], values, dim=-1)
    return cos[:, 0] - cos[:, 1:].max(-1).values


# ----------------------------------------------------------------------------- claims

T_LEN = Param("T", int, 64, 1, 4096, help="sequence length")
PHI = Param("phi", str, "identity", choices=memory.FEATURE_MAPS, help="feature map phi")
NORM = Param("norm", str, "none", choices=memory.NORMS, help="output normalization")
GAMMA = Param("gamma", float, 1.0, 0.0, 1.0, help="decay of eq 17 (1 = eq 8)")
SIM = Param("s", float, 0.5, 0.05, 1.0, help="cosine similarity of probe and stored key")
RETRIEVAL = Param("retrieval", str, "linear", choices=("linear", "softmax"), help="retrieval rule")
BETA = Param("beta", float, 4.0, 0.0, 50.0, help="softmax inverse temperature")
SEL_NORM = Param("norm", str, "rmsnorm", choices=("rmsnorm", "layernorm"), help="normalization tested")
MIN_GAIN = Param("min_gain", float, 1e-3, 0.0, 1.0,
                 help="smallest mean increase of the cosine margin that counts as amplification")
EQ_TRIALS = 8


def check_equivalence(params: Mapping[str, Any], ctx: Context) -> Outcome:
    proof.equivalence()  # raises if any symbolic step fails
    gen = batch_generator(ctx, "framework.equivalence", params, 0)
    outputs = form_outputs(EQ_TRIALS, params["T"], params["d_k"], params["d_v"], params["phi"],
                           params["norm"], params["gamma"], gen, torch.float64)
    deviation, degenerate = max_form_deviation(outputs, params["norm"])
    tolerance = 2e3 * float(torch.finfo(torch.float64).eps)
    verdict = judge_identity(deviation, tolerance)
    return Outcome("framework.equivalence", "max_relative_deviation", dict(params), 0.0, deviation,
                   (0.0, deviation), verdict, EQ_TRIALS, ctx.seed, ctx.device,
                   evidence=[{"name": "tolerance", "value": tolerance},
                             {"name": "symbolic_steps", "value": len(proof.equivalence().steps)},
                             {"name": "degenerate_rows", "value": degenerate}],
                   note="float64; forms: parallel (masked), recurrent (eq 8/17), chunked (16)")


def check_generalization(params: Mapping[str, Any], ctx: Context) -> Outcome:
    der = proof.generalization(params["key_dist"])
    dtype = ctx_dtype(ctx)
    if params["retrieval"] == "softmax":
        theory = der.evaluate("weight_ratio", **params) * ctx.theory_factor
        gen = batch_generator(ctx, "framework.generalization", params, 0)
        ratios = softmax_weight_ratio(256, params["n"], params["d_k"], params["s"], params["beta"], gen, dtype)
        deviation = float(np.max(np.abs(ratios / theory - 1)))
        tolerance = 100 * eps(ctx) * max(1.0, params["beta"])
        return Outcome("framework.generalization", "weight_ratio", dict(params), theory,
                       float(ratios.mean()), (float(ratios.min()), float(ratios.max())),
                       judge_identity(deviation, tolerance), ratios.size, ctx.seed, ctx.device,
                       evidence=[{"name": "max_relative_deviation", "value": deviation},
                                 {"name": "tolerance", "value": tolerance}],
                       note="sphere keys; ratio of weights at logits beta*s and 0")
    theory = der.evaluate("response", **params) * ctx.theory_factor
    draw = lambda gen, size: (retrieval_response(size, params["n"], params["d_k"], params["d_v"],
                                                 params["key_dist"], params["s"], gen, dtype),)
    ci, verdict = sequential_exact("framework.generalization", params, ctx, theory, draw, first=512)
    return Outcome("framework.generalization", "response", dict(params), theory, ci.estimate,
                   (ci.lo, ci.hi), verdict, ci.n, ctx.seed, ctx.device)


def check_normalization(params: Mapping[str, Any], ctx: Context) -> Outcome:
    der = proof.normalization(params["key_dist"])
    theory = der.evaluate("raw_power", **params) * ctx.theory_factor
    dtype, tol = ctx_dtype(ctx), 100 * eps(ctx)
    extremes = {"rmsnorm_power": 0.0, "layernorm_power": 0.0, "rmsnorm_cosine": 0.0}
    layer_cosines: list[np.ndarray] = []

    def draw(gen, size):
        r, _ = stored_key_retrieval(size, params["n"], params["d_k"], params["d_v"], params["key_dist"], gen, dtype)
        for name in ("rmsnorm", "layernorm"):
            o = memory.normalize(name, r)
            power = (o * o).sum(-1) / params["d_v"]
            extremes[f"{name}_power"] = max(extremes[f"{name}_power"], float((power - 1).abs().max()))
        cos = torch.nn.functional.cosine_similarity(memory.normalize("rmsnorm", r), r, dim=-1)
        extremes["rmsnorm_cosine"] = max(extremes["rmsnorm_cosine"], float((cos - 1).abs().max()))
        layer_cosines.append(torch.nn.functional.cosine_similarity(
            memory.normalize("layernorm", r), r, dim=-1).double().cpu().numpy())
        return ((r * r).sum(-1).double().cpu().numpy(),)

    ci, raw_verdict = sequential_exact("framework.normalization", params, ctx, theory, draw, first=512)
    identity_verdicts = [judge_identity(value, tol) for value in extremes.values()]
    evidence = [{"name": f"max_abs_{k}_error", "value": v, "verdict": judge_identity(v, tol)}
                for k, v in extremes.items()]
    evidence.append({"name": "normalized_power", "value": der.evaluate("normalized_power", **params)})
    evidence.append({"name": "layernorm_mean_cosine_to_raw", "value": float(np.concatenate(layer_cosines).mean())})
    return Outcome("framework.normalization", "raw_power", dict(params), theory, ci.estimate,
                   (ci.lo, ci.hi), worst([raw_verdict, *identity_verdicts]), ci.n, ctx.seed, ctx.device,
                   evidence=evidence, note=f"identity tolerance {tol:.2e}")


def check_selectivity(params: Mapping[str, Any], ctx: Context) -> Outcome:
    der = proof.normalization(params["key_dist"])
    # RMSNorm: the margin change is 0 (derived); LayerNorm's change has no closed form here.
    theory = der.evaluate("cosine_change", **params) if params["norm"] == "rmsnorm" else float("nan")
    dtype = ctx_dtype(ctx)
    negligible = 100 * eps(ctx) if params["norm"] == "rmsnorm" else params["min_gain"]

    def draw(index, size):
        gen = batch_generator(ctx, "framework.selectivity", params, index)
        r, values = stored_key_retrieval(size, params["n"], params["d_k"], params["d_v"], params["key_dist"], gen, dtype)
        gain = cosine_margin(memory.normalize(params["norm"], r), values) - cosine_margin(r, values)
        return (gain.double().cpu().numpy(),)

    ci, verdict = sequential(draw, lambda x, a: mean_ci(x[0], a), lambda c: judge_positive(c, negligible),
                             ctx.alpha, 512, ctx.max_trials)
    return Outcome("framework.selectivity", "margin_gain", dict(params), theory, ci.estimate,
                   (ci.lo, ci.hi), verdict, ci.n, ctx.seed, ctx.device,
                   evidence=[{"name": "negligible_gain", "value": negligible}],
                   note="holds if Norm raises the cosine margin of the right value over its best competitor")


def _n_at_most_tokens(p: Mapping[str, Any]) -> str | None:
    if p.get("retrieval") == "softmax" and p["n"] < 2:
        return "n: softmax check needs n >= 2"
    return None


CLAIMS = (
    Claim(
        id="framework.equivalence",
        paper_ref="Theorem 5, eqs 6-8, 12-15",
        statement="With f = phi, g = I, alpha = 1, X = Y = Z the conditioning circuit is causal linear "
                  "attention; masked parallel, recurrent and chunked forms agree, with or without Norm.",
        kind="identity",
        quantity="max_relative_deviation",
        params=(T_LEN, Param("d_k", int, 16, 1, 4096), Param("d_v", int, 16, 1, 4096), PHI, NORM, GAMMA),
        derive=proof.equivalence,
        check=check_equivalence,
        grid={
            "ci": [{"phi": p, "norm": m, "gamma": g} for p, m, g in
                   (("identity", "none", 1.0), ("elu1", "rmsnorm", 1.0), ("relu", "layernorm", 0.9))],
            "book": [{"phi": p, "norm": m, "gamma": g, "T": 100} for p in memory.FEATURE_MAPS
                     for m in memory.NORMS for g in (1.0, 0.9)],
            "paper": [{"phi": p, "norm": m, "gamma": g, "T": 512, "d_k": 64, "d_v": 64}
                      for p in memory.FEATURE_MAPS for m in memory.NORMS for g in (1.0, 0.95, 0.5)],
        },
    ),
    Claim(
        id="framework.generalization",
        paper_ref="Definition 3, eqs 13-14, section 3.3",
        statement="The retrieved weight on a stored US is the probe-key similarity, so the response "
                  "falls linearly with cosine similarity (softmax retrieval: as exp(beta s)).",
        kind="exact",
        quantity="response",
        params=(Param("d_k", int, 64, 2, 65536), D_V, Param("n", int, 32, 2, 10**5), KEY_DIST, SIM, RETRIEVAL, BETA),
        derive=lambda: [proof.generalization(d) for d in KEY_DISTS],
        check=check_generalization,
        grid={
            "ci": [{"s": s, "key_dist": k} for s in (0.3, 0.9) for k in ("sphere", "gaussian")]
                  + [{"s": 0.5, "retrieval": "softmax"}],
            "book": [{"s": s, "key_dist": k} for s in (0.1, 0.3, 0.6, 0.9) for k in KEY_DISTS]
                    + [{"s": s, "retrieval": "softmax", "beta": b} for s in (0.2, 0.8) for b in (1.0, 8.0)],
            "paper": [{"s": s, "key_dist": k, "d_k": 256} for s in (0.1, 0.3, 0.6, 0.9) for k in KEY_DISTS]
                     + [{"s": s, "retrieval": "softmax", "beta": b} for s in (0.2, 0.8) for b in (1.0, 8.0, 32.0)],
        },
        constraint=_n_at_most_tokens,
    ),
    Claim(
        id="framework.normalization",
        paper_ref="Definition 4, eq 15",
        statement="Raw retrieval power E||r||^2 = 1 + (n-1)/d_k grows with load; RMSNorm and LayerNorm fix "
                  "||Norm(r)||^2 = d_v whatever n, and RMSNorm keeps the direction of r.",
        kind="exact",
        quantity="raw_power",
        params=(Param("d_k", int, 64, 2, 65536), D_V, N, KEY_DIST),
        derive=lambda: [proof.normalization(d) for d in KEY_DISTS],
        check=check_normalization,
        grid={
            "ci": [{"n": n} for n in (16, 256)],
            "book": [{"n": n, "key_dist": k} for n in (4, 64, 512) for k in KEY_DISTS],
            "paper": [{"n": n, "key_dist": k, "d_k": 256} for n in (4, 64, 512, 4096) for k in KEY_DISTS],
        },
    ),
    Claim(
        id="framework.selectivity",
        paper_ref="Definition 4 (the amplification statement after eq 15)",
        statement="Normalization amplifies differences between competing US responses, i.e. raises the "
                  "cosine margin of the right value over its best competitor.",
        kind="statement",
        quantity="margin_gain",
        params=(Param("d_k", int, 64, 2, 65536), D_V, N, KEY_DIST, SEL_NORM, MIN_GAIN),
        derive=lambda: proof.normalization("sphere"),
        check=check_selectivity,
        grid={
            "ci": [{"norm": m, "n": 64} for m in ("rmsnorm", "layernorm")],
            "book": [{"norm": m, "n": n} for m in ("rmsnorm", "layernorm") for n in (16, 256)],
            "paper": [{"norm": m, "n": n, "d_k": 256} for m in ("rmsnorm", "layernorm") for n in (16, 256, 2048)],
        },
    ),
)
