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
from sympy import stats

from pavlov_theory.derivation import Derivation

from .vectors import (
    component,
    d_k,
    independent_expectation,
    key_moments,
    n,
    random_sign,
    sphere_squared_cosine,
)

L = sp.Symbol("L", positive=True, integer=True)
BRUTE_N, BRUTE_D = 3, 2


def paired_diagonal(own: sp.Expr, others: sp.Expr, cos2: sp.Expr, norm_var: sp.Expr) -> sp.Expr:
    """``E[E A E]_pp`` by the moment rule, from ``own = A_pp`` and ``others``, the sum of the other
    diagonal entries ``A_rr``: the paired terms ``(p r)(r p)`` give ``E[(x_p . x_r)^2] = cos2`` each,
    and ``(p p)(p p)`` gives ``Var ||x||^2 = norm_var``."""
    return others * cos2 + own * norm_var


def moment_map(A: sp.Matrix, cos2: sp.Expr, norm_var: sp.Expr) -> sp.Matrix:
    """``E[E A E]`` for ``G = I + E`` built from independent zero-mean vectors with
    ``E[(x_p . x_r)^2] = cos2`` (p != r) and ``Var ||x||^2 = norm_var``: only paired entries
    survive, ``(p r)(r p)`` on the diagonal (:func:`paired_diagonal`) and ``(p q)(p q)`` off it."""
    size = A.rows
    out = sp.zeros(size, size)
    for p in range(size):
        for q in range(size):
            if p == q:
                others = sum(A[r, r] for r in range(size) if r != p)
                out[p, p] = paired_diagonal(A[p, p], others, cos2, norm_var)
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


def coordinate_square(dist: str) -> sp.Expr:
    """``E[x_i^2]`` for one coordinate of a vector from ``dist``, unevaluated, from the law itself:
    a sphere coordinate is ``S sqrt(B)`` (so its square is ``B``); the other laws have independent
    coordinates."""
    if dist == "sphere":
        return stats.E(sphere_squared_cosine(d_k), evaluate=False)
    return stats.E(component(dist, d_k) ** 2, evaluate=False)


def square_norm(dist: str) -> sp.Expr:
    """``E||x||^2 = sum_i E[x_i^2]``, unevaluated: steps show it and SymPy computes it."""
    i = sp.Symbol("i", integer=True, positive=True)
    return sp.Sum(coordinate_square(dist), (i, 1, d_k))


