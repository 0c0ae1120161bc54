"""Miss rates of the verifier's mean and ratio intervals below 1e-6, by importance sampling.

The deep scans of :mod:`pavlov_theory.coverage` count misses among millions of replicates, so
they stop at a miss rate of 1e-6, above the per-look level of every scale. On the same synthetic
Gamma laws a miss can be made common instead of waited for. Each look is drawn from the law
*exponentially tilted* toward one edge of the interval, where about half the looks miss, and a
miss is weighted by the likelihood ratio of its look. For independent Gamma components that ratio
depends on the look's sum alone, so it costs nothing to compute. The weighted count is an
unbiased estimate of the miss rate of the untilted law on that side, at any level, and its
standard error comes from the same weights.

The studentized values are ``d = sum_j c_j X_j`` with ``X_j ~ Gamma(k_j)`` (rate 1): ``c = (1,)``
for a mean, ``c = (1, -theta)`` for a ratio of means at its true ``theta``. Tilting the joint law
by ``exp(t d)`` leaves each component a Gamma law, of rate ``1 - t c_j``; the log-likelihood ratio
of a look of ``m`` trials is ``m K(t) - t sum(d)``, with ``K`` the cumulant generating function
of ``d`` (:func:`cgf`). The tilt moves the mean of ``d`` by ``shift = +-q sigma / sqrt(m)`` (the
interval's Student-t arm at the look's size, ``sigma`` the standard deviation of ``d``), which
puts the tilted law on the edge where a look begins to miss (:func:`tilt`).

A look's size is the floor (the engine's rules at the law's exact moments) or what the rule reads
from an untilted pilot of its own, as in the deep scans; the pilot is independent of the look, so
the weights concern the look alone. The miss rate's interval is the normal one of the weighted
mean (its weights are bounded on the miss event, so its variance is finite); a row whose tilted
looks miss too rarely on a side, or whose estimate one replicate dominates, says nothing of its
level (``undecided``). Otherwise a row is judged by the one rule of every coverage table
(:func:`coverage.judge_coverage`). Run ``python -m pavlov_theory.coverage --tilted R``.
"""
from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
from scipy import optimize, stats

from . import coverage
from .engine import PILOT_TRIALS, first_looks, studentized_values
from .sampling import derive_seed, generator
from .stats import Interval

TILTED_LEVELS: tuple[float, ...] = (1 - 1e-4, 1 - 1e-5, 1 - 1e-6, 1 - 1e-7, 1 - 1e-8)
MIN_HITS = 100  # tilted misses a side needs before its estimate is read
MAX_SHARE = 0.05  # the largest share of a side's estimate one replicate may carry
SIDES: tuple[str, ...] = ("below", "above")  # where the interval lies against the truth
TILTED_CHUNK = 2**21  # values drawn at once


def coefficients(estimator: str, shapes: Sequence[float]) -> tuple[float, ...]:
    """The ``c_j`` of the studentized values ``d = sum_j c_j X_j`` of ``estimator`` on Gamma
    components of ``shapes``: the value itself for a mean, ``num - theta den`` at the true ratio."""
    if estimator == "mean":
        return (1.0,)
    return (1.0, -shapes[0] / shapes[1])


def cgf(t: float, shapes: Sequence[float], coefs: Sequence[float]) -> float:
    """``K(t) = log E exp(t d)`` for ``d = sum_j c_j X_j``, ``X_j ~ Gamma(k_j)`` of rate 1 (finite
    where every ``1 - t c_j`` is positive)."""
    return -sum(k * math.log1p(-t * c) for k, c in zip(shapes, coefs))


def cgf_slope(t: float, shapes: Sequence[float], coefs: Sequence[float]) -> float:
    """``K'(t)``: the mean of ``d`` under the law tilted by ``exp(t d)``."""
    return sum(k * c / (1 - t * c) for k, c in zip(shapes, coefs))


def _domain(coefs: Sequence[float]) -> tuple[float, float]:
    """The open interval of ``t`` where every tilted rate ``1 - t c_j`` is positive."""
    lo = max((1 / c for c in coefs if c < 0), default=-math.inf)
    hi = min((1 / c for c in coefs if c > 0), default=math.inf)
    return lo, hi


