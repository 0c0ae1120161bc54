"""The glue every claim shares: seeded memory-bounded batching, sequential sampling, and the
standard measurements (a mean or ratio judged exact or refined, a probability against a bound).

A :class:`Kernel` is a pure function of ``(params, trials, generator, dtype)`` that returns one
float64 (or bool) array per output, one entry per trial, with a naive reference beside it that
tests compare it with. :func:`draw` is the only place trials are split into chunks and chunks
are seeded: chunk ``c`` of look ``s`` of a check gets a generator seeded by
``(seed, claim, params, s, c)``, so draws are reproducible, independent across claims, points
and looks, and bounded in memory by the context's budget whatever the number of trials.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from . import judges
from .claims import Context, Result
from .device import rows_per_chunk
from .sampling import derive_seed, generator
from .stats import ESTIMATORS, Interval, kurtosis_upper, proportion_ci, sequential, skewness_upper

Outputs = tuple[np.ndarray, ...]
KernelFn = Callable[[Mapping[str, Any], int, torch.Generator, torch.dtype], Outputs]


@dataclass(frozen=True)
class Kernel:
    """A batched Monte Carlo kernel and its naive reference (same signature, same draws).

    ``bytes_per_trial(params, itemsize)`` bounds the memory one trial takes, so :func:`draw`
    can size chunks to the budget. ``example`` is a small parameter point where tests compare
    the kernel with ``naive`` on the same samples."""

    name: str
    fn: KernelFn
    naive: KernelFn
    bytes_per_trial: Callable[[Mapping[str, Any], int], int]
    example: Mapping[str, Any]

    def __call__(self, params: Mapping[str, Any], trials: int, gen: torch.Generator,
                 dtype: torch.dtype) -> Outputs:
        return self.fn(params, trials, gen, dtype)


def to_numpy(x: torch.Tensor) -> np.ndarray:
    """A kernel output as a float64 (or bool) numpy array on the host."""
    x = x.detach()
    return x.cpu().numpy() if x.dtype == torch.bool else x.double().cpu().numpy()


def check_seed(ctx: Context, params: Mapping[str, Any], *labels: Any) -> int:
    """The seed of one stream of a check, from the run's seed, the claim, its point and labels."""
    return derive_seed(ctx.seed, ctx.claim, sorted(params.items()), *labels)


def draw(ctx: Context, params: Mapping[str, Any], kernel: Kernel, trials: int, stream: Any = 0) -> Outputs:
    """``trials`` trials of ``kernel`` at ``params``, in chunks that fit ``ctx.memory_budget``,
    each chunk seeded from ``(ctx.seed, ctx.claim, params, stream, chunk)``."""
    itemsize = torch.finfo(ctx.torch_dtype).bits // 8
    chunk = rows_per_chunk(kernel.bytes_per_trial(params, itemsize), ctx.memory_budget)
    parts: list[Outputs] = []
    for index, start in enumerate(range(0, trials, chunk)):
        gen = generator(check_seed(ctx, params, stream, index), ctx.device)
        parts.append(kernel(params, min(chunk, trials - start), gen, ctx.torch_dtype))
    outputs = tuple(np.concatenate(column) for column in zip(*parts))
    for index, column in enumerate(outputs):
        if column.dtype != bool and not np.all(np.isfinite(column)):
            # an interval with a NaN in it contains nothing: it would fail a true claim
            raise FloatingPointError(f"{kernel.name} at {dict(params)}: output {index} has "
                                     f"{int(np.sum(~np.isfinite(column)))} non-finite trial(s)")
    return outputs


