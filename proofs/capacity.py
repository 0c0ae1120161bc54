"""Theorem 6 and appendix A.1: signal and noise power of Hebbian retrieval, the average-case SNR
and the linear capacity, derived exactly for each key distribution.

Probing ``S = sum_j k_j^T v_j`` with a stored key ``k_m`` returns
``r = ||k_m||^2 v_m + sum_{j != m} (k_m . k_j) v_j`` (eq 29): signal plus interference.
The paper (eq 33) approximates ``k_m . k_j ~ N(0, 1/d_k)``; here the expectations are exact.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp
from sympy import stats

from pavlov_theory.derivation import Derivation

from .vectors import d_k, d_v, key_moments, n, random_sign, sphere_squared_cosine, uncorrelated_values

snr_min = sp.Symbol("snr_min", positive=True)


@lru_cache(maxsize=None)
def signal_noise(dist: str) -> Derivation:
    """Results ``signal_power``, ``noise_power``, ``snr``, ``raw_power`` (= E||r||^2) and the
    paper's ``paper_snr`` for keys from ``dist`` and values uniform on the unit sphere."""
    keys = key_moments(dist)
    der = Derivation(f"signal and noise power, {dist} keys")
    j, other = sp.symbols("j l", integer=True, positive=True)
    v_norm2 = sp.Integer(1)  # values on the unit sphere
    v_cross = uncorrelated_values(der)
    signal = keys.results["norm4"] * v_norm2  # eq 30: the signal is ||k_m||^2 v_m
    cross = sp.Symbol("E_cjcl")  # E[(k_m.k_j)(k_m.k_l)], multiplied by E[v_j.v_l] = 0
    noise = der.step(
        "P_N = sum_{j != m} E[c_j^2] E||v_j||^2 + sum_{j != l} E[c_j c_l] E[v_j . v_l] (eqs 31-32)",
        sp.Sum(keys.results["cos2"] * v_norm2, (j, 1, n - 1))
        + sp.Sum(sp.Sum(cross * v_cross, (other, 1, n - 2)), (j, 1, n - 1)),
        (n - 1) * keys.results["cos2"])
    snr = sp.simplify(signal / noise)
    paper = (d_k / (n - 1))
    der.result("signal_power", signal)
    der.result("noise_power", noise)
    der.result("snr", snr)
    der.result("raw_power", sp.simplify(signal + noise))
    der.result("paper_snr", paper)
    der.result("snr_over_paper", sp.simplify(snr / paper))
    return der


@lru_cache(maxsize=None)
def average_case(dist: str) -> Derivation:
    """Result ``capacity``: the largest load with ``SNR >= snr_min`` (eqs 34-35), solved from
    the exact SNR; ``paper_capacity`` is eq 35, ``1 + d_k / snr_min``.

    The SNR has the form ``c / (n - 1)``, so one SNR measured at a load ``n0`` fixes the whole
    law and the capacity it implies: result ``capacity_from_snr`` (of the symbols
    ``snr_measured`` and ``n0``). This is the derived ``1/(n-1)`` law evaluated at one measured
    SNR, not an independently measured largest load: its linear growth in ``d_k`` is the law's."""
    snr = signal_noise(dist).results["snr"]
    der = Derivation(f"average-case capacity, {dist} keys")
    solutions = sp.solve(sp.Eq(snr, snr_min), n)
    if len(solutions) != 1:
        raise AssertionError(f"SNR = snr_min has {len(solutions)} solutions in n")
    capacity = solutions[0]
    der.step("SNR(capacity) = snr_min", snr.subs(n, capacity), snr_min)
    excess = sp.Symbol("s", positive=True)  # n = 1 + s, a load of two pairs or more
    der.inequality("SNR decreases in n (d SNR/dn <= 0 at n = 1 + s): SNR > snr_min exactly below capacity",
                   sp.Derivative(snr, n).doit().subs(n, 1 + excess), 0)
    der.step("SNR (n - 1) does not depend on n: one load fixes the law", sp.Derivative(snr * (n - 1), n), 0)
    measured, n0 = sp.symbols("snr_measured n0", positive=True)
    law = measured * (n0 - 1) / (n - 1)  # the SNR law through the measurement (snr_measured at n0)
    from_snr = sp.solve(sp.Eq(law, snr_min), n)[0]
    der.step("the derived SNR at n0, put through that law, gives the derived capacity",
             from_snr.subs(measured, snr.subs(n, n0)), capacity)
    der.result("capacity", capacity)
    der.result("capacity_from_snr", from_snr)
    der.result("paper_capacity", 1 + d_k / snr_min)
    der.result("capacity_over_paper_excess", sp.simplify((capacity - 1) / (d_k / snr_min)))
    return der


