"""Stress mode: rerun a scale with K fresh seeds and measure what the verifier promises.

A verdict that changes with the seed is not a result, and the family-wise level ``fwer`` is a
promise about how often a run wrongly fails a true claim. :func:`stress` reruns the same claims
at the same scale with ``K`` seeds derived from a base seed (listed in the report), and reports:

- per claim, how many runs gave each verdict; its reference verdict, the most frequent one, or
  ``unstable`` when two verdicts are equally frequent; how many runs differ from the most frequent
  verdict; and how many distinct data the runs drew (every field of its results but the seed,
  verdict and timings; 1 for a claim that samples nothing);
- the observed false-failure rate of a run, with a Clopper-Pearson interval, beside the stated
  ``fwer``; and the same per checked point, beside the level granted to one check.

A *false failure* is a rejection (a verdict in ``judges.REJECTS``) of a claim whose judge would
pass it with ``judges.passing(judge)``. Every such rejection is counted, however many runs it
occurs in, unless the claim (or the point) was rejected in every run: a rejection no seed changes
is a finding about the claim, reported as ``rejected in every run``, not a false failure. This is
the cautious reading: a false claim that some seed fails to reject has all its rejections counted.

K clean runs bound a rate only near 1/K: with no false failure the interval's upper limit is
:func:`clean_bound` ``(K)``, far above a stated 1e-3. The report prints the interval, not a point.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from . import ledger as ledger_mod
from .claims import Claim, Context, Probe
from .judges import REJECTS, passing
from .sampling import derive_seed
from .stats import proportion_ci

CONFIDENCE = 0.95  # of the intervals the report puts around observed rates
UNSTABLE = "unstable"  # the reference verdict when the most frequent verdicts tie


def stress_seeds(base: int, runs: int) -> list[int]:
    """The ``runs`` seeds of a stress run: 32-bit seeds derived from ``base`` (reproducible)."""
    return [derive_seed(base, "stress", i) % 2**32 for i in range(runs)]


def reference_verdict(verdicts: Iterable[str]) -> str:
    """The most frequent verdict, or ``unstable`` when several verdicts are equally frequent."""
    ranked = Counter(verdicts).most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return UNSTABLE
    return ranked[0][0]


def false_failures(verdicts: Sequence[str], judge: str) -> list[bool]:
    """Which of a claim's (or a point's) verdicts over the runs are false failures: rejections
    (``judges.REJECTS``) where the judge's passing verdict is not one, unless every run rejected."""
    rejected = [v in REJECTS for v in verdicts]
    if passing(judge) in REJECTS or all(rejected):
        return [False] * len(verdicts)
    return rejected


def clean_bound(runs: int, confidence: float = CONFIDENCE) -> float:
    """The upper limit of the Clopper-Pearson interval (level ``confidence``) of a rate with no
    event in ``runs`` trials: how far ``runs`` clean runs bound a false-failure or flip rate."""
    return proportion_ci(0, runs, 1 - confidence).hi


def _rate(hits: int, total: int, stated: float) -> dict[str, Any]:
    """An observed rate with its Clopper-Pearson interval (level ``CONFIDENCE``) and the stated one."""
    if total == 0:
        return {"hits": 0, "of": 0, "rate": None, "ci": [0.0, 1.0], "confidence": CONFIDENCE,
                "stated": stated}
    ci = proportion_ci(hits, total, 1 - CONFIDENCE)
    return {"hits": hits, "of": total, "rate": hits / total, "ci": [ci.lo, ci.hi],
            "confidence": CONFIDENCE, "stated": stated}


def _point_key(result: dict[str, Any]) -> str:
    return json.dumps(result["params"], sort_keys=True)


