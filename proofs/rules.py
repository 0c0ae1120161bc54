"""Section 5.3: the delta rule (eqs 22-23), the paper's Oja rule (eqs 24-25) and the BCM rule
(eq 26), derived step by step.

Keys ``k`` are row vectors of length ``d_k``, values ``v`` row vectors of length ``d_v``, the
memory ``S`` is ``d_k x d_v`` and a key retrieves ``k S``. Small explicit symbolic vectors stand
for general ones where a step is an algebraic identity (the identity holds entry by entry, so
for every size).
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp
from sympy import stats

from pavlov_theory.derivation import Derivation

from .capacity import signal_noise
from .vectors import d_k, d_v, key_moments, n, sphere_squared_cosine, uncorrelated_values

alpha = sp.Symbol("alpha", positive=True)
tau = sp.Symbol("tau", integer=True, nonnegative=True)
T = sp.Symbol("T", integer=True, positive=True)
p = sp.Symbol("p", positive=True)  # a token's frequency in the stream
theta_decay = sp.Symbol("theta_decay", positive=True)


def _points(points, symbols=None) -> sp.Matrix:
    """Solutions (dicts over ``symbols``, or tuples) as the rows of a matrix in a canonical order."""
    rows = [tuple(pt[s] for s in symbols) if symbols else tuple(sp.sympify(x) for x in pt) for pt in points]
    return sp.Matrix(sorted(rows, key=sp.default_sort_key))


def _vectors():
    k = sp.Matrix([sp.symbols("k1:4", real=True)])
    v = sp.Matrix([sp.symbols("v1:3", real=True)])
    S = sp.Matrix(3, 2, sp.symbols("s1:7", real=True))
    return k, v, S


@lru_cache(maxsize=None)
def delta() -> Derivation:
    """The delta rule's identities, the residual of the least-squares memory, and how the end-of-pass
    fixed point of repeated passes approaches it as alpha -> 0.

    Results: ``alpha_high`` (the stable range is ``0 < alpha < alpha_high = 2/||k||^2``, 2 for
    unit keys), ``residual_fraction`` ``E||V - K S||^2 / E||V||^2`` of the least-squares memory
    for ``n > d_k`` random keys and independent unit values, ``residual_fraction_any`` (with
    ``min(n, d_k)``, 0 for ``n <= d_k``), ``excess_exponent`` (the excess residual of the end-of-pass
    fixed point over least squares falls like ``alpha^2``; the O(alpha) distance is derived exactly
    for two pairs with ``d_k = 1``)."""
    der = Derivation("delta rule")
    k, v, S = _vectors()
    eye = sp.eye(3)
    eq22 = S + alpha * k.T * (v - k * S)
    der.step("eq 23: S + alpha k^T (v - k S) = (I - alpha k^T k) S + alpha k^T v (erase, then write)",
             sp.expand(eq22), sp.MatMul(eye - alpha * k.T * k, S) + alpha * k.T * v)
    norm2 = (k * k.T)[0]
    new_error = sp.expand(k * eq22 - v)
    der.step("the retrieval error of the key just written shrinks by (1 - alpha ||k||^2)",
             new_error, sp.MatMul(1 - alpha * norm2, k * S - v))
    der.step("at alpha = 1/||k||^2 (alpha = 1 for unit keys) the newest pair is recalled exactly",
             (k * eq22).subs(alpha, 1 / norm2), v)
    r = sp.Symbol("r", positive=True)  # ||k||^2
    stable = sp.solve_univariate_inequality(sp.Abs(1 - alpha * r) < 1, alpha, relational=False)
    if stable != sp.Interval.open(0, 2 / r):
        raise AssertionError(f"stable range of alpha: {stable}")
    der.step("writing the same key again contracts its error iff |1 - alpha ||k||^2| < 1: the range "
             "ends where the factor is -1", sp.Subs(1 - alpha * r, alpha, stable.sup), -1)
    der.step("and starts where it is 1", sp.Subs(1 - alpha * r, alpha, stable.inf), 1)
    der.result("alpha_high", stable.sup.subs(r, key_moments("sphere").results["norm4"]))
    # a write with key k_i leaves the retrieval of an orthogonal key k_j unchanged
    kj = sp.Matrix([[0, 0, sp.Symbol("c", real=True)]])
    ki = sp.Matrix([[sp.Symbol("a", real=True), sp.Symbol("b", real=True), 0]])
    der.confirm("a write with k_i does not change the retrieval of a key orthogonal to k_i "
                "(explicit orthogonal keys)", kj * (ki.T * (v - ki * S)) * alpha, sp.zeros(1, 2))
    # least squares: the residual is (I - P) V with P the projection onto the column space of K
    i, j = sp.symbols("i j", integer=True, positive=True)
    cross = uncorrelated_values(der)  # E[V V^T]_ij = E[v_i . v_j] for i != j
    rank = sp.Symbol("rank", positive=True, integer=True)
    lam = sp.Symbol("lambda")
    der.confirm("P = K (K^T K)^-1 K^T is a projection, P^2 = P, so an eigenvalue solves lambda^2 = lambda: "
                "it is 0 or 1", _points([(x,) for x in sp.solve(lam**2 - lam, lam)]), _points([(0,), (1,)]))
    trace_p = der.step("P is symmetric, so diagonalisable: tr P is the sum of its eigenvalues, one 1 per "
                       "dimension of its range, the column space of K (dimension rank K)",
                       sp.Sum(1, (i, 1, rank)), rank)
    unit = key_moments("sphere").results["norm"] ** 2  # ||v||^2 of a unit value
    moments = der.assume("the values are independent of the keys, so of P: E[V V^T | K] = E[V V^T], "
                         "||v||^2 = 1 on its diagonal and the cross moment above off it",
                         sp.Eq(sp.Function("C_V")(i, j),
                               sp.KroneckerDelta(i, j) * unit + (1 - sp.KroneckerDelta(i, j)) * cross))
    off_diagonal = sp.Symbol("sigma_P")  # the sum of P's off-diagonal entries
    residual = der.step("E||(I - P) V||^2 = tr(E[V V^T | K]) - tr(P E[V V^T | K]) = tr(I_n) - tr(P)",
                        sp.Sum(moments.subs(j, i), (i, 1, n))
                        - (trace_p * moments.subs(j, i) + off_diagonal * moments.subs({i: 1, j: 2})),
                        n - trace_p)
    K = sp.Matrix([[1, 0], [1, 1], [0, 2]])
    P = K * (K.T * K).inv() * K.T
    der.confirm("P^2 = P for an explicit 3 x 2 key matrix", P * P, P)
    der.confirm("tr(I - P) = n - rank for an explicit 3 x 2 key matrix",
                (sp.eye(3) - P).trace(), 3 - K.rank())
    full_rank = der.assume("random sphere keys have full rank min(n, d_k), almost surely (their law has a "
                           "density)",
                           sp.Eq(rank, sp.Min(n, d_k)))
    fraction_any = der.step("E||V||^2 = n (unit values), at that rank",
                            residual.subs(rank, full_rank) / sp.Sum(1, (i, 1, n)),
                            (n - sp.Min(n, d_k)) / n)
    s = sp.Symbol("s", positive=True, integer=True)
    fraction = der.step("for n = d_k + s > d_k: (n - d_k)/n",
                        sp.Subs(fraction_any, n, d_k + s), s / (d_k + s))
    der.result("residual_fraction_any", fraction_any)
    der.result("residual_fraction", fraction.subs(s, n - d_k))
    # repeated passes: one pass is an affine map S -> A S + B,
    # solved for its fixed point (not iterated)
    Km = sp.Matrix(3, 2, sp.symbols("K1:7", real=True))
    Vm, Sm, Em = (sp.Matrix(r, 1, sp.symbols(f"{x}1:{r + 1}", real=True))
                  for x, r in (("V", 3), ("S", 2), ("E", 2)))
    sq = lambda M: (M.T * M)[0]
    der.step("a memory S + E leaves ||V - K S||^2 plus 2 <K E, K S - V> plus ||K E||^2 (explicit 3 x 2 K)",
             sp.expand(sq(Vm - Km * (Sm + Em))),
             sq(Vm - Km * Sm) + 2 * (Em.T * Km.T * (Km * Sm - Vm))[0] + sq(Km * Em))
    k1, k2, v1, v2 = sp.symbols("k1 k2 v1 v2", positive=True)
    A = (1 - alpha * k2**2) * (1 - alpha * k1**2)
    B = (1 - alpha * k2**2) * alpha * k1 * v1 + alpha * k2 * v2
    least = (k1 * v1 + k2 * v2) / (k1**2 + k2**2)
    der.step("at least squares K^T (K S - V) = 0, so the middle term vanishes and the excess residual of any "
             "memory is ||K E||^2, E its distance from least squares (two pairs, d_k = 1)",
             sp.Matrix([[k1, k2]]) * (sp.Matrix([k1, k2]) * least - sp.Matrix([v1, v2])), sp.zeros(1, 1))
    norm = k1**2 + k2**2
    deviation = der.step("the end-of-pass fixed point B/(1 - A) of one pass over two pairs (d_k = 1) "
                         "lies alpha k1 k2^3 (k1 v2 - k2 v1) / "
                         "((k1^2 + k2^2)(k1^2 + k2^2 - alpha k1^2 k2^2)) from least squares, "
                         "exactly in alpha",
                         B / (1 - A) - least,
                         alpha * k1 * k2**3 * (k1 * v2 - k2 * v1) / (norm * (norm - alpha * k1**2 * k2**2)))
    der.step("so it tends to least squares as alpha -> 0", sp.Limit(B / (1 - A), alpha, 0), least)
    der.step("and its excess residual (k1^2 + k2^2) E^2 falls like alpha^2: its local exponent "
             "d log(excess)/d log(alpha) tends to 2",
             sp.Limit(alpha * sp.diff(sp.log(norm * deviation**2), alpha), alpha, 0), 2)
    der.result("excess_exponent", sp.Integer(2))
    der.step("at alpha = 1/k2^2 (alpha = 1, unit keys) the fixed point retrieves the last value exactly, "
             "so it is not least squares", sp.Subs(k2 * B / (1 - A), alpha, 1 / k2**2), v2)
    return der


@lru_cache(maxsize=None)
def oja() -> Derivation:
    """Eq 24 as written and the classical rule of Oja (1982) beside it.

    Eq 24 shrinks column ``c`` of ``S`` by ``1 - alpha v_c^2`` and adds ``alpha k^T v_c``: the
    post-synaptic activity is the stored value ``v``, not the memory's response. Item ``m``
    written ``tau`` steps before the end contributes ``alpha k_m^T (v_m * D)`` with
    ``D_c = prod_{later j} (1 - alpha v_jc^2)``, so the memory is Hebbian storage with a random
    per-coordinate decay whose mean square per step is ``rho``.

    Results: ``rho``, ``snr`` (item at lag ``tau`` in a stream of ``T``, unit sphere keys and
    values), ``hebbian_snr`` (its alpha -> 0 limit, ``d_k/(T - 1)``), ``norm2`` (stationary ``E||S||_F^2``),
    ``fixed_point_column`` (``E[S]`` column ``c``: ``E[k^T v_c]/E[v_c^2]``, 0 for independent
    keys and values), and for the classical rule the fixed points and Jacobian eigenvalues."""
    der = Derivation("Oja's rule")
    k, v, S = _vectors()
    update = alpha * (k.T * v - S * sp.diag(*[x**2 for x in v]))
    der.step("eq 25: S + alpha (k^T v - S diag(v * v)) = S (I - alpha diag(v * v)) + alpha k^T v",
             sp.expand(S + update),
             sp.MatMul(S, sp.eye(2) - alpha * sp.diag(*[x**2 for x in v])) + alpha * k.T * v)
    B = sphere_squared_cosine(d_v)  # v_c^2 for a unit value
    m2 = der.step("E[v_c^2] = 1/d_v", stats.E(B, evaluate=False), 1 / d_v)
    m4 = der.step("E[v_c^4] = 3/(d_v (d_v + 2))", stats.E(B**2, evaluate=False), 3 / (d_v * (d_v + 2)))
    rho = der.step("rho = E[(1 - alpha v_c^2)^2], the mean-square shrink per step",
                   sp.expand(stats.E((1 - alpha * B) ** 2, evaluate=False)),
                   1 - 2 * alpha * m2 + alpha**2 * m4)
    der.result("rho", rho)
    mu, kv, col = sp.symbols("E_v2 E_kv s")
    fixed = kv / mu
    earlier, current = sp.symbols("E_X E_g")
    iid = der.assume("the stream: its pairs are i.i.d., so functions of disjoint sets of its pairs are "
                     "independent: E[X g] = E[X] E[g] for X a function of some pairs and g of others",
                     sp.Eq(sp.Function("E_Xg")(earlier, current), earlier * current))
    shrunk = iid.subs({earlier: col, current: mu})  # E[s v_c^2]: s is written by the pairs before pair i
    der.step("fixed point in expectation: s = s - alpha E[s v_c^2] + alpha E[k^T v_c] holds at "
             "s = E[k^T v_c]/E[v_c^2]", sp.Subs(alpha * kv - alpha * shrunk, col, fixed), 0)
    der.result("fixed_point_column", fixed)
    j = sp.Symbol("j", integer=True, positive=True)
    E_D2 = sp.Function("E_D2")  # E[D_c^2], D_c the product of the shrinks (1 - alpha v_jc^2) of later steps
    decay = der.step("E[D_c^2] over tau + 1 later steps: the newest step's shrink is a function of its own "
                     "pair, the other tau shrinks of other pairs, so E_D2(tau + 1) = E_D2(tau) rho from "
                     "E_D2(0) = 1 (nothing shrunk); solved, it is the product of their mean squares",
                     sp.rsolve(E_D2(tau + 1) - iid.subs({earlier: E_D2(tau), current: rho}), E_D2(tau),
                               {E_D2(0): 1}),
                     sp.Product(rho, (j, 1, tau)))
    of_keys, of_values = sp.symbols("E_f E_h")
    apart = der.assume("within a pair the key is independent of the value, so (the pairs being i.i.d.) the "
                       "stream's keys are independent of its values: E[f(keys) h(values)] = E[f(keys)] "
                       "E[h(values)]", sp.Eq(sp.Function("E_fh")(of_keys, of_values), of_keys * of_values))
    c = sp.Symbol("c", integer=True, positive=True)
    sphere = key_moments("sphere").results
    # E||v * D||^2 of an item at lag `at`: sum_c E[v_c^2] E[D_c^2], v apart from the later shrinks
    value_power = lambda at: sp.Sum(iid.subs({earlier: m2, current: at}), (c, 1, d_v))
    signal = der.step("signal power of item at lag tau: alpha^2 E[||k_m||^4 ||v_m * D||^2], the key apart "
                      "from the values and v_m from the later shrinks (the i.i.d. stream), = alpha^2 "
                      "E||k||^4 sum_c E[v_c^2] E[D_c^2] = alpha^2 rho^tau",
                      alpha**2 * apart.subs({of_keys: sphere["norm4"], of_values: value_power(decay)}),
                      alpha**2 * rho**tau)
    lag = sp.Symbol("l", integer=True, nonnegative=True)
    cos2 = sphere["cos2"]
    f = sp.Symbol("f", positive=True)  # rho = 1/(1 + f) lies in (0, 1)
    g = 1 / (1 + f)
    decay_at = lambda at: decay.subs(rho, g).subs(tau, at)  # E[D_c^2] at lag `at`, rho written as g
    item_noise = lambda at: alpha**2 * apart.subs({of_keys: cos2, of_values: value_power(decay_at(at))})
    noise = der.step("noise power: sum over the other items l of alpha^2 E[(k_m . k_l)^2 ||v_l * D_l||^2], "
                     "the keys apart from the values and v_l from its later shrinks, at their lag (cross "
                     "terms l != l' carry E[k_l] = 0)",
                     sp.Sum(item_noise(lag), (lag, 0, T - 1)) - item_noise(tau),
                     alpha**2 / d_k * ((1 - g**T) / (1 - g) - g**tau)).subs(f, 1 / rho - 1)
    snr = signal / noise  # kept in powers of rho: simplified, (d_v^2 (d_v + 2))^T overflows at large T
    der.result("snr", snr)
    der.result("snr_limit", d_k * rho**tau / (1 / (1 - rho) - rho**tau))
    hebbian = signal_noise("sphere").results["snr"].subs(n, T)
    der.result("hebbian_snr", der.step("alpha -> 0: no decay, the SNR of T Hebbian pairs (capacity chapter)",
                                       sp.Limit(snr, alpha, 0), hebbian))
    i = sp.Symbol("i", integer=True, positive=True)
    # E||k||^2 = sum_i E[k_i^2]: a sphere key's squared coordinate has the law B of the squared cosine
    key_square = sp.Sum(stats.E(sphere_squared_cosine(d_k), evaluate=False), (i, 1, d_k))
    rising = der.step("from S_0 = 0, E||S_T||_F^2 = alpha^2 sum_{l<T} E[||k_l||^2 ||v_l * D_l||^2] at lag l, "
                      "the keys apart from the values and v_l from its later shrinks (cross terms carry "
                      "E[k_l . k_m] = 0): it rises to the stationary value",
                      sp.Sum(alpha**2 * apart.subs({of_keys: key_square,
                                                    of_values: value_power(decay_at(lag))}), (lag, 0, T - 1)),
                      alpha**2 * (1 - g**T) / (1 - g))
    stationary = der.step("the stationary E||S||_F^2: T -> infinity (rho < 1)", sp.Limit(rising, T, sp.oo),
                          alpha**2 / (1 - g))
    der.result("norm2", sp.simplify(sp.factor(stationary.subs(f, 1 / rho - 1))))
    norm2_T = rising.subs(f, 1 / rho - 1)
    der.result("norm2_T", norm2_T)
    w, m = sp.Symbol("w", positive=True), sp.Symbol("m", nonnegative=True, integer=True)
    high = 2 * (d_v + 2) / 3
    der.inequality("rho < 1 for 0 < alpha < 2 (d_v + 2)/3: "
                   "1 - rho = alpha (2 (d_v + 2) - 3 alpha)/(d_v (d_v + 2)) "
                   "> 0 (alpha = 2 (d_v + 2)/(3 (1 + w)), w > 0)", rho.subs(alpha, high / (1 + w)), 1,
                   certificate=(1 - rho).subs(alpha, high / (1 + w)))
    der.inequality("rho >= 0: rho = (1 - alpha/d_v)^2 + 2 alpha^2 (d_v - 1)/(d_v^2 (d_v + 2)) (d_v = 1 + m)",
                   0, rho.subs(d_v, 1 + m),
                   certificate=(1 - alpha / (1 + m))**2 + 2 * alpha**2 * m / ((1 + m)**2 * (3 + m)))
    der.result("alpha_oja_high", high)
    # the classical rule: y = x w, dw = alpha y (x - y w); input covariance diag(l1, l2), l1 > l2 > 0
    l1, l2 = sp.symbols("lambda1 lambda2", positive=True)
    w1, w2 = sp.symbols("w1 w2", real=True)
    C, w = sp.diag(l1, l2), sp.Matrix([w1, w2])
    drift = C * w - (w.T * C * w)[0] * w  # E[y x - y^2 w]
    points = sp.solve(list(drift), [w1, w2], dict=True)
    der.confirm("classical Oja: the fixed points of E[dw] are 0, +-e1, +-e2 (unit eigenvectors)",
                _points(points, [w1, w2]), _points([(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]))
    J = drift.jacobian(w)
    x = sp.Symbol("x")
    der.step("classical Oja: at the top eigenvector e1 the Jacobian's eigenvalues are -2 lambda1 and "
             "lambda2 - lambda1, both negative: stable", J.subs({w1: 1, w2: 0}).charpoly(x).as_expr(),
             sp.expand((x + 2 * l1) * (x - (l2 - l1))))
    der.step("classical Oja: at e2 they are -2 lambda2 and lambda1 - lambda2 > 0: unstable",
             J.subs({w1: 0, w2: 1}).charpoly(x).as_expr(), sp.expand((x + 2 * l2) * (x - (l1 - l2))))
    y = sp.Symbol("y", real=True)
    kk = sp.Matrix([sp.symbols("x1:4", real=True)])
    col = sp.Matrix(sp.symbols("u1:4", real=True))
    classical = col + alpha * y * (kk.T - y * col)
    der.step("eq 24 with d_v = 1 and the value replaced by the response y = k S is the classical rule",
             (col + alpha * (kk.T * y - col * y**2)), classical)
    return der


@lru_cache(maxsize=None)
def bcm() -> Derivation:
    """Eq 26 with the running-average threshold ``theta_i = b theta_{i-1} + (1 - b) v_i``
    (``b = theta_decay``, ``theta_0 = 0``) on a stream of tokens: token ``j`` comes with
    probability ``p`` at every step, has a one-hot key and a value vector whose ``d_v`` entries
    are independent uniform on (0, 1) (non-negative activities), drawn once per token type.

    The association strength of token ``j`` is ``<k_j S, v_j> / alpha``; each occurrence at step
    ``i`` changes it by ``sum_c v_jc^2 (v_jc - theta_ic)``. Results: ``drift_given_v`` (the mean change
    per occurrence of a token whose activities are ``v`` on every coordinate) and its stationary form
    ``drift_given_v_stationary``, ``drift`` (averaged over the token's random activities and the
    occurrences in a stream of ``T`` steps), ``drift_stationary`` (``T -> infinity``), and the
    moments ``m1, m2, m3`` of an activity."""
    der = Derivation("BCM rule")
    x = stats.Uniform("x", 0, 1)
    m1 = der.step("E[x] for an activity x ~ U(0, 1)", stats.E(x, evaluate=False), sp.Rational(1, 2))
    m2 = der.step("E[x^2]", stats.E(x**2, evaluate=False), sp.Rational(1, 3))
    m3 = der.step("E[x^3]", stats.E(x**3, evaluate=False), sp.Rational(1, 4))
    X, Y = sp.symbols("X Y", nonnegative=True)
    der.inequality("Cov(x, x^2) >= 0 for any non-negative activity: E[(X - Y)(X^2 - Y^2)] >= 0 "
                   "for independent copies, as (X - Y)^2 (X + Y) >= 0",
                   0, (X - Y) * (X**2 - Y**2), certificate=(X - Y) ** 2 * (X + Y))
    i, s = sp.symbols("i s", integer=True, positive=True)
    e = sp.Symbol("e", positive=True)  # theta_decay = 1/(1 + e), in (0, 1)
    b = 1 / (1 + e)
    v = sp.Symbol("v", positive=True)  # the token's activity on one coordinate
    comes = stats.Bernoulli("A", p)  # the stream: token j at a step, independently at every step
    other = stats.Uniform("x_o", 0, 1)  # else another token, its activity an independent U(0, 1) draw
    mu = der.step("the mean activity at a step: token j (activity v) with probability p, else another token",
                  stats.E(comes * v + (1 - comes) * other, evaluate=False), p * v + (1 - p) * m1)
    mean_theta = der.step("E[theta_i | token j at step i]: the running average unrolled (theta_0 = 0) is "
                          "(1 - b) v plus sum_{u=1}^{i-1} (1 - b) b^u mu",
                          (1 - b) * v + sp.Sum((1 - b) * b**s * mu, (s, 1, i - 1)),
                          (1 - b) * v + b * (1 - b ** (i - 1)) * mu)
    given = der.step("eq 26, coordinate c, occurrence at step i: "
                     "E[v^2 (v - theta_i) | v] = v^2 (v - E[theta_i | v])",
                     v**2 * (v - mean_theta), v**2 * (b * v - b * (1 - b ** (i - 1)) * mu))
    at_step = der.step("an occurrence falls on step i with probability p / (p T): every step is as likely",
                       p / sp.Sum(p, (i, 1, T)), 1 / T)
    given_T = der.step("mean over the steps 1..T", sp.Sum(given * at_step, (i, 1, T)),
                       v**2 * (b * v - b * (1 - (1 - b**T) / ((1 - b) * T)) * mu))
    der.result("drift_given_v", (d_v * given_T).subs(e, (1 - theta_decay) / theta_decay))
    given_stationary = der.step("T -> infinity, given the activity: b (1 - p) v^2 (v - E x), negative for an "
                                "activity below the mean activity E x = 1/2, whatever the frequency p < 1",
                                sp.Limit(given_T, T, sp.oo), v**2 / (1 + e) * (1 - p) * (v - m1))
    der.result("drift_given_v_stationary",
               (d_v * given_stationary).subs(e, (1 - theta_decay) / theta_decay))
    step_drift = der.step("averaged over the token's activities v ~ U(0, 1), d_v coordinates",
                          d_v * stats.E(given.subs(v, x), evaluate=False),
                          d_v * (b * m3 - b * (1 - b ** (i - 1)) * (p * m3 + (1 - p) * m1 * m2)))
    drift = der.step("mean over the steps 1..T",
                     sp.Sum(step_drift * at_step, (i, 1, T)),
                     d_v * (b * m3 - b * (1 - (1 - b**T) / ((1 - b) * T)) * (p * m3 + (1 - p) * m1 * m2)))
    drift = drift.subs(e, (1 - theta_decay) / theta_decay)
    der.result("drift", drift)
    b = theta_decay
    stationary = der.step("T -> infinity (b < 1)", sp.Limit(drift.subs(b, 1 / (1 + e)), T, sp.oo),
                          d_v / (1 + e) * (1 - p) * (m3 - m1 * m2)).subs(e, (1 - b) / b)
    der.result("drift_stationary", stationary)
    der.inequality("on average over a token's random activities the stationary drift is positive for every "
                   "p < 1 (Cov(x, x^2) > 0); a given token's sign is that of its activities against E x",
                   0, stationary.subs(p, 1 - sp.Symbol("q", positive=True)))
    der.result("m1", m1)
    der.result("m2", m2)
    der.result("m3", m3)
    return der


@lru_cache(maxsize=None)
def bcm_classical() -> Derivation:
    """The classical BCM rule beside eq 26: the activity is computed from the input, ``y = w . x``,
    and the threshold is ``E[y^2]``. For two orthonormal inputs of probabilities ``p`` and
    ``1 - p`` the selective fixed points are stable (the rarer input's response is larger) and
    the non-selective one is a saddle."""
    der = Derivation("classical BCM rule")
    # two orthonormal inputs x1, x2: the weights' responses to them are y_j = w . x_j, and
    # dw = y (y - theta) x for the input x that comes
    y1, y2 = sp.symbols("y1 y2", real=True)
    pp = sp.Symbol("p", positive=True)
    first = stats.Bernoulli("B", pp)  # 1: input x1 comes (probability p), 0: input x2
    y = first * y1 + (1 - first) * y2  # the response to the input that came
    mean_y2 = der.step("E[y^2], input x1 coming with probability p and x2 otherwise",
                       stats.E(y**2, evaluate=False), pp * y1**2 + (1 - pp) * y2**2)
    theta = der.assume("the threshold is E[y^2]: it adapts faster than the weights",
                       sp.Eq(sp.Function("theta")(y1, y2), mean_y2))
    F = der.step("the mean drift of (y1, y2): E[y (y - theta)] over the times each input comes",
                 sp.Matrix([stats.E(first * y * (y - theta), evaluate=False),
                            stats.E((1 - first) * y * (y - theta), evaluate=False)]),
                 sp.Matrix([pp * y1 * (y1 - theta), (1 - pp) * y2 * (y2 - theta)]))
    points = sp.solve(list(F), [y1, y2], dict=True)
    der.confirm("classical BCM: fixed points (0,0), (1/p, 0), (0, 1/(1-p)), (1, 1)",
                _points(points, [y1, y2]), _points([(0, 0), (1 / pp, 0), (0, 1 / (1 - pp)), (1, 1)]))
    J = F.jacobian([y1, y2])
    x = sp.Symbol("x")
    der.step("classical BCM: at the selective point (1/p, 0) the Jacobian's eigenvalues are -1 and "
             "-(1 - p)/p, both negative: stable (the rarer input's selective response 1/p is larger)",
             J.subs({y1: 1 / pp, y2: 0}).charpoly(x).as_expr(), sp.expand((x + 1) * (x + (1 - pp) / pp)))
    q = sp.Symbol("q", positive=True)  # 1 - p
    det = der.step("classical BCM: det J at the non-selective point (1, 1) = -p (1 - p)",
                   sp.factor(J.subs({y1: 1, y2: 1}).det()), -pp * (1 - pp))
    der.inequality("the eigenvalues at (1, 1) have product -p (1 - p) < 0 (p = 1/(1 + q)): a saddle, "
                   "unstable", det.subs(pp, 1 / (1 + q)), 0)
    return der
