"""Claims as declarations, the context a check runs in, and the registry of every claim.

A claim is one statement of the paper (or one the project adds beyond it, labelled so). It
declares its parameters, its SymPy derivation, how it is measured, which judge decides, its grid
per scale and its power probe. The engine does the glue: :meth:`Claim.check` runs the claim's
measurement and fills the outcome's metadata; :class:`Context` evaluates every derived value a
check compares with (applying a power probe's perturbation there, and nowhere else) and splits
the error level.

Sections are discovered: every module of ``pavlov_theory.simulations`` with a ``CLAIMS`` tuple
is one, ordered by its ``ORDER``.
"""
from __future__ import annotations

import fnmatch
import importlib
import math
import pkgutil
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

import torch

from . import judges
from .device import DTYPES
from .params import Param, ParamError

SCALES: tuple[str, ...] = ("ci", "book", "paper")
KINDS: tuple[str, ...] = ("identity", "exact", "refined", "bound", "scaling", "statement")
PROBES: tuple[str, ...] = ("theory", "bound", "exponent")
BEYOND = "beyond the paper"

__all__ = ["Claim", "Context", "Outcome", "Param", "ParamError", "Probe", "Result", "registry"]


@dataclass(frozen=True)
class Probe:
    """A deliberately wrong formula or bound that a claim's own data must reject.

    ``kind`` says what is perturbed: ``theory`` multiplies every derived value the check
    compares with by each of ``values``; ``bound`` multiplies every bound by each (a bound too
    tight by that factor); ``exponent`` adds each to every law's exponent. ``point`` overrides
    the claim's first ci grid point for the probe run.

    A probe shows power only where the claim itself passes. Where the data reject the claim at
    every point (its verdict is ``fails`` or ``loose`` everywhere), any probe is rejected
    trivially; ``trivial`` then says so and why, the registry test checks that the claim is
    indeed rejected at the probe point, and the ledger shows the reason beside the probe.
    """

    kind: str
    values: tuple[float, ...]
    point: Mapping[str, Any] | None = None
    trivial: str = ""

    def __post_init__(self) -> None:
        if self.kind not in PROBES or not self.values:
            raise ValueError(f"probe: kind must be one of {PROBES} with at least one value")

    def describe(self) -> str:
        if self.kind == "theory":
            text = "derived value x " + " and x ".join(f"{v:.10g}" for v in self.values)
        elif self.kind == "bound":
            text = "bound x " + " and x ".join(f"{v:.10g}" for v in self.values)
        else:
            text = "exponent " + " and ".join(f"{v:+.10g}" for v in self.values)
        return text


@dataclass(frozen=True)
class Context:
    """How to run one check: where, how precisely, with which randomness, which perturbation.

    ``alpha`` is the error level granted to this check (the run's family-wise level divided
    among its checks); a check that makes several decisions splits it with :meth:`share`.
    ``max_trials`` caps the Monte Carlo trials of each judged interval, except in
    ``propagation.head_count``: there it caps the first look, and the looks go on to
    ``HEAD_COUNT_LOOKS_CAP`` times that. ``probe`` is ``(kind, value)`` in power tests.
    """

    device: str = "cpu"
    dtype: str = "float32"
    seed: int = 0
    alpha: float = 1e-3
    max_trials: int = 20_000
    memory_budget: int = 256 * 2**20
    scale: str = "book"
    probe: tuple[str, float] | None = None
    claim: str = ""  # set by Claim.check: the claim whose streams this context seeds

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]

    @property
    def eps(self) -> float:
        return float(torch.finfo(self.torch_dtype).eps)

    def budget(self, table: Mapping[str, int]) -> int:
        """A check's trials from its per-scale ``table`` (book's for a scale it does not list), cut
        to ``max_trials``."""
        return min(self.max_trials, table.get(self.scale, table["book"]))

    def share(self, parts: int) -> Context:
        """The context for one of ``parts`` decisions of this check (Bonferroni)."""
        return replace(self, alpha=self.alpha / max(1, parts))

    def _perturbed(self, kind: str, value: float) -> float:
        if self.probe is None or self.probe[0] != kind:
            return value
        return value + self.probe[1] if kind == "exponent" else value * self.probe[1]

    def theory(self, derivation: Any, name: str, **values: Any) -> float:
        """A derived value the check compares with (perturbed by a ``theory`` probe)."""
        return self._perturbed("theory", derivation.evaluate(name, **values))

    def bound(self, derivation: Any, name: str, **values: Any) -> float:
        """A derived bound (tightened by a ``bound`` probe)."""
        return self._perturbed("bound", derivation.evaluate(name, **values))

    def exponent(self, derivation: Any, name: str, **values: Any) -> float:
        """A law's derived exponent (shifted by an ``exponent`` probe)."""
        return self._perturbed("exponent", derivation.evaluate(name, **values))

    def reference(self, derivation: Any, name: str, **values: Any) -> float:
        """A derived value shown beside the verdict or compared as the paper's form: never
        perturbed (the probe perturbs the claim's own law)."""
        return derivation.evaluate(name, **values)


@dataclass
class Result:
    """What a claim's measurement returns: the headline theory value, the estimate and its
    interval, the judged verdict, trials used, and the evidence behind it."""

    theory: float
    estimate: float
    ci: tuple[float, float]
    verdict: str
    trials: int
    evidence: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""


