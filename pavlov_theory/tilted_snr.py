"""Miss rates of the ratio interval far below what counting reaches, at the most skewed point the
verifier meets, by importance sampling.

:mod:`pavlov_theory.tilted` measures the intervals at per-look levels on synthetic Gamma laws. Here
the law is the verifier's own: the SNR at ``coverage.SCAN_POINT`` (Gaussian keys, ``d_k = 4``,
``n = 2``, one-dimensional unit values), whose per-trial values are drawn by the capacity kernel.

A trial's powers are functions of three independent Gamma variables (rate 1): with
``||k_1||^2 = 2 G_0 / d_k``, and ``k_2`` split along ``k_1`` (``2 G_1 / d_k``) and across it
(``2 G_2 / d_k``), ``G_0 ~ Gamma(d_k / 2)``, ``G_1 ~ Gamma(1/2)``, ``G_2 ~ Gamma((d_k - 1) / 2)``; the
signal is ``(||k_1||^4 + ||k_2||^4) / 2`` and the noise ``(k_1 . k_2)^2`` (:func:`derived`). The
interval studentizes ``y = signal - theta noise`` at the true SNR ``theta``. Its tails are heavier
than exponential (``y`` is quadratic in the Gammas), so no exponential tilt in ``y`` has a finite
normalizer, and a Gamma proposal per component leaves very uneven weights (its likelihood ratio
follows the sums of ``G`` and ``log G``, not ``y``).

The proposal tilts the trial law by ``exp(l1 y + l2 y^2)`` with ``l2 < 0``: bounded, so its
normalizer ``Z`` is finite for every ``l1``. It moves the mean and the spread of ``y`` together,
the two things a studentized mean's misses depend on. Trials are the kernel's own draws, each
accepted with probability ``exp(l1 y + l2 y^2 - max)`` (:func:`draw_tilted`), so the factorization
enters only ``Z`` and the choice of ``(l1, l2)``: both come from Gauss quadrature over ``G_0``, the
sum ``S = G_1 + G_2 ~ Gamma(d_k / 2)`` and the share ``G_1 / S ~ Beta(1/2, (d_k - 1)/2)``,
independent of ``S`` (:func:`quadrature`). A look of ``n`` trials weighs ``Z^n exp(-l1 sum y -
l2 sum y^2)``. ``(l1, l2)`` is, among the members whose t statistic of ``y`` (mean over standard
deviation times ``sqrt(n)``) lies one Student-t arm out on the side measured, the closest to the
untilted law in Kullback-Leibler divergence (:func:`proposal`). Each trial's weight
``Z exp(-l1 y - l2 y^2)`` has mean exactly 1 under the proposal when ``Z`` is right; every scan
records that mean and its standard error per level and side (``trial_weight_below`` and
``trial_weight_above``), a check of ``Z`` and of the factorization against the kernel's draws; and
the candidates kept and drawn, whose share has expectation ``Z exp(-max)`` (:func:`expected_share`),
a second check of ``Z`` whose variance is bounded.

The tilted law's tails are thinner than the untilted law's (``exp(l2 y^2)`` against tails of ``y``
that fall like ``exp(-c sqrt|y|)``), so the variance of a trial's weight, and of a look's, is
infinite in principle: the mass that makes it so lies at ``|y|`` of some hundreds, far out in the
tails, where the kernel's trials are rare and the tilted ones rarer still. The intervals, effective
numbers and largest shares of the rows rest on the weights drawn, as those of
:mod:`pavlov_theory.tilted` do.

Each look is judged for every reading of :data:`stats.LONG_ARMS` on the same weights. Looks are of
the floor's size (:func:`floor_look`); :func:`snr_sizes_scan` measures looks of ``SNR_SIZES``
trials, below the floor, where the rules put a check's first look when its pilot's readings ask
for fewer trials than the exact moments do, with the share of the rule's looks below each size.
Rows are read as :func:`tilted.judge_row` reads the Gamma scans' rows. Run ``python -m
pavlov_theory.coverage --tilted-snr R`` (the floor) or ``--tilted-snr-sizes R``.
"""
from __future__ import annotations

