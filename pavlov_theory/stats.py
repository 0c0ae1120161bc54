"""Estimators with confidence intervals and a sequential stopping rule (the judges are in
:mod:`pavlov_theory.judges`).

All intervals are two-sided at level ``1 - alpha`` unless a function says otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np
from scipy import optimize, stats


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


def skewness(x: np.ndarray) -> Any:
    """Sample skewness ``mean((x - mean)^3) / std^3`` along the last axis (0 for constant samples):
    a float for 1-D samples, else one per row."""
    d = np.asarray(x, dtype=np.float64) - np.mean(x, -1, keepdims=True)
    sd = np.sqrt(np.mean(d * d, -1))
    skew = np.where(sd > 0, np.mean(d**3, -1) / np.where(sd > 0, sd, 1.0) ** 3, 0.0)
    return float(skew) if np.ndim(skew) == 0 else skew


def _leave_one_out(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Variance, third and fourth central moments of each sample of the centred samples ``d`` with
    one value left out, along the last axis (from the full sample's raw sums less the left-out
    value: ``O(size)``)."""
    m = d.shape[-1] - 1
    total = lambda y: y.sum(-1, keepdims=True)
    mean = (total(d) - d) / m
    powers = [d**k for k in (2, 3, 4)]
    rest2, rest3, rest4 = (total(p) - p for p in powers)  # raw sums less the left-out value
    a2, a3, a4 = rest2 / m, rest3 / m, rest4 / m
    third = a3 - 3 * mean * rest2 / m + 2 * mean**3
    return a2 - mean**2, third, a4 - 4 * mean * a3 + 6 * mean**2 * a2 - 3 * mean**4


def _jackknife_se(leave_one_out: np.ndarray) -> Any:
    """The jackknife standard error of a statistic from its leave-one-out values (along the last
    axis: a float for 1-D values, else one per row)."""
    n = leave_one_out.shape[-1]
    spread = np.sum((leave_one_out - leave_one_out.mean(-1, keepdims=True)) ** 2, -1)
    se = np.sqrt((n - 1) / n * spread)
    return float(se) if np.ndim(se) == 0 else se


def _skewness_se(d: np.ndarray) -> Any:
    """The jackknife standard error of the sample skewness of the samples ``d`` centred along the
    last axis."""
    var, third, _ = _leave_one_out(d)
    return _jackknife_se(np.where(var > 0, third / np.where(var > 0, var, 1.0) ** 1.5, 0.0))


# A skewness reading is used to correct an interval only where it stands out from its own noise:
# more than this many jackknife standard errors from 0. On a symmetric heavy-tailed law the reading
# is noise, and a correction built on it moves the interval off (``coverage.heavy_scan``).
SKEW_SALIENCE = 2.0
HIGH_READING = 2.0  # jackknife standard errors a deliberately high reading adds (skewness_upper)

# How an interval reads a skewness that stands out: ``sample`` corrects both arms for the sample
# skewness itself; ``high`` lengthens the arm on the long-tail side further, to first order, for
# the skewness's high reading (:func:`skewness_upper`), as an unresolved skewness is read. A sample
# that misses on the long side is one that drew too few values from the long tail, so its skewness
# reads low just where the long arm needs it (``tilted``). ``both`` also lengthens the short arm, by
# the first-order term for as much skewness as the high reading adds to the long one, but for no
# more than the sample skewness (Hall's shortening is less than its first-order term, so the arm
# may end slightly past the Student-t arm): a sample that misses on the short side drew too many
# values from the long tail, so its skewness reads high just where the short arm is shortened for
# it (``tilted_snr``). ``LONG_ARM`` is the verifier's: at the verifier's most skewed SNR point the
# high reading's short arm undercovers at per-look levels, and ``both`` undercovers in no row of a
# stored coverage scan that another reading covers (tests hold it to that).
LONG_ARMS: tuple[str, ...] = ("sample", "high", "both")
LONG_ARM = "both"


