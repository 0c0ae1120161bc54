"""Monte Carlo for sections 2-4.1: the three forms of linear attention agree, retrieval
generalizes linearly in similarity, raw retrieval power grows with load, and whether Norm
amplifies the winning response.

Kernels first (each with a naive reference on the same draws), the claims at the bottom.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Mapping

import numpy as np
import torch

from pavlov_theory import judges, memory
from pavlov_theory.claims import Claim, Context, Param, Probe, Result
from pavlov_theory.engine import Kernel, Law, draw, sample_until, sampled, to_numpy
from pavlov_theory.params import D_K, D_V, GAMMA, KEY_DIST, KEY_DISTS, N
from pavlov_theory.proofs import framework as proof
from pavlov_theory.sampling import sample, unit_with_cosine
from pavlov_theory.stats import Interval

ORDER = 1

# ----------------------------------------------------------------- the three forms (Theorem 5)


def _sequences(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype):
    """Random ``phi(q)``, ``phi(k)`` and ``v`` of ``trials`` sequences of length ``T``."""
    T, phi = params["T"], params["phi"]
    q, k = (memory.feature_map(phi, sample("gaussian", (trials, T), params["d_k"], gen, dtype))
            for _ in range(2))
    return q, k, sample("gaussian", (trials, T), params["d_v"], gen, dtype)


def _condition(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, gamma: float, raw: torch.Tensor,
               norm: str) -> torch.Tensor:
    """Per output row, the sum of the magnitudes of its terms over the size of the row that Norm
    sees (centred for LayerNorm): the factor by which rounding of the sums is amplified. A row with
    no terms (ReLU features with disjoint supports) is exactly 0 in every form: condition 1."""
    magnitudes = memory.parallel_form(q.abs(), k.abs(), v.abs(), gamma)
    seen = raw - raw.mean(-1, keepdim=True) if norm == "layernorm" else raw
    top, bottom = torch.linalg.vector_norm(magnitudes, dim=-1), torch.linalg.vector_norm(seen, dim=-1)
    return torch.where(top > 0, top / bottom, torch.ones_like(top))


def forms(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype):
    """The masked parallel, recurrent and chunked forms before ``Norm`` and after it, each with
    its rows' condition (Norm hides a wrong overall scale, so both are compared)."""
    q, k, v = _sequences(params, trials, gen, dtype)
    gamma, norm = params["gamma"], params["norm"]
    raw = [f(q, k, v, gamma) for f in (memory.parallel_form, memory.recurrent_form, memory.chunked_form)]
    normed = [memory.normalize(norm, out) for out in raw]
    return (*map(to_numpy, raw), to_numpy(_condition(q, k, v, gamma, raw[0], "none")),
            *map(to_numpy, normed), to_numpy(_condition(q, k, v, gamma, raw[0], norm)))


def forms_naive(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype):
    """The definition read literally, for every form: row ``i`` is
    ``sum_{j <= i} gamma^(i-j) (q_i . k_j) v_j`` and its ``Norm``, one trial and one step at a time."""
    q, k, v = _sequences(params, trials, gen, dtype)
    gamma, norm = params["gamma"], params["norm"]
    raw, out = np.zeros((2, trials, params["T"], params["d_v"]))
    cond_raw, cond = np.zeros((2, trials, params["T"]))
    for t in range(trials):
        for i in range(params["T"]):
            row = sum(gamma ** (i - j) * float(q[t, i] @ k[t, j]) * v[t, j] for j in range(i + 1))
            size = sum(gamma ** (i - j) * float(q[t, i].abs() @ k[t, j].abs()) * v[t, j].abs()
                       for j in range(i + 1))
            seen = row - row.mean() if norm == "layernorm" else row
            raw[t, i] = to_numpy(row)
            out[t, i] = to_numpy(memory.normalize(norm, row[None])[0])
            top = float(torch.linalg.vector_norm(size))
            cond_raw[t, i] = top / float(torch.linalg.vector_norm(row)) if top > 0 else 1.0
            cond[t, i] = top / float(torch.linalg.vector_norm(seen)) if top > 0 else 1.0
    return raw, raw.copy(), raw.copy(), cond_raw, out, out.copy(), out.copy(), cond