# The first look of a mean or ratio check is sized from the skewness of an independent pilot. The
# skewness-corrected intervals of both studentize a mean of per-trial values (the samples, or
# ``num - theta den``); what is left of their coverage error falls like ``skew^2 / trials``. The
# constant was set on an earlier form of the ratio interval (corrected for every skewness it read).
# At the most skewed point of the coverage table (Gaussian keys, d_k = 4, n = 2) the first-look scan
# (``python -m pavlov_theory.coverage --first-look R --calibrate``, sizes a factor of root 2 apart)
# finds the smallest size from which on the ratio interval undercovers at no level from 95% to
# 99.99%, for each reading of a skewness that stands out (:data:`stats.LONG_ARMS`: both arms
# lengthened further, the verifier's; the long arm alone; neither arm). The constant times the point's squared
# skewness grants at least each size (tests hold it to that; the coverage chapter states by how
# much): at the levels scanned it is a margin over every reading, not a calibration of any, and
# nothing here measures whether the deeper levels a run's looks use (miss rates below 1e-4) need
# that much. A look gets ``TRIALS_PER_SKEW2 * skew^2`` trials at least, with the skew read high from
# the pilot (:func:`stats.skewness_upper`); ``--rule`` measures the coverage this rule gives. Where
# the trial cap is below that size, the check decides nothing (``undecided``) unless the capped
# look's own trials ask for no more.
TRIALS_PER_SKEW2 = 512
# Skewness is not the only thing the first look must outgrow: on a symmetric heavy-tailed law the
# skewness a sample reads is noise, and a correction built on it moves the interval off. At a
# synthetic point chosen for that blind spot (Student t, 5 degrees of freedom, excess kurtosis 6,
# truth 0; ``python -m pavlov_theory.coverage --heavy 20000``) the interval corrected for every
# skewness it reads undercovers from few trials; the smallest size at which it undercovers at no level,
# over the excess kurtosis, is what this constant is set from. A look gets ``TRIALS_PER_KURT`` times
# the excess kurtosis read high from the pilot (:func:`stats.kurtosis_upper`) at least too, whichever
# size is larger.
# Both constants were measured on earlier forms of the intervals, before they lengthened both arms
# for a skewness that does not stand out (:func:`stats.skew_corrected_limits`). The scans rerun on
# the current intervals are stored in ``book/measured`` and shown in the coverage chapter, with the
# earlier intervals counted beside on the same replicates; tests check that the skew constant
# grants at least the size the current interval needs, whichever way it reads the skewness, that the
# kurtosis constant grants at least the smallest size at which the
# current interval undercovers at no level, and that it is what the earlier interval's column
# gives. Both keep their values.
TRIALS_PER_KURT = 171
PILOT_TRIALS = 256
SKEW_SIZED: tuple[str, ...] = ("mean", "ratio")


def studentized_values(estimator: str, samples: Outputs) -> np.ndarray:
    """The per-trial values whose mean the interval of ``estimator`` studentizes: the samples of a
    mean; ``num - theta den`` at the estimated ``theta = mean(num) / mean(den)`` of a ratio (along
    the last axis: one pilot per row)."""
    if estimator == "ratio":
        num, den = (np.asarray(x, dtype=np.float64) for x in samples[:2])
        mean_den = den.mean(-1, keepdims=True)
        nonzero = mean_den != 0
        theta = np.where(nonzero, num.mean(-1, keepdims=True) / np.where(nonzero, mean_den, 1.0), 0.0)
        return num - theta * den
    return np.asarray(samples[0], dtype=np.float64)


def first_look(estimator: str, first: int, pilot: Outputs | None) -> int:
    """The first look :func:`sample_until` draws for ``estimator`` when a claim asks for ``first``
    trials: for a mean or a ratio, at least ``TRIALS_PER_SKEW2`` times the squared skewness and
    ``TRIALS_PER_KURT`` times the excess kurtosis its ``pilot`` samples read high
    (:func:`stats.skewness_upper`, :func:`stats.kurtosis_upper`); ``first`` for other estimators."""
    if estimator not in SKEW_SIZED or pilot is None:
        return first
    return int(first_looks(first, studentized_values(estimator, pilot)))


def first_looks(first: int, values: np.ndarray) -> Any:
    """The rule of :func:`first_look` for pilots of studentized values along the last axis: one
    size for a 1-D pilot, else an integer array of one size per row."""
    return look_for_moments(first, skewness_upper(values), kurtosis_upper(values))


def look_for_moments(first: int, skew: Any, kurt: Any) -> Any:
    """The first look for a skewness and an excess kurtosis (numbers or arrays): at least ``first``,
    ``TRIALS_PER_SKEW2 * skew^2`` and ``TRIALS_PER_KURT * kurt``."""
    by_skew, by_kurt = np.ceil(TRIALS_PER_SKEW2 * skew * skew), np.ceil(TRIALS_PER_KURT * kurt)
    return np.maximum(first, np.maximum(by_skew, by_kurt)).astype(np.int64)


def too_few(estimator: str, samples: Outputs) -> bool:
    """Whether ``samples``, read as a pilot, ask :func:`first_look` for more trials than they hold:
    then their interval of ``estimator`` is not trusted at its size."""
    return first_look(estimator, 2, samples) > len(samples[0])


def unbounded(ci: Interval) -> Interval:
    """``ci`` with its limits at -inf and inf: an interval every judge reads as ``undecided``."""
    return Interval(ci.estimate, -math.inf, math.inf, ci.n)


def sized(estimator: str, samples: Outputs, level: float) -> Interval:
    """The interval of ``estimator`` (``stats.ESTIMATORS``) at ``level`` for a check that draws a
    fixed number of trials: as computed where its samples are enough for the first-look rule, else
    :func:`unbounded` (the same rule :func:`sample_until` applies to a look the trial cap cut short)."""
    ci = ESTIMATORS[estimator](samples, level)
    return unbounded(ci) if too_few(estimator, samples) else ci