def skewness_that_stands_out(x: np.ndarray, z: float = SKEW_SALIENCE) -> Any:
    """The sample skewness of i.i.d. samples along the last axis (:func:`skewness`) where it lies
    more than ``z`` jackknife standard errors from 0, else 0 (always 0 for fewer than 4 samples or
    a standard error of 0): the skewness an interval corrects for. A float for 1-D samples, else
    one per row."""
    d = np.asarray(x, dtype=np.float64)
    if d.shape[-1] < 4:  # with 3 values each left-out sample of 2 reads 0: no noise to compare with
        return 0.0 if d.ndim == 1 else np.zeros(d.shape[:-1])
    g, se = _skewness_and_se(d)
    return _per_row(np.where(_stands_out(g, se, z), g, 0.0))


def _skewness_and_se(x: np.ndarray) -> tuple[Any, Any]:
    """The sample skewness of the samples less their mean along the last axis, and its jackknife
    standard error: what :func:`skewness_that_stands_out` and :func:`skewness_upper` read."""
    d = _centred(x)
    return skewness(d), _skewness_se(d)


def _stands_out(g: Any, se: Any, z: float) -> Any:
    return (np.abs(g) > z * se) & (se > 0)


def salience_and_upper(x: np.ndarray, z_salience: float = SKEW_SALIENCE,
                       z_high: float = HIGH_READING) -> tuple[Any, Any]:
    """Whether the skewness of i.i.d. samples along the last axis stands out
    (:func:`skewness_that_stands_out` is not 0) and its high reading (:func:`skewness_upper`),
    from one jackknife: the same values as the two functions give, in half the work."""
    d = np.asarray(x, dtype=np.float64)
    if d.shape[-1] < 3:
        return (False, 0.0) if d.ndim == 1 else (np.zeros(d.shape[:-1], dtype=bool), np.zeros(d.shape[:-1]))
    g, se = _skewness_and_se(d)
    salient = _stands_out(g, se, z_salience) & (d.shape[-1] >= 4)
    return (bool(salient) if np.ndim(salient) == 0 else salient), _per_row(np.abs(g) + z_high * se)


def _centred(x: np.ndarray) -> np.ndarray:
    """The samples less their mean, along the last axis."""
    d = np.asarray(x, dtype=np.float64)
    return d - d.mean(-1, keepdims=True)


def _per_row(value: Any) -> Any:
    return float(value) if np.ndim(value) == 0 else value


def skewness_upper(x: np.ndarray, z: float = HIGH_READING) -> Any:
    """A deliberately high reading of the skewness of i.i.d. samples along the last axis:
    ``|g| + z se``, with ``g`` their sample skewness (:func:`skewness`) and ``se`` its jackknife
    standard error (each sample left out in turn; deterministic, ``O(size)``). A small sample of a
    heavy-tailed law often misses the tail that makes it skewed; the standard error widens with the
    spread the sample does show. A float for 1-D samples, else one per row."""
    d = np.asarray(x, dtype=np.float64)
    if d.shape[-1] < 3:
        return 0.0 if d.ndim == 1 else np.zeros(d.shape[:-1])
    g, se = _skewness_and_se(d)
    return _per_row(np.abs(g) + z * se)


def kurtosis(x: np.ndarray) -> Any:
    """Sample excess kurtosis ``mean((x - mean)^4) / var^2 - 3`` along the last axis (0 for constant
    samples; ``scipy.stats.kurtosis`` with its defaults): a float for 1-D samples, else one per row."""
    d = _centred(x)
    var = np.mean(d * d, -1)
    return _per_row(np.where(var > 0, np.mean(d**4, -1) / np.where(var > 0, var, 1.0) ** 2 - 3.0, 0.0))


def kurtosis_upper(x: np.ndarray, z: float = HIGH_READING) -> Any:
    """A deliberately high reading of the excess kurtosis of i.i.d. samples along the last axis:
    ``k + z se``, with ``k`` their sample excess kurtosis (:func:`kurtosis`) and ``se`` its
    jackknife standard error (each sample left out in turn; deterministic, ``O(size)``), as
    :func:`skewness_upper` reads the skewness. Negative for a sample that reads clearly
    light-tailed. A float for 1-D samples, else one per row."""
    d = np.asarray(x, dtype=np.float64)
    if d.shape[-1] < 4:
        return 0.0 if d.ndim == 1 else np.zeros(d.shape[:-1])
    d = _centred(d)
    var, _, fourth = _leave_one_out(d)
    leave_one_out = np.where(var > 0, fourth / np.where(var > 0, var, 1.0) ** 2 - 3.0, 0.0)
    return _per_row(kurtosis(d) + z * _jackknife_se(leave_one_out))


