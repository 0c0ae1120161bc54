"""Miss rates of the verifier's mean and ratio intervals far below what counting reaches, by
importance sampling.

The deep scans of :mod:`pavlov_theory.coverage` count misses among millions of replicates, so
they stop at the deepest level of ``coverage.DEEP_LEVELS``, above the per-look level of every
scale. On the same synthetic Gamma laws a miss can be made common instead of waited for. Each
look is drawn from a *proposal*: every Gamma component ``X_j ~ Gamma(k_j)`` (rate 1) replaced by a
Gamma law of another shape and rate, chosen so that looks sit on the edge where the interval
begins to miss on one side. A miss is then weighted by the likelihood ratio of its look, which
depends on the look's sums of ``x`` and ``log x`` alone (:func:`derived_log_ratio`). The weighted
count is an unbiased estimate of the miss rate of the untilted law on that side, at any level, and
its standard error comes from the same weights.

Each look is judged once for each reading of the long arm in :data:`TILTED_ARMS` (every one of
:data:`stats.LONG_ARMS`): one set of looks and weights serves them all.

The studentized values are ``d = sum_j c_j X_j``: ``c = (1,)`` for a mean, ``c = (1, -theta)`` for
a ratio of means at its true ``theta``. A look misses on the long side when its mean of ``d`` lies
far out *and* its spread is small, so moving the mean alone (an exponential tilt in ``d``, the
start of the search, :func:`tilt`) leaves rare looks of small spread with very large weights. The
proposal (:func:`proposal`) is instead the Gamma law, per component, closest to the untilted one
in Kullback-Leibler divergence (:func:`derived_divergence`) among those whose mean of ``d`` lies
one Student-t arm of their own standard error from the truth: the large-deviation path to a miss,
within the Gamma family.

A look's size is the floor (the engine's rules at the law's exact moments) or what the rule reads
from an untilted pilot of its own, as in the deep scans; the pilot is independent of the look, so
the weights concern the look alone. The miss rate's interval is the normal one of the weighted
mean. Weights can be heavy-tailed even so, and a normal interval is only as good as the weights'
effective number (Kish's, :func:`effective_number`): a row with fewer than ``MIN_ESS`` effective
replicates on a side says nothing of its level (``undecided``); at ``MIN_ESS`` or more, no single
replicate carries more than ``1 / sqrt(MIN_ESS)`` of a side's estimate. Otherwise a row is judged
by the one rule of every coverage table (:func:`coverage.judge_coverage`). Run
``python -m pavlov_theory.coverage --tilted R``.
"""
from __future__ import annotations

import math
import time
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np
from scipy import optimize, stats

from . import coverage
from .engine import PILOT_TRIALS
from .sampling import derive_seed, generator
from .stats import HIGH_READING, LONG_ARM, LONG_ARMS, Interval

TILTED_LEVELS: tuple[float, ...] = (1 - 1e-4, 1 - 1e-5, 1 - 1e-6, 1 - 1e-7, 1 - 1e-8)
MIN_ESS = 1000  # effective replicates a side's estimate needs: (sum w)^2 / sum w^2
DISPERSION_TAIL = 1e-3  # a chunk_dispersion upper tail below this says the chunks do not agree
SIDES: tuple[str, ...] = ("below", "above")  # where the interval lies against the truth
# the readings of the long arm this scan judges its looks by: every one of :data:`stats.LONG_ARMS`, so
# the stored scan holds the verifier's rows whichever of them :data:`stats.LONG_ARM` names
TILTED_ARMS: tuple[str, ...] = LONG_ARMS
TILTED_CHUNK = coverage.DEEP_CHUNK  # values drawn at once


def coefficients(estimator: str, shapes: Sequence[float]) -> tuple[float, ...]:
    """The ``c_j`` of the studentized values ``d = sum_j c_j X_j`` of ``estimator`` on Gamma
    components of ``shapes``: the value itself for a mean, ``num - theta den`` at the true ratio."""
    if estimator == "mean":
        return (1.0,)
    return (1.0, -shapes[0] / shapes[1])