@dataclass
class Outcome:
    """A judged result with its metadata, as the CLI, the ledger and the book show it."""

    claim: str
    quantity: str
    params: dict[str, Any]
    theory: float
    estimate: float
    ci: tuple[float, float]
    verdict: str
    trials: int
    seed: int
    device: str
    judge: str = ""
    evidence: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "claim": self.claim,
            "quantity": self.quantity,
            "params": dict(self.params),
            "theory": _finite_or_none(self.theory),
            "estimate": _finite_or_none(self.estimate),
            "ci": [_finite_or_none(self.ci[0]), _finite_or_none(self.ci[1])],
            "verdict": self.verdict,
            "judge": self.judge,
            "trials": int(self.trials),
            "seed": int(self.seed),
            "device": self.device,
            "evidence": _jsonable(self.evidence),
            "note": self.note,
        }


def _finite_or_none(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _jsonable(x: Any) -> Any:
    """Evidence with numpy scalars and arrays turned into plain numbers and lists."""
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "tolist"):
        return _jsonable(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


Measure = Callable[[Mapping[str, Any], Context], Result]


@dataclass(frozen=True)
class Claim:
    """A declaration: what is claimed, where the paper says it, how it is derived, measured and
    judged, over which grid, and the probe that proves the check has power."""

    id: str
    paper_ref: str
    statement: str
    kind: str
    judge: str
    quantity: str
    params: tuple[Param, ...]
    derive: Callable[[], Any]
    measure: Measure
    grid: Mapping[str, Sequence[Mapping[str, Any]]]
    probe: Probe
    constraint: Callable[[Mapping[str, Any]], str | None] = lambda p: None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id}: unknown kind {self.kind!r}")
        if self.judge not in judges.JUDGES:
            raise ValueError(f"claim {self.id}: unknown judge {self.judge!r}")
        if set(self.grid) != set(SCALES):
            raise ValueError(f"claim {self.id}: a grid for each of {SCALES} is needed")

    @property
    def beyond_paper(self) -> bool:
        return self.paper_ref.startswith(BEYOND)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        names = ", ".join(p.name for p in self.params)
        raise ParamError(f"{name}: not a parameter of {self.id} (its parameters: {names})")

    def resolve(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults updated with ``overrides``, every value validated."""
        values = {p.name: p.default for p in self.params}
        for name, value in overrides.items():
            values[name] = self.param(name).validate(value)
        problem = self.constraint(values)
        if problem:
            raise ParamError(problem)
        return values

    def points(self, scale: str) -> list[dict[str, Any]]:
        """The parameter points ``verify`` checks at ``scale``."""
        return [self.resolve(point) for point in self.grid[scale]]

    def probe_point(self) -> dict[str, Any]:
        """Where the power probe runs: the probe's own point, else the first ci grid point."""
        return self.resolve(self.probe.point if self.probe.point is not None else self.grid["ci"][0])

    def check(self, params: Mapping[str, Any], ctx: Context) -> Outcome:
        """Measure and judge the claim at one parameter point."""
        result = self.measure(params, replace(ctx, claim=self.id))
        if result.verdict not in (*judges.VERDICTS, judges.VACUOUS):
            raise RuntimeError(f"claim {self.id}: measurement returned verdict {result.verdict!r}")
        return Outcome(self.id, self.quantity, dict(params), result.theory, result.estimate,
                       (float(result.ci[0]), float(result.ci[1])), result.verdict, result.trials,
                       ctx.seed, ctx.device, self.judge, result.evidence, result.note)


def section_of(claim_id: str) -> str:
    """The section a claim id names: the part before its first dot."""
    return claim_id.split(".")[0]


def section_modules() -> list[Any]:
    """Every simulation module that declares claims, in the order of their ``ORDER``."""
    package = importlib.import_module("pavlov_theory.simulations")
    modules = [importlib.import_module(f"{package.__name__}.{info.name}")
               for info in pkgutil.iter_modules(package.__path__)]
    sections = [m for m in modules if hasattr(m, "CLAIMS")]
    return sorted(sections, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def registry() -> dict[str, Claim]:
    """Every claim of every section, by id, in section order."""
    claims: dict[str, Claim] = {}
    for module in section_modules():
        section = module.__name__.rsplit(".", 1)[-1]
        for claim in module.CLAIMS:
            if claim.id in claims:
                raise RuntimeError(f"claim {claim.id} is registered twice")
            if section_of(claim.id) != section:
                raise RuntimeError(f"claim {claim.id} is declared in section {section}")
            claims[claim.id] = claim
    return claims


def get_claim(claim_id: str) -> Claim:
    claims = registry()
    if claim_id not in claims:
        raise ParamError(f"claim: unknown id {claim_id!r} (see `pavlov-theory list`)")
    return claims[claim_id]


def matches_pattern(text: str, pattern: str) -> bool:
    """Whether ``text`` matches the shell-style ``pattern`` or starts with it; a comma list matches
    when any of its items does."""
    items = (item.strip() for item in pattern.split(","))
    return any(fnmatch.fnmatch(text, item) or text.startswith(item) for item in items if item)


def select(pattern: str | None) -> list[Claim]:
    """Claims whose id matches the shell-style ``pattern`` (all when ``None``; a comma list matches
    any of its items)."""
    claims = list(registry().values())
    if pattern is None:
        return claims
    chosen = [c for c in claims if matches_pattern(c.id, pattern)]
    if not chosen:
        raise ParamError(f"only: no claim matches {pattern!r} (see `pavlov-theory list`)")
    return chosen
