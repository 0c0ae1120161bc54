"""The benchmark harness: its outputs carry every field, its tables render, its flop counts are
positive, the equal-width speed-up follows its formula, and bad flags exit with code 2."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from bench import cases, draws, estimators, per_claim, report, run
from bench import verify as verify_mod
from bench.flops import FLOPS, flops_per_trial
from pavlov_theory.sampling import generator, sample
from pavlov_theory.simulations.conditioning import keys_in_span

KERNEL_FIELDS = {"label", "kernel", "shape", "params", "trials", "seconds", "seconds_per_trial", "gflops",
                 "flops_per_trial", "fraction_of_matmul", "speedup_vs_naive", "naive_seconds_per_trial",
                 "speedup_vs_naive_is_lower_bound", "peak_memory_bytes", "memory_method", "variances",
                 "draws_per_trial", "fraction_of_draw_rate", "fraction_of_hardware"}
ESTIMATOR_FIELDS = {"estimator", "label", "fast", "plain", "variance_ratio", "speedup_vs_batched_plain",
                    "speedup_vs_naive_plain"}
TOP_FIELDS = {"device", "device_tag", "matmul_gflops", "matmul_gflops_runs", "memory_method", "kernels",
              "estimators", "verify", "load_average", "notes", "draws_per_second", "draws_per_second_runs"}


@pytest.fixture(scope="module")
def found():
    return run.kernels()


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """One tiny run: the chain kernel at its example point, short naive budget, no verify, no Dask."""
    out = tmp_path_factory.mktemp("bench")
    code = run.main(["--device", "cpu", "--shapes", "example", "--kernels", "conditioning.chain",
                     "--trials", "16", "--naive-budget", "0.2", "--skip-dask", "--out", str(out)])
    assert code == 0
    (json_path,) = out.glob("bench-*.json")
    return json.loads(json_path.read_text()), next(out.glob("bench-*.md")).read_text()


def test_json_has_every_field(outputs):
    result, _ = outputs
    assert TOP_FIELDS <= set(result)
    assert result["kernels"] and all(KERNEL_FIELDS <= set(k) for k in result["kernels"])
    assert result["estimators"] and all(ESTIMATOR_FIELDS <= set(e) for e in result["estimators"])


def test_json_rates_are_positive(outputs):
    result, _ = outputs
    assert result["matmul_gflops"] > 0 and all(r > 0 for r in result["draws_per_second"].values())
    assert all(k["gflops"] > 0 and k["speedup_vs_naive"] > 0 for k in result["kernels"])


def test_table_renders_a_row_per_kernel(outputs):
    result, table = outputs
    assert table.startswith(f"# Benchmark: {result['device']}")
    assert ("| case | kernel | shape | trials | seconds | GFLOP/s | of matmul | draws/trial | of draws "
            "| of both | x naive | peak MiB |") in table
    rows = [f"| example | {k['kernel']} | {k['shape']} | {k['trials']} |" for k in result["kernels"]]
    assert all(row in table for row in rows)


def test_the_fraction_of_the_draw_rate_is_the_draws_time_over_the_kernels(outputs):
    result, _ = outputs
    for k in result["kernels"]:
        expected = sum(n / result["draws_per_second"][kind] for kind, n in k["draws_per_trial"].items())
        assert k["fraction_of_draw_rate"] == pytest.approx(expected / k["seconds_per_trial"])
        both = k["fraction_of_matmul"] + k["fraction_of_draw_rate"]
        assert k["fraction_of_hardware"] == pytest.approx(both)


def test_the_chain_draws_one_key_set_per_layer_and_the_start(outputs):
    result, _ = outputs
    (k,) = [k for k in result["kernels"] if k["kernel"] == "conditioning.chain"]
    p, layers = k["params"], k["params"]["L"] + 1
    if keys_in_span(p):  # Bartlett: the normals below the diagonal and one chi-square per key
        expected = {"randn": layers * p["n"] * (p["n"] - 1) // 2, "_standard_gamma": layers * p["n"]}
    else:
        expected = {"randint" if p["key_dist"] == "rademacher" else "randn": layers * p["n"] * p["d_k"]}
    assert k["draws_per_trial"] == expected


def test_counting_counts_every_element_drawn_and_restores_torch():
    gen, originals = generator(0, "cpu"), [getattr(torch, kind) for kind in draws.KINDS]
    with draws.counting() as counts:
        sample("sphere", (5, 3), 4, gen)
        sample("rademacher", (2,), 3, gen)
        torch.rand(7, generator=gen)
    assert counts == {"randn": 60, "randint": 6, "rand": 7}
    assert [getattr(torch, kind) for kind in draws.KINDS] == originals


def test_draw_seconds_add_each_kinds_count_over_its_rate():
    assert draws.draw_seconds({"randn": 100, "rand": 30}, {"randn": 1e3, "rand": 1e2, "randint": 1.0}) == 0.4


def test_markdown_renders_skips_errors_and_dask(outputs):
    result, _ = outputs
    result = {**result, "kernels": [{"label": "book", "kernel": "x.y", "shape": "n=2", "error": "boom"}],
              "estimators": [{"estimator": "e", "fast": "x.rb", "plain": "x.y", "skipped": "not registered"}],
              "verify": [{"scale": "ci", "seconds": 1.0, "returncode": 0}],
              "dask": {"scale": "ci", "workers": 2, "serial_seconds": 2.0, "dask_seconds": 1.0,
                       "serial_over_dask": 2.0, "findings_identical": True, "differing_values": 0,
                       "max_relative_difference": 0.0, "verdicts_identical": True}}
    table = report.markdown(result)
    assert "error: boom" in table and "skipped: not registered" in table and "| ci | 2 | 2 | 1 | 2 |" in table


def test_every_flop_count_is_positive_at_its_example(found):
    assert all(flops_per_trial(name, found[name].example) > 0 for name in FLOPS if name in found)


def test_every_book_case_has_a_positive_flop_count(found):
    every, notes = cases.collect(["small", "book"], found)
    assert not notes
    assert every and all(flops_per_trial(c.kernel, c.params) > 0 for c in every)


def _torch_counted_flops(kernel, params, trials=2):
    """The flops per trial of the matrix products torch runs in ``kernel`` (FlopCounterMode)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        kernel.fn(params, trials, generator(0, "cpu"), torch.float32)
    return counter.get_total_flops() / trials