import math
import time
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np
import torch
from scipy import optimize, special, stats

from . import coverage, tilted
from .engine import PILOT_TRIALS, first_look, look_for_moments
from .sampling import derive_seed, generator
from .stats import HIGH_READING, LONG_ARMS

SNR_LEVELS: tuple[float, ...] = (1 - 1e-4, 1 - 1e-6, 1 - 1e-8)
QUADRATURE_NODES = 40  # per dimension; :func:`proposal` checks log Z against CHECK_NODES where it lands
CHECK_NODES = 64
# how far log Z may move between them: a look's log weight moves by its size times that
QUADRATURE_TOLERANCE = 1e-10
CANDIDATES = 2**20  # kernel trials drawn at once before acceptance
SNR_CHUNK = 2**22  # accepted trials of a chunk at most (its replicates times the look)
L2_GRID = tuple(-np.geomspace(1e-5, 1e-1, 13))  # where the search for l2 starts
# first looks below the floor, where the rules put a look when its pilot's readings ask for fewer
# trials than the exact moments do: the sizes scan (:func:`snr_sizes_scan`) measures the interval
# there, and the share of the rule's looks below each size from ``RULE_PILOTS`` pilots of its own
SNR_SIZES: tuple[int, ...] = (1024, 2048, 4096)
RULE_PILOTS = 20000


def _point() -> dict[str, Any]:
    where = coverage.SCAN_POINT
    return coverage._point(where["d_k"], where["n"], where["dist"], d_v=1)


@lru_cache(maxsize=None)
def derived(d_k: int = coverage.SCAN_POINT["d_k"]) -> dict[str, Any]:
    """The trial's powers at the scan point as functions of the Gamma components (``g0, g1, g2``, of
    ``shapes``, rate 1; ``norm1``, ``norm2`` the keys' squared norms, ``along`` the square of the
    second key's part along the first),
    the true SNR ``theta`` they give (``sympy.stats.E`` of signal over that of noise), the central
    moments 2 to 4 of ``y = signal - theta noise`` and its skewness and excess kurtosis, exact; with
    ``y`` of ``(g0, s, b)`` (``g1 = s b``, ``g2 = s (1 - b)``) for numeric evaluation."""
    import sympy
    from sympy.stats import E, Gamma

    g0, g1, g2, s, b = sympy.symbols("g0 g1 g2 s b", positive=True)
    d = sympy.Integer(d_k)
    norm1, norm2, along = 2 * g0 / d, 2 * (g1 + g2) / d, 2 * g1 / d
    signal, noise = (norm1**2 + norm2**2) / 2, norm1 * along
    shapes = {g0: d / 2, g1: sympy.Rational(1, 2), g2: (d - 1) / 2}
    laws = {g: Gamma(f"G{i}", shape, 1) for i, (g, shape) in enumerate(shapes.items())}
    expect = lambda expr: sympy.simplify(E(sympy.expand(expr).subs(laws)))
    theta = sympy.nsimplify(expect(signal) / expect(noise))
    y = sympy.expand(signal - theta * noise)
    moments = {k: expect(y**k) for k in (1, 2, 3, 4)}
    if moments[1] != 0:
        raise ArithmeticError(f"derived: E[y] = {moments[1]} at the derived theta, not 0")
    skew = moments[3] / moments[2] ** sympy.Rational(3, 2)
    kurt = moments[4] / moments[2] ** 2 - 3
    in_share = sympy.expand(y.subs({g1: s * b, g2: s * (1 - b)}))
    return {"signal": signal, "noise": noise, "theta": theta, "y": y, "variance": moments[2],
            "shapes": shapes, "norm1": norm1, "norm2": norm2, "along": along, "skewness": skew,
            "kurtosis": kurt, "symbols": (g0, g1, g2),
            "y_numeric": sympy.lambdify((g0, s, b), in_share, "numpy")}


