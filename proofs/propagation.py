"""Theorem 9 and appendix A.2: failure of heads, layers and networks of stacked circuits.

A head fails when its noise power reaches ``delta`` (the event of eq 36). The paper bounds that
by ``n/(delta d_k)`` (eq 40; Markov with the exact noise power gives ``(n-1)/(delta d_k)``),
lets a layer fail only when all ``H`` heads fail (eqs 41-42), and a network of ``L`` layers
when any layer fails (eqs 44-49).
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from pavlov_theory.derivation import Derivation

from .capacity import delta, worst_case
from .vectors import d_k, key_moments, n

H = sp.Symbol("H", positive=True)
L = sp.Symbol("L", positive=True, integer=True)
d_model = sp.Symbol("d_model", positive=True)
x = sp.Symbol("x", positive=True)


@lru_cache(maxsize=None)
def theorem9(dist: str = "sphere") -> Derivation:
    """Results ``head`` (eq 40), ``head_markov`` (with the -1 the paper drops), ``layer``
    (eq 42), ``network`` (eq 46), ``network_first_order`` (eq 48) and ``averaged_noise``: the
    noise power when H independent heads that store the same values are averaged."""
    der = Derivation("Theorem 9 step by step")
    markov = worst_case(dist).results["markov"]
    head = n / (delta * d_k)
    der.step("eq 40 drops the -1 of Markov's bound: n/(delta d_k) - (n-1)/(delta d_k) = 1/(delta d_k)",
             head - markov, 1 / (delta * d_k))
    layer = head**H
    der.step("eqs 41-42: all H independent heads fail", sp.Mul(*[head] * 3), layer.subs(H, 3))
    network = 1 - (1 - layer) ** L
    der.step("eq 46: a network fails when any of L independent layers fails",
             1 - sp.Mul(*[(1 - layer)] * 2), network.subs(L, 2))
    first = L * layer
    der.step("eq 47-48: 1 - (1-x)^L = L x + O(x^2)", sp.series(1 - (1 - x) ** L, x, 0, 2).removeO(), L * x)
    cos2 = key_moments(dist).results["cos2"]
    averaged = der.step("averaging H heads with independent keys: E||mean_h noise_h||^2 = (n-1) E[c^2] / H",
                        (n - 1) * H * cos2 / H**2, (n - 1) * cos2 / H)
    der.result("head", head)
    der.result("head_markov", markov)
    der.result("layer", layer)
    der.result("network", network)
    der.result("network_first_order", first)
    der.result("averaged_noise", averaged)
    return der


@lru_cache(maxsize=None)
def head_count() -> Derivation:
    """At fixed width ``d_model = H d_k`` the first-order bound is ``L (n H/(delta d_model))^H``.
    Result ``optimal_H``: the stationary point ``delta d_model/(e n)``, a minimum."""
    der = Derivation("head count minimising the Theorem 9 bound")
    bound = L * (n * H / (delta * d_model)) ** H
    log_bound = sp.expand_log(sp.log(bound), force=True)
    stationary = sp.solve(sp.diff(log_bound, H), H)
    if len(stationary) != 1:
        raise AssertionError("the log-bound should have one stationary point in H")
    optimum = der.step("d/dH log bound = log(n H/(delta d_model)) + 1 = 0", stationary[0],
                       delta * d_model / (sp.E * n))
    der.step("the second derivative 1/H is positive: a minimum", sp.diff(log_bound, H, 2), 1 / H)
    der.step("at the optimum the bound is L exp(-H*)", sp.simplify(bound.subs(H, optimum)),
             L * sp.exp(-optimum))
    der.result("bound", bound)
    der.result("optimal_H", optimum)
    return der