# kernels whose counted work is all matrix products, so the declared count is what torch counts
ALL_PRODUCTS = [("capacity.noise_curves", {"n": 24, "d_k": 16, "d_v": 8, "key_dist": "sphere"}),
                ("conditioning.chain", {"L": 3, "n": 6, "d_k": 16, "key_dist": "sphere"}),
                ("conditioning.chain", {"L": 3, "n": 16, "d_k": 6, "key_dist": "sphere"}),
                ("conditioning.residual_chain", {"L": 3, "n": 6, "d_k": 16, "key_dist": "sphere"})]


@pytest.mark.parametrize("name, params", ALL_PRODUCTS)
def test_a_kernel_of_matrix_products_declares_the_flops_torch_counts(found, name, params):
    assert flops_per_trial(name, params) == _torch_counted_flops(found[name], params)


def test_every_declared_flop_count_covers_the_matrix_products_torch_counts(found):
    every, _ = cases.collect(["small"], found)
    for case in every:
        counted = _torch_counted_flops(found[case.kernel], case.params)
        assert flops_per_trial(case.kernel, case.params) >= counted, case.kernel


def test_book_cases_cover_the_large_sweeps(found):
    every, _ = cases.collect(["book"], found)
    names = {c.kernel for c in every}
    assert {"capacity.noise_curves", "conditioning.chain", "propagation.failures"} <= names
    assert max(c.params["d_k"] for c in every if c.kernel == "capacity.noise_curves") >= 1024


def test_equal_width_speedup_is_cost_times_variance_ratio():
    assert estimators.equal_width_speedup(2.0, 0.5, 4.0, 3.0) == pytest.approx(4.0 * 3.0 / (2.0 * 0.5))


def test_equal_width_speedup_of_a_kernel_against_itself_is_its_time_ratio():
    assert estimators.equal_width_speedup(2.0, 0.1, 8.0, 0.7, same_kernel=True) == 4.0