FORMS = Kernel("framework.forms", forms, forms_naive,
               bytes_per_trial=lambda p, size: 8 * size * p["T"] * (p["d_k"] + p["d_v"]),
               example={"T": 5, "d_k": 3, "d_v": 2, "phi": "elu1", "norm": "layernorm", "gamma": 0.9})


def form_deviation(outputs, ratio: float) -> float:
    """Largest deviation of the recurrent and chunked rows from ``ratio`` times the masked
    parallel rows, relative to the row's size and divided by the row's condition (1 for a row with
    no terms, which is exactly zero in every form); a row whose centred size is 0 has an unbounded
    condition and counts 0."""
    parallel, recurrent, chunked, cond = outputs
    ref = ratio * parallel
    size = np.maximum(np.linalg.norm(parallel, axis=-1), np.finfo(np.float64).tiny)
    cond = np.maximum(cond, 1.0)
    return max(float((np.linalg.norm(out - ref, axis=-1) / size / cond).max())
               for out in (recurrent, chunked))


# ---------------------------------------------------------------- retrieval (section 3.3, Def 4)


def _memory(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype):
    keys = sample(params["key_dist"], (trials, params["n"]), params["d_k"], gen, dtype)
    return keys, sample("sphere", (trials, params["n"]), params["d_v"], gen, dtype)


