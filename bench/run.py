"""Throughput of the batched kernels against the device's matmul rate and their naive forms.

    python -m bench.run [--device cpu|cuda] [--trials N] [--verify ci|book|paper] [--out PATH]

Prints one row per benchmarked kernel: seconds, GFLOP/s, the fraction of the device's own float32
matmul rate in the same run, and how many times faster than the kernel's naive reference (the
plain loops tests compare it with) on the same work per trial.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from typing import Any, Callable, Mapping

import torch

from pavlov_theory.claims import section_modules
from pavlov_theory.device import resolve_device
from pavlov_theory.engine import Kernel
from pavlov_theory.sampling import generator

# kernel name -> (parameters, floating-point operations per trial)
BENCHES: dict[str, tuple[dict[str, Any], Callable[[Mapping[str, Any]], float]]] = {
    "capacity.noise_curves": (
        {"n": 64, "d_k": 64, "d_v": 64, "key_dist": "sphere", "delta": 0.5},
        lambda p: 2 * p["n"] ** 2 * (p["d_k"] + p["d_v"]) + 2 * p["n"] ** 3),
    "conditioning.chain": (
        {"L": 4, "n": 32, "d_k": 64, "key_dist": "sphere"},
        lambda p: p["L"] * 4 * p["n"] ** 2 * p["d_k"]),
}
NAIVE_TRIALS = 2


def kernels() -> dict[str, Kernel]:
    return {k.name: k for module in section_modules() for k in getattr(module, "KERNELS", ())}


def _timed(fn: Callable[[], object], device: str, repeats: int = 3) -> float:
    """Best wall time of ``repeats`` calls, in seconds (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_rate(device: str, size: int = 1024, batch: int = 8) -> float:
    """The device's float32 batched matmul rate in GFLOP/s."""
    a = torch.randn(batch, size, size, device=device)
    seconds = _timed(lambda: a @ a, device)
    return 2 * batch * size**3 / seconds / 1e9


def bench_kernel(kernel: Kernel, params: Mapping[str, Any], flops: float, device: str, trials: int) -> dict:
    """Seconds and GFLOP/s of ``trials`` trials of ``kernel``, and its speed-up over the naive form."""
    params = {**kernel.example, **params}
    seconds = _timed(lambda: kernel.fn(params, trials, generator(0, device), torch.float32), device)
    start = time.perf_counter()
    kernel.naive(params, NAIVE_TRIALS, generator(0, "cpu"), torch.float64)
    naive_per_trial = (time.perf_counter() - start) / NAIVE_TRIALS
    shape = " ".join(f"{k}={v}" for k, v in params.items() if not isinstance(v, str))
    return {"kernel": kernel.name, "shape": f"trials={trials} {shape}", "seconds": seconds,
            "gflops": flops * trials / seconds / 1e9, "speedup_vs_naive": naive_per_trial * trials / seconds}


def verify_seconds(scale: str, device: str) -> float:
    start = time.perf_counter()
    command = [sys.executable, "-m", "pavlov_theory.cli", "verify", "--scale", scale, "--device", device]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "TQDM_DISABLE": "1"})
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--trials", type=int, default=2000, help="trials per kernel call (>= 1)")
    parser.add_argument("--verify", choices=["ci", "book", "paper"],
                        help="also time a whole verify at this scale")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.trials < 1:
        print(f"bench: --trials: expected an integer >= 1, got {args.trials}", file=sys.stderr)
        return 2
    device = resolve_device(args.device)
    rate = matmul_rate(device)
    found = kernels()
    rows = [bench_kernel(found[name], params, flops({**found[name].example, **params}), device, args.trials)
            for name, (params, flops) in BENCHES.items()]
    name = (torch.cuda.get_device_name() if device == "cuda"
            else f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)")
    print(f"device: {name}; float32 matmul {rate:.1f} GFLOP/s")
    print(f"{'kernel':28} {'shape':44} {'seconds':>8} {'GFLOP/s':>8} {'of matmul':>9} {'x naive':>9}")
    for row in rows:
        row["fraction_of_matmul"] = row["gflops"] / rate
        print(f"{row['kernel']:28} {row['shape']:44} {row['seconds']:8.3f} {row['gflops']:8.1f} "
              f"{row['fraction_of_matmul']:9.2f} {row['speedup_vs_naive']:9.0f}")
    result = {"device": name, "matmul_gflops": rate, "kernels": rows}
    if args.verify:
        result["verify_seconds"] = {args.verify: verify_seconds(args.verify, device)}
        print(f"verify --scale {args.verify}: {result['verify_seconds'][args.verify]:.1f} s")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