@lru_cache(maxsize=None)
def multi_hop(dist: str) -> Derivation:
    """The plain chain (no residual stream, no Norm) for vectors from ``dist``. Results:
    ``per_hop_factor`` ``F`` (the diagonal of ``Phi(I)``), ``error = E||r_L - x_L^1||^2``,
    ``target_power = E||x_L^1||^2`` and ``relative_error``, their ratio. ``product_law`` is the
    project's hypothesis ``(1 + (n-1)/d_k)^L - 1`` (one hop's noise law compounded; the paper
    states no law for a chain), kept to be compared with the exact law."""
    der = Derivation(f"multi-hop noise, {dist} vectors")
    moments = key_moments(dist)
    cos2 = moments.results["cos2"]
    norm_var = moments.results["norm4"] - 1
    c = sp.Symbol("c", positive=True)
    r = sp.Symbol("r", integer=True, positive=True)
    others = der.step("at A = c I, the n-1 other diagonal entries A_rr of row p sum to (n-1) c",
                      sp.Sum(c, (r, 1, n - 1)), (n - 1) * c)
    size = 4
    A = sp.Matrix(BRUTE_N, BRUTE_N, lambda i, j: sp.Symbol(f"a{i}{j}"))
    if dist == "gaussian":
        der.confirm("moment rule E[E A E] by brute force over explicit coordinates "
                    "(gaussian, n=3, d=2, any A)",
                    _brute_force_gaussian(A),
                    moment_map(A, cos2.subs(d_k, BRUTE_D), norm_var.subs(d_k, BRUTE_D)))
    # like residual's layer map: SymPy checks the rule only for gaussian vectors at n = 3, d = 2
    diagonal = der.assume("the moment rule Phi(A)_pp = A_pp + sum_{r != p} A_rr E[(x_p.x_r)^2] + A_pp "
                          "Var||x||^2 at A = c I: checked by brute force (in the gaussian derivation) for "
                          f"gaussian vectors at n = 3, d = 2, taken for {dist} vectors and every n and d_k",
                          sp.Eq(sp.Function("Phi_pp")(c), c + paired_diagonal(c, others, cos2, norm_var)))
    der.step("Phi(c I)_pp / c does not depend on c: one factor F for every multiple of I",
             sp.Derivative(diagonal / c, c), 0)
    factor = sp.expand(diagonal / c)
    der.confirm(f"Phi(c I) = c F I entry by entry from the moment rule (n = {size})",
                sp.eye(size) * c + moment_map(sp.eye(size) * c, cos2, norm_var),
                sp.eye(size) * c * factor.subs(n, size))
    hop = sp.Symbol("l", integer=True, positive=True)
    k_L = der.step("Phi^L(I) = F^L I: one factor F per hop", sp.Product(factor, (hop, 1, L)), factor**L)
    m = sp.Symbol("m", integer=True, nonnegative=True)
    i = sp.Symbol("i", integer=True, positive=True)
    x2 = coordinate_square(dist)
    der.step("E[(x.y)^2] = sum_i E[x_i^2] E[y_i^2] (coordinates uncorrelated): the key moment E[(x.y)^2]",
             sp.Sum(x2 * x2, (i, 1, d_k)), cos2)
    target = der.step("E||x_L^1||^2 = sum_i E[x_i^2]", square_norm(dist), 1)
    size_g = 3
    gram = sp.Matrix(size_g, size_g, lambda p, q: square_norm(dist) if p == q
                     else sp.Sum(moments.results["mean_coord"] ** 2, (i, 1, d_k)))
    der.step(f"E[G] = I (n = {size_g}): E[G_pp] = E||x||^2, E[G_pq] = sum_i E[x_p,i] E[x_q,i] = 0 (p != q)",
             gram, sp.eye(size_g))
    signal = der.step("E[r_L . x_L^1] = e_1^T E[G_0] ... E[G_L] e_1 = prod_m E[G_m]_11 "
                      "(independent sets, E[G] diagonal)",
                      sp.Product(gram[0, 0], (m, 0, L)), 1)
    error = der.step("E||r_L - x_L^1||^2 = E||r_L||^2 - 2 E[r_L . x_L^1] + E||x_L^1||^2, "
                     "with E||r_L||^2 = e_1^T Phi^L(I) e_1 (E[G_L] = I for the last set)",
                     sp.Add(k_L, -2 * signal, target, evaluate=False), k_L - 1)
    der.result("per_hop_factor", factor)
    der.result("error", error)
    der.result("target_power", sp.sympify(target))
    der.result("relative_error", error / target)
    # one hop's noise (n-1) E[(x.y)^2] (Theorem 6), compounded over L hops
    der.result("product_law", (1 + (n - 1) * cos2) ** L - 1)
    return der


# ----------------------------------------------------------------------------- residual stream

