"""Stress mode: seeds derived reproducibly, verdict changes and false failures counted right, and a
small real stress run of a sampled claim whose data change with the seed and whose verdict does not."""
import json
from importlib import import_module

import pytest

from pavlov_theory import api

# the package exports the function api.stress under the same name as this module
stress = import_module("pavlov_theory.stress")


def fake_ledger(seed, verdicts, point_verdicts=None):
    claims = [{"claim": c, "judge": "exact", "verdict": v} for c, v in verdicts.items()]
    results = [{"claim": c, "params": {"x": 1}, "verdict": (point_verdicts or verdicts)[c]} for c in verdicts]
    return {"scale": "ci", "device": "cpu", "device_name": "cpu", "dtype": "float32", "fwer": 1e-3,
            "alpha_per_check": 5e-4, "seed": seed, "seconds": 1.0, "claims": claims, "results": results}


def test_stress_seeds_are_reproducible_distinct_and_32_bit():
    seeds = stress.stress_seeds(7, 20)
    assert seeds == stress.stress_seeds(7, 20) and len(set(seeds)) == 20
    assert all(0 <= s < 2**32 for s in seeds) and seeds != stress.stress_seeds(8, 20)


def test_reference_verdict_is_the_most_frequent_and_a_tie_is_unstable():
    assert stress.reference_verdict(["exact", "exact", "fails"]) == "exact"
    assert stress.reference_verdict(["exact", "undecided"]) == stress.UNSTABLE
    assert stress.reference_verdict(["fails", "fails", "exact", "exact", "loose"]) == stress.UNSTABLE


def test_a_failure_of_a_claim_that_passes_in_other_runs_is_a_false_failure():
    ledgers = [fake_ledger(s, {"a.x": "exact", "a.y": "holds"}) for s in range(4)]
    ledgers.append(fake_ledger(9, {"a.x": "fails", "a.y": "holds"}))
    report = stress.summarize(ledgers)
    by_claim = {c["claim"]: c for c in report["claims"]}
    assert by_claim["a.x"]["changes"] == 1 and by_claim["a.x"]["false_failures"] == 1
    assert by_claim["a.y"]["changes"] == 0 and not report["seed_independent"]
    run = report["false_failure_run"]
    assert run["hits"] == 1 and run["of"] == 5 and run["ci"][0] < 0.2 < run["ci"][1]
    assert report["false_failure_check"]["hits"] == 1 and report["false_failure_check"]["of"] == 10
    assert by_claim["a.x"]["changed_points"][0]["counts"] == {"exact": 4, "fails": 1}


def test_frequent_failures_are_all_counted_even_when_they_are_the_majority():
    """One failure in two runs, or failures in most runs, are all false failures: the count is
    against the judge's passing verdict, not against the most frequent verdict."""
    two = stress.summarize([fake_ledger(1, {"a.x": "exact"}), fake_ledger(2, {"a.x": "fails"})])
    assert two["claims"][0]["reference"] == stress.UNSTABLE and two["claims"][0]["false_failures"] == 1
    runs = [fake_ledger(s, {"a.x": "fails"}) for s in range(3)] + [fake_ledger(4, {"a.x": "exact"})]
    many = stress.summarize(runs)
    assert many["claims"][0]["reference"] == "fails" and many["claims"][0]["false_failures"] == 3
    assert many["false_failure_run"]["hits"] == 3


def test_loose_is_a_rejection_and_counts_as_a_false_failure():
    verdicts = ["holds", "loose", "holds"]
    assert stress.false_failures(verdicts, "scaling") == [False, True, False]


def test_a_rejection_in_every_run_is_a_finding_not_a_false_failure():
    report = stress.summarize([fake_ledger(s, {"a.x": v}) for s, v in enumerate(["fails", "loose", "fails"])])
    claim = report["claims"][0]
    assert claim["rejected_in_every_run"] and claim["false_failures"] == 0
    assert report["false_failure_run"]["hits"] == 0 and "rejected in every run" in stress.table(
        {**report, "base_seed": 0})


def test_undecided_runs_are_changes_not_failures():
    ledgers = [fake_ledger(s, {"a.x": "refined"}) for s in range(3)] + [fake_ledger(5, {"a.x": "undecided"})]
    claim = stress.summarize(ledgers)["claims"][0]
    assert claim["changes"] == 1 and claim["false_failures"] == 0


def test_clean_runs_bound_a_rate_only_near_one_over_k():
    # Clopper-Pearson with no event: the upper limit solves (1 - p)^K = (1 - confidence) / 2
    assert stress.clean_bound(20) == pytest.approx(1 - ((1 - stress.CONFIDENCE) / 2) ** (1 / 20))
    assert 1 / 20 < stress.clean_bound(20) < 4 / 20


def test_a_small_stress_run_of_a_sampled_claim_draws_new_data_and_writes_its_report(tmp_path):
    """A Monte Carlo claim (a ratio estimated from fresh draws): each seed draws other data, and
    the verdict stays the same."""
    out = tmp_path / "stress.json"
    report = api.stress("ci", "rules.bcm_activity", 2, seed=3, device="cpu", out=out)
    claim = report["claims"][0]
    assert report["runs"] == 2 and report["seeds"] == stress.stress_seeds(3, 2)
    assert claim["distinct_data"] == 2
    assert report["seed_independent"] and claim["counts"] == {"exact": 2}
    assert json.loads(out.read_text())["claims"][0]["counts"] == {"exact": 2}
    assert "identical in every run" in stress.table(report)


def test_the_command_line_prints_the_stress_table(tmp_path, capsys):
    from pavlov_theory.cli import main

    out = tmp_path / "stress.json"
    args = ["verify", "--scale", "ci", "--only", "rules.bcm_activity", "--stress", "2", "--quiet",
            "--out", str(out)]
    assert main(args) == 0
    assert "rules.bcm_activity" in capsys.readouterr().out and out.is_file()
