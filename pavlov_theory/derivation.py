"""Checked SymPy derivations: each step is an identity or an inequality that SymPy must prove.

A :class:`Derivation` is built step by step. :meth:`Derivation.step` records ``lhs = rhs`` and
raises :class:`DerivationError` the moment the two sides differ, or when the step restates (its
two sides are the same expression, so it checks nothing). A side may be an unevaluated object
(``sympy.stats.E(..., evaluate=False)``, ``Sum``): the step shows the definition and SymPy
computes it. :meth:`Derivation.inequality` records
``smaller <= larger`` and proves it from the symbols' assumptions (or from a certificate: an
expression equal to the difference that SymPy can see is non-negative). No simplification is
forced: SymPy rewrites powers and logarithms only where the symbols' assumptions allow it.

Named results are lambdified once and evaluated with :meth:`Derivation.evaluate`, so the value a
check compares with always comes from the derived expression, never from a second formula.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import sympy as sp
from sympy.core.function import AppliedUndef


class DerivationError(AssertionError):
    """A derivation step that does not hold, or that checks nothing."""


def _rewrites(expr: Any) -> Iterator[Any]:
    """``expr`` evaluated, then, one at a time, the rewrites SymPy may need to see that it is 0,
    each justified by the symbols' assumptions."""
    expr = sp.sympify(expr).doit()
    yield expr
    for transform in (sp.simplify, lambda e: sp.simplify(sp.expand(e)),
                      lambda e: sp.simplify(sp.gammasimp(sp.powsimp(e)))):
        yield transform(expr)


def is_zero(expr: Any) -> bool:
    """True when ``expr`` simplifies to 0 (matrices: every entry), using only rewrites that the
    symbols' assumptions justify."""
    if isinstance(expr, sp.MatrixBase):
        return all(is_zero(e) for e in expr)
    return any(candidate == 0 for candidate in _rewrites(expr))


def _decided(expr: Any) -> bool | None:
    """True when ``expr`` simplifies to 0, False when SymPy proves it is not 0 after one of the
    rewrites of :func:`is_zero`, None when it cannot tell."""
    nonzero = False
    for candidate in _rewrites(expr):
        if candidate == 0:
            return True
        nonzero = nonzero or candidate.is_zero is False
    return False if nonzero else None


def _named(expr: Any) -> set:
    """The symbols and undefined functions applied in ``expr``."""
    return set(expr.free_symbols) | set(expr.atoms(AppliedUndef))


def is_nonnegative(expr: Any) -> bool:
    """True when SymPy can prove ``expr >= 0`` from the symbols' assumptions."""
    expr = sp.sympify(expr)
    for candidate in (expr, sp.simplify(expr), sp.factor(expr), sp.expand(expr)):
        if candidate.is_nonnegative:
            return True
    return False


def _doit(x: Any) -> Any:
    """Evaluate unevaluated objects (``Expectation``, ``Sum``, ``Integral``) a step may show."""
    return x.doit() if hasattr(x, "doit") else x


def _same(lhs: Any, rhs: Any) -> bool:
    if isinstance(lhs, sp.MatrixBase) or isinstance(rhs, sp.MatrixBase):
        return isinstance(lhs, sp.MatrixBase) and isinstance(rhs, sp.MatrixBase) and lhs == rhs
    return sp.sympify(lhs) == sp.sympify(rhs)


@dataclass(frozen=True)
class Step:
    label: str
    lhs: Any
    rhs: Any
    relation: str = "="  # "=", "<=", "confirms" (an independent computation agrees) or "assumes"
    certificate: Any = None