def _transition_brute_force(dist: str) -> tuple[sp.Matrix, sp.Matrix]:
    """One residual layer ``r -> r + u X`` averaged over a fresh set ``X`` of ``n=3`` vectors in
    ``d=2`` explicit coordinates, for a fixed stream ``r`` and fixed scores ``u``: returns the
    brute-force expectations and the rule's predictions, side by side."""
    rs, us = sp.symbols(f"r0:{BRUTE_D}"), sp.symbols(f"u0:{BRUTE_N}")
    s = sp.symbols(f"s0:{BRUTE_D}")
    xs = [sp.symbols(f"x{i}_0:{BRUTE_D}") for i in range(BRUTE_N)]
    flat = [v for x in xs for v in x]
    X = sp.Matrix(BRUTE_N, BRUTE_D, lambda i, j: xs[i][j])
    r, u, probe = sp.Matrix([rs]), sp.Matrix([us]), sp.Matrix([s])
    out = r + u * X
    scores = out * X.T
    mean = lambda e: independent_expectation(e, flat, dist, BRUTE_D)
    moments = key_moments(dist)
    cos2 = moments.results["cos2"].subs(d_k, BRUTE_D)
    F = multi_hop(dist).results["per_hop_factor"].subs({n: BRUTE_N, d_k: BRUTE_D})  # Phi(I)_pp, derived
    norm2 = lambda v: (v * v.T)[0, 0]
    brute = sp.Matrix([mean(norm2(out)), mean(norm2(scores)), mean((out * probe.T)[0, 0])]
                      + [mean(e) for e in scores])
    rule = sp.Matrix([norm2(r) + norm2(u), BRUTE_N * cos2 * norm2(r) + F * norm2(u), (r * probe.T)[0, 0]]
                     + list(u))
    return brute, rule


@lru_cache(maxsize=None)
def residual(dist: str) -> Derivation:
    """The chain with the residual stream of eq 20 (``W_O = I``, no Norm):
    ``r_l = r_{l-1} + r_{l-1} S_l``, ``r_0 = x_0^1``. Results: ``power = E||r_L||^2``,
    ``path_error = E||r_L - sum_{m<=L} x_m^1||^2`` (the error against every stimulus on the path,
    which the stream carries with weight one each), ``target_power = E||sum_{m<=L} x_m^1||^2`` and
    ``relative_error``, their ratio (comparable with the plain chain's ``relative_error``)."""
    der = Derivation(f"residual chain, {dist} vectors")
    moments = key_moments(dist)
    cos2, norm4 = moments.results["cos2"], moments.results["norm4"]
    F = multi_hop(dist).results["per_hop_factor"]
    brute_laws = (dist,) if dist != "sphere" else ("gaussian", "rademacher")
    for checked in brute_laws:
        brute, rule = _transition_brute_force(checked)
        der.confirm(f"one layer, averaged over its fresh set ({checked}, n=3, d=2, any r, u, s): "
                    "E||r + uX||^2, E||(r + uX) X^T||^2, E[(r + uX).s], E[(r + uX) X^T]", brute, rule)
    # the rule uses only E[x x^T] = I/d_k, E[G^2] = F I and sign symmetry, which sphere vectors share
    p = sp.Symbol("p", integer=True, positive=True)
    f0 = der.step("b_0 = E||x_0 X_0^T||^2 = E||x_0||^4 + sum_{p>1} E[(x_0.x_p)^2]",
                  norm4 + sp.Sum(cos2, (p, 2, n)), sp.expand(norm4 + (n - 1) * cos2))
    gain = der.step("E||r X^T||^2 = sum_p r^T E[x_p x_p^T] r = ||r||^2 sum_p E[x_i^2] "
                    "(= n E[(x.y)^2] ||r||^2)",
                    sp.Sum(coordinate_square(dist), (p, 1, n)), n * cos2)
    T = sp.Matrix([[1, 1], [gain, F]])
    a, b = sp.Function("a"), sp.Function("b")
    step = sp.Symbol("l", integer=True, nonnegative=True)
    pair = sp.Matrix([a(step), b(step)])  # (a_l, b_l)
    # the rule uses E[x x^T] = I/d_k, E[G^2] = F I and sign symmetry, for any n and d_k; SymPy
    # checks it only at the size confirmed above
    confirmed = " and ".join(brute_laws)
    mapped = der.assume("each layer maps the moments a = E||r||^2, b = E||r X^T||^2 linearly, by T: "
                        f"confirmed above for {confirmed} vectors at n = 3, d = 2 for any r and u, taken "
                        f"for {dist} vectors and every n and d_k",
                        sp.Eq(sp.Matrix([a(step + 1), b(step + 1)]), T * pair))
    two_layers = der.step("two layers of that map give a_{l+2} = tr(T) a_{l+1} - det(T) a_l "
                          "(Cayley-Hamilton)", (T * mapped)[0], T.trace() * mapped[0] - T.det() * pair[0])
    (b_now,) = sp.solve(sp.Eq(a(step + 1), mapped[0]), b(step))  # b_l through a_l and a_{l+1}
    recurrence = a(step + 2) - sp.expand(two_layers.subs(b(step), b_now))
    closed = sp.rsolve(recurrence, a(step), {a(0): 1, a(1): 1 + f0})
    der.step("the closed form solves a_{l+2} = tr(T) a_{l+1} - det(T) a_l",
             closed.subs(step, step + 2) - T.trace() * closed.subs(step, step + 1) + T.det() * closed, 0)
    der.step("a_1 = 1 + E||x_0 X_0^T||^2 = 1 + E||x||^4 + (n-1) E[c^2]", closed.subs(step, 1), 1 + f0)
    power = closed.subs(step, L)
    plain_b = sp.rsolve(b(step + 1) - F * b(step), b(step), {b(0): f0})
    plain = der.step("without the residual, T = [[0, 1], [0, F]]: b_l = F b_{l-1}, b_0 = f_0, and "
                     "a_L = b_{L-1} = 1 + the plain chain's error",
                     plain_b.subs(step, L - 1), multi_hop(dist).results["error"] + 1)
    m, k = sp.symbols("m k", integer=True, nonnegative=True)
    target = der.step("E||x_0^1 + ... + x_L^1||^2 = sum_m E||x_m^1||^2 (independent, zero mean)",
                      sp.Sum(square_norm(dist), (m, 0, L)), L + 1)
    signal = der.step("sum_m E[r_L . x_m^1]: later layers keep the projection (E[(r + uX).s] = r.s), and "
                      "layer m keeps the score, E[r_m . x_m^1] = E[r_{m-1} . x_{m-1}^1] E||x||^2",
                      sp.Sum(sp.Product(square_norm(dist), (k, 0, m)), (m, 0, L)), L + 1)
    path_error = der.step("E||r_L - sum_m x_m^1||^2 = a_L - 2 sum_m E[r_L . x_m^1] + E||sum_m x_m^1||^2",
                          sp.Add(power, -2 * signal, target, evaluate=False), power - (L + 1))
    der.result("power", power)
    der.result("plain_power", plain)
    der.result("target_power", target)
    der.result("path_error", path_error)
    der.result("relative_error", path_error / target)
    der.result("growth", sp.simplify((T.trace() + sp.sqrt(T.trace() ** 2 - 4 * T.det())) / 2))
    der.result("gram_square", F)
    der.result("score_gain", sp.simplify(n * cos2))
    return der


