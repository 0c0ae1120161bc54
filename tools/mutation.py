"""Mutation testing of the derivations in ``proofs/`` with cosmic-ray.

    python -m tools.mutation [--modules capacity rules ...] [--sample 20] [--seed 0] [--out PATH]

For each derivation module, cosmic-ray lists every mutation of its arithmetic (a number changed,
one of + - * / ** swapped for another, a sign flipped); a fixed-seed sample of them is run, each in
a scratch copy of the repository, against the section's fast tests and then the section's claims
at ci scale. A mutant is *killed* when a test fails or a claim's verdict differs from the
unmutated run's; it *survives* otherwise. Survivors are listed with their diff, so that each one
either gets a test that kills it or is shown to leave every derived result unchanged.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pavlov_theory.cache import write_atomic

ROOT = Path(__file__).resolve().parents[1]
COSMIC_RAY = str(Path(sys.executable).parent / "cosmic-ray")
# mutations that change a formula; bitwise, floor-division, modulo and shift swaps on SymPy
# objects only raise TypeError and would inflate the score
KEEP = re.compile(r"core/(NumberReplacer|ReplaceUnaryOperator_USub_UAdd"
                  r"|ReplaceBinaryOperator_(Add|Sub|Mul|Div|Pow)_(Add|Sub|Mul|Div|Pow))$")
CONFIG = """[cosmic-ray]
module-path = "proofs/{module}.py"
timeout = 600.0
excluded-modules = []
test-command = "{python} -m tools.mutation --kill-check {module} --baseline {baseline}"

[cosmic-ray.distributor]
name = "local"
"""


def scratch_copy() -> Path:
    """The tracked files in a temporary directory, with the package's proofs and simulations
    reachable from it (so that imports see the mutated file, not the installed one)."""
    target = Path(tempfile.mkdtemp(prefix="pavlov-mutation-"))
    listing = ["git", "ls-files", "--cached", "--others", "--exclude-standard"]
    files = subprocess.run(listing, cwd=ROOT, check=True, capture_output=True, text=True)
    for name in filter(lambda name: (ROOT / name).is_file(), files.stdout.splitlines()):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)
    for sub in ("proofs", "simulations"):
        (target / "pavlov_theory" / sub).symlink_to(Path("..") / sub)
    return target


def sections(module: str, root: Path = ROOT) -> list[str]:
    """The sections whose derivations a proofs module feeds: its own, or every section whose
    simulation module depends on it (for shared helpers such as ``vectors``), by the import graph
    the result cache keys on."""
    from pavlov_theory.cache import dependencies

    if (root / "simulations" / f"{module}.py").exists():
        return [module]
    return sorted(p.stem for p in (root / "simulations").glob("*.py")
                  if f"pavlov_theory.proofs.{module}" in dependencies(f"pavlov_theory.simulations.{p.stem}"))


def verdicts(module: str, cwd: Path) -> dict[str, str]:
    """Each claim of the sections ``module`` feeds and its ci-scale verdict, from a run in ``cwd``."""
    found = {}
    for section in sections(module, cwd):
        out = cwd / f".mutation-{section}.json"
        subprocess.run([sys.executable, "-m", "pavlov_theory.cli", "verify", "--scale", "ci", "--quiet",
                        "--only", f"{section}.*", "--out", str(out)], cwd=cwd, check=True,
                       capture_output=True)
        found |= {c["claim"]: c["verdict"] for c in json.loads(out.read_text())["claims"]}
    return found


def kill_check(module: str, baseline: Path) -> int:
    """The test command cosmic-ray runs per mutant: exit 0 if the mutant survives."""
    files = [f"tests/test_{section}.py" for section in sections(module, Path.cwd())]
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-m", "not mc",
                            "-p", "no:cacheprovider", *files], cwd=Path.cwd())
    if tests.returncode:
        return 1
    try:
        now = verdicts(module, Path.cwd())
    except subprocess.CalledProcessError:
        return 1
    return int(now != json.loads(baseline.read_text()))


def run_module(module: str, copy: Path, sample: int, seed: int) -> dict:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    baseline = copy / f".baseline-{module}.json"
    baseline.write_text(json.dumps(verdicts(module, copy)))
    clean = subprocess.run([sys.executable, "-m", "tools.mutation", "--kill-check", module,
                            "--baseline", str(baseline)], cwd=copy, capture_output=True, text=True)
    if clean.returncode:  # a check that fails without a mutation would count every mutant killed
        raise RuntimeError(f"the unmutated {module} fails its own kill check:\n{clean.stdout[-2000:]}")
    config, session = copy / f"cr-{module}.toml", copy / f"cr-{module}.sqlite"
    config.write_text(CONFIG.format(module=module, python=sys.executable, baseline=baseline))
    subprocess.run([COSMIC_RAY, "init", str(config), str(session)], cwd=copy, check=True)
    with use_db(str(session), WorkDB.Mode.open) as db:
        items = list(db.pending_work_items)
        kept = [i for i in items if all(KEEP.search(m.operator_name) for m in i.mutations)]
        chosen = {i.job_id for i in random.Random(seed).sample(kept, min(sample, len(kept)))}
        for item in items:
            if item.job_id not in chosen:
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
    subprocess.run([COSMIC_RAY, "exec", str(config), str(session)], cwd=copy, check=True)
    with use_db(str(session), WorkDB.Mode.open) as db:
        done = [(item, result) for item, result in db.completed_work_items
                if result.worker_outcome != WorkerOutcome.SKIPPED]
    outcome = lambda result: result.test_outcome.value if result.test_outcome else result.worker_outcome.value
    survivors = [result.diff for _, result in done if outcome(result) == "survived"]
    killed = sum(outcome(result) == "killed" for _, result in done)
    return {"module": module, "mutants": len(items), "formula_mutants": len(kept), "run": len(done),
            "killed": killed, "survived": len(survivors), "other": len(done) - killed - len(survivors),
            "survivors": survivors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mutation", description=__doc__.splitlines()[0])
    parser.add_argument("--modules", nargs="+", help="proofs modules (default: every section's)")
    parser.add_argument("--sample", type=int, default=20, help="mutants run per module (>= 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--kill-check", metavar="MODULE", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.kill_check:
        return kill_check(args.kill_check, args.baseline)
    if args.sample < 1:
        print(f"mutation: --sample: expected an integer >= 1, got {args.sample}", file=sys.stderr)
        return 2
    modules = args.modules or sorted(p.stem for p in (ROOT / "tests").glob("test_*.py")
                                     if (ROOT / "proofs" / f"{p.stem[5:]}.py").exists())
    modules = [m.removeprefix("test_") for m in modules]
    copy = scratch_copy()
    rows = []
    try:
        for module in modules:
            rows.append(run_module(module, copy, args.sample, args.seed))
            row = rows[-1]
            print(f"{module:14} mutants {row['mutants']:5}  formula {row['formula_mutants']:4}  "
                  f"run {row['run']:3}  killed {row['killed']:3}  survived {row['survived']:3}", flush=True)
            if args.out:  # after each module, so that a run cut short keeps the modules it finished
                write_atomic(Path(args.out), json.dumps({"sample": args.sample, "seed": args.seed,
                                                         "modules": rows}, indent=1))
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    killed, run = sum(r["killed"] for r in rows), sum(r["run"] for r in rows)
    print(f"mutation score: {killed}/{run} = {killed / max(run, 1):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