@lru_cache(maxsize=4096)
def _t_quantile(p: float, df: int) -> float:
    """Student t's quantile (cached: a scan asks for the same few many times)."""
    return float(stats.t.ppf(p, df))


def studentized_limits(centre: float | np.ndarray, se: float | np.ndarray, skew: float | np.ndarray,
                       size: int, alpha: float) -> tuple[Any, Any]:
    """Two-sided limits at level ``1 - alpha`` for a mean-like estimate ``centre`` with standard
    error ``se``, from per-trial samples of skewness ``skew``: Hall's (1992) skewness-removing
    transformation of the studentized statistic ``T = (centre - truth) / se``,
    ``g(T) = T + b T^2 / 3 + b^2 T^3 / 27 + b / 6`` with ``b = skew / sqrt(size)``, is monotone and
    close to Student t; inverting it moves the limits toward the long tail. The coverage error
    falls from order ``size^-1/2`` (plain t, one-sided) to order ``1/size``; for ``skew = 0`` these
    are the Student-t limits. ``centre``, ``se`` and ``skew`` may be arrays (one entry per sample,
    all of ``size`` trials): the limits are then arrays too, else floats."""
    lower, upper = _hall_arms(skew, size, alpha)
    lo, hi = centre - se * lower, centre + se * upper
    return (float(lo), float(hi)) if np.ndim(lo) == 0 else (lo, hi)


def _hall_arms(skew: Any, size: int, alpha: float) -> tuple[Any, Any]:
    """The lower and upper arms of :func:`studentized_limits`, in standard errors."""
    q = _t_quantile(1 - alpha / 2, max(1, size - 1))
    b = np.asarray(skew, dtype=np.float64) / math.sqrt(max(1, size))
    flat = np.abs(b) < 1e-9
    safe = np.where(flat, 1.0, b)
    inverse = lambda x: np.where(flat, x, 3 / safe * (np.cbrt(1 + safe * (x - safe / 6)) - 1))
    return inverse(q), -inverse(-q)


def limit_skews(x: np.ndarray, salient: Any = None, long_arm: str = LONG_ARM) -> tuple[Any, Any, Any]:
    """How a studentized interval from i.i.d. samples along the last axis reads their skewness
    (:func:`skew_corrected_limits` takes the reading): the skewness both limits correct for, and
    how much further skewness the lower and the upper arm are lengthened for. Where the skewness
    is ``salient`` (default: where it stands out, :func:`skewness_that_stands_out`) both limits
    correct for the sample skewness :func:`skewness`; with ``long_arm="high"`` the arm on its long
    side is lengthened further for the rest of its high reading :func:`skewness_upper`, with
    ``"both"`` (the verifier's, :data:`LONG_ARM`) the short arm too, for as much but not past a
    skewness of 0, and with ``"sample"`` nothing more. Elsewhere the sample cannot
    resolve its skewness, and taking it as 0 leaves the arm on the long-tail side too short in the
    deep tail (``coverage.deep_scan``): both arms are lengthened for the high reading. Floats for
    1-D samples, else one per row."""
    if salient is None:
        return skew_readings(x, (long_arm,))[1][0]
    d = _centred(x)
    return tuple(_per_row(v) for v in _reading(salient, skewness(d), skewness_upper(d), long_arm))


def skew_readings(x: np.ndarray,
                  long_arms: Sequence[str] = LONG_ARMS) -> tuple[Any, list[tuple[Any, Any, Any]]]:
    """From one jackknife of i.i.d. samples along the last axis: the skewness that stands out and
    the reading of :func:`limit_skews` for each of ``long_arms`` (:data:`LONG_ARMS`), both as
    :func:`limit_skews` reads them (the first is :func:`skewness_that_stands_out`'s but for rounding:
    that function centres the samples once, this one twice before it reads the salience). Floats for
    1-D samples, else one per row."""
    d = _centred(x)
    salient, upper = salience_and_upper(d)
    g = skewness(d)
    readings = [tuple(_per_row(v) for v in _reading(salient, g, upper, arm)) for arm in long_arms]
    return _per_row(np.where(salient, g, 0.0)), readings


