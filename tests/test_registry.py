"""Registry-wide properties: every claim is a complete declaration, and every check has power.

The power test runs each claim's declared probe (a deliberately wrong formula, a bound too
tight, a shifted exponent) at ci scale and requires the check to reject it.
"""
from dataclasses import replace

import pytest

from pavlov_theory.claims import BEYOND, SCALES, registry
from pavlov_theory.judges import REJECTS

CLAIMS = registry()


@pytest.mark.parametrize("claim_id", CLAIMS)
def test_claim_declares_a_probe_a_judge_and_a_grid_per_scale(claim_id):
    claim = CLAIMS[claim_id]
    assert claim.probe.values and claim.judge and all(claim.points(s) for s in SCALES)


@pytest.mark.parametrize("claim_id", CLAIMS)
def test_claim_default_and_probe_point_validate(claim_id):
    claim = CLAIMS[claim_id]
    claim.resolve({})
    claim.probe_point()


@pytest.mark.parametrize("claim_id", CLAIMS)
def test_paper_reference_is_a_location_or_labelled_beyond(claim_id):
    ref = CLAIMS[claim_id].paper_ref
    assert ref.startswith(BEYOND) or any(w in ref for w in ("eq", "Theorem", "Definition", "section"))


PROBES = [(cid, value) for cid, claim in CLAIMS.items() for value in claim.probe.values]


@pytest.mark.mc
@pytest.mark.parametrize("claim_id,value", PROBES, ids=[f"{c}-{v:g}" for c, v in PROBES])
def test_check_rejects_its_power_probe(claim_id, value, ctx):
    claim = CLAIMS[claim_id]
    outcome = claim.check(claim.probe_point(), replace(ctx, probe=(claim.probe.kind, value)))
    assert outcome.verdict in REJECTS, (
        f"{claim_id}: probe {claim.probe.kind} {value:g} gave {outcome.verdict}")


@pytest.mark.mc
@pytest.mark.parametrize("claim_id", CLAIMS)
def test_probe_point_passes_unless_the_probe_is_declared_trivial(claim_id, ctx):
    """A probe shows power only where the claim passes; a claim rejected at its probe point must
    say so (``Probe.trivial``), and one that passes there must not claim triviality."""
    claim = CLAIMS[claim_id]
    verdict = claim.check(claim.probe_point(), ctx).verdict
    if claim.probe.trivial:
        assert verdict in REJECTS, f"{claim_id}: declared trivial but the probe point gives {verdict}"
    else:
        assert verdict not in REJECTS + ("undecided",), f"{claim_id}: the probe point gives {verdict}"


def test_a_comma_list_selects_the_claims_of_any_of_its_patterns():
    from pavlov_theory.claims import select

    ids = lambda pattern: [c.id for c in select(pattern)]
    assert ids("rules.oja, softmax.*") == [c for c in ids("*") if c in ids("rules.oja") + ids("softmax.*")]