@lru_cache(maxsize=None)
def residual_norm() -> Derivation:
    """The residual chain with RMSNorm on each layer's output, ``r_l = r_{l-1} + Norm(r_{l-1} S_l)``.
    ``Norm`` gives every output the squared norm ``d_k``, and flipping the fresh set ``X_l`` flips
    the output, so it is uncorrelated with the stream: ``E||r_l||^2 = E||r_{l-1}||^2 + d_k``.
    Result ``power = 1 + L d_k`` (any sign-symmetric vector law, ``X_l`` and ``-X_l`` equally
    likely, with ``||x_0|| = 1`` on average)."""
    der = Derivation("residual chain with RMSNorm")
    i = sp.Symbol("i", integer=True, positive=True)
    v, r = sp.Function("v", real=True), sp.Function("r", real=True)

    def rms_norm(w: sp.Lambda | sp.Function) -> sp.Expr:  # coordinate i of Norm(w)
        return sp.sqrt(d_k) * w(i) / sp.sqrt(sp.Sum(w(i) ** 2, (i, 1, d_k)))

    norm_sq = der.step("||Norm(v)||^2 = sum_i (sqrt(d_k) v_i / ||v||)^2",
                       sp.Sum(rms_norm(v) ** 2, (i, 1, d_k)), d_k)
    flip = sp.Symbol("q", positive=True)  # the chance of -X_l rather than X_l, given the pair
    q = der.assume("sign symmetry of the vector law: given the pair X_l, -X_l, the flip -X_l has chance q "
                   "(it flips v = r S_l, as r does not involve X_l)",
                   sp.Eq(flip, sp.Rational(1, 2)))
    cross = der.step("E[r . Norm(r S_l)] averages r . Norm(v) and r . Norm(-v) with those chances: "
                     "Norm(-v) = -Norm(v), so it is 0",
                     sp.Add((1 - q) * sp.Sum(r(i) * rms_norm(v), (i, 1, d_k)),
                            q * sp.Sum(r(i) * rms_norm(sp.Lambda(i, -v(i))), (i, 1, d_k)), evaluate=False), 0)
    a = sp.Function("a")
    step = sp.Symbol("l", integer=True, nonnegative=True)
    power = der.step("a_L = a_0 + sum_{l=1}^{L} (a_l - a_{l-1}), a_0 = 1, "
                     "a_l - a_{l-1} = E||Norm(r S_l)||^2 + 2 E[r_{l-1} . Norm(r S_l)]",
                     1 + sp.Sum(norm_sq + 2 * cross, (step, 1, L)), 1 + L * d_k)
    der.confirm("rsolve of a_{l+1} = a_l + d_k, a_0 = 1, at l = L",
                sp.rsolve(a(step + 1) - a(step) - d_k, a(step), {a(0): 1}).subs(step, L), power)
    der.result("power", power)
    return der