def _check_long_arm(long_arm: str) -> None:
    if long_arm not in LONG_ARMS:
        raise ValueError(f"long_arm must be one of {', '.join(LONG_ARMS)}; got {long_arm!r}")


def _reading(salient: Any, g: Any, s: Any, long_arm: str = LONG_ARM,
             side: Any = None) -> tuple[Any, Any, Any]:
    """The reading of :func:`limit_skews` from the sample skewness ``g`` and its high reading ``s``:
    ``(g, 0, 0)`` where ``salient``, else ``(0, s, s)``; for ``long_arm="high"`` the arm on the long
    side (the sign of ``side``, default that of ``g``) is lengthened further where ``salient``, for
    ``s`` less the skewness ``g`` already corrects toward that side; for ``"both"`` the short arm is
    lengthened as well, for as much skewness again but no more than ``g`` corrects toward the long
    side (to first order it reads the skewness as far below ``g`` as the long arm reads it above,
    down to 0)."""
    _check_long_arm(long_arm)
    unresolved = np.where(salient, 0.0, s)
    extra_lo = extra_hi = unresolved
    if long_arm != "sample":
        side = np.where(np.asarray(g) >= 0, 1.0, -1.0) if side is None else np.asarray(side)
        further = np.where(salient, np.maximum(s - side * g, 0.0), 0.0)
        back = np.minimum(further, np.maximum(side * g, 0.0)) if long_arm == "both" else 0.0
        extra_lo = extra_lo + np.where(side < 0, further, back)
        extra_hi = extra_hi + np.where(side > 0, further, back)
    return np.where(salient, g, 0.0), extra_lo, extra_hi


def unresolved_lengthening(spread: Any, q: Any, size: Any, sqrt: Callable[[Any], Any] = math.sqrt) -> Any:
    """How far, in standard errors, :func:`skew_corrected_limits` lengthens a Student-t arm ``q``
    of a mean from ``size`` trials for a skewness ``spread`` toward that side beyond the one it
    corrects for: the first-order term of Hall's limits (:func:`studentized_limits`) for that
    skewness, which is the Cornish-Fisher shift of the studentized mean's quantile with the
    Student-t quantile ``q`` in place of the normal one. At few trials and small ``alpha`` ``q`` is
    large, and so is the lengthening (conservative there). Plain arithmetic: given SymPy symbols
    and ``sympy.sqrt`` it returns the expression the statistics chapter shows."""
    return spread * (2 * q * q + 1) / (6 * sqrt(size))


def skew_corrected_limits(centre: float | np.ndarray, se: float | np.ndarray, reading: tuple[Any, Any, Any],
                          size: int, alpha: float) -> tuple[Any, Any]:
    """Two-sided limits at level ``1 - alpha`` for a mean-like ``centre`` with standard error
    ``se``, from the ``reading`` ``(skew, extra_lo, extra_hi)`` of :func:`limit_skews`: Hall's
    limits (:func:`studentized_limits`) for ``skew``, the lower arm lengthened by
    :func:`unresolved_lengthening` of ``extra_lo`` and the upper by that of ``extra_hi`` (neither
    negative). For ``(g, 0, 0)`` these are Hall's limits for ``g``; for an unresolved ``(0, s, s)``
    the Student-t limits with both arms lengthened for ``s``. The lengthening grows in proportion
    to the skewness it is for, and holds the plain Student-t interval; the full inverse of Hall's
    transformation would not do either far in the tail of a small sample, where it steepens and
    then shrinks."""
    skew, extra_lo, extra_hi = (np.asarray(v, dtype=np.float64) for v in reading)
    if np.any(extra_lo < 0) or np.any(extra_hi < 0):
        raise ValueError("skew_corrected_limits: an arm's further skewness must not be negative")
    q = _t_quantile(1 - alpha / 2, max(1, size - 1))
    lower, upper = _hall_arms(skew, size, alpha)
    lengthening = lambda extra: unresolved_lengthening(extra, q, max(1, size))
    lo, hi = centre - se * (lower + lengthening(extra_lo)), centre + se * (upper + lengthening(extra_hi))
    return (float(lo), float(hi)) if np.ndim(lo) == 0 else (lo, hi)


