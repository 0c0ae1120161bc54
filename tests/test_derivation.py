"""Checked derivations: a wrong step, a restated step and an unproved inequality all fail."""
import pytest
import sympy as sp
from sympy import stats

from pavlov_theory.derivation import Derivation, DerivationError, is_zero

x = sp.Symbol("x")


def test_a_correct_step_is_recorded():
    der = Derivation("t")
    der.step("expand", (x + 1) ** 2, x**2 + 2 * x + 1)
    assert len(der.steps) == 1


def test_a_wrong_step_fails():
    with pytest.raises(DerivationError, match="fails"):
        Derivation("t").step("wrong", (x + 1) ** 2, x**2 + 1)


def test_a_step_that_restates_checks_nothing_and_is_refused():
    with pytest.raises(DerivationError, match="restates"):
        Derivation("t").step("times one", x * 1, x)


def test_an_unevaluated_expectation_is_computed_by_the_step():
    d = sp.Symbol("d", positive=True)
    der = Derivation("t")
    assert der.step("E[B]", stats.E(stats.Beta("B", 1, d), evaluate=False), 1 / (1 + d)) == 1 / (1 + d)


def test_no_forced_power_rule_for_symbols_that_may_be_negative():
    a, b = sp.symbols("a b", real=True)
    assert not is_zero(sp.sqrt(a) * sp.sqrt(b) - sp.sqrt(a * b))


def test_power_rule_holds_for_positive_symbols():
    a, b = sp.symbols("a b", positive=True)
    assert is_zero(sp.sqrt(a) * sp.sqrt(b) - sp.sqrt(a * b))


def test_an_inequality_is_proved_from_assumptions():
    t, delta = sp.symbols("t delta", positive=True)
    der = Derivation("t")
    der.inequality("Markov on X = delta + t", 1, (delta + t) / delta)
    assert der.steps[-1].relation == "<="


def test_an_assumption_is_recorded_and_its_right_side_returned():
    p, q = sp.symbols("p q", positive=True)
    der = Derivation("t")
    assert der.assume("q is p squared", sp.Eq(q, p**2)) == p**2
    assert der.steps[-1].relation == "assumes" and der.steps[-1].lhs == q


@pytest.mark.parametrize("statement", [sp.Eq(x, x), sp.Eq(sp.Sum(1, (sp.Symbol("k"), 1, 3)), 3),
                                       sp.Eq(sp.Integer(1), 2), x + 1, sp.Eq(x**2 - 1, (x - 1) * (x + 1)),
                                       sp.Eq(sp.sin(x) ** 2 + sp.cos(x) ** 2, 1), sp.Lt(x, 1)])
def test_an_assumption_sympy_can_settle_or_that_is_no_relation_is_refused(statement):
    with pytest.raises(DerivationError, match="assumption"):
        Derivation("t").assume("settled", statement)


def test_a_false_inequality_is_refused():
    t = sp.Symbol("t", positive=True)
    with pytest.raises(DerivationError, match="not proved"):
        Derivation("t").inequality("wrong way", t + 1, t)


def test_an_inequality_with_a_certificate():
    a, b = sp.symbols("a b", real=True)
    der = Derivation("t")
    der.inequality("AM-GM", 2 * a * b, a**2 + b**2, certificate=(a - b) ** 2)
    with pytest.raises(DerivationError, match="certificate"):
        der.inequality("bad certificate", 2 * a * b, a**2 + b**2, certificate=(a + b) ** 2)


def test_a_confirmation_may_compare_numbers_but_must_agree():
    der = Derivation("t")
    der.confirm("brute force at 2", sp.Integer(2), sp.Integer(2))
    with pytest.raises(DerivationError):
        der.confirm("brute force at 3", sp.Integer(3), sp.Integer(2))


def test_evaluate_uses_the_derived_expression():
    d = sp.Symbol("d_k")
    der = Derivation("t")
    der.result("f", 1 / d)
    assert der.evaluate("f", d_k=4, unused=1) == 0.25


def test_evaluate_works_in_floats_where_integer_powers_would_overflow():
    d, T = sp.Symbol("d", positive=True, integer=True), sp.Symbol("T", positive=True, integer=True)
    der = Derivation("t")
    der.result("ratio", (d**T + 1) / d**T)
    assert der.evaluate("ratio", d=3, T=600) == 1.0


def _derivations_that_assume():
    """Every cached derivation function of ``proofs`` whose source records an assumption (through
    ``.assume(`` or a function of its module that does), with each key law where it takes one."""
    import importlib
    import inspect
    import pkgutil

    from pavlov_theory import proofs
    from pavlov_theory.params import KEY_DISTS

    found = []
    for info in pkgutil.iter_modules(proofs.__path__):
        module = importlib.import_module(f"pavlov_theory.proofs.{info.name}")
        local = {n: f for n, f in vars(module).items()
                 if inspect.isfunction(inspect.unwrap(f)) and f.__module__ == module.__name__}
        source = {n: inspect.getsource(inspect.unwrap(f)) for n, f in local.items()}
        # uncached functions that record one for the derivation they are given
        helpers = [n for n, text in source.items()
                   if ".assume(" in text and not hasattr(local[n], "__wrapped__")]
        for name, fn in local.items():
            calls = [h + "(" for h in [".assume", *helpers]]
            if not hasattr(fn, "__wrapped__") or not any(c in source[name] for c in calls):
                continue
            for args in [(d,) for d in KEY_DISTS] if "dist" in inspect.signature(fn).parameters else [()]:
                count = sum(s.relation == "assumes" for s in fn(*args).steps)
                found += [(f"{info.name}.{name}{args}#{k}", fn, args, k) for k in range(count)]
    return found


ASSUMING = _derivations_that_assume()


def test_the_derivations_that_assume_are_found():
    assert {"propagation.theorem9", "propagation.independence", "propagation.shared_embedding",
            "capacity.concentration", "capacity.decoding", "conditioning.residual", "softmax.cosine_mgf"} == {
        label.split("(")[0] for label, *_ in ASSUMING}


@pytest.mark.parametrize("label, fn, args, index", ASSUMING, ids=[a[0] for a in ASSUMING])
def test_every_assumption_is_used_by_what_follows_it(label, fn, args, index, monkeypatch):
    """Scaling one assumption's right side by a new symbol either breaks a later step or changes a
    result: an assumption that nothing computes from would leave both as they are."""
    original = fn(*args).results
    assume, z, seen = Derivation.assume, sp.Symbol("z", positive=True), []

    def scaled(self, text, eq):
        seen.append(text)
        return assume(self, text, sp.Eq(eq.lhs, eq.rhs * z) if len(seen) == index + 1 else eq)

    monkeypatch.setattr(Derivation, "assume", scaled)
    try:
        changed = fn.__wrapped__(*args).results
    except DerivationError:
        return
    assert any(sp.simplify(changed[k] - original[k]) != 0 for k in original)