def floor_look() -> int:
    """The first look the engine's rules give the scan point's ``y`` at its exact moments, for a claim
    that asks for ``CASE_FIRST`` trials (as the deep scans' floor)."""
    found = derived()
    return int(look_for_moments(coverage.CASE_FIRST, float(found["skewness"]), float(found["kurtosis"])))


@lru_cache(maxsize=None)
def quadrature(nodes: int = QUADRATURE_NODES) -> tuple[np.ndarray, np.ndarray]:
    """``y`` at the nodes of a product Gauss rule for the law of the components and the log of each
    node's weight (weights that underflow to 0 are left out): generalized Laguerre for ``G_0`` and
    ``S`` (both ``Gamma(d_k / 2)``), Jacobi for the share ``G_1 / S`` (``Beta(1/2, (d_k - 1)/2)``)."""
    d_k = coverage.SCAN_POINT["d_k"]
    x, wx = special.roots_genlaguerre(nodes, d_k / 2 - 1)
    u, wu = special.roots_jacobi(nodes, (d_k - 3) / 2, -0.5)
    share = (1 + u) / 2
    g0, s, b = np.meshgrid(x, x, share, indexing="ij")
    weight = (wx / wx.sum())[:, None, None] * (wx / wx.sum())[None, :, None] * (wu / wu.sum())[None, None, :]
    keep = weight > 0
    return derived()["y_numeric"](g0[keep], s[keep], b[keep]), np.log(weight[keep])


def tilted_moments(l1: float, l2: float, nodes: int = QUADRATURE_NODES) -> tuple[float, float, float]:
    """``log Z`` of the tilt ``exp(l1 y + l2 y^2)`` and the mean and second moment of ``y`` under the
    tilted law, by :func:`quadrature` of ``nodes`` nodes per dimension."""
    y, log_w = quadrature(nodes)
    exponent = l1 * y + l2 * y * y + log_w
    log_z = float(special.logsumexp(exponent))
    share = np.exp(exponent - log_z)
    return log_z, float(np.sum(share * y)), float(np.sum(share * y * y))


def t_statistic(l1: float, l2: float, size: int) -> float:
    """Where a look of ``size`` trials from the tilted law sits: its mean of ``y`` over the standard
    deviation of ``y``, times ``sqrt(size)``."""
    _, mean, second = tilted_moments(l1, l2)
    spread = second - mean * mean
    if spread <= 0:  # the tilted law sits on one node: no spread left to measure against
        return math.copysign(math.inf, mean)
    return math.sqrt(size) * mean / math.sqrt(spread)


def divergence(l1: float, l2: float) -> float:
    """The Kullback-Leibler divergence per trial of the tilted law from the untilted one."""
    log_z, mean, second = tilted_moments(l1, l2)
    return l1 * mean + l2 * second - log_z


def _on_edge(l2: float, size: int, arm: float) -> float | None:
    """The ``l1`` at which the tilt with ``l2`` puts a look on the arm (``None`` where none does
    within ``|l1| <= 1``), bracketed from 0 outward by doubling steps."""
    gap = lambda l1: t_statistic(l1, l2, size) - arm
    start, edge = gap(0.0), math.copysign(1e-3, arm)
    while start * gap(edge) > 0:
        if abs(edge) >= 1:
            return None
        edge = math.copysign(min(2 * abs(edge), 1.0), arm)
    if not math.isfinite(gap(edge)):
        return None
    return optimize.brentq(gap, min(0.0, edge), max(0.0, edge), xtol=1e-15, rtol=1e-13)