def mean_ci(samples: np.ndarray, alpha: float, long_arm: str = LONG_ARM) -> Interval:
    """Skewness-corrected Student-t interval (:func:`skew_corrected_limits`) for the mean of i.i.d.
    samples: corrected for the sample skewness where it stands out (its long arm read as
    ``long_arm`` says), and widened for the skewness the sample leaves plausible where it does not
    (:func:`limit_skews`)."""
    _check_long_arm(long_arm)
    x = np.asarray(samples, dtype=np.float64)
    m = float(x.mean())
    if x.size < 2 or float(x.std()) == 0.0:
        return Interval(m, m, m, x.size)
    lo, hi = skew_corrected_limits(m, float(stats.sem(x)), limit_skews(x, long_arm=long_arm), x.size, alpha)
    return Interval(m, lo, hi, x.size)


def ratio_skew_reading(num: np.ndarray, den: np.ndarray) -> tuple[Any, Any, Any]:
    """The skewness reading :func:`ratio_test` corrects on, taken once per sample (along the last
    axis) on the per-trial ``num - theta den`` at the estimated ``theta = mean(num) / mean(den)``,
    so that every ``theta`` is tested alike: whether its skewness stands out
    (:func:`skewness_that_stands_out`), its high reading (:func:`skewness_upper`), which the test
    widens for where it does not, and its sign (``1.0`` for a skewness of 0), the long side."""
    a = np.asarray(num, dtype=np.float64)
    b = np.asarray(den, dtype=np.float64)
    mean_den = b.mean(-1, keepdims=True)
    w = a - a.mean(-1, keepdims=True) / np.where(mean_den != 0, mean_den, 1.0) * b
    side = np.where(np.asarray(skewness(w)) >= 0, 1.0, -1.0)
    return (*salience_and_upper(w), _per_row(side))


def ratio_test(num: np.ndarray, den: np.ndarray, theta: float | np.ndarray, alpha: float,
               reading: tuple[Any, Any, Any] | None = None, long_arm: str = LONG_ARM) -> Any:
    """The test :func:`ratio_of_means_ci` inverts, on paired samples along the last axis of ``num``
    and ``den`` (one sample per row for 2-D arrays): how far 0 lies outside (positive) or inside
    (negative) the limits of :func:`skew_corrected_limits` for the mean of the per-trial
    ``num - theta den``, in standard errors. Where the skewness ``reading`` (default:
    :func:`ratio_skew_reading`, taken once per sample) stands out, the limits are corrected for
    the sample skewness at this ``theta``; elsewhere both arms are lengthened for its high reading,
    the same at every ``theta``; the long arm is read as ``long_arm`` says (:data:`LONG_ARMS`), on
    the reading's long side. ``theta`` is a number or one per row; a float for 1-D samples, else
    an array of one entry per row."""
    corrected, spread, side = ratio_skew_reading(num, den) if reading is None else reading
    w = np.asarray(num, dtype=np.float64) - np.expand_dims(np.asarray(theta, dtype=np.float64), -1) * den
    shape = w.shape[:-1]  # one decision per sample, or one for all
    corrected, spread, side = (np.broadcast_to(v, shape) for v in (corrected, spread, side))
    size = w.shape[-1]
    se = np.std(w, axis=-1, ddof=1) / math.sqrt(size)
    found = _reading(corrected, skewness(w), spread, long_arm, side)
    lo, hi = skew_corrected_limits(w.mean(-1), se, found, size, alpha)
    excess = np.maximum(lo, -hi) / np.maximum(se, 1e-300)
    return float(excess) if np.ndim(excess) == 0 else excess


