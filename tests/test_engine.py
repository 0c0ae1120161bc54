"""The engine: parameters, statistics, judging, derivations, sampling, memory forms."""
import numpy as np
import pytest
import sympy as sp
import torch

from pavlov_theory import memory
from pavlov_theory.claims import Param, ParamError, registry, worst
from pavlov_theory.derivation import Derivation, DerivationError
from pavlov_theory.device import rows_per_chunk
from pavlov_theory.sampling import derive_seed, generator, pair_chunks, sample, unit_with_cosine
from pavlov_theory.stats import (Interval, fit_power_law, judge_bound, judge_exact, judge_positive,
                                 mean_ci, proportion_ci, ratio_of_means_ci, sequential)

D = Param("d_k", int, 8, 2, 64)


def test_param_parses_integer_text():
    assert D.parse("16") == 16


@pytest.mark.parametrize("text", ["1", "65", "abc", "2.5", "nan", ""])
def test_param_rejects_bad_text_naming_the_parameter(text):
    with pytest.raises(ParamError, match=r"^d_k: expected an integer in \[2, 64\]"):
        D.parse(text)


def test_param_choices_reject_unknown():
    p = Param("key_dist", str, "sphere", choices=("sphere", "gaussian"))
    with pytest.raises(ParamError, match="one of sphere, gaussian"):
        p.parse("cube")


def test_every_claim_default_and_grid_validate():
    for claim in registry().values():
        claim.resolve({})
        for scale in ("ci", "book", "paper"):
            assert claim.points(scale)


def test_registry_ids_are_unique_and_sectioned():
    ids = list(registry())
    assert len(ids) == len(set(ids))
    assert all(i.split(".")[0] in ("framework", "capacity", "conditioning", "propagation") for i in ids)


def test_worst_verdict_wins():
    assert worst(["exact", "undecided"]) == "undecided"
    assert worst(["exact", "fails", "undecided"]) == "fails"


def test_judge_exact_needs_a_narrow_interval():
    assert judge_exact(1.0, Interval(1.0, 0.99, 1.01, 10)) == "exact"
    assert judge_exact(1.0, Interval(1.0, 0.95, 1.05, 10)) == "undecided"
    assert judge_exact(1.0, Interval(1.1, 1.05, 1.15, 10)) == "fails"


def test_judge_exact_catches_a_two_percent_error_when_it_passes():
    ci = Interval(1.0, 0.985, 1.015, 10)
    assert judge_exact(1.0, ci) == "exact"
    assert judge_exact(1.02, ci) == "fails" and judge_exact(0.98, ci) == "fails"


def test_judge_bound_and_positive():
    assert judge_bound(0.1, 0.05) == "holds" and judge_bound(0.1, 0.2) == "fails"
    assert judge_positive(Interval(0.1, 0.05, 0.15, 5), 0.0) == "holds"
    assert judge_positive(Interval(0.0, -0.01, 0.0, 5), 1e-3) == "fails"
    assert judge_positive(Interval(0.0, -0.01, 0.01, 5), 1e-3) == "undecided"


def test_mean_ci_covers_known_mean_at_its_level():
    rng = np.random.default_rng(0)
    hits = [(lambda c: c.lo <= 3.0 <= c.hi)(mean_ci(rng.normal(3.0, 1.0, 50), 0.1)) for _ in range(2000)]
    assert 0.87 < np.mean(hits) < 0.93


def test_ratio_ci_covers_known_ratio():
    rng = np.random.default_rng(1)
    hits = []
    for _ in range(1000):
        a, b = rng.normal(2.0, 0.5, 200), rng.normal(4.0, 0.5, 200)
        ci = ratio_of_means_ci(a, b, 0.1)
        hits.append(ci.lo <= 0.5 <= ci.hi)
    assert 0.86 < np.mean(hits) < 0.94


def test_proportion_ci_is_clopper_pearson():
    ci = proportion_ci(0, 100, 0.05)
    assert ci.lo == 0.0 and abs(ci.hi - 0.0362) < 1e-3


def test_fit_power_law_recovers_exponent():
    x = np.array([16, 64, 256, 1024.0])
    fit = fit_power_law(x, 3 * x**0.5 * np.array([1.01, 0.99, 1.0, 1.02]), 0.01)
    assert fit.lo < 0.5 < fit.hi


def test_sequential_stops_when_decided_and_splits_alpha_over_looks():
    calls = []

    def draw(index, size):
        calls.append(size)
        return (np.full(size, 1.0) + np.resize([-1e-3, 1e-3], size),)

    ci, verdict = sequential(draw, lambda x, a: mean_ci(x[0], a), lambda c: judge_exact(1.0, c), 1e-3, 8, 1000)
    assert verdict == "exact" and calls == [8]