@lru_cache(maxsize=None)
def proposal(size: int, alpha: float, side: str) -> tuple[float, float]:
    """``(l1, l2)`` for misses on ``side`` of an interval at level ``1 - alpha`` from ``size`` trials:
    the tilt closest to the untilted law (:func:`divergence`) among those that put a look one
    Student-t arm out (:func:`tilted.signed_arm`), found on ``L2_GRID`` and refined between the grid
    neighbours of the best point (bounded Brent in ``log(-l2)``)."""
    arm = tilted.signed_arm(size, alpha, side)

    def cost(log_l2: float) -> float:
        l2 = -math.exp(log_l2)
        l1 = _on_edge(l2, size, arm)
        return math.inf if l1 is None else divergence(l1, l2)

    grid = [math.log(-l2) for l2 in L2_GRID]
    costs = [cost(g) for g in grid]
    best = int(np.argmin(costs))
    if not math.isfinite(costs[best]):
        raise RuntimeError(f"proposal: no tilt puts a look of {size} trials on the arm at alpha {alpha:g}, "
                           f"{side}")
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    found = optimize.minimize_scalar(cost, bounds=(lo, hi), method="bounded", options={"xatol": 1e-6})
    log_l2 = found.x if found.fun <= costs[best] else grid[best]
    l2 = -math.exp(log_l2)
    l1 = _on_edge(l2, size, arm)
    moved = abs(tilted_moments(l1, l2)[0] - tilted_moments(l1, l2, CHECK_NODES)[0])
    if moved > QUADRATURE_TOLERANCE:
        raise ArithmeticError(f"proposal: log Z moves by {moved:.2g} from {QUADRATURE_NODES} to "
                              f"{CHECK_NODES} nodes at l1={l1:g}, l2={l2:g}")
    return l1, l2


def peak(l1: float, l2: float) -> float:
    """The largest ``l1 y + l2 y^2`` over every ``y`` (``l2 < 0``): what a candidate's acceptance
    probability is measured from."""
    return -l1 * l1 / (4 * l2)


def draw_tilted(size: int, rows: int, l1: float, l2: float,
                gen: torch.Generator) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """``rows`` looks of ``size`` trials from the tilted law: the kernel's trials at the scan point,
    ``CANDIDATES`` at a time, each kept with probability ``exp(l1 y + l2 y^2 - max)``, in the order
    drawn. Returns signal and noise (one look per row) and the candidates kept and drawn (every
    candidate of the last batch counts as drawn; those kept past the looks count as kept)."""
    theta, point, top = float(derived()["theta"]), _point(), peak(l1, l2)
    kept_signal, kept_noise, kept, drawn = [], [], 0, 0
    while kept < rows * size:
        signal, noise = coverage._signal_noise(point, CANDIDATES, gen)
        y = signal - theta * noise
        u = torch.rand(CANDIDATES, generator=gen, dtype=torch.float64).numpy()
        keep = u < np.exp(l1 * y + l2 * y * y - top)
        kept_signal.append(signal[keep])
        kept_noise.append(noise[keep])
        kept, drawn = kept + int(keep.sum()), drawn + CANDIDATES
    look = lambda parts: np.concatenate(parts)[: rows * size].reshape(rows, size)
    return look(kept_signal), look(kept_noise), (kept, drawn)


def draw_tilted_naive(size: int, rows: int, l1: float, l2: float,
                      gen: torch.Generator) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """:func:`draw_tilted` one candidate at a time: the same draws, kept or not in a loop."""
    theta, point, top = float(derived()["theta"]), _point(), peak(l1, l2)
    signal_out, noise_out, drawn = [], [], 0
    while len(signal_out) < rows * size:
        signal, noise = coverage._signal_noise(point, CANDIDATES, gen)
        u = torch.rand(CANDIDATES, generator=gen, dtype=torch.float64).numpy()
        for t in range(CANDIDATES):
            y = signal[t] - theta * noise[t]
            if u[t] < math.exp(l1 * y + l2 * y * y - top):
                signal_out.append(signal[t])
                noise_out.append(noise[t])
        drawn += CANDIDATES
    look = lambda values: np.array(values[: rows * size]).reshape(rows, size)
    return look(signal_out), look(noise_out), (len(signal_out), drawn)


