"""The public API: the same claims, outcomes and one-line errors as the command line."""
import json

import pytest

import pavlov_theory as pt
from pavlov_theory.claims import registry
from pavlov_theory.cli import main


def test_claims_are_the_registry_in_order():
    assert [c.id for c in pt.claims()] == list(registry())


def test_check_returns_the_clis_json(capsys):
    outcome = pt.check("framework.generalization", seed=5, device="cpu", s=0.9)
    main(["check", "framework.generalization", "--set", "s=0.9", "--seed", "5", "--device", "cpu", "--json"])
    assert outcome.to_json() == json.loads(capsys.readouterr().out)


def test_bad_parameter_raises_a_value_error_with_the_clis_message():
    with pytest.raises(ValueError, match=r"^d_k: expected an integer in \[2, 65536\], got 1$"):
        pt.check("capacity.noise_power", d_k=1)


@pytest.mark.parametrize("kwargs,fragment", [
    ({"seed": -1}, "seed: expected an integer >= 0"),
    ({"device": "tpu"}, "device: expected one of"),
    ({"trials": 1}, "trials: expected an integer >= 2"),
    ({"fwer": 2.0}, "fwer: expected a number in (0, 0.5]"),
])
def test_bad_options_raise_param_errors(kwargs, fragment):
    with pytest.raises(pt.ParamError) as error:
        pt.check("capacity.noise_power", **kwargs)
    assert fragment in str(error.value) and "\n" not in str(error.value)


def test_unknown_claim_and_scale_raise_param_errors():
    with pytest.raises(pt.ParamError, match="claim: unknown id"):
        pt.check("nope.claim")
    with pytest.raises(pt.ParamError, match="scale: expected one of ci, book, paper"):
        pt.verify("huge")


def test_verify_records_are_flat_rows_one_per_point():
    ledger = pt.verify("ci", only="capacity.designed_keys", device="cpu")
    records = ledger.records
    assert len(records) == ledger.claims[0]["points"]
    assert all(isinstance(v, (int, float, str, type(None))) for row in records for v in row.values())
    assert {"claim", "verdict", "theory", "estimate", "ci_low", "ci_high", "d_k", "n"} <= set(records[0])


def test_a_ledger_with_the_same_findings_is_left_untouched(tmp_path):
    from pavlov_theory import ledger as ledger_mod

    first = pt.verify("ci", "framework.equivalence", progress=False)
    path = first.write(tmp_path / "ledger.json")
    before = path.stat().st_mtime_ns
    again = pt.verify("ci", "framework.equivalence", progress=False)
    again.write(path, keep_same=True)
    assert path.stat().st_mtime_ns == before
    changed = dict(again.data, seed=again.data["seed"] + 1)
    ledger_mod.write(changed, path, keep_same=True)
    assert ledger_mod.load(path)["seed"] == changed["seed"]
