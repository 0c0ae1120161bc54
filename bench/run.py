"""Speed of the kernels against the device's own matmul rate, of whole verify runs, and of Dask.

    python -m bench.run [--device auto|cpu|cuda[,...]] [--trials N] [--kernels PATTERN]
                        [--shapes small,book,example] [--verify ci,book,paper]
                        [--dask-scale ci|book|paper] [--skip-dask] [--naive-budget S] [--out DIR]

Writes ``bench-<device-tag>.json`` and ``bench-<device-tag>.md`` per device into ``--out``
(default ``bench/results``): the float32 matmul rate and the rate of each kind of random draw; per
kernel and shape its trials, seconds, GFLOP/s, fraction of the matmul rate, draws per trial and
fraction of the draw rate, speed-up over its naive reference and peak memory; each
estimator's speed-up over its plain form at equal interval width; ``verify`` wall time per
requested scale; and serial against Dask at one scale. See bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch

from bench import cases as cases_mod
from bench import draws, measure, report
from bench import estimators as est
from bench import verify as verify_mod
from bench.cases import Case
from bench.flops import flops_per_trial
from pavlov_theory.claims import SCALES, matches_pattern, section_modules
from pavlov_theory.device import default_budget, resolve_device, rows_per_chunk
from pavlov_theory.engine import Kernel
from pavlov_theory.params import ParamError

USAGE_ERROR = 2
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
DASK_WORKERS = 2
WORKER_TIMEOUT = 3600  # seconds one kernel's process may take before it is recorded as an error


def kernels() -> dict[str, Kernel]:
    """Every registered kernel, by name."""
    return {k.name: k for module in section_modules() for k in getattr(module, "KERNELS", ())}


# ----------------------------------------------------------------------------- arguments

class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit code 2
        raise ParamError(message)


def _comma_list(name: str, text: str, allowed: Sequence[str]) -> list[str]:
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(t not in allowed for t in items):
        raise ParamError(f"{name}: expected a comma list of {', '.join(allowed)}, got {text!r}")
    return list(dict.fromkeys(items))


def _number(name: str, text: str, kind: Callable[[str], float], low: float, high: float) -> Any:
    what = "an integer" if kind is int else "a number"
    try:
        value = kind(text)
    except ValueError:
        raise ParamError(f"{name}: expected {what} in [{low:g}, {high:g}], got {text!r}") from None
    if not low <= value <= high:
        raise ParamError(f"{name}: expected {what} in [{low:g}, {high:g}], got {text!r}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The checked arguments; a bad one raises :class:`ParamError` naming it and its range."""
    parser = _Parser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda; a comma list benches each")
    parser.add_argument("--trials", default="2000",
                        help="most trials per kernel call, integer in [1, 10^7]; a call holds at most "
                             "what fits the device's memory budget, as in verify (default 2000)")
    parser.add_argument("--kernels", default=None, metavar="PATTERN",
                        help="only kernels or cases whose name or claim matches PATTERN (shell-style; "
                             "a comma list matches any of its items)")
    parser.add_argument("--shapes", default="small,book",
                        help="comma list of small, book (the book-scale checks' shapes), example "
                             "(each kernel's tiny example point) (default small,book)")
    parser.add_argument("--verify", default=None, metavar="SCALES",
                        help="comma list of ci, book, paper: time a whole verify (no cache) at each")
    parser.add_argument("--dask-scale", default="ci", help="scale of the serial-vs-Dask run (default ci)")
    parser.add_argument("--skip-dask", action="store_true", help="no serial-vs-Dask run")
    parser.add_argument("--naive-budget", default="20",
                        help="seconds for each naive reference, number in [0, 3600]; 0 skips them "
                             "(default 20)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), metavar="DIR",
                        help="folder of the results (default bench/results)")
    args = parser.parse_args(argv)
    args.trials = _number("trials", args.trials, int, 1, 10**7)
    args.naive_budget = _number("naive-budget", args.naive_budget, float, 0, 3600)
    args.shapes = _comma_list("shapes", args.shapes, cases_mod.SHAPES)
    args.verify = _comma_list("verify", args.verify, SCALES) if args.verify is not None else []
    if args.dask_scale not in SCALES:
        raise ParamError(f"dask-scale: expected one of {', '.join(SCALES)}, got {args.dask_scale!r}")
    args.devices = list(dict.fromkeys(resolve_device(d.strip()) for d in args.device.split(",")))
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ParamError(f"out: {args.out!r} is a file; expected a folder (made if missing)")
    return args


