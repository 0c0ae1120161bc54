"""Trials each claim draws, and the trials the plain estimator would need for the same interval widths.

    python -m bench.per_claim LEDGER BENCH_JSON [BENCH_JSON ...] [--out PATH]

An interval's width goes as ``sqrt(variance / trials)``, so where a claim's results come from a
variance-reduced kernel, the plain kernel it replaced needs ``trials * var_plain / var_fast``
trials for the same widths. ``LEDGER`` (a ``verify --out`` file) gives the trials each claim drew
(summed over its results); a bench JSON (``bench.run``) gives, per estimator, the variance ratio
measured at the claim's book case (the grid point whose trial costs the most) and the speed-up at
equal width. Variances do not depend on the device, so a bench file of any device serves.

The table is an estimate in two ways, and says so: the ratio is measured at one point of the
claim's grid and applied to all its trials, and a claim with more than one estimator gets no plain
total (its results are not split by kernel). A claim whose bench case pairs a kernel with itself
(no variance-reduced form) reads ratio 1; a claim no bench case covers reads "not benchmarked".
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any, Mapping, Sequence

from bench.report import _num, _table
from pavlov_theory.params import ParamError

USAGE_ERROR = 2


def claim_of(label: str) -> str:
    """The claim id of a bench case label such as ``capacity.noise_power book``."""
    return label.split(" ")[0]


def estimator_rows_by_claim(benches: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """The measured estimator rows of the bench files by claim, one row per estimator (the first
    file that measured it wins); skipped rows and rows without a variance ratio are left out."""
    found: dict[str, dict[str, Mapping[str, Any]]] = defaultdict(dict)
    for bench in benches:
        for row in bench.get("estimators", []):
            if "skipped" in row or row.get("variance_ratio") is None:
                continue
            found[claim_of(row["label"])].setdefault(row["estimator"], row)
    return {claim: list(rows.values()) for claim, rows in found.items()}


def per_claim(ledger: Mapping[str, Any], benches: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per claim of ``ledger``: the trials it drew, its estimators' variance ratios and
    equal-width speed-ups, and (one estimator only) the plain estimator's trials at equal width."""
    trials: dict[str, int] = defaultdict(int)
    for result in ledger["results"]:
        trials[result["claim"]] += int(result.get("trials") or 0)
    by_claim = estimator_rows_by_claim(benches)
    rows = []
    for claim in (c["claim"] for c in ledger["claims"]):
        measured = by_claim.get(claim, [])
        estimators = [{"estimator": e["estimator"], "variance_ratio": e["variance_ratio"],
                       "speedup": e.get("speedup_vs_batched_plain")} for e in measured]
        row: dict[str, Any] = {"claim": claim, "trials": trials[claim], "estimators": estimators}
        if len(measured) == 1:
            row["plain_trials"] = trials[claim] * measured[0]["variance_ratio"]
        rows.append(row)
    return rows


def markdown(rows: Sequence[Mapping[str, Any]], scale: str) -> str:
    def estimator_cell(row: Mapping[str, Any]) -> list[str]:
        if not row["estimators"]:
            return ["not benchmarked", "-", "-"]
        return ["; ".join(e["estimator"] for e in row["estimators"]),
                "; ".join(_num(e["variance_ratio"]) for e in row["estimators"]),
                "; ".join(_num(e["speedup"]) for e in row["estimators"])]

    table = _table(["claim", f"trials ({scale})", "estimator", "var plain/fast", "x plain at equal width",
                    "plain trials at equal width"],
                   [[r["claim"], str(r["trials"]), *estimator_cell(r),
                     _num(r["plain_trials"]) if "plain_trials" in r else "-"] for r in rows])
    return "\n".join(table) + "\n"


def _read_json(flag: str, path: str) -> Mapping[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ParamError(f"{flag}: expected a readable JSON file, got {path!r} ({type(error).__name__})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.per_claim", description=__doc__.splitlines()[0])
    parser.add_argument("ledger", help="a verify --out ledger JSON")
    parser.add_argument("bench", nargs="+", help="bench JSON files (bench.run); the first to measure an "
                                                 "estimator wins")
    parser.add_argument("--out", help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    try:
        ledger = _read_json("ledger", args.ledger)
        if not isinstance(ledger, dict) or "results" not in ledger or "claims" not in ledger:
            raise ParamError(f"ledger: expected a verify ledger (claims and results), got {args.ledger!r}")
        benches = [_read_json("bench", path) for path in args.bench]
    except ParamError as error:
        print(f"bench.per_claim: {error}", file=sys.stderr)
        return USAGE_ERROR
    rows = per_claim(ledger, benches)
    print(markdown(rows, ledger.get("scale", "?")), end="")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
