"""The cache of checked points: the same ledger with and without it, keys that change with
everything an outcome depends on, one section's code per key, and damage that costs a recompute,
never a crash."""
import json
from dataclasses import replace

import pytest

from pavlov_theory import cache as cache_mod
from pavlov_theory import ledger
from pavlov_theory.claims import Context, get_claim
from pavlov_theory.cli import main

CHEAP = ("framework.selectivity", "capacity.decoding", "rules.delta")


def cheap_run(cache=None, seed=0):
    ctx = ledger.scale_context("ci", "cpu", seed)
    return ledger.run([get_claim(c) for c in CHEAP], "ci", ctx, progress=False, cache=cache)



def point_files(root):
    return sorted(p for p in root.rglob("*.json"))


def test_a_cached_ledger_equals_the_computed_one_and_is_marked(tmp_path):
    store = cache_mod.Cache(tmp_path)
    computed, cached = cheap_run(store), cheap_run(store)
    assert not any(r["cached"] for r in computed["results"])
    assert all(r["cached"] for r in cached["results"])
    assert [c["cached_points"] for c in cached["claims"]] == [c["points"] for c in cached["claims"]]
    assert ledger.findings(cached) == ledger.findings(computed)
    assert json.loads(json.dumps(cached)) == cached  # nothing but plain JSON in the ledger
    assert len(point_files(tmp_path)) == len(computed["results"])


def test_a_claim_keeps_the_seconds_its_points_took_when_computed(tmp_path):
    store = cache_mod.Cache(tmp_path)
    computed, cached = cheap_run(store), cheap_run(store)
    assert [c["seconds"] for c in cached["claims"]] == [c["seconds"] for c in computed["claims"]]


def test_the_key_changes_with_everything_an_outcome_depends_on():
    ctx = Context(device="cpu", seed=0, alpha=1e-4, max_trials=100_000, scale="ci")
    point = {"d_k": 16, "n": 4}
    key = lambda claim="capacity.noise_power", p=point, c=ctx: cache_mod.key_of(
        cache_mod.key_fields(claim, p, c))
    assert key() == key()
    assert key(p={"n": 4, "d_k": 16}) == key()  # parameter order does not matter
    changed = [key(claim="capacity.average_case"), key(p={**point, "n": 5}), key(c=replace(ctx, seed=1)),
               key(c=replace(ctx, scale="book")), key(c=replace(ctx, dtype="float64")),
               key(c=replace(ctx, alpha=1e-4 * (1 + 1e-15))), key(c=replace(ctx, max_trials=99_999)),
               key(c=replace(ctx, memory_budget=2**20)), key(c=replace(ctx, probe=("theory", 1.02)))]
    assert key() not in changed and len(set(changed)) == len(changed)


def test_a_section_key_covers_its_own_modules_and_the_engine_it_imports_and_no_other_section():
    deps = set(cache_mod.dependencies("pavlov_theory.simulations.capacity"))
    engine = {f"pavlov_theory.{m}" for m in ("claims", "engine", "judges", "stats", "derivation", "params",
                                             "sampling", "device")}
    assert {"pavlov_theory.simulations.capacity", "pavlov_theory.proofs.capacity"} | engine <= deps
    others = ("framework", "forgetting", "conditioning", "propagation", "rules")
    assert not deps & {f"pavlov_theory.{kind}.{s}" for kind in ("simulations", "proofs") for s in others}
    assert not deps & {f"pavlov_theory.{m}" for m in ("ledger", "cli", "api", "cache")}


def test_the_code_hash_differs_between_sections():
    assert cache_mod.code_hash("capacity") != cache_mod.code_hash("framework")


def test_editing_a_source_changes_the_hash_of_what_imports_it(tmp_path):
    source = tmp_path / "module.py"
    source.write_text("x = 1\n")
    before = cache_mod.source_hash({"pavlov_theory.module": source})
    source.write_text("x = 2\n")
    assert cache_mod.source_hash({"pavlov_theory.module": source}) != before


