"""Sections 2-4.1 of the paper: the conditioning circuit is causal linear attention (Theorem 5),
retrieval generalizes linearly in similarity (section 3.3), and what Norm does (Definition 4).
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from pavlov_theory.derivation import Derivation

from .capacity import signal_noise
from .vectors import d_v, key_moments, n

s = sp.Symbol("s", real=True)
beta = sp.Symbol("beta", positive=True)
EQUIVALENCE_SIZES = ((3, 2, 2), (4, 3, 2))


def _symbol_matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}{j}", real=True))


def _apply(f: sp.Function, m: sp.Matrix) -> sp.Matrix:
    return m.applyfunc(f)


def masked_parallel(Q: sp.Matrix, K: sp.Matrix, V: sp.Matrix) -> sp.Matrix:
    """``(Q K^T * M) V`` with the causal mask ``M[i, j] = [j <= i]`` (eq 3 without its
    denominator, the form inside Norm of eq 4)."""
    scores = Q * K.T
    mask = sp.Matrix(Q.rows, Q.rows, lambda i, j: 1 if j <= i else 0)
    return scores.multiply_elementwise(mask) * V


def recurrent(Q: sp.Matrix, K: sp.Matrix, V: sp.Matrix) -> sp.Matrix:
    """Row ``i`` is ``q_i S_i`` with ``S_i = S_{i-1} + k_i^T v_i`` (eqs 7-8)."""
    S = sp.zeros(K.cols, V.cols)
    rows = []
    for i in range(Q.rows):
        S = S + K.row(i).T * V.row(i)
        rows.append(Q.row(i) * S)
    return sp.Matrix.vstack(*rows)


def conditioning(X, Y, Z, WQ, WK, WV, f, g, alpha) -> sp.Matrix:
    """Row ``i`` is ``alpha f(x_i W_Q) sum_{j<=i} f(y_j W_K)^T g(z_j W_V)`` (eqs 12-14)."""
    return alpha * recurrent(_apply(f, X * WQ), _apply(f, Y * WK), _apply(g, Z * WV))


@lru_cache(maxsize=None)
def equivalence() -> Derivation:
    """Theorem 5 and the parallel = recurrent identity, proved three ways:
    in index notation for any sizes, and elementwise for small symbolic sizes."""
    der = Derivation("conditioning circuit = causal linear attention")
    i, j, a, c, T, d = sp.symbols("i j a c T d", integer=True, positive=True)
    q, k, v = sp.IndexedBase("q"), sp.IndexedBase("k"), sp.IndexedBase("v")
    term = q[i, a] * k[j, a] * v[j, c]
    parallel = sp.Sum(term, (a, 1, d), (j, 1, i))          # sum_{j<=i} (q_i . k_j) v_jc
    recurrent_sum = sp.Sum(term, (j, 1, i), (a, 1, d))     # sum_a q_ia (S_i)_ac
    der.step("finite sums with independent limits commute (index form, any sizes)",
             parallel.reorder((0, 1)), recurrent_sum)

    phi = sp.Function("phi")
    identity = sp.Lambda(sp.Symbol("u"), sp.Symbol("u"))
    for T_, m, d_ in EQUIVALENCE_SIZES:
        X = _symbol_matrix("x", T_, m)
        WQ, WK, WV = (_symbol_matrix(w, m, d_) for w in ("wq", "wk", "wv"))
        Q, K, V = _apply(phi, X * WQ), _apply(phi, X * WK), X * WV
        attention = masked_parallel(Q, K, V)
        der.step(f"masked parallel = recurrent, T={T_}, d={d_}", attention, recurrent(Q, K, V))
        circuit = conditioning(X, X, X, WQ, WK, WV, phi, identity, sp.Integer(1))
        der.step(f"Theorem 5: eq 15 with f=phi, g=I, alpha=1, X=Y=Z is eq 6, T={T_}, d={d_}",
                 circuit, attention)
    der.result("index_form", sp.Eq(parallel, recurrent_sum))
    return der


@lru_cache(maxsize=None)
def generalization(dist: str) -> Derivation:
    """Result ``response``: ``E[r . v_m]`` for a unit probe at cosine ``s`` with stored key ``k_m``
    (linear retrieval, eq 14); result ``weight_ratio``: softmax weight of a key at logit ``s``
    over one at logit 0, ``exp(beta s)``."""
    der = Derivation(f"generalization gradient, {dist} keys")
    keys = key_moments(dist)
    sphere = key_moments("sphere")
    knorm = sp.Symbol("knorm", positive=True)
    # r . v_m = (q . k_m) ||v_m||^2 + sum_{j != m} (q . k_j)(v_j . v_m), with q . k_m = s ||k_m||
    v_cross_mean = der.step("E[v_j . v_m] = 0: given v_m it is a sphere coordinate",
                            sphere.results["mean_coord"], 0)
    conditional = s * knorm + (n - 1) * sp.Symbol("E_qk") * v_cross_mean
    response = der.step("E[r . v_m | ||k_m||] = s ||k_m|| (interference has mean 0)", conditional, s * knorm)
    der.result("response", response.subs(knorm, keys.results["norm"]))
    s0 = sp.Symbol("s0", real=True)
    others = sp.Symbol("Z_rest", positive=True)
    w = lambda logit: sp.exp(beta * logit) / (sp.exp(beta * s) + sp.exp(beta * s0) + others)
    ratio = der.step("softmax weights: w(s) / w(s0) = exp(beta (s - s0)); the normalizer cancels",
                     w(s) / w(s0), sp.exp(beta * (s - s0)))
    der.result("weight_ratio", ratio.subs(s0, 0))
    return der


@lru_cache(maxsize=None)
def normalization(dist: str) -> Derivation:
    """RMSNorm is invariant to positive scaling and fixes ``||Norm(r)||^2 = d_v``; the raw
    ``E||r||^2`` for a stored-key probe is ``P_S + P_N`` (grows with ``n``).

    Results: ``raw_power``, ``normalized_power`` (= d_v), ``cosine_change`` (= 0)."""
    der = Derivation(f"normalization, {dist} keys")
    size = 3
    r = sp.Matrix(sp.symbols(f"r0:{size}", real=True))
    u = sp.Matrix(sp.symbols(f"u0:{size}", real=True))
    c = sp.Symbol("c", positive=True)
    rms = lambda x: x / sp.sqrt((x.T * x)[0] / size)
    center = lambda x: x - sp.ones(size, 1) * (sum(x) / size)
    cos = lambda x, y: (x.T * y)[0] / sp.sqrt((x.T * x)[0] * (y.T * y)[0])
    der.step("RMSNorm(c r) = RMSNorm(r) for c > 0", rms(c * r), rms(r))
    der.step("||RMSNorm(r)||^2 = d_v (here d_v = 3)", (rms(r).T * rms(r))[0], size)
    der.step("cos(RMSNorm(r), u) = cos(r, u): the direction is kept", cos(rms(r), u), cos(r, u))
    der.step("LayerNorm(r) = RMSNorm(r - mean(r)), so ||LayerNorm(r)||^2 = d_v",
             (rms(center(r)).T * rms(center(r)))[0], size)
    der.result("raw_power", signal_noise(dist).results["raw_power"])
    der.result("normalized_power", d_v)
    der.result("cosine_change", sp.Integer(0))
    return der