def summarize(ledgers: list[dict[str, Any]]) -> dict[str, Any]:
    """The stress report of ledgers computed with different seeds (same claims, same scale)."""
    claim_ids = [c["claim"] for c in ledgers[0]["claims"]]
    judge = {c["claim"]: c["judge"] for c in ledgers[0]["claims"]}
    runs = {cid: [next(c["verdict"] for c in led["claims"] if c["claim"] == cid) for led in ledgers]
            for cid in claim_ids}
    false = {cid: false_failures(runs[cid], judge[cid]) for cid in claim_ids}
    false_run = [any(false[cid][i] for cid in claim_ids) for i in range(len(ledgers))]
    points: dict[tuple[str, str], list[str]] = {}
    data: dict[str, list[tuple]] = {cid: [] for cid in claim_ids}
    for led in ledgers:
        estimates: dict[str, list] = {cid: [] for cid in claim_ids}
        for r in led["results"]:
            points.setdefault((r["claim"], _point_key(r)), []).append(r["verdict"])
            drawn = {k: v for k, v in ledger_mod.findings(r).items() if k not in ("seed", "verdict")}
            estimates.setdefault(r["claim"], []).append(json.dumps(drawn, sort_keys=True, default=str))
        for cid in claim_ids:
            data[cid].append(tuple(estimates[cid]))
    point_false = {key: false_failures(vs, judge[key[0]]) for key, vs in points.items()}
    checks = sum(len(v) for v in points.values())
    point_hits = sum(sum(v) for v in point_false.values())
    claims = []
    for cid in claim_ids:
        counts = Counter(runs[cid])
        changed = [{"params": json.loads(key[1]), "counts": dict(Counter(vs)),
                    "reference": reference_verdict(vs), "false_failures": sum(point_false[key])}
                   for key, vs in points.items() if key[0] == cid and len(set(vs)) > 1]
        claims.append({
            "claim": cid, "judge": judge[cid], "passing": passing(judge[cid]),
            "reference": reference_verdict(runs[cid]),
            "counts": dict(counts), "verdicts": runs[cid],
            "changes": len(runs[cid]) - counts.most_common(1)[0][1],
            "false_failures": sum(false[cid]),
            "rejected_in_every_run": all(v in REJECTS for v in runs[cid]),
            "distinct_data": len(set(data[cid])),
            "changed_points": changed,
        })
    first = ledgers[0]
    return {
        "scale": first["scale"], "device": first["device"], "device_name": first["device_name"],
        "dtype": first["dtype"], "fwer": first["fwer"], "alpha_per_check": first["alpha_per_check"],
        "seeds": [led["seed"] for led in ledgers], "runs": len(ledgers),
        "seconds": round(sum(led["seconds"] for led in ledgers), 3),
        "seed_independent": all(c["changes"] == 0 for c in claims),
        "false_failure_run": _rate(sum(false_run), len(ledgers), first["fwer"]),
        "false_failure_check": _rate(point_hits, checks, first["alpha_per_check"]),
        "claims": claims,
    }


def stress(claims: list[Claim], scale: str, ctx: Context, runs: int, fwer: float = ledger_mod.DEFAULT_FWER,
           out: str | Path | None = None, progress: Callable[[int, int, int], None] | None = None,
           **run_options: Any) -> dict[str, Any]:
    """Run ``claims`` at ``scale`` ``runs`` times, with the seeds :func:`stress_seeds` derives from
    ``ctx.seed``; return the report of :func:`summarize` plus ``base_seed``. With ``out``, the report
    so far is written there (atomically) after every run, so an interrupted stress run keeps what
    finished. ``progress(done, runs, seed)`` is called after each run; ``run_options`` go to
    :func:`ledger.run` (for example a cache)."""
    started, ledgers = time.time(), []
    for i, seed in enumerate(stress_seeds(ctx.seed, runs)):
        ledgers.append(ledger_mod.run(claims, scale, replace(ctx, seed=seed), fwer, progress=False,
                                      **run_options))
        report = {"base_seed": ctx.seed, "planned_runs": runs, **summarize(ledgers),
                  "wall_seconds": round(time.time() - started, 3)}
        if out is not None:
            ledger_mod.write(report, out)
        if progress is not None:
            progress(i + 1, runs, seed)
    return report


