"""Bad input everywhere a user can type: one line naming the thing and what is allowed, exit code 2
from the command line, a ParamError from the API, and nothing half-written on disk.

The command line is fuzzed in-process with hypothesis over values that must be refused before any
simulation runs, so the tests stay fast.
"""
import json
import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pavlov_theory as pt
from pavlov_theory import api, ledger
from pavlov_theory.cli import main

FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def refused(capsys, argv) -> str:
    """Run the CLI in-process; require exit code 2 and one stderr line; return the line."""
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, (argv, code, err)
    assert "Traceback" not in err[0]
    return err[0]


@FUZZ
@given(st.integers().filter(lambda v: not 2 <= v <= 65536))
def test_out_of_range_integer_is_refused_naming_the_parameter(capsys, value):
    line = refused(capsys, ["check", "capacity.noise_power", "--set", f"d_k={value}"])
    assert "d_k: expected an integer in [2, 65536]" in line


@FUZZ
@given(st.text(min_size=1).filter(lambda t: "=" not in t and "\x00" not in t))
def test_unparseable_value_is_refused(capsys, text):
    def parses(t):
        try:
            v = float(t)
        except ValueError:
            return False
        return math.isfinite(v) and v.is_integer() and 2 <= v <= 65536
    if parses(text):
        return
    line = refused(capsys, ["check", "capacity.noise_power", "--set", f"d_k={text}"])
    assert line.startswith("pavlov-theory: error: d_k: expected an integer")


@FUZZ
@given(st.from_regex(r"[a-z_]{1,12}", fullmatch=True).filter(lambda n: n not in ("d_k", "d_v", "n",
                                                                                  "key_dist")))
def test_unknown_parameter_name_lists_the_known_ones(capsys, name):
    line = refused(capsys, ["check", "capacity.noise_power", "--set", f"{name}=1"])
    assert f"{name}: not a parameter of capacity.noise_power" in line and "d_k" in line


@FUZZ
@given(st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not 0 < v <= 0.5))
def test_fwer_out_of_range_is_refused(capsys, value):
    line = refused(capsys, ["verify", "--scale", "ci", f"--fwer={value!r}"])
    assert "--fwer: expected a number in (0, 0.5]" in line


@pytest.mark.parametrize("argv,fragment", [
    (["check", "capacity.noise_power", "--set", "d_k=16", "--set", "d_k=32"], "set: d_k given twice"),
    (["check", "capacity.noise_power", "--set", "=3"], "set: expected NAME=VALUE"),
    (["check", "capacity.noise_power", "--set"], "--set: expected one argument"),
    (["check", "capacity.noise_power", "--seed", "3", "--fresh"], "not allowed with argument"),
    (["verify", "--seed", "-1"], "--seed: expected an integer >= 0"),
    (["verify", "--stress", "0"], "--stress: expected an integer >= 1"),
    (["verify", "--stress", "two"], "--stress: expected an integer >= 1"),
    (["verify", "--stress", "2", "--power"], "power: not allowed with --stress"),
    (["verify", "--stress", "2", "--workers", "0"], "--workers: expected 'auto' or an integer >= 1"),
    (["verify", "--workers", "0"], "--workers: expected 'auto' or an integer >= 1"),
    (["verify", "--workers", "many"], "--workers: expected 'auto' or an integer >= 1"),
    (["verify", "--workers", "2", "--scheduler", "tcp://h:8786"], "not allowed with argument"),
    (["verify", "--device", "tpu"], "device: expected one of auto, cpu, cuda"),
    (["verify", "--scale"], "--scale: expected one argument"),
    (["check"], "the following arguments are required: claim"),
])
def test_bad_flag_is_one_line_and_exit_code_2(capsys, argv, fragment):
    assert fragment in refused(capsys, argv)


def test_out_path_that_is_a_folder_is_refused_before_any_work(capsys, tmp_path):
    line = refused(capsys, ["verify", "--scale", "ci", "--only", "framework.equivalence",
                            "--out", str(tmp_path)])
    assert "out:" in line and "folder" in line


BAD_API = [
    ("check", {"claim_id": None}, "claim: expected a string"),
    ("check", {"claim_id": "capacity.noise_power", "fwer": "a"}, "fwer: expected a number in (0, 0.5]"),
    ("check", {"claim_id": "capacity.noise_power", "fwer": True}, "fwer:"),
    ("check", {"claim_id": "capacity.noise_power", "seed": -1}, "seed: expected an integer >= 0"),
    ("check", {"claim_id": "capacity.noise_power", "seed": 1.5}, "seed:"),
    ("check", {"claim_id": "capacity.noise_power", "device": 3}, "device: expected a string"),
    ("check", {"claim_id": "capacity.noise_power", "dtype": ["float32"]}, "dtype: expected a string"),
    ("check", {"claim_id": "capacity.noise_power", "trials": 1}, "trials: expected an integer >= 2"),
    ("check", {"claim_id": "capacity.noise_power", "d_k": "16"}, "d_k: expected an integer"),
    ("check", {"claim_id": "capacity.noise_power", "key_dist": ["sphere"]}, "key_dist: expected one of"),
    ("verify", {"only": 3}, "only: expected a string"),
    ("verify", {"scale": None}, "scale: expected a string"),
    ("verify", {"workers": 0}, "workers: expected 'auto' or an integer >= 1"),
    ("verify", {"workers": "all"}, "workers: expected 'auto' or an integer >= 1"),
    ("stress", {"runs": 0}, "stress: expected an integer >= 1"),
    ("stress", {"runs": True}, "stress: expected an integer >= 1"),
]