def log_weights(y: np.ndarray, l1: float, l2: float) -> np.ndarray:
    """Each look's (row's) log-likelihood ratio of the untilted law to the tilted one."""
    log_z = tilted_moments(l1, l2)[0]
    return y.shape[-1] * log_z - l1 * y.sum(-1) - l2 * (y * y).sum(-1)


def trial_weight_sums(y: np.ndarray, l1: float, l2: float) -> list[float]:
    """``(sum, sum of squares, count)`` of the per-trial weights ``Z exp(-l1 y - l2 y^2)``: their mean
    is 1 under the tilted law exactly when ``Z`` (from the factorization) is the kernel's."""
    w = np.exp(tilted_moments(l1, l2)[0] - l1 * y - l2 * y * y)
    return [float(w.sum()), float((w * w).sum()), int(w.size)]


def expected_share(l1: float, l2: float) -> float:
    """The share of the kernel's candidates :func:`draw_tilted` keeps, in expectation: ``Z`` times
    ``exp(-peak)`` (:func:`peak`)."""
    return math.exp(tilted_moments(l1, l2)[0] - peak(l1, l2))


def share_z(kept: int, drawn: int, l1: float, l2: float) -> float:
    """How many binomial standard errors the share of candidates kept lies from :func:`expected_share`."""
    expected = expected_share(l1, l2)
    return (kept / drawn - expected) / math.sqrt(expected * (1 - expected) / drawn)


def trial_weight_mean(parts: Sequence[Sequence[float]]) -> list[float]:
    """The mean of the per-trial weights and its standard error, from chunks' :func:`trial_weight_sums`
    (as :func:`tilted.side_estimate` reads a side's weights)."""
    total, squares, count = (sum(p[k] for p in parts) for k in range(3))
    return list(tilted.side_estimate((total, squares), count))


def _snr_chunk(size: int, level: float, side: str, count: int, seed: int,
               index: int) -> tuple[np.ndarray, list[float], tuple[int, int]]:
    """The :func:`tilted.weighted_sums` of ``count`` tilted looks (chunk ``index``) of ``size`` trials
    at ``level`` for misses on ``side``, one row per reading of the long arm
    (:data:`stats.LONG_ARMS`, judged on the same looks); with :func:`trial_weight_sums` and the
    candidates kept and drawn."""
    l1, l2 = proposal(size, 1 - level, side)
    gen = generator(derive_seed(seed, "tilted snr", coverage.SCAN_POINT, size, level, side, index), "cpu")
    signal, noise, kept = draw_tilted(size, count, l1, l2, gen)
    theta = float(derived()["theta"])
    y = signal - theta * noise
    log_ratio = log_weights(y, l1, l2)
    sums = [tilted.weighted_sums(coverage.ratio_sides(signal, noise, theta, 1 - level, long_arm=arm)
                                 [tilted.SIDES.index(side)], log_ratio) for arm in LONG_ARMS]
    return np.array(sums), trial_weight_sums(y, l1, l2), kept


