"""Wall time of a whole ``verify``, and serial against Dask on the same scale.

Each run is a fresh process, ``pavlov-theory verify --no-cache`` (nothing read from or written to
a result cache), writing its ledger to a scratch file; the Dask run adds ``--workers N``. The
two ledgers must agree on their findings (:func:`pavlov_theory.ledger.findings`: everything but
the timings and cache marks). Both runs read the source files as they are when each starts:
files edited between or during the runs show up as differing findings, or as verify's refusal of
a result computed from other code.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

from pavlov_theory.ledger import findings

ROOT = Path(__file__).resolve().parents[1]


def run_verify(scale: str, device: str, ledger: Path, workers: int | None = None,
               only: str | None = None) -> dict[str, Any]:
    """Seconds of one ``verify --scale scale --no-cache`` in a subprocess (its ledger at ``ledger``)."""
    command = [sys.executable, "-m", "pavlov_theory.cli", "verify", "--scale", scale, "--device", device,
               "--no-cache", "--quiet", "--out", str(ledger)]
    command += ["--workers", str(workers)] if workers else []
    command += ["--only", only] if only else []
    print(f"bench: {' '.join(command[2:])}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "TQDM_DISABLE": "1"})
    seconds = time.perf_counter() - start
    result: dict[str, Any] = {"scale": scale, "seconds": seconds, "workers": workers or 1,
                              "returncode": done.returncode}
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        result["error"] = lines[-1] if lines else f"exit code {done.returncode}"
    return result


def verify_times(scales: list[str], device: str, scratch: Path) -> list[dict[str, Any]]:
    """One serial run per scale; each result names its ledger (kept in ``scratch``)."""
    rows = []
    for scale in scales:
        ledger = scratch / f"ledger-{scale}-serial.json"
        rows.append({**run_verify(scale, device, ledger), "ledger": str(ledger)})
    return rows


def _leaves(x: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(x, dict):
        for key, value in x.items():
            yield from _leaves(value, f"{path}/{key}")
    elif isinstance(x, list):
        yield f"{path}#len", len(x)
        for index, value in enumerate(x):
            yield from _leaves(value, f"{path}/{index}")
    else:
        yield path, x


def compare_findings(a: Path, b: Path) -> dict[str, Any]:
    """Whether two ledgers' findings are identical; if not, how many values differ, the largest
    relative difference among the numbers, and whether every verdict is the same."""
    left, right = (dict(_leaves(findings(json.loads(p.read_text())))) for p in (a, b))
    differing = [k for k in left.keys() | right.keys() if left.get(k) != right.get(k)]
    numbers = [(left[k], right[k]) for k in differing if k in left and k in right
               and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left[k], right[k]))]
    relative = [abs(x - y) / max(abs(x), abs(y)) for x, y in numbers]
    return {"findings_identical": not differing, "differing_values": len(differing),
            "max_relative_difference": max(relative, default=0.0),
            "verdicts_identical": not any(k.endswith("/verdict") for k in differing)}


def have_dask() -> bool:
    from pavlov_theory.distributed import have_dask as available

    return available()


def dask_comparison(scale: str, device: str, scratch: Path, serial: dict[str, Any] | None = None,
                    workers: int = 2, only: str | None = None) -> dict[str, Any]:
    """Serial and ``--workers`` runs of ``verify --scale scale``: their seconds, serial over Dask
    (above 1: Dask is faster), and whether the two ledgers' findings are identical. ``serial``
    reuses a serial run already made at this scale."""
    if not have_dask():
        return {"scale": scale, "skipped": "dask.distributed is not installed (the dask extra)"}
    if serial is None:
        serial = {**run_verify(scale, device, scratch / f"ledger-{scale}-serial.json", only=only),
                  "ledger": str(scratch / f"ledger-{scale}-serial.json")}
    ledger = scratch / f"ledger-{scale}-dask.json"
    spread = run_verify(scale, device, ledger, workers=workers, only=only)
    result: dict[str, Any] = {"scale": scale, "workers": workers, "serial_seconds": serial["seconds"],
                              "dask_seconds": spread["seconds"]}
    errors = [r["error"] for r in (serial, spread) if "error" in r]
    if errors:
        return {**result, "error": "; ".join(errors)}
    return {**result, "serial_over_dask": serial["seconds"] / spread["seconds"],
            **compare_findings(Path(serial["ledger"]), ledger)}

