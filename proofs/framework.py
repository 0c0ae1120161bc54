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
gamma = sp.Symbol("gamma", positive=True)
EQUIVALENCE_SIZES = ((3, 1, 2), (2, 2, 2), (4, 1, 2))  # (T, model width, d) of the elementwise proofs
INDEX_SIZES = ((2, 2), (3, 2), (4, 3))  # (i, d) at which the index-form exchange is expanded
NORM_SIZES = (2, 3, 4)  # feature dimensions at which the Norm identities are proved


def _symbol_matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}{j}", real=True))


def _apply(f: sp.Function, m: sp.Matrix) -> sp.Matrix:
    return m.applyfunc(f)


def masked_parallel(Q: sp.Matrix, K: sp.Matrix, V: sp.Matrix, decay: sp.Expr = sp.Integer(1)) -> sp.Matrix:
    """``(Q K^T * M) V`` with the mask ``M[i, j] = decay**(i-j)`` for ``j <= i``, else 0 (eq 6;
    ``decay = 1`` is the causal mask, the form inside Norm of eq 4)."""
    scores = Q * K.T
    mask = sp.Matrix(Q.rows, Q.rows, lambda i, j: decay ** (i - j) if j <= i else 0)
    return scores.multiply_elementwise(mask) * V


def recurrent(Q: sp.Matrix, K: sp.Matrix, V: sp.Matrix, decay: sp.Expr = sp.Integer(1)) -> sp.Matrix:
    """Row ``i`` is ``q_i S_i`` with ``S_i = decay S_{i-1} + k_i^T v_i`` (eqs 7-8, eq 17)."""
    S = sp.zeros(K.cols, V.cols)
    rows = []
    for i in range(Q.rows):
        S = decay * S + K.row(i).T * V.row(i)
        rows.append(Q.row(i) * S)
    return sp.Matrix.vstack(*rows)


def conditioning(X, Y, Z, WQ, WK, WV, f, g, alpha) -> sp.Matrix:
    """Row ``i`` is ``alpha f(x_i W_Q) sum_{j<=i} f(y_j W_K)^T g(z_j W_V)`` (eqs 12-14)."""
    return alpha * recurrent(_apply(f, X * WQ), _apply(f, Y * WK), _apply(g, Z * WV))


@lru_cache(maxsize=None)
def equivalence() -> Derivation:
    """Theorem 5 and the parallel = recurrent identity (with and without decay), proved
    elementwise for small symbolic sizes with ``phi`` an arbitrary function.

    Results: ``index_form`` (the exchange of finite sums behind the identity, expanded and
    checked at the sizes ``INDEX_SIZES``) and ``form_ratio``, the ratio of an output entry in
    the recurrent order of summation to the same entry in the masked parallel order (1)."""
    der = Derivation("conditioning circuit = causal linear attention")
    i, j, a, c, d = sp.symbols("i j a c d", integer=True, positive=True)
    q, k, v = sp.IndexedBase("q"), sp.IndexedBase("k"), sp.IndexedBase("v")
    term = q[i, a] * k[j, a] * v[j, c]
    parallel = sp.Sum(term, (a, 1, d), (j, 1, i))          # sum_{j<=i} (q_i . k_j) v_jc
    recurrent_sum = sp.Sum(term, (j, 1, i), (a, 1, d))     # sum_a q_ia (S_i)_ac
    ratio = None
    for i_, d_ in INDEX_SIZES:
        sizes = {i: i_, d: d_}
        der.step(f"sum_(j<=i) (q_i . k_j) v_jc = sum_a q_ia (S_i)_ac, expanded at i={i_}, d={d_}",
                 parallel.subs(sizes), recurrent_sum.subs(sizes))
        ratio = der.step(f"their ratio, expanded at i={i_}, d={d_}",
                         parallel.subs(sizes) / recurrent_sum.subs(sizes), 1)

    phi = sp.Function("phi")
    identity = sp.Lambda(sp.Symbol("u"), sp.Symbol("u"))
    for T_, m, d_ in EQUIVALENCE_SIZES:
        X = _symbol_matrix("x", T_, m)
        WQ, WK, WV = (_symbol_matrix(w, m, d_) for w in ("wq", "wk", "wv"))
        Q, K, V = _apply(phi, X * WQ), _apply(phi, X * WK), X * WV
        der.step(f"Theorem 5: eq 15 with f=phi, g=I, alpha=1, X=Y=Z is eq 6, T={T_}, d={d_}",
                 conditioning(X, X, X, WQ, WK, WV, phi, identity, sp.Integer(1)), masked_parallel(Q, K, V))
        if m == 1:
            der.step(f"decay (eq 17): recurrent = masked parallel with mask gamma^(i-j), T={T_}, d={d_}",
                     recurrent(Q, K, V, gamma), masked_parallel(Q, K, V, gamma))
    der.result("index_form", sp.Eq(parallel, recurrent_sum))
    der.result("form_ratio", sp.sympify(ratio))
    return der


