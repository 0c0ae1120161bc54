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

H = sp.Symbol("H", positive=True, integer=True)
L = sp.Symbol("L", positive=True, integer=True)
d_model = sp.Symbol("d_model", positive=True, integer=True)
x = sp.Symbol("x", positive=True)
h, layer_idx = sp.symbols("h l", positive=True, integer=True)
# failure probabilities as the paper's independence model relates them (eqs 41 and 44)
p_head_of, p_layer_of = sp.Function("p_head"), sp.Function("p_layer")  # of head h, of layer l
P_LAYER, P_NETWORK = sp.symbols("P_layer P_network", positive=True)


def heads_fail_independently(der: Derivation) -> sp.Expr:
    """Record in ``der`` the assumption of eq 41, that a layer's H heads fail independently, and
    return the layer's failure probability it gives: the product of the heads' rates."""
    return der.assume("eq 41 assumes the H heads fail independently, so a layer fails with the "
                      "product of their rates", sp.Eq(P_LAYER, sp.Product(p_head_of(h), (h, 1, H))))


def layers_fail_independently(der: Derivation) -> sp.Expr:
    """Record in ``der`` the assumption of eq 44, that a network's L layers fail independently,
    and return the network's failure probability it gives."""
    return der.assume("eq 44 assumes the L layers fail independently, so a network fails unless "
                      "every layer succeeds", sp.Eq(P_NETWORK, 1 - sp.Product(1 - p_layer_of(layer_idx),
                                                                                (layer_idx, 1, L))))


@lru_cache(maxsize=None)
def theorem9(dist: str = "sphere") -> Derivation:
    """Results ``head`` (eq 40), ``head_markov`` (with the -1 the paper drops), ``layer``
    (eq 42), ``network`` (eq 46) and ``network_first_order`` (eq 48)."""
    der = Derivation("Theorem 9 step by step")
    markov = worst_case(dist).results["markov"]
    head = der.inequality("eq 40 loosens Markov's bound (eq 36) by dropping its -1", markov,
                          n / (delta * d_k))
    layer = der.step("eq 42: every head at eq 40's bound",
                     heads_fail_independently(der).subs(p_head_of(h), head), head**H)
    network = der.step("eq 46: every layer at eq 42's bound",
                       layers_fail_independently(der).subs(p_layer_of(layer_idx), layer),
                       1 - (1 - layer) ** L)
    first = der.step("eqs 47-48: the first-order term of 1 - (1-x)^L at x = 0",
                     x * sp.Subs(sp.Derivative(1 - (1 - x) ** L, x), x, 0), L * x)
    der.result("head", head)
    der.result("head_markov", markov)
    der.result("layer", layer)
    der.result("network", network)
    der.result("network_first_order", first.subs(x, layer))
    return der


@lru_cache(maxsize=None)
def independence() -> Derivation:
    """The paper's independence model (eqs 41 and 44) for any failure rates: a layer of ``H``
    independent heads that each fail with probability ``p_head`` fails with ``layer``; a network
    of ``L`` independent layers that each fail with ``p_layer`` fails with ``network``;
    ``network_of_head`` composes the two."""
    der = Derivation("failure rates under independence")
    p_head, p_layer = sp.symbols("p_head p_layer", positive=True)
    layer = der.step("every head failing with probability p_head",
                     heads_fail_independently(der).subs(p_head_of(h), p_head), p_head**H)
    network = der.step("every layer failing with probability p_layer",
                       layers_fail_independently(der).subs(p_layer_of(layer_idx), p_layer),
                       1 - (1 - p_layer) ** L)
    der.result("layer", layer)
    der.result("network", network)
    der.result("network_of_head", network.subs(p_layer, layer))
    return der


@lru_cache(maxsize=None)
def depth_law() -> Derivation:
    """Result ``depth_exponent``: the growth exponent in ``L`` of the network's failure
    probability where eq 48 applies, ``d log r / d log L``, for the first-order form ``L x`` and
    for the exact ``1 - (1-x)^L`` as ``L x -> 0`` (the regime of eq 51)."""
    der = Derivation("the depth law of eq 48")
    exponent = der.step("d log(L x) / d log L", L * sp.Derivative(sp.log(L * x), L), 1)
    der.step("the exact 1 - (1-x)^L has the same exponent as x -> 0",
             sp.Limit(L * sp.diff(sp.log(1 - (1 - x) ** L), L), x, 0), exponent)
    der.result("depth_exponent", sp.Integer(exponent))
    return der


@lru_cache(maxsize=None)
def shared_embedding() -> Derivation:
    """Heads whose keys are an isometric image of unit embeddings of width ``d_model``: their keys
    are taken (an assumption the derivation records) to be uniform on the unit sphere of an
    ``r = min(d_model, d_k)``-dimensional subspace, so the cosine of two keys is that of sphere
    keys in ``r`` dimensions. Results ``rank_noise`` (the head noise power), ``rank_head``
    (Markov with it), ``rank_layer`` (for independent heads) and the paper's ``layer`` bound."""
    der = Derivation("heads projecting an embedding of width d_model")
    r = sp.Min(d_model, d_k)  # the dimension the keys span
    cos2 = der.assume("the keys are taken as uniform on the unit sphere of a subspace of r dimensions, "
                      "r the smaller of the embedding's width and the key width: two keys' squared "
                      "cosine has the mean of sphere keys in r dimensions",
                      sp.Eq(sp.Function("E_c2")(d_model, d_k),
                            key_moments("sphere").results["cos2"].subs(d_k, r)))
    j = sp.Symbol("j", positive=True, integer=True)
    noise = der.step("eqs 31-32: the noise power sum_{j != m} E[c_j^2] of sphere keys in r dimensions",
                     sp.Sum(cos2, (j, 1, n - 1)), (n - 1) / r)
    head = noise / delta  # Markov's bound (eq 36) with that noise power
    layer = der.step("every head at the rank-limited Markov bound",
                     heads_fail_independently(der).subs(p_head_of(h), head), head**H)
    der.result("rank_noise", noise)
    der.result("rank_head", head)
    der.result("rank_layer", layer)
    der.result("layer", theorem9().results["layer"])
    return der


@lru_cache(maxsize=None)
def head_count() -> Derivation:
    """At fixed width ``d_model = H d_k`` the first-order bound is ``L (n H/(delta d_model))^H``.
    Result ``optimal_H``: its one stationary point in H, a minimum."""
    der = Derivation("head count minimising the Theorem 9 bound")
    first = theorem9().results["network_first_order"]
    bound = first.subs(d_k, d_model / H)  # eq 48 at d_k = d_model / H
    log_bound = sp.expand_log(sp.log(bound), force=True)
    stationary = sp.solve(sp.diff(log_bound, H), H)
    if len(stationary) != 1:
        raise AssertionError("the log-bound should have one stationary point in H")
    optimum = stationary[0]
    der.step("d/dH log bound vanishes at H* = delta d_model/(e n)",
             sp.Subs(sp.Derivative(log_bound, H), H, delta * d_model / (sp.E * n)), 0)
    curvature = der.step("the second derivative of the log-bound in H",
                         sp.Derivative(log_bound, (H, 2)), 1 / H)
    der.inequality("it is positive at every H > 0, so H* is the minimum", 0, curvature)
    der.step("at the optimum the bound is L exp(-H*)", sp.Subs(bound, H, optimum), L * sp.exp(-optimum))
    der.result("bound", bound)
    der.result("optimal_H", optimum)
    return der
