"""The batched simulations against the plain reference, on the same samples."""
import numpy as np
import torch

from bench import reference
from pavlov_theory.sampling import generator, sample
from pavlov_theory.simulations import capacity, conditioning


def test_noise_curves_match_the_plain_reference():
    largest, first = capacity.noise_curves(3, 6, 5, 4, "gaussian", generator(11, "cpu"), torch.float64)
    g = generator(11, "cpu")
    keys = sample("gaussian", (3, 6), 5, g, torch.float64).numpy()
    values = sample("sphere", (3, 6), 4, g, torch.float64).numpy()
    ref_largest, ref_first = reference.noise_curves(keys, values)
    assert np.allclose(largest, ref_largest) and np.allclose(first, ref_first)


def test_residual_chain_matches_the_plain_reference():
    r, _, _ = conditioning.chain_retrievals(1, 3, 4, 6, "sphere", generator(2, "cpu"), torch.float64, residual=True)
    g = generator(2, "cpu")
    layers = [sample("sphere", (1, 4), 6, g, torch.float64)[0].numpy() for _ in range(4)]
    assert np.allclose(r[0, 0].numpy(), reference.chain(layers, residual=True))


def test_bench_runs_and_reports_every_kernel(tmp_path):
    from bench import run

    out = tmp_path / "bench.json"
    assert run.main(["--device", "cpu", "--trials", "4", "--out", str(out)]) == 0
    result = __import__("json").loads(out.read_text())
    assert {k["kernel"] for k in result["kernels"]} == {"capacity.noise_curves", "conditioning.chain_retrievals"}
    assert all(k["gflops"] > 0 and k["speedup_vs_reference"] > 0 for k in result["kernels"])


def test_bench_rejects_a_bad_trial_count(capsys):
    from bench import run

    assert run.main(["--trials", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
