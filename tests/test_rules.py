"""Section 5.3: the delta, Oja and BCM rules (identities, convergence, bad input)."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from pavlov_theory import memory
from pavlov_theory.claims import get_claim
from pavlov_theory.proofs import rules as proof
from pavlov_theory.sampling import generator
from pavlov_theory.simulations import rules
from pavlov_theory.testing import assert_close, assert_same_mean


def _unit(*shape, seed=0):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return x / x.norm(dim=-1, keepdim=True)


def test_derivations_build():
    assert all(d().steps for d in (proof.delta, proof.oja, proof.bcm, proof.bcm_classical))


def test_delta_recalls_up_to_d_k_orthonormal_pairs():
    keys = torch.linalg.qr(torch.randn(6, 6, dtype=torch.float64))[0].T[None]  # 6 orthonormal rows
    values = _unit(1, 6, 3)
    state = rules.pass_map(keys, values, 1.0)[1]  # one pass from S = 0
    assert_close("orthonormal recall", values, keys @ state, 1e-12)


def test_least_squares_residual_is_zero_at_or_below_d_k():
    for n in (4, 8):
        keys, values = _unit(50, n, 8, seed=1), _unit(50, n, 5, seed=2)
        S = torch.linalg.lstsq(keys, values).solution
        assert_close(f"residual n={n}", torch.zeros(50, n, 5), values - keys @ S, 1e-9)
    assert proof.delta().evaluate("residual_fraction_any", n=8, d_k=8) == 0


def test_pass_map_fixed_point_is_what_repeated_passes_reach():
    keys, values = _unit(2, 12, 4, seed=3), _unit(2, 12, 3, seed=4)
    A, B = rules.pass_map(keys, values, 0.7)
    fixed = torch.linalg.solve(torch.eye(4, dtype=torch.float64) - A, B)
    S = torch.zeros(2, 4, 3, dtype=torch.float64)
    for _ in range(2000):
        S = A @ S + B
    assert_close("fixed point", fixed, S, 1e-10)
    assert float(torch.linalg.eigvals(A).abs().max()) < 1


def test_delta_fixed_point_tends_to_least_squares_as_alpha_shrinks():
    keys, values = _unit(1, 20, 5, seed=5), _unit(1, 20, 3, seed=6)
    ls = torch.linalg.lstsq(keys, values).solution
    gaps = []
    for alpha in (0.1, 0.01, 0.001):
        A, B = rules.pass_map(keys, values, alpha)
        gaps.append(float((torch.linalg.solve(torch.eye(5, dtype=torch.float64) - A, B) - ls).abs().max()))
    assert gaps[0] > 5 * gaps[1] > 25 * gaps[2]


def test_alpha_outside_the_small_alpha_range_is_one_line_and_exit_code_2():
    command = [sys.executable, "-m", "pavlov_theory.cli", "check", "rules.delta_limit", "--set", "alpha=0.2"]
    out = subprocess.run(command, capture_output=True, text=True)
    assert out.returncode == 2
    message = (out.stderr + out.stdout).strip()
    assert len(message.splitlines()) == 1 and "alpha" in message and "(0, 0.01]" in message


def test_least_squares_claim_has_no_alpha():
    assert "alpha" not in {p.name for p in get_claim("rules.delta").params}


def test_end_of_pass_residual_at_alpha_0_2_exceeds_least_squares():
    # the fixed point is least squares only as alpha -> 0: at alpha = 0.2 the excess is far from 0
    keys, values = _unit(200, 16, 8, seed=10), _unit(200, 16, 8, seed=11)
    A, B = rules.pass_map(keys, values, 0.2)
    S = torch.linalg.solve(torch.eye(8, dtype=torch.float64) - A, B)
    excess = ((keys @ (S - torch.linalg.lstsq(keys, values).solution)) ** 2).sum() / (values**2).sum()
    assert float(excess) > 0.005


def test_excess_exponent_is_derived_as_two():
    assert proof.delta().evaluate("excess_exponent") == 2


@pytest.mark.mc
def test_delta_limit_holds_at_ci(ctx):
    claim = get_claim("rules.delta_limit")
    assert all(claim.check(point, ctx).verdict == "holds" for point in claim.points("ci"))


def test_projection_trace_is_derived_not_typed():
    labels = [s.label for s in proof.delta().steps]
    assert any("P^2 = P" in label for label in labels) and any("eigenvalues" in label for label in labels)


def test_oja_rho_below_one_is_an_inequality_over_alpha():
    steps = [s for s in proof.oja().steps if s.relation == "<=" and "rho < 1" in s.label]
    assert steps
    assert_close("alpha high", 20 / 3, proof.oja().evaluate("alpha_oja_high", d_v=8), 1e-12)


def test_oja_claim_judges_the_squared_norm():
    claim = get_claim("rules.oja")
    outcome = claim.check(claim.resolve({"T": 64, "tau": 0}), _fast_ctx())
    row = next(r for r in outcome.evidence if r["name"] == "norm2")
    assert row["verdict"] == "exact" and row["ci"][0] <= row["theory"] <= row["ci"][1]


def _fast_ctx():
    from pavlov_theory.claims import Context
    return Context(seed=0, max_trials=20_000, alpha=1e-3)


def test_classical_oja_converges_to_the_unit_top_eigenvector():
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(20000, 2, generator=gen, dtype=torch.float64) * torch.tensor([2.0, 1.0])
    w = torch.tensor([0.3, 0.9], dtype=torch.float64)
    for xi in x:
        y = xi @ w
        w = w + 0.002 * y * (xi - y * w)
    assert abs(float(w.norm()) - 1) < 0.05 and abs(float(w[0].abs())) > 0.99


def test_paper_oja_has_zero_mean_fixed_point_for_independent_pairs():
    # E[k^T v_c] = 0 for independent zero-mean keys and values: eq 24 forgets on average
    k, v = _unit(4000, 40, 4, seed=8), _unit(4000, 40, 3, seed=9)
    final = memory.oja_recurrent(k[:, -1:].expand(-1, 40, -1), k, v, 0.5)[:, -1]
    assert float(final.mean(0).abs().max()) < 0.05


@pytest.mark.parametrize("T", [1, 2, 5, 16, 17, 200])
@pytest.mark.parametrize("theta_decay", [0.0, 0.5, 0.99])
def test_bcm_threshold_scan_matches_the_step_by_step_loop(T, theta_decay):
    v = torch.rand(3, 2, T, 4, generator=torch.Generator().manual_seed(T), dtype=torch.float64)
    assert_close("threshold", memory.bcm_threshold_naive(v, theta_decay),
                 memory.bcm_threshold(v, theta_decay), 1e-12)


def test_bcm_drift_given_v_is_negative_below_the_mean_activity():
    der = proof.bcm()
    point = {"p": 0.5, "theta_decay": 0.9, "d_v": 1}
    assert der.evaluate("drift_given_v_stationary", v=0.2, **point) < 0 < \
        der.evaluate("drift_given_v_stationary", v=0.8, **point)


def test_bcm_drift_given_v_averages_to_the_drift():
    import numpy as np
    der, point = proof.bcm(), {"p": 0.3, "theta_decay": 0.8, "d_v": 2, "T": 50}
    vs = (np.arange(1000) + 0.5) / 1000  # midpoint rule over v ~ U(0, 1)
    mean = np.mean([der.evaluate("drift_given_v", v=v, **point) for v in vs])
    assert_close("average over v", der.evaluate("drift", **point), mean, 1e-5)


def test_bcm_statements_name_the_reading_tested():
    assert "none weakens" not in get_claim("rules.bcm").statement
    assert "frequency" in get_claim("rules.bcm_statement").statement
    assert "THEORY.md" in get_claim("rules.bcm_statement").statement


def test_bcm_statement_is_credited_to_the_paper():
    assert not get_claim("rules.bcm_statement").beyond_paper and get_claim("rules.bcm").beyond_paper


def _statement_rows(ctx):
    claim = get_claim("rules.bcm_statement")
    outcomes = [claim.check(point, ctx) for point in claim.points("ci")]
    return outcomes, [{r["name"]: r for r in o.evidence} for o in outcomes]


@pytest.mark.mc
def test_bcm_statement_fails_at_ci_because_frequent_tokens_strengthen(ctx):
    outcomes, rows = _statement_rows(ctx)
    assert all(o.verdict == "fails" for o in outcomes)
    assert all(r["frequent"]["verdict"] == "fails" and r["frequent"]["ci"][0] > 0 for r in rows)


@pytest.mark.mc
def test_bcm_statement_rare_tokens_strengthen_as_the_paper_says(ctx):
    # the sign judge accepts a real effect: the rare token's half of the statement holds
    assert all(r["rare"]["verdict"] == "holds" for r in _statement_rows(ctx)[1])


def test_oja_snr_evaluates_for_long_streams():
    from pavlov_theory.proofs import rules as proof_rules

    value = proof_rules.oja().evaluate("snr", alpha=0.5, d_k=16, d_v=8, tau=32, T=1024)
    assert 0 < value < proof_rules.oja().evaluate("snr", alpha=0.5, d_k=16, d_v=8, tau=0, T=1024)


def test_solve_matches_lapack_and_pivots_past_a_zero_leading_entry():
    rng = np.random.default_rng(12)
    M = rng.standard_normal((20, 6, 6)) + 3 * np.eye(6)
    M[:, 0, 0] = 0  # elimination without row exchanges would divide by zero
    R = rng.standard_normal((20, 6, 2))
    assert_close("solve", np.linalg.solve(M, R), rules.solve(M, R), 1e-12)


def test_least_squares_matches_lstsq():
    keys, values = _unit(30, 12, 5, seed=13), _unit(30, 12, 3, seed=14)
    reference = torch.linalg.lstsq(keys, values).solution
    assert_close("least squares", reference, rules.least_squares(keys.numpy(), values.numpy()), 1e-12)


def test_delta_kernels_give_the_same_bits_whatever_the_thread_count():
    params, threads = {"d_k": 8, "n": 16, "d_v": 8, "alpha": 0.01}, torch.get_num_threads()
    runs = []
    try:
        for count in (1, 2, 1):
            torch.set_num_threads(count)
            runs.append(rules.delta_excess(params, 512, generator(3, "cpu"), torch.float32)
                        + rules.delta_residual(params, 512, generator(3, "cpu"), torch.float32))
    finally:
        torch.set_num_threads(threads)
    assert all(np.array_equal(a, b) for run in runs[1:] for a, b in zip(runs[0], run))


def test_stable_range_is_derived_on_first_use_not_at_import():
    code = ("from pavlov_theory.proofs import rules as proof; from pavlov_theory.simulations import rules; "
            "assert proof.delta.cache_info().currsize == 0; assert rules.ALPHA_HIGH == 2")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_keys_are_sampled_at_one_point_per_scale_and_averaged_at_the_probe_point():
    claim = get_claim("rules.oja")
    for scale in ("ci", "book", "paper"):
        assert [p["keys"] for p in claim.points(scale)].count("sampled") == 1
    assert claim.probe_point()["keys"] == "averaged"


@pytest.mark.parametrize("tau", [0, 3])
def test_averaged_oja_kernels_have_the_means_of_the_sampled_ones(tau):
    params, trials = {"T": 12, "tau": tau, "d_k": 4, "d_v": 3, "alpha": 0.4}, 100_000
    sampled = (*rules.oja_powers(params, trials, generator(21, "cpu"), torch.float64),
               *rules.oja_norm(params, trials, generator(22, "cpu"), torch.float64))
    averaged = (*rules.oja_powers_averaged(params, trials, generator(23, "cpu"), torch.float64),
                *rules.oja_norm_averaged(params, trials, generator(24, "cpu"), torch.float64))
    for name, a, b in zip(("signal", "noise", "norm2"), sampled, averaged):
        assert_same_mean(name, a, b)
