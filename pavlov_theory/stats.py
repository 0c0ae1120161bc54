"""Estimators with confidence intervals and a sequential stopping rule (the judges are in
:mod:`pavlov_theory.judges`).

All intervals are two-sided at level ``1 - alpha`` unless a function says otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Interval:
    estimate: float
    lo: float
    hi: float
    n: int

    @property
    def width(self) -> float:
        return self.hi - self.lo

    def contains(self, value: float) -> bool:
        return self.lo <= value <= self.hi

    def map(self, f: Callable[[float], float]) -> Interval:
        """The interval of ``f`` of the quantity, for ``f`` monotone (increasing or decreasing)."""
        lo, hi = sorted((f(self.lo), f(self.hi)))
        return Interval(f(self.estimate), lo, hi, self.n)


def mean_ci(samples: np.ndarray, alpha: float) -> Interval:
    """Student-t interval for the mean of i.i.d. samples."""
    x = np.asarray(samples, dtype=np.float64)
    m = float(x.mean())
    if x.size < 2 or float(x.std()) == 0.0:
        return Interval(m, m, m, x.size)
    lo, hi = stats.t.interval(1 - alpha, x.size - 1, loc=m, scale=stats.sem(x))
    return Interval(m, float(lo), float(hi), x.size)


def ratio_of_means_ci(num: np.ndarray, den: np.ndarray, alpha: float) -> Interval:
    """Delta-method interval for ``mean(num) / mean(den)`` from paired i.i.d. samples
    (Student-t quantile, so small samples get wider intervals)."""
    a = np.asarray(num, dtype=np.float64)
    b = np.asarray(den, dtype=np.float64)
    ma, mb = a.mean(), b.mean()
    ratio = float(ma / mb)
    cov = np.cov(np.stack([a, b])) / a.size
    var = (cov[0, 0] - 2 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / mb**2
    half = stats.t.ppf(1 - alpha / 2, max(1, a.size - 1)) * math.sqrt(max(float(var), 0.0))
    return Interval(ratio, ratio - half, ratio + half, a.size)


def proportion_ci(successes: int, trials: int, alpha: float) -> Interval:
    """Clopper-Pearson (exact) interval for a binomial proportion."""
    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(1 - alpha, method="exact")
    return Interval(successes / trials, float(ci.low), float(ci.high), trials)


def fit_power_law(x: np.ndarray, y: np.ndarray, alpha: float) -> Interval:
    """Exponent ``b`` of ``y ~ a x**b`` by least squares on log-log axes, with a t interval."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    fit = stats.linregress(lx, ly)
    if lx.size < 3:  # two points fix a line but leave its error unknown
        return Interval(float(fit.slope), -math.inf, math.inf, lx.size)
    half = stats.t.ppf(1 - alpha / 2, lx.size - 2) * fit.stderr
    return Interval(float(fit.slope), float(fit.slope - half), float(fit.slope + half), lx.size)


def sequential(
    draw: Callable[[int, int], tuple[np.ndarray, ...]],
    interval: Callable[[tuple[np.ndarray, ...], float], Interval],
    judge: Callable[[Interval], str],
    alpha: float,
    first: int,
    max_trials: int,
) -> tuple[Interval, str]:
    """Draw batches (doubling in size) until ``judge`` decides or ``max_trials`` is spent.

    ``draw(batch_index, size)`` returns arrays of per-trial samples. Every look uses level
    ``alpha / looks`` (Bonferroni over the planned looks), so repeated looking does not inflate
    the error rate. Returns the last interval and verdict (``undecided`` if never decided).
    """
    first = max(2, min(first, max_trials))
    sizes = [first]
    while sum(sizes) < max_trials:
        sizes.append(min(sum(sizes), max_trials - sum(sizes)))
    level = alpha / len(sizes)
    parts: list[tuple[np.ndarray, ...]] = []
    for index, size in enumerate(sizes):
        parts.append(draw(index, size))
        samples = tuple(np.concatenate(col) for col in zip(*parts))
        ci = interval(samples, level)
        verdict = judge(ci)
        if verdict != "undecided":
            return ci, verdict
    return ci, verdict


# Estimators by name, each mapping a kernel's per-trial arrays and a level to an interval.
ESTIMATORS: dict[str, Callable[[tuple[np.ndarray, ...], float], Interval]] = {
    "mean": lambda x, level: mean_ci(x[0], level),
    "ratio": lambda x, level: ratio_of_means_ci(x[0], x[1], level),
    "proportion": lambda x, level: proportion_ci(int(np.sum(x[0])), np.size(x[0]), level),
}