def matches(case: Case, pattern: str | None) -> bool:
    """Whether ``pattern`` (shell-style; a comma list matches any of its items) selects ``case``: by
    kernel name or by the claim its shape comes from."""
    if pattern is None:
        return True
    return any(matches_pattern(text, pattern) for text in (case.kernel, case.label.split(" ")[0]))


# ----------------------------------------------------------------------------- measuring

def _timed(fn: Callable[[], object], device: str, repeats: int = 3) -> float:
    """Best wall time of ``repeats`` calls, in seconds (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_shape(device: str) -> tuple[int, int]:
    """(batch, size) of the reference product: large enough to reach the device's peak."""
    return (4, 4096) if device.startswith("cuda") else (8, 1024)


def matmul_rate(device: str) -> float:
    """The device's float32 batched matmul rate in GFLOP/s."""
    batch, size = matmul_shape(device)
    a = torch.randn(batch, size, size, device=device)
    seconds = _timed(lambda: a @ a, device)
    return 2 * batch * size**3 / seconds / 1e9


def draw_rates(device: str) -> dict[str, float]:
    """Elements per second of each kind of random draw (``bench.draws.KINDS``) on ``device``: the
    best of 3 calls of 2^26 elements on a GPU, 2^22 on the CPU."""
    size = 2**26 if device.startswith("cuda") else 2**22
    gen = torch.Generator(device=device)
    gen.manual_seed(0)
    return {kind: size / _timed(lambda: draws.draw(kind, size, gen), device) for kind in draws.KINDS}


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(device)
    model = next((line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")), "")
    return f"cpu {platform.machine()}" + (f" ({model})" if model else "")


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def device_tag(device: str) -> str:
    if device.startswith("cuda"):
        return report.device_tag("cuda-" + torch.cuda.get_device_name(device))
    return report.device_tag(f"cpu-{platform.machine()}")


def trials_per_call(kernel: Kernel, params: Mapping[str, Any], device: str, most: int) -> int:
    """``most``, or fewer: what one chunk of ``draw`` holds on ``device`` (float32)."""
    return min(most, rows_per_chunk(kernel.bytes_per_trial(params, 4), default_budget(device)))


def run_worker(request: Mapping[str, Any]) -> dict[str, Any]:
    """One kernel at one shape in a process of its own (:mod:`bench.measure`)."""
    command = [sys.executable, "-m", "bench.measure", json.dumps(request)]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"error": f"took more than {WORKER_TIMEOUT} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith(measure.MARK)]
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()
        return {"error": tail[-1] if tail else f"exit code {done.returncode}"}
    return json.loads(lines[-1][len(measure.MARK):])


def bench_case(case: Case, kernel: Kernel, device: str, args: argparse.Namespace) -> dict[str, Any]:
    """Trials, seconds, GFLOP/s, naive speed-up, peak memory and variances of one case."""
    trials = trials_per_call(kernel, case.params, device, args.trials)
    row: dict[str, Any] = {"label": case.label, "kernel": case.kernel, "shape": case.shape(),
                           "params": dict(case.params), "trials": trials}
    got = run_worker({"kernel": case.kernel, "params": dict(case.params), "trials": trials, "device": device,
                      "naive_budget": args.naive_budget})
    if "error" in got:
        return {**row, **got}
    naive, flops = got.pop("naive", None), flops_per_trial(case.kernel, case.params)
    row.update(got, seconds_per_trial=got["seconds"] / trials, flops_per_trial=flops,
               gflops=None if flops is None else flops * trials / got["seconds"] / 1e9)
    if naive is not None:
        row.update(naive_seconds_per_trial=naive["seconds_per_trial"], naive_trials=naive["trials"],
                   speedup_vs_naive=naive["seconds_per_trial"] * trials / got["seconds"],
                   speedup_vs_naive_is_lower_bound=naive["lower_bound"])
    return row


def estimators_at(case: Case) -> list[est.Estimator]:
    """The estimators compared at ``case``; at a kernel's own ``example`` point only those of that
    kernel alone, since another kernel need not take its parameters."""
    paired = est.paired_at(case.kernel)
    if case.label == "example":
        return [e for e in paired if e.fast == e.plain == case.kernel]
    return paired


def runs_needed(chosen: Iterable[Case], found: Mapping[str, Kernel]) -> list[Case]:
    """The chosen cases and, at each, the other kernels of the estimators it takes part in."""
    runs: dict[tuple[str, str], Case] = {}
    for case in chosen:
        for name in [case.kernel] + [k for e in estimators_at(case) for k in (e.fast, e.plain)]:
            if name in found:
                params = case.params_of(name)
                key = (name, json.dumps(dict(params), sort_keys=True))
                runs.setdefault(key, Case(case.label, name, params))
    return list(runs.values())


def estimator_rows(chosen: Iterable[Case], rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each estimator at each chosen case: the speed-up of its fast form over its plain form at
    equal interval width, against the plain batched kernel and the plain naive reference."""
    by_run = {(r["kernel"], json.dumps(r["params"], sort_keys=True)): r for r in rows}
    run_of = lambda case, name: by_run.get((name, json.dumps(dict(case.params_of(name)), sort_keys=True)))
    out, seen = [], set()
    for case in chosen:
        key = json.dumps(dict(case.params), sort_keys=True)
        for e in estimators_at(case):
            if (e.name, key) in seen:
                continue
            seen.add((e.name, key))
            out.append(_equal_width(e, case, run_of(case, e.fast), run_of(case, e.plain)))
    return out


def _equal_width(e: est.Estimator, case: Case, fast: Mapping[str, Any] | None,
                 plain: Mapping[str, Any] | None) -> dict[str, Any]:
    row: dict[str, Any] = {"estimator": e.name, "label": case.label, "shape": case.shape(),
                           "fast": e.fast, "plain": e.plain}
    plain_params = case.params_of(e.plain)
    plain_only = {k: v for k, v in plain_params.items() if k not in case.params or case.params[k] != v}
    if plain_only:  # the plain kernel takes other parameters at this case (bench/cases.py says why)
        row["plain_shape"] = case.shape_of(e.plain)
    for name, run in ((e.fast, fast), (e.plain, plain)):
        if run is None:
            return {**row, "skipped": f"kernel {name} is not registered"}
        if "error" in run:
            return {**row, "skipped": f"kernel {name} failed: {run['error']}"}
    same = e.fast == e.plain
    var_fast, var_plain = fast["variances"].get(e.name), plain["variances"].get(e.name)
    for name, var in ((e.fast, var_fast), (e.plain, var_plain)):
        if not isinstance(var, (int, float)):
            return {**row, "skipped": f"statistic on {name}: {var or 'not computed'}"}
    row.update(variance_fast=var_fast, variance_plain=var_plain,
               variance_ratio=1.0 if same else _ratio(var_plain, var_fast),
               speedup_vs_batched_plain=est.equal_width_speedup(
                   fast["seconds_per_trial"], var_fast, plain["seconds_per_trial"], var_plain, same))
    if "naive_seconds_per_trial" in plain:
        naive = plain["naive_seconds_per_trial"]
        row.update(speedup_vs_naive_plain=est.equal_width_speedup(
                       fast["seconds_per_trial"], var_fast, naive, var_plain, same),
                   speedup_vs_naive_plain_is_lower_bound=plain["speedup_vs_naive_is_lower_bound"])
    if same:
        row["note"] = "no variance-reduced form: variance ratio 1"
    elif row["speedup_vs_batched_plain"] is None:
        row["note"] = "no spread in the fast form's trials: ratio undefined"
    if plain_only:
        row["note"] = "; ".join(filter(None, [row.get("note"), "plain at " + " ".join(
            f"{k}={v}" for k, v in plain_only.items())]))
    return row


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or not b > 0 else a / b


def bench_kernels(device: str, args: argparse.Namespace, chosen: list[Case], found: Mapping[str, Kernel],
                  notes: list[str], partial: Path | None = None) -> dict[str, Any]:
    """The matmul rate (best of a run before and one after the kernels), every kernel run and
    every estimator row on ``device``. With ``partial``, the runs done so far are written there
    as JSON after each one, and the estimator rows once all are done (a run cut short keeps what
    finished); :func:`main` removes the file once the device's full result is written."""
    rates, runs, rows = [matmul_rate(device)], runs_needed(chosen, found), []
    draw_runs = [draw_rates(device)]
    for index, case in enumerate(runs, 1):
        print(f"bench: {device} [{index}/{len(runs)}] {case.kernel} {case.shape()}", file=sys.stderr,
              flush=True)
        rows.append(bench_case(case, found[case.kernel], device, args))
        _write_partial(partial, {"device": device_name(device), "done": index, "of": len(runs),
                                 "matmul_gflops_runs": rates, "kernels": rows})
    rates.append(matmul_rate(device))
    draw_runs.append(draw_rates(device))
    rate, draw_rate = max(rates), {kind: max(r[kind] for r in draw_runs) for kind in draws.KINDS}
    for row in rows:
        if "error" in row:
            continue
        row["fraction_of_matmul"] = None if row["gflops"] is None else row["gflops"] / rate
        draw_seconds = draws.draw_seconds(row["draws_per_trial"], draw_rate)
        row["fraction_of_draw_rate"] = draw_seconds / row["seconds_per_trial"]
        row["fraction_of_hardware"] = (None if row["fraction_of_matmul"] is None
                                       else row["fraction_of_matmul"] + row["fraction_of_draw_rate"])
        if row["gflops"] is None:
            notes.append(f"{row['kernel']}: no flop count declared in bench/flops.py")
    batch, size = matmul_shape(device)
    out = {"matmul_gflops": rate, "matmul_gflops_runs": rates,
           "matmul_shape": f"batch {batch} of {size} x {size} float32",
           "draws_per_second": draw_rate, "draws_per_second_runs": draw_runs,
           "kernels": rows, "estimators": estimator_rows(chosen, rows)}
    _write_partial(partial, {"device": device_name(device), "done": len(runs), "of": len(runs), **out})
    return out


def _write_partial(path: Path | None, data: Mapping[str, Any]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report.finite(data), indent=1) + "\n")


def partial_path(out: str | Path, device: str) -> Path:
    """Where a device's runs are kept while its bench is under way."""
    return Path(out) / f"bench-{device_tag(device)}.partial.json"


def bench_verify(device: str, args: argparse.Namespace) -> dict[str, Any]:
    """``verify`` wall time per requested scale, and serial against Dask (unless skipped)."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as scratch:
        out["verify"] = verify_mod.verify_times(args.verify, device, Path(scratch))
        if not args.skip_dask:
            serial = next((v for v in out["verify"] if v["scale"] == args.dask_scale and "error" not in v),
                          None)
            out["dask"] = verify_mod.dask_comparison(args.dask_scale, device, Path(scratch), serial,
                                                     DASK_WORKERS)
    return out


def _load() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def bench_device(device: str, args: argparse.Namespace, chosen: list[Case], found: Mapping[str, Kernel],
                 notes: Sequence[str]) -> dict[str, Any]:
    """Everything measured on one device, as written to its JSON."""
    notes, load = list(notes), [_load()]
    result: dict[str, Any] = {
        "device": device_name(device), "device_tag": device_tag(device), "torch": torch.__version__,
        "threads": torch.get_num_threads(), "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "memory_method": measure.CUDA_MEMORY if device.startswith("cuda") else measure.CPU_MEMORY,
        "flops_source": "bench/flops.py (matrix products only, 2 per multiply-add)",
        "trials_requested": args.trials, "naive_budget_seconds": args.naive_budget}
    result.update(bench_kernels(device, args, chosen, found, notes, partial_path(args.out, device)))
    result.update(bench_verify(device, args))
    result["load_average"] = load + [_load()]
    result["notes"] = notes
    return result


def print_summary(result: Mapping[str, Any], paths: Iterable[Path]) -> None:
    print(report.markdown(result))
    for path in paths:
        print(f"written: {path}")


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        found = kernels()
        every, notes = cases_mod.collect(args.shapes, found)
        chosen = [c for c in every if matches(c, args.kernels)]
        if not chosen:
            names = ", ".join(sorted({c.kernel for c in every}))
            raise ParamError(f"kernels: {args.kernels!r} matches no benchmarked kernel or claim "
                             f"(kernels: {names})")
    except ParamError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    for device in args.devices:
        result = bench_device(device, args, chosen, found, notes)
        print_summary(result, report.write(result, Path(args.out)))
        partial_path(args.out, device).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
