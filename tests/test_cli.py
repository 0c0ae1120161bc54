"""The command line: list, check with its JSON contract, verify, and one-line errors (exit 2)."""
import json
import subprocess
import sys

import pytest

from pavlov_theory.claims import registry
from pavlov_theory.cli import main

JSON_KEYS = {"claim", "quantity", "params", "theory", "estimate", "ci", "verdict", "trials", "seed", "device"}


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "pavlov_theory.cli", *args], capture_output=True, text=True)


def test_list_names_every_claim(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(claim_id in out for claim_id in registry())


def test_check_json_has_the_contract_keys(capsys):
    code = main(["check", "capacity.noise_power", "--set", "d_k=64", "--set", "n=65", "--json",
                 "--device", "cpu"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and JSON_KEYS <= set(result) and len(result["ci"]) == 2
    assert result["params"]["d_k"] == 64 and result["device"] == "cpu"


def test_check_is_reproducible_with_a_seed(capsys):
    args = ["check", "framework.generalization", "--set", "s=0.9", "--json", "--seed", "5"]
    main(args)
    first = json.loads(capsys.readouterr().out)
    main(args)
    assert json.loads(capsys.readouterr().out)["estimate"] == first["estimate"]


@pytest.mark.parametrize("args,fragment", [
    (["check", "nope.claim"], "claim: unknown id"),
    (["check", "capacity.noise_power", "--set", "d_k=1"], "d_k: expected an integer in [2, 65536]"),
    (["check", "capacity.noise_power", "--set", "d_k=x"], "d_k: expected an integer"),
    (["check", "capacity.noise_power", "--set", "gamma=0.5"], "gamma: not a parameter"),
    (["check", "capacity.noise_power", "--set", "key_dist=cube"], "key_dist: expected one of"),
    (["check", "capacity.noise_power", "--set", "n"], "set: expected NAME=VALUE"),
    (["check", "capacity.noise_power", "--trials", "0"], "argument --trials: expected an integer >= 2"),
    (["check", "capacity.noise_power", "--dtype", "float16"], "dtype: expected one of"),
    (["verify", "--scale", "huge"], "scale: expected one of ci, book, paper"),
    (["verify", "--only", "zzz*"], "only: no claim matches"),
    (["verify", "--fwer", "2"], "argument --fwer: expected a number in (0, 0.5]"),
    (["bogus"], "invalid choice"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, fragment):
    result = run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in result.stderr


def test_verify_writes_a_ledger(tmp_path, capsys):
    out = tmp_path / "ledger.json"
    assert main(["verify", "--scale", "ci", "--only", "framework.equivalence", "--out", str(out),
                 "--quiet"]) == 0
    ledger = json.loads(out.read_text())
    assert ledger["claims"][0]["verdict"] == "exact" and ledger["scale"] == "ci"
    assert "framework.equivalence" in capsys.readouterr().out