def test_equal_width_speedup_without_spread_is_undefined():
    assert estimators.equal_width_speedup(1.0, 0.0, 1.0, 0.0) is None


def test_per_trial_variance_sums_columns():
    values = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
    assert estimators.per_trial_variance(values) == pytest.approx(4.0)


def test_an_estimator_of_a_missing_kernel_is_skipped_with_a_note(monkeypatch):
    missing = estimators.Estimator("rb", "conditioning.chain_rb", "conditioning.chain",
                                   estimators.ratio_terms)
    monkeypatch.setattr(estimators, "ESTIMATORS", (*estimators.ESTIMATORS, missing))
    case = cases.Case("small", "conditioning.chain", {"L": 1, "n": 2, "d_k": 2, "key_dist": "sphere"})
    plain = {"kernel": "conditioning.chain", "params": dict(case.params), "seconds_per_trial": 1.0,
             "variances": {"rb": 1.0}}
    rows = run.estimator_rows([case], [plain])
    assert any(r["estimator"] == "rb" and "not registered" in r["skipped"] for r in rows)


def test_a_comma_list_of_patterns_selects_the_cases_of_any_of_them(found):
    every, _ = cases.collect(["book"], found)
    by = lambda pattern: {(c.kernel, c.label) for c in every if run.matches(c, pattern)}
    both = by("softmax.snr,rules.*")
    assert both == by("softmax.snr") | by("rules.*")
    assert by("softmax.snr") and by("rules.*") and not by("softmax.snr") & by("rules.*")


def test_an_example_point_runs_no_other_kernel(found):
    example = cases.Case("example", "capacity.item_noise", dict(found["capacity.item_noise"].example))
    assert [c.kernel for c in run.runs_needed([example], found)] == ["capacity.item_noise"]


def test_a_missing_kernel_is_skipped_with_a_note(found):
    kept, notes = cases.collect(["small"], {k: v for k, v in found.items() if k != "conditioning.chain"})
    assert all(c.kernel != "conditioning.chain" for c in kept)
    assert any("conditioning.chain" in note for note in notes)


def test_ledgers_compare_by_findings(tmp_path):
    base = {"scale": "ci", "seconds": 1.0, "claims": [{"claim": "a", "verdict": "holds", "seconds": 2.0}],
            "results": [{"claim": "a", "estimate": 1.0, "verdict": "holds", "seconds": 1.0}]}
    other = json.loads(json.dumps(base))
    other["seconds"], other["results"][0]["estimate"] = 9.0, 1.0 + 1e-15
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(base))
    b.write_text(json.dumps(other))
    same = verify_mod.compare_findings(a, a)
    assert same["findings_identical"] and same["differing_values"] == 0
    differ = verify_mod.compare_findings(a, b)
    assert not differ["findings_identical"] and differ["verdicts_identical"]
    assert differ["differing_values"] == 1


