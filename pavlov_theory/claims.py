"""Claims, their parameters and verdicts, and the registry that lists every claim once.

A claim is one statement of the paper (or one the project adds beyond it). It carries its
parameters with checked ranges, a SymPy derivation (``derive``), and a ``check`` that pairs the
derivation with a Monte Carlo simulation and returns a judged :class:`Outcome`.

The registry knows the section module names, nothing about any theorem: each module
``pavlov_theory.simulations.<section>`` exposes a tuple ``CLAIMS``.
"""
from __future__ import annotations

import fnmatch
import importlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

SECTIONS: tuple[str, ...] = ("framework", "capacity", "conditioning", "propagation")
SCALES: tuple[str, ...] = ("ci", "book", "paper")
KINDS: tuple[str, ...] = ("identity", "exact", "bound", "scaling", "statement")

# Verdicts, ordered from best to worst: combining several picks the worst.
VERDICTS: tuple[str, ...] = ("exact", "holds", "refined", "loose", "undecided", "fails")


class ParamError(ValueError):
    """A user-supplied parameter is unknown, malformed or out of range (CLI exit code 2)."""


@dataclass(frozen=True)
class Param:
    """One parameter of a claim: its type, allowed range or choices, and default."""

    name: str
    type: type
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    help: str = ""

    def allowed(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(self.choices)
        kind = "an integer" if self.type is int else "a number"
        return f"{kind} in [{self.low:g}, {self.high:g}]"

    def parse(self, text: str) -> Any:
        """Convert command-line text to a checked value."""
        if self.type is str:
            return self.validate(text)
        try:
            value = float(text) if self.type is float else _parse_int(text)
        except ValueError:
            raise ParamError(f"{self.name}: expected {self.allowed()}, got {text!r}") from None
        return self.validate(value)

    def validate(self, value: Any) -> Any:
        """Return ``value`` if it lies in the allowed range, else raise :class:`ParamError`."""
        if self.choices is not None:
            if value not in self.choices:
                raise ParamError(f"{self.name}: expected {self.allowed()}, got {value!r}")
            return value
        if self.type is int and (isinstance(value, bool) or int(value) != value):
            raise ParamError(f"{self.name}: expected {self.allowed()}, got {value!r}")
        value = self.type(value)
        if not math.isfinite(value) or not (self.low <= value <= self.high):
            raise ParamError(f"{self.name}: expected {self.allowed()}, got {value!r}")
        return value


def _parse_int(text: str) -> int:
    value = float(text)
    if not value.is_integer():
        raise ValueError(text)
    return int(value)


@dataclass(frozen=True)
class Context:
    """How to run one check: where, how precisely, with which randomness.

    ``alpha`` is the error level granted to this check (the run's family-wise level divided
    among its checks). ``max_trials`` caps the Monte Carlo trials. ``theory_factor`` multiplies
    the theory value; it is 1 except in power tests, which perturb the formula on purpose.
    """

    device: str = "cpu"
    dtype: str = "float32"
    seed: int = 0
    alpha: float = 1e-3
    max_trials: int = 20_000
    memory_budget: int = 256 * 2**20
    theory_factor: float = 1.0
    scale: str = "book"


@dataclass
class Outcome:
    """A judged result: the theory value, the estimate with its interval, the verdict."""

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
            "trials": int(self.trials),
            "seed": int(self.seed),
            "device": self.device,
            "evidence": self.evidence,
            "note": self.note,
        }


def _finite_or_none(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class Claim:
    """A statement of the paper with its derivation, paired simulation and judging rule."""

    id: str
    paper_ref: str
    statement: str
    kind: str
    quantity: str
    params: tuple[Param, ...]
    derive: Callable[[], Any]
    check: Callable[[Mapping[str, Any], Context], Outcome]
    grid: Mapping[str, Sequence[Mapping[str, Any]]]
    constraint: Callable[[Mapping[str, Any]], str | None] = lambda p: None

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


def worst(verdicts: Sequence[str]) -> str:
    """Combine verdicts: the worst one wins (``fails`` beats ``undecided`` beats the rest)."""
    if not verdicts:
        raise ValueError("no verdicts to combine")
    return max(verdicts, key=VERDICTS.index)


def registry() -> dict[str, Claim]:
    """Every claim of every section, by id, in section order."""
    claims: dict[str, Claim] = {}
    for section in SECTIONS:
        module = importlib.import_module(f"pavlov_theory.simulations.{section}")
        for claim in module.CLAIMS:
            if claim.id in claims:
                raise RuntimeError(f"claim {claim.id} is registered twice")
            if claim.kind not in KINDS:
                raise RuntimeError(f"claim {claim.id} has unknown kind {claim.kind}")
            claims[claim.id] = claim
    return claims


def get_claim(claim_id: str) -> Claim:
    claims = registry()
    if claim_id not in claims:
        raise ParamError(f"claim: unknown id {claim_id!r} (see `pavlov-theory list`)")
    return claims[claim_id]


def select(pattern: str | None) -> list[Claim]:
    """Claims whose id matches the shell-style ``pattern`` (all when ``None``)."""
    claims = list(registry().values())
    if pattern is None:
        return claims
    chosen = [c for c in claims if fnmatch.fnmatch(c.id, pattern) or c.id.startswith(pattern)]
    if not chosen:
        raise ParamError(f"only: no claim matches {pattern!r} (see `pavlov-theory list`)")
    return chosen