def cgf_slope(t: float, shapes: Sequence[float], coefs: Sequence[float]) -> float:
    """``K'(t)``, the slope of the cumulant generating function of ``d``: the mean of ``d`` under
    the law tilted by ``exp(t d)``."""
    return sum(k * c / (1 - t * c) for k, c in zip(shapes, coefs))


def _domain(coefs: Sequence[float]) -> tuple[float, float]:
    """The open interval of ``t`` where every tilted rate ``1 - t c_j`` is positive."""
    lo = max((1 / c for c in coefs if c < 0), default=-math.inf)
    hi = min((1 / c for c in coefs if c > 0), default=math.inf)
    return lo, hi


def tilt(shapes: Sequence[float], coefs: Sequence[float], shift: float) -> float:
    """The ``t`` whose exponential tilt ``exp(t d)`` moves the mean of ``d`` by ``shift``
    (``K'(t) = K'(0) + shift``): every component keeps its shape, and its rate becomes ``1 - t c_j``."""
    target = cgf_slope(0.0, shapes, coefs) + shift
    if shift == 0:
        return 0.0
    lo, hi = _domain(coefs)
    edge = hi if shift > 0 else lo
    if not math.isfinite(edge):
        edge = math.copysign(1.0, shift)
        while (cgf_slope(edge, shapes, coefs) - target) * shift < 0:
            edge *= 2
    inner = edge * (1 - 1e-12)  # K' diverges at a finite edge, so the root lies inside it
    return optimize.brentq(lambda t: cgf_slope(t, shapes, coefs) - target, 0.0, inner, xtol=1e-14)


def edge_shift(shapes: Sequence[float], coefs: Sequence[float], size: int, alpha: float, side: str) -> float:
    """How far the start of the search moves the mean of ``d`` for misses on ``side`` of an interval
    at level ``1 - alpha`` from ``size`` trials: one Student-t arm of its standard error, down for
    ``below`` (the interval lies below the truth when ``d`` reads low), up for ``above``."""
    sigma = math.sqrt(sum(k * c * c for k, c in zip(shapes, coefs)))
    return signed_arm(size, alpha, side) * sigma / math.sqrt(size)


def signed_arm(size: int, alpha: float, side: str) -> float:
    """The Student-t arm of an interval at level ``1 - alpha`` from ``size`` trials, in standard
    errors: negative toward ``below``, positive toward ``above``."""
    arm = stats.t.ppf(1 - alpha / 2, size - 1)
    return -arm if side == "below" else arm


@lru_cache(maxsize=None)
def _derived() -> dict[str, Any]:
    """The log-likelihood ratio of ``Gamma(k)`` (rate 1) to ``Gamma(a)`` of rate ``r`` for one value
    ``x``, split into its coefficients of ``x`` and ``log x`` and its constant, and the
    Kullback-Leibler divergence of the second law from the first, as SymPy derives them from the
    densities of ``sympy.stats.Gamma``; with numeric forms (``sympy.lambdify``)."""
    import sympy
    from sympy.stats import E, Gamma, density

    a, r, k, x = sympy.symbols("a r k x", positive=True)
    untilted, proposed = density(Gamma("X", k, 1))(x), density(Gamma("Y", a, 1 / r))(x)
    log_ratio = sympy.expand_log(sympy.log(untilted) - sympy.log(proposed), force=True)
    by_log = log_ratio.coeff(sympy.log(x))
    by_x = sympy.expand(log_ratio - by_log * sympy.log(x)).coeff(x)
    constant = sympy.simplify(log_ratio - by_log * sympy.log(x) - by_x * x)
    divergence = sympy.simplify(E(-log_ratio.subs(x, Gamma("Y", a, 1 / r))))
    symbols = (a, r, k)
    # log(gamma(a)) as loggamma(a) where it stands alone (the divergence); the constant, which SymPy
    # merges into one log, overflows for shapes beyond 170, far above any this module meets
    # (draw_proposed raises if it ever does)
    stable = lambda e: e.replace(lambda f: isinstance(f, sympy.log) and isinstance(f.args[0], sympy.gamma),
                                 lambda f: sympy.loggamma(f.args[0].args[0]))
    numeric = lambda e: sympy.lambdify(symbols, stable(e), modules=["scipy", "numpy"])
    return {"symbols": (a, r, k, x), "log_ratio": log_ratio, "divergence": divergence,
            "by_log": numeric(by_log), "by_x": numeric(by_x), "constant": numeric(constant),
            "divergence_numeric": numeric(divergence),
            "divergence_slopes": numeric(sympy.Matrix([divergence.diff(a), divergence.diff(r)]))}