@lru_cache(maxsize=None)
def generalization(dist: str) -> Derivation:
    """Result ``response``: ``E[r . v_m]`` for a unit probe at cosine ``s`` with stored key ``k_m``
    (linear retrieval, eq 14); result ``weight_ratio``: softmax weight of a key at logit ``s``
    over one at logit 0, ``exp(beta s)`` (the softmax contrast, not a claim of the paper)."""
    der = Derivation(f"generalization gradient, {dist} keys")
    keys = key_moments(dist)
    sphere = key_moments("sphere")
    knorm = sp.Symbol("knorm", positive=True)
    e_qk = sp.Symbol("E_qk_j", real=True)  # E[q . k_j] for j != m: multiplied by 0 below
    b, jj = sp.symbols("b jj", integer=True, positive=True)
    # r . v_m = (q . k_m) ||v_m||^2 + sum_{j != m} (q . k_j)(v_j . v_m), with q . k_m = s ||k_m||
    v_cross = der.step("E[v_j . v_m] = sum_b E[v_jb] v_mb = 0: v_j independent of v_m, mean 0",
                       sp.Sum(sphere.results["mean_coord"] * sp.Symbol("v_mb"), (b, 1, d_v)), 0)
    v_norm2 = sphere.results["norm"] ** 2
    conditional = s * knorm * v_norm2 + sp.Sum(e_qk * sp.Sum(sphere.results["mean_coord"], (b, 1, d_v)),
                                                (jj, 1, n - 1))
    response = der.step("E[r . v_m | ||k_m||] = s ||k_m|| ||v_m||^2 + sum_(j != m) E[q . k_j] E[v_j . v_m]",
                        conditional, s * knorm + (n - 1) * e_qk * v_cross)
    der.result("response", response.subs(knorm, keys.results["norm"]))
    s0 = sp.Symbol("s0", real=True)
    others = sp.Symbol("Z_rest", positive=True)
    w = lambda logit: sp.exp(beta * logit) / (sp.exp(beta * s) + sp.exp(beta * s0) + others)
    ratio = der.step("softmax weights: w(s) / w(s0) = exp(beta (s - s0)); the normalizer cancels",
                     w(s) / w(s0), sp.exp(beta * (s - s0)))
    der.result("weight_ratio", ratio.subs(s0, 0))
    return der


def _rms(x: sp.Matrix) -> sp.Matrix:
    return x / sp.sqrt((x.T * x)[0] / x.rows)


def _center(x: sp.Matrix) -> sp.Matrix:
    return x - sp.ones(x.rows, 1) * (sum(x) / x.rows)


def _cos(x: sp.Matrix, y: sp.Matrix) -> sp.Expr:
    return (x.T * y)[0] / sp.sqrt((x.T * x)[0] * (y.T * y)[0])


@lru_cache(maxsize=None)
def normalization(dist: str) -> Derivation:
    """The raw ``E||r||^2`` for a stored-key probe is ``P_S + P_N`` (grows with ``n``); RMSNorm
    is invariant to positive scaling, fixes ``||Norm(r)||^2 = d_v`` and keeps every cosine, so
    it leaves the cosine margin of the right value over a competitor unchanged.

    Results: ``raw_power`` (from :func:`~pavlov_theory.proofs.capacity.signal_noise`),
    ``normalized_power`` (d_v, proved at the sizes ``NORM_SIZES``) and ``rms_margin_change``
    (0: the margin after RMSNorm minus the margin before)."""
    der = Derivation(f"normalization, {dist} keys")
    c = sp.Symbol("c", positive=True)
    margin_change = None
    for size in NORM_SIZES:
        r = sp.Matrix(sp.symbols(f"r0:{size}", real=True))
        u0 = sp.Matrix(sp.symbols(f"u0:{size}", real=True))
        u1 = sp.Matrix(sp.symbols(f"w0:{size}", real=True))
        der.step(f"RMSNorm(c r) = RMSNorm(r) for c > 0, d_v = {size}", _rms(c * r), _rms(r))
        der.step(f"||RMSNorm(r)||^2 = d_v, d_v = {size}", (_rms(r).T * _rms(r))[0], r.rows)
        der.step(f"||LayerNorm(r)||^2 = ||RMSNorm(r - mean(r))||^2 = d_v, d_v = {size}",
                 (_rms(_center(r)).T * _rms(_center(r)))[0], r.rows)
        margin = lambda x: _cos(x, u0) - _cos(x, u1)
        margin_change = der.step(
            f"margin change cos(N(r), u0) - cos(N(r), u1) - (cos(r, u0) - cos(r, u1)) = 0 for N = RMSNorm, "
            f"d_v = {size}: every cosine is kept, so the largest competitor's is too",
            margin(_rms(r)) - margin(r), 0)
    der.result("raw_power", signal_noise(dist).results["raw_power"])
    der.result("normalized_power", d_v)
    der.result("rms_margin_change", sp.sympify(margin_change))
    return der
