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


@pytest.mark.parametrize("statement", [sp.Eq(x, x), sp.Eq(sp.Integer(1), 2), x + 1, sp.Lt(x, 1)])
def test_an_assumption_that_is_no_open_equation_is_refused(statement):
    with pytest.raises(DerivationError, match="not an open equation"):
        Derivation("t").assume("settled", statement)


@pytest.mark.parametrize("statement", [sp.Eq(sp.Sum(sp.Symbol("k"), (sp.Symbol("k"), 1, x)), x**2),
                                       sp.Eq(x**2 - 1, (x - 1) * (x + 1) + 1)])
def test_an_assumption_that_names_nothing_new_is_refused(statement):
    with pytest.raises(DerivationError, match="names nothing new"):
        Derivation("t").assume("a constraint", statement)


@pytest.mark.parametrize("statement", [sp.Eq(sp.sin(x) ** 2 + sp.cos(x) ** 2, 1),
                                       sp.Eq(stats.E(stats.Normal("Z", 0, 1) ** 2, evaluate=False), 1)])
def test_an_assumption_the_step_checker_proves_is_refused(statement):
    with pytest.raises(DerivationError, match="is provable"):
        Derivation("t").assume("provable", statement)


@pytest.mark.parametrize("statement", [sp.Eq(sp.sin(x) ** 2 + sp.cos(x) ** 2, 2),
                                       sp.Eq(stats.E(stats.Normal("Z", 0, 1) ** 2, evaluate=False), 2)])
def test_an_assumption_sympy_shows_false_is_refused(statement):
    with pytest.raises(DerivationError, match="is false"):
        Derivation("t").assume("false", statement)


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
    """Every cached derivation function of ``proofs`` (called with each key law where it takes
    one) whose derivation records an assumption, once per assumption: (label, function, arguments,
    index of the assumption)."""
    import importlib
    import inspect
    import pkgutil

    from pavlov_theory import proofs
    from pavlov_theory.params import KEY_DISTS

    found = []
    for info in pkgutil.iter_modules(proofs.__path__):
        module = importlib.import_module(f"pavlov_theory.proofs.{info.name}")
        for name, fn in vars(module).items():
            if not hasattr(fn, "__wrapped__") or getattr(fn, "__module__", None) != module.__name__:
                continue
            required = [p.name for p in inspect.signature(fn).parameters.values() if p.default is p.empty]
            for args in [()] if not required else [(d,) for d in KEY_DISTS] if required == ["dist"] else []:
                der = fn(*args)
                count = sum(s.relation == "assumes" for s in der.steps) if isinstance(der, Derivation) else 0
                found += [(f"{info.name}.{name}{args}#{k}", fn, args, k) for k in range(count)]
    return found


ASSUMING = _derivations_that_assume()


def test_the_derivations_that_assume_are_found():
    assert {"propagation.theorem9", "propagation.independence", "propagation.shared_embedding",
            "capacity.concentration", "capacity.decoding", "conditioning.residual", "softmax.cosine_mgf",
            "softmax.snr", "softmax.capacity", "softmax.gradient", "rules.delta",
            "rules.oja", "rules.bcm_classical", "softmax.optimal_beta", "conditioning.multi_hop",
            "conditioning.residual_norm"} == {
        label.split("(")[0] for label, *_ in ASSUMING}


@pytest.mark.parametrize("label, fn, args, index", ASSUMING, ids=[a[0] for a in ASSUMING])
def test_every_assumption_is_used_by_what_follows_it(label, fn, args, index, monkeypatch):
    """Scaling one assumption's right side by a new symbol either makes a later step fail or puts
    the symbol into a result: an assumption that nothing computes from would leave both as they are."""
    assume, z, calls, scaled_done = Derivation.assume, sp.Dummy("z", positive=True), [], []

    def scaled(self, text, eq):
        calls.append(text)
        if len(calls) != index + 1:
            return assume(self, text, eq)
        out = assume(self, text, sp.Eq(eq.lhs, eq.rhs * z))
        scaled_done.append(True)
        return out

    monkeypatch.setattr(Derivation, "assume", scaled)
    try:
        changed = fn.__wrapped__(*args).results
    except DerivationError:
        assert scaled_done, "the scaled assumption itself was refused"
        return
    assert any(z in sp.sympify(r).free_symbols for r in changed.values())