@pytest.mark.parametrize("flags, name", [
    (["--trials", "0"], "trials"),
    (["--trials", "many"], "trials"),
    (["--naive-budget", "-1"], "naive-budget"),
    (["--shapes", "huge"], "shapes"),
    (["--verify", "ci,nightly"], "verify"),
    (["--dask-scale", "ci,book"], "dask-scale"),
    (["--device", "tpu"], "device"),
    (["--kernels", "no.such.kernel"], "kernels"),
])
def test_a_bad_flag_exits_2_with_one_line_naming_it(flags, name, capsys, tmp_path):
    assert run.main([*flags, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{name}:" in err


def test_an_out_path_that_is_a_file_exits_2(capsys, tmp_path):
    path = tmp_path / "file"
    path.write_text("")
    assert run.main(["--out", str(path)]) == 2
    assert "out:" in capsys.readouterr().err


@pytest.mark.slow
def test_serial_and_dask_give_the_same_verdicts(tmp_path):
    if not verify_mod.have_dask():
        pytest.skip("dask.distributed is not installed")
    result = verify_mod.dask_comparison("ci", "cpu", Path(tmp_path), only="rules.delta")
    assert result["verdicts_identical"] and result["serial_over_dask"] > 0


# ----------------------------------------------------------------------------- variance-reduced estimators

REDUCED = [e for e in estimators.ESTIMATORS if e.fast != e.plain]
EQUAL_MEAN_TRIALS = 400


def _plain_at_example(case, e, found):
    """The fast kernel's example point, and the plain kernel's parameters there as ``case`` maps
    them (``Case.params_of``): a key the case's plain parameters share with its fast ones, at the
    same value, follows the example; a key the case adds or sets otherwise (the value dimension
    of a plain kernel that draws the values, item_noise's key law) keeps the case's value; a key
    it drops is dropped."""
    fast, own = dict(found[e.fast].example), case.params_of(e.fast)
    plain = {k: fast[k] if k in fast and own.get(k) == v else v for k, v in case.params_of(e.plain).items()}
    return fast, plain


def _pair_outputs(e, found, every):
    """Fast and plain outputs at the fast kernel's example point, the plain kernel's parameters
    mapped as each small and book case of the fast kernel maps them (one pair per distinct mapping),
    so that the mapping tested is the one the bench runs."""
    import torch

    from pavlov_theory.sampling import generator

    at = [c for c in every if c.kernel == e.fast]
    assert at, f"{e.fast}: no small or book case"
    mapped = {}
    for case in at:
        fast_params, plain_params = _plain_at_example(case, e, found)
        key = json.dumps([fast_params, plain_params], sort_keys=True)
        mapped.setdefault(key, (case, fast_params, plain_params))
    call = lambda name, p, seed: found[name].fn(p, EQUAL_MEAN_TRIALS, generator(seed, "cpu"), torch.float64)
    return [(f"{case.label}: ", (call(e.fast, fp, 1), fp), (call(e.plain, pp, 2), pp))
            for case, fp, pp in mapped.values()]


@pytest.fixture(scope="module")
def pairs(found):
    every, _ = cases.collect(["small", "book"], found)
    return {e.name: _pair_outputs(e, found, every) for e in REDUCED}


def test_every_variance_reduced_kernel_is_registered_with_a_flop_count(found):
    assert REDUCED and all(k in found and k in FLOPS for e in REDUCED for k in (e.fast, e.plain))


@pytest.mark.parametrize("e", REDUCED, ids=lambda e: e.fast)
def test_a_reduced_estimators_statistics_have_one_row_per_trial(e, pairs):
    for _, (fast, fp), (plain, pp) in pairs[e.name]:
        assert e.statistic_of(e.fast)(fast, fp).shape == (EQUAL_MEAN_TRIALS,)
        assert e.statistic_of(e.plain)(plain, pp).shape == (EQUAL_MEAN_TRIALS,)


@pytest.mark.parametrize("e", REDUCED, ids=lambda e: e.fast)
def test_fast_and_plain_estimate_the_same_mean_at_the_example(e, pairs):
    """The premise of the equal-width comparison. A ratio of means is compared through its two
    means (its linearised terms have mean 0 by construction); the others through their statistic."""
    from pavlov_theory.testing import assert_same_mean

    for label, (fast, fp), (plain, pp) in pairs[e.name]:
        if e.statistic is estimators.ratio_terms:
            for i, part in enumerate(("numerator", "denominator")):
                assert_same_mean(f"{label}{e.name} {part}", fast[i], plain[i])
        else:
            fast_values, plain_values = e.statistic_of(e.fast)(fast, fp), e.statistic_of(e.plain)(plain, pp)
            assert_same_mean(label + e.name, fast_values, plain_values)


def test_book_cases_cover_the_variance_reduced_kernels(found):
    every, _ = cases.collect(["book"], found)
    assert {e.fast for e in REDUCED} <= {c.kernel for c in every}


def test_a_plain_kernel_with_other_parameters_runs_at_them(found):
    case = next(c for c in cases.SMALL if c.kernel == "softmax.powers_averaged")
    runs = run.runs_needed([case], found)
    assert {(r.kernel, r.params.get("d_v")) for r in runs} == {("softmax.powers_averaged", None),
                                                               ("softmax.powers", 16)}


def test_an_estimator_paired_from_its_fast_kernel_is_not_run_at_the_plain_kernels_cases(found):
    case = cases.Case("capacity.worst_case book", "capacity.noise_curves",
                      {"n": 8, "d_k": 16, "d_v": 4, "key_dist": "gaussian", "delta": 0.5})
    assert {r.kernel for r in run.runs_needed([case], found)} == {"capacity.noise_curves"}


def test_a_run_cut_short_after_the_kernels_keeps_them(tmp_path, monkeypatch):
    def cut(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "bench_verify", cut)
    with pytest.raises(KeyboardInterrupt):
        run.main(["--device", "cpu", "--shapes", "example", "--kernels", "conditioning.chain",
                  "--trials", "8", "--naive-budget", "0", "--skip-dask", "--out", str(tmp_path)])
    kept = json.loads(run.partial_path(tmp_path, "cpu").read_text())
    assert kept["done"] == kept["of"] and kept["kernels"] and kept["estimators"]


def test_a_finished_run_leaves_no_partial_file(tmp_path):
    assert run.main(["--device", "cpu", "--shapes", "example", "--kernels", "conditioning.chain",
                     "--trials", "8", "--naive-budget", "0", "--skip-dask", "--out", str(tmp_path)]) == 0
    tag = run.device_tag("cpu")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"bench-{tag}.json", f"bench-{tag}.md"]


# ----------------------------------------------------------------------------- per claim

PER_CLAIM_LEDGER = {"scale": "book", "claims": [{"claim": "a.one"}, {"claim": "b.two"}, {"claim": "c.three"}],
                    "results": [{"claim": "a.one", "trials": 100}, {"claim": "a.one", "trials": 300},
                                {"claim": "b.two", "trials": 50}, {"claim": "c.three", "trials": 7}]}
PER_CLAIM_BENCH = {"estimators": [
    {"estimator": "fast a", "label": "a.one book", "variance_ratio": 0.25, "speedup_vs_batched_plain": 3.0},
    {"estimator": "fast b", "label": "b.two book", "variance_ratio": 2.0, "speedup_vs_batched_plain": 1.5},
    {"estimator": "fast b2", "label": "b.two book", "variance_ratio": 5.0, "speedup_vs_batched_plain": 4.0},
    {"estimator": "gone", "label": "c.three book", "skipped": "kernel not registered"}]}


def test_per_claim_plain_trials_are_the_claims_trials_times_its_variance_ratio():
    rows = {r["claim"]: r for r in per_claim.per_claim(PER_CLAIM_LEDGER, [PER_CLAIM_BENCH])}
    assert rows["a.one"]["trials"] == 400 and rows["a.one"]["plain_trials"] == 100


def test_per_claim_gives_no_plain_total_for_a_claim_with_two_estimators():
    rows = {r["claim"]: r for r in per_claim.per_claim(PER_CLAIM_LEDGER, [PER_CLAIM_BENCH])}
    assert "plain_trials" not in rows["b.two"] and len(rows["b.two"]["estimators"]) == 2


def test_per_claim_reads_a_skipped_estimator_as_not_benchmarked():
    rows = {r["claim"]: r for r in per_claim.per_claim(PER_CLAIM_LEDGER, [PER_CLAIM_BENCH])}
    assert rows["c.three"]["estimators"] == []
    assert "not benchmarked" in per_claim.markdown([rows["c.three"]], "book")


def test_per_claim_takes_an_estimator_from_the_first_bench_that_measured_it():
    later = {"estimators": [{**PER_CLAIM_BENCH["estimators"][0], "variance_ratio": 9.0}]}
    rows = {r["claim"]: r for r in per_claim.per_claim(PER_CLAIM_LEDGER, [PER_CLAIM_BENCH, later])}
    assert rows["a.one"]["plain_trials"] == 100


@pytest.mark.parametrize("content, name", [(None, "ledger"), ("{not json", "ledger"), ('{"x": 1}', "ledger")])
def test_per_claim_a_bad_ledger_exits_2_naming_it(content, name, tmp_path, capsys):
    path = tmp_path / "ledger.json"
    if content is not None:
        path.write_text(content)
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps(PER_CLAIM_BENCH))
    assert per_claim.main([str(path), str(bench)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{name}:" in err