delta = sp.Symbol("delta", positive=True)
epsilon = sp.Symbol("epsilon", positive=True)


@lru_cache(maxsize=None)
def worst_case(dist: str) -> Derivation:
    """Appendix A.1.3 step by step: Markov's inequality for one item (eq 36), the union bound
    over the ``n`` items (eq 37), the capacity it allows (eq 38), its large-``d_k`` form (eq 39)
    and the growth exponent that form implies.

    Markov is proved pointwise for the noise power ``X >= 0``: ``1[X >= delta] <= X / delta`` on
    ``X = delta + t`` and on ``0 <= X < delta``; eq 36 follows by taking expectations, written as
    sums over outcomes with probabilities ``p_k >= 0`` (monotonicity: the expected slack is a sum
    of non-negative terms), and ``E[X] = P_N``. The union bound is proved pointwise too (the
    indicator that some item fails is at most the number ``I`` of items that fail), then in
    expectation, and ``E[I] = sum_m P(F_m)`` is at most ``n`` Markov bounds (eq 37).

    Results: ``markov`` (bound on P(F_m)), ``union`` (bound on P(any failure)), ``capacity``
    (largest real n with union <= epsilon), ``paper_capacity`` = sqrt(eps delta d_k),
    ``exponent``, the limit of log capacity / log d_k, and ``mean_noise_load``, the load where
    the mean noise power reaches ``delta``."""
    noise = signal_noise(dist).results["noise_power"]
    der = Derivation(f"worst-case capacity, {dist} keys")
    t, x = sp.Symbol("t", nonnegative=True), sp.Symbol("X", nonnegative=True)
    der.inequality("Markov, pointwise where X = delta + t >= delta: 1[X >= delta] = 1 <= X / delta",
                   1, (delta + t) / delta)
    der.inequality("Markov, pointwise where 0 <= X < delta: 1[X >= delta] = 0 <= X / delta", 0, x / delta)
    # Expectations as sums over outcomes k with probabilities p_k >= 0. At outcome k the noise power
    # is x_k and the pointwise bound leaves the slack s_k = x_k / delta - 1[x_k >= delta] >= 0.
    k, outcomes = sp.Symbol("k", integer=True, positive=True), sp.Symbol("K", integer=True, positive=True)
    p, xs, s = (sp.IndexedBase(name, nonnegative=True) for name in ("p", "x", "s"))
    over = lambda e: sp.Sum(e, (k, 1, outcomes))
    expected = der.inequality("Markov, taking expectations (E is monotone): P(X >= delta) = E[X/delta - s] "
                              "<= E[X/delta], the difference E[s] >= 0",
                              over(p[k] * (xs[k] / delta - s[k])), over(p[k] * xs[k] / delta),
                              certificate=over(p[k] * s[k]))
    mean = der.step("E[X / delta] = E[X] / delta (linearity)", expected, over(p[k] * xs[k]) / delta)
    markov = der.step("eq 36: E[X] is the noise power P_N (eqs 31-32)",
                      sp.Subs(mean, over(p[k] * xs[k]), noise), noise / delta)
    der.result("markov", markov)
    extra, indicators = sp.Symbol("j", nonnegative=True, integer=True), sp.Symbol("I", nonnegative=True)
    der.inequality("union, pointwise when c = 1 + j >= 1 items fail: 1[any fails] = 1 <= c", 1, 1 + extra)
    der.inequality("union, pointwise when no item fails: 1[any fails] = 0 <= I, the sum of indicators",
                   0, indicators)
    # at outcome k, I_k failing items and the slack u_k = I_k - 1[any fails] >= 0
    count, u = sp.IndexedBase("I", nonnegative=True), sp.IndexedBase("u", nonnegative=True)
    der.inequality("union, taking expectations: P(any fails) = E[I - u] <= E[I] = sum_m P(F_m) (linearity)",
                   over(p[k] * (count[k] - u[k])), over(p[k] * count[k]), certificate=over(p[k] * u[k]))
    m = sp.Symbol("m", integer=True, positive=True)
    slack = sp.IndexedBase("t", nonnegative=True)  # t_m = Markov bound - P(F_m) >= 0, by eq 36
    bounds = der.inequality("eq 37: sum_m P(F_m) = sum_m (Markov bound - t_m) <= the sum of n Markov bounds",
                            sp.Sum(markov - slack[m], (m, 1, n)), sp.Sum(markov, (m, 1, n)),
                            certificate=sp.Sum(slack[m], (m, 1, n)))
    union = der.step("the n Markov bounds add up", bounds, n * markov)
    der.result("union", union)
    roots = [r for r in sp.solve(sp.Eq(union, epsilon), n) if r.subs({d_k: 1, delta: 1, epsilon: 1}) > 0]
    if len(roots) != 1:
        raise AssertionError("eq 38 should have one positive root")
    capacity = der.result("capacity", roots[0])
    der.step("eq 38: the union bound equals epsilon at the capacity", union.subs(n, capacity), epsilon)
    paper = der.result("paper_capacity", sp.sqrt(epsilon * delta * d_k))
    der.step("eq 39: capacity / sqrt(eps delta d_k) -> 1 as d_k grows",
             sp.Limit(capacity / paper, d_k, sp.oo), 1)
    exponent = der.step("growth exponent: log capacity / log d_k -> 1/2 as d_k grows",
                        sp.Limit(sp.log(capacity) / sp.log(d_k), d_k, sp.oo), sp.Rational(1, 2))
    der.result("exponent", exponent)
    load = sp.solve(sp.Eq(noise, delta), n)
    if len(load) != 1:
        raise AssertionError("the mean noise power should reach delta at one load")
    der.step("the mean noise power reaches delta at this load", sp.Subs(noise, n, load[0]), delta)
    der.result("mean_noise_load", load[0])
    return der