def tilt(shapes: Sequence[float], coefs: Sequence[float], shift: float) -> float:
    """The ``t`` whose tilted law moves the mean of ``d`` by ``shift`` (``K'(t) = K'(0) + shift``)."""
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
    """How far the tilt moves the mean of ``d`` for misses on ``side`` of an interval at level
    ``1 - alpha`` from ``size`` trials: one Student-t arm of its standard error, down for ``below``
    (the interval lies below the truth when ``d`` reads low), up for ``above``."""
    sigma = math.sqrt(sum(k * c * c for k, c in zip(shapes, coefs)))
    arm = stats.t.ppf(1 - alpha / 2, size - 1) * sigma / math.sqrt(size)
    return -arm if side == "below" else arm


def draw_tilted(shapes: Sequence[float], coefs: Sequence[float], t: float, rows: int, size: int,
                gen) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """``rows`` looks of ``size`` trials from the law tilted by ``exp(t d)`` (float64, one look per
    row, one array per component), with each look's log-likelihood ratio of the untilted law to it,
    ``size K(t) - t sum(d)``."""
    values = tuple(coverage._gamma(k, rows, size, gen) / (1 - t * c) for k, c in zip(shapes, coefs))
    d_sum = sum(c * v for c, v in zip(coefs, values)).sum(1)
    return values, size * cgf(t, shapes, coefs) - t * d_sum


def weighted_sums(missed: np.ndarray, log_ratio: np.ndarray) -> np.ndarray:
    """``(sum w, sum w^2, misses, max w)`` of the weights ``w = exp(log_ratio)`` of the looks that
    ``missed`` (0 for the others): what a side's estimate and its standard error are read from."""
    w = np.where(missed, np.exp(np.where(missed, log_ratio, 0.0)), 0.0)
    return np.array([w.sum(), (w * w).sum(), float(np.sum(missed)), w.max(initial=0.0)])


def _sides(estimator: str, values: tuple[np.ndarray, ...], truth: float,
           alpha: float) -> tuple[np.ndarray, np.ndarray]:
    if estimator == "mean":
        return coverage.mean_sides(values[0], truth, alpha)
    return coverage.ratio_sides(values[0], values[1], truth, alpha)


