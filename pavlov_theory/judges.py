"""The judges: every rule that turns data into a verdict, each stated once, each three-way.

A judge looks at a derived value and a confidence interval and says one of: the claim's passing
verdict, ``fails`` (the data contradict it), or ``undecided`` (the data cannot tell). A bound of
its quantity's trivial value or more (1 for a probability) is ``vacuous``: it says nothing, so it
is reported apart and never counted as evidence. Claims name the judge they use; they do not
re-implement one. An interval, either of its limits, a deviation or a compared value that is not a
number (NaN) decides nothing: every judge reads it as ``undecided``.

| judge      | passes as | rule                                                                   |
|------------|-----------|------------------------------------------------------------------------|
| ``exact``  | exact     | theory inside the interval, and the interval excludes theory x (1 +- 2%) |
| ``refined``| refined   | the sharper law passes ``exact`` and the paper's form lies outside      |
| ``bound``  | holds     | upper limit under the bound (fails: lower limit above it)               |
| ``scaling``| holds     | fitted exponent's interval contains the law's, over >= 1 decade, and
                            excludes the law's exponent shifted by the claim's stated amount       |
| ``growth`` | holds     | a growth-law statistic q over >= 2 doublings of the variable and >= 1
                            decade of the quantity, then as ``scaling`` (q: 0 exponential, -1 power)|
| ``identity``| exact    | a deterministic deviation within a rounding tolerance                  |
| ``sign``   | holds     | an effect claimed positive: interval above 0 (fails: below a null band) |
| ``argmin`` | holds     | the plausible minimisers of a measured curve all lie in the grid cell of
                            the predicted minimiser (fails: none does; vacuous: a trivial bound)   |
"""
from __future__ import annotations

import math
from typing import Sequence

from .stats import Interval

# Verdicts, ordered from best to worst: combining several picks the worst.
VERDICTS: tuple[str, ...] = ("exact", "holds", "refined", "loose", "undecided", "fails")
VACUOUS = "vacuous"  # a point whose bound is trivial: reported, never combined
REJECTS: tuple[str, ...] = ("fails", "loose")  # what a power probe must draw from its check

# An exact claim passes only if its interval could have caught a formula wrong by this much.
POWER_REL = 0.02
JUDGES: tuple[str, ...] = ("exact", "refined", "bound", "scaling", "identity", "sign", "argmin", "growth")
# A growth law read from semi-log rates needs two successive doublings of its variable.
GROWTH_DOUBLINGS = 2.0


def unreadable(*values: float) -> bool:
    """Whether any of ``values`` (interval limits, a deviation) is NaN: data that decide nothing."""
    return any(math.isnan(v) for v in values)


def exact(theory: float, ci: Interval, rel: float = POWER_REL) -> str:
    """``fails`` if the interval excludes ``theory``; ``exact`` if it contains it and is narrow
    enough that a formula off by ``rel`` (relative) would lie outside it; else ``undecided``."""
    if unreadable(ci.lo, ci.hi, theory):
        return "undecided"
    if not ci.contains(theory):
        return "fails"
    margin = rel * abs(theory)
    if theory - margin < ci.lo and ci.hi < theory + margin:
        return "exact"
    return "undecided"


def refined(sharper: float, paper: float, ci: Interval, rel: float = POWER_REL) -> str:
    """The project's sharper law against the paper's form on the same interval: ``refined`` when
    the sharper law passes :func:`exact` and the paper's value lies outside the interval;
    ``exact`` when both lie inside (the data cannot tell them apart here)."""
    verdict = exact(sharper, ci, rel)
    if unreadable(paper):
        return "undecided"
    if verdict != "exact":
        return verdict
    return "exact" if ci.contains(paper) else "refined"


def bound(limit: float, ci: Interval, trivial: float = 1.0) -> str:
    """An upper bound on a measured quantity: ``vacuous`` if ``limit >= trivial`` (for a
    probability, 1: it cannot be violated and says nothing); ``holds`` if the upper confidence
    limit is at or under it; ``fails`` if the lower limit is above it; else ``undecided``."""
    if unreadable(limit, trivial):
        return "undecided"
    if limit >= trivial:
        return VACUOUS
    if unreadable(ci.lo, ci.hi):
        return "undecided"
    if ci.lo > limit:
        return "fails"
    if ci.hi <= limit:
        return "holds"
    return "undecided"


def looseness(limit: float, ci: Interval) -> float:
    """How loose a bound is: the bound over the measured value's upper limit (>= 1 when it holds)."""
    return limit / ci.hi if ci.hi > 0 else math.inf