@lru_cache(maxsize=None)
def concentration() -> Derivation:
    """The law of the noise power ``X = ||sum_{j != m} c_j v_j||^2`` for sphere keys and values.

    Given the probe, the cosines ``c_j`` are i.i.d. with ``c_j^2 ~ Beta(1/2, (d_k-1)/2)``. Given
    them, the noise vector is close to Gaussian with covariance ``(A/d_v) I``, ``A = sum c_j^2``.
    So ``X ~ A * Q/d_v`` with ``Q ~ chi2(d_v)`` and ``A`` a Gamma matched to its exact mean and
    variance: a product of scaled chi-squares. The derivation checks that this law has the exact
    mean of X and a second moment that agrees with the exact one up to O(1/n).

    Results: ``mean_A``, ``var_A`` (exact), ``shape_A``, ``scale_A`` (Gamma match),
    ``second_moment`` (exact E X^2), ``second_moment_product`` (the product law's) and
    ``failure``: the product law's single-item failure probability ``P(X >= delta)``, an
    integral over ``A`` that is evaluated numerically.

    For the simulation's estimator (one value integrated out exactly): ``coordinate_tail``,
    ``P(t >= x)`` for ``t`` a coordinate of a unit vector uniform on the sphere in ``d_v``
    dimensions, ``t = S sqrt(B)`` with a random sign ``S`` and ``B ~ Beta(1/2, (d_v-1)/2)``.
    """
    der = Derivation("concentration of the noise power, sphere keys")
    B = stats.Beta("B", sp.Rational(1, 2), (d_k - 1) / 2)
    m2 = der.step("E[c^2] = E[B]", stats.E(B, evaluate=False), 1 / d_k)
    m4 = der.step("E[c^4] = E[B^2]", stats.E(B**2, evaluate=False), 3 / (d_k * (d_k + 2)))
    j = sp.Symbol("j", integer=True, positive=True)
    mean_A = der.step("E[A] = sum_j E[c_j^2]", sp.Sum(m2, (j, 1, n - 1)), (n - 1) / d_k)
    var_A = der.step("Var A = sum_j (E[c_j^4] - E[c_j^2]^2), the c_j independent given the probe",
                     sp.Sum(m4 - m2**2, (j, 1, n - 1)), 2 * (n - 1) * (d_k - 1) / (d_k**2 * (d_k + 2)))
    # E X^2 = sum_{ijkl} E[c_i c_j c_k c_l] E[(v_i.v_j)(v_k.v_l)]: the pairings i=j,k=l and
    # i=k,j=l and i=l,j=k survive, with E[(v_i.v_j)^2] = 1/d_v for i != j.
    v_cross2 = key_moments("sphere").results["cos2"].subs(d_k, d_v)
    i = sp.Symbol("i", integer=True, positive=True)
    exact = der.step("E[X^2]: all four indices equal, plus the three pairings of two distinct indices",
                     sp.Sum(m4 + sp.Sum(m2**2 * (1 + 2 * v_cross2), (i, 1, n - 2)), (j, 1, n - 1)),
                     3 * (n - 1) / (d_k * (d_k + 2)) + (n - 1) * (n - 2) * (d_v + 2) / (d_k**2 * d_v))
    Q = stats.ChiSquared("Q", d_v)
    A, X, Q_value = sp.symbols("A X Q", positive=True)
    product_law = der.assume("given the cosines, the noise vector is Gaussian with covariance (A/d_v) I, so "
                             "X = A Q/d_v with Q ~ chi2(d_v) independent of A", sp.Eq(X, A * Q_value / d_v))
    der.step("the product law has the exact mean: E[A] E[Q/d_v] = P_N",
             mean_A * stats.E(Q / d_v, evaluate=False), signal_noise("sphere").results["noise_power"])
    product = der.step("its second moment: E[A^2] E[(Q/d_v)^2]",
                       (var_A + mean_A**2) * stats.E((Q / d_v) ** 2, evaluate=False),
                       (var_A + mean_A**2) * (1 + 2 / d_v))
    der.step("it agrees with the exact second moment as n grows", sp.Limit(product / exact, n, sp.oo), 1)
    shape = der.result("shape_A", sp.simplify(mean_A**2 / var_A))
    scale = der.result("scale_A", sp.simplify(var_A / mean_A))
    # P(A Q/d_v >= delta) = E_A[P(Q >= d_v delta / A)], with A = shape scale u, u ~ Gamma(shape, 1/shape)
    u, k, y = sp.Symbol("u", positive=True), sp.Symbol("k", positive=True), sp.Symbol("y", positive=True)
    unit_gamma = stats.density(stats.Gamma("u", k, 1 / k))(u)
    gamma_law = der.assume("u ~ Gamma(k, 1/k), k = E[A]^2 / Var A, so that A = E[A] u has a Gamma law "
                           "with the exact mean and variance of A", sp.Eq(sp.Function("p_u")(u), unit_gamma))
    log_form = sp.log(gamma_law.subs(sp.gamma(k), sp.exp(sp.loggamma(k))))
    log_density = der.step("its log density, with log Gamma(k) = loggamma(k) (k > 0), the form evaluated",
                           log_form, k * sp.log(k) - sp.loggamma(k) + (k - 1) * sp.log(u) - k * u)
    tail = sp.uppergamma(d_v / 2, y / 2) / sp.gamma(d_v / 2)
    der.step("P(Q >= y) is the upper incomplete gamma: its derivative is minus the chi2(d_v) density",
             sp.Derivative(tail, y), -stats.density(Q)(y))
    der.step("and it is 1 at y = 0", sp.Subs(tail, y, 0), 1)
    (threshold,) = sp.solve(sp.Eq(product_law, delta), Q_value)  # X >= delta iff Q >= d_v delta / A
    scaled = der.assume("A is its mean times u (E[A] = shape scale)", sp.Eq(A, shape * scale * u))
    at = tail.subs(y, threshold.subs(A, scaled))
    der.result("failure", sp.Integral((sp.exp(log_density) * at).subs(k, shape), (u, 0, sp.oo)))
    B_v = sphere_squared_cosine(d_v)  # the squared coordinate t^2 of a uniform unit value
    law = B_v.pspace.distribution
    squared, x = sp.Symbol("u", positive=True), sp.Symbol("x", real=True)
    cdf = sp.betainc_regularized(law.alpha, law.beta, 0, squared)
    # the regularized incomplete beta is the integral of its density from 0 (0 at u = 0 by definition)
    der.step("P(t^2 <= u) is the regularized incomplete beta: its derivative is the law's density",
             sp.Derivative(cdf, squared), stats.density(B_v)(squared))
    # t = S sqrt(t^2) with the sign S independent of t^2 and t^2 > 0 almost surely, so for y > 0
    # P(t >= y) = P(S = 1) P(t^2 >= y^2) and P(t >= -y) = P(S = 1) + P(S = -1) P(t^2 <= y^2)
    sign = random_sign()
    half = sp.Rational(1, 2)
    up = der.step("P(S = 1) from the sign's law", stats.P(sp.Eq(sign, 1), evaluate=False), half)
    down = der.step("P(S = -1) from the sign's law", stats.P(sp.Eq(sign, -1), evaluate=False), half)
    y = sp.Symbol("y", positive=True)
    right = up * (1 - cdf.subs(squared, y**2))
    left = up + down * cdf.subs(squared, y**2)
    tail = (1 - sp.sign(x) * cdf.subs(squared, x**2)) / 2  # the compact form, one expression for all x
    der.step("x = y > 0: P(t >= y) = P(S = 1) P(t^2 >= y^2) is the compact form there",
             right, sp.Subs(tail, x, y))
    der.step("x = -y < 0: P(t >= -y) = P(S = 1) + P(S = -1) P(t^2 <= y^2) is the compact form there",
             left, sp.Subs(tail, x, -y))
    # exact points, the incomplete beta spelled out so that SymPy reads its parameters: as a
    # Gauss hypergeometric at the ends of the support (at u = 1 Gauss's sum checks that it
    # reaches 1), and as the integral of the density for d_v = 3
    der.step("x = 0: the x > 0 branch, P(S = 1) (1 - P(t^2 <= 0)), meets the compact form there",
             sp.Subs(right.rewrite(sp.hyper), y, 0), sp.Subs(tail, x, 0))
    der.step("x = 1: P(t >= 1) = 0, the incomplete beta reaching 1 at the top of the support",
             sp.Subs(tail.rewrite(sp.hyper), x, 1), 0)
    der.step("d_v = 3: the coordinate is uniform on [-1, 1] (Archimedes), P(t >= x) = (1 - x)/2",
             tail.subs(d_v, 3).rewrite(sp.Integral), (1 - x) / 2)
    der.step("P(t >= x) + P(t >= -x) = 1: the coordinate's law is symmetric",
             sp.Add(tail, tail.subs(x, -x), evaluate=False), 1)
    der.result("coordinate_tail", tail)
    der.result("mean_A", mean_A)
    der.result("var_A", var_A)
    der.result("second_moment", sp.simplify(exact))
    der.result("second_moment_product", sp.simplify(product))
    return der


