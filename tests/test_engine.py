"""The engine: parameters, context, estimators, the batching path, sampling, memory forms."""
from dataclasses import replace

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from pavlov_theory import memory
from pavlov_theory.claims import Context, Probe, registry, section_modules
from pavlov_theory.derivation import Derivation
from pavlov_theory.device import rows_per_chunk
from pavlov_theory.engine import Kernel, draw
from pavlov_theory.params import Param, ParamError
from pavlov_theory.sampling import (
    derive_seed,
    generator,
    pair_chunks,
    sample,
    sample_in_span,
    unit_with_cosine,
)
from pavlov_theory.stats import (
    Interval,
    first_crossings,
    look_sizes,
    mean_ci,
    proportion_ci,
    ratio_of_means_ci,
    secant_slope,
    sequential,
)

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


def test_param_with_an_open_lower_end_refuses_it_and_says_so():
    gamma = Param("gamma", float, 1.0, 0.0, 1.0, low_open=True)
    assert gamma.parse("0.5") == 0.5
    with pytest.raises(ParamError, match=r"^gamma: expected a number in \(0, 1\], got 0.0"):
        gamma.parse("0")


def test_param_but_changes_only_what_it_names():
    wider = D.but(high=128, default=16)
    assert (wider.name, wider.low, wider.high, wider.default) == ("d_k", 2, 128, 16)


def test_sections_are_discovered_in_their_order():
    orders = [getattr(m, "ORDER", 100) for m in section_modules()]
    assert orders == sorted(orders) and len(orders) >= 4


def test_registry_ids_are_unique_and_named_by_section():
    ids = list(registry())
    assert len(ids) == len(set(ids)) and all("." in i for i in ids)


def _derived(value):
    der = Derivation("t")
    der.result("v", sp.Symbol("a") * 0 + value)
    der.result("a_times", sp.Symbol("a"))
    return der


def test_context_applies_a_theory_probe_only_to_theory_values():
    der = _derived(2)
    ctx = Context(probe=("theory", 1.02))
    assert ctx.theory(der, "a_times", a=2.0) == pytest.approx(2.04)
    assert ctx.bound(der, "a_times", a=2.0) == 2.0 and ctx.reference(der, "a_times", a=2.0) == 2.0


def test_context_applies_bound_and_exponent_probes():
    der = _derived(2)
    assert Context(probe=("bound", 0.5)).bound(der, "a_times", a=0.2) == pytest.approx(0.1)
    assert Context(probe=("exponent", 0.1)).exponent(der, "a_times", a=0.5) == pytest.approx(0.6)


def test_context_share_splits_the_error_level():
    assert Context(alpha=1e-3).share(4).alpha == pytest.approx(2.5e-4)


def test_context_budget_reads_the_scales_trials_cut_to_the_cap():
    table = {"ci": 100, "book": 300, "paper": 2000}
    assert Context(scale="ci", max_trials=1000).budget(table) == 100
    assert Context(scale="paper", max_trials=1000).budget(table) == 1000
    assert Context(scale="other", max_trials=1000).budget(table) == 300


def test_probe_needs_a_known_kind_and_values():
    with pytest.raises(ValueError):
        Probe("formula", (1.02,))
    assert "x 1.02" in Probe("theory", (1.02, 0.98)).describe()


def _normal_kernel():
    fn = lambda p, t, g, d: (torch.randn(t, generator=g, dtype=d).double().numpy(),)
    return Kernel("normal", fn, fn, bytes_per_trial=lambda p, s: 10**6, example={})


def test_draw_is_reproducible_and_independent_across_streams():
    ctx, kernel = Context(claim="c"), _normal_kernel()
    a, b = draw(ctx, {}, kernel, 50, 0)[0], draw(ctx, {}, kernel, 50, 0)[0]
    assert np.array_equal(a, b) and not np.array_equal(a, draw(ctx, {}, kernel, 50, 1)[0])


def test_draw_chunks_within_the_memory_budget():
    calls = []
    kernel = _normal_kernel()
    counting = replace(kernel, fn=lambda p, t, g, d: (calls.append(t) or kernel.fn(p, t, g, d)))
    out = draw(Context(claim="c", memory_budget=3 * 10**6), {}, counting, 10)[0]
    assert calls == [3, 3, 3, 1] and out.shape == (10,)


def test_draw_differs_between_claims_and_seeds():
    kernel = _normal_kernel()
    base = draw(Context(claim="a"), {}, kernel, 5)[0]
    assert not np.array_equal(base, draw(Context(claim="b"), {}, kernel, 5)[0])
    assert not np.array_equal(base, draw(Context(claim="a", seed=1), {}, kernel, 5)[0])