def mean_field_norm_cosine(L: int, n: int, d_k: int, dist: str = "sphere") -> float:
    """An approximation, not a derivation: the cosine of the residual + RMSNorm chain with the
    right answer ``x_L^1``, replacing each Norm's random scale ``sqrt(d_k)/||r S||`` by
    ``sqrt(d_k / E||r S||^2)``. Uses the exact moments of :func:`residual` (``F = E[G^2]``,
    ``n/d_k``) and the exact power of :func:`residual_norm`."""
    der = residual(dist)
    F, gain = der.evaluate("gram_square", n=n, d_k=d_k), der.evaluate("score_gain", n=n, d_k=d_k)
    power, scores, signal = 1.0, der.evaluate("power", L=1, n=n, d_k=d_k) - 1, 1.0
    for _ in range(L):
        scale2 = d_k / scores  # squared Norm scale of this layer's output
        power, scores, signal = power + d_k, gain * power + scale2 * F * scores, signal * scale2**0.5
    return signal / power**0.5


# ----------------------------------------------------------------------------- dynamic routing

def _routing_margin_moments_rademacher(n_items: int, d: int) -> tuple[sp.Rational, sp.Rational]:
    """``E[m]`` and ``E[m^2]`` of the routing margin by exhaustive enumeration of every sign
    pattern of normalized Rademacher vectors (exact integers; tiny ``n_items``, ``d`` only)."""
    import numpy as np

    names = ([f"x0_{i}" for i in range(n_items)] + [f"x1_{i}" for i in range(n_items)]
             + [f"y_{j}" for j in range(1, n_items)] + [f"z_{j}" for j in range(n_items)])
    bits = len(names) * d
    total1 = total2 = 0
    chunk = 1 << 18
    for start in range(0, 1 << bits, chunk):
        k = np.arange(start, min(start + chunk, 1 << bits), dtype=np.int64)
        coords = 1 - 2 * ((k[:, None] >> np.arange(bits)) & 1)
        vec = {name: coords[:, i * d:(i + 1) * d] for i, name in enumerate(names)}
        keys2 = [vec["x1_0"]] + [vec[f"y_{j}"] for j in range(1, n_items)]  # layer-2 keys: mammal first
        dot = lambda p, q: (p * q).sum(1)
        probe = vec["x0_0"]
        u = sum(dot(probe, vec[f"x0_{i}"])[:, None] * vec[f"x1_{i}"] for i in range(n_items))
        diff = vec["z_0"] - vec["z_1"]
        m = sum(dot(u, keys2[j]) * dot(vec[f"z_{j}"], diff) for j in range(n_items))
        total1 += int(m.sum())
        total2 += int((m * m).sum())
    count = 1 << bits
    return sp.Rational(total1, count * d**3), sp.Rational(total2, count * d**6)