def _tilted_chunk(estimator: str, shapes: tuple[float, ...], sizing: str, level: float, side: str,
                  count: int, seed: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """The :func:`weighted_sums` of ``count`` replicates (chunk ``index``) of the interval of
    ``estimator`` at ``level``, on looks tilted toward ``side``, sized by ``sizing``; with the
    looks' sizes."""
    point = coverage._deep_point(estimator, shapes)
    coefs = coefficients(estimator, shapes)
    gen = generator(derive_seed(seed, "tilted", *point["stream"], sizing, level, side, index), "cpu")
    if sizing == "floor":
        sizes = np.full(count, point["floor"])
    else:
        pilots = tuple(coverage._gamma(k, count, PILOT_TRIALS, gen) for k in shapes)
        sizes = first_looks(coverage.CASE_FIRST, studentized_values(estimator, pilots))
    sums = np.zeros(4)
    for size, rows in zip(*np.unique(sizes, return_counts=True)):
        t = tilt(shapes, coefs, edge_shift(shapes, coefs, int(size), 1 - level, side))
        values, log_ratio = draw_tilted(shapes, coefs, t, int(rows), int(size), gen)
        missed = _sides(estimator, values, point["truth"], 1 - level)[SIDES.index(side)]
        part = weighted_sums(missed, log_ratio)
        sums = np.array([sums[0] + part[0], sums[1] + part[1], sums[2] + part[2], max(sums[3], part[3])])
    return sums, sizes


def combine(parts: Sequence[Sequence[float]]) -> list[float]:
    """The :func:`weighted_sums` of several chunks as one: sums added, the largest weight kept."""
    return [float(sum(p[0] for p in parts)), float(sum(p[1] for p in parts)), int(sum(p[2] for p in parts)),
            float(max(p[3] for p in parts))]


def side_estimate(sums: Sequence[float], replicates: int) -> tuple[float, float]:
    """A side's miss rate and its standard error, from its :func:`weighted_sums` over ``replicates``."""
    total, squares = sums[0], sums[1]
    mean = total / replicates
    variance = max(squares / replicates - mean * mean, 0.0) * replicates / (replicates - 1)
    return mean, math.sqrt(variance / replicates)


def judge_row(row: dict[str, Any], confidence: float = coverage.CONFIDENCE) -> dict[str, Any]:
    """``row`` (its sides' sums and replicates) with its miss rate, that rate's normal interval at
    ``confidence``, the coverage interval and the verdict: ``undecided`` where a side missed fewer
    than ``MIN_HITS`` times or one replicate carries more than ``MAX_SHARE`` of a side's estimate,
    else :func:`coverage.judge_coverage` (so a stored scan is read by the current rule)."""
    replicates = row["replicates"]
    estimates = [side_estimate(row[f"sums_{side}"], replicates) for side in SIDES]
    rate = sum(e for e, _ in estimates)
    se = math.sqrt(sum(s * s for _, s in estimates))
    z = stats.norm.ppf(0.5 + confidence / 2)
    lo, hi = max(rate - z * se, 0.0), rate + z * se
    covered = Interval(1 - rate, 1 - hi, 1 - lo, replicates)
    hits = [int(row[f"sums_{side}"][2]) for side in SIDES]
    share = max(row[f"sums_{side}"][3] / row[f"sums_{side}"][0] if row[f"sums_{side}"][0] > 0 else 1.0
                for side in SIDES)
    thin = min(hits) < MIN_HITS or share > MAX_SHARE
    word = "undecided" if thin else coverage.judge_coverage(covered, row["nominal"])
    return {**row, "miss_rate": rate, "miss_se": se, "miss_ci": [lo, hi], "ci": [covered.lo, covered.hi],
            "hits_below": hits[0], "hits_above": hits[1], "largest_share": share, "verdict": word,
            **{f"miss_{side}": e for side, (e, _) in zip(SIDES, estimates)}}


def tilted_config() -> dict[str, Any]:
    """Everything a stored tilted scan's rows depend on besides its seed and replicates."""
    return {"levels": list(TILTED_LEVELS), "mean_shapes": list(coverage.DEEP_SHAPES),
            "ratio_shapes": list(coverage.DEEP_RATIO_SHAPES), "sizings": list(coverage.DEEP_SIZINGS),
            "chunk": TILTED_CHUNK, "pilot_trials": PILOT_TRIALS, "case_first": coverage.CASE_FIRST,
            "trials_per_skew2": coverage.TRIALS_PER_SKEW2, "trials_per_kurt": coverage.TRIALS_PER_KURT,
            "skew_salience": coverage.SKEW_SALIENCE, "mean_interval": coverage.MEAN_LABEL,
            "ratio_interval": coverage.RATIO_LABEL, "unresolved_skew": coverage.UNRESOLVED_SKEW}


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
    and of its ratio interval on the means of Gamma(``ratio_shapes``) pairs, at ``levels``, for
    each of ``sizings`` (as :func:`coverage.deep_scan`): per side and level ``replicates`` tilted
    looks (:func:`_tilted_chunk`), in chunks of about ``chunk`` values, each seeded by its point,
    sizing, level, side and index, so ``workers`` processes give the same rows as one. One row per
    point, sizing and level (:func:`judge_row`), with each side's sums and its chunks' sums
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
                sums = {}
                for s, side in enumerate(SIDES):
                    parts = [p for p, _ in mine[s * len(counts):(s + 1) * len(counts)]]
                    sums[f"sums_{side}"] = combine(parts)
                    sums[f"chunk_sums_{side}"] = [combine([p]) for p in parts]
                rows.append(judge_row({"interval": point["label"], "point": point["where"], "sizing": sizing,
                                       "trials": int(np.median(looks)), "truth": point["truth"],
                                       "nominal": level, "replicates": replicates,
                                       "first_look_quartiles": quartiles, "seconds": seconds, **sums}))
    return rows


def print_rows(rows: Sequence[dict[str, Any]]) -> None:
    for r in rows:
        print(f"tilted: {r['interval'].split(' (')[0]:14s} {r['point']:55s} {r['sizing']:5s} "
              f"T={r['trials']:<5d} "
              f"nominal miss {1 - r['nominal']:.0e}: {r['miss_rate']:.3g} [{r['miss_ci'][0]:.3g}, "
              f"{r['miss_ci'][1]:.3g}] (below {r['miss_below']:.2g}, above {r['miss_above']:.2g}; hits "
              f"{r['hits_below']}/{r['hits_above']}, largest share {r['largest_share']:.2g}) {r['verdict']}")