def sample_until(ctx: Context, params: Mapping[str, Any], kernel: Kernel, estimator: str,
                 decide: Callable[[Interval], str], first: int = 256) -> tuple[Interval, str]:
    """Sequential sampling: draw looks of doubling size, the first of :func:`first_look` trials
    (sized from an independent pilot of ``PILOT_TRIALS`` trials for a mean or a ratio),
    until ``decide`` leaves ``undecided`` or ``ctx.max_trials`` is spent (each look at level
    ``alpha / looks``, see :func:`stats.sequential`). The interval is widened by a rounding floor of
    ``1000 eps`` of the dtype times the interval's scale, so an estimate with no sampling variance
    is not failed for float rounding."""
    interval = ESTIMATORS[estimator]

    last: list[Outputs] = []

    def widened(samples: Outputs, level: float) -> Interval:
        last[:] = [samples]
        ci = interval(samples, level)
        floor = 1e3 * ctx.eps * max(abs(ci.estimate), abs(ci.lo), abs(ci.hi))
        return Interval(ci.estimate, ci.lo - floor, ci.hi + floor, ci.n)

    pilot = draw(ctx, params, kernel, PILOT_TRIALS, "pilot") if estimator in SKEW_SIZED else None
    start = first_look(estimator, first, pilot)
    ci, verdict = sequential(lambda look, size: draw(ctx, params, kernel, size, look),
                             widened, decide, ctx.alpha, start, ctx.max_trials)
    # the trial cap cut the look below the size the pilot asks for: its interval is trusted only if
    # its own trials, read as a pilot, ask for no more (a 256-trial pilot with one extreme trial
    # can ask for far more than the law needs). An untrusted interval is returned unbounded, so that
    # a caller that judges it again (with another judge, or mapped) decides nothing from it either.
    if start > ctx.max_trials and too_few(estimator, last[0]):
        return unbounded(ci), "undecided"
    return ci, verdict


@dataclass(frozen=True)
class Law:
    """Which derivation result a claim compares with: ``derivation(params)`` returns the
    :class:`~pavlov_theory.derivation.Derivation`, ``result`` names the law, ``paper`` (for
    refined claims) names the paper's form, and ``values(params)`` maps the claim's parameters
    to the derivation's symbols (the parameters themselves by default)."""

    derivation: Callable[[Mapping[str, Any]], Any]
    result: str
    paper: str | None = None
    values: Callable[[Mapping[str, Any]], Mapping[str, Any]] = lambda p: p


def sampled(law: Law, kernel: Kernel, estimator: str = "mean", judge: str = "exact", first: int = 256,
            evidence: Callable[[Mapping[str, Any], Any], Sequence[dict[str, Any]]] | None = None,
            note: str = "") -> Callable[[Mapping[str, Any], Context], Result]:
    """The standard measurement: sample ``kernel`` sequentially, estimate with ``estimator``, and
    judge the derived law ``exact`` (or ``refined`` against the paper's form)."""
    if judge not in ("exact", "refined"):
        raise ValueError("sampled() judges exact or refined claims")

    def measure(params: Mapping[str, Any], ctx: Context) -> Result:
        der, values = law.derivation(params), law.values(params)
        theory = ctx.theory(der, law.result, **values)
        ci, verdict = sample_until(ctx, params, kernel, estimator,
                                   lambda c: judges.exact(theory, c), first)
        rows: list[dict[str, Any]] = []
        if law.paper is not None:
            paper = ctx.reference(der, law.paper, **values)
            if verdict == "exact":
                verdict = judges.refined(theory, paper, ci)
            rows.append({"name": "paper_form", "value": paper, "rejected": not ci.contains(paper)})
        if evidence is not None:
            rows += list(evidence(values, der))
        return Result(theory, ci.estimate, (ci.lo, ci.hi), verdict, ci.n, rows, note)

    return measure


def bound_points(rows: Sequence[Mapping[str, Any]], ctx: Context) -> tuple[str, list[dict[str, Any]]]:
    """Judge measured probabilities against bounds at many points, the level shared among the
    points: each row carries ``bound``, ``failures`` and ``trials`` (and any labels). Returns the
    combined verdict (vacuous points left out) and the rows with interval, verdict and looseness."""
    level = ctx.alpha / max(1, len(rows))
    judged = []
    for row in rows:
        ci = proportion_ci(int(row["failures"]), int(row["trials"]), level)
        verdict = judges.bound(row["bound"], ci)
        judged.append({**row, "measured": ci.estimate, "ci": [ci.lo, ci.hi], "verdict": verdict,
                       "bound_over_upper_limit": judges.looseness(row["bound"], ci)})
    return judges.combine([r["verdict"] for r in judged]), judged


def headline(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The row a multi-point check shows as its headline: the first that decided against the
    claim, else the first undecided one, else the tightest (least loose) non-vacuous one."""
    for verdict in ("fails", "undecided"):
        for row in rows:
            if row["verdict"] == verdict:
                return row
    counted = [r for r in rows if r["verdict"] != judges.VACUOUS] or list(rows)
    return min(counted, key=lambda r: r.get("bound_over_upper_limit", 0.0))
