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

Ratio intervals are measured at the first look the engine grants a ratio check
(:func:`engine.first_look`): from fewer trials they undercover at the skewed points. The first-look
scan (:func:`first_look_scan`) measures the ratio interval at the most skewed point by the number of
trials, at levels down to 99.99%, and is what :data:`engine.FIRST_LOOK_MIN` is chosen from.

Run ``python -m pavlov_theory.coverage [--replicates R] [--first-look R] [--out PATH]`` for the
tables (at least ``MIN_REPLICATES`` replicates per case); the book's statistics chapter runs a
smaller version of the same functions.
"""
from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np
import torch

from . import judges
from .engine import first_look
from .sampling import derive_seed, generator
from .stats import (
    Interval,
    fit_power_law,
    mean_ci,
    proportion_ci,
    ratio_of_means_ci,
    ratio_test,
    sequential,
    studentized_limits,
)

LEVELS: tuple[float, ...] = (0.95, 0.99)
CONFIDENCE = 0.95  # of the interval around an observed coverage
MIN_REPLICATES = 400  # per case: fewer cannot tell a 95% interval from a 92% one
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


@lru_cache(maxsize=None)
def _law(dist: str):
    from .proofs import capacity as proof

    return proof.signal_noise(dist)


def _signal_noise(params: dict[str, Any], trials: int, gen: torch.Generator):
    from .simulations.capacity import SIGNAL_NOISE

    return SIGNAL_NOISE(params, trials, gen, DTYPE)


def _point(d_k: int, n: int, dist: str, d_v: int = 64) -> dict[str, Any]:
    return {"d_k": d_k, "n": n, "d_v": d_v, "key_dist": dist}


def mean_case(d_k: int, n: int, dist: str, trials: int) -> Case:
    """Student-t interval for the mean noise power of retrieval (truth: the derived ``noise_power``)."""
    params = _point(d_k, n, dist)
    truth = _law(dist).evaluate("noise_power", **params)
    run = lambda gen, alphas: [mean_ci(_signal_noise(params, trials, gen)[1], a) for a in alphas]
    return Case("mean (skew-corrected t)", f"noise power, {dist} keys, d_k={d_k}, n={n}", trials, truth, run)


def ratio_case(d_k: int, n: int, dist: str, trials: int) -> Case:
    """Test-inversion (Fieller, skewness-corrected) interval of :func:`stats.ratio_of_means_ci`
    for signal over noise power (truth: the derived ``snr``)."""
    params = _point(d_k, n, dist)
    truth = _law(dist).evaluate("snr", **params)

    def run(gen: torch.Generator, alphas: Sequence[float]) -> list[Interval]:
        signal, noise = _signal_noise(params, trials, gen)
        return [ratio_of_means_ci(signal, noise, a) for a in alphas]

    where = f"SNR, {dist} keys, d_k={d_k}, n={n}"
    return Case("ratio of means (corrected Fieller)", where, trials, truth, run)


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


def feature_ratio_case(phi: str, centre: bool, d_k: int, n: int, trials: int) -> Case:
    """The ratio interval (:func:`stats.ratio_of_means_ci`) of signal over noise power of
    feature-map linear attention, raw or centred, as ``softmax.feature_maps`` reads it at its first
    look (truth: the derived ``<phi>_snr_raw`` or ``<phi>_snr_centred``)."""
    params = _feature_point(phi, centre, d_k, n)
    truth = _feature_law().evaluate(f"{phi}_snr_{'centred' if centre else 'raw'}", d_k=d_k, n=n)

    def run(gen: torch.Generator, alphas: Sequence[float]) -> list[Interval]:
        signal, noise = _feature_powers(params, trials, gen)
        return [ratio_of_means_ci(signal, noise, a) for a in alphas]

    where = f"feature-map SNR, {phi} {'centred' if centre else 'raw'}, d_k={d_k}, n={n}"
    return Case("ratio of means (corrected Fieller)", where, trials, truth, run)


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
    return Case("ratio of means (corrected Fieller)", where, trials, truth, run)


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
    """Replicates of the sequential rule on the per-trial powers ``powers(size, generator)``."""
    cap = 64 * first

    def run(gen: torch.Generator, alphas: Sequence[float]) -> list[Interval]:
        seed = int(torch.randint(0, 2**62, (1,), generator=gen).item())
        draw = lambda look, size: powers(size, generator(derive_seed(seed, look), "cpu"))
        interval = lambda x, level: ratio_of_means_ci(x[0], x[1], level)
        decide = lambda ci: judges.exact(truth, ci, rel)
        return [sequential(draw, interval, decide, a, first, cap)[0] for a in alphas]

    return run


def sequential_case(d_k: int, n: int, dist: str, first: int, rel: float) -> Case:
    """The sequential rule as the verifier runs it for a claim that asks for a first look of
    ``first`` trials (ratio looks of :func:`stats.ratio_of_means_ci`, doubling from
    :func:`engine.first_look`, Bonferroni over looks), judged exact against the true SNR with
    tolerance ``rel``; the interval reported is the one at the stopping look. A miss is a false
    failure."""
    params = _point(d_k, n, dist)
    truth = _law(dist).evaluate("snr", **params)
    first = first_look("ratio", first)
    run = _sequential_run(lambda size, gen: _signal_noise(params, size, gen), truth, first, rel)
    where = f"SNR, {dist} keys, d_k={d_k}, n={n}, first look {first}, tolerance {rel:g}"
    return Case("sequential (ratio looks)", where, first, truth, run)


def feature_sequential_case(phi: str, d_k: int, n: int, first: int, rel: float) -> Case:
    """The sequential rule on the raw feature-map SNR of ``phi``, as :func:`sequential_case`."""
    params = _feature_point(phi, False, d_k, n)
    truth = _feature_law().evaluate(f"{phi}_snr_raw", d_k=d_k, n=n)
    first = first_look("ratio", first)
    run = _sequential_run(lambda size, gen: _feature_powers(params, size, gen), truth, first, rel)
    where = f"feature-map SNR, {phi} raw, d_k={d_k}, n={n}, first look {first}, tolerance {rel:g}"
    return Case("sequential (ratio looks)", where, first, truth, run)


def cases() -> list[Case]:
    """The measured points: each interval kind at its most skewed point and a milder one; ratio
    intervals from the fewest trials a ratio check judges (:func:`engine.first_look`)."""
    ratio = first_look("ratio", 2)
    return [
        mean_case(16, 2, "sphere", 64), mean_case(16, 2, "sphere", 1024),
        mean_case(16, 4, "gaussian", 64),
        ratio_case(4, 2, "gaussian", ratio), ratio_case(16, 4, "gaussian", ratio),
        ratio_case(16, 4, "rademacher", ratio),
        proportion_case(0.01, 200), proportion_case(0.001, 5000), proportion_case(0.3, 50),
        power_law_case((8, 16, 32, 64), 64),
        feature_ratio_case("dpfp", True, 16, 64, ratio),
        gradient_ratio_case(16, 64, 0.1, 2000),
        sequential_case(16, 4, "gaussian", 64, 0.2),
    ]


def verdict(covered: int, replicates: int, nominal: float,
            confidence: float = CONFIDENCE) -> tuple[str, Interval]:
    """``undercovers``, ``overcovers`` or ``nominal``: where the Clopper-Pearson interval (level
    ``confidence``) of the observed coverage (``covered`` of ``replicates``) lies against the
    ``nominal`` coverage. The one rule of both tables: a miss rate ``alpha`` is judged as the
    coverage ``1 - alpha``."""
    ci = proportion_ci(covered, replicates, 1 - confidence)
    if ci.hi < nominal:
        return "undercovers", ci
    if ci.lo > nominal:
        return "overcovers", ci
    return "nominal", ci


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
    rows = []
    for level, covered, width in zip(levels, hits, widths):
        word, ci = verdict(int(covered), replicates, level)
        rows.append({"interval": case.interval, "point": case.point, "trials": case.trials,
                     "truth": case.truth,
                     "nominal": level, "replicates": replicates, "covered": int(covered),
                     "coverage": covered / replicates, "ci": [ci.lo, ci.hi], "verdict": word,
                     "mean_width": width / replicates, "seconds": round(seconds, 3)})
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


def delta_ratio_ci(num: np.ndarray, den: np.ndarray, alpha: float) -> Interval:
    """The plain delta-method interval for a ratio of means (a reference the tails compare with)."""
    a, b = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    ratio = float(a.mean() / b.mean())
    se = float(np.std((a - ratio * b) / b.mean(), ddof=1)) / math.sqrt(a.size)
    lo, hi = studentized_limits(ratio, se, 0.0, a.size, alpha)
    return Interval(ratio, lo, hi, a.size)


TAIL_ESTIMATORS: tuple[str, ...] = ("mean", "mean, plain t", "ratio", "ratio, plain delta")
# the point of the tail measurement: a first look of Gaussian keys at small d_k and n
TAIL_POINT: dict[str, Any] = {"d_k": 16, "n": 4, "dist": "gaussian", "trials": 64}


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
    per_chunk, done, index = max(1, TAIL_CHUNK // trials), 0, 0
    known = {"mean": lambda s, w, a: mean_ci(w, a), "mean, plain t": lambda s, w, a: plain_t_ci(w, a),
             "ratio": lambda s, w, a: ratio_of_means_ci(s, w, a),
             "ratio, plain delta": lambda s, w, a: delta_ratio_ci(s, w, a)}
    estimators = {name: known[name] for name in estimators}
    misses = {(e, a): [0, 0] for e in estimators for a in alphas}
    while done < replicates:
        rows = min(per_chunk, replicates - done)
        gen = generator(derive_seed(seed, "tail", d_k, n, dist, trials, index), "cpu")
        signal, noise = (x.reshape(rows, trials) for x in _signal_noise(params, rows * trials, gen))
        for r in range(rows):
            for alpha in alphas:
                for estimator, interval in estimators.items():
                    ci, truth = interval(signal[r], noise[r], alpha), truths[estimator.split(",")[0]]
                    misses[estimator, alpha][0] += ci.hi < truth
                    misses[estimator, alpha][1] += ci.lo > truth
        done, index = done + rows, index + 1
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
SCAN_SIZES: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048, 4096)
SCAN_LEVELS: tuple[float, ...] = (0.95, 0.99, 0.999, 0.9999)
SCAN_CHUNK = 2**20  # trials drawn at once


def _scan_size(size: int, replicates: int, seed: int, levels: Sequence[float]) -> list[dict[str, Any]]:
    """Rows of :func:`first_look_scan` for ratio intervals from ``size`` trials."""
    point = _point(SCAN_POINT["d_k"], SCAN_POINT["n"], SCAN_POINT["dist"], d_v=1)
    truth = _law(SCAN_POINT["dist"]).evaluate("snr", **point)
    misses = np.zeros((len(levels), 2), dtype=int)  # [level, (interval below the truth, above it)]
    started, done, index = time.perf_counter(), 0, 0
    while done < replicates:
        count = min(max(1, SCAN_CHUNK // size), replicates - done)
        gen = generator(derive_seed(seed, "first look", SCAN_POINT, size, index), "cpu")
        signal, noise = (x.reshape(count, size) for x in _signal_noise(point, count * size, gen))
        truth_above = signal.mean(1) / noise.mean(1) < truth
        for i, level in enumerate(levels):
            rejected = ratio_test(signal, noise, truth, 1 - level) > 0
            misses[i] += [int(np.sum(rejected & truth_above)), int(np.sum(rejected & ~truth_above))]
        done, index = done + count, index + 1
    seconds = round(time.perf_counter() - started, 3)
    where = f"SNR, {SCAN_POINT['dist']} keys, d_k={SCAN_POINT['d_k']}, n={SCAN_POINT['n']}"
    rows = []
    for level, (below, above) in zip(levels, misses):
        covered = replicates - int(below) - int(above)
        word, ci = verdict(covered, replicates, level)
        rows.append({"interval": "ratio of means (corrected Fieller)", "point": where, "trials": size,
                     "truth": truth, "nominal": level, "replicates": replicates, "covered": covered,
                     "coverage": covered / replicates, "ci": [ci.lo, ci.hi], "verdict": word,
                     "misses_below": int(below), "misses_above": int(above), "seconds": seconds})
    return rows


def first_look_scan(replicates: int, seed: int = 0, sizes: Sequence[int] = SCAN_SIZES,
                    levels: Sequence[float] = SCAN_LEVELS) -> list[dict[str, Any]]:
    """Coverage of the ratio interval (:func:`stats.ratio_of_means_ci`) of the SNR at
    ``SCAN_POINT`` from each number of trials of ``sizes``, on ``replicates`` fresh replicates per
    size, at ``levels`` (down to 99.99%): the measurement :data:`engine.FIRST_LOOK_MIN` is read
    from (:func:`smallest_first_look`). The interval contains the truth exactly where the test it
    inverts (:func:`stats.ratio_test`) accepts the truth, so a replicate costs one test per level,
    not a root search. With one stored pair and unit values the powers do not depend on ``d_v``
    (the noise of probe ``m`` is ``(k_m . k_j)^2``), so the values are drawn one-dimensional."""
    if replicates < MIN_REPLICATES:
        raise ValueError(f"replicates: expected at least {MIN_REPLICATES}, got {replicates}")
    return [row for size in sizes for row in _scan_size(size, replicates, seed, levels)]


def smallest_first_look(rows: Sequence[dict[str, Any]]) -> int | None:
    """The smallest number of trials of a :func:`first_look_scan` from which on no scanned size
    undercovers at any level (``None`` if the largest does)."""
    failing = max((r["trials"] for r in rows if r["verdict"] == "undercovers"), default=0)
    return min((r["trials"] for r in rows if r["trials"] > failing), default=None)


def run(replicates: int = MIN_REPLICATES, seed: int = 0,
        chosen: Sequence[Case] | None = None) -> dict[str, Any]:
    """The coverage table of every case (or ``chosen``), as a JSON-ready dict."""
    chosen = cases() if chosen is None else chosen
    rows = [row for case in chosen for row in measure(case, replicates, seed)]
    return {"replicates": replicates, "seed": seed, "confidence": CONFIDENCE, "levels": list(LEVELS),
            "first_look_min": first_look("ratio", 2), "torch": torch.__version__, "rows": rows}


def _print_tail(rows: Sequence[dict[str, Any]]) -> None:
    for r in rows:
        print(f"tail {r['estimator']:5s} {r['point']} T={r['trials']} nominal {r['nominal_miss']:g}: "
              f"{r['misses']}/{r['replicates']} ({r['misses_below']} below, {r['misses_above']} above) "
              f"[{r['ci'][0]:.2g}, {r['ci'][1]:.2g}] {r['verdict']}")


def _print_rows(rows: Sequence[dict[str, Any]], prefix: str = "") -> None:
    for r in rows:
        sides = f" ({r['misses_below']} below, {r['misses_above']} above)" if "misses_below" in r else ""
        print(f"{prefix}{r['interval']:34s} {r['point']:58s} T={r['trials']:<5d} {r['nominal']:.6g}: "
              f"{r['covered']}/{r['replicates']} = {r['coverage']:.4f} [{r['ci'][0]:.4f}, {r['ci'][1]:.4f}]"
              f"{sides} {r['verdict']} ({r['seconds']:.1f} s)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pavlov_theory.coverage",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=MIN_REPLICATES,
                        help=f"fresh-seed reruns per case (default and least {MIN_REPLICATES})")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    parser.add_argument("--tail", type=int, default=0, metavar="R",
                        help="also measure miss rates at 1e-2..1e-4 from R replicates (e.g. 20000)")
    parser.add_argument("--first-look", type=int, default=0, metavar="R",
                        help="also scan the ratio interval's coverage by first-look size, R replicates "
                             "per size (e.g. 20000)")
    parser.add_argument("--out", default=None, help="write the table as JSON here")
    args = parser.parse_args(argv)
    if args.replicates < MIN_REPLICATES or args.seed < 0:
        parser.error(f"replicates: expected an integer >= {MIN_REPLICATES}; seed: an integer >= 0")
    for name, value in (("tail", args.tail), ("first-look", args.first_look)):
        if value != 0 and value < MIN_REPLICATES:
            parser.error(f"{name}: expected 0 (not measured) or an integer >= {MIN_REPLICATES}")
    report = run(args.replicates, args.seed)
    if args.tail:
        report["tail"] = tail(**TAIL_POINT, replicates=args.tail, seed=args.seed)
        _print_tail(report["tail"])
    if args.first_look:
        report["first_look"] = first_look_scan(args.first_look, args.seed)
        report["first_look_smallest"] = smallest_first_look(report["first_look"])
        _print_rows(report["first_look"], "first look: ")
        print(f"first look: smallest size with no undercoverage from it on: {report['first_look_smallest']}; "
              f"the engine's minimum: {report['first_look_min']}")
    _print_rows(report["rows"])
    if args.out:
        from .ledger import write

        print(f"coverage written to {write(report, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
