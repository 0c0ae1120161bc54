"""Checked SymPy derivations: each step is an equation that must simplify to an identity.

A :class:`Derivation` is built step by step; :meth:`Derivation.step` raises
:class:`DerivationError` the moment a step does not hold, so a wrong line fails loudly.
Named results are lambdified once and evaluated with :meth:`Derivation.evaluate`, so theory
values always come from the derived expression, never from a second hand-written formula.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp


class DerivationError(AssertionError):
    """A derivation step whose two sides are not equal."""


def is_zero(expr: sp.Expr) -> bool:
    """True when ``expr`` simplifies to 0 (matrices: every entry)."""
    if isinstance(expr, sp.MatrixBase):
        return all(is_zero(e) for e in expr)
    if sp.simplify(expr) == 0:
        return True
    expr = sp.simplify(sp.expand(expr))
    if expr == 0:
        return True
    return sp.simplify(sp.gammasimp(sp.powsimp(expr, force=True))) == 0


@dataclass(frozen=True)
class Step:
    label: str
    lhs: Any
    rhs: Any


@dataclass
class Derivation:
    """A sequence of checked steps and the named expressions it produces."""

    title: str
    steps: list[Step] = field(default_factory=list)
    results: dict[str, sp.Expr] = field(default_factory=dict)
    _compiled: dict[str, Any] = field(default_factory=dict, repr=False)

    def step(self, label: str, lhs: Any, rhs: Any) -> Any:
        """Record ``lhs = rhs`` after checking it; return ``rhs`` for chaining."""
        if not is_zero(lhs - rhs):
            raise DerivationError(f"{self.title}: step '{label}' fails: {lhs} != {rhs}")
        self.steps.append(Step(label, lhs, rhs))
        return rhs

    def result(self, name: str, expr: sp.Expr) -> sp.Expr:
        self.results[name] = expr
        return expr

    def evaluate(self, name: str, **values: float) -> float:
        """Numeric value of result ``name`` (float64, via ``sympy.lambdify``)."""
        expr = self.results[name]
        if name not in self._compiled:
            symbols = sorted(expr.free_symbols, key=lambda s: s.name)
            self._compiled[name] = (symbols, sp.lambdify(symbols, expr, "numpy"))
        symbols, fn = self._compiled[name]
        missing = [s.name for s in symbols if s.name not in values]
        if missing:
            raise KeyError(f"{self.title}: result {name} needs {missing}")
        return float(fn(*(values[s.name] for s in symbols)))

    def latex(self, name: str) -> str:
        return sp.latex(self.results[name])