@lru_cache(maxsize=None)
def designed_keys() -> Derivation:
    """What the ``d_k`` limit is about: the rank of a ``d_k``-dimensional key space.

    For any ``n`` unit keys, the Gram matrix ``G = K K^T`` is symmetric with trace ``n`` and rank
    ``r <= d_k``. Its ``r`` nonzero eigenvalues ``lambda_i`` sum to the trace and their squares to
    ``||G||_F^2``; since ``sum_i (lambda_i - trace/r)^2 >= 0``, ``||G||_F^2 >= n^2/r >= n^2/d_k``
    (the frame potential bound). Hence the mean interference power per stored item,
    ``sum_{j != m} G_mj^2`` averaged over ``m``, is at least ``(n - d_k)/d_k`` for every key
    design, with equality for unit-norm tight frames (orthonormal keys when ``n <= d_k``: zero).
    The largest squared coherence is at least the mean of the ``n(n-1)`` off-diagonal ``G_ij^2``,
    hence at least Welch's ``(n - d_k)/(d_k (n - 1))``. Random keys give ``(n - 1)/d_k``.

    Results: ``designed_noise`` (the least mean interference, attained by tight frames, n >= d_k),
    ``welch`` (squared coherence bound), ``random_noise`` and ``random_excess`` (random over
    designed).
    """
    der = Derivation("designed keys and the Welch bound")
    m, i, r = sp.symbols("m i r", integer=True, positive=True)
    trace = der.step("trace G = sum_m ||k_m||^2 = n for unit keys", sp.Sum(1, (m, 1, n)), n)
    lam = sp.IndexedBase("lambda", real=True)  # the r nonzero eigenvalues of G
    total = sp.Sum(lam[i], (i, 1, r))
    frobenius = sp.Sum(lam[i] ** 2, (i, 1, r))  # ||G||_F^2, G symmetric
    keys = sp.Matrix([[1, 0], [sp.Rational(3, 5), sp.Rational(4, 5)], [0, 1]])  # three unit keys in 2-d
    gram = keys * keys.T
    der.confirm("the three keys are unit vectors: diag(G) = 1", gram.diagonal(), sp.ones(1, 3))
    eigen = [e for e, mult in gram.eigenvals().items() for _ in range(mult) if e != 0]
    der.confirm("the nonzero eigenvalues sum to the trace (three unit keys in two dimensions)",
                sum(eigen), gram.trace())
    der.confirm("their squares sum to ||G||_F^2 (same keys)", sum(e**2 for e in eigen),
                sum(gram.applyfunc(lambda g: g**2)))
    mu = sp.Symbol("mu", real=True)
    lower = 2 * mu * total - r * mu**2
    der.inequality("sum_i (lambda_i - mu)^2 >= 0 for every mu: 2 mu sum_i lambda_i - r mu^2 <= ||G||_F^2",
                   lower, frobenius, certificate=sp.Sum((lam[i] - mu) ** 2, (i, 1, r)))
    least_rank = der.step("at mu = trace/r, the eigenvalues summing to the trace n: ||G||_F^2 >= n^2/r",
                          sp.Subs(lower, (mu, total), (trace / r, trace)), n**2 / r)
    gap = sp.Symbol("g", integer=True, nonnegative=True)
    der.inequality("rank r <= d_k: n^2/r is least at r = d_k (at r + g, g >= 0, it is no larger)",
                   least_rank.subs(r, r + gap), least_rank)
    frame_potential = least_rank.subs(r, d_k)  # ||G||_F^2 >= n^2/d_k, the frame potential bound
    interference = lambda potential: (potential - sp.Sum(1, (m, 1, n))) / n  # (||G||_F^2 - sum_m G_mm^2)/n
    designed = der.step("mean over m of sum_{j != m} G_mj^2 = (||G||_F^2 - n)/n, at ||G||_F^2 = n^2/d_k",
                        interference(frame_potential), (n - d_k) / d_k)
    excess = sp.Symbol("e", nonnegative=True)  # ||G||_F^2 = n^2/d_k + e, e >= 0 by the steps above
    der.inequality("every design (||G||_F^2 = n^2/d_k + e) has at least that mean interference",
                   designed, interference(frame_potential + excess))
    pairs = n * (n - 1)
    welch = der.step("so the mean of the n(n-1) off-diagonal G_ij^2, n (mean interference)/(n(n-1)), is >=",
                     sp.Sum(designed, (m, 1, n)) / pairs, (n - d_k) / (d_k * (n - 1)))
    k, top = sp.Symbol("k", integer=True, positive=True), sp.Symbol("M", nonnegative=True)
    count = sp.Symbol("P", integer=True, positive=True)  # the P = n(n-1) off-diagonal entries, n >= 2
    below = sp.IndexedBase("b", nonnegative=True)  # they are M - b_k, M the largest
    der.inequality("Welch: the largest off-diagonal G_ij^2, M, is at least their mean",
                   sp.Sum(top - below[k], (k, 1, count)) / count, top,
                   certificate=sp.Sum(below[k], (k, 1, count)) / count)
    random = signal_noise("sphere").results["noise_power"]
    excess = der.step("random keys exceed the designed minimum by (d_k - 1)/d_k: under one unit of "
                      "interference power",
                      random - designed, (d_k - 1) / d_k)
    der.result("designed_noise", designed)
    der.result("welch", welch)
    der.result("random_noise", random)
    der.result("random_excess", excess)
    return der