def table(report: dict[str, Any]) -> str:
    """A plain-text stress report: one line per claim, then the observed false-failure rates."""
    rows = [("claim", "reference", "verdicts over the runs", "changes", "false failures")]
    for c in report["claims"]:
        counts = ", ".join(f"{v} {n}" for v, n in sorted(c["counts"].items(), key=lambda kv: -kv[1]))
        reference = c["reference"] + (" (rejected in every run)" if c.get("rejected_in_every_run") else "")
        rows.append((c["claim"], reference, counts, str(c["changes"]), str(c["false_failures"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    run, check = report["false_failure_run"], report["false_failure_check"]
    pct = f"{100 * CONFIDENCE:g}%"
    lines += [
        f"scale {report['scale']}, {report['runs']} runs (base seed {report['base_seed']}; seeds "
        f"{', '.join(map(str, report['seeds']))}), device {report['device_name']}, {report['seconds']:.1f} s",
        f"verdicts {'identical in every run' if report['seed_independent'] else 'CHANGED with the seed'}"
        + (f" (with no change in {report['runs']} runs a claim's flip rate is below "
           f"{clean_bound(report['runs']):.2g}, {pct})" if report["seed_independent"] else ""),
        f"runs with a false failure: {run['hits']}/{run['of']}, {pct} Clopper-Pearson interval "
        f"[{run['ci'][0]:.3g}, {run['ci'][1]:.3g}]; stated family-wise level {run['stated']:g}",
        f"checks with a false failure: {check['hits']}/{check['of']}, {pct} interval "
        f"[{check['ci'][0]:.3g}, {check['ci'][1]:.3g}]; stated level per check {check['stated']:.3g}",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- measured power

POWER_STEPS = 5  # bisection steps: the perturbation is located within 1/32 of the declared one


def _neutral(kind: str) -> float:
    """The probe value that perturbs nothing: 0 for an exponent shift, 1 for a factor."""
    return 0.0 if kind == "exponent" else 1.0


def _rejects(claim: Claim, point: dict[str, Any], ctx: Context, kind: str, value: float) -> bool:
    return claim.check(point, replace(ctx, probe=(kind, value))).verdict in REJECTS


def smallest_rejected(claim: Claim, ctx: Context, declared: float, steps: int = POWER_STEPS) -> float | None:
    """The probe value nearest no perturbation that the claim's check still rejects, on the segment
    from no perturbation to the ``declared`` probe value, by bisection (``steps`` halvings) at the
    claim's probe point. ``None`` when the declared probe itself is not rejected. Rejection is
    assumed to grow with the perturbation; the seeded draws make each evaluation reproducible."""
    kind, point, base = claim.probe.kind, claim.probe_point(), _neutral(claim.probe.kind)
    at = lambda t: base + t * (declared - base)
    if not _rejects(claim, point, ctx, kind, declared):
        return None
    low, high = 0.0, 1.0
    for _ in range(steps):
        middle = (low + high) / 2
        low, high = (low, middle) if _rejects(claim, point, ctx, kind, at(middle)) else (middle, high)
    return at(high)


def measure_power(claim: Claim, ctx: Context, steps: int = POWER_STEPS) -> dict[str, Any]:
    """The smallest perturbation of each declared probe direction that ``claim``'s check detects at
    its probe point under ``ctx`` (the ledger's ``power_measured`` beside ``probe``). A probe
    declared trivial (the claim itself is rejected there) has no measured power."""
    probe = claim.probe
    if probe.trivial:
        return {"kind": probe.kind, "values": None, "text": f"none (probe trivial: {probe.trivial})"}
    values = [smallest_rejected(claim, ctx, v, steps) for v in probe.values]
    text = " and ".join("not rejected" if v is None else Probe(probe.kind, (v,)).describe() for v in values)
    return {"kind": probe.kind, "values": values, "text": text, "declared": list(probe.values),
            "resolution": 2.0 ** -steps}
