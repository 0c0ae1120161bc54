"""Two ledgers from independent draws agree: the same verdicts, and intervals that meet
(:func:`pavlov_theory.ledger.disagreements`, which the cuda tests use against the cpu)."""
import copy

import pytest

from pavlov_theory import ledger
from pavlov_theory.claims import get_claim

CHEAP = ("framework.selectivity", "capacity.decoding", "rules.delta")


@pytest.fixture(scope="module")
def two_seeds():
    runs = []
    for seed in (0, 1):
        ctx = ledger.scale_context("ci", "cpu", seed)
        runs.append(ledger.run([get_claim(c) for c in CHEAP], "ci", ctx, progress=False))
    return runs


def with_interval(run):
    return next(r for r in run["results"] if ledger._interval(r["ci"]))


def test_two_seeds_at_ci_agree(two_seeds):
    assert ledger.disagreements(*two_seeds) == []


def test_a_ledger_agrees_with_itself(two_seeds):
    assert ledger.disagreements(two_seeds[0], copy.deepcopy(two_seeds[0])) == []


def test_another_claim_verdict_is_a_disagreement(two_seeds):
    other = copy.deepcopy(two_seeds[1])
    record = other["claims"][0]
    record["verdict"] = "undecided" if record["verdict"] != "undecided" else "holds"
    assert any("verdict" in line for line in ledger.disagreements(two_seeds[0], other))


def test_intervals_that_do_not_meet_are_a_disagreement(two_seeds):
    other = copy.deepcopy(two_seeds[1])
    record = with_interval(other)
    low, high = record["ci"]
    record["ci"] = [high + 1, high + 2 + high - low]
    assert any("do not meet" in line for line in ledger.disagreements(two_seeds[0], other))


def test_a_missing_result_is_a_disagreement(two_seeds):
    other = copy.deepcopy(two_seeds[1])
    other["results"].pop()
    assert any("one ledger only" in line for line in ledger.disagreements(two_seeds[0], other))


@pytest.mark.parametrize("ci", [None, [1.0], [float("nan"), 1.0], [2.0, 2.0], [0.0, float("inf")]])
def test_a_degenerate_interval_is_not_compared(ci):
    assert ledger._interval(ci) is None


def test_a_result_in_the_second_ledger_only_is_a_disagreement(two_seeds):
    other = copy.deepcopy(two_seeds[0])
    other["results"].pop()
    assert any("one ledger only" in line for line in ledger.disagreements(other, two_seeds[1]))


def with_evidence_interval(run):
    return next(r for r in run["results"] if any(ledger._interval(e.get("ci")) for e in r["evidence"]))


def test_a_missing_evidence_row_is_a_disagreement(two_seeds):
    other = copy.deepcopy(two_seeds[1])
    record = with_evidence_interval(other)
    record["evidence"] = [e for e in record["evidence"] if not ledger._interval(e.get("ci"))]
    assert any("evidence" in line and "one ledger only" in line
               for line in ledger.disagreements(two_seeds[0], other))


def test_an_interval_on_one_side_only_is_a_disagreement(two_seeds):
    other = copy.deepcopy(two_seeds[1])
    with_interval(other)["ci"] = [float("nan"), float("nan")]
    assert any("one side only" in line for line in ledger.disagreements(two_seeds[0], other))


def test_a_verdict_inside_an_evidence_table_is_compared():
    row = lambda verdict: {"bound": 0.5, "ci": [0.1, 0.2], "verdict": verdict}
    result = lambda verdict: {"claim": "c", "quantity": "p", "params": {}, "verdict": "holds",
                              "ci": [0.1, 0.2], "evidence": [{"name": "points", "value": [row(verdict)]}]}
    ledgers = [{"claims": [{"claim": "c", "verdict": "holds"}], "results": [result(v)]}
               for v in ("holds", "fails")]
    assert any("points" in line and "value[0]" in line for line in ledger.disagreements(*ledgers))