@lru_cache(maxsize=None)
def decoding() -> Derivation:
    """Nearest-value decoding, sphere keys and values, probe ``k_m``: score ``s_j = r . v_j``.

    ``s_m = 1 + sum_{i != m} c_i u_i`` with ``u_i = v_i . v_m``; a competitor
    ``s_j = u_j + c_j + sum_{i != m, j} c_i w_i`` with ``w_i = v_i . v_j``. All cosines have mean
    0 and the products' cross terms vanish, so only squared terms survive. The mean-field model
    treats the scores as Gaussian and the competitors as independent given ``r``; then
    ``P(correct) = E_z[Phi((1 + sigma_m z) / sigma_c)^(n-1)]``.

    Results: ``var_right`` (sigma_m^2), ``var_competitor`` (sigma_c^2) and ``error``, the
    mean-field per-item error ``1 - P(correct)``, an integral over ``z`` evaluated numerically.
    """
    der = Derivation("nearest-value decoding, mean-field scores")
    c2 = key_moments("sphere").results["cos2"]
    u2 = c2.subs(d_k, d_v)
    i = sp.Symbol("i", integer=True, positive=True)
    right = der.step("Var s_m = sum_{i != m} E[c_i^2] E[u_i^2]", sp.Sum(c2 * u2, (i, 1, n - 1)),
                     (n - 1) / (d_k * d_v))
    competitor = der.step("Var s_j = E[u^2] + E[c^2] + sum_{i != m, j} E[c_i^2] E[w_i^2]",
                          u2 + c2 + sp.Sum(c2 * u2, (i, 1, n - 2)), 1 / d_v + 1 / d_k + (n - 2) / (d_k * d_v))
    der.result("var_right", right)
    der.result("var_competitor", competitor)
    mean_coord = sp.sympify(key_moments("sphere").results["mean_coord"])  # of keys and values alike
    mean_cosine = lambda d: d * mean_coord.subs(d_k, d) ** 2  # sum over d coordinates of E[x_c] E[y_c]
    centre = der.step("E[s_m] = 1 + sum_{i != m} E[c_i] E[u_i], each cosine's mean sum_c E[x_c] E[y_c]",
                      1 + sp.Sum(mean_cosine(d_k) * mean_cosine(d_v), (i, 1, n - 1)), 1)
    z, s = sp.Symbol("z", real=True), sp.Symbol("s", real=True)
    score = der.assume("mean field: the right value's score is normal, its mean plus sigma_m times z",
                       sp.Eq(sp.Symbol("s_m"), centre + sp.sqrt(right) * z))
    standard = der.assume("with z standard normal", sp.Eq(sp.Function("p_z")(z),
                                                         stats.density(stats.Normal("z", 0, 1))(z)))
    below = der.assume("mean field: given r, the n - 1 competitors' scores are independent normals "
                       "N(0, sigma_c^2), so all lie below s with probability Phi(s / sigma_c)^(n-1)",
                       sp.Eq(sp.Function("P_below")(s),
                             stats.cdf(stats.Normal("s_j", 0, sp.sqrt(competitor)))(s) ** (n - 1)))
    # P(correct) = E_z[P_below(1 + sigma_m z)]; the integrand is below 1e-31 beyond |z| = 12
    correct = sp.Integral(standard * below.subs(s, score), (z, -12, 12))
    der.result("error", 1 - correct)
    return der