def test_draw_refuses_non_finite_trial_outputs():
    fn = lambda p, t, g, d: (np.where(np.arange(t) == 2, np.nan, 1.0),)
    kernel = Kernel("nan", fn, fn, bytes_per_trial=lambda p, s: 8, example={})
    with pytest.raises(FloatingPointError, match="nan at .* 1 non-finite"):
        draw(Context(claim="c"), {}, kernel, 5)


def test_one_dimensional_sphere_draws_are_signs_even_where_the_normal_is_zero(monkeypatch):
    gen = generator(0, "cpu")
    assert set(sample("sphere", (4096,), 1, gen).flatten().tolist()) <= {-1.0, 1.0}
    monkeypatch.setattr(torch, "randn", lambda shape, **kw: torch.zeros(shape))
    assert sample("sphere", (3,), 1, gen).flatten().tolist() == [1.0, 1.0, 1.0]


def test_a_zero_normal_row_becomes_the_first_unit_vector_and_leaves_the_others(monkeypatch):
    rows = torch.tensor([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]])
    monkeypatch.setattr(torch, "randn", lambda shape, **kw: rows.clone().reshape(shape))
    expected = torch.tensor([[3.0, 4.0], [5.0, 0.0], [0.0, -5.0]]) / 5
    assert torch.equal(sample("sphere", (3,), 2, generator(0, "cpu")), expected)


def test_sphere_draw_is_the_same_normal_draw_over_its_norm():
    x = sample("sphere", (64, 3), 7, generator(5, "cpu"), torch.float64)
    z = torch.randn((64, 3, 7), generator=generator(5, "cpu"), dtype=torch.float64)
    assert torch.equal(x, z / torch.linalg.vector_norm(z, dim=-1, keepdim=True))


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


@pytest.mark.parametrize("dist", ["sphere", "gaussian"])
def test_keys_in_their_span_are_lower_triangular_with_a_positive_diagonal(dist):
    x = sample_in_span(dist, (50,), 4, 7, generator(0, "cpu"), torch.float64)
    assert x.shape == (50, 4, 4) and torch.equal(torch.triu(x, 1), torch.zeros_like(x))
    assert bool((x.diagonal(dim1=-2, dim2=-1) > 0).all())


def test_sphere_keys_in_their_span_are_unit():
    x = sample_in_span("sphere", (100,), 5, 9, generator(0, "cpu"), torch.float64)
    assert torch.allclose((x * x).sum(-1), torch.ones(100, 5, dtype=torch.float64))


@pytest.mark.parametrize("dist", ["sphere", "gaussian"])
def test_the_gram_of_keys_in_their_span_has_the_law_of_drawn_keys(dist):
    gram = lambda x: x @ x.transpose(-1, -2)
    span = gram(sample_in_span(dist, (20000,), 4, 6, generator(1, "cpu"), torch.float64))
    drawn = gram(sample(dist, (20000, 4), 6, generator(2, "cpu"), torch.float64))
    entries = [(0, 1), (2, 3)] + ([(3, 3)] if dist == "gaussian" else [])  # sphere norms are 1 either way
    for i, j in entries:
        assert scipy_stats.ks_2samp(span[:, i, j].numpy(), drawn[:, i, j].numpy()).pvalue > 1e-3
    top = lambda g: torch.linalg.eigvalsh(g)[:, -1].numpy()
    assert scipy_stats.ks_2samp(top(span), top(drawn)).pvalue > 1e-3


def test_the_gram_of_keys_in_their_span_rejects_another_dimension():
    top = lambda x: torch.linalg.eigvalsh(x @ x.transpose(-1, -2))[:, -1].numpy()
    span = sample_in_span("sphere", (20000,), 4, 6, generator(1, "cpu"), torch.float64)
    other = sample("sphere", (20000, 4), 8, generator(2, "cpu"), torch.float64)
    assert scipy_stats.ks_2samp(top(span), top(other)).pvalue < 1e-6


def test_keys_in_their_span_refuse_rademacher_and_more_keys_than_dimensions():
    with pytest.raises(ValueError, match="key_dist"):
        sample_in_span("rademacher", (2,), 3, 5, generator(0, "cpu"))
    with pytest.raises(ValueError, match="n: expected 1 <= n <= dim"):
        sample_in_span("sphere", (2,), 6, 5, generator(0, "cpu"))