def _retrieve(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``r = q S = sum_j (q . k_j) v_j`` for every trial, without forming ``S``."""
    return ((keys @ q[:, :, None]).transpose(1, 2) @ values).squeeze(1)


def _retrieve_naive(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, t: int) -> torch.Tensor:
    """``q S`` with ``S = sum_j k_j^T v_j`` built as a sum of outer products (eq 12)."""
    S = sum(torch.outer(k, v) for k, v in zip(keys[t], values[t]))
    return q[t] @ S


def response(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype):
    """``r . v_0`` for a unit probe at cosine ``s`` with the stored key ``k_0``."""
    keys, values = _memory(params, trials, gen, dtype)
    probe = unit_with_cosine(keys[:, 0], params["s"], gen)
    return (to_numpy((_retrieve(probe, keys, values) * values[:, 0]).sum(-1)),)


def response_naive(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype):
    keys, values = _memory(params, trials, gen, dtype)
    probe = unit_with_cosine(keys[:, 0], params["s"], gen)
    return (np.array([float(_retrieve_naive(probe, keys, values, t) @ values[t, 0]) for t in range(trials)]),)


RESPONSE = Kernel("framework.response", response, response_naive,
                  bytes_per_trial=lambda p, size: size * p["n"] * (p["d_k"] + p["d_v"]),
                  example={"n": 5, "d_k": 4, "d_v": 3, "key_dist": "gaussian", "s": 0.6})


def raw_power(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype):
    """``||r||^2`` of the raw retrieval ``r = k_0 S`` by a stored key."""
    keys, values = _memory(params, trials, gen, dtype)
    r = _retrieve(keys[:, 0], keys, values)
    return (to_numpy((r * r).sum(-1)),)


def raw_power_naive(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype):
    keys, values = _memory(params, trials, gen, dtype)
    return (np.array([float(r @ r) for r in (_retrieve_naive(keys[:, 0], keys, values, t)
                                             for t in range(trials))]),)


RAW_POWER = Kernel("framework.raw_power", raw_power, raw_power_naive,
                   bytes_per_trial=lambda p, size: size * p["n"] * (p["d_k"] + p["d_v"]),
                   example={"n": 5, "d_k": 4, "d_v": 3, "key_dist": "rademacher"})


def cosine_margin(x: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Cosine of ``x`` with the right value ``v_0`` minus its largest cosine with a competitor."""
    cos = torch.nn.functional.cosine_similarity(x[:, None, :], values, dim=-1)
    return cos[:, 0] - cos[:, 1:].max(-1).values


def margin_change(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype):
    """Cosine margin of ``Norm(r)`` minus that of ``r``, for ``r = k_0 S``."""
    keys, values = _memory(params, trials, gen, dtype)
    r = _retrieve(keys[:, 0], keys, values)
    return (to_numpy(cosine_margin(memory.normalize(params["norm"], r), values) - cosine_margin(r, values)),)


def margin_change_naive(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype):
    keys, values = _memory(params, trials, gen, dtype)
    cos = lambda x, y: float(x @ y) / math.sqrt(float(x @ x) * float(y @ y))
    margin = lambda x, vs: cos(x, vs[0]) - max(cos(x, v) for v in vs[1:])
    changes = []
    for t in range(trials):
        r = _retrieve_naive(keys[:, 0], keys, values, t)
        changes.append(margin(memory.normalize(params["norm"], r[None])[0], values[t]) - margin(r, values[t]))
    return (np.array(changes),)


MARGIN = Kernel("framework.margin_change", margin_change, margin_change_naive,
                bytes_per_trial=lambda p, size: size * p["n"] * (p["d_k"] + 2 * p["d_v"]),
                example={"n": 5, "d_k": 4, "d_v": 3, "key_dist": "sphere", "norm": "layernorm"})


def score_margin(x: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Score (inner product) of ``x`` with the right value ``v_0`` minus its largest score with a
    competitor: the absolute difference between competing responses, in units of ``x``'s length."""
    scores = (x[:, None, :] * values).sum(-1)
    return scores[:, 0] - scores[:, 1:].max(-1).values


def amplification(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype):
    """The second reading of the statement: ``|score margin of Norm(r)| - |score margin of r|``
    for ``r = k_0 S`` (positive when Norm amplifies the absolute difference)."""
    keys, values = _memory(params, trials, gen, dtype)
    r = _retrieve(keys[:, 0], keys, values)
    after = score_margin(memory.normalize(params["norm"], r), values)
    return (to_numpy(after.abs() - score_margin(r, values).abs()),)


def amplification_naive(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype):
    keys, values = _memory(params, trials, gen, dtype)
    margin = lambda x, vs: float(x @ vs[0]) - max(float(x @ v) for v in vs[1:])
    changes = []
    for t in range(trials):
        r = _retrieve_naive(keys[:, 0], keys, values, t)
        changes.append(abs(margin(memory.normalize(params["norm"], r[None])[0], values[t]))
                       - abs(margin(r, values[t])))
    return (np.array(changes),)


AMPLIFICATION = Kernel("framework.amplification", amplification, amplification_naive,
                       bytes_per_trial=MARGIN.bytes_per_trial,
                       example={"n": 5, "d_k": 4, "d_v": 3, "key_dist": "sphere", "norm": "rmsnorm"})

KERNELS = (FORMS, RESPONSE, RAW_POWER, MARGIN, AMPLIFICATION)

# ----------------------------------------------------------------------------- claims

T_LEN = Param("T", int, 64, 1, 4096, help="sequence length")
PHI = Param("phi", str, "identity", choices=memory.FEATURE_MAPS, help="feature map phi")
NORM = Param("norm", str, "none", choices=memory.NORMS, help="output normalization")
SIM = Param("s", float, 0.5, 0.05, 1.0, help="cosine similarity of probe and stored key")
SEL_NORM = NORM.but(default="rmsnorm", choices=("rmsnorm", "layernorm"), help="normalization tested")
EQ_TRIALS = 8  # float64 sequences per point: the identity is deterministic, rounding aside
SEL_TRIALS = 512  # RMSNorm's margin change is deterministic (0, derived): its range over these


def check_equivalence(params: Mapping[str, Any], ctx: Context) -> Result:
    der = proof.equivalence()
    outputs = draw(replace(ctx, dtype="float64"), params, FORMS, EQ_TRIALS)
    ratio = ctx.theory(der, "form_ratio")
    deviation = max(form_deviation(outputs[:4], ratio), form_deviation(outputs[4:], ratio))
    # Rounding (Higham): a computed sum of m terms is within m u (u = eps/2) of the exact one,
    # relative to the sum of the terms' magnitudes; the deviation divides out that condition.
    # Two forms, each with sums over T steps and d_k features, then Norm's sum over d_v features
    # and its division (which turns a relative error of the row into at most twice that).
    tolerance = 4 * (params["T"] + params["d_k"] + params["d_v"]) * float(np.finfo(np.float64).eps)
    return Result(0.0, deviation, (0.0, deviation), judges.identity(deviation, tolerance), EQ_TRIALS,
                  [{"name": "tolerance", "value": tolerance},
                   {"name": "symbolic_steps", "value": len(der.steps)}],
                  "float64; forms: masked parallel, recurrent (eq 8/17), chunked (16); deviation per row "
                  "relative to the row, over its rounding condition")


def margin_rounding(d_v: int, eps: float) -> float:
    """The null band of a margin change: a cosine of ``d_v``-vectors is three sums of ``d_v``
    products and a square root, each within ``(d_v + 2) eps`` of exact (relative, magnitudes at
    most 1); a margin change is four cosines."""
    return 4 * (d_v + 2) * eps


def check_selectivity(params: Mapping[str, Any], ctx: Context) -> Result:
    """The claim's reading (the cosine margin, judged) and the second reading (the absolute score
    margin, reported with its own sign verdict); the two decisions share the check's level."""
    der = proof.normalization(params["key_dist"])
    zero = ctx.theory(der, "rms_margin_change")
    band = zero + margin_rounding(params["d_v"], ctx.eps)
    each = ctx.share(2)
    if params["norm"] == "rmsnorm":  # deterministic (derived change 0): judge its whole range
        (change,) = draw(each, params, MARGIN, SEL_TRIALS)
        ci = Interval(float(change.mean()), float(change.min()), float(change.max()), change.size)
        verdict, theory = judges.sign(ci, band), zero
    else:  # LayerNorm turns r: no closed form; the sign of the mean change
        ci, verdict = sample_until(each, params, MARGIN, "mean", lambda c: judges.sign(c, band), first=512)
        theory = float("nan")
    absolute, absolute_verdict = sample_until(each, params, AMPLIFICATION, "mean",
                                              lambda c: judges.sign(c, band), first=512)
    where = {"holds": "raises", "fails": "does not raise",
             "undecided": "cannot tell whether it raises"}[verdict]
    return Result(theory, ci.estimate, (ci.lo, ci.hi), verdict, ci.n,
                  [{"name": "null_band", "value": band}, {"name": "derived_rms_change", "value": zero},
                   {"name": "absolute_margin_change", "value": absolute.estimate,
                    "ci": [absolute.lo, absolute.hi], "trials": absolute.n, "verdict": absolute_verdict,
                    "reading": "amplifies the absolute difference of scores |r.v_0 - max_j r.v_j| "
                               "(not judged: the claim's reading is the cosine margin)"}],
                  f"{params['norm']} {where} the cosine margin of the right value over its best competitor "
                  + ("(range over trials)" if params["norm"] == "rmsnorm" else "(mean over trials)"))


CLAIMS = (
    Claim(
        id="framework.equivalence",
        paper_ref="Theorem 5, eqs 6-8, 12-15",
        statement="With f = phi, g = I, alpha = 1, X = Y = Z the conditioning circuit is causal linear "
                  "attention; masked parallel, recurrent and chunked forms agree, with or without Norm.",
        kind="identity",
        judge="identity",
        quantity="max_relative_deviation",
        params=(T_LEN, D_K.but(default=16, low=1, high=4096), D_V.but(default=16, high=4096),
                PHI, NORM, GAMMA),
        derive=proof.equivalence,
        measure=check_equivalence,
        grid={
            "ci": [{"phi": p, "norm": m, "gamma": g} for p, m, g in
                   (("identity", "none", 1.0), ("elu1", "rmsnorm", 1.0), ("relu", "layernorm", 0.9))],
            "book": [{"phi": p, "norm": m, "gamma": g, "T": 100} for p in memory.FEATURE_MAPS
                     for m in memory.NORMS for g in (1.0, 0.9)],
            "paper": [{"phi": p, "norm": m, "gamma": g, "T": 512, "d_k": 64, "d_v": 64}
                      for p in memory.FEATURE_MAPS for m in memory.NORMS for g in (1.0, 0.95, 0.5)],
        },
        probe=Probe("theory", (1 + 1e-9, 1 - 1e-9)),
    ),
    Claim(
        id="framework.generalization",
        paper_ref="Definition 3, eqs 13-14, section 3.3",
        statement="The retrieved weight on a stored US is the probe-key similarity, so the response along "
                  "the stored US falls linearly with cosine similarity: E[r . v_m] = s E||k||.",
        kind="exact",
        judge="exact",
        quantity="response",
        params=(D_K, D_V, N.but(default=32, high=10**5), KEY_DIST, SIM),
        derive=lambda: [proof.generalization(d) for d in KEY_DISTS],
        measure=sampled(Law(lambda p: proof.generalization(p["key_dist"]), "response"), RESPONSE, first=512),
        grid={
            "ci": [{"s": s, "key_dist": k} for s in (0.3, 0.9) for k in ("sphere", "gaussian")],
            "book": [{"s": s, "key_dist": k} for s in (0.1, 0.3, 0.6, 0.9) for k in KEY_DISTS],
            "paper": [{"s": s, "key_dist": k, "d_k": 256} for s in (0.1, 0.3, 0.6, 0.9) for k in KEY_DISTS],
        },
        probe=Probe("theory", (1.02, 0.98), point={"s": 0.9, "key_dist": "sphere"}),
    ),
    Claim(
        id="framework.normalization",
        paper_ref="Definition 4, eq 15 (output magnitudes regardless of sequence length)",
        statement="Raw retrieval power E||r||^2 = 1 + (n-1)/d_k grows with load (exact per key "
                  "distribution); RMSNorm and LayerNorm fix ||Norm(r)||^2 = d_v whatever n (derived).",
        kind="exact",
        judge="exact",
        quantity="raw_power",
        params=(D_K, D_V, N, KEY_DIST),
        derive=lambda: [proof.normalization(d) for d in KEY_DISTS],
        measure=sampled(Law(lambda p: proof.normalization(p["key_dist"]), "raw_power"), RAW_POWER, first=512),
        grid={
            "ci": [{"n": n} for n in (16, 256)],
            "book": [{"n": n, "key_dist": k} for n in (4, 64, 512) for k in KEY_DISTS],
            "paper": [{"n": n, "key_dist": k, "d_k": 256} for n in (4, 64, 512, 4096) for k in KEY_DISTS],
        },
        probe=Probe("theory", (1.02, 0.98), point={"n": 16}),
    ),
    Claim(
        id="framework.selectivity",
        paper_ref="Definition 4 (the amplification statement after eq 15)",
        statement="Normalization amplifies differences between competing US responses, i.e. raises the "
                  "cosine margin of the right value over its best competitor.",
        kind="statement",
        judge="sign",
        quantity="margin_gain",
        params=(D_K, D_V, N, KEY_DIST, SEL_NORM),
        derive=lambda: proof.normalization("sphere"),
        measure=check_selectivity,
        grid={
            "ci": [{"norm": m, "n": 64} for m in ("rmsnorm", "layernorm")],
            "book": [{"norm": m, "n": n} for m in ("rmsnorm", "layernorm") for n in (16, 256)],
            "paper": [{"norm": m, "n": n, "d_k": 256} for m in ("rmsnorm", "layernorm")
                      for n in (16, 256, 2048)],
        },
        probe=Probe("theory", (1.02, 0.98), point={"norm": "rmsnorm", "n": 64},
                    trivial="the statement is rejected for both norms: RMSNorm leaves the margin "
                            "unchanged (derived 0), LayerNorm lowers it; a unit test shows the sign "
                            "judge accepts a real gain"),
    ),
)