def ratio_of_means_ci(num: np.ndarray, den: np.ndarray, alpha: float, long_arm: str = LONG_ARM) -> Interval:
    """Interval for ``mean(num) / mean(den)`` from paired i.i.d. samples (``den`` of positive
    mean), by inverting a test (:func:`ratio_test`): ``theta`` is inside when the per-trial
    ``num - theta den`` has a mean the Student-t limits do not exclude from 0 (Fieller's
    construction, with Hall's skewness correction as :func:`ratio_test` makes it). Unlike the delta
    method it follows the curvature of ``1/mean(den)`` and the skew of heavy-tailed powers; a limit
    that the data cannot bound is infinite. Its coverage needs many trials when the powers are heavy-tailed:
    :func:`pavlov_theory.engine.first_look` says how many a sequential check starts from."""
    _check_long_arm(long_arm)
    a = np.asarray(num, dtype=np.float64)
    b = np.asarray(den, dtype=np.float64)
    ratio = float(a.mean() / b.mean())
    if a.size < 2:
        return Interval(ratio, -math.inf, math.inf, a.size)
    reading = ratio_skew_reading(a, b)
    excess = lambda theta: ratio_test(a, b, theta, alpha, reading, long_arm)
    if excess(ratio) > 0:  # only when the samples are degenerate (no spread): a point interval
        return Interval(ratio, ratio, ratio, a.size)
    scale = max(abs(ratio), float(np.std(a)) / max(abs(float(b.mean())), 1e-300) / math.sqrt(a.size), 1e-300)
    limits = []
    for direction in (-1.0, 1.0):
        step, found = scale, math.inf * direction
        for _ in range(60):
            edge = ratio + direction * step
            if excess(edge) > 0:
                found = optimize.brentq(excess, *sorted((ratio, edge)), xtol=1e-12 * scale, rtol=1e-12)
                break
            step *= 2
        limits.append(found)
    return Interval(ratio, float(limits[0]), float(limits[1]), a.size)


def proportion_ci(successes: int, trials: int, alpha: float) -> Interval:
    """Clopper-Pearson (exact) interval for a binomial proportion."""
    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(1 - alpha, method="exact")
    return Interval(successes / trials, float(ci.low), float(ci.high), trials)


def first_crossings(counts: np.ndarray, trials: int, epsilon: float,
                    alpha: float) -> tuple[int, int, int]:
    """Where failure counts on a grid of rising loads first cross a rate ``epsilon``, with
    Clopper-Pearson limits held simultaneously over the grid (each at ``alpha / len(counts)``): the
    first index whose rate exceeds ``epsilon``, the first whose upper limit does (the crossing may
    lie there) and the first whose lower limit does (it surely lies at or before it); each is
    ``len(counts)`` where no index does. Assumes the failure rate rises along the grid."""
    counts = np.asarray(counts)
    limits: dict[int, Interval] = {}  # by count: many loads share one (none or all fail)
    interval = lambda c: limits.setdefault(int(c), proportion_ci(int(c), trials, alpha / counts.size))
    first = lambda flags: next((i for i, flag in enumerate(flags) if flag), counts.size)
    return (first(c / trials > epsilon for c in counts), first(interval(c).hi > epsilon for c in counts),
            first(interval(c).lo > epsilon for c in counts))


def secant_slope(start: Interval, end: Interval, span: float, n: int) -> Interval:
    """The slope ``log(end / start) / span`` between two positive quantities whose intervals hold
    simultaneously: its interval is spanned by their extremes, ``log(end.lo / start.hi)`` to
    ``log(end.hi / start.lo)`` over ``span``. Unbounded (estimate NaN) where a limit is not a
    positive finite number."""
    limits = (start.estimate, start.lo, start.hi, end.estimate, end.lo, end.hi)
    if not all(math.isfinite(v) and v > 0 for v in limits):
        return Interval(math.nan, -math.inf, math.inf, n)
    slope = lambda a, b: math.log(b / a) / span
    return Interval(slope(start.estimate, end.estimate), slope(start.hi, end.lo), slope(start.lo, end.hi), n)


def fit_power_law(x: np.ndarray, y: np.ndarray, alpha: float) -> Interval:
    """Exponent ``b`` of ``y ~ a x**b`` by least squares on log-log axes, with a t interval."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    fit = stats.linregress(lx, ly)
    if lx.size < 3:  # two points fix a line but leave its error unknown
        return Interval(float(fit.slope), -math.inf, math.inf, lx.size)
    half = stats.t.ppf(1 - alpha / 2, lx.size - 2) * fit.stderr
    return Interval(float(fit.slope), float(fit.slope - half), float(fit.slope + half), lx.size)


def look_sizes(first: int, max_trials: int) -> list[int]:
    """The trials of each planned look of :func:`sequential`: ``first`` cut to ``max_trials`` (but
    never below 2), then looks that double the total so far, the last cut at ``max_trials``."""
    sizes = [max(2, min(first, max_trials))]
    while sum(sizes) < max_trials:
        sizes.append(min(sum(sizes), max_trials - sum(sizes)))
    return sizes


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
    sizes = look_sizes(first, max_trials)
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
