"""The benchmark harness runs every benchmarked kernel and rejects bad input."""
import json

from bench import run


def test_every_benchmarked_kernel_is_registered():
    assert set(run.BENCHES) <= set(run.kernels())


def test_bench_runs_and_reports_every_kernel(tmp_path):
    out = tmp_path / "bench.json"
    assert run.main(["--device", "cpu", "--trials", "4", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {k["kernel"] for k in result["kernels"]} == set(run.BENCHES)
    assert all(k["gflops"] > 0 and k["speedup_vs_naive"] > 0 for k in result["kernels"])


def test_bench_rejects_a_bad_trial_count(capsys):
    assert run.main(["--trials", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
