"""One kernel at one shape, in a process of its own, so that its peak memory is its own.

    python -m bench.measure '{"kernel": ..., "params": {...}, "trials": N, "device": ..., ...}'

Runs the batched kernel once cold (its peak memory is read after this call, its random draws
counted during it, :mod:`bench.draws`), then ``repeats`` timed calls (the best is kept), then its
naive reference on the CPU in float64, on doubling numbers of trials until the calls add up to
``naive_min_seconds`` or the next would pass ``naive_budget`` seconds; a naive call still running
at the budget is stopped, and the budget then bounds its time per trial from below. Prints one
line, ``RESULT`` and a JSON object.

Peak memory: on cuda ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``; on
the CPU the rise of this process's peak resident set (``getrusage(RUSAGE_SELF).ru_maxrss``) from
its level after the imports, before the kernel's first call.
"""
from __future__ import annotations

import importlib
import json
import signal
import sys
import time
from typing import Any, Mapping

import torch

from bench import draws, estimators
from pavlov_theory.engine import Kernel
from pavlov_theory.sampling import generator

MARK = "RESULT "
CPU_MEMORY = "rise of the process's peak RSS (getrusage RUSAGE_SELF ru_maxrss) over its level after imports"
CUDA_MEMORY = "torch.cuda.max_memory_allocated after reset_peak_memory_stats"


def find_kernel(name: str) -> Kernel:
    """The kernel registered as ``name`` in its section's ``KERNELS`` (only that section is imported)."""
    module = importlib.import_module(f"pavlov_theory.simulations.{name.split('.')[0]}")
    for kernel in getattr(module, "KERNELS", ()):
        if kernel.name == name:
            return kernel
    raise KeyError(f"{name}: not in its section's KERNELS")


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak_rss_bytes() -> int:
    import resource

    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is in bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def batched(kernel: Kernel, params: Mapping[str, Any], trials: int, device: str, repeats: int) -> dict:
    """Cold call (peak memory, per-trial variances), then the best of ``repeats`` calls, in seconds."""
    call = lambda: kernel.fn(params, trials, generator(0, device), torch.float32)
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    before = 0 if cuda else _peak_rss_bytes()
    _sync(device)
    start = time.perf_counter()
    with draws.counting() as counts:
        outputs = call()
    _sync(device)
    cold = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) if cuda else _peak_rss_bytes() - before
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        call()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return {"seconds": best, "cold_seconds": cold, "peak_memory_bytes": int(peak),
            "draws_per_trial": {kind: n / trials for kind, n in sorted(counts.items())},
            "memory_method": CUDA_MEMORY if cuda else CPU_MEMORY,
            "variances": estimators.variances(kernel.name, outputs, params)}


class _OverBudget(Exception):
    pass


def _raise_over_budget(signum: int, frame: Any) -> None:
    raise _OverBudget


def naive(kernel: Kernel, params: Mapping[str, Any], budget: float, min_seconds: float = 0.5) -> dict:
    """Seconds per trial of the naive reference (CPU, float64): the last completed call of 1, 2,
    4, ... trials; if even one trial outlasts ``budget`` seconds, ``budget`` as a lower bound."""
    signal.signal(signal.SIGALRM, _raise_over_budget)
    spent, trials, last = 0.0, 1, None
    try:
        while spent < min_seconds:
            left = budget - spent
            if last is not None and last["seconds_per_trial"] * trials > left:
                break
            signal.setitimer(signal.ITIMER_REAL, left)
            start = time.perf_counter()
            kernel.naive(params, trials, generator(0, "cpu"), torch.float64)
            seconds = time.perf_counter() - start
            signal.setitimer(signal.ITIMER_REAL, 0)
            spent += seconds
            last = {"seconds_per_trial": seconds / trials, "trials": trials, "lower_bound": False}
            trials *= 2
    except _OverBudget:
        if last is None:
            last = {"seconds_per_trial": budget, "trials": 1, "lower_bound": True}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return last


def measure(request: Mapping[str, Any]) -> dict:
    """Everything ``bench.run`` records of one kernel at one shape (see the module's docstring)."""
    kernel = find_kernel(request["kernel"])
    params = request["params"]  # as the check draws it: the example's extra keys would change the draws
    result = batched(kernel, params, request["trials"], request["device"], request.get("repeats", 3))
    if request.get("naive_budget", 0) > 0:
        result["naive"] = naive(kernel, params, request["naive_budget"])
    return result


def main(argv: list[str] | None = None) -> int:
    request = json.loads((argv if argv is not None else sys.argv[1:])[0])
    print(MARK + json.dumps(measure(request)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