@lru_cache(maxsize=None)
def routing() -> Derivation:
    """Section 5.1.3 with unit vectors. Layer 1 stores ``n`` pairs, the context's own
    ``animal -> middle`` among them; layer 2 stores ``n`` pairs, ``mammal -> dog`` and
    ``reptile -> lizard`` among them. The routing margin of a context is
    ``m = r . (own answer - other answer)`` for the two-hop retrieval ``r``. Results: ``mean``,
    ``second_moment``, ``variance`` (exact), ``cantelli`` (a proved bound on ``P(m <= 0)``,
    Cantelli's inequality) and ``gaussian`` (the normal approximation ``Phi(-1/sqrt(V))``, not a
    bound)."""
    der = Derivation("routing margin, unit vectors")
    cos2 = key_moments("sphere").results["cos2"]
    S, B = random_sign(), sphere_squared_cosine(d_k)
    # the cosine of two independent unit vectors is S sqrt(B); its mean is E[S] E[sqrt B]
    mean_cos = stats.E(S, evaluate=False) * sp.Symbol("E_sqrtB")
    i, j = sp.symbols("i j", integer=True, positive=True)
    w1, w2, e = sp.symbols("w_1 w_2 e")
    wq = sp.symbols("wq_3:6")  # three stand-ins for the distractor terms w_j q_j
    der.step("m = sum_j w_j z_j.(z_1 - z_2) = (w_1 - w_2)(1 - e) + sum_{j>2} w_j q_j, e = z_1.z_2",
             w1 * (1 - e) + w2 * (e - 1) + sum(wq), (w1 - w2) * (1 - e) + sum(wq))
    E_one_minus_e2 = der.step("E[(1-e)^2] = 1 - 2 E[e] + E[e^2], E[e^2] = E[B]",
                              1 - 2 * mean_cos + stats.E(B, evaluate=False), 1 + cos2)
    E_q2 = der.step("E[q_j^2] = E||z_1 - z_2||^2 E[(z_j . unit)^2] = (2 - 2 E[e]) E[B]",
                    (2 - 2 * mean_cos) * cos2, 2 * cos2)
    E_u2 = der.step("E||u||^2 = ||animal||^2 + sum_{i>1} E[c_i^2] for u = animal S_1 (one hop, Theorem 6)",
                    1 + sp.Sum(cos2, (i, 2, n)), 1 + (n - 1) * cos2)
    E_w1 = der.step("E[w_1] = E[u . mammal] = ||mammal||^2 + sum_{i>1} E[c_i] E[x1_i . mammal]",
                    1 + sp.Sum(mean_cos * mean_cos, (i, 2, n)), 1)
    E_w2 = der.step("E[w_2] = E[u . reptile] = sum_i E[u_i] E[reptile_i] (reptile independent of layer 1)",
                    sp.Sum(sp.Function("Eu")(i) * key_moments("sphere").results["mean_coord"], (i, 1, d_k)),
                    0)
    E_w1sq = der.step("E[w_1^2] = 1 + sum_{i>1} E[c_i^2] E[(x1_i . mammal)^2]",
                      1 + sp.Sum(cos2 * cos2, (i, 2, n)), 1 + (n - 1) * cos2**2)
    E_wj2 = der.step("E[w_j^2] = E||u||^2 / d_k for a key independent of layer 1 (j >= 2)", E_u2 * cos2,
                     cos2 + (n - 1) * cos2**2)
    mean = der.step("E[m] = (E[w_1] - E[w_2]) E[1 - e] + sum_{j>2} E[w_j] E[q_j], "
                    "E[q_j] = E[z_j].(z_1 - z_2)",
                    (E_w1 - E_w2) * (1 - mean_cos) + sp.Sum(mean_cos * sp.Symbol("W"), (j, 3, n)), 1)
    mean_coord = key_moments("sphere").results["mean_coord"]
    E_w1w2 = der.step("E[w_1 w_2] = sum_i E[w_1 u_i] E[reptile_i] "
                      "(reptile independent of layer 1 and mammal)",
                      sp.Sum(sp.Function("Ew1u")(i) * mean_coord, (i, 1, d_k)), 0)
    E_diff2 = der.step("E[(w_1 - w_2)^2] = E[w_1^2] - 2 E[w_1 w_2] + E[w_2^2], E[w_2^2] = E[w_j^2] (j = 2)",
                       sp.Add(E_w1sq, -2 * E_w1w2, E_wj2, evaluate=False), 1 + cos2 + 2 * (n - 1) * cos2**2)
    cross = der.step("a cross term of m^2 (j > 2, k != j) carries z_j . v once, z_j independent of the rest: "
                     "E = sum_i E[z_j,i] E[rest_i]",
                     sp.Sum(sp.Function("Erest")(i) * mean_coord, (i, 1, d_k)), 0)
    second = der.step("E[m^2] = E[(w_1 - w_2)^2] E[(1-e)^2] + sum_{j>2} E[w_j^2] E[q_j^2] + cross terms "
                      "(the w's do not involve layer 2's values)",
                      sp.Add(sp.Mul(E_diff2, E_one_minus_e2, evaluate=False), sp.Sum(E_wj2 * E_q2, (j, 3, n)),
                             cross, evaluate=False),
                      1 + 2 / d_k + (4 * n - 5) / d_k**2 + 2 * (n - 1) ** 2 / d_k**3)
    for size, d in ((3, 2), (2, 3)):
        m1, m2 = _routing_margin_moments_rademacher(size, d)
        der.confirm(f"E[m] by exhaustive enumeration (rademacher, n={size}, d_k={d})", m1, mean)
        der.confirm(f"E[m^2] by exhaustive enumeration (rademacher, n={size}, d_k={d})", m2,
                    second.subs({n: size, d_k: d}))
    variance = sp.simplify(second - mean**2)
    der.result("mean", sp.sympify(mean))
    der.result("second_moment", second)
    der.result("variance", variance)
    # Cantelli, proved: for Y = m - E[m], t = E[m] > 0 and any u > 0, 1{Y <= -t} <= (u - Y)^2/(u + t)^2
    # pointwise; taking expectations gives P(m <= 0) <= (V + u^2)/(u + t)^2, least at u = V/t.
    V, t, u, s = sp.symbols("V t u s", positive=True)
    der.inequality("on the event Y = -t - s (s >= 0): 1 <= (u - Y)^2 / (u + t)^2", sp.Integer(1),
                   (u + t + s) ** 2 / (u + t) ** 2, certificate=s * (2 * (u + t) + s) / (u + t) ** 2)
    der.inequality("off the event: 0 <= (u - Y)^2 / (u + t)^2", sp.Integer(0),
                   (u - sp.Symbol("Y", real=True)) ** 2 / (u + t) ** 2)
    markov = (V + u**2) / (u + t) ** 2  # E[(u - Y)^2] = u^2 + V, as E[Y] = 0 and E[Y^2] = V
    cantelli = der.step("at u = V/t the bound E[(u - Y)^2]/(u + t)^2 is V/(V + t^2)", markov.subs(u, V / t),
                        V / (V + t**2))
    der.inequality("u = V/t is the best choice: V/(V + t^2) <= (V + u^2)/(u + t)^2 for every u > 0", cantelli,
                   markov, certificate=(u * t - V) ** 2 / ((u + t) ** 2 * (V + t**2)))
    der.result("cantelli", cantelli.subs({V: variance, t: mean}))
    der.result("gaussian", (1 + sp.erf(-mean / sp.sqrt(2 * variance))) / 2)
    return der