def test_a_corrupt_cache_file_is_reported_in_one_line_and_recomputed(tmp_path, capsys):
    store = cache_mod.Cache(tmp_path)
    computed = cheap_run(store)
    damaged = point_files(tmp_path)[0]
    damaged.write_text('{"key": "trunc')
    capsys.readouterr()
    again = cheap_run(store)
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and "unreadable cache file" in warning[0] and damaged.name in warning[0]
    assert sum(not r["cached"] for r in again["results"]) == 1
    assert ledger.findings(again) == ledger.findings(computed)
    assert json.loads(damaged.read_text())["key"] == damaged.stem  # rewritten whole


def test_a_file_under_another_key_name_is_not_trusted(tmp_path, capsys):
    store = cache_mod.Cache(tmp_path)
    cheap_run(store)
    first, second = point_files(tmp_path / CHEAP[0])[:2]
    second.write_text(first.read_text())
    cheap_run(store)
    assert "stored key does not match" in capsys.readouterr().err


def test_another_seed_misses_the_cache(tmp_path):
    store = cache_mod.Cache(tmp_path)
    cheap_run(store)
    assert not any(r["cached"] for r in cheap_run(store, seed=1)["results"])


def test_a_run_that_stops_keeps_the_points_it_finished(tmp_path, monkeypatch):
    store = cache_mod.Cache(tmp_path)
    real = ledger.check_point
    calls = []

    def fails_third(claim, point, ctx):
        calls.append(claim.id)
        if len(calls) == 3:
            raise ledger.CheckError(f"{claim.id} at {ledger.point_text(point)}: stopped")
        return real(claim, point, ctx)

    monkeypatch.setattr(ledger, "check_point", fails_third)
    with pytest.raises(ledger.CheckError, match="stopped"):
        cheap_run(store)
    monkeypatch.setattr(ledger, "check_point", real)
    resumed = cheap_run(store)
    assert [r["cached"] for r in resumed["results"]][:3] == [True, True, False]


def test_a_failing_check_names_the_claim_and_the_point_in_one_line():
    ctx = ledger.scale_context("ci", "cpu", 0)
    claim = get_claim("rules.delta")
    point = claim.points("ci")[0]
    with pytest.raises(ledger.CheckError) as caught:
        ledger.check_point(claim, point, replace(ctx, dtype="float16"))
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"rules.delta at {ledger.point_text(point)}: KeyError")


def test_files_are_written_whole_and_nothing_half_written_is_left(tmp_path, monkeypatch):
    target = tmp_path / "point.json"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod.os, "replace", broken_replace)
    with pytest.raises(OSError):
        cache_mod.write_atomic(target, "new")
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


def test_the_cache_directory_ignores_itself_in_git(tmp_path):
    cheap_run(cache_mod.Cache(tmp_path))
    assert (tmp_path / ".gitignore").read_text().splitlines()[-1] == "*"


def test_the_default_directory_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PAVLOV_CACHE", str(tmp_path))
    assert cache_mod.open_cache(True).root == tmp_path
    monkeypatch.delenv("PAVLOV_CACHE")
    assert cache_mod.open_cache(True).root.name == ".pavlov-cache"
    assert cache_mod.open_cache(None) is None and cache_mod.open_cache(False) is None


@pytest.mark.parametrize("flag", [["--fresh"], ["--no-cache"]])
def test_fresh_and_no_cache_bypass_the_cache(tmp_path, flag, capsys):
    args = ["verify", "--scale", "ci", "--only", "framework.selectivity", "--device", "cpu", "--quiet"]
    if flag == ["--fresh"]:
        args += ["--cache", str(tmp_path)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PAVLOV_CACHE", str(tmp_path))
        assert main(args + flag) == 0
    assert not point_files(tmp_path)


def test_the_command_line_fills_and_reads_the_cache(tmp_path, capsys):
    args = ["verify", "--scale", "ci", "--only", "framework.selectivity", "--device", "cpu", "--quiet",
            "--cache", str(tmp_path), "--out"]
    assert main(args + [str(tmp_path / "first.json")]) == 0
    assert point_files(tmp_path / "framework.selectivity")
    assert main(args + [str(tmp_path / "second.json")]) == 0
    assert all(r["cached"] for r in json.loads((tmp_path / "second.json").read_text())["results"])