def snr_counts(size: int, replicates: int, chunk: int | None = None) -> list[int]:
    """The replicates of each chunk of a look of ``size`` trials: at most ``chunk`` trials a chunk
    (default ``SNR_CHUNK``)."""
    return coverage.chunk_counts(replicates, max(1, (chunk or SNR_CHUNK) // size))


def snr_tilted_scan(replicates: int, seed: int = 0, levels: Sequence[float] = SNR_LEVELS,
                    size: int | None = None, workers: int = 1, progress: bool = False,
                    chunk: int | None = None) -> list[dict[str, Any]]:
    """Miss rates of the verifier's ratio interval of the SNR at ``coverage.SCAN_POINT`` from looks of
    ``size`` trials (default :func:`floor_look`), with the long arm read each way of
    :data:`stats.LONG_ARMS` on the same looks, at ``levels``: per level and side ``replicates`` tilted
    looks in chunks (:func:`snr_counts`), each seeded by its size, level, side and index, so
    ``workers`` processes give the same rows as one. One row per level and reading, in the form of
    :func:`tilted.tilted_scan`'s (:func:`tilted.judge_row` reads it), with each side's proposal, its
    chunks' sums, the candidates kept and drawn and the per-trial weights' mean and standard error.
    A size at which no proposal is found for some level and side (no tilt puts a look on the arm, or
    the quadrature does not settle at the one that does) is refused with a ``ValueError`` naming it."""
    if replicates < coverage.MIN_REPLICATES:
        raise ValueError(f"replicates: expected at least {coverage.MIN_REPLICATES}, got {replicates}")
    floor = floor_look()
    size = size or floor
    for level in levels:
        for side in tilted.SIDES:
            try:
                proposal(size, 1 - level, side)
            except (ArithmeticError, RuntimeError) as found:
                raise ValueError(f"size: no proposal at {size} trials for nominal {level:g} ({found}); "
                                 f"the floor look is {floor}") from None
    counts = snr_counts(size, replicates, chunk)
    jobs = [(size, level, side, count, seed, index)
            for level in levels for side in tilted.SIDES for index, count in enumerate(counts)]
    started = time.perf_counter()
    results = coverage._run_chunks(_snr_chunk, jobs, counts * len(levels) * len(tilted.SIDES), workers,
                                   progress, "tilted SNR")
    seconds = round(time.perf_counter() - started, 3)
    at, truth = coverage.SCAN_POINT, float(derived()["theta"])
    where = f"SNR, {at['dist']} keys, d_k={at['d_k']}, n={at['n']}"
    rows = []
    for i, level in enumerate(levels):
        first = i * len(tilted.SIDES)
        by_side = {side: results[(first + s) * len(counts):(first + s + 1) * len(counts)]
                   for s, side in enumerate(tilted.SIDES)}
        for a, arm in enumerate(LONG_ARMS):
            row = {"point": where, "interval": coverage.RATIO_LABEL,
                   "sizing": "floor" if size == floor else "fixed", "trials": size,
                   "truth": truth, "nominal": level, "replicates": replicates,
                   "long_arm": arm, "seconds": seconds}
            for side in tilted.SIDES:
                row[f"trial_weight_{side}"] = trial_weight_mean([r[1] for r in by_side[side]])
                parts = [r[0][a].tolist() for r in by_side[side]]
                row[f"sums_{side}"] = tilted.combine(parts)
                row[f"chunk_sums_{side}"] = parts
                row[f"proposal_{side}"] = list(proposal(size, 1 - level, side))
                row[f"kept_{side}"] = [sum(r[2][k] for r in by_side[side]) for k in range(2)]
            rows.append(tilted.judge_row(row))
    return rows


def rule_looks(pilots: int = RULE_PILOTS, seed: int = 0) -> np.ndarray:
    """The first looks the skew rule (:func:`engine.first_look`, for a claim that asks for
    ``coverage.CASE_FIRST`` trials) chooses at the scan point's ratio from ``pilots`` independent
    pilots, as the rule scan draws them."""
    _, draw = coverage._rule_values(coverage.SCAN_POINT, "ratio")
    gen = generator(derive_seed(seed, "rule looks", coverage.SCAN_POINT), "cpu")
    signal, noise = (x.reshape(pilots, PILOT_TRIALS) for x in draw(pilots * PILOT_TRIALS, gen))
    return np.array([first_look("ratio", coverage.CASE_FIRST, (signal[r], noise[r])) for r in range(pilots)])


def shares_below(looks: np.ndarray, sizes: Sequence[int],
                 confidence: float = coverage.CONFIDENCE) -> list[dict[str, Any]]:
    """For each of ``sizes``, the share of ``looks`` below it with its Clopper-Pearson interval at
    ``confidence``."""
    found = []
    for size in sizes:
        below = int(np.sum(looks < size))
        ci = stats.binomtest(below, looks.size).proportion_ci(confidence, method="exact")
        found.append({"size": int(size), "below": below, "looks": int(looks.size),
                      "share": below / looks.size, "ci": [float(ci.low), float(ci.high)]})
    return found


def snr_sizes_scan(replicates: int, seed: int = 0, sizes: Sequence[int] = SNR_SIZES,
                   levels: Sequence[float] = SNR_LEVELS, pilots: int = RULE_PILOTS, workers: int = 1,
                   progress: bool = False) -> dict[str, Any]:
    """:func:`snr_tilted_scan` at each of ``sizes`` (looks below the floor), its rows in size order,
    with the shares of the rule's first looks below each size and below the floor
    (:func:`shares_below` of ``pilots`` :func:`rule_looks`, seeded by ``seed``)."""
    rows = [row for size in sizes for row in snr_tilted_scan(replicates, seed, levels, size=size,
                                                              workers=workers, progress=progress)]
    shares = shares_below(rule_looks(pilots, seed), (*sizes, floor_look()))
    return {"rows": rows, "rule_shares": shares}


def snr_sizes_config(sizes: Sequence[int] = SNR_SIZES) -> dict[str, Any]:
    """Everything a stored sizes scan depends on besides its seed and replicates: the floor scan's
    configuration, the sizes with each level's and side's proposal there, the rule's pilots (their
    number, size and the pieces their draws are cut into) and the confidence of the shares'
    intervals."""
    return {**snr_tilted_config(), "sizes": list(sizes), "rule_pilots": RULE_PILOTS,
            "pilot_trials": PILOT_TRIALS, "confidence": coverage.CONFIDENCE,
            "rule_pieces": coverage.rule_pieces(((coverage.SCAN_POINT, "ratio"),)),
            "size_proposals": [[size, level, side, _recorded(size, level, side)]
                               for size in sizes for level in SNR_LEVELS for side in tilted.SIDES]}


def _recorded(size: int, level: float, side: str) -> list[float]:
    """:func:`proposal` at ``size``, ``level`` and ``side`` as a configuration records it."""
    return [float(f"{v:.{tilted.PROPOSAL_DIGITS}g}") for v in proposal(size, 1 - level, side)]


def snr_tilted_config() -> dict[str, Any]:
    """Everything a stored tilted SNR scan's rows depend on besides its seed and replicates."""
    found = derived()
    size = floor_look()
    return {"scan_point": coverage.SCAN_POINT, "levels": list(SNR_LEVELS), "floor": size,
            "theta": str(found["theta"]), "skewness": str(found["skewness"]),
            "kurtosis": str(found["kurtosis"]),
            "quadrature_nodes": QUADRATURE_NODES, "candidates": CANDIDATES, "chunk": SNR_CHUNK,
            "l2_grid": [float(v) for v in L2_GRID],
            "proposals": [[level, side, _recorded(size, level, side)]
                          for level in SNR_LEVELS for side in tilted.SIDES],
            "case_first": coverage.CASE_FIRST, "trials_per_skew2": coverage.TRIALS_PER_SKEW2,
            "trials_per_kurt": coverage.TRIALS_PER_KURT, "skew_salience": coverage.SKEW_SALIENCE,
            "ratio_interval": coverage.RATIO_LABEL, "unresolved_skew": coverage.UNRESOLVED_SKEW,
            "long_arms": list(LONG_ARMS), "high_reading": HIGH_READING, "dtype": str(coverage.DTYPE)}


def chunk_dispersion(rows: Sequence[dict[str, Any]], config: dict[str, Any]) -> dict[str, float]:
    """:func:`tilted.dispersion` of the rows of a stored tilted SNR scan, ``config`` its
    ``tilted_snr_config``."""
    return tilted.dispersion(rows, lambda r: snr_counts(r["trials"], r["replicates"], config["chunk"]))


# Entries a stored configuration may hold that its rows do not read: every reading of the long arm is
# judged on the same looks, so which of them the verifier uses (:data:`stats.LONG_ARM`, recorded by
# the first runs) leaves the rows as they are.
UNREAD: tuple[str, ...] = ("long_arm",)
CONFIGS: dict[str, Callable[[], dict[str, Any]]] = {"tilted_snr": snr_tilted_config,
                                                    "tilted_snr_sizes": snr_sizes_config}


def scan_current(report: dict[str, Any] | None, scan: str = "tilted_snr") -> bool:
    """Whether ``report`` holds scan ``scan`` (``tilted_snr`` for the floor scan, ``tilted_snr_sizes``
    for the sizes scan) run with the current configuration, in every entry but :data:`UNREAD`'s."""
    if scan not in CONFIGS:
        raise ValueError(f"scan must be one of {', '.join(CONFIGS)}; got {scan!r}")
    if not report or f"{scan}_config" not in report:
        return False
    return coverage.config_matches(report[f"{scan}_config"], CONFIGS[scan](), UNREAD)


def stored_rows(report: dict[str, Any] | None, scan: str = "tilted_snr") -> list[dict[str, Any]] | None:
    """The rows of a stored tilted SNR scan (``report``, as the CLI writes it; ``scan`` is
    ``tilted_snr`` for the floor scan, ``tilted_snr_sizes`` for the sizes scan) judged by the
    current rule (:func:`tilted.judge_row`); ``None`` where there is none or it was run with
    another configuration than the current one."""
    if not scan_current(report, scan):
        return None
    found = report[scan]
    return [tilted.judge_row(r) for r in (found if scan == "tilted_snr" else found["rows"])]


def undecided_estimates(rows: Sequence[dict[str, Any]]) -> str:
    """The estimates of the judged rows that read ``undecided``, over nominal, each with its look
    and level (empty where none does): what they estimate, which bounds nothing."""
    return ", ".join(f"{r['miss_rate'] / (1 - r['nominal']):.3g} times nominal at {r['trials']} trials and "
                     f"{1 - r['nominal']:.0e}" for r in rows if r["verdict"] == "undecided")


def unguarded_side() -> str:
    """The side of the truth on which the interval lies when the arm that the high reading does not
    lengthen (the verifier's, :data:`stats.LONG_ARM`, lengthens it too) is too short: with a
    negative skewness of ``y`` the long arm is the lower one, which guards misses above the truth,
    so the misses below are the unguarded ones."""
    return "below" if float(derived()["skewness"]) < 0 else "above"


def excess_side(row: dict[str, Any], confidence: float = coverage.CONFIDENCE) -> str | None:
    """The side of the truth (``below`` or ``above``) on which a tilted row's misses exceed their
    nominal share, half the nominal miss rate, while the other side's fall short of it: each side's
    estimate (:func:`tilted.side_estimate`) with its normal interval at ``confidence``, the lower
    limit of the one above the share and the upper limit of the other below it. ``None`` where the
    row places no such excess on one side."""
    share = (1 - row["nominal"]) / 2
    z = stats.norm.ppf(0.5 + confidence / 2)
    limits = {}
    for side in tilted.SIDES:
        estimate, se = tilted.side_estimate(row[f"sums_{side}"], row["replicates"])
        limits[side] = (estimate - z * se, estimate + z * se)
    for side, other in (tilted.SIDES, tilted.SIDES[::-1]):
        if limits[side][0] > share > limits[other][1]:
            return side
    return None


def reading_words(rows: Sequence[dict[str, Any]]) -> str:
    """What judged rows (:func:`stored_rows`) of one reading say, level by level: the verdict and,
    where the row decides, its estimated miss rate over nominal (an undecided row bounds nothing)."""
    return ", ".join(f"at {1 - r['nominal']:.0e} {r['verdict']}"
                     + (f" ({r['miss_rate'] / (1 - r['nominal']):.3g} times nominal)"
                        if r["verdict"] != "undecided" else " (too few effective replicates)")
                     for r in rows)
