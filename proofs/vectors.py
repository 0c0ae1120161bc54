"""Moments of random keys, derived with sympy.stats for each supported distribution.

Every section uses these facts, so they are derived once here. Symbols are named like the
claims' parameters (``d_k``, ``n``, ...) so a result can be evaluated with a claim's params.

- sphere: ``||k|| = 1``; a coordinate, or the cosine of two independent keys, is ``S sqrt(B)``
  with a random sign ``S`` and ``B ~ Beta(1/2, (d-1)/2)`` (the squared cosine's law).
- gaussian: independent ``N(0, 1/d)`` components; ``sqrt(d) ||k||`` is chi with ``d`` degrees.
- rademacher: independent ``+-1/sqrt(d)`` components; ``||k|| = 1``.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp
from sympy import stats

from pavlov_theory.derivation import Derivation
from pavlov_theory.params import KEY_DISTS  # noqa: F401 (re-exported for the proofs)

d_k = sp.Symbol("d_k", positive=True, integer=True)
d_v = sp.Symbol("d_v", positive=True, integer=True)
n = sp.Symbol("n", positive=True, integer=True)

CHECK_SIZES = (2, 3, 4)


def sphere_squared_cosine(d: sp.Symbol) -> sp.Expr:
    """``B ~ Beta(1/2, (d-1)/2)``: the squared cosine of two independent uniform unit vectors."""
    return stats.Beta(f"B_{d}", sp.Rational(1, 2), (d - 1) / 2)


def random_sign() -> sp.Expr:
    return stats.FiniteRV("S", {-1: sp.Rational(1, 2), 1: sp.Rational(1, 2)})


def component(dist: str, d: sp.Expr, name: str = "x") -> sp.Expr:
    """One coordinate of a key with independent coordinates (gaussian or rademacher)."""
    if dist == "gaussian":
        return stats.Normal(name, 0, 1 / sp.sqrt(d))
    if dist == "rademacher":
        return stats.FiniteRV(name, {-1 / sp.sqrt(d): sp.Rational(1, 2), 1 / sp.sqrt(d): sp.Rational(1, 2)})
    raise ValueError(f"{dist} keys do not have independent coordinates")


@lru_cache(maxsize=None)
def _moment(dist: str, d: int, power: int) -> sp.Expr:
    return sp.simplify(stats.E(component(dist, d) ** power))


def independent_expectation(poly: sp.Expr, variables: list[sp.Symbol], dist: str, d: int) -> sp.Expr:
    """E[poly] for independent coordinates from ``dist``: expand into monomials, and replace
    each by the product of one-dimensional moments (exact, by independence)."""
    total = sp.Integer(0)
    for powers, coeff in sp.Poly(sp.expand(poly), *variables).terms():
        term = coeff
        for p in powers:
            term *= _moment(dist, d, p) if p else 1
        total += term
    return sp.simplify(total)


def _direct_norm4(dist: str, size: int) -> sp.Expr:
    """E||k||^4 by brute force over ``size`` explicit independent coordinates."""
    xs = sp.symbols(f"x0:{size}")
    return independent_expectation(sum(x**2 for x in xs) ** 2, list(xs), dist, size)


def _direct_cos2(dist: str, size: int) -> sp.Expr:
    xs, ys = sp.symbols(f"x0:{size}"), sp.symbols(f"y0:{size}")
    return independent_expectation(sum(x * y for x, y in zip(xs, ys)) ** 2, [*xs, *ys], dist, size)


@lru_cache(maxsize=None)
def key_moments(dist: str) -> Derivation:
    """Results ``norm4 = E||k||^4``, ``cos2 = E[(k . k')^2]`` (independent keys),
    ``norm = E||k||`` and ``mean_coord = E[k_i]``, each checked step by step.

    Sphere keys have ``||k|| = 1`` by construction, so ``norm4`` and ``norm`` are 1 by
    definition. For keys with independent coordinates the fourth moment of the norm is expanded
    as a double sum over coordinates and computed from the one-dimensional moments, then
    confirmed by brute force over explicit coordinates."""
    der = Derivation(f"key moments, {dist} keys")
    if dist == "sphere":
        B, S = sphere_squared_cosine(d_k), random_sign()
        cos2 = der.step("E[(k.k')^2] = E[B], B ~ Beta(1/2, (d_k-1)/2)", stats.E(B, evaluate=False), 1 / d_k)
        mean = der.step("E[k_i] = E[S] E[sqrt B] = 0 (independent sign)",
                        stats.E(S, evaluate=False) * sp.Symbol("E_sqrtB"), 0)
        der.result("norm4", sp.Integer(1))
        der.result("cos2", cos2)
        der.result("norm", sp.Integer(1))
        der.result("mean_coord", mean)
        return der

    x = component(dist, d_k)
    m1 = der.step("E[x] = 0", stats.E(x, evaluate=False), 0)
    m2 = der.step("E[x^2] = 1/d_k", stats.E(x**2, evaluate=False), 1 / d_k)
    m4 = sp.simplify(stats.E(x**4))
    i, j = sp.symbols("i j", integer=True, positive=True)
    norm4 = der.step("E||k||^4 = sum_i (E[x_i^4] + sum_{j != i} E[x_i^2] E[x_j^2])",
                     sp.Sum(m4 + sp.Sum(m2**2, (j, 1, d_k - 1)), (i, 1, d_k)),
                     sp.simplify(d_k * m4 + d_k * (d_k - 1) * m2**2))
    cos2 = der.step("E[(k.k')^2] = sum_i E[x_i^2] E[y_i^2] (cross terms carry E[x] = 0)",
                    sp.Sum(m2**2 + sp.Sum(m1**4, (j, 1, d_k - 1)), (i, 1, d_k)), 1 / d_k)
    for size in CHECK_SIZES:
        der.confirm(f"E||k||^4 by brute force over {size} explicit coordinates",
                    _direct_norm4(dist, size), norm4.subs(d_k, size))
        der.confirm(f"E[(k.k')^2] by brute force over {size} explicit coordinates",
                    _direct_cos2(dist, size), cos2.subs(d_k, size))
    der.result("norm4", norm4)
    der.result("cos2", cos2)
    if dist == "gaussian":
        chi = stats.Chi("C", d_k)
        der.result("norm", sp.simplify(stats.E(chi) / sp.sqrt(d_k)))
    else:
        der.step("||k||^2 = d_k (1/sqrt(d_k))^2 = 1 exactly", sp.Sum((1 / sp.sqrt(d_k)) ** 2, (i, 1, d_k)), 1)
        der.result("norm", sp.Integer(1))
    der.result("mean_coord", m1)
    return der


def uncorrelated_values(der: Derivation) -> sp.Expr:
    """Record in ``der`` that two independent values uniform on the unit sphere of ``d_v``
    dimensions are uncorrelated, ``E[v_i . v_j] = sum_c E[v_ic] E[v_jc] = 0`` for ``i != j``,
    from the sphere's mean coordinate; return it (0). The sections' values follow this law."""
    c = sp.Symbol("c", integer=True, positive=True)
    mean_coord = sp.sympify(key_moments("sphere").results["mean_coord"])
    return der.step("E[v_i . v_j] = sum_c E[v_ic] E[v_jc] = 0 for i != j: independent unit values, "
                    "mean coordinate 0", sp.Sum(mean_coord.subs(d_k, d_v) ** 2, (c, 1, d_v)), 0)