def test_unit_with_cosine_has_that_cosine():
    anchor = sample("gaussian", (50,), 8, generator(0, "cpu"), torch.float64)
    q = unit_with_cosine(anchor, 0.3, generator(1, "cpu"))
    cos = torch.nn.functional.cosine_similarity(q, anchor, dim=-1)
    assert torch.allclose(cos, torch.full_like(cos, 0.3))
    assert torch.allclose(q.norm(dim=-1), torch.ones(50, dtype=torch.float64))


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



@settings(derandomize=True, max_examples=40, deadline=None)
@given(T=st.integers(1, 40), d=st.integers(1, 6), dv=st.integers(1, 5),
       gamma=st.floats(0.0, 1.0), chunk=st.integers(1, 17))
def test_three_forms_agree_for_any_shape_and_decay(T, d, dv, gamma, chunk):
    gen = generator(T * 1000 + d * 10 + dv, "cpu")
    q, k, v = (sample("gaussian", (2, T), dim, gen, torch.float64) for dim in (d, d, dv))
    ref = memory.parallel_form(q, k, v, gamma)
    assert torch.allclose(memory.recurrent_form(q, k, v, gamma), ref, atol=1e-10)
    assert torch.allclose(memory.chunked_form(q, k, v, gamma, chunk), ref, atol=1e-10)



def test_interval_map_follows_a_monotone_function_either_way():
    from pavlov_theory.stats import Interval

    ci = Interval(2.0, 1.0, 3.0, 10)
    assert ci.map(lambda v: v - 1) == Interval(1.0, 0.0, 2.0, 10)
    assert ci.map(lambda v: -v) == Interval(-2.0, -3.0, -1.0, 10)
    assert ci.contains(3.0) and not ci.contains(3.5)


def test_a_power_law_through_two_points_has_no_finite_interval():
    from pavlov_theory.stats import fit_power_law

    fit = fit_power_law(np.array([16.0, 64.0]), np.array([4.0, 8.0]), 0.01)
    assert fit.estimate == pytest.approx(0.5) and fit.lo == -np.inf and fit.hi == np.inf


def test_same_mean_accepts_one_law_and_rejects_a_shifted_one():
    from pavlov_theory.testing import assert_same_mean

    rng = np.random.default_rng(9)
    a, b = rng.normal(0, 1, 4000), rng.normal(0, 1, 4000)
    assert_same_mean("same law", a, b)
    with pytest.raises(AssertionError, match="shifted"):
        assert_same_mean("shifted", a, b + 0.5)


def test_first_crossings_read_the_rate_and_both_simultaneous_limits():
    counts, trials, epsilon, alpha = np.array([0, 1, 30, 60, 500]), 1000, 0.02, 0.05
    above, maybe, surely = first_crossings(counts, trials, epsilon, alpha)
    limits = [proportion_ci(int(c), trials, alpha / counts.size) for c in counts]
    assert above == 2
    assert maybe == min(i for i, ci in enumerate(limits) if ci.hi > epsilon)
    assert surely == min(i for i, ci in enumerate(limits) if ci.lo > epsilon)
    assert maybe <= above <= surely


def test_first_crossings_past_the_grid_read_its_length():
    assert first_crossings(np.zeros(4, dtype=int), 10**6, 0.01, 0.05) == (4, 4, 4)


def test_secant_slope_spans_the_extremes_of_its_end_intervals():
    start, end = Interval(2.0, 1.0, 4.0, 10), Interval(32.0, 16.0, 64.0, 10)
    slope = secant_slope(start, end, np.log(2.0), 3)
    assert (slope.estimate, slope.lo, slope.hi, slope.n) == pytest.approx((4.0, 2.0, 6.0, 3))


def test_secant_slope_of_an_end_reaching_zero_is_unbounded():
    slope = secant_slope(Interval(1.0, 0.0, 2.0, 10), Interval(4.0, 2.0, 8.0, 10), 1.0, 2)
    assert np.isnan(slope.estimate) and (slope.lo, slope.hi) == (-np.inf, np.inf)


def test_look_sizes_double_the_total_until_the_cap():
    assert look_sizes(100, 1000) == [100, 100, 200, 400, 200]


def test_look_sizes_cut_a_first_look_above_the_cap():
    assert look_sizes(5000, 1000) == [1000]


def test_sequential_stops_at_the_first_look_that_decides():
    drawn = []
    draw = lambda look, size: drawn.append(size) or (np.ones(size),)
    decide = lambda ci: "holds" if ci.n >= 400 else "undecided"
    ci, verdict = sequential(draw, lambda x, level: mean_ci(x[0], level), decide, 1e-3, 100, 10_000)
    assert verdict == "holds" and drawn == [100, 100, 200] and ci.n == 400
