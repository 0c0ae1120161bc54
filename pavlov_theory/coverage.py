"""Coverage of the verifier's confidence intervals, measured.

Every interval kind of :mod:`pavlov_theory.stats` is rerun many times with fresh seeds at
parameter points where its true value is known, at nominal levels where misses are observable
(95% and 99%), and the observed coverage is reported with its own Clopper-Pearson interval. The
points include the most skewed ones the verifier meets: small ``d_k`` and few trials, where the
per-trial noise power is a product of chi-squares; the centred DPFP feature map, whose per-trial
powers are heavier-tailed still; and the ratio ``(g0 - g)/g0`` the generalisation gradient reads
its decay from. There the skewness-corrected t interval and the test-inversion (Fieller) ratio
interval lean on the central limit theorem hardest.

True values come from the project's derivations (``noise_power`` and ``snr`` of Theorem 6, the
feature maps' SNR, the linear response ``1 - D^2/2``, all exact claims) or from the
data-generating law itself (a Bernoulli probability, a known exponent). An interval
*undercovers* when the upper limit of its observed coverage lies below the nominal level,
*overcovers* when the lower limit lies above it (:func:`verdict`, the one rule for every table).

Mean and ratio intervals are measured at the first look the engine grants a check
(:func:`engine.first_look`, sized from a pilot's skewness): from fewer trials they undercover at the
skewed points. The first-look scan (:func:`first_look_scan`) measures the ratio interval at the most
skewed point by the number of trials, at levels down to 99.99%; :data:`engine.TRIALS_PER_SKEW2`
times the point's squared skewness (:func:`calibration`) grants at least the size that interval
needs there, whichever way it reads a skewness that stands out (:data:`stats.LONG_ARMS`; the
verifier's, :data:`stats.LONG_ARM`, lengthens both arms) (:func:`margin`), and :func:`rule_scan`
measures the coverage the whole rule gives, pilot included.
The skewness of a symmetric heavy-tailed law reads as noise, so the rule also sizes by the excess
kurtosis: :func:`heavy_scan` measures the mean interval by size at a synthetic Student-t point
(``HEAVY_POINT``, not a point the verifier meets), and that size, for the interval the constant was
set on (counted beside the current one), over its excess kurtosis is :data:`engine.TRIALS_PER_KURT`.
Stored runs of these scans are in ``book/measured``.

Run ``python -m pavlov_theory.coverage [--replicates R] [--first-look R] [--rule R] [--heavy R]
[--calibrate] [--out PATH]`` for the tables (at least ``MIN_REPLICATES`` replicates per case); the
book's statistics chapter runs a smaller version of the same functions.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np
import torch

from . import judges
from .device import rows_per_chunk
from .engine import (
    PILOT_TRIALS,
    TRIALS_PER_KURT,
    TRIALS_PER_SKEW2,
    first_look,
    first_looks,
    look_for_moments,
    studentized_values,
)
from .sampling import derive_seed, generator
from .stats import (
    HIGH_READING,
    LONG_ARM,
    LONG_ARMS,
    SKEW_SALIENCE,
    Interval,
    fit_power_law,
    limit_skews,
    mean_ci,
    proportion_ci,
    ratio_of_means_ci,
    ratio_skew_reading,
    ratio_test,
    sequential,
    skew_corrected_limits,
    skew_readings,
    skewness,
    studentized_limits,
)

LEVELS: tuple[float, ...] = (0.95, 0.99)
MEAN_LABEL = "mean (t, skew corrected, widened where unresolved)"
RATIO_LABEL = "ratio of means (corrected Fieller)"
# how both intervals treat a skewness that does not stand out (part of what a stored scan depends on)
UNRESOLVED_SKEW = "arms lengthened by the first-order shift at skewness_upper"
# how the book names each reading of a skewness that stands out (stats.LONG_ARMS): a table column's
# title, and the words that follow "with" in prose
READING_TITLES: dict[str, str] = {"sample": "long arm from the sample", "high": "long arm alone lengthened",
                                  "both": "both arms lengthened"}
READING_WORDS: dict[str, str] = {"sample": "its long arm read from the sample skewness alone",
                                 "high": "its long arm alone lengthened", "both": "both its arms lengthened"}
CONFIDENCE = 0.95  # of the interval around an observed coverage
MIN_REPLICATES = 400  # per case: fewer cannot tell a 95% interval from a 92% one
CASE_FIRST = 64  # the first look the measured mean and ratio cases ask for (the skew rule sizes theirs)
DTYPE = torch.float32  # what the verifier's runs use


@dataclass(frozen=True)
class Case:
    """One estimator at one point: ``run(generator, alpha)`` draws fresh data and returns the
    interval at level ``1 - alpha`` for every alpha of ``alphas`` (the same data for each)."""

    interval: str
    point: str
    trials: int
    truth: float
    run: Callable[[torch.Generator, Sequence[float]], list[Interval]]
    sizes: list[int] | None = None  # first looks the skew rule chose, one per replicate (ruled cases)


@lru_cache(maxsize=None)
def _law(dist: str):
    from .proofs import capacity as proof

    return proof.signal_noise(dist)


def _signal_noise(params: dict[str, Any], trials: int, gen: torch.Generator):
    from .simulations.capacity import SIGNAL_NOISE

    return SIGNAL_NOISE(params, trials, gen, DTYPE)


def signal_noise_bytes(params: dict[str, Any]) -> int:
    """The memory one trial of :func:`_signal_noise` takes at ``params``, by the kernel's own bound."""
    from .simulations.capacity import SIGNAL_NOISE

    return SIGNAL_NOISE.bytes_per_trial(params, torch.finfo(DTYPE).bits // 8)


RULE_DRAW_BUDGET = 256 * 2**20  # bytes one draw of a rule scan may hold (its looks sum to millions of trials)


def _signal_noise_within(params: dict[str, Any], trials: int, gen: torch.Generator,
                         budget: int = RULE_DRAW_BUDGET) -> tuple[np.ndarray, ...]:
    """:func:`_signal_noise` of ``trials`` trials from ``gen``, drawn in consecutive pieces that each
    fit ``budget`` bytes (the kernel's own bound per trial), and concatenated."""
    piece = rows_per_chunk(signal_noise_bytes(params), budget)
    parts = [_signal_noise(params, min(piece, trials - start), gen) for start in range(0, trials, piece)]
    return tuple(np.concatenate(column) for column in zip(*parts))


def _point(d_k: int, n: int, dist: str, d_v: int = 64) -> dict[str, Any]:
    return {"d_k": d_k, "n": n, "d_v": d_v, "key_dist": dist}


def ruled(powers: Callable[[int, torch.Generator], tuple[np.ndarray, ...]], estimator: str, first: int,
          interval: Callable[[tuple[np.ndarray, ...], float], Interval]) -> tuple[Callable, list[int]]:
    """A replicate as a check runs it: a pilot of ``PILOT_TRIALS`` trials, a first look of the size
    :func:`engine.first_look` reads from it (at least ``first``), and the interval on that look.
    Returns the run function and the list the chosen sizes are appended to."""
    sizes: list[int] = []

    def run(gen: torch.Generator, alphas: Sequence[float]) -> list[Interval]:
        size = first_look(estimator, first, powers(PILOT_TRIALS, gen))
        sizes.append(size)
        samples = powers(size, gen)
        return [interval(samples, a) for a in alphas]

    return run, sizes


def mean_case(d_k: int, n: int, dist: str, first: int) -> Case:
    """Skew-corrected t interval for the mean noise power of retrieval (truth: the derived
    ``noise_power``), from a first look sized by the skew rule (at least ``first`` trials)."""
    params = _point(d_k, n, dist)
    truth = _law(dist).evaluate("noise_power", **params)
    run, sizes = ruled(lambda size, gen: _signal_noise(params, size, gen)[1:], "mean", first,
                       lambda x, a: mean_ci(x[0], a))
    where = f"noise power, {dist} keys, d_k={d_k}, n={n}"
    return Case(MEAN_LABEL, where, first, truth, run, sizes)


def ratio_case(d_k: int, n: int, dist: str, first: int) -> Case:
    """Test-inversion (Fieller, skewness-corrected) interval of :func:`stats.ratio_of_means_ci`
    for signal over noise power (truth: the derived ``snr``), from a first look sized by the skew
    rule (at least ``first`` trials)."""
    params = _point(d_k, n, dist)
    truth = _law(dist).evaluate("snr", **params)
    run, sizes = ruled(lambda size, gen: _signal_noise(params, size, gen), "ratio", first,
                       lambda x, a: ratio_of_means_ci(x[0], x[1], a))
    where = f"SNR, {dist} keys, d_k={d_k}, n={n}"
    return Case(RATIO_LABEL, where, first, truth, run, sizes)


@lru_cache(maxsize=None)
def _feature_law():
    from .proofs import softmax as proof

    return proof.feature_maps()


def _feature_point(phi: str, centre: bool, d_k: int, n: int, d_v: int = 16) -> dict[str, Any]:
    point = {"phi": phi, "d_k": d_k, "n": n, "d_v": d_v}
    return {**point, "mu": _feature_law().evaluate(f"{phi}_mean")} if centre else point


def _feature_powers(params: dict[str, Any], trials: int, gen: torch.Generator):
    from .simulations.softmax import FEATURE_POWERS

    return FEATURE_POWERS(params, trials, gen, DTYPE)


def feature_ratio_case(phi: str, centre: bool, d_k: int, n: int, first: int) -> Case:
    """The ratio interval (:func:`stats.ratio_of_means_ci`) of signal over noise power of
    feature-map linear attention, raw or centred, as ``softmax.feature_maps`` reads it at its first
    look, sized by the skew rule (truth: the derived ``<phi>_snr_raw`` or ``<phi>_snr_centred``)."""
    params = _feature_point(phi, centre, d_k, n)
    truth = _feature_law().evaluate(f"{phi}_snr_{'centred' if centre else 'raw'}", d_k=d_k, n=n)
    run, sizes = ruled(lambda size, gen: _feature_powers(params, size, gen), "ratio", first,
                       lambda x, a: ratio_of_means_ci(x[0], x[1], a))
    where = f"feature-map SNR, {phi} {'centred' if centre else 'raw'}, d_k={d_k}, n={n}"
    return Case(RATIO_LABEL, where, first, truth, run, sizes)


def gradient_ratio_case(d_k: int, n: int, distance: float, trials: int) -> Case:
    """The ratio interval of ``mean(g0 - g)/mean(g0)`` from paired responses of linear retrieval at
    distance 0 and ``distance``, the ratio ``softmax.gradient`` maps to its decay ``-log(g/g0)``
    (the map is monotone, so the coverage is the ratio's). Truth: ``1 - g(D)/g(0)`` from the derived
    ``linear_response``."""
    from .proofs import softmax as proof
    from .simulations.softmax import GRADIENT

    params = {"d_k": d_k, "n": n, "d_v": 16, "beta": 4.0, "distances": (distance,)}
    law = proof.gradient()
    response = lambda dist: law.evaluate("linear_response", D=dist, d_k=d_k, n=n, beta=params["beta"])
    truth = 1 - response(distance) / response(0.0)

    def run(gen: torch.Generator, alphas: Sequence[float]) -> list[Interval]:
        linear = GRADIENT(params, trials, gen, DTYPE)[0]
        return [ratio_of_means_ci(linear[:, 0] - linear[:, 1], linear[:, 0], a) for a in alphas]

    where = f"gradient drop (g0 - g)/g0, linear, D={distance:g}, d_k={d_k}, n={n}"
    return Case(RATIO_LABEL, where, trials, truth, run)


def proportion_case(p: float, trials: int) -> Case:
    """Clopper-Pearson interval for a Bernoulli probability ``p`` (the law itself is the truth)."""
    def run(gen: torch.Generator, alphas: Sequence[float]) -> list[Interval]:
        hits = int((torch.rand(trials, generator=gen, dtype=torch.float64) < p).sum())
        return [proportion_ci(hits, trials, a) for a in alphas]

    return Case("proportion (Clopper-Pearson)", f"Bernoulli p={p:g}", trials, p, run)


def power_law_case(dims: Sequence[int], trials: int) -> Case:
    """Log-log least-squares exponent of the mean noise power of one stored pair (n=2) against
    d_k, sphere keys: the derived ``noise_power`` is ``1/d_k``, so the true exponent is -1."""
    exponent = math.log(_law("sphere").evaluate("noise_power", **_point(dims[-1], 2, "sphere"))
                        / _law("sphere").evaluate("noise_power", **_point(dims[0], 2, "sphere")))
    truth = exponent / math.log(dims[-1] / dims[0])

    def run(gen: torch.Generator, alphas: Sequence[float]) -> list[Interval]:
        means = [float(_signal_noise(_point(d, 2, "sphere"), trials, gen)[1].mean()) for d in dims]
        return [fit_power_law(np.array(dims, float), np.array(means), a) for a in alphas]

    where = f"noise power vs d_k in {{{', '.join(map(str, dims))}}}, n=2, sphere keys"
    return Case("power-law exponent (t on log-log)", where, trials, truth, run)


def _sequential_run(powers: Callable[[int, torch.Generator], Any], truth: float, first: int, rel: float):
    """Replicates of the sequential rule on the per-trial powers ``powers(size, generator)``, the
    first look sized from a pilot as :func:`engine.sample_until` sizes it."""
    def run(gen: torch.Generator, alphas: Sequence[float]) -> list[Interval]:
        seed = int(torch.randint(0, 2**62, (1,), generator=gen).item())
        start = first_look("ratio", first, powers(PILOT_TRIALS, generator(derive_seed(seed, "pilot"), "cpu")))
        draw = lambda look, size: powers(size, generator(derive_seed(seed, look), "cpu"))
        interval = lambda x, level: ratio_of_means_ci(x[0], x[1], level)
        decide = lambda ci: judges.exact(truth, ci, rel)
        return [sequential(draw, interval, decide, a, start, 64 * start)[0] for a in alphas]

    return run


def sequential_case(d_k: int, n: int, dist: str, first: int, rel: float) -> Case:
    """The sequential rule as the verifier runs it for a claim that asks for a first look of
    ``first`` trials (a pilot, ratio looks of :func:`stats.ratio_of_means_ci` doubling from
    :func:`engine.first_look`, Bonferroni over looks), judged exact against the true SNR with
    tolerance ``rel``; the interval reported is the one at the stopping look. A miss is a false
    failure."""
    params = _point(d_k, n, dist)
    truth = _law(dist).evaluate("snr", **params)
    run = _sequential_run(lambda size, gen: _signal_noise(params, size, gen), truth, first, rel)
    where = f"SNR, {dist} keys, d_k={d_k}, n={n}, first look by the skew rule, tolerance {rel:g}"
    return Case("sequential (ratio looks)", where, first, truth, run)


def feature_sequential_case(phi: str, d_k: int, n: int, first: int, rel: float) -> Case:
    """The sequential rule on the raw feature-map SNR of ``phi``, as :func:`sequential_case`."""
    params = _feature_point(phi, False, d_k, n)
    truth = _feature_law().evaluate(f"{phi}_snr_raw", d_k=d_k, n=n)
    run = _sequential_run(lambda size, gen: _feature_powers(params, size, gen), truth, first, rel)
    where = f"feature-map SNR, {phi} raw, d_k={d_k}, n={n}, first look by the skew rule, tolerance {rel:g}"
    return Case("sequential (ratio looks)", where, first, truth, run)


def cases() -> list[Case]:
    """The measured points: each interval kind at its most skewed point and a milder one; mean and
    ratio intervals from the first look the skew rule sizes (:func:`engine.first_look`) for a
    claim that asks for ``CASE_FIRST`` trials."""
    return [
        mean_case(16, 2, "sphere", CASE_FIRST), mean_case(16, 4, "gaussian", CASE_FIRST),
        ratio_case(4, 2, "gaussian", CASE_FIRST), ratio_case(16, 4, "gaussian", CASE_FIRST),
        ratio_case(16, 4, "rademacher", CASE_FIRST),
        proportion_case(0.01, 200), proportion_case(0.001, 5000), proportion_case(0.3, 50),
        power_law_case((8, 16, 32, 64), 64),
        feature_ratio_case("dpfp", True, 16, 64, CASE_FIRST),
        gradient_ratio_case(16, 64, 0.1, 2000),
        sequential_case(16, 4, "gaussian", CASE_FIRST, 0.2),
    ]


# A row whose replicates cannot tell the nominal miss rate from this many times it says nothing
# about that level: ``undecided``. A row that misses as often as nominal decides from about 8
# expected misses (80 000 replicates at a miss rate of 1e-4, 8 million at 1e-6). A ``nominal`` row
# misses less than this many times the nominal rate (95%).
UNDECIDED_FACTOR = 2.0


def verdict(covered: int, replicates: int, nominal: float,
            confidence: float = CONFIDENCE) -> tuple[str, Interval]:
    """``undercovers``, ``overcovers``, ``nominal`` or ``undecided``: where the Clopper-Pearson
    interval (level ``confidence``) of the observed coverage (``covered`` of ``replicates``) lies
    against the ``nominal`` coverage; ``undecided`` where it holds the nominal coverage and also a
    miss rate ``UNDECIDED_FACTOR`` times the nominal one. The one rule of every table: a miss rate
    ``alpha`` is judged as the coverage ``1 - alpha``."""
    ci = proportion_ci(covered, replicates, 1 - confidence)
    return judge_coverage(ci, nominal), ci


def undercovering_margin(row: dict[str, Any]) -> int:
    """How many misses a row of ``covered`` of ``replicates`` at ``nominal`` has beyond the most it
    could have and not read ``undercovers`` by :func:`verdict` (0 where it does not undercover): 1
    when one miss fewer would change its verdict."""
    replicates, misses = row["replicates"], row["replicates"] - row["covered"]
    undercovers = lambda m: verdict(replicates - m, replicates, row["nominal"])[0] == "undercovers"
    fewer = misses
    while fewer > 0 and undercovers(fewer):
        fewer -= 1
    return misses - fewer


def judge_coverage(ci: Interval, nominal: float) -> str:
    """The rule of :func:`verdict` for an interval ``ci`` of an observed coverage, however it was
    obtained (a Clopper-Pearson interval of counted misses, or the normal interval of a weighted
    estimate, :mod:`pavlov_theory.tilted`)."""
    if ci.hi < nominal:
        return "undercovers"
    if ci.lo > nominal:
        return "overcovers"
    if 1 - ci.lo >= UNDECIDED_FACTOR * (1 - nominal):
        return "undecided"
    return "nominal"


def measure(case: Case, replicates: int, seed: int = 0,
            levels: Sequence[float] = LEVELS) -> list[dict[str, Any]]:
    """Rerun ``case`` ``replicates`` times with fresh seeds (at least ``MIN_REPLICATES``); one row
    per nominal level with the observed coverage, its interval and the verdict."""
    if replicates < MIN_REPLICATES:
        raise ValueError(f"replicates: expected at least {MIN_REPLICATES}, got {replicates}")
    hits = np.zeros(len(levels), dtype=int)
    widths = np.zeros(len(levels))
    started = time.perf_counter()
    for r in range(replicates):
        gen = generator(derive_seed(seed, "coverage", case.interval, case.point, case.trials, r), "cpu")
        intervals = case.run(gen, [1 - level for level in levels])
        hits += [ci.contains(case.truth) for ci in intervals]
        widths += [ci.width for ci in intervals]
    seconds = time.perf_counter() - started
    chosen = {}
    if case.sizes:
        chosen = {"first_look_quartiles": [int(q) for q in np.quantile(case.sizes, (.25, .5, .75))]}
    rows = []
    for level, covered, width in zip(levels, hits, widths):
        word, ci = verdict(int(covered), replicates, level)
        rows.append({"interval": case.interval, "point": case.point, "trials": case.trials,
                     "truth": case.truth,
                     "nominal": level, "replicates": replicates, "covered": int(covered),
                     "coverage": covered / replicates, "ci": [ci.lo, ci.hi], "verdict": word,
                     "mean_width": width / replicates, "seconds": round(seconds, 3), **chosen})
    return rows


# ----------------------------------------------------------------------------- tails

TAIL_ALPHAS: tuple[float, ...] = (1e-2, 1e-3, 1e-4)
TAIL_CHUNK = 8192  # trials drawn at once


def plain_t_ci(samples: np.ndarray, alpha: float) -> Interval:
    """The Student-t interval without skewness correction (a reference the tails compare with)."""
    x = np.asarray(samples, dtype=np.float64)
    se = float(np.std(x, ddof=1)) / math.sqrt(x.size)
    lo, hi = studentized_limits(float(x.mean()), se, 0.0, x.size, alpha)
    return Interval(float(x.mean()), lo, hi, x.size)


def delta_limits(num: np.ndarray, den: np.ndarray, alpha: float) -> tuple[Any, Any, Any]:
    """The plain delta-method interval for a ratio of means, along the last axis (one sample per
    row): ``(ratio, lo, hi)``, floats for 1-D samples."""
    a, b = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    mean_den = b.mean(-1, keepdims=True)
    ratio = a.mean(-1, keepdims=True) / mean_den
    size = a.shape[-1]
    se = np.std((a - ratio * b) / mean_den, axis=-1, ddof=1) / math.sqrt(size)
    ratio = ratio[..., 0]
    lo, hi = studentized_limits(ratio, se, 0.0 * ratio, size, alpha)
    return (float(ratio), lo, hi) if np.ndim(ratio) == 0 else (ratio, lo, hi)


def delta_ratio_ci(num: np.ndarray, den: np.ndarray, alpha: float) -> Interval:
    """The plain delta-method interval for a ratio of means (a reference the tails compare with)."""
    ratio, lo, hi = delta_limits(num, den, alpha)
    return Interval(ratio, lo, hi, np.size(num))


TAIL_ESTIMATORS: tuple[str, ...] = ("mean", "mean, plain t", "ratio", "ratio, plain delta")
# the point of the tail measurement: a first look of Gaussian keys at small d_k and n
TAIL_POINT: dict[str, Any] = {"d_k": 16, "n": 4, "dist": "gaussian", "trials": 64}


def chunk_counts(replicates: int, per: int) -> list[int]:
    """``replicates`` in chunks of ``per``, the last one what is left."""
    return [min(per, replicates - start) for start in range(0, replicates, per)]


def tail(d_k: int, n: int, dist: str, trials: int, replicates: int, seed: int = 0,
         alphas: Sequence[float] = TAIL_ALPHAS,
         estimators: Sequence[str] = TAIL_ESTIMATORS) -> list[dict[str, Any]]:
    """How often the two-sided intervals of :mod:`stats` built from ``trials`` trials miss the
    true value at levels far below 5% (default 1e-2, 1e-3, 1e-4): the mean noise power
    (:func:`stats.mean_ci`, and the plain t interval beside it) and the SNR
    (:func:`stats.ratio_of_means_ci`, and the plain delta method beside it), on the same
    ``replicates`` fresh replicates (drawn in bulk); misses below and above the truth are
    counted apart, since skew shows as asymmetry. ``estimators`` picks some of
    ``TAIL_ESTIMATORS``."""
    params = _point(d_k, n, dist)
    law = _law(dist)
    truths = {"mean": law.evaluate("noise_power", **params), "ratio": law.evaluate("snr", **params)}
    known = {"mean": lambda s, w, a: mean_ci(w, a), "mean, plain t": lambda s, w, a: plain_t_ci(w, a),
             "ratio": lambda s, w, a: ratio_of_means_ci(s, w, a),
             "ratio, plain delta": lambda s, w, a: delta_ratio_ci(s, w, a)}
    estimators = {name: known[name] for name in estimators}
    misses = {(e, a): [0, 0] for e in estimators for a in alphas}
    for index, rows in enumerate(chunk_counts(replicates, max(1, TAIL_CHUNK // trials))):
        gen = generator(derive_seed(seed, "tail", d_k, n, dist, trials, index), "cpu")
        signal, noise = (x.reshape(rows, trials) for x in _signal_noise(params, rows * trials, gen))
        for r in range(rows):
            for alpha in alphas:
                for estimator, interval in estimators.items():
                    ci, truth = interval(signal[r], noise[r], alpha), truths[estimator.split(",")[0]]
                    misses[estimator, alpha][0] += ci.hi < truth
                    misses[estimator, alpha][1] += ci.lo > truth
    out = []
    for (estimator, alpha), (below, above) in misses.items():
        word, covered = verdict(replicates - below - above, replicates, 1 - alpha)
        ci = Interval(1 - covered.estimate, 1 - covered.hi, 1 - covered.lo, replicates)  # of the miss rate
        out.append({"estimator": estimator, "point": f"{dist} keys, d_k={d_k}, n={n}", "trials": trials,
                    "nominal_miss": alpha, "replicates": replicates, "misses": below + above,
                    "misses_below": below, "misses_above": above, "miss_rate": (below + above) / replicates,
                    "ci": [ci.lo, ci.hi], "verdict": word})
    return out


# ----------------------------------------------------------------------------- first look

# the most skewed point of the table: the noise power of one stored pair is the square of a
# 4-dimensional Gaussian inner product
SCAN_POINT: dict[str, Any] = {"d_k": 4, "n": 2, "dist": "gaussian"}
# steps of a factor of root 2, so that the size a reading needs is placed to within that factor
SCAN_SIZES: tuple[int, ...] = tuple(round(64 * 2 ** (step / 2)) for step in range(15))  # 64 ... 8192
SCAN_LEVELS: tuple[float, ...] = (0.95, 0.99, 0.999, 0.9999)
SCAN_CHUNK = 2**20  # trials drawn at once
# Every look of the first-look, rule, heavy and deep scans is judged by each reading of the long arm on
# the same values, one row per reading (``long_arm``): a stored scan holds the verifier's rows
# whichever reading :data:`stats.LONG_ARM` names, and the others beside them (:func:`verifier_rows`).
SCAN_ARMS: tuple[str, ...] = LONG_ARMS


def _miss_rows(interval: str, point: str, trials: int, truth: float, levels: Sequence[float],
               misses: np.ndarray, replicates: int, seconds: float, **extra: Any) -> list[dict[str, Any]]:
    """One row per level of a scan: ``misses[level] = (interval below the truth, above it)`` out of
    ``replicates``, with the observed coverage, its interval and verdict (:func:`verdict`)."""
    rows = []
    for level, (below, above) in zip(levels, misses):
        covered = replicates - int(below) - int(above)
        word, ci = verdict(covered, replicates, level)
        rows.append({"interval": interval, "point": point, "trials": trials, "truth": truth, "nominal": level,
                     "replicates": replicates, "covered": covered, "coverage": covered / replicates,
                     "ci": [ci.lo, ci.hi], "verdict": word, "misses_below": int(below),
                     "misses_above": int(above), "seconds": seconds, **extra})
    return rows


def _arm_rows(interval: str, point: str, trials: int, truth: float, levels: Sequence[float],
              misses: np.ndarray, replicates: int, seconds: float, arms: Sequence[str],
              per_row: Callable[[int, int], dict[str, Any]] = lambda arm, level: {},
              **extra: Any) -> list[dict[str, Any]]:
    """:func:`_miss_rows` of each reading of ``arms`` (``misses[arm, level] = (below, above)``), each
    row with its ``long_arm`` and what ``per_row(arm, level)`` (indices) adds; reading by reading."""
    rows = []
    for a, arm in enumerate(arms):
        scanned = _miss_rows(interval, point, trials, truth, levels, misses[a], replicates, seconds,
                             long_arm=arm, **extra)
        rows += [{**row, **per_row(a, i)} for i, row in enumerate(scanned)]
    return rows


ROW_KEYS: tuple[str, ...] = ("interval", "point", "trials", "nominal", "sizing")  # one look, one level


def rows_read(rows: Sequence[dict[str, Any]], arm: str) -> list[dict[str, Any]]:
    """The rows of a scan whose intervals read the long arm as ``arm`` (:data:`stats.LONG_ARMS`)."""
    if arm not in LONG_ARMS:
        raise ValueError(f"arm must be one of {', '.join(LONG_ARMS)}; got {arm!r}")
    return [r for r in rows if r["long_arm"] == arm]


def verifier_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of a counted scan (first-look, rule, heavy, deep) judged by the verifier's reading of the
    long arm (:data:`stats.LONG_ARM`), each with ``<arm>_covered``, the coverage count of every
    other reading on the same replicates (the row with the same :data:`ROW_KEYS`)."""
    if any("long_arm" not in r for r in rows):
        raise ValueError("verifier_rows: a row without long_arm (a scan run before each reading had rows "
                         "of its own: run it again)")
    key = lambda r: tuple(r.get(k) for k in ROW_KEYS)
    found: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        if (r["long_arm"], key(r)) in found:
            raise ValueError(f"verifier_rows: two rows of reading {r['long_arm']!r} at {key(r)}")
        found[r["long_arm"], key(r)] = r
    mine = rows_read(rows, LONG_ARM)
    if {arm for arm, _ in found} != set(SCAN_ARMS):
        raise ValueError(f"verifier_rows: expected rows of every reading of {', '.join(SCAN_ARMS)}")
    arms = [arm for arm in SCAN_ARMS if arm != LONG_ARM]
    paired = all((arm, key(r)) in found for r in mine for arm in arms)
    if len(found) != len(mine) * (1 + len(arms)) or not paired:
        raise ValueError("verifier_rows: the readings were not judged on the same looks and levels")
    return [{**r, **{f"{arm}_covered": found[arm, key(r)]["covered"] for arm in arms}} for r in mine]


def _scan_size(size: int, replicates: int, seed: int, levels: Sequence[float]) -> list[dict[str, Any]]:
    """Rows of :func:`first_look_scan` for ratio intervals from ``size`` trials."""
    point = _point(SCAN_POINT["d_k"], SCAN_POINT["n"], SCAN_POINT["dist"], d_v=1)
    truth = _law(SCAN_POINT["dist"]).evaluate("snr", **point)
    misses = np.zeros((len(SCAN_ARMS), len(levels), 2), dtype=int)  # [arm, level, (below the truth, above)]
    others = np.zeros((len(levels), len(FIRST_LOOK_REFERENCES)), dtype=int)
    started = time.perf_counter()
    for index, count in enumerate(chunk_counts(replicates, max(1, SCAN_CHUNK // size))):
        gen = generator(derive_seed(seed, "first look", SCAN_POINT, size, index), "cpu")
        signal, noise = (x.reshape(count, size) for x in _signal_noise(point, count * size, gen))
        chunk = _ratio_misses(signal, noise, truth, levels, FIRST_LOOK_REFERENCES)
        misses, others = misses + chunk[0], others + chunk[1]
    seconds = round(time.perf_counter() - started, 3)
    where = f"SNR, {SCAN_POINT['dist']} keys, d_k={SCAN_POINT['d_k']}, n={SCAN_POINT['n']}"
    return _arm_rows(RATIO_LABEL, where, size, truth, levels, misses, replicates, seconds, SCAN_ARMS,
                     lambda a, i: _covered_by(FIRST_LOOK_REFERENCES, others[i], replicates))


def first_look_scan(replicates: int, seed: int = 0, sizes: Sequence[int] = SCAN_SIZES,
                    levels: Sequence[float] = SCAN_LEVELS, workers: int = 1,
                    progress: bool = False) -> list[dict[str, Any]]:
    """Coverage of the ratio interval (:func:`stats.ratio_of_means_ci`) of the SNR at
    ``SCAN_POINT`` from each number of trials of ``sizes``, on ``replicates`` fresh replicates per
    size, at ``levels`` (down to 99.99%), a row per reading of :data:`SCAN_ARMS`, with the intervals
    of :data:`FIRST_LOOK_REFERENCES` on the same replicates: the measurement
    :data:`engine.TRIALS_PER_SKEW2` is checked against
    (:func:`smallest_first_look`, :func:`calibration`). The interval contains the truth
    exactly where the test it inverts (:func:`stats.ratio_test`) accepts the truth, so a replicate
    costs one test per level, not a root search. With one stored pair and unit values the powers
    do not depend on ``d_v`` (the noise of probe ``m`` is ``(k_m . k_j)^2``), so the values are
    drawn one-dimensional. Each size is seeded on its own, so ``workers`` processes (one size each
    at a time) give the same rows as one."""
    if replicates < MIN_REPLICATES:
        raise ValueError(f"replicates: expected at least {MIN_REPLICATES}, got {replicates}")
    return _by_size(_scan_size, sizes, (replicates, seed, tuple(levels)), replicates, workers, progress,
                    "first-look scan")


def _by_size(scan_one: Callable[..., list[dict[str, Any]]], sizes: Sequence[int], args: tuple,
             replicates: int, workers: int, progress: bool, desc: str) -> list[dict[str, Any]]:
    """The rows of ``scan_one(size, *args)`` for each of ``sizes``, in order, in ``workers`` processes."""
    jobs = [(size, *args) for size in sizes]
    done = _run_chunks(scan_one, jobs, [replicates] * len(sizes), workers, progress, desc)
    return [row for rows in done for row in rows]


def largest_undercovering(rows: Sequence[dict[str, Any]]) -> int | None:
    """The largest number of trials at which a scan's rows undercover at some level (``None`` where
    none does)."""
    return max((r["trials"] for r in rows if r["verdict"] == "undercovers"), default=None)


def smallest_first_look(rows: Sequence[dict[str, Any]]) -> int | None:
    """The smallest number of trials of a :func:`first_look_scan` from which on no scanned size
    undercovers at any level (``None`` if the largest does)."""
    failing = largest_undercovering(rows) or 0
    return min((r["trials"] for r in rows if r["trials"] > failing), default=None)


# ----------------------------------------------------------------------------- the skew rule

# The scans the two constants are checked against, of the current intervals, are stored in ``book/measured``
# (``coverage-first-look.json`` and ``coverage-heavy.json``, shown in the coverage chapter); tests
# check the constants against them (see the comment above ``engine.TRIALS_PER_SKEW2``). So is the
# rule scan at these points (``coverage-rule.json``); a test reruns one chunk of it.
# where the rule is measured: the scan point, and skewed mean and ratio points of the table
RULE_POINTS: tuple[tuple[dict[str, Any], str], ...] = (
    (SCAN_POINT, "ratio"),
    ({"d_k": 16, "n": 4, "dist": "gaussian"}, "mean"),
    ({"d_k": 16, "n": 4, "dist": "gaussian"}, "ratio"),
    ({"d_k": 16, "n": 2, "dist": "sphere"}, "mean"),
)


def per_skew2(needed: int, skew: float) -> float:
    """Trials per unit of squared skewness: ``needed`` trials at a per-trial skewness ``skew``."""
    return needed / skew**2


def margin(constant: float, needed: int | None, skew: float) -> float | None:
    """How many times ``needed`` trials ``constant`` trials per unit of squared skewness grant at a
    per-trial skewness ``skew`` (``None`` where nothing was needed on record)."""
    return constant / per_skew2(needed, skew) if needed else None


def calibration(trials: int = 2**21, seed: int = 0) -> dict[str, Any]:
    """The per-trial skewness of the values the ratio interval studentizes at ``SCAN_POINT``
    (:func:`engine.studentized_values`), from ``trials`` trials: what turns the trials a first-look
    scan finds a reading needs there into trials per unit of squared skewness (:func:`per_skew2`,
    and what :data:`engine.TRIALS_PER_SKEW2` grants over them, :func:`margin`). A report stores
    only this measurement; what each reading needs is read from the scan's rows."""
    point = _point(SCAN_POINT["d_k"], SCAN_POINT["n"], SCAN_POINT["dist"], d_v=1)
    samples = _signal_noise(point, trials, generator(derive_seed(seed, "calibration", trials), "cpu"))
    return {"skewness": float(skewness(studentized_values("ratio", samples))), "trials": trials}


def _value_misses(estimator: str, values: tuple[np.ndarray, ...], truth: float, levels: Sequence[float],
                  references: Sequence[str] = (),
                  arms: Sequence[str] = SCAN_ARMS) -> tuple[np.ndarray, np.ndarray]:
    """Misses ``[arm, level, (below the truth, above it)]`` of the verifier's interval of
    ``estimator`` (``mean`` or ``ratio``) on the rows of ``values`` (one replicate per row, all of
    one size), its long arm read as each of ``arms`` says, and ``[level, name]`` of ``references``
    (:func:`_mean_misses`, :func:`_ratio_misses`)."""
    if estimator == "ratio":
        return _ratio_misses(*values, truth, levels, references, arms)
    if estimator == "mean":
        return _mean_misses(values[0], truth, levels, references, arms)
    raise ValueError(f"estimator must be mean or ratio; got {estimator!r}")


def _rule_params(where: dict[str, Any]) -> dict[str, Any]:
    """The capacity kernel's parameters at a (non-synthetic) rule point."""
    return _point(where["d_k"], where["n"], where["dist"], d_v=1 if where["n"] == 2 else 64)


def rule_pieces(points: Sequence[tuple[dict[str, Any], str]] = RULE_POINTS,
                budget: int = RULE_DRAW_BUDGET) -> list[int | None]:
    """Trials per draw at each rule point (:func:`_signal_noise_within`, from the kernel's bytes per
    trial and ``budget``; ``None`` at a synthetic point, drawn whole): where the kernel's random
    stream is cut, so a stored rule scan whose pieces differ from these is stale."""
    return [None if where["dist"] == "student_t"
            else rows_per_chunk(signal_noise_bytes(_rule_params(where)), budget)
            for where, _ in points]


def _rule_values(where: dict[str, Any],
                 estimator: str) -> tuple[float, Callable[..., tuple[np.ndarray, ...]]]:
    """The truth at a rule point and a draw of ``size`` trials' values its interval reads
    (``draw(size, gen)``): the signal and noise powers for a ratio, the noise power for a mean, or
    i.i.d. Student t of centre 0 at a synthetic point."""
    if where["dist"] == "student_t":  # synthetic: i.i.d. Student t of centre 0, a mean only
        if estimator != "mean":
            raise ValueError("rule_scan: a Student-t point is measured for a mean only")
        return 0.0, lambda size, gen: (_student_t(where["df"], size, gen),)
    params = _rule_params(where)
    truth = _law(where["dist"]).evaluate("snr" if estimator == "ratio" else "noise_power", **params)
    if estimator == "ratio":
        return truth, lambda size, gen: _signal_noise_within(params, size, gen)
    return truth, lambda size, gen: _signal_noise_within(params, size, gen)[1:]


def _rule_chunk(where: dict[str, Any], estimator: str, first: int, seed: int, index: int, count: int,
                levels: tuple[float, ...]) -> tuple[np.ndarray, list[int], float]:
    """Misses ``[arm, level, side]`` (:data:`SCAN_ARMS`) of ``count`` replicates (chunk ``index``) of
    the first look the skew rule sizes at one point: per replicate an independent pilot, the chosen
    size and the interval of that many fresh trials (replicates of one size judged together); with
    the chosen sizes and the chunk's seconds."""
    started = time.perf_counter()
    truth, draw_values = _rule_values(where, estimator)
    gen = generator(derive_seed(seed, "rule", where, estimator, first, index), "cpu")
    pilots = [x.reshape(count, PILOT_TRIALS) for x in draw_values(count * PILOT_TRIALS, gen)]
    chosen = [first_look(estimator, first, tuple(x[r] for x in pilots)) for r in range(count)]
    looks = [np.split(x, np.cumsum(chosen)[:-1]) for x in draw_values(sum(chosen), gen)]
    misses = np.zeros((len(SCAN_ARMS), len(levels), 2), dtype=int)
    for size in sorted(set(chosen)):
        rows = [r for r, c in enumerate(chosen) if c == size]
        values = tuple(np.stack([x[r] for r in rows]) for x in looks)
        misses += _value_misses(estimator, values, truth, levels)[0]
    return misses, chosen, time.perf_counter() - started


def _one_thread() -> None:
    torch.set_num_threads(1)  # a pool's worker: the pool is the parallelism


def _run_chunks(fn: Callable[..., Any], jobs: Sequence[tuple], counts: Sequence[int], workers: int,
                progress: bool, desc: str) -> list[Any]:
    """``fn(*job)`` for each of ``jobs``, in order, in ``workers`` processes (here if 1), with a
    progress bar (``desc``, shown where ``progress``) advanced by each job's replicates (``counts``)
    as its result comes back."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    bar = tqdm(total=sum(counts), desc=desc, unit="replicate", disable=not progress)
    results = []
    with ProcessPoolExecutor(workers, initializer=_one_thread) if workers > 1 else nullcontext() as pool:
        for count, result in zip(counts, (pool.map if pool else map)(fn, *zip(*jobs)), strict=True):
            results.append(result)
            bar.update(count)
    bar.close()
    return results


def rule_chunk_counts(replicates: int, chunk: int = SCAN_CHUNK) -> list[int]:
    """The replicates of each chunk of a rule scan's point."""
    return chunk_counts(replicates, max(1, chunk // (8 * PILOT_TRIALS)))


def rule_scan(replicates: int, seed: int = 0, first: int = CASE_FIRST,
              levels: Sequence[float] = SCAN_LEVELS,
              points: Sequence[tuple[dict[str, Any], str]] = RULE_POINTS, workers: int = 1,
              progress: bool = False, chunk: int = SCAN_CHUNK) -> list[dict[str, Any]]:
    """Coverage of the first look the skew rule sizes (:func:`engine.first_look`, for a claim that
    asks for ``first`` trials) at each of ``points``: per replicate an independent pilot, the chosen
    size, and the interval of that many fresh trials, judged at the derived truth at ``levels``.
    Rows as :func:`first_look_scan`'s (a row per reading of :data:`SCAN_ARMS`, point by point), with
    the quartiles of the chosen sizes and each chunk's misses (below, above), so one chunk can be
    rerun alone (:func:`rule_chunk_counts`); ``seconds`` is the
    sum of the point's chunks' seconds. The replicates of a point run in chunks of about ``chunk``
    pilot trials over 8; each chunk is seeded by its point and index, so ``workers`` processes give
    the same rows as one."""
    if replicates < MIN_REPLICATES:
        raise ValueError(f"replicates: expected at least {MIN_REPLICATES}, got {replicates}")
    truths = [_rule_values(where, estimator)[0] for where, estimator in points]  # a bad point fails here
    counts = rule_chunk_counts(replicates, chunk)
    jobs = [(where, estimator, first, seed, index, count, tuple(levels))
            for where, estimator in points for index, count in enumerate(counts)]
    results = _run_chunks(_rule_chunk, jobs, counts * len(points), workers, progress, "rule scan")
    rows = []
    for p, ((where, estimator), truth) in enumerate(zip(points, truths)):
        mine = results[p * len(counts):(p + 1) * len(counts)]
        misses = sum(m for m, _, _ in mine)
        sizes = [size for _, chosen, _ in mine for size in chosen]
        seconds = round(sum(s for _, _, s in mine), 3)
        quartiles = [int(q) for q in np.quantile(sizes, (.25, .5, .75))]
        label = "SNR" if estimator == "ratio" else "noise power"
        kind = RATIO_LABEL if estimator == "ratio" else MEAN_LABEL
        at = (heavy_label(where["df"]) if where["dist"] == "student_t"
              else f"{label}, {where['dist']} keys, d_k={where['d_k']}, n={where['n']}")
        rows += _arm_rows(kind, at, first, truth, levels, misses, replicates, seconds, SCAN_ARMS,
                          lambda a, i: {"chunk_misses": [m[a, i].tolist() for m, _, _ in mine]},
                          first_look_quartiles=quartiles)
    return rows


# ----------------------------------------------------------------------------- the kurtosis rule

# A synthetic point, not one the verifier meets: i.i.d. Student t of 5 degrees of freedom, centre 0.
# It is symmetric with heavy tails (excess kurtosis 6/(df - 4) = 6), chosen to test the blind spot
# of the skew rule: its skewness is 0, yet the skewness its samples read is noisy, and the
# correction built on that reading moves the skew-corrected interval off.
HEAVY_POINT: dict[str, Any] = {"dist": "student_t", "df": 5}
HEAVY_SIZES: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
# TRIALS_PER_KURT was set from this point's scan of the interval corrected for every skewness it
# reads (the verifier's interval before it corrected only a skewness that stands out; the scan's
# ``always_corrected_covered``): the smallest size at which it undercovers at no level
# (:func:`first_covering`) over the point's excess kurtosis.
HEAVY_RULE_POINTS: tuple[tuple[dict[str, Any], str], ...] = ((HEAVY_POINT, "mean"),)
HEAVY_REFERENCES = ("plain", "always_corrected")  # counted beside the verifier's interval


def first_covering(rows: Sequence[dict[str, Any]]) -> int | None:
    """The smallest number of trials of a scan at which no level undercovers (``None`` if every
    size does somewhere)."""
    failing = {r["trials"] for r in rows if r["verdict"] == "undercovers"}
    return min((r["trials"] for r in rows if r["trials"] not in failing), default=None)


def smallest_by(rows: Sequence[dict[str, Any]], column: str = "covered") -> int | None:
    """:func:`smallest_first_look` of a scan as the interval counted in ``column`` reads it by the
    current rule (:func:`judged_by`); ``None`` where a row lacks the column."""
    return smallest_first_look(judged_by(rows, column)) if all(column in r for r in rows) else None


def covering_by(rows: Sequence[dict[str, Any]], column: str = "covered") -> int | None:
    """:func:`first_covering` of a scan as the interval counted in ``column`` reads it by the
    current rule; ``None`` where a row lacks the column."""
    return first_covering(judged_by(rows, column)) if all(column in r for r in rows) else None


def judged_by(rows: Sequence[dict[str, Any]], column: str = "covered") -> list[dict[str, Any]]:
    """``rows`` of a scan as the interval counted in ``column`` (``covered``, or a reference's
    ``<name>_covered``) reads them, judged again by :func:`verdict` (a stored scan is read by the
    current rule, whatever rule wrote it)."""
    judged = []
    for r in rows:
        word, ci = verdict(r[column], r["replicates"], r["nominal"])
        judged.append({**r, "covered": r[column], "coverage": r[column] / r["replicates"],
                       "ci": [ci.lo, ci.hi], "verdict": word})
    return judged


def scan_config() -> dict[str, Any]:
    """Everything the rows of a stored first-look, rule or heavy scan depend on besides its seed
    and replicates (a stored scan whose configuration differs from this one is stale)."""
    return {"scan_point": SCAN_POINT, "scan_sizes": list(SCAN_SIZES), "levels": list(SCAN_LEVELS),
            "chunk": SCAN_CHUNK, "first_look_references": list(FIRST_LOOK_REFERENCES),
            "rule_points": [[where, estimator] for where, estimator in RULE_POINTS],
            "rule_draw_budget": RULE_DRAW_BUDGET, "rule_pieces": rule_pieces(),
            "heavy_point": HEAVY_POINT, "heavy_sizes": list(HEAVY_SIZES), "pilot_trials": PILOT_TRIALS,
            "case_first": CASE_FIRST, "trials_per_skew2": TRIALS_PER_SKEW2,
            "trials_per_kurt": TRIALS_PER_KURT, "skew_salience": SKEW_SALIENCE, "mean_interval": MEAN_LABEL,
            "ratio_interval": RATIO_LABEL, "unresolved_skew": UNRESOLVED_SKEW, "long_arms": list(SCAN_ARMS),
            "high_reading": HIGH_READING, "dtype": str(DTYPE), "heavy_references": list(HEAVY_REFERENCES),
            "heavy_rule_points": [[where, estimator] for where, estimator in HEAVY_RULE_POINTS]}


# what the rows of each stored scan do not read of :func:`scan_config` (the first-look sizes and the
# intervals counted beside them): a change there leaves the stored rule and heavy scans current
UNREAD: dict[str, tuple[str, ...]] = {"first_look": (), "rule": ("scan_sizes", "first_look_references"),
                                      "heavy": ("scan_sizes", "first_look_references")}


def config_matches(stored: dict[str, Any], current: dict[str, Any], unread: Sequence[str] = ()) -> bool:
    """Whether a stored configuration has the entries of ``current`` (as JSON reads it back) with the
    same values, but for those named in ``unread``, which the stored rows do not read."""
    read = lambda config: {key: value for key, value in config.items() if key not in unread}
    return read(stored) == read(json.loads(json.dumps(current)))


def scan_current(name: str, report: dict[str, Any]) -> bool:
    """Whether the stored ``report`` holding scan ``name`` (``first_look``, ``rule`` or ``heavy``) was
    run with the current :func:`scan_config`: the same entries, with the same values, but for
    :data:`UNREAD`'s (the safe side: a scan may read fewer than it is compared on)."""
    return config_matches(report.get("scan_config") or {}, scan_config(), UNREAD[name])


def heavy_label(df: int) -> str:
    return f"synthetic Student t, {df} degrees of freedom"


def heavy_kurtosis(df: int) -> float:
    """The excess kurtosis of Student t of ``df`` degrees of freedom (infinite for ``df <= 4``)."""
    return 6.0 / (df - 4) if df > 4 else math.inf


def _student_t(df: int, trials: int, gen: torch.Generator) -> np.ndarray:
    """``trials`` i.i.d. Student-t values of ``df`` (an integer) degrees of freedom, float64, as a
    standard normal over the root of a mean of ``df`` squared standard normals."""
    z = torch.randn(trials, generator=gen, device=gen.device, dtype=torch.float64)
    chi = torch.randn((df, trials), generator=gen, device=gen.device, dtype=torch.float64).pow(2).mean(0)
    return (z / chi.sqrt()).cpu().numpy()


# The intervals the scans count beside the verifier's mean interval, on the same rows, by the
# skewness they correct both limits for (from the rows and the skewness that stands out in each):
# plain Student t; the verifier's interval before it widened for an unresolved skewness (corrected
# only for a skewness that stands out, else plain t); corrected for whatever skewness a row reads.
MEAN_REFERENCES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "plain": lambda x, salient: np.zeros(len(x)),
    "salient_only": lambda x, salient: salient,
    "always_corrected": lambda x, salient: skewness(x),
}


def _mean_sides(centre: np.ndarray, se: np.ndarray, reading: tuple[Any, Any, Any], size: int, truth: float,
                alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Per replicate, whether the verifier's mean interval at level ``1 - alpha`` (from the means,
    standard errors and :func:`stats.limit_skews` of its rows) lies below the truth, and above it."""
    lo, hi = skew_corrected_limits(centre, se, reading, size, alpha)
    return hi < truth, lo > truth


def mean_sides(x: np.ndarray, truth: float, alpha: float,
               long_arm: str = LONG_ARM) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_mean_sides` of the rows of ``x`` (one replicate per row), the long arm read as
    ``long_arm`` says (:data:`stats.LONG_ARMS`)."""
    return _mean_sides(x.mean(1), x.std(1, ddof=1) / math.sqrt(x.shape[1]), limit_skews(x, long_arm=long_arm),
                       x.shape[1], truth, alpha)


def _mean_misses(x: np.ndarray, truth: float, levels: Sequence[float],
                 references: Sequence[str] = ("plain",),
                 arms: Sequence[str] = SCAN_ARMS) -> tuple[np.ndarray, np.ndarray]:
    """Misses of the mean interval the verifier uses (:func:`stats.mean_ci`, vectorised over the
    rows of ``x``, one replicate per row), its long arm read as each of ``arms`` says, at each of
    ``levels``: ``[arm, level, (below, above) the truth]``; beside them, ``[level, name]`` for each
    name of ``references`` (:data:`MEAN_REFERENCES`), the misses of those intervals on the same rows."""
    size = x.shape[1]
    centre, se = x.mean(1), x.std(1, ddof=1) / math.sqrt(size)
    salient, readings = skew_readings(x, arms)
    used = [MEAN_REFERENCES[name](x, salient) for name in references]
    misses = np.zeros((len(arms), len(levels), 2), dtype=int)
    others = np.zeros((len(levels), len(references)), dtype=int)
    for i, level in enumerate(levels):
        for a, reading in enumerate(readings):
            sides = _mean_sides(centre, se, reading, size, truth, 1 - level)
            misses[a, i] = [int(np.sum(side)) for side in sides]
        for j, skew in enumerate(used):
            lo, hi = studentized_limits(centre, se, skew, size, 1 - level)
            others[i, j] = int(np.sum((hi < truth) | (lo > truth)))
    return misses, others


def heavy_scan(replicates: int, seed: int = 0, sizes: Sequence[int] = HEAVY_SIZES,
               levels: Sequence[float] = SCAN_LEVELS, df: int = HEAVY_POINT["df"], workers: int = 1,
               progress: bool = False) -> list[dict[str, Any]]:
    """Coverage of the t interval the verifier uses (:func:`stats.mean_ci`, corrected for the skewness
    that stands out) of the mean of Student t of
    ``df`` degrees of freedom (truth 0) from each number of trials of ``sizes``, on ``replicates``
    fresh replicates per size, at ``levels``: the measurement :data:`engine.TRIALS_PER_KURT` is read
    from (:func:`first_covering`, over :func:`heavy_kurtosis`). Rows as :func:`first_look_scan`'s,
    with ``plain_covered`` and ``always_corrected_covered``: the coverage of the plain Student-t
    interval, and of the interval corrected for whatever skewness the sample reads, on the same
    replicates; the latter shows what an unconditional correction costs on a symmetric law. Each
    size is seeded on its own, so ``workers`` processes give the same rows as one. A row per reading
    of :data:`SCAN_ARMS`, as the first-look scan's."""
    if replicates < MIN_REPLICATES:
        raise ValueError(f"replicates: expected at least {MIN_REPLICATES}, got {replicates}")
    return _by_size(_heavy_size, sizes, (replicates, seed, tuple(levels), df), replicates, workers, progress,
                    "heavy scan")


def _heavy_size(size: int, replicates: int, seed: int, levels: Sequence[float],
                df: int) -> list[dict[str, Any]]:
    """Rows of :func:`heavy_scan` for intervals from ``size`` trials."""
    misses = np.zeros((len(SCAN_ARMS), len(levels), 2), dtype=int)
    others = np.zeros((len(levels), len(HEAVY_REFERENCES)), dtype=int)
    started = time.perf_counter()
    for index, count in enumerate(chunk_counts(replicates, max(1, SCAN_CHUNK // size))):
        gen = generator(derive_seed(seed, "heavy", df, size, index), "cpu")
        x = _student_t(df, count * size, gen).reshape(count, size)
        chunk = _mean_misses(x, 0.0, levels, HEAVY_REFERENCES)
        misses, others = misses + chunk[0], others + chunk[1]
    seconds = round(time.perf_counter() - started, 3)
    return _arm_rows(MEAN_LABEL, heavy_label(df), size, 0.0, levels, misses, replicates, seconds, SCAN_ARMS,
                     lambda a, i: _covered_by(HEAVY_REFERENCES, others[i], replicates))


def _covered_by(references: Sequence[str], misses: np.ndarray, replicates: int) -> dict[str, int]:
    """``<name>_covered`` for each reference interval, from its misses at one level."""
    return {f"{name}_covered": int(replicates - m) for name, m in zip(references, misses)}


# ----------------------------------------------------------------------------- deep tails

# The tail measurement and the scans stop at a miss rate of 1e-4, while the per-check levels of a
# run lie near 1e-5 (ci), 3e-6 (book) and 1e-6 (paper), and its per-look levels lower still (the
# level-split table of the statistics chapter). The deep scan goes down to 1e-6 on a law whose
# trial costs one draw: i.i.d. Gamma of shape k, of skewness 2/sqrt(k) and excess kurtosis 6/k.
# Each shape is measured two ways: at the look the engine's rules give its exact moments
# (``floor``); and at the look a check draws (``rule``): per replicate an independent pilot, the
# size :func:`engine.first_look` reads from it, and the interval of that many fresh values. A
# pilot reads the moments high, so the rule's looks mostly lie above the floor, but not always.
DEEP_LEVELS: tuple[float, ...] = (1 - 1e-4, 1 - 1e-5, 1 - 1e-6)
DEEP_SHAPES: tuple[float, ...] = (16.0, 4.0)
DEEP_SIZINGS: tuple[str, ...] = ("floor", "rule")
DEEP_CHUNK = 2**21  # values drawn at once, for a look of the floor's size
DEEP_RULE_CHUNKS = 8  # as many for a rule's looks: their sizes vary, and each size is judged apart


def gamma_skewness(shape: float) -> float:
    return 2.0 / math.sqrt(shape)


def gamma_kurtosis(shape: float) -> float:
    """Excess kurtosis of Gamma(``shape``)."""
    return 6.0 / shape


def deep_size(shape: float) -> int:
    """The first look the engine's rules give a mean whose per-trial values have the skewness and
    kurtosis of Gamma(``shape``), read exactly, for a claim that asks for ``CASE_FIRST`` trials."""
    return int(look_for_moments(CASE_FIRST, gamma_skewness(shape), gamma_kurtosis(shape)))


def deep_config() -> dict[str, Any]:
    """Everything a stored deep scan's rows depend on besides its seed and replicates."""
    return {"levels": list(DEEP_LEVELS), "shapes": list(DEEP_SHAPES), "sizings": list(DEEP_SIZINGS),
            "chunk": DEEP_CHUNK, "rule_chunks": DEEP_RULE_CHUNKS, "pilot_trials": PILOT_TRIALS,
            "case_first": CASE_FIRST, "trials_per_skew2": TRIALS_PER_SKEW2,
            "trials_per_kurt": TRIALS_PER_KURT, "skew_salience": SKEW_SALIENCE, "interval": MEAN_LABEL,
            "unresolved_skew": UNRESOLVED_SKEW, "long_arms": list(SCAN_ARMS), "high_reading": HIGH_READING,
            "references": list(DEEP_MEAN_REFERENCES)}


def _gamma(shape: float, rows: int, size: int, gen: torch.Generator) -> np.ndarray:
    concentration = torch.full((rows, size), shape, dtype=torch.float64)
    return torch._standard_gamma(concentration, generator=gen).numpy()


# ---- the ratio interval, on a synthetic ratio of means

# numerator and denominator independent Gamma laws of these shapes (truth: their ratio); the
# values the ratio interval studentizes, num - theta den, are then right-skewed (skewness near 2/3)
DEEP_RATIO_SHAPES: tuple[float, float] = (4.0, 16.0)


def ratio_moments(num_shape: float, den_shape: float) -> tuple[float, float]:
    """Skewness and excess kurtosis of ``X - theta Y`` for independent ``X ~ Gamma(num_shape)`` and
    ``Y ~ Gamma(den_shape)`` at the true ratio ``theta = num_shape / den_shape``, from the cumulants
    of a Gamma law (``(n - 1)! k``), which add over independent terms."""
    theta = num_shape / den_shape
    cumulant = lambda n: math.factorial(n - 1) * (num_shape + (-theta) ** n * den_shape)
    return cumulant(3) / cumulant(2) ** 1.5, cumulant(4) / cumulant(2) ** 2


def deep_ratio_size(num_shape: float, den_shape: float) -> int:
    """The first look the engine's rules give the ratio at its exact moments (:func:`ratio_moments`),
    for a claim that asks for ``CASE_FIRST`` trials."""
    return int(look_for_moments(CASE_FIRST, *ratio_moments(num_shape, den_shape)))


def deep_ratio_config() -> dict[str, Any]:
    """Everything a stored deep ratio scan's rows depend on besides its seed and replicates."""
    return {**deep_config(), "shapes": list(DEEP_RATIO_SHAPES), "interval": RATIO_LABEL,
            "references": list(RATIO_REFERENCES)}


def _salient_only_ratio_excess(num: np.ndarray, den: np.ndarray, theta: float, alpha: float,
                               corrected: np.ndarray) -> np.ndarray:
    """:func:`stats.ratio_test` as it was before it widened for an unresolved skewness: the limits
    for the mean of ``num - theta den`` corrected for its sample skewness where ``corrected``, else
    plain Student t (a reference the deep ratio scan counts beside the verifier's): the test itself,
    read with a high skewness of 0 where the skewness does not stand out, so nothing is widened, and
    the long arm read from the sample skewness alone."""
    return ratio_test(num, den, theta, alpha, (corrected, 0.0, 1.0), "sample")


def _plain_delta_misses(num: np.ndarray, den: np.ndarray, truth: float, alpha: float) -> np.ndarray:
    _, lo, hi = delta_limits(num, den, alpha)
    return (hi < truth) | (lo > truth)


# Per replicate (row), whether an interval counted beside the verifier's ratio interval misses the
# truth, from the rows, the truth, ``alpha`` and the rows' :func:`stats.ratio_skew_reading`: the plain
# delta-method interval; the interval before the widening. (The verifier's interval with its long
# arm read another way has rows of its own, :data:`SCAN_ARMS`.)
RATIO_REFERENCE_MISSES: dict[str, Callable[..., np.ndarray]] = {
    "plain": lambda num, den, truth, alpha, reading: _plain_delta_misses(num, den, truth, alpha),
    "salient_only": lambda num, den, truth, alpha, reading:
        _salient_only_ratio_excess(num, den, truth, alpha, reading[0]) > 0,
}
# the intervals the deep ratio scan counts beside the verifier's (columns of ``_ratio_misses``)
RATIO_REFERENCES = ("plain", "salient_only")
# and those the first-look scan counts
FIRST_LOOK_REFERENCES = RATIO_REFERENCES


def ratio_sides(num: np.ndarray, den: np.ndarray, truth: float, alpha: float,
                reading: tuple[Any, Any, Any] | None = None,
                long_arm: str = LONG_ARM) -> tuple[np.ndarray, np.ndarray]:
    """Per replicate (row), whether the verifier's ratio interval at level ``1 - alpha`` (its long
    arm read as ``long_arm`` says) lies below the truth, and above it: where the test it inverts
    (:func:`stats.ratio_test`, on the skewness ``reading`` of :func:`stats.ratio_skew_reading`)
    rejects the truth, on the side of the estimate."""
    rejected = ratio_test(num, den, truth, alpha, reading, long_arm) > 0
    truth_above = num.mean(1) / den.mean(1) < truth
    return rejected & truth_above, rejected & ~truth_above


def _ratio_misses(num: np.ndarray, den: np.ndarray, truth: float, levels: Sequence[float],
                  references: Sequence[str] = RATIO_REFERENCES,
                  arms: Sequence[str] = SCAN_ARMS) -> tuple[np.ndarray, np.ndarray]:
    """Misses of the ratio interval the verifier uses (:func:`stats.ratio_of_means_ci`, through the
    test it inverts, one replicate per row), its long arm read as each of ``arms`` says, at each of
    ``levels``: ``[arm, level, (below, above) the truth]``; beside them, ``[level, name]`` for each
    name of ``references`` (:data:`RATIO_REFERENCE_MISSES`), the misses of those intervals on the
    same rows."""
    reading = ratio_skew_reading(num, den)
    misses = np.zeros((len(arms), len(levels), 2), dtype=int)
    others = np.zeros((len(levels), len(references)), dtype=int)
    for i, level in enumerate(levels):
        for a, arm in enumerate(arms):
            sides = ratio_sides(num, den, truth, 1 - level, reading, arm)
            misses[a, i] = [int(np.sum(side)) for side in sides]
        others[i] = [int(np.sum(RATIO_REFERENCE_MISSES[name](num, den, truth, 1 - level, reading)))
                     for name in references]
    return misses, others


# ---- what the two deep scans share

DEEP_MEAN_REFERENCES = ("plain", "salient_only")  # counted beside the verifier's mean interval

def _deep_point(estimator: str, shapes: tuple[float, ...]) -> dict[str, Any]:
    """How the deep scan of ``estimator`` (``mean``: one Gamma shape; ``ratio``: numerator and
    denominator shapes) labels its streams and rows, where it sets the floor, the truth, and how it
    counts misses on the values drawn for each of ``shapes``."""
    if estimator == "mean":
        (shape,) = shapes
        return {"stream": ("deep", shape), "floor": deep_size(shape), "truth": shape, "label": MEAN_LABEL,
                "where": f"synthetic Gamma({shape:g}), skewness {gamma_skewness(shape):.3g}",
                "references": DEEP_MEAN_REFERENCES,
                "misses": lambda values, truth, levels: _value_misses(estimator, values, truth, levels,
                                                                      DEEP_MEAN_REFERENCES)}
    skew, _ = ratio_moments(*shapes)
    return {"stream": ("deep ratio", tuple(shapes)), "floor": deep_ratio_size(*shapes),
            "truth": shapes[0] / shapes[1], "label": RATIO_LABEL,
            "where": f"synthetic Gamma({shapes[0]:g}) / Gamma({shapes[1]:g}) means, skewness {skew:.3g}",
            "references": RATIO_REFERENCES,
            "misses": lambda values, truth, levels: _value_misses(estimator, values, truth, levels,
                                                                  RATIO_REFERENCES)}


def deep_look_sizes(estimator: str, shapes: tuple[float, ...], sizing: str, count: int, floor: int,
                    gen: torch.Generator) -> np.ndarray:
    """The looks of ``count`` replicates at a deep point: all ``floor`` for the ``floor`` sizing;
    for the ``rule``, per replicate what :func:`engine.first_looks` reads from a pilot of its own,
    drawn from ``gen`` (the untilted Gamma laws of ``shapes``, ``PILOT_TRIALS`` each)."""
    if sizing == "floor":
        return np.full(count, floor)
    pilots = tuple(_gamma(k, count, PILOT_TRIALS, gen) for k in shapes)
    return first_looks(CASE_FIRST, studentized_values(estimator, pilots))


def _deep_chunk(estimator: str, shapes: tuple[float, ...], sizing: str, count: int, seed: int, index: int,
                levels: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Misses ``[arm, level, side]`` (:data:`SCAN_ARMS`) of ``count`` replicates (chunk ``index``)
    of the interval of ``estimator`` on Gamma values of ``shapes`` (:func:`_deep_point`), sized by
    ``sizing``, with its references' ``[level, name]``; and the looks' sizes. Replicates of one size
    are judged together."""
    point = _deep_point(estimator, shapes)
    gen = generator(derive_seed(seed, *point["stream"], sizing, index), "cpu")
    draw = lambda rows, size: tuple(_gamma(k, rows, size, gen) for k in shapes)
    sizes = deep_look_sizes(estimator, shapes, sizing, count, point["floor"], gen)
    misses = np.zeros((len(SCAN_ARMS), len(levels), 2), dtype=int)
    others = np.zeros((len(levels), len(point["references"])), dtype=int)
    for size, rows in zip(*np.unique(sizes, return_counts=True)):
        m, o = point["misses"](draw(int(rows), int(size)), point["truth"], levels)
        misses, others = misses + m, others + o
    return misses, others, sizes


def deep_chunk_counts(estimator: str, shapes: tuple[float, ...], sizing: str, replicates: int,
                      chunk: int = DEEP_CHUNK) -> list[int]:
    """The replicates of each chunk of a deep scan's point and sizing: about ``chunk`` values a
    chunk at the floor's look, ``DEEP_RULE_CHUNKS`` times that (pilots included) for the rule."""
    floor = _deep_point(estimator, shapes)["floor"]
    per = chunk // (len(shapes) * floor)
    if sizing == "rule":
        per = DEEP_RULE_CHUNKS * chunk // (len(shapes) * (floor + PILOT_TRIALS))
    return chunk_counts(replicates, max(1, per))


def _deep_rows(estimator: str, shapes: tuple[float, ...], sizing: str, replicates: int, seed: int,
               levels: Sequence[float], workers: int, progress: bool, chunk: int) -> list[dict[str, Any]]:
    """The rows of one point and sizing of a deep scan: its replicates in chunks of about ``chunk``
    values (``DEEP_RULE_CHUNKS`` times that, pilots included, for the rule), run in ``workers``
    processes."""
    point = _deep_point(estimator, shapes)
    floor = point["floor"]
    counts = deep_chunk_counts(estimator, shapes, sizing, replicates, chunk)
    jobs = [(estimator, tuple(shapes), sizing, count, seed, index, tuple(levels))
            for index, count in enumerate(counts)]
    started = time.perf_counter()
    results = _run_chunks(_deep_chunk, jobs, counts, workers, progress, f"deep {point['where']}, {sizing}")
    misses, others = sum(m for m, _, _ in results), sum(o for _, o, _ in results)
    sizes = [z for _, _, z in results]
    seconds = round(time.perf_counter() - started, 3)
    looks = np.concatenate(sizes)
    quartiles = [int(q) for q in np.quantile(looks, (.25, .5, .75))]
    below = int(np.sum(looks < floor))
    per_row = lambda a, i: {**_covered_by(point["references"], others[i], replicates),
                            "chunk_misses": [m[a, i].tolist() for m, _, _ in results],
                            "chunk_references": [o[i].tolist() for _, o, _ in results]}
    return _arm_rows(point["label"], point["where"], int(np.median(looks)), point["truth"], levels, misses,
                     replicates, seconds, SCAN_ARMS, per_row, sizing=sizing, first_look_quartiles=quartiles,
                     below_floor=below)


def _check_deep(replicates: int, sizings: Sequence[str]) -> None:
    if replicates < MIN_REPLICATES:
        raise ValueError(f"replicates: expected at least {MIN_REPLICATES}, got {replicates}")
    unknown = set(sizings) - set(DEEP_SIZINGS)
    if unknown:
        raise ValueError(f"sizings: expected some of {', '.join(DEEP_SIZINGS)}, got {sorted(unknown)}")


def deep_scan(replicates: int, seed: int = 0, shapes: Sequence[float] = DEEP_SHAPES,
              levels: Sequence[float] = DEEP_LEVELS, workers: int = 1, progress: bool = False,
              sizings: Sequence[str] = DEEP_SIZINGS, chunk: int = DEEP_CHUNK) -> list[dict[str, Any]]:
    """Coverage of the mean interval the verifier uses (:func:`stats.mean_ci`) at miss rates down to
    1e-6, on ``replicates`` fresh replicates of i.i.d. Gamma(k) values (truth k) for each k of
    ``shapes``, as many values as each of ``sizings`` grants: ``floor``, :func:`deep_size`; ``rule``,
    what :func:`engine.first_look` reads from a pilot of its own (for a claim that asks for
    ``CASE_FIRST`` trials). Rows as :func:`first_look_scan`'s, with ``sizing``, the quartiles of the
    looks (``first_look_quartiles``), how many lie below the floor (``below_floor``),
    ``plain_covered`` (the plain Student-t interval on the same replicates) and
    ``salient_only_covered`` (the interval before it widened for an unresolved skewness,
    :data:`MEAN_REFERENCES`). The replicates are
    drawn in chunks of about ``chunk`` values (``DEEP_RULE_CHUNKS`` times that for the rule), each
    seeded by its index, so ``workers`` processes give the same rows as one."""
    _check_deep(replicates, sizings)
    return [row for k in shapes for z in sizings
            for row in _deep_rows("mean", (k,), z, replicates, seed, levels, workers, progress, chunk)]


def deep_ratio_scan(replicates: int, seed: int = 0, shapes: tuple[float, float] = DEEP_RATIO_SHAPES,
                    levels: Sequence[float] = DEEP_LEVELS, workers: int = 1, progress: bool = False,
                    sizings: Sequence[str] = DEEP_SIZINGS, chunk: int = DEEP_CHUNK) -> list[dict[str, Any]]:
    """As :func:`deep_scan`, for the ratio interval (:func:`stats.ratio_of_means_ci`) of the means of
    independent Gamma(``shapes[0]``) and Gamma(``shapes[1]``) values drawn in pairs (truth: the ratio
    of the shapes); the floor is :func:`deep_ratio_size`, ``plain_covered`` counts the plain
    delta-method interval and ``salient_only_covered`` the interval before it widened for an
    unresolved skewness (:func:`_salient_only_ratio_excess`)."""
    _check_deep(replicates, sizings)
    return [row for z in sizings for row in
            _deep_rows("ratio", tuple(shapes), z, replicates, seed, levels, workers, progress, chunk)]


def run(replicates: int = MIN_REPLICATES, seed: int = 0,
        chosen: Sequence[Case] | None = None) -> dict[str, Any]:
    """The coverage table of every case (or ``chosen``), as a JSON-ready dict."""
    chosen = cases() if chosen is None else chosen
    rows = [row for case in chosen for row in measure(case, replicates, seed)]
    return {"replicates": replicates, "seed": seed, "confidence": CONFIDENCE, "levels": list(LEVELS),
            "pilot_trials": PILOT_TRIALS, "torch": torch.__version__, "rows": rows}


TABLE_KEYS: tuple[str, ...] = ("replicates", "levels", "pilot_trials", "rows")  # of the table alone


def without_table(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` less what describes its coverage table (for a run that measured none), so that
    the table's replicates and levels are not read as those of the scans beside it."""
    return {k: v for k, v in report.items() if k not in TABLE_KEYS}


def _print_tail(rows: Sequence[dict[str, Any]]) -> None:
    for r in rows:
        print(f"tail {r['estimator']:5s} {r['point']} T={r['trials']} nominal {r['nominal_miss']:g}: "
              f"{r['misses']}/{r['replicates']} ({r['misses_below']} below, {r['misses_above']} above) "
              f"[{r['ci'][0]:.2g}, {r['ci'][1]:.2g}] {r['verdict']}")


def _print_rows(rows: Sequence[dict[str, Any]], prefix: str = "") -> None:
    for r in rows:
        sides = f" ({r['misses_below']} below, {r['misses_above']} above)" if "misses_below" in r else ""
        chosen = f" looks {r['first_look_quartiles']}" if "first_look_quartiles" in r else ""
        arm = f" [{r['long_arm']}]" if "long_arm" in r else ""
        print(f"{prefix}{r['interval']:34s}{arm} {r['point']:58s} T={r['trials']:<5d}{chosen} "
              f"{r['nominal']:.6g}: "
              f"{r['covered']}/{r['replicates']} = {r['coverage']:.4f} [{r['ci'][0]:.4f}, {r['ci'][1]:.4f}]"
              f"{sides} {r['verdict']} ({r['seconds']:.1f} s)")


# the CLI's scans, each asked for by its number of replicates R (0: not measured)
SCAN_FLAGS: dict[str, str] = {
    "tail": "measure miss rates at 1e-2..1e-4 from R replicates (e.g. 20000)",
    "first-look": "scan the ratio interval's coverage by first-look size, R replicates per size (e.g. 40000)",
    "rule": "measure the coverage of first looks sized by the skew rule, R replicates per point (e.g. 20000)",
    "heavy": "scan the mean interval's coverage by size at the synthetic Student-t point and measure the "
             "rule there, R replicates per size and point (e.g. 20000)",
    "deep": "measure the mean interval at miss rates down to 1e-6 on synthetic Gamma points, R replicates "
            "per point and look (e.g. 2000000)",
    "deep-ratio": "measure the ratio interval likewise on a synthetic ratio of Gamma means, R replicates "
                  "per look (e.g. 1000000)",
    "tilted": "measure both intervals' miss rates below what counting reaches, on the deep scans' Gamma "
              "points, by importance sampling, R replicates per point, look, level and side (e.g. 60000)",
    "tilted-snr": "measure the ratio interval's miss rates below what counting reaches at the SNR scan "
                  "point, by importance sampling, R replicates per level and side (e.g. 30000)",
    "tilted-snr-sizes": "measure it likewise from first looks below the floor (tilted_snr.SNR_SIZES), with "
                        "the share of the rule's looks below each, R replicates per size, level and side "
                        "(e.g. 30000)",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pavlov_theory.coverage",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=MIN_REPLICATES,
                        help=f"fresh-seed reruns per case (default and least {MIN_REPLICATES})")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    for flag, what in SCAN_FLAGS.items():
        parser.add_argument(f"--{flag}", type=int, default=0, metavar="R", help=f"also {what}")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes for --first-look, --rule, --heavy, --deep, --deep-ratio, --tilted, "
                             "--tilted-snr and --tilted-snr-sizes (default 1; the rows do not depend on it)")
    parser.add_argument("--calibrate", action="store_true",
                        help="also measure the skewness at the scan point, which turns the sizes the "
                             "first-look scan finds into trials per unit of squared skewness")
    parser.add_argument("--no-table", action="store_true",
                        help="skip the coverage table of every case (when only the scans are wanted)")
    parser.add_argument("--out", default=None, help="write the table as JSON here")
    args = parser.parse_args(argv)
    if args.replicates < MIN_REPLICATES or args.seed < 0:
        parser.error(f"replicates: expected an integer >= {MIN_REPLICATES}; seed: an integer >= 0")
    for flag in SCAN_FLAGS:
        value = getattr(args, flag.replace("-", "_"))
        if value != 0 and value < MIN_REPLICATES:
            parser.error(f"{flag}: expected 0 (not measured) or an integer >= {MIN_REPLICATES}")
    if not 1 <= args.workers <= 256:
        parser.error(f"workers: expected an integer in [1, 256], got {args.workers}")
    if args.no_table:
        report = without_table(run(args.replicates, args.seed, []))
    else:
        report = run(args.replicates, args.seed)
    if args.tail:
        report["tail"] = tail(**TAIL_POINT, replicates=args.tail, seed=args.seed)
        _print_tail(report["tail"])
    if args.first_look:
        report["first_look"] = first_look_scan(args.first_look, args.seed, workers=args.workers,
                                               progress=True)
        _print_rows(report["first_look"], "first look: ")
    if args.calibrate:
        report["calibration"] = found = calibration(seed=args.seed)
        print(f"calibration: skewness {found['skewness']:.4f} from {found['trials']} trials")
    if report.get("first_look"):
        # what each reading needs is read from the rows, never stored beside them
        skew = report["calibration"]["skewness"] if args.calibrate else None
        for arm in SCAN_ARMS:
            needed = smallest_by(rows_read(report["first_look"], arm))
            if needed is None:
                print(f"first look, {arm}: undercovers even at the largest size scanned")
                continue
            # where no scanned size undercovers, the smallest scanned one bounds the need from above
            bounded = needed == min(r["trials"] for r in report["first_look"])
            print(f"first look, {arm}: no size from {needed} trials on undercovers, so it needs "
                  f"{'at most ' if bounded else ''}{needed}"
                  + (f", {per_skew2(needed, skew):.1f} trials per unit of squared skewness; "
                     f"engine.TRIALS_PER_SKEW2 ({TRIALS_PER_SKEW2}) grants {'at least ' if bounded else ''}"
                     f"{margin(TRIALS_PER_SKEW2, needed, skew):.2f} times that" if skew else ""))
    if args.rule:
        report["rule"] = rule_scan(args.rule, args.seed, workers=args.workers, progress=True)
        _print_rows(report["rule"], "rule: ")
    if args.heavy:
        report["heavy"] = heavy_scan(args.heavy, args.seed, workers=args.workers, progress=True)
        _print_rows(report["heavy"], "heavy: ")
        kurt = heavy_kurtosis(HEAVY_POINT["df"])
        read = verifier_rows(report["heavy"])
        earlier = covering_by(read, "always_corrected_covered")
        size = lambda found: found or "no scanned size"
        print(f"heavy: the verifier's interval undercovers at no level at {size(covering_by(read))} trials "
              f"and, from it on, at none from {size(smallest_by(read))}; the interval always corrected "
              f"(what TRIALS_PER_KURT is set from) at no level at {size(earlier)} trials"
              + (f" ({earlier / kurt:.1f} per unit of excess kurtosis {kurt:g})" if earlier else ""))
        report["heavy_rule"] = rule_scan(args.heavy, args.seed, points=HEAVY_RULE_POINTS,
                                         workers=args.workers, progress=True)
        _print_rows(report["heavy_rule"], "heavy rule: ")
    if args.first_look or args.calibrate or args.rule or args.heavy:
        report["scan_config"] = scan_config()
    if args.deep:
        report["deep"] = deep_scan(args.deep, args.seed, workers=args.workers, progress=True)
        report["deep_config"] = deep_config()
        _print_rows(report["deep"], "deep: ")
    if args.deep_ratio:
        report["deep_ratio"] = deep_ratio_scan(args.deep_ratio, args.seed, workers=args.workers,
                                               progress=True)
        report["deep_ratio_config"] = deep_ratio_config()
        _print_rows(report["deep_ratio"], "deep ratio: ")
    if args.tilted:
        from . import tilted

        report["tilted"] = tilted.tilted_scan(args.tilted, args.seed, workers=args.workers, progress=True)
        report["tilted_config"] = tilted.tilted_config()
        tilted.print_rows(report["tilted"])
    if args.tilted_snr:
        from . import tilted, tilted_snr

        report["tilted_snr"] = tilted_snr.snr_tilted_scan(args.tilted_snr, args.seed,
                                                          workers=args.workers, progress=True)
        report["tilted_snr_config"] = tilted_snr.snr_tilted_config()
        tilted.print_rows(report["tilted_snr"])
    if args.tilted_snr_sizes:
        from . import tilted, tilted_snr

        report["tilted_snr_sizes"] = tilted_snr.snr_sizes_scan(args.tilted_snr_sizes, args.seed,
                                                               workers=args.workers, progress=True)
        report["tilted_snr_sizes_config"] = tilted_snr.snr_sizes_config()
        tilted.print_rows(report["tilted_snr_sizes"]["rows"])
        for share in report["tilted_snr_sizes"]["rule_shares"]:
            print(f"rule looks below {share['size']}: {share['share']:.4f} "
                  f"[{share['ci'][0]:.4f}, {share['ci'][1]:.4f}] of {share['looks']}")
    _print_rows(report.get("rows", []))
    if any(getattr(args, flag.replace("-", "_")) for flag in SCAN_FLAGS if flag != "tail"):
        report["workers"] = args.workers  # the rows do not depend on it; the time does
    if args.out:
        from .ledger import write

        print(f"coverage written to {write(report, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