def scaling(law: float, fit: Interval, shift: float, decades: float,
            above: str = "fails", below: str = "fails") -> str:
    """A growth law's exponent against a fitted one. ``undecided`` if the fit spans less than one
    decade of its variable or its interval is too wide to exclude ``law +- shift``; ``holds`` if
    it contains ``law``; else ``above`` or ``below`` (each ``loose`` or ``fails``, declared by the
    claim) as the measured exponent lies above or below the law's."""
    if unreadable(law, fit.lo, fit.hi, decades) or decades < 1:
        return "undecided"
    if fit.lo > law:
        return above
    if fit.hi < law:
        return below
    if law - shift < fit.lo and fit.hi < law + shift:
        return "holds"
    return "undecided"


def growth(law: float, q: Interval, shift: float, doublings: float, decades: float,
           above: str = "fails", below: str = "fails") -> str:
    """A growth law told by ``q = log2(r2/r1)``, the ratio of a quantity's semi-log growth rates
    ``r = d log(quantity)/d(variable)`` over two successive doublings of its variable (0 for an
    exponential law, -1 for every power law), against the law's ``q``. A semi-log law is read on
    a linear axis of its variable, so one decade of the variable (what :func:`scaling` asks) is
    replaced by this requirement: ``undecided`` unless the variable spans at least
    ``GROWTH_DOUBLINGS`` doublings (``doublings``, log2 of its range) and the quantity itself at
    least one decade (``decades``, log10 of its range, too little growth leaves the rates
    unreadable); past that, :func:`scaling`'s rule with ``shift``."""
    if unreadable(doublings) or doublings < GROWTH_DOUBLINGS:
        return "undecided"
    return scaling(law, q, shift, decades, above, below)


def identity(deviation: float, tolerance: float) -> str:
    """A deterministic identity: ``exact`` when the deviation is within a rounding tolerance."""
    if unreadable(deviation, tolerance):
        return "undecided"
    return "exact" if deviation <= tolerance else "fails"


def sign(ci: Interval, null: float) -> str:
    """An effect claimed strictly positive: ``holds`` if the interval lies above 0; ``fails`` if
    it lies below ``null`` (no effect beyond a band the claim derives, or a negative one)."""
    if unreadable(ci.lo, ci.hi, null):
        return "undecided"
    if ci.lo > 0:
        return "holds"
    if ci.hi < null:
        return "fails"
    return "undecided"


def argmin(predicted: float, grid: Sequence[float], intervals: Sequence[Interval],
           limits: Sequence[float] | None = None, trivial: float = 1.0) -> tuple[str, list[float]]:
    """A predicted minimiser of a curve measured on a grid (intervals held simultaneously). The
    plausible minimisers are the grid points whose lower limit is at or under the least upper
    limit; the predicted point's cell is the grid point(s) nearest it on either side. ``holds``
    if every plausible minimiser lies in that cell; ``fails`` if none does; ``undecided`` if some
    do and some do not, or if every grid point is plausible (the data do not locate a minimum).
    ``vacuous`` when ``limits`` (the bound whose minimiser is predicted) are all trivial. Returns
    the verdict and the plausible minimisers (every grid point where a value is NaN: nothing is
    located)."""
    if unreadable(predicted, *(v for ci in intervals for v in (ci.lo, ci.hi))):
        return "undecided", list(grid)
    best = min(ci.hi for ci in intervals)
    plausible = [g for g, ci in zip(grid, intervals) if ci.lo <= best]
    if limits is not None and all(v >= trivial for v in limits):
        return VACUOUS, plausible
    if len(plausible) == len(grid):
        return "undecided", plausible
    below = [g for g in grid if g <= predicted]
    above = [g for g in grid if g >= predicted]
    cell = {max(below)} if below else set()
    cell |= {min(above)} if above else set()
    inside = [g for g in plausible if g in cell]
    if len(inside) == len(plausible):
        return "holds", plausible
    return ("fails" if not inside else "undecided"), plausible


def combine(verdicts: Sequence[str]) -> str:
    """A claim's verdict from its points' verdicts: the worst wins; vacuous points are left out,
    and a claim with no other point is ``undecided`` (no data, no pass)."""
    counted = [v for v in verdicts if v != VACUOUS]
    if not counted:
        return "undecided"
    unknown = set(counted) - set(VERDICTS)
    if unknown:
        raise ValueError(f"unknown verdicts {sorted(unknown)}")
    return max(counted, key=VERDICTS.index)


def passing(judge: str) -> str:
    """The verdict a judge gives when the claim passes."""
    return {"exact": "exact", "identity": "exact", "refined": "refined"}.get(judge, "holds")
