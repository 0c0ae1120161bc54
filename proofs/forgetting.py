"""Definition 7, eq 17: forgetting by exponential decay, derived exactly.

After a stream of ``T`` pairs the memory is ``S_T = sum_j gamma^(T-j) k_j^T v_j``. Probing with
the key of the item stored ``tau`` steps before the end (``tau = 0`` is the newest) returns
``gamma^tau ||k_m||^2 v_m`` (signal) plus ``sum_{j != m} gamma^(age_j) (k_m . k_j) v_j``
(interference), where the ages of the other items run over ``0..T-1`` except ``tau``. With values
independent and uniform on the unit sphere, ``E[v_j . v_l] = sum_i E[v_ji] E[v_li] = 0`` for
``j != l`` (the sphere's mean coordinate is 0), so only the squared coefficients survive, each
weighted by ``gamma^(2 age)``.

What is exact and what is relaxed: the SNR law is exact for every integer ``tau``, ``T`` and
``gamma`` in ``(0, 1]``. The effective capacity is exact too: the real crossing lag is solved
from the SNR, and the count of integer lags under it is its floor plus one. The optimal decay is
solved over real ``gamma`` for an integer lag ``tau``: Descartes' rule of signs gives the
stationarity polynomial exactly one positive root, and its sign at ``tau/(tau+1)`` and at 1 puts
that root between them. The optimal effective capacity (the largest
count some decay achieves) treats the item count as a real number (continuous relaxation) and is
given with its large-``d_k/snr_min`` form.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp
from scipy import optimize
from sympy.utilities.lambdify import implemented_function

from pavlov_theory.derivation import Derivation

from .vectors import d_k, d_v, key_moments, uncorrelated_values

gamma = sp.Symbol("gamma", positive=True)
tau = sp.Symbol("tau", integer=True, nonnegative=True)
T = sp.Symbol("T", integer=True, positive=True)
snr_min = sp.Symbol("snr_min", positive=True)
x = sp.Symbol("x", positive=True)  # x = gamma^2, the decay of the powers
r = sp.Symbol("r", positive=True)  # gamma = 1/(1 + r): a decay strictly below 1
age = sp.Symbol("a", integer=True, nonnegative=True)


@lru_cache(maxsize=None)
def snr(dist: str) -> Derivation:
    """Results ``signal_power``, ``noise_power``, ``snr`` (exact for ``gamma < 1``; its limit at
    ``gamma = 1`` is ``snr_hebbian``, the Hebbian law of ``T - 1`` interfering items),
    ``snr_limit`` (``T -> infinity``, ``gamma < 1``) and ``strength`` (``c = E||k||^4 / E[c^2]``,
    the SNR of one interfering item of weight 1)."""
    keys = key_moments(dist)
    der = Derivation(f"SNR under decay, {dist} keys")
    norm4, cos2 = keys.results["norm4"], keys.results["cos2"]
    i = sp.Symbol("i", integer=True, positive=True)
    unit = key_moments("sphere").results["cos2"].subs(d_k, d_v)
    signal = der.step("signal power: E||gamma^tau ||k_m||^2 v_m||^2 = gamma^(2 tau) E||k||^4 sum_i E[v_i^2], "
                      "E[v_i^2] = 1/d_v for a unit value (a coordinate of a point on the sphere)",
                      gamma ** (2 * tau) * norm4 * sp.Sum(unit, (i, 1, d_v)), gamma ** (2 * tau) * norm4)
    values_cross = uncorrelated_values(der)
    cross = sp.Symbol("E_cjcl")  # E[c_j c_l] for j != l, multiplied by E[v_j . v_l]
    weights = sp.Sum(gamma ** (2 * age), (age, 0, T - 1))
    scaled = der.step("(1 - gamma^2) P_N: the geometric sum over the ages 0..T-1, less the probed age tau "
                      "(the cross terms carry E[v_j . v_l] = 0)",
                      (1 - gamma**2) * (cos2 * (weights - gamma ** (2 * tau)) + cross * values_cross),
                      cos2 * (1 - gamma ** (2 * T) - (1 - gamma**2) * gamma ** (2 * tau)))
    noise = sp.simplify(scaled / (1 - gamma**2))
    decay = sp.simplify(signal / noise)
    strength = sp.simplify(norm4 / cos2)
    hebbian = der.step("gamma -> 1: the Hebbian SNR of T - 1 interfering items (eq 34 with n = T)",
                       sp.Limit(decay, gamma, 1), strength / (T - 1))
    limit = der.step("T -> infinity at gamma = 1/(1 + r) < 1: gamma^(2T) -> 0",
                     sp.Limit(decay.subs(gamma, 1 / (1 + r)), T, sp.oo),
                     (strength * gamma ** (2 * tau) * (1 - gamma**2)
                      / (1 - (1 - gamma**2) * gamma ** (2 * tau))).subs(gamma, 1 / (1 + r)))
    der.result("signal_power", signal)
    der.result("noise_power", noise)
    der.result("strength", strength)
    der.result("snr", decay)
    der.result("snr_hebbian", hebbian)
    der.result("snr_limit", sp.simplify(limit.subs(r, 1 / gamma - 1)))
    return der


@lru_cache(maxsize=None)
def effective_capacity(dist: str = "sphere") -> Derivation:
    """Result ``items``: how many of the most recent items have SNR >= snr_min under decay
    ``gamma < 1`` (exact for integer lags: the real crossing lag ``crossing`` is solved, then
    counted); ``items_limit`` as ``T -> infinity`` (no ``T``: a fixed capacity);
    ``hebbian_items`` at ``gamma = 1`` (all ``T`` items or none)."""
    base = snr(dist)
    der = Derivation(f"effective capacity under decay, {dist} keys")
    decay, c = base.results["snr"], base.results["strength"]
    y = sp.Symbol("y", positive=True)  # y = gamma^(2 tau), the signal weight at the crossing
    nsr = der.step("1/SNR = (sum_a gamma^(2a) / gamma^(2 tau) - 1)/c: gamma^(-2 tau) grows with tau",
                   1 / decay, ((1 - gamma ** (2 * T)) / (1 - gamma**2) / gamma ** (2 * tau) - 1) / c)
    der.inequality("SNR falls with the lag: d(1/SNR)/dtau >= 0 at gamma = 1/(1 + r) < 1, so the items above "
                   "snr_min are the newest ones",
                   0, sp.diff(nsr, tau).subs(gamma, 1 / (1 + r)),
                   certificate=2 * sp.log(1 + r) * (1 + r) ** (2 * tau)
                   * sp.Sum((1 + r) ** (-2 * age), (age, 0, T - 1)) / c)
    roots = sp.solve(sp.Eq(decay.subs(gamma ** (2 * tau), y), snr_min), y)
    if len(roots) != 1:
        raise AssertionError("SNR = snr_min should be linear in gamma^(2 tau)")
    crossing = sp.log(roots[0]) / (2 * sp.log(gamma))
    der.step("SNR at the real crossing lag is snr_min", decay.subs(tau, crossing), snr_min)
    items = sp.Min(T, sp.Max(0, sp.floor(crossing) + 1))
    der.result("crossing", crossing)
    der.result("items", items)
    limit = der.step("T -> infinity at gamma = 1/(1 + r) < 1: the crossing lag no longer depends on T",
                     sp.Limit(crossing.subs(gamma, 1 / (1 + r)), T, sp.oo),
                     (sp.log(snr_min / ((c + snr_min) * (1 - gamma**2))) / (2 * sp.log(gamma)))
                     .subs(gamma, 1 / (1 + r)))
    der.result("crossing_limit", sp.simplify(limit.subs(r, 1 / gamma - 1)))
    der.result("items_limit", sp.Max(0, sp.floor(der.results["crossing_limit"]) + 1))
    # the finite count settles on the limit n = items_limit: the SNR at every lag falls with T, so
    # items(T) = n once T >= n and SNR_T(n) < snr_min, i.e. from T = settle_length on
    n = sp.Symbol("n", integer=True, positive=True)
    z = sp.Symbol("z", positive=True)  # z = gamma^(2T)
    settled = sp.solve(sp.Eq(decay.subs(tau, n).subs(gamma ** (2 * T), z), snr_min), z)
    if len(settled) != 1:
        raise AssertionError("SNR_T(n) = snr_min should be linear in gamma^(2T)")
    length = sp.log(settled[0]) / (2 * sp.log(gamma))
    der.step("SNR at lag n is snr_min at the real stream length T_n = log(1 - (1 - gamma^2) gamma^(2n) "
             "(c + snr_min)/snr_min) / (2 log gamma)", decay.subs(tau, n).subs(T, length), snr_min)
    der.inequality("and falls with T past it: d(1/SNR)/dT >= 0 at gamma = 1/(1 + r) < 1",
                   0, sp.diff(1 / decay.subs(tau, n), T).subs(gamma, 1 / (1 + r)),
                   certificate=2 * sp.log(1 + r) * (1 + r) ** (2 * n - 2 * T + 2) / (c * r * (r + 2)))
    der.result("settle_length", sp.Max(der.results["items_limit"],
                                       sp.floor(length.subs(n, der.results["items_limit"])) + 1))
    der.result("hebbian_items", sp.Piecewise((T, base.results["snr_hebbian"] >= snr_min), (0, True)))
    der.result("saturation_length", sp.solve(sp.Eq(base.results["snr_hebbian"], snr_min), T)[0])
    return der


def _stationary_root(tau_value: float, T_value: float) -> float:
    """The one positive root of the stationarity polynomial ``P(x) = sum_a (a - tau) x^a``, which
    :func:`optimal_decay` proves lies in ``(tau/(tau+1), 1)`` when ``tau < (T - 1)/2``. It is found
    by bracketing the derived numerator ``N(u) = (1 - x)^2 P(x)`` at ``x = tau/(tau+1) + u``
    (``_NUMERATOR``), whose sign is that of ``P`` below 1 and whose value at ``u = 0``,
    ``-T x0^T/(tau+1)``, is a product (no cancellation): negative, or ``-0.0`` once ``x0^T``
    underflows, where the root is ``x0`` to the last bit and the bracketing returns it."""
    numerator = _NUMERATOR[0]
    low = tau_value / (tau_value + 1)
    f = lambda u: float(numerator(u, float(tau_value), float(T_value)))
    if f(0.0) > 0:
        raise ArithmeticError(f"P(tau/(tau+1)) > 0 at tau={tau_value}, T={T_value}: proved < 0")
    # above the root N > 0 up to x = 1, where N has a double zero: step towards 1 until N is positive
    for k in range(1, 60):
        high = (1 - low) * (1 - 2.0**-k)
        if f(high) > 0:
            return low + optimize.brentq(f, 0.0, high, xtol=1e-17, rtol=4 * np.finfo(float).eps)
    raise ArithmeticError(f"no sign change of P in (tau/(tau+1), 1) at tau={tau_value}, T={T_value}")


_NUMERATOR: list = []


@lru_cache(maxsize=None)
def optimal_decay() -> Derivation:
    """The decay that maximises the SNR at lag ``tau`` in a stream of ``T`` (any key law: the
    strength ``c`` only scales the SNR).

    With ``x = gamma^2``, ``SNR = c / h(x)``, ``h(x) = sum_{a != tau} x^(a - tau)``. Results:
    ``gamma_limit = sqrt(tau/(tau+1))`` (``T -> infinity``, solved in closed form and proved a
    maximum by the sign of dh/dx on either side), ``gamma_opt`` (finite ``T``: the root of the
    stationarity polynomial ``sum_a (a - tau) x^a`` above ``tau/(tau+1)``, an interior optimum
    exactly when ``tau < (T-1)/2``), ``h_opt_limit`` (``h`` at the optimum, ``T -> infinity``),
    ``snr_opt``, and the optimal effective capacity: ``n_opt`` solves
    ``n (1 + 1/(n-1))^(n-1) = 1 + c/snr_min`` (``n = tau + 1`` real), with
    ``n_opt ~ (1 + c/snr_min)/e`` and ``1 - gamma ~ e snr_min / (2 (c + snr_min))`` for large
    ``c/snr_min``."""
    der = Derivation("optimal decay at lag tau")
    h_sum = sp.Sum(x ** (age - tau), (age, 0, T - 1)) - 1  # the probed age contributes x^0 = 1
    h = der.step("h(x) = sum_{a != tau} x^(a - tau), times (1 - x)", (1 - x) * h_sum,
                 x ** (-tau) - 1 + x - x ** (T - tau))
    h = h / (1 - x)
    decay = snr("sphere").results["snr"]
    c = snr("sphere").results["strength"]
    der.step("SNR = c / h(x) at x = gamma^2 (c = E||k||^4/E[c^2])",
             decay.subs(gamma, sp.sqrt(x)), c / h)
    polynomial = der.step("stationarity: x^(tau+1) dh/dx = sum_a (a - tau) x^a, a polynomial of degree T - 1",
                          sp.diff(h_sum, x) * x ** (tau + 1), sp.Sum((age - tau) * x**age, (age, 0, T - 1)))
    der.step("at x = 1 (no decay) it is T(T-1)/2 - T tau: positive, so the optimum has gamma < 1, "
             "exactly when tau < (T-1)/2", polynomial.subs(x, 1), T * (T - 1) / 2 - T * tau)
    s_age = sp.Symbol("s", integer=True, nonnegative=True)
    coefficient = sp.Lambda(age, age - tau)
    der.inequality("its coefficients after the probed age are positive: a = tau + 1 + s gives a - tau >= 1",
                   1, coefficient(tau + 1 + s_age))
    der.inequality("and before it negative: a = tau - 1 - s gives a - tau <= -1",
                   coefficient(tau - 1 - s_age), -1)
    der.confirm("so one sign change, and by Descartes' rule of signs exactly one positive root: counted at "
                "tau = 10, T = 30",
                sp.Poly(polynomial.subs({tau: 10, T: 30}).doit(), x).count_roots(0, None), 1)
    lag_r = sp.Symbol("t", positive=True)  # tau as a real number, for the sign at tau/(tau + 1)
    x0 = lag_r / (lag_r + 1)
    numerator = (lag_r + 1) * x - lag_r - x**T * (x + (T - lag_r) * (1 - x))
    der.step("(1 - x)^2 P(x) = (tau+1) x - tau - x^T (x + (T - tau)(1 - x)) (at x = 1/(1 + r) < 1): the sign "
             "of P below 1, computed without cancellation at x = tau/(tau+1) + u",
             ((1 - x) ** 2 * polynomial.subs(tau, lag_r)).subs(x, 1 / (1 + r)),
             numerator.subs(x, 1 / (1 + r)))
    u = sp.Symbol("u", nonnegative=True)
    shifted = der.step("at x = tau/(tau+1) + u the first two terms are (tau+1) u: no cancellation near it",
                       numerator.subs(x, x0 + u),
                       (lag_r + 1) * u - (x0 + u) ** T * ((x0 + u) + (T - lag_r) * (1 - x0 - u)))
    at_x0 = der.step("at x = tau/(tau+1), the long-stream optimum (u = 0): P = N/(1 - x)^2 = -T (tau+1) "
                     "(tau/(tau+1))^T", shifted.subs(u, 0) / (1 - x0) ** 2, -T * (lag_r + 1) * x0**T)
    der.inequality("P(tau/(tau+1)) < 0 < P(1): the root lies in (tau/(tau+1), 1), so gamma_opt > "
                   "sqrt(tau/(tau+1))", at_x0, 0, certificate=T * (lag_r + 1) * x0**T)
    _NUMERATOR[:] = [sp.lambdify((u, lag_r, T), shifted, "numpy")]
    h_limit = sp.limit(h.subs(x, 1 / (1 + r)), T, sp.oo).subs(r, 1 / x - 1)
    h_limit = der.step("T -> infinity at x < 1: h(x) -> (x^(-tau) - 1 + x)/(1 - x)",
                       sp.Limit(h.subs(x, 1 / (1 + r)), T, sp.oo), sp.simplify(h_limit).subs(x, 1 / (1 + r)))
    h_limit = sp.simplify(h_limit.subs(r, 1 / x - 1))
    slope = sp.factor(sp.together(sp.diff(h_limit, x)))
    roots = sp.solve(sp.Eq(slope, 0), x)
    if len(roots) != 1:
        raise AssertionError("dh/dx = 0 should have one positive root")
    x_star = roots[0]
    der.step("dh/dx = 0 at", slope.subs(x, x_star), 0)
    s = sp.Symbol("s", positive=True)
    lag = sp.Symbol("tau", integer=True, positive=True)  # tau >= 1 (at tau = 0 the best decay is 0)
    xs = x_star.subs(tau, lag)
    below, above = xs / (1 + s), xs + s * (1 - xs) / (1 + s)
    der.inequality("below it (x = x* / (1 + s)): dh/dx <= 0, the SNR rises with x",
                   slope.subs(tau, lag).subs(x, below), 0,
                   certificate=below ** (-lag - 1) * lag * s / ((1 + s) * (below - 1) ** 2))
    der.inequality("above it (x = x* + s (1 - x*)/(1 + s) < 1): dh/dx > 0, the SNR falls",
                   0, slope.subs(tau, lag).subs(x, above),
                   certificate=above ** (-lag - 1) * s / ((1 + s) * (above - 1) ** 2))
    der.result("x_limit", x_star)
    der.result("gamma_limit", sp.sqrt(x_star))
    h_opt = der.step("h at the optimum: (tau + 1)(1 + 1/tau)^tau - 1",
                     h_limit.subs(x, x_star), (tau + 1) * (1 + 1 / tau) ** tau - 1)
    der.result("h_opt_limit", h_opt)
    der.result("h", h)
    root = implemented_function("stationary_root", _stationary_root)
    der.result("x_opt", root(tau, T))
    der.result("gamma_opt", sp.sqrt(root(tau, T)))
    der.result("memory_length", 1 / (1 - root(tau, T)))
    der.result("snr_opt", snr("sphere").results["strength"] / h.subs(x, root(tau, T)))
    # optimal effective capacity: n = tau + 1 items need h_opt(tau) <= c / snr_min
    n_items = sp.Symbol("n_items", positive=True)
    ratio = sp.Symbol("rho", positive=True)  # rho = c / snr_min
    h_real = h_opt.subs(tau, lag_r)
    der.inequality("h_opt rises with tau: dh_opt/dtau = (tau+1)(1 + 1/tau)^tau log(1 + 1/tau) > 0, so "
                   "n (1 + 1/(n-1))^(n-1) = 1 + c/snr_min has one root (the one optimal_capacity brackets)",
                   0, sp.diff(h_real, lag_r),
                   certificate=(lag_r + 1) * (1 + 1 / lag_r) ** lag_r * sp.log(1 + 1 / lag_r))
    der.step("1 + h at the optimum = (tau+1)(1 + 1/tau)^tau for real tau > 0, i.e. with n = tau + 1 items, "
             "n (1 + 1/(n-1))^(n-1): the best SNR c/h_opt reaches snr_min "
             "iff n (1 + 1/(n-1))^(n-1) <= 1 + c/snr_min, so the optimal capacity n solves it with equality",
             1 + h_limit.subs(x, x_star).subs(tau, lag_r), (lag_r + 1) * (1 + 1 / lag_r) ** lag_r)
    der.step("e is the limit of (1 + 1/tau)^tau", sp.Limit((1 + 1 / r) ** r, r, sp.oo), sp.E)
    der.step("so n/(1 + c/snr_min) -> 1/e: n (1 + 1/(n-1))^(n-1) / (e n) -> 1",
             sp.Limit(n_items * (1 + 1 / (n_items - 1)) ** (n_items - 1) / (sp.E * n_items), n_items, sp.oo),
             1)
    der.result("n_opt_asymptotic", (1 + ratio) / sp.E)
    der.result("gamma_opt_asymptotic", 1 - sp.E / (2 * (1 + ratio)))
    der.step("against Hebbian capacity 1 + c/snr_min (eq 35): the ratio tends to 1/e",
             sp.Limit(der.results["n_opt_asymptotic"] / (1 + ratio), ratio, sp.oo), 1 / sp.E)
    der.step("sqrt(1 - 1/n) at n = (1 + rho)/e matches 1 - e/(2(1 + rho)) to first order",
             sp.Limit((1 - sp.sqrt(1 - sp.E / (1 + ratio))) * (1 + ratio), ratio, sp.oo), sp.E / 2)
    return der


def optimal_capacity(rho: float) -> tuple[float, float]:
    """The optimal effective capacity as a real number (continuous relaxation), and its decay,
    for ``rho = c/snr_min``: the root of ``n (1 + 1/(n-1))^(n-1) - 1 - rho`` (increasing in
    ``n``), and ``gamma = sqrt(1 - 1/n)``. The count of whole items is its floor."""
    der = optimal_decay()
    h_opt = lambda n: der.evaluate("h_opt_limit", tau=n - 1)
    n = optimize.brentq(lambda n: h_opt(n) - rho, 1 + 1e-12, rho + 2)
    return n, float(np.sqrt(1 - 1 / n))
