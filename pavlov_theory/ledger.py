"""Run claims over a scale's grid, judge them at a family-wise level, write the ledger JSON.

The run's family-wise error level ``fwer`` is split evenly (Bonferroni) over every grid point of
every selected claim, so the chance that any correct claim is judged ``fails`` in a whole run is
at most ``fwer``.
"""
from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable

import torch
from tqdm import tqdm

from .claims import Claim, Context, Outcome
from .device import default_budget
from .judges import VACUOUS, combine

DEFAULT_FWER = 1e-3
MAX_TRIALS = {"ci": 100_000, "book": 200_000, "paper": 2_000_000}


def scale_context(scale: str, device: str, seed: int, dtype: str = "float32") -> Context:
    return Context(device=device, dtype=dtype, seed=seed, max_trials=MAX_TRIALS[scale],
                   memory_budget=default_budget(device), scale=scale)


def run(claims: Iterable[Claim], scale: str, ctx: Context, fwer: float = DEFAULT_FWER,
        progress: bool = True) -> dict[str, Any]:
    """Check every grid point of ``claims`` at ``scale``; return the ledger as a dict."""
    tasks = [(claim, point) for claim in claims for point in claim.points(scale)]
    point_ctx = replace(ctx, alpha=fwer / max(1, len(tasks)))
    started = time.time()
    outcomes: list[Outcome] = []
    times: dict[str, float] = {}
    quiet = not progress or os.environ.get("TQDM_DISABLE", "") not in ("", "0")
    bar = tqdm(tasks, desc=f"verify {scale}", unit="check", disable=quiet)
    for claim, point in bar:
        bar.set_postfix_str(claim.id)
        t0 = time.time()
        outcomes.append(claim.check(point, point_ctx))
        times[claim.id] = times.get(claim.id, 0.0) + time.time() - t0
    summary = []
    for claim in {c.id: c for c, _ in tasks}.values():
        mine = [o for o in outcomes if o.claim == claim.id]
        summary.append({
            "claim": claim.id, "paper_ref": claim.paper_ref, "statement": claim.statement,
            "kind": claim.kind, "judge": claim.judge, "beyond_paper": claim.beyond_paper,
            "quantity": claim.quantity, "verdict": combine([o.verdict for o in mine]),
            "probe": claim.probe.describe(), "probe_trivial": claim.probe.trivial, "points": len(mine),
            "vacuous_points": sum(o.verdict == VACUOUS for o in mine), "seconds": round(times[claim.id], 3),
        })
    return {
        "scale": scale, "device": ctx.device, "device_name": device_name(ctx.device),
        "dtype": ctx.dtype, "seed": ctx.seed, "fwer": fwer, "alpha_per_check": point_ctx.alpha,
        "seconds": round(time.time() - started, 3), "torch": torch.__version__,
        "python": platform.python_version(),
        "claims": summary, "results": [o.to_json() for o in outcomes],
    }


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def write(ledger: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ledger, indent=1, default=float))
    return path


def load(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def table(ledger: dict[str, Any]) -> str:
    """A plain-text summary, one line per claim."""
    rows = [("claim", "verdict", "points", "seconds", "probe", "paper")]
    probe = lambda c: c["probe"] + (" (trivial)" if c["probe_trivial"] else "")
    rows += [(c["claim"], c["verdict"], str(c["points"]), f"{c['seconds']:.1f}", probe(c), c["paper_ref"])
             for c in ledger["claims"]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"scale {ledger['scale']}, device {ledger['device_name']}, "
                 f"{ledger['seconds']:.1f} s, family-wise level {ledger['fwer']:g}")
    return "\n".join(lines)