@pytest.mark.parametrize("function,kwargs,fragment", BAD_API,
                         ids=[f"{f}-{sorted(k)[-1]}" for f, k, _ in BAD_API])
def test_api_raises_param_error_naming_the_argument(function, kwargs, fragment):
    kwargs = dict(kwargs)
    args = (kwargs.pop("claim_id"),) if "claim_id" in kwargs else ()
    with pytest.raises(pt.ParamError, match=None) as caught:
        getattr(api, function)(*args, **kwargs)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


@FUZZ
@given(st.one_of(st.none(), st.text(max_size=5), st.lists(st.integers(), max_size=2), st.booleans(),
                 st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not 0 < v <= 0.5)))
def test_api_fuzzed_fwer_is_a_param_error(value):
    with pytest.raises(pt.ParamError, match="fwer"):
        api.verify("ci", "framework.equivalence", fwer=value)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_api_non_finite_integer_parameter_is_a_param_error(value):
    with pytest.raises(pt.ParamError, match="d_k"):
        pt.check("capacity.noise_power", d_k=value)


# ----------------------------------------------------------------------------- ledger files

def small_ledger():
    claim = "framework.equivalence"
    return {"scale": "ci", "device_name": "cpu", "seed": 0, "fwer": 1e-3, "alpha_per_check": 1e-4,
            "seconds": 1.0,
            "claims": [{"claim": claim, "verdict": "exact", "judge": "identity", "points": 1, "probe": "p",
                        "probe_trivial": "", "paper_ref": "eq 8", "seconds": 1.0}],
            "results": [{"claim": claim, "params": {}, "verdict": "exact", "ci": [0, 0], "trials": 1,
                         "theory": 0.0, "estimate": 0.0}]}


@pytest.mark.parametrize("text,fragment", [
    ("{\"scale\": \"ci\", ", "not valid JSON"),
    ("", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ("{}", "missing key 'scale'"),
])
def test_corrupt_ledger_names_the_file(tmp_path, text, fragment):
    path = tmp_path / "ledger.json"
    path.write_text(text)
    with pytest.raises(ledger.LedgerError) as caught:
        ledger.load(path)
    assert str(path) in str(caught.value) and fragment in str(caught.value)


@pytest.mark.parametrize("edit,fragment", [
    (lambda d: d["claims"][0].update(claim="capacity.retired"), "is not registered"),
    (lambda d: d["results"][0].update(verdict="maybe"), "verdict 'maybe'"),
    (lambda d: d["results"][0].pop("ci"), "lacks 'ci'"),
    (lambda d: d.update(seed="zero"), "'seed' has the wrong type"),
])
def test_stale_ledger_is_refused(tmp_path, edit, fragment):
    data = small_ledger()
    edit(data)
    path = tmp_path / "ledger.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ledger.LedgerError, match=fragment):
        ledger.load(path)


def test_missing_ledger_says_how_to_make_one(tmp_path):
    with pytest.raises(ledger.LedgerError, match="pavlov-theory verify --out"):
        ledger.load(tmp_path / "absent.json")


def test_a_valid_ledger_round_trips(tmp_path):
    path = ledger.write(small_ledger(), tmp_path / "sub" / "ledger.json")
    assert ledger.load(path) == json.loads(json.dumps(small_ledger()))


def test_failed_write_leaves_the_old_ledger_whole_and_no_temporary_file(tmp_path, monkeypatch):
    path = ledger.write(small_ledger(), tmp_path / "ledger.json")
    before = path.read_text()

    def broken(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", broken)
    changed = {**small_ledger(), "seed": 7}
    with pytest.raises(ledger.LedgerError, match="cannot write"):
        ledger.write(changed, path)
    assert path.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == ["ledger.json"]


def test_unserialisable_ledger_does_not_touch_the_file(tmp_path):
    path = ledger.write(small_ledger(), tmp_path / "ledger.json")
    before = path.read_text()
    with pytest.raises(TypeError):
        ledger.write({**small_ledger(), "seed": object()}, path)
    assert path.read_text() == before


def test_book_loader_refuses_a_corrupt_ledger_named_by_the_environment(tmp_path, monkeypatch):
    from pavlov_theory import book

    path = tmp_path / "ledger.json"
    path.write_text("{ truncated")
    monkeypatch.setenv("PAVLOV_LEDGER", str(path))
    with pytest.raises(pt.ParamError, match="not valid JSON"):
        book.load_ledger()


@pytest.mark.parametrize("text", ["0", "-2", "two", "1.5"])
def test_bad_workers_in_the_environment_is_refused_before_any_work(capsys, monkeypatch, tmp_path, text):
    monkeypatch.setenv("PAVLOV_WORKERS", text)
    out = tmp_path / "ledger.json"
    line = refused(capsys, ["verify", "--scale", "ci", "--only", "framework.selectivity", "--out", str(out)])
    assert line.startswith("pavlov-theory: error: PAVLOV_WORKERS: expected 'auto' or an integer >= 1")
    assert not out.exists()
