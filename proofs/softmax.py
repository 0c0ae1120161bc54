"""Beyond linear attention (the limitation the paper names in section 6.6): softmax retrieval and
positive feature maps, derived for random unit keys and values.

Softmax retrieval reads ``r = sum_j w_j v_j`` with ``w = softmax(beta q . k)``. Every probe here is
a unit vector independent of the other stored keys, so its cosine ``c`` with a distractor key has
the sphere law (``c^2 ~ Beta(1/2, (d_k-1)/2)``, density proportional to ``(1-c^2)^((d_k-3)/2)``);
the one function every softmax result needs is that law's moment generating function
``M(t) = E[exp(t c)]``. The mean-field (Gaussian) approximation replaces it by
``exp(t^2/(2 d_k))``, the law of ``c ~ N(0, 1/d_k)``.

Feature-map linear attention reads ``r = sum_j (phi(q) . phi(k_j)) v_j`` with pre-activation keys
``x ~ N(0, I_d)`` (unit variance per coordinate) and ``phi`` one of ``elu + 1``, ReLU and DPFP
(Schlag, Irie, Schmidhuber 2021, with nu = 1).
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp
from sympy import stats

from pavlov_theory.derivation import Derivation

from .capacity import signal_noise
from .vectors import d_k, n

beta = sp.Symbol("beta", positive=True)
t = sp.Symbol("t", positive=True)
s = sp.Symbol("s", real=True)
kappa = sp.Symbol("kappa", positive=True)
delta = sp.Symbol("delta", positive=True)
sigma2 = sp.Symbol("sigma2", positive=True)
D = sp.Symbol("D", positive=True)  # Euclidean distance between probe and stored key (unit vectors)
D_lo = sp.Symbol("D_lo", positive=True)
m = sp.Symbol("m", positive=True, integer=True)  # feature dimension
c = sp.Symbol("c", real=True)


def cosine_density() -> sp.Expr:
    """Density of the cosine of two independent uniform unit vectors in ``d_k`` dimensions."""
    norm = sp.gamma(d_k / 2) / (sp.sqrt(sp.pi) * sp.gamma((d_k - 1) / 2))
    return norm * (1 - c**2) ** ((d_k - 3) / 2)


def mgf_expr(arg: sp.Expr) -> sp.Expr:
    """``E[exp(arg c)]`` for the sphere cosine law, as the integral over its density (evaluated
    numerically by quadrature)."""
    return sp.Integral(sp.exp(arg * c) * cosine_density(), (c, -1, 1))


def _series(arg: sp.Expr, terms: int) -> sp.Expr:
    k = sp.Symbol("k", integer=True, nonnegative=True)
    return sp.Sum((arg**2 / 4) ** k / (sp.factorial(k) * sp.rf(d_k / 2, k)), (k, 0, terms - 1)).doit()


@lru_cache(maxsize=None)
def cosine_mgf() -> Derivation:
    """The moment generating function of the sphere cosine law and its mean-field form.

    Its even moments are those of ``B ~ Beta(1/2, (d_k-1)/2)``: ``E[c^(2k)] = (1/2)_k/(d_k/2)_k``
    (rising factorials), odd ones vanish by symmetry; term by term, ``t^(2k) E[c^(2k)]/(2k)!`` is
    ``(t^2/4)^k / (k! (d_k/2)_k)``, so ``M(t) = 0F1(; d_k/2; t^2/4)``. Its cumulant expansion
    ``log M = t^2/(2 d_k) - t^4/(4 d_k^2 (d_k+2)) + O(t^6)`` shows the mean-field (Gaussian) form
    ``exp(t^2/(2 d_k))`` and its first correction: the mean field is good while
    ``t^4 / d_k^3`` is small.

    Results: ``mgf`` (of ``t``), ``mean_field_mgf``, ``log_mgf_quartic`` (the expansion to t^4)."""
    der = Derivation("moment generating function of the cosine of random unit vectors")
    B = stats.Beta("B", sp.Rational(1, 2), (d_k - 1) / 2)
    even = [der.step(f"E[c^{2 * k}] = E[B^{k}] = (1/2)_{k} / (d_k/2)_{k}", stats.E(B**k, evaluate=False),
                     sp.rf(sp.Rational(1, 2), k) / sp.rf(d_k / 2, k)) for k in (1, 2, 3)]
    k = sp.Symbol("k", integer=True, nonnegative=True)
    der.step("t^(2k) E[c^(2k)]/(2k)! = (t^2/4)^k / (k! (d_k/2)_k): M(t) = 0F1(; d_k/2; t^2/4)",
             t ** (2 * k) / sp.factorial(2 * k) * sp.rf(sp.Rational(1, 2), k) / sp.rf(d_k / 2, k),
             (t**2 / 4) ** k / (sp.factorial(k) * sp.rf(d_k / 2, k)))
    for size in (3, 5):
        der.confirm(f"the integral over the cosine density equals 0F1(; d_k/2; t^2/4) at d_k = {size}",
                    sp.simplify(mgf_expr(t).subs(d_k, size).doit()),
                    sp.hyperexpand(sp.hyper([], [sp.Rational(size, 2)], t**2 / 4)))
    quartic = der.step("log M(t) to order t^4, from the series",
                       sp.series(sp.log(_series(t, 3)), t, 0, 6).removeO(),
                       t**2 / (2 * d_k) - t**4 / (4 * d_k**2 * (d_k + 2)))
    c = sp.Symbol("c", real=True)
    normal = der.assume("the mean field of appendix A.1.1: the cosine taken as normal with its exact "
                        "variance 1/d_k", sp.Eq(sp.Function("p")(c),
                                                stats.density(stats.Normal("c", 0, sp.sqrt(even[0])))(c)))
    mean_field = der.step("its moment generating function, E[exp(t c)] under that law",
                          sp.Integral(sp.exp(t * c) * normal, (c, -sp.oo, sp.oo)), sp.exp(t**2 / (2 * d_k)))
    der.result("mgf", mgf_expr(t))
    der.result("mean_field_mgf", mean_field)
    der.result("log_mgf_quartic", quartic)
    return der


def cosine_taken_gaussian(der: Derivation) -> sp.Expr:
    """Record in ``der`` the mean field of :func:`cosine_mgf`, the cosine taken as ``N(0, 1/d_k)``,
    and return the moment generating function it gives there (``mean_field_mgf``, of ``t``)."""
    return der.assume("mean field: the cosine taken as N(0, 1/d_k), so M(t) is that normal's moment "
                      "generating function (derived with the cosine law)",
                      sp.Eq(sp.Function("M")(t), cosine_mgf().results["mean_field_mgf"]))


@lru_cache(maxsize=None)
def snr() -> Derivation:
    """SNR of the unnormalised softmax read-out (the attention numerator) for a unit probe at cosine
    ``s`` with the stored key ``k_m`` (``s = 1``: the stored key itself), ``n - 1`` distractors,
    values on the unit sphere.

    The quantity is a choice: the project's SNR (expected signal power over expected noise power)
    of the read-out ``sum_j exp(beta q . k_j) v_j`` before it is divided by the normaliser. Its
    signal is ``exp(beta s) v_m`` (power ``exp(2 beta s)``), its noise
    ``sum_{j != m} exp(beta c_j) v_j`` with expected power ``(n - 1) M(2 beta)`` (the cross terms
    carry ``E[v_i . v_j] = 0``): exact. The normalised read-out's SNR ``E[w_m^2] / E[sum_{j != m}
    w_j^2]`` differs, since the normaliser is random and shared by signal and noise; it has no
    closed form here and is measured beside this one. The mean-field form puts the Gaussian ``M``;
    the two differ by the factor ``exp(4 beta^4/(d_k^2 (d_k+2)) + ...)`` (the quartic cumulant at
    ``t = 2 beta``).

    Regime: the mean ``E[exp(2 beta c)]`` is carried by cosines near the tilted mean ``2 beta/d_k``;
    ``n - 1`` distractors reach cosines up to about ``sqrt(2 log(n-1)/d_k)``, so a typical retrieval
    sees that mean only while ``2 beta^2/d_k < log(n-1)`` (``rem_ratio < 1``). Beyond it the noise is
    dominated by its largest terms (the random-energy-model regime): the mean is carried by rare
    draws and stops describing a typical retrieval.

    Results: ``snr``, ``mean_field_snr``, ``mean_field_correction`` (the leading term of
    ``log(snr/mean_field_snr)``), ``linear_snr`` (d_k/(n-1), the Hebbian memory's, also an
    unnormalised read-out), ``uniform_snr`` (beta -> 0), ``rem_ratio`` and ``beta_rem`` (where it
    reaches 1, solved)."""
    der = Derivation("SNR of the unnormalised softmax read-out")
    mgf = cosine_mgf().results["mgf"]
    j = sp.Symbol("j", integer=True, positive=True)
    M2 = sp.Symbol("M(2 beta)", positive=True)  # E[exp(2 beta c)], the sphere law's (cosine_mgf)
    noise = der.step("E||noise||^2 = sum_{j != m} E[exp(2 beta c_j)] E||v_j||^2 (the cross terms carry "
                     "E[v_i . v_j] = 0)", sp.Sum(M2, (j, 1, n - 1)), (n - 1) * M2)
    der.result("snr", (sp.exp(2 * beta * s) / noise).subs(M2, mgf.subs(t, 2 * beta)))
    gaussian = cosine_taken_gaussian(der)
    mean_field = der.step("mean field: M(2 beta) -> exp(2 beta^2/d_k)",
                          sp.exp(2 * beta * s) / ((n - 1) * gaussian.subs(t, 2 * beta)),
                          sp.exp(2 * beta * s - 2 * beta**2 / d_k) / (n - 1))
    der.result("mean_field_snr", mean_field)
    der.step("beta -> 0: a uniform average, SNR 1/(n-1) (mean field)", sp.Limit(mean_field, beta, 0),
             1 / (n - 1))
    tilted = der.step("the tilted mean of the cosine under exp(2 beta c), mean field: d/dt log M at 2 beta",
                      sp.Subs(sp.Derivative(sp.log(gaussian), t), t, 2 * beta),
                      2 * beta / d_k)
    largest = der.assume("the largest of the n - 1 cosines is typically sqrt(2 log(n - 1)/d_k), the extreme "
                         "value of as many normals of variance 1/d_k",
                         sp.Eq(sp.Symbol("c_max", positive=True), sp.sqrt(2 * sp.log(n - 1) / d_k)))
    rem_ratio = der.result("rem_ratio", tilted**2 / largest**2)
    roots = sp.solve(rem_ratio - 1, beta)
    der.result("beta_rem", next(r for r in roots if not r.could_extract_minus_sign()))
    quartic = cosine_mgf().results["log_mgf_quartic"]
    correction = der.step("log(exact SNR / mean-field SNR) = 2 beta^2/d_k - log M(2 beta): to leading order "
                          "minus the quartic cumulant at t = 2 beta",
                          sp.Add(sp.log(gaussian.subs(t, 2 * beta)), -quartic.subs(t, 2 * beta),
                                 evaluate=False),
                          4 * beta**4 / (d_k**2 * (d_k + 2)))
    der.result("mean_field_correction", correction)
    der.result("linear_snr", signal_noise("sphere").results["snr"])
    der.result("uniform_snr", 1 / (n - 1))
    return der


@lru_cache(maxsize=None)
def capacity() -> Derivation:
    """Mean-field capacity of softmax retrieval by a stored key at ``beta = kappa (d_k - 1)``:
    unit keys at inverse temperature ``kappa (d_k - 1)`` are Ramsauer et al.'s patterns of norm
    ``K sqrt(d_k - 1)`` at their ``beta`` with ``beta K^2 = kappa``.

    With ``R1 = sum_{j != m} exp(beta (c_j - 1))`` and ``R2 = sum_{j != m} exp(2 beta (c_j - 1))``, the
    retrieval error is ``||r - v_m||^2 = (1 - w_m)^2 + sum_{j != m} w_j^2`` up to terms of mean zero,
    that is ``(R1^2 + R2)/(1 + R1)^2``. In the mean field ``R1`` takes its mean
    ``(n-1) exp(-beta) M(beta)`` and ``R2`` is of lower order when ``kappa < 2/3``; the error reaches
    ``delta`` at ``R1 = rho = sqrt(delta)/(1 - sqrt(delta))``, so
    ``n - 1 = rho exp(beta) / M(beta)``: with the Gaussian ``M``, ``log(n - 1)`` grows linearly in
    ``d_k`` at the rate ``kappa - kappa^2/2`` (exponential capacity), while a power law
    ``A d_k^p`` has a semi-log growth rate falling like ``1/d_k``.

    The growth law is read off three dimensions ``d, 2d, 4d``: the semi-log rates ``r1`` over
    ``[d, 2d]`` and ``r2`` over ``[2d, 4d]``, and ``q = log2(r2/r1)``: 0 for an exponential law,
    -1 for every power law and -1/2 for ``exp(a sqrt(d))``, so ``q`` between them tells growth faster
    than every power law, and only a narrow interval near 0 an exponential one. Results:
    ``capacity_mf`` (mean-field capacity, sphere ``M``),
    ``gaussian_capacity``, ``rate`` (kappa - kappa^2/2), ``q_mf`` (q of ``capacity_mf`` at
    ``d, 2d, 4d``, a function of ``d_k = d``), ``q_power`` (-1), ``q_stretched`` (-1/2) and
    ``q_exponential`` (0)."""
    der = Derivation("mean-field capacity of softmax retrieval")
    R1, R2 = sp.symbols("R1 R2", positive=True)
    w_m = 1 / (1 + R1)
    error = der.step("(1 - w_m)^2 + sum_{j != m} w_j^2 with w_m = 1/(1 + R1), sum w_j^2 = R2/(1 + R1)^2",
                     (1 - w_m) ** 2 + R2 / (1 + R1) ** 2, (R1**2 + R2) / (1 + R1) ** 2)
    kept = der.assume("mean field: the error without its R2 term, which is of lower order than R1^2 only as "
                      "d_k grows with kappa < 2/3 (r2_over_r1_squared, below, is its size at a point)",
                      sp.Eq(sp.Symbol("epsilon_mf", positive=True),
                            sp.Add(error, -R2 / (1 + R1) ** 2, evaluate=False)))
    at_delta = [r for r in sp.solve(sp.Eq(kept, delta), R1) if r.subs(delta, sp.Rational(1, 4)).is_positive]
    rho = der.step("that error reaches delta at R1 = rho (solved, the positive root)",
                   at_delta[0] if len(at_delta) == 1 else sp.nan, sp.sqrt(delta) / (1 - sp.sqrt(delta)))
    b = kappa * (d_k - 1)
    j = sp.Symbol("j", integer=True, positive=True)
    nn = sp.Symbol("N", positive=True)  # a load
    M1 = sp.Symbol("M(beta)", positive=True)  # E[exp(beta c)], the sphere law's (cosine_mgf)
    mean_sum = lambda label, scale, M: der.step(label, sp.Sum(sp.exp(-scale * beta) * M, (j, 1, nn - 1)),
                                                (nn - 1) * sp.exp(-scale * beta) * M)
    mean_r1 = mean_sum("E[R1] = sum_{j != m} exp(-beta) E[exp(beta c_j)] at load N (c_j i.i.d., sphere law)",
                       1, M1)
    typical = der.assume("mean field: R1 takes its mean", sp.Eq(R1, mean_r1))
    solved = der.step("R1 = rho solved for the load N",
                      sp.solve(sp.Eq(typical, rho), nn)[0], 1 + rho * sp.exp(beta) / M1)
    mgf = cosine_mgf().results["mgf"]
    at_kappa = lambda M: solved.subs(M1, M.subs(t, b)).subs(beta, b)
    cap = der.result("capacity_mf", at_kappa(mgf))
    gaussian = cosine_taken_gaussian(der)
    gauss = der.result("gaussian_capacity", at_kappa(gaussian))
    rate = der.step("Gaussian mean field: the growth rate of log(n - 1) in d_k, as d_k grows",
                    sp.Limit(sp.diff(sp.log(gauss - 1), d_k), d_k, sp.oo), kappa - kappa**2 / 2)
    der.result("rate", rate)
    M2 = sp.Symbol("M(2 beta)", positive=True)  # E[exp(2 beta c)]
    mean_r2 = mean_sum("E[R2] = sum_{j != m} exp(-2 beta) E[exp(2 beta c_j)] at load N, likewise", 2, M2)
    typical_r2 = der.assume("mean field: R2 takes its mean", sp.Eq(R2, mean_r2))
    at_gaussian = lambda e: e.subs({M1: gaussian.subs(t, beta), M2: gaussian.subs(t, 2 * beta)}).subs(beta, b)
    r2_over_r1 = der.step("R2 / R1^2 at their means, with the Gaussian M: exp(beta^2/d_k)/(N - 1)",
                          sp.Mul(at_gaussian(typical_r2), sp.Pow(at_gaussian(typical), -2, evaluate=False),
                                 evaluate=False),
                          sp.exp(b**2 / d_k) / (nn - 1))
    r2_over_r1 = r2_over_r1.subs(nn, gauss)
    der.result("r2_over_r1_squared", r2_over_r1)
    A, p, x = sp.symbols("A p x", positive=True)
    rate_of = lambda f, lo: (sp.log(f(2 * lo)) - sp.log(f(lo))) / lo
    q_power = der.step("a power law A d^p: log2(r2/r1) = -1 for every A, p",
                       sp.log(rate_of(lambda y: A * y**p, 2 * x) / rate_of(lambda y: A * y**p, x), 2), -1)
    expo = lambda y: A * sp.exp(kappa * y)
    q_exp = der.step("an exponential law A exp(a d): log2(r2/r1) = 0",
                     sp.log(rate_of(expo, 2 * x) / rate_of(expo, x), 2), 0)
    stretched = lambda y: A * sp.exp(kappa * sp.sqrt(y))
    q_stretched = der.step("a stretched exponential A exp(a sqrt(d)): log2(r2/r1) = -1/2",
                           sp.log(rate_of(stretched, 2 * x) / rate_of(stretched, x), 2), -sp.Rational(1, 2))
    der.result("q_stretched", q_stretched)
    mf = lambda y: cap.subs(d_k, y) - 1
    der.result("q_mf", sp.log(rate_of(mf, 2 * d_k) / rate_of(mf, d_k), 2))
    der.result("q_power", q_power)
    der.result("q_exponential", q_exp)
    return der


@lru_cache(maxsize=None)
def optimal_beta() -> Derivation:
    """The optimal inverse temperature for a probe ``q = k_m + xi``, ``xi ~ N(0, sigma2 I)``.

    With the stored pair chosen uniformly, ``p(q | j)`` is proportional to
    ``exp(-||q - k_j||^2 / (2 sigma2))``; unit keys make ``||q||^2 + ||k_j||^2`` the same for every
    ``j``, so the posterior is ``softmax(q . k_j / sigma2)``, and the posterior mean
    ``sum_j P(j | q) v_j`` is softmax retrieval at ``beta = 1/sigma2``. The posterior mean has the
    least mean squared error of every read-out of ``q`` (the error splits into the posterior
    variance plus the squared distance to the posterior mean), so ``beta* = 1/sigma2`` at every load.
    Extremes: ``beta -> 0`` gives the uniform average (error ``(n-1)/n``); ``beta -> infinity`` the
    hard nearest-key look-up.

    Results: ``optimal_beta``, ``uniform_error``."""
    der = Derivation("optimal inverse temperature")
    j = sp.Symbol("j", integer=True, positive=True)
    r = sp.Symbol("r", nonnegative=True)  # ||q - k_j||^2
    noise = stats.Normal("xi", 0, sp.sqrt(sigma2))  # the probe q = k_j + xi, xi ~ N(0, sigma2 I)
    z = sp.Symbol("z", real=True)  # one coordinate of q - k_j
    per_coordinate = der.step("log p of one coordinate z of q - k_j: log of the N(0, sigma2) density",
                              sp.log(stats.density(noise)(z)),
                              -z**2 / (2 * sigma2) - sp.log(2 * sp.pi * sigma2) / 2)
    der.step("it is a + b z^2 exactly: its third derivative in z vanishes",
             sp.Derivative(per_coordinate, (z, 3)), 0)
    # over the d_k independent coordinates the z^2 add up to r and the constant comes d_k times
    log_like = per_coordinate.coeff(z, 2) * r + d_k * per_coordinate.subs(z, 0)
    prior = der.assume("the stored pair is drawn uniformly", sp.Eq(sp.Function("prior")(j), 1 / n))
    p = sp.symbols("p1:4", real=True)  # q . k_j for three stored keys (the same steps hold for any n)
    Q = sp.Symbol("Q", positive=True)  # ||q||^2
    joint = [prior.subs(j, index) * sp.exp(log_like.subs(r, Q - 2 * pj + 1)) for index, pj in enumerate(p, 1)]
    soft = [sp.exp(pj / sigma2) / sum(sp.exp(pl / sigma2) for pl in p) for pj in p]
    der.step("posterior P(1 | q) with ||q - k_j||^2 = ||q||^2 - 2 q . k_j + 1 = softmax(q . k / sigma2)_1",
             joint[0] / sum(joint), soft[0])
    # one coordinate of the value under a three-atom posterior: weights P(j | q), values v_j, any read-out f
    w1, w2 = sp.symbols("P1 P2", positive=True)
    post = (w1, w2, 1 - w1 - w2)
    vals = sp.symbols("v1:4", real=True)
    f = sp.Symbol("f", real=True)
    mean = sum(pj * vj for pj, vj in zip(post, vals))
    spread = lambda centre: sum(pj * (vj - centre) ** 2 for pj, vj in zip(post, vals))
    der.inequality("any read-out f of q: E[(v - f)^2 | q] - E[(v - mu)^2 | q] = (mu - f)^2, mu the posterior "
                   "mean (the cross term 2 (mu - f) E[v - mu | q] vanishes), so the posterior mean is least",
                   spread(mean), spread(f), certificate=(mean - f) ** 2)
    g, h = sp.symbols("g h", positive=True)
    weights = lambda gaps: [sp.exp(-beta * x) / sum(sp.exp(-beta * y) for y in gaps) for x in gaps]
    der.step("beta -> 0: every weight tends to the prior 1/n (n = 3 here), as if there were no probe",
             sp.Limit(weights([0, g, h])[0], beta, 0), prior.subs(n, 3))
    der.step("beta -> infinity: the nearest key (gaps g, h > 0 below it) takes all the weight",
             sp.Limit(weights([0, g, h])[0], beta, sp.oo), 1)
    uniform = der.step("beta = 0: E||mean_j v_j - v_m||^2 = 1 - 2/n + sum_j ||v_j||^2 / n^2 (cross terms 0)",
                       1 - 2 / n + sp.Sum(1, (j, 1, n)) / n**2, (n - 1) / n)
    der.result("optimal_beta", 1 / sigma2)
    der.result("uniform_error", uniform)
    return der


@lru_cache(maxsize=None)
def gradient() -> Derivation:
    """The generalisation gradient against the Euclidean distance ``D`` between a unit probe and the
    stored key (``||q - k||^2 = 2 - 2 s``, so ``s = 1 - D^2/2``), and its shape exponent.

    The response along the stored US is ``g(D) = E[r . v_m]``: ``s`` for linear retrieval
    (framework.generalization), and in the mean field
    ``exp(beta s)/(exp(beta s) + (n-1) M(beta))`` for softmax (the distractor sum at its mean). The
    shape is read from the decay ``L(D) = -log(g(D)/g(0))``: Shepard's law ``exp(-a D)`` has
    ``L`` proportional to ``D`` (exponent 1), a Gaussian ``exp(-a D^2)`` to ``D^2`` (exponent 2).
    Both retrievals have exponent 2 as ``D -> 0``; over a decade ``[D_lo, 10 D_lo]`` the exponent is
    the secant ``log10(L(10 D_lo)/L(D_lo))``. In the cosine distance ``u = 1 - s = D^2/2``, which
    is not a metric, unsaturated softmax is exactly exponential.

    Results: ``linear_response``, ``softmax_response`` (mean field), ``linear_exponent``,
    ``softmax_exponent`` (secants over the decade), ``shepard_exponent`` (1), ``gaussian_exponent``."""
    der = Derivation("generalisation gradient against distance")
    cos = 1 - D**2 / 2
    a = sp.Symbol("a", real=True)  # the angle between q and k, in their common plane
    der.step("||q - k||^2 = 2 - 2 s for unit q, k (here q = (cos a, sin a), k = (1, 0)), so s = 1 - D^2/2",
             (sp.cos(a) - 1) ** 2 + sp.sin(a) ** 2, 2 - 2 * sp.cos(a))
    from .framework import generalization
    linear = generalization("sphere").results["response"].subs(s, cos)
    der.result("linear_response", linear)
    distractors = sp.Symbol("Z_distractors", positive=True)
    Z = der.assume("mean field: the distractors' sum of exp(beta c_j) takes its mean (n - 1) M(beta)",
                   sp.Eq(distractors, (n - 1) * cosine_mgf().results["mgf"].subs(t, beta)))
    response = lambda z: sp.exp(beta * cos) / (sp.exp(beta * cos) + z)
    exp_weight = response(Z)
    der.result("softmax_response", exp_weight)
    decay = lambda g: -sp.log(g / g.subs(D, 0))
    lin_decay = decay(linear)
    der.step("linear: L(D) = -log(1 - D^2/2) ~ D^2/2, exponent 2 as D -> 0",
             sp.Limit(sp.log(lin_decay) / sp.log(D), D, 0), 2)
    unsat = sp.Limit(decay(response(distractors)), distractors, sp.oo)
    der.step("unsaturated softmax, the distractors' sum far above exp(beta s) (its limit as that sum "
             "grows): L(D) = beta D^2/2, exactly Gaussian in D", unsat, beta * D**2 / 2)
    der.step("... and exactly exponential in the cosine distance u = D^2/2",
             unsat.subs(D, sp.sqrt(2 * sp.Symbol("u", positive=True))), beta * sp.Symbol("u", positive=True))
    secant = lambda L: sp.log(L.subs(D, 10 * D_lo) / L.subs(D, D_lo), 10)
    der.result("linear_exponent", secant(lin_decay))
    der.result("softmax_exponent", secant(decay(exp_weight)))
    der.result("shepard_exponent", sp.Integer(1))
    der.result("gaussian_exponent", sp.Integer(2))
    return der


# ---------------------------------------------------------------------------- feature maps

x = sp.Symbol("x", real=True)
_PDF = sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi)


def _relu_moment(k: int) -> sp.Expr:
    """``E[relu(x)^k]``, ``x ~ N(0, 1)``, in closed form: half the absolute Gaussian moment,
    ``2^(k/2) Gamma((k+1)/2) / (2 sqrt(pi))`` (checked against the integral in :func:`feature_maps`)."""
    return 2 ** sp.Rational(k, 2) * sp.gamma(sp.Rational(k + 1, 2)) / (2 * sp.sqrt(sp.pi))


def _elu1_moment(k: int) -> sp.Expr:
    """``E[(elu(x) + 1)^k]`` in closed form: the binomial expansion of ``(x + 1)^k`` over ``x > 0``
    (ReLU moments) plus ``E[exp(k x); x < 0] = exp(k^2/2) (1 - erf(k/sqrt 2))/2``."""
    return (sum(sp.binomial(k, i) * _relu_moment(i) for i in range(k + 1))
            + sp.exp(sp.Rational(k * k, 2)) * (1 - sp.erf(k / sp.sqrt(2))) / 2)


def _expect_relu_poly(poly: sp.Expr, pos: list[sp.Symbol], neg: list[sp.Symbol]) -> sp.Expr:
    """E[poly] where ``pos[k] = relu(x_k)``, ``neg[k] = relu(-x_k)``, ``x_k`` i.i.d. N(0, 1):
    a monomial with both ``relu(x_k)`` and ``relu(-x_k)`` is 0; otherwise independent
    coordinates multiply their one-sided moments (by symmetry both sides have the same)."""
    total = sp.Integer(0)
    gens = [*pos, *neg]
    for powers, coeff in sp.Poly(sp.expand(poly), *gens).terms():
        term = coeff
        for a, b in zip(powers[: len(pos)], powers[len(pos):]):
            if a and b:
                term = 0
                break
            term *= _relu_moment(a + b) if a + b else 1
        total += term
    return total


def dpfp_features(dim: int) -> tuple[list[sp.Expr], list[sp.Symbol], list[sp.Symbol]]:
    """DPFP (nu = 1) features of ``dim`` coordinates as products of one-sided ReLUs:
    ``u = [relu(x), relu(-x)]`` (2 dim entries), ``phi_i = u_i u_{i+1 mod 2 dim}``."""
    pos = list(sp.symbols(f"P0:{dim}", nonnegative=True))
    neg = list(sp.symbols(f"N0:{dim}", nonnegative=True))
    u = pos + neg
    return [u[i] * u[(i + 1) % (2 * dim)] for i in range(2 * dim)], pos, neg


MU = sp.symbols("mu1:5", positive=True)  # E[phi(x)^k], k = 1..4, of a coordinatewise map


def _coordinatewise_law(der: Derivation) -> dict[str, sp.Expr]:
    """The SNR law of any map applied coordinate by coordinate (i.i.d. features), raw and centred,
    in terms of its moments ``mu_k = E[phi(x)^k]`` (symbols), ``m`` features."""
    i, j = sp.symbols("i j", integer=True, positive=True)
    m1, m2, m3, m4 = MU
    norm4 = der.step("E||phi||^4 = sum_i (E phi^4 + sum_(l != i) (E phi^2)^2) (the count of the terms; the "
                     "terms themselves are confirmed by brute force on ReLU features below)",
                     sp.Sum(m4 + sp.Sum(m2**2, (j, 1, m - 1)), (i, 1, m)), m * m4 + m * (m - 1) * m2**2)
    cross = der.step("E[(phi . phi')^2] = sum_i ((E phi^2)^2 + sum_(l != i) (E phi)^4): the (E phi)^4 terms "
                     "are the common mode (count of the terms, confirmed below)",
                     sp.Sum(m2**2 + sp.Sum(m1**4, (j, 1, m - 1)), (i, 1, m)), m * m2**2 + m * (m - 1) * m1**4)
    y = sp.Symbol("y", real=True)  # one feature
    powers = sp.symbols("phi1:5", real=True)  # phi^p inside the expectation, p = 1..4
    expanded = lambda k: sp.expand((y - m1) ** k).xreplace({y**p: powers[p - 1] for p in range(1, k + 1)})
    central = lambda k: sp.Subs(expanded(k), powers[:k], MU[:k])  # expand (phi - mu1)^k, then E[phi^p] = mu_p
    var = der.step("centred features phi - mu1: second moment from the raw ones", central(2), m2 - m1**2)
    c3 = der.step("... third", central(3), m3 - 3 * m2 * m1 + 2 * m1**3)
    c4 = der.step("... fourth", central(4), m4 - 4 * m3 * m1 + 6 * m2 * m1**2 - 3 * m1**4)
    as_centred = ((m1, 0), (m2, var), (m3, c3), (m4, c4))
    norm4_c = der.step("centred: the same law with the central moments (mean 0)",
                       sp.Subs(norm4, *zip(*as_centred)), m * c4 + m * (m - 1) * var**2)
    cross_c = der.step("centred: E[((phi - mu1) . (phi' - mu1))^2], the common mode gone (mean 0)",
                       sp.Subs(cross, *zip(*as_centred)), m * var**2)
    limit = der.step("(n - 1) SNR stays bounded as the feature dimension grows: the common mode grows like "
                     "m^2 as the signal does", sp.Limit(norm4 / cross, m, sp.oo), m2**2 / m1**4)
    return {"norm4": norm4, "cross": cross, "norm4_c": norm4_c, "cross_c": cross_c, "limit": limit}


def _confirm_relu_brute_force(der: Derivation, law: dict[str, sp.Expr]) -> None:
    """The coordinatewise law, common mode included, against brute force on ReLU features (mean
    ``1/sqrt(2 pi)``, not 0): every monomial of ``||phi||^4`` and ``(phi . phi')^2`` expanded over
    ``m = 2, 3`` explicit coordinates and averaged with the one-sided Gaussian moments, raw and
    centred."""
    moments = {mu: _relu_moment(k) for k, mu in enumerate(MU, 1)}
    mean = _relu_moment(1)
    for size in (2, 3):
        pos = list(sp.symbols(f"A0:{2 * size}", nonnegative=True))  # relu(x_i) then relu(x'_i)
        neg = list(sp.symbols(f"B0:{2 * size}", nonnegative=True))  # unused: relu(-x) does not occur
        e = lambda poly: _expect_relu_poly(poly, pos, neg)
        for label, shift, norm_key, cross_key in (("raw", 0, "norm4", "cross"),
                                                  ("centred", mean, "norm4_c", "cross_c")):
            phi = [a - shift for a in pos[:size]]
            phi2 = [a - shift for a in pos[size:]]
            der.confirm(f"ReLU {label}, m = {size}: E||phi||^4 by brute force",
                        e(sum(a**2 for a in phi) ** 2), law[norm_key].subs(moments).subs(m, size))
            der.confirm(f"ReLU {label}, m = {size}: E[(phi . phi')^2] by brute force (common mode "
                        f"{'included' if label == 'raw' else 'gone'})",
                        e(sum(a * b for a, b in zip(phi, phi2)) ** 2),
                        law[cross_key].subs(moments).subs(m, size))


def _map_results(der: Derivation, name: str, law: dict[str, sp.Expr], moments: list[sp.Expr]) -> None:
    values = dict(zip(MU, moments))
    at = lambda e: e.subs(values).subs(m, d_k)
    der.result(f"{name}_snr_raw", at(law["norm4"] / ((n - 1) * law["cross"])))
    der.result(f"{name}_snr_centred", at(law["norm4_c"] / ((n - 1) * law["cross_c"])))
    der.result(f"{name}_common_mode_share", at(m * (m - 1) * MU[0] ** 4 / law["cross"]))
    der.result(f"{name}_features", d_k)
    der.result(f"{name}_mean", moments[0])
    der.result(f"{name}_snr_limit", at(law["limit"]) / (n - 1))
    der.result(f"{name}_identity_snr", (d_k + 2) / (n - 1))


@lru_cache(maxsize=None)
def feature_maps() -> Derivation:
    """SNR of feature-map linear attention probed with a stored key, values on the unit sphere.

    ``SNR = E||phi(k)||^4 / ((n-1) E[(phi(k) . phi(k'))^2])`` (signal ``||phi(k_m)||^2 v_m``,
    noise ``sum_{j != m} (phi(k_m) . phi(k_j)) v_j``, the cross terms carrying ``E[v_i . v_j] = 0``).
    A feature mean ``mu != 0`` adds ``sum_(i != l) mu^4``, the common mode, to the noise: it grows
    like ``m^2`` as the signal does, so the SNR stays bounded in the feature dimension ``m``.
    Centring (``phi - mu``, the derived mean) removes it, and the SNR grows like ``m``, as the
    Hebbian memory's ``(d_k + 2)/(n - 1)`` does in ``d_k`` (Gaussian keys).

    For DPFP (``m = 2 d_k`` features, each the product of two one-sided ReLUs of distinct
    coordinates, d_k >= 4) each feature has six partners that share a coordinate (itself, two
    neighbours, three whose product vanishes since ``relu(x) relu(-x) = 0``); the other
    ``m - 6`` are independent of it. The sums are taken over one row with the relu-moment rule and
    confirmed by brute force over every feature at ``d_k = 4, 5``.

    Results per map (``elu1``, ``relu``, ``dpfp``): ``<map>_snr_raw``, ``<map>_snr_centred``,
    ``<map>_common_mode_share`` (share of the raw noise that the mean adds), ``<map>_features``,
    ``<map>_mean``, ``<map>_snr_limit`` and ``<map>_identity_snr`` (the Hebbian SNR at ``d_k = m``)."""
    der = Derivation("feature maps: SNR with a common mode")
    relu = [der.step(f"ReLU: E[relu(x)^{k}] = int_0^oo x^{k} phi(x) dx "
                     f"= 2^({k}/2) Gamma(({k}+1)/2)/(2 sqrt(pi))",
                     sp.Integral(x**k * _PDF, (x, 0, sp.oo)), _relu_moment(k))
            for k in (1, 2, 3, 4)]
    elu = [der.step(f"elu + 1: E[(elu(x) + 1)^{k}] = int_0^oo (x+1)^{k} phi + int_-oo^0 exp({k} x) phi "
                    f"= sum_i C({k}, i) E[relu^i] + exp({k}^2/2) (1 - erf({k}/sqrt 2))/2",
                    sp.Integral((x + 1) ** k * _PDF, (x, 0, sp.oo))
                    + sp.Integral(sp.exp(k * x) * _PDF, (x, -sp.oo, 0)),
                    _elu1_moment(k)) for k in (1, 2, 3, 4)]
    law = _coordinatewise_law(der)
    der.confirm("the identity map (Gaussian keys, moments 0, 1, 0, 3) gives the Hebbian (d_k + 2)/(n - 1)",
                (law["norm4"] / ((n - 1) * law["cross"])).subs(dict(zip(MU, (0, 1, 0, 3)))).subs(m, d_k),
                signal_noise("gaussian").results["snr"])
    _confirm_relu_brute_force(der, law)
    _map_results(der, "relu", law, relu)
    _map_results(der, "elu1", law, elu)
    _dpfp(der)
    return der


def _dpfp(der: Derivation) -> None:
    mu = _relu_moment(1) ** 2
    feats, pos, neg = dpfp_features(6)
    partners = [0, 1, 5, 6, 7, 11]  # for row 0 at d_k = 6: itself, its neighbours, the vanishing three
    independent = 2  # a feature sharing no coordinate with row 0
    e = lambda poly: _expect_relu_poly(poly, pos, neg)
    rows = {}
    for label, f in (("raw", lambda y: y), ("centred", lambda y: y - mu)):
        terms2 = [e(f(feats[0]) * f(feats[p])) ** 2 for p in partners]
        terms4 = [e(f(feats[0]) ** 2 * f(feats[p]) ** 2) for p in partners]
        # row 0's six local partners, computed with the relu-moment rule; the law built from them is
        # checked by brute force over every pair of features at d_k = 4, 5 below
        local2, local4 = sp.nsimplify(sum(terms2)), sp.nsimplify(sum(terms4))
        far2 = sp.nsimplify(e(f(feats[0]) * f(feats[independent])) ** 2)
        far4 = sp.nsimplify(e(f(feats[0]) ** 2 * f(feats[independent]) ** 2))
        cross, norm4 = m * (local2 + (m - 6) * far2), m * (local4 + (m - 6) * far4)
        for dim in (4, 5):
            fs, ps, ns = dpfp_features(dim)
            ee = lambda poly: _expect_relu_poly(poly, ps, ns)
            total2 = sum(ee(f(fs[i]) * f(fs[p])) ** 2 for i in range(2 * dim) for p in range(2 * dim))
            der.confirm(f"DPFP {label}: E[(phi . phi')^2] = m (local + (m - 6) independent), brute force "
                        f"over all features at d_k = {dim}", sp.nsimplify(total2), cross.subs(m, 2 * dim))
            der.confirm(f"DPFP {label}: E||phi||^4 likewise, d_k = {dim}",
                        sp.nsimplify(ee(sum(f(fi) ** 2 for fi in fs) ** 2)), norm4.subs(m, 2 * dim))
        rows[label] = (norm4, cross)
    (norm4, cross), (norm4_c, cross_c) = rows["raw"], rows["centred"]
    der.result("dpfp_snr_raw", (norm4 / ((n - 1) * cross)).subs(m, 2 * d_k))
    der.result("dpfp_snr_centred", (norm4_c / ((n - 1) * cross_c)).subs(m, 2 * d_k))
    der.result("dpfp_common_mode_share", sp.simplify((m * (m - 6) * mu**4 / cross).subs(m, 2 * d_k)))
    der.result("dpfp_features", 2 * d_k)
    der.result("dpfp_mean", mu)
    limit = der.step("DPFP: (n - 1) SNR stays bounded as the feature dimension grows (common mode)",
                     sp.Limit(norm4 / cross, m, sp.oo),
                     sp.simplify(sp.expand(norm4).coeff(m, 2) / sp.expand(cross).coeff(m, 2)))
    der.result("dpfp_snr_limit", limit / (n - 1))
    der.result("dpfp_identity_snr", (2 * d_k + 2) / (n - 1))


FEATURE_MAPS: tuple[str, ...] = ("elu1", "relu", "dpfp")