def derived_log_ratio():
    """``(expression, (a, r, k, x))``: the SymPy log-likelihood ratio of one value (:func:`_derived`)."""
    found = _derived()
    return found["log_ratio"], found["symbols"]


def derived_divergence():
    """``(expression, (a, r, k, x))``: the SymPy Kullback-Leibler divergence of ``Gamma(a)`` of rate
    ``r`` from ``Gamma(k)`` of rate 1 (:func:`_derived`)."""
    found = _derived()
    return found["divergence"], found["symbols"]


Proposal = tuple[tuple[float, float], ...]  # (shape, rate) per component


def _unpack(z: np.ndarray) -> list[tuple[float, float]]:
    return [(math.exp(z[2 * j]), math.exp(z[2 * j + 1])) for j in range(len(z) // 2)]


def _offset_and_variance(law: Sequence[tuple[float, float]], shapes: Sequence[float],
                         coefs: Sequence[float]) -> tuple[float, float]:
    """How far the mean of one trial's ``d`` under ``law`` lies from its untilted mean, and its
    variance there (a Gamma law of shape ``a`` and rate ``r`` has mean ``a / r``, variance ``a / r^2``)."""
    mean = sum(c * a / r for (a, r), c in zip(law, coefs))
    variance = sum(c * c * a / (r * r) for (a, r), c in zip(law, coefs))
    return mean - sum(k * c for k, c in zip(shapes, coefs)), variance


def edge_distance(law: Sequence[tuple[float, float]], shapes: Sequence[float], coefs: Sequence[float],
                  size: int) -> float:
    """How many of its own standard errors (of a look of ``size`` trials) the mean of ``d`` under
    ``law`` (``(shape, rate)`` per component) lies from its untilted mean, signed."""
    offset, variance = _offset_and_variance(law, shapes, coefs)
    return offset * math.sqrt(size / variance)


def divergence(law: Sequence[tuple[float, float]], shapes: Sequence[float]) -> float:
    """The Kullback-Leibler divergence per trial of ``law`` from the untilted Gamma laws of ``shapes``."""
    kl = _derived()["divergence_numeric"]
    return float(sum(kl(a, r, k) for (a, r), k in zip(law, shapes)))


def _divergence_gradient(z: np.ndarray, shapes: Sequence[float]) -> np.ndarray:
    """The gradient of :func:`divergence` in log shape and log rate (the derived slopes, chained)."""
    slopes = _derived()["divergence_slopes"]
    return np.concatenate([np.ravel(slopes(a, r, k)) * (a, r) for (a, r), k in zip(_unpack(z), shapes)])


def _edge_gradient(z: np.ndarray, shapes: Sequence[float], coefs: Sequence[float], size: int) -> np.ndarray:
    """The gradient of :func:`edge_distance` in log shape and log rate."""
    law = _unpack(z)
    offset, variance = _offset_and_variance(law, shapes, coefs)
    grad = []
    for (a, r), c in zip(law, coefs):
        for d_mean, d_variance in ((c * a / r, c * c * a / (r * r)), (-c * a / r, -2 * c * c * a / (r * r))):
            grad.append(math.sqrt(size) * (d_mean / math.sqrt(variance)
                                           - offset * d_variance / (2 * variance ** 1.5)))
    return np.array(grad)


@lru_cache(maxsize=None)
def proposal(shapes: tuple[float, ...], coefs: tuple[float, ...], size: int, alpha: float,
             side: str) -> Proposal:
    """The proposal for misses on ``side`` of an interval at level ``1 - alpha`` from ``size``
    trials: per component a Gamma law, the closest (:func:`divergence`) whose mean of ``d`` lies one
    Student-t arm of its own standard error from the truth (:func:`edge_distance`), found by SLSQP
    from the exponential tilt (:func:`tilt`) in log shape and log rate, with the derived gradients."""
    arm = signed_arm(size, alpha, side)
    t = tilt(shapes, coefs, edge_shift(shapes, coefs, size, alpha, side))
    start = np.array([v for k, c in zip(shapes, coefs) for v in (math.log(k), math.log(1 - t * c))])
    on_edge = {"type": "eq", "fun": lambda z: edge_distance(_unpack(z), shapes, coefs, size) - arm,
               "jac": lambda z: _edge_gradient(z, shapes, coefs, size)}
    # the look's divergence (size times the trial's) is of order arm^2 / 2 at every size: well scaled
    found = optimize.minimize(lambda z: size * divergence(_unpack(z), shapes), start, method="SLSQP",
                              jac=lambda z: size * _divergence_gradient(z, shapes),
                              constraints=[on_edge], options={"ftol": 1e-12, "maxiter": 500})
    law = _unpack(found.x)
    if not found.success or abs(edge_distance(law, shapes, coefs, size) - arm) > 1e-6 * abs(arm):
        raise RuntimeError(f"proposal: no Gamma law found at size {size}, alpha {alpha:g}, {side}: "
                           f"{found.message}")
    return tuple(law)


def draw_proposed(shapes: Sequence[float], law: Proposal, rows: int, size: int,
                  gen) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """``rows`` looks of ``size`` trials from ``law`` (float64, one look per row, one array per
    component), with each look's log-likelihood ratio of the untilted law to it: per component
    the derived coefficients times the look's sums of ``x`` and ``log x``, plus ``size`` times the
    constant (:func:`_derived`)."""
    found = _derived()
    values = tuple(coverage._gamma(a, rows, size, gen) / r for a, r in law)
    log_ratio = sum(found["by_x"](a, r, k) * v.sum(1) + found["by_log"](a, r, k) * np.log(v).sum(1)
                    + size * found["constant"](a, r, k) for v, (a, r), k in zip(values, law, shapes))
    if not np.all(np.isfinite(log_ratio)):
        raise FloatingPointError(f"draw_proposed: a look's likelihood ratio is not finite for {law}")
    return values, log_ratio


def weighted_sums(missed: np.ndarray, log_ratio: np.ndarray) -> np.ndarray:
    """``(sum w, sum w^2, misses, max w)`` of the weights ``w = exp(log_ratio)`` of the looks that
    ``missed`` (0 for the others): what a side's estimate, its standard error and its effective
    number are read from."""
    w = np.where(missed, np.exp(np.where(missed, log_ratio, 0.0)), 0.0)
    return np.array([w.sum(), (w * w).sum(), float(np.sum(missed)), w.max(initial=0.0)])


def _sides(estimator: str, values: tuple[np.ndarray, ...], truth: float, alpha: float,
           long_arm: str) -> tuple[np.ndarray, np.ndarray]:
    if estimator == "mean":
        return coverage.mean_sides(values[0], truth, alpha, long_arm)
    if estimator == "ratio":
        return coverage.ratio_sides(values[0], values[1], truth, alpha, long_arm=long_arm)
    raise ValueError(f"estimator must be mean or ratio; got {estimator!r}")


def _tilted_chunk(estimator: str, shapes: tuple[float, ...], sizing: str, level: float, side: str,
                  count: int, seed: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """The :func:`weighted_sums` of ``count`` replicates (chunk ``index``) of the interval of
    ``estimator`` at ``level``, one row per way of reading the long arm (:data:`TILTED_ARMS`,
    judged on the same looks), on looks drawn from the :func:`proposal` for ``side`` at each look's
    size, sized by ``sizing``; with the looks' sizes."""
    point = coverage._deep_point(estimator, shapes)
    coefs = coefficients(estimator, shapes)
    gen = generator(derive_seed(seed, "tilted", *point["stream"], sizing, level, side, index), "cpu")
    sizes = coverage.deep_look_sizes(estimator, shapes, sizing, count, point["floor"], gen)
    parts: list[list[np.ndarray]] = [[] for _ in TILTED_ARMS]
    for size, rows in zip(*np.unique(sizes, return_counts=True)):
        law = proposal(tuple(shapes), coefs, int(size), 1 - level, side)
        values, log_ratio = draw_proposed(shapes, law, int(rows), int(size), gen)
        for arm, found in zip(TILTED_ARMS, parts):
            missed = _sides(estimator, values, point["truth"], 1 - level, arm)[SIDES.index(side)]
            found.append(weighted_sums(missed, log_ratio))
    return np.array([combine(found) for found in parts]), sizes


def combine(parts: Sequence[Sequence[float]]) -> list[float]:
    """The :func:`weighted_sums` of several chunks as one: sums added, the largest weight kept."""
    added = lambda i: float(sum(p[i] for p in parts))
    return [added(0), added(1), int(added(2)), float(max(p[3] for p in parts))]


rows_read = coverage.rows_read  # the rows of a tilted scan read as one arm, as those of a counted scan


def verifier_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of a tilted scan that measured the verifier's intervals (its long arm read as
    :data:`stats.LONG_ARM`); the others measured another reading on the same looks."""
    return rows_read(rows, LONG_ARM)


def side_estimate(sums: Sequence[float], replicates: int) -> tuple[float, float]:
    """A side's miss rate and its standard error, from its :func:`weighted_sums` over ``replicates``."""
    total, squares = sums[0], sums[1]
    mean = total / replicates
    variance = max(squares / replicates - mean * mean, 0.0) * replicates / (replicates - 1)
    return mean, math.sqrt(variance / replicates)


def effective_number(sums: Sequence[float]) -> float:
    """Kish's effective number of replicates behind a side's estimate, ``(sum w)^2 / sum w^2``, from
    its :func:`weighted_sums` (0 where no look missed). At ``n`` or more no single replicate
    carries more than ``1 / sqrt(n)`` of the estimate."""
    total, squares = sums[0], sums[1]
    return total * total / squares if squares > 0 else 0.0


def judge_row(row: dict[str, Any], confidence: float = coverage.CONFIDENCE) -> dict[str, Any]:
    """``row`` (its sides' sums and replicates) with its miss rate, that rate's normal interval at
    ``confidence``, the coverage interval and the verdict: ``undecided`` where a side has fewer than
    ``MIN_ESS`` effective replicates (:func:`effective_number`), else :func:`coverage.judge_coverage`
    (so a stored scan is read by the current rule); with the largest share of a side's estimate one
    replicate carries."""
    replicates = row["replicates"]
    estimates = [side_estimate(row[f"sums_{side}"], replicates) for side in SIDES]
    rate = sum(e for e, _ in estimates)
    se = math.sqrt(sum(s * s for _, s in estimates))
    z = stats.norm.ppf(0.5 + confidence / 2)
    lo, hi = max(rate - z * se, 0.0), rate + z * se
    covered = Interval(1 - rate, 1 - hi, 1 - lo, replicates)
    effective = [effective_number(row[f"sums_{side}"]) for side in SIDES]
    word = "undecided" if min(effective) < MIN_ESS else coverage.judge_coverage(covered, row["nominal"])
    return {**row, "miss_rate": rate, "miss_se": se, "miss_ci": [lo, hi], "ci": [covered.lo, covered.hi],
            "verdict": word, **{f"miss_{side}": e for side, (e, _) in zip(SIDES, estimates)},
            **{f"hits_{side}": int(row[f"sums_{side}"][2]) for side in SIDES},
            **{f"ess_{side}": e for side, e in zip(SIDES, effective)},
            "largest_share": max(row[f"sums_{side}"][3] / row[f"sums_{side}"][0] if row[f"sums_{side}"][0] > 0
                                 else 1.0 for side in SIDES)}


# significant digits a recorded proposal keeps. SLSQP stops at ftol 1e-12, and a tighter tolerance
# moves the laws by up to about 1e-7 relative, so digits from about the 7th can move with another
# SciPy or BLAS: a stored scan then reads stale though its proposals are the same (the safe side: it
# is run again).
PROPOSAL_DIGITS = 10


def floor_proposals(mean_shapes: Sequence[float] = coverage.DEEP_SHAPES,
                    ratio_shapes: tuple[float, float] | None = coverage.DEEP_RATIO_SHAPES,
                    levels: Sequence[float] = TILTED_LEVELS) -> list[dict[str, Any]]:
    """The :func:`proposal` of each point, level and side at the point's floor look, ``(shape,
    rate)`` per component to ``PROPOSAL_DIGITS`` significant digits: what a scan's configuration
    records, so that a change to how the proposal is found stales a stored scan."""
    found = []
    for estimator, shapes in _points(mean_shapes, ratio_shapes):
        point = coverage._deep_point(estimator, shapes)
        for level in levels:
            for side in SIDES:
                law = proposal(shapes, coefficients(estimator, shapes), point["floor"], 1 - level, side)
                found.append({"point": point["where"], "trials": point["floor"], "nominal": level,
                              "side": side,
                              "law": [[float(f"{v:.{PROPOSAL_DIGITS}g}") for v in component]
                                      for component in law]})
    return found


def tilted_config() -> dict[str, Any]:
    """Everything a stored tilted scan's rows depend on besides its seed and replicates."""
    return {"levels": list(TILTED_LEVELS), "mean_shapes": list(coverage.DEEP_SHAPES),
            "ratio_shapes": list(coverage.DEEP_RATIO_SHAPES), "sizings": list(coverage.DEEP_SIZINGS),
            "chunk": TILTED_CHUNK, "pilot_trials": PILOT_TRIALS, "case_first": coverage.CASE_FIRST,
            "trials_per_skew2": coverage.TRIALS_PER_SKEW2, "trials_per_kurt": coverage.TRIALS_PER_KURT,
            "skew_salience": coverage.SKEW_SALIENCE, "mean_interval": coverage.MEAN_LABEL,
            "proposal": "the closest Gamma law per component whose mean of d lies one Student-t arm of its "
                        "own standard error out",
            "proposals_at_floor": floor_proposals(),
            "ratio_interval": coverage.RATIO_LABEL, "unresolved_skew": coverage.UNRESOLVED_SKEW,
            "long_arms": list(TILTED_ARMS), "high_reading": HIGH_READING}


# Entries a stored configuration may hold that the current one does not: the first runs described
# one reading of the long arm in words. The readings are named in ``long_arms``; what each computes
# is pinned by the unit tests of ``stats._reading``, and the tests rerun the stored scan's first and
# last chunks at its deepest level with its seed (the mean at one shape from the floor look, the
# ratio from both looks), every reading among them. No entry the current configuration records may
# be listed here (a test checks), or a change to it would not mark a stored scan stale.
UNREAD: tuple[str, ...] = ("long_arm_high",)


def scan_current(report: dict[str, Any] | None) -> bool:
    """Whether ``report`` holds a tilted scan run with the current :func:`tilted_config`, in every
    entry but :data:`UNREAD`'s."""
    if not report or "tilted_config" not in report:
        return False
    return coverage.config_matches(report["tilted_config"], tilted_config(), UNREAD)


def scan_counts(estimator: str, shapes: tuple[float, ...], sizing: str, replicates: int,
                chunk: int = TILTED_CHUNK) -> list[int]:
    """The replicates of each chunk of a tilted scan's point and sizing, for each level and side:
    about ``chunk`` values a chunk at the floor's look (pilots included for the rule)."""
    floor = coverage._deep_point(estimator, shapes)["floor"]
    per = chunk // (len(shapes) * (floor + (PILOT_TRIALS if sizing == "rule" else 0)))
    return coverage.chunk_counts(replicates, max(1, per))


def _points(mean_shapes: Sequence[float],
            ratio_shapes: tuple[float, float] | None) -> list[tuple[str, tuple]]:
    points = [("mean", (float(k),)) for k in mean_shapes]
    return points + ([("ratio", tuple(float(k) for k in ratio_shapes))] if ratio_shapes else [])


def tilted_scan(replicates: int, seed: int = 0, levels: Sequence[float] = TILTED_LEVELS,
                mean_shapes: Sequence[float] = coverage.DEEP_SHAPES,
                ratio_shapes: tuple[float, float] | None = coverage.DEEP_RATIO_SHAPES,
                sizings: Sequence[str] = coverage.DEEP_SIZINGS, workers: int = 1, progress: bool = False,
                chunk: int = TILTED_CHUNK) -> list[dict[str, Any]]:
    """Miss rates of the verifier's mean interval on Gamma(k) values for each k of ``mean_shapes``
    and of its ratio interval on the means of Gamma(``ratio_shapes``) pairs, with the long arm read
    each way of :data:`TILTED_ARMS` on the same looks, at ``levels``, for each of ``sizings``
    (as :func:`coverage.deep_scan`): per side and level ``replicates`` tilted looks
    (:func:`_tilted_chunk`), in chunks of about ``chunk`` values, each seeded by its point, sizing,
    level, side and index, so ``workers`` processes give the same rows as one. One row per point,
    sizing, level and reading (``long_arm``; :func:`judge_row`), with each side's sums and its chunks' sums
    (``chunk_sums_below``, ``chunk_sums_above``, in the order of :func:`coverage.chunk_counts`), so
    that one chunk can be rerun alone."""
    coverage._check_deep(replicates, sizings)
    rows = []
    for estimator, shapes in _points(mean_shapes, ratio_shapes):
        point = coverage._deep_point(estimator, shapes)
        for sizing in sizings:
            counts = scan_counts(estimator, shapes, sizing, replicates, chunk)
            jobs = [(estimator, shapes, sizing, level, side, count, seed, index)
                    for level in levels for side in SIDES for index, count in enumerate(counts)]
            started = time.perf_counter()
            results = coverage._run_chunks(_tilted_chunk, jobs, counts * len(levels) * len(SIDES), workers,
                                           progress, f"tilted {point['where']}, {sizing}")
            seconds = round(time.perf_counter() - started, 3)
            looks = np.concatenate([z for _, z in results])
            quartiles = [int(q) for q in np.quantile(looks, (.25, .5, .75))]
            for i, level in enumerate(levels):
                mine = results[i * len(SIDES) * len(counts):(i + 1) * len(SIDES) * len(counts)]
                for a, arm in enumerate(TILTED_ARMS):
                    sums = {}
                    for s, side in enumerate(SIDES):
                        parts = [p[a] for p, _ in mine[s * len(counts):(s + 1) * len(counts)]]
                        sums[f"sums_{side}"] = combine(parts)
                        sums[f"chunk_sums_{side}"] = [combine([p]) for p in parts]
                    row = {"interval": point["label"], "long_arm": arm, "point": point["where"],
                           "sizing": sizing, "trials": int(np.median(looks)), "truth": point["truth"],
                           "nominal": level, "replicates": replicates, "first_look_quartiles": quartiles,
                           "seconds": seconds}
                    rows.append(judge_row({**row, **sums}))
    return rows


def print_rows(rows: Sequence[dict[str, Any]]) -> None:
    for r in rows:
        print(f"tilted: {r['interval'].split(' (')[0]:14s} {r['long_arm']:6s} {r['point']:55s} "
              f"{r['sizing']:5s} "
              f"T={r['trials']:<5d} nominal miss {1 - r['nominal']:.0e}: {r['miss_rate']:.3g} "
              f"[{r['miss_ci'][0]:.3g}, {r['miss_ci'][1]:.3g}] (below {r['miss_below']:.2g}, above "
              f"{r['miss_above']:.2g}; effective replicates {r['ess_below']:.0f}/{r['ess_above']:.0f}, "
              f"largest share {r['largest_share']:.2g}) {r['verdict']}")


def brute_force_pairs(rows: Sequence[dict[str, Any]],
                      counted: Sequence[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The rows of a tilted scan beside the rows of a deep scan (``counted``, judged by
    :func:`coverage.judged_by`) that measured the same interval, reading of the long arm, point, look
    and level by counting."""
    key = lambda r: (r["interval"], r["long_arm"], r["point"], r["sizing"], r["nominal"])
    found = {key(r): r for r in counted}
    return [(r, found[key(r)]) for r in rows if key(r) in found]


def overlap(row: dict[str, Any], counted: dict[str, Any]) -> bool:
    """Whether the miss-rate intervals of a tilted row and of the counted row beside it overlap."""
    return row["miss_ci"][0] <= 1 - counted["ci"][0] and 1 - counted["ci"][1] <= row["miss_ci"][1]


def largest_excess(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The judged row (:func:`judge_row`) whose upper limit of the miss rate lies highest over its
    nominal miss rate, among the rows that decide (``None`` if none does)."""
    decided = [r for r in rows if r["verdict"] != "undecided"]
    return max(decided, key=lambda r: r["miss_ci"][1] / (1 - r["nominal"]), default=None)


def pooled_agreement(pairs: Sequence[tuple[dict[str, Any], dict[str, Any]]],
                     nominal: float) -> dict[str, float]:
    """The counted misses of the deep scans' rows at ``nominal`` beside the misses the tilted rows
    beside them predict (their miss rate times the counted replicates), summed over the pairs, with
    the z-score of the difference (the counts Poisson, the predictions' standard errors added); no
    pairs and a z of NaN where no counted row shares the level."""
    at = [(r, c) for r, c in pairs if r["nominal"] == nominal]
    if not at:  # no counted row at this level
        return {"pairs": 0, "counted": 0, "predicted": 0.0, "z": math.nan}
    counted = sum(c["replicates"] - c["covered"] for _, c in at)
    predicted = sum(r["miss_rate"] * c["replicates"] for r, c in at)
    spread = math.sqrt(predicted + sum((r["miss_se"] * c["replicates"]) ** 2 for r, c in at))
    return {"pairs": len(at), "counted": counted, "predicted": predicted, "z": (counted - predicted) / spread}


def chunk_dispersion(rows: Sequence[dict[str, Any]], config: dict[str, Any]) -> dict[str, float]:
    """:func:`dispersion` of the rows of a stored tilted scan, ``config`` its ``tilted_config``."""
    points = {coverage._deep_point(estimator, shapes)["where"]: (estimator, shapes)
              for estimator, shapes in _points(config["mean_shapes"], tuple(config["ratio_shapes"]))}
    return dispersion(rows, lambda r: scan_counts(*points[r["point"]], r["sizing"], r["replicates"],
                                                  config["chunk"]))


def dispersion(rows: Sequence[dict[str, Any]],
               counts_of: Callable[[dict[str, Any]], Sequence[int]]) -> dict[str, float]:
    """Whether the chunks of a stored scan's sides agree with one another and with their counts:
    per side, ``sum_c (S_c - n_c p)^2 / (n_c sigma^2)`` over its chunks (``S_c`` a chunk's weighted
    sum of ``n_c`` replicates, ``counts_of(row)`` in chunk order, ``p`` and ``sigma^2`` the side's
    estimate and per-replicate variance), about chi-squared with one degree fewer than the chunks
    where the chunks are interchangeable; pooled over every side of ``rows``, with its degrees of
    freedom and upper tail probability. Since ``sigma^2`` is read from the same weights, it cannot
    see a weight larger than any drawn: it checks the chunks' consistency (a chunk misaligned with
    its count, or a stream that drifts), not whether the standard errors are understated. The rows
    must read the long arm one way: two readings share their looks (and on a side where they agree
    their sums), so pooling both would count those twice."""
    if len({r.get("long_arm") for r in rows}) > 1:
        raise ValueError("chunk_dispersion: rows of one reading of the long arm only (tilted.verifier_rows)")
    q, df = 0.0, 0
    for r in rows:
        counts = counts_of(r)
        for side in SIDES:
            p, se = side_estimate(r[f"sums_{side}"], r["replicates"])
            variance = se * se * r["replicates"]  # per replicate
            chunks = r[f"chunk_sums_{side}"]
            if variance <= 0 or len(chunks) < 2:
                continue
            q += sum((c[0] - n * p) ** 2 / (n * variance) for c, n in zip(chunks, counts, strict=True))
            df += len(chunks) - 1
    return {"q": q, "df": df, "p": float(stats.chi2.sf(q, df)) if df else math.nan}