def test_derivation_step_rejects_a_wrong_step():
    x = sp.Symbol("x")
    der = Derivation("t")
    der.step("expand", (x + 1) ** 2, x**2 + 2 * x + 1)
    with pytest.raises(DerivationError):
        der.step("wrong", (x + 1) ** 2, x**2 + 1)


def test_derivation_evaluates_by_lambdify():
    x = sp.Symbol("d_k")
    der = Derivation("t")
    der.result("f", 1 / x)
    assert der.evaluate("f", d_k=4) == 0.25


def test_derive_seed_is_stable_and_label_sensitive():
    assert derive_seed(0, "a", 1) == derive_seed(0, "a", 1)
    assert derive_seed(0, "a", 1) != derive_seed(0, "a", 2) != derive_seed(1, "a", 1)


@pytest.mark.parametrize("dist", ["sphere", "gaussian", "rademacher"])
def test_samples_have_unit_mean_square_norm(dist):
    x = sample(dist, (20000,), 16, generator(0, "cpu"), torch.float64)
    assert abs(float((x * x).sum(-1).mean()) - 1) < 0.02


def test_sphere_and_rademacher_are_exactly_unit():
    for dist in ("sphere", "rademacher"):
        x = sample(dist, (100,), 9, generator(0, "cpu"), torch.float64)
        assert torch.allclose((x * x).sum(-1), torch.ones(100, dtype=torch.float64))


def test_unit_with_cosine_has_that_cosine():
    anchor = sample("gaussian", (50,), 8, generator(0, "cpu"), torch.float64)
    q = unit_with_cosine(anchor, 0.3, generator(1, "cpu"))
    cos = torch.nn.functional.cosine_similarity(q, anchor, dim=-1)
    assert torch.allclose(cos, torch.full_like(cos, 0.3)) and torch.allclose(q.norm(dim=-1), torch.ones(50, dtype=torch.float64))


def test_pair_chunks_regenerate_identically():
    a = list(pair_chunks(7, 2, 10, 4, 3, 2, "sphere", "cpu", torch.float64))
    b = list(pair_chunks(7, 2, 10, 4, 3, 2, "sphere", "cpu", torch.float64))
    assert [k.shape[1] for k, _ in a] == [4, 4, 2]
    assert all(torch.equal(x[0], y[0]) and torch.equal(x[1], y[1]) for x, y in zip(a, b))


def test_rows_per_chunk_respects_budget():
    assert rows_per_chunk(100, 1000) == 10 and rows_per_chunk(10**9, 10) == 1


def _qkv(T=37, d=5, dv=3):
    gen = generator(3, "cpu")
    return [sample("gaussian", (2, T), dim, gen, torch.float64) for dim in (d, d, dv)]


@pytest.mark.parametrize("gamma", [1.0, 0.9, 0.5])
def test_recurrent_and_chunked_forms_match_parallel(gamma):
    q, k, v = _qkv()
    ref = memory.parallel_form(q, k, v, gamma)
    assert torch.allclose(memory.recurrent_form(q, k, v, gamma), ref, atol=1e-12)
    for chunk in (1, 4, 16, 64):
        assert torch.allclose(memory.chunked_form(q, k, v, gamma, chunk), ref, atol=1e-12)


def test_association_matrix_is_last_state():
    q, k, v = _qkv()
    out = memory.parallel_form(q, k, v, 0.8)
    S = memory.association_matrix(k, v, 0.8)
    assert torch.allclose(out[:, -1], (q[:, -1:] @ S).squeeze(1), atol=1e-12)


def test_non_causal_form_is_detected():
    q, k, v = _qkv()
    leaky = (q @ k.transpose(-1, -2)) @ v  # no mask: attends to the future
    assert not torch.allclose(leaky, memory.parallel_form(q, k, v), atol=1e-6)


def test_rmsnorm_output_has_norm_sqrt_dv():
    x = sample("gaussian", (10,), 7, generator(0, "cpu"), torch.float64)
    o = memory.normalize("rmsnorm", 3 * x)
    assert torch.allclose(o.norm(dim=-1) ** 2, torch.full((10,), 7.0, dtype=torch.float64))


from hypothesis import given, settings, strategies as st


@settings(derandomize=True, max_examples=40, deadline=None)
@given(T=st.integers(1, 40), d=st.integers(1, 6), dv=st.integers(1, 5),
       gamma=st.floats(0.0, 1.0), chunk=st.integers(1, 17))
def test_three_forms_agree_for_any_shape_and_decay(T, d, dv, gamma, chunk):
    gen = generator(T * 1000 + d * 10 + dv, "cpu")
    q, k, v = (sample("gaussian", (2, T), dim, gen, torch.float64) for dim in (d, d, dv))
    ref = memory.parallel_form(q, k, v, gamma)
    assert torch.allclose(memory.recurrent_form(q, k, v, gamma), ref, atol=1e-10)
    assert torch.allclose(memory.chunked_form(q, k, v, gamma, chunk), ref, atol=1e-10)
