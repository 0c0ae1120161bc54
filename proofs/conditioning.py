"""Section 5.1 (eqs 18-20): higher-order conditioning by stacked Hebbian layers.

Layer ``l`` stores ``n`` pairs ``x_{l-1}^i -> x_l^i`` of independent vectors, ``S_l = X_{l-1}^T X_l``.
Probing layer 1 with ``x_0^1`` and feeding each retrieval to the next layer gives
``r_L = alpha_L X_L`` with ``alpha_L = e_1^T G_0 G_1 ... G_{L-1}``, where ``G_l = X_l X_l^T`` is the
Gram matrix of the ``l``-th set. With ``E[G] = I`` and the sets independent,
``E||r_L - x_L^1||^2 = e_1^T Phi^L(I) e_1 - 1`` for the linear map ``Phi(A) = E[G A G]``.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from pavlov_theory.derivation import Derivation

from .vectors import d_k, independent_expectation, key_moments, n

L = sp.Symbol("L", positive=True, integer=True)
BRUTE_N, BRUTE_D = 3, 2


def moment_map(A: sp.Matrix, cos2: sp.Expr, norm_var: sp.Expr) -> sp.Matrix:
    """``E[E A E]`` for ``G = I + E`` built from independent zero-mean vectors with
    ``E[(x_p . x_r)^2] = cos2`` (p != r) and ``Var ||x||^2 = norm_var``: only paired entries
    survive, ``(p r)(r p)`` on the diagonal and ``(p q)(p q)`` off it."""
    size = A.rows
    out = sp.zeros(size, size)
    for p in range(size):
        for q in range(size):
            if p == q:
                out[p, p] = sum(A[r, r] * cos2 for r in range(size) if r != p) + A[p, p] * norm_var
            else:
                out[p, q] = A[q, p] * cos2
    return out


def _brute_force_gaussian(A: sp.Matrix) -> sp.Matrix:
    """``E[E A E]`` by expanding over explicit Gaussian coordinates (n=3 vectors in d=2)."""
    xs = [sp.symbols(f"x{i}_0:{BRUTE_D}") for i in range(BRUTE_N)]
    G = sp.Matrix(BRUTE_N, BRUTE_N, lambda i, j: sum(a * b for a, b in zip(xs[i], xs[j])))
    E = G - sp.eye(BRUTE_N)
    flat = [v for x in xs for v in x]
    return (E * A * E).applyfunc(lambda e: independent_expectation(e, flat, "gaussian", BRUTE_D))


@lru_cache(maxsize=None)
def multi_hop(dist: str) -> Derivation:
    """Result ``nsr``: ``E||r_L - x_L^1||^2`` after ``L`` hops, no residual and no Norm, for
    vectors from ``dist``; ``paper_nsr`` is the product form ``(1 + (n-1)/d_k)^L - 1``."""
    der = Derivation(f"multi-hop noise, {dist} vectors")
    moments = key_moments(dist)
    cos2 = moments.results["cos2"]
    norm_var = sp.simplify(moments.results["norm4"] - 1)
    A = sp.Matrix(BRUTE_N, BRUTE_N, lambda i, j: sp.Symbol(f"a{i}{j}"))
    if dist == "gaussian":
        der.step("moment rule E[E A E] checked by brute force (gaussian, n=3, d=2, any A)",
                 _brute_force_gaussian(A), moment_map(A, cos2.subs(d_k, BRUTE_D), norm_var.subs(d_k, BRUTE_D)))
    c = sp.Symbol("c", positive=True)
    size = 4
    grown = sp.eye(size) * c + moment_map(sp.eye(size) * c, cos2, norm_var)
    factor = sp.simplify(1 + ((size - 1) * cos2 + norm_var))
    der.step("Phi(c I) = c (1 + (n-1) E[c^2] + Var||x||^2) I (shown for n = 4)", grown, sp.eye(size) * c * factor)
    factor_n = 1 + (n - 1) * cos2 + norm_var
    k = sp.Function("k")
    l = sp.Symbol("l", integer=True, nonnegative=True)
    solution = sp.rsolve(k(l + 1) - factor_n * k(l), k(l), {k(0): 1})
    k_L = der.step("the scale of Phi^l(I) grows geometrically: k(l) = factor^l",
                   solution.subs(l, L), sp.simplify(factor_n) ** L)
    mean_alpha = sp.Integer(1)  # E[alpha_L] = e_1 because E[G] = I and the sets are independent
    nsr = der.step("nsr = E||alpha_L||^2 - 2 E[alpha_L,1] + 1, using E[G_L] = I for the last set",
                   k_L - 2 * mean_alpha + 1, k_L - 1)
    der.result("nsr", nsr)
    der.result("per_hop_factor", sp.simplify(factor_n))
    der.result("paper_nsr", (1 + (n - 1) / d_k) ** L - 1)
    return der