@dataclass
class Derivation:
    """A sequence of checked steps and the named expressions it produces."""

    title: str
    steps: list[Step] = field(default_factory=list)
    results: dict[str, sp.Expr] = field(default_factory=dict)
    _compiled: dict[str, Any] = field(default_factory=dict, repr=False)

    def step(self, label: str, lhs: Any, rhs: Any) -> Any:
        """Record ``lhs = rhs`` after checking it; return ``rhs`` for chaining. ``lhs`` should be
        computed from earlier results and ``rhs`` the simpler form it is claimed to equal."""
        if _same(lhs, rhs):
            raise DerivationError(f"{self.title}: step '{label}' restates {lhs}: it checks nothing")
        if not is_zero(_doit(lhs) - _doit(rhs)):
            raise DerivationError(f"{self.title}: step '{label}' fails: {lhs} != {rhs}")
        self.steps.append(Step(label, lhs, rhs))
        return rhs

    def confirm(self, label: str, computed: Any, predicted: Any) -> Any:
        """Record that an independent computation (brute force over explicit coordinates, an
        exhaustive enumeration) gives what the derived law predicts at one instance. Both sides
        may be plain numbers: the check is that two routes agree. Returns ``predicted``."""
        if not is_zero(_doit(computed) - _doit(predicted)):
            raise DerivationError(f"{self.title}: confirmation '{label}' fails: {computed} != {predicted}")
        self.steps.append(Step(label, computed, predicted, "confirms"))
        return predicted

    def inequality(self, label: str, smaller: Any, larger: Any, certificate: Any = None) -> Any:
        """Record ``smaller <= larger`` after proving ``larger - smaller >= 0``: directly from
        the symbols' assumptions, or through ``certificate``, an expression that equals the
        difference and that SymPy sees is non-negative (a sum of squares, a product of positive
        factors). Returns ``larger``."""
        if _same(smaller, larger):
            raise DerivationError(f"{self.title}: inequality '{label}' compares {smaller} with itself")
        difference = sp.sympify(_doit(larger) - _doit(smaller))
        if certificate is not None:
            if not is_zero(difference - certificate):
                raise DerivationError(f"{self.title}: '{label}': certificate {certificate} != {difference}")
            if not is_nonnegative(certificate):
                raise DerivationError(f"{self.title}: '{label}': cannot see {certificate} >= 0")
        elif not is_nonnegative(difference):
            raise DerivationError(f"{self.title}: inequality '{label}' not proved: {smaller} <= {larger}")
        self.steps.append(Step(label, smaller, larger, "<=", certificate))
        return larger

    def assume(self, label: str, statement: Any) -> Any:
        """Record an assumption: ``statement``, a SymPy equation ``Eq(lhs, rhs)``, is taken, not
        proved, and the book shows it as such. Its left side names what it introduces (a symbol or
        an undefined function its right side lacks: a law, a probability, a quantity of the model);
        later steps and results compute from its right side, which is returned. Refused where it is
        no equation, names nothing new (a constraint between known quantities is a claim to prove),
        or where SymPy settles it: a statement the checker of :meth:`step` proves is a step, a
        false one no model."""
        equation = sp.sympify(statement)
        if not isinstance(equation, sp.Equality):
            raise DerivationError(f"{self.title}: assumption '{label}' is not an open equation: {equation}")
        if not _named(equation.lhs) - _named(equation.rhs):
            raise DerivationError(f"{self.title}: assumption '{label}' names nothing new: its left side "
                                  "holds no symbol or function that its right side lacks")
        difference = _doit(equation.lhs) - _doit(equation.rhs)
        entries = difference if isinstance(difference, sp.MatrixBase) else [difference]
        decided = [_decided(e) for e in entries]
        if False in decided:
            raise DerivationError(f"{self.title}: assumption '{label}' is false: {equation}")
        if all(decided):
            raise DerivationError(f"{self.title}: assumption '{label}' is provable: derive it as a step")
        self.steps.append(Step(label, equation.lhs, equation.rhs, "assumes"))
        return equation.rhs

    def result(self, name: str, expr: sp.Expr) -> sp.Expr:
        self.results[name] = expr
        return expr

    def evaluate(self, name: str, **values: Any) -> float:
        """Numeric value of result ``name`` (float64, via ``sympy.lambdify``; SciPy's quadrature
        and special functions where NumPy has none); ``values`` may hold more names than the
        result uses."""
        expr = self.results[name]
        if name not in self._compiled:
            symbols = sorted(sp.sympify(expr).free_symbols, key=lambda s: s.name)
            try:
                fn = sp.lambdify(symbols, expr, "numpy")
            except NotImplementedError:  # integrals and special functions numpy cannot print
                fn = sp.lambdify(symbols, expr, "scipy")
            self._compiled[name] = (symbols, fn)
        symbols, fn = self._compiled[name]
        missing = [s.name for s in symbols if s.name not in values]
        if missing:
            raise KeyError(f"{self.title}: result {name} needs {missing}")
        args = [values[s.name] for s in symbols]
        try:  # float64 throughout: integer powers of integer parameters would overflow as ints
            floats = (float(a) if isinstance(a, int) and not isinstance(a, bool) else a for a in args)
            return float(fn(*floats))
        except TypeError:  # a result that needs integer arguments (a Sum's range, say)
            return float(fn(*args))

    def latex(self, name: str) -> str:
        return sp.latex(self.results[name])
