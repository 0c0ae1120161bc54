"""The results of one device as JSON and as a markdown table: ``bench-<device-tag>.json|md``."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence


def device_tag(name: str) -> str:
    """A file-name-safe tag of a device name, e.g. ``cuda-nvidia-h200`` or ``cpu-x86_64``."""
    return re.sub(r"[^a-z0-9_]+", "-", name.lower()).strip("-")


def finite(x: Any) -> Any:
    """``x`` with every non-finite float replaced by None (JSON has no inf or nan)."""
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _num(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "NO"
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}g}" if abs(x) < 10**digits else f"{x:.0f}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _speedup(row: Mapping[str, Any], key: str) -> str:
    text = _num(row.get(key))
    return (">=" + text) if row.get(key + "_is_lower_bound") and text != "-" else text


def kernel_rows(kernels: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    rows = []
    for k in kernels:
        if "error" in k:
            rows.append([k["label"], k["kernel"], k["shape"], *"--------", "error: " + k["error"]])
            continue
        mib = k["peak_memory_bytes"] / 2**20
        rows.append([k["label"], k["kernel"], k["shape"], str(k["trials"]), _num(k["seconds"]),
                     _num(k["gflops"]), _num(k["fraction_of_matmul"], 2),
                     _num(sum(k["draws_per_trial"].values())) if "draws_per_trial" in k else "-",
                     _num(k.get("fraction_of_draw_rate"), 2), _num(k.get("fraction_of_hardware"), 2),
                     _speedup(k, "speedup_vs_naive"), _num(mib)])
    return rows


def estimator_rows(rows: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    out = []
    for r in rows:
        if "skipped" in r:
            out.append([r["estimator"], r.get("label", "-"), r["fast"], r["plain"], "-", "-", "-",
                        "skipped: " + r["skipped"]])
            continue
        out.append([r["estimator"], r["label"], r["fast"], r["plain"], _num(r["variance_ratio"]),
                    _num(r["speedup_vs_batched_plain"]), _speedup(r, "speedup_vs_naive_plain"),
                    r.get("note", "")])
    return out


def markdown(result: Mapping[str, Any]) -> str:
    """The whole result as a markdown page: device, kernels, estimators, verify, Dask."""
    rate = result["matmul_gflops"]
    lines = [f"# Benchmark: {result['device']}", "",
             f"- float32 matmul: {_num(rate)} GFLOP/s (best of the runs at start and end: "
             f"{', '.join(_num(x) for x in result['matmul_gflops_runs'])}; {result['matmul_shape']})",
             f"- torch {result['torch']}, {result['threads']} threads, load average at start/end "
             f"{', '.join(_num(x, 2) for x in result['load_average'])}",
             f"- peak memory: {result['memory_method']}",
             f"- flops per trial: {result['flops_source']}",
             "- random draws per second (best of the runs at start and end): "
             + ", ".join(f"{kind.strip('_')} {_num(rate)}"
                         for kind, rate in result.get("draws_per_second", {}).items()),
             "- 'of draws': the seconds a trial's draws take at those rates over the kernel's seconds per "
             "trial; 'of both': that plus 'of matmul', the share of the time the two limits account for", "",
             "## Kernels", ""]
    lines += _table(["case", "kernel", "shape", "trials", "seconds", "GFLOP/s", "of matmul", "draws/trial",
                     "of draws", "of both", "x naive", "peak MiB"], kernel_rows(result["kernels"]))
    lines += ["", "## Speed-up over the plain reference at equal interval width", "",
              "(plain s/trial x plain variance) / (fast s/trial x fast variance); "
              "'x plain' uses the plain kernel's batched form, 'x naive' its naive reference.", ""]
    lines += _table(["estimator", "case", "fast", "plain", "var plain/fast", "x plain", "x naive", "note"],
                    estimator_rows(result["estimators"]))
    if result.get("verify"):
        lines += ["", "## verify (no cache)", ""]
        lines += _table(["scale", "seconds", "exit code"],
                        [[v["scale"], _num(v["seconds"]), str(v["returncode"])] for v in result["verify"]])
    dask = result.get("dask")
    if dask:
        lines += ["", "## Serial against Dask (verify, no cache)", ""]
        if "skipped" in dask or "error" in dask:
            lines.append(f"{dask['scale']}: {dask.get('skipped') or 'error: ' + dask['error']}")
        else:
            lines += _table(["scale", "workers", "serial s", "Dask s", "serial / Dask", "same findings",
                             "values differing", "largest relative difference", "same verdicts"],
                            [[dask["scale"], str(dask["workers"]), _num(dask["serial_seconds"]),
                              _num(dask["dask_seconds"]), _num(dask["serial_over_dask"], 2),
                              _num(dask["findings_identical"]), str(dask["differing_values"]),
                              _num(dask["max_relative_difference"], 2), _num(dask["verdicts_identical"])]])
    if result.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in result["notes"]]
    return "\n".join(lines) + "\n"


def write(result: Mapping[str, Any], folder: Path) -> tuple[Path, Path]:
    """``bench-<tag>.json`` and ``bench-<tag>.md`` in ``folder`` (made if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    tag = result["device_tag"]
    json_path, md_path = folder / f"bench-{tag}.json", folder / f"bench-{tag}.md"
    json_path.write_text(json.dumps(finite(result), indent=1, allow_nan=False) + "\n")
    md_path.write_text(markdown(result))
    return json_path, md_path
