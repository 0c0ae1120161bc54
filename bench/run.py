"""Throughput of the batched kernels against the device's matmul rate and the plain reference.

    python -m bench.run [--device cpu|cuda] [--trials N] [--verify ci|book|paper] [--out PATH]

Prints one row per kernel: seconds, GFLOP/s, the fraction of the device's own float32 matmul
rate, and how many times faster than ``bench/reference.py`` on the same work per trial.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from typing import Callable

import torch

from pavlov_theory.device import resolve_device
from pavlov_theory.sampling import generator, sample
from pavlov_theory.simulations import capacity, conditioning

from . import reference


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


def bench_noise_curves(device: str, trials: int, n_max: int = 64, d_k: int = 64, d_v: int = 64) -> dict:
    gen = generator(0, device)
    seconds = _timed(lambda: capacity.noise_curves(trials, n_max, d_k, d_v, "sphere", gen), device)
    flops = trials * (2 * n_max**2 * (d_k + d_v) + 2 * n_max**3)
    few = 2
    keys = sample("sphere", (few, n_max), d_k, generator(1, "cpu"), torch.float64).numpy()
    values = sample("sphere", (few, n_max), d_v, generator(2, "cpu"), torch.float64).numpy()
    start = time.perf_counter()
    reference.noise_curves(keys, values)
    ref_per_trial = (time.perf_counter() - start) / few
    return {"kernel": "capacity.noise_curves", "shape": f"trials={trials} n={n_max} d_k={d_k} d_v={d_v}",
            "seconds": seconds, "gflops": flops / seconds / 1e9, "speedup_vs_reference": ref_per_trial * trials / seconds}


def bench_chain(device: str, trials: int, L: int = 4, n: int = 32, d_k: int = 64) -> dict:
    gen = generator(0, device)
    seconds = _timed(lambda: conditioning.chain_retrievals(trials, L, n, d_k, "sphere", gen, torch.float32), device)
    flops = trials * L * 4 * n * d_k**2
    few = 20
    layers = [[sample("sphere", (n,), d_k, generator(i, "cpu"), torch.float64).numpy() for i in range(L + 1)]
              for _ in range(few)]
    start = time.perf_counter()
    for chain_layers in layers:
        for _ in range(n):  # the batched form probes all n starts of each chain
            reference.chain(chain_layers)
    ref_per_trial = (time.perf_counter() - start) / few
    return {"kernel": "conditioning.chain_retrievals", "shape": f"trials={trials} L={L} n={n} d_k={d_k}",
            "seconds": seconds, "gflops": flops / seconds / 1e9, "speedup_vs_reference": ref_per_trial * trials / seconds}


def verify_seconds(scale: str, device: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pavlov_theory.cli", "verify", "--scale", scale, "--device", device],
                   check=True, stdout=subprocess.DEVNULL, env={**os.environ, "TQDM_DISABLE": "1"})
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--trials", type=int, default=2000, help="trials per kernel call (>= 1)")
    parser.add_argument("--verify", choices=["ci", "book", "paper"], help="also time a whole verify at this scale")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.trials < 1:
        print(f"bench: --trials: expected an integer >= 1, got {args.trials}", file=sys.stderr)
        return 2
    device = resolve_device(args.device)
    rate = matmul_rate(device)
    rows = [bench_noise_curves(device, args.trials), bench_chain(device, args.trials)]
    name = torch.cuda.get_device_name() if device == "cuda" else f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)"
    print(f"device: {name}; float32 matmul {rate:.1f} GFLOP/s")
    print(f"{'kernel':32} {'shape':36} {'seconds':>8} {'GFLOP/s':>8} {'of matmul':>9} {'x reference':>11}")
    for row in rows:
        row["fraction_of_matmul"] = row["gflops"] / rate
        print(f"{row['kernel']:32} {row['shape']:36} {row['seconds']:8.3f} {row['gflops']:8.1f} "
              f"{row['fraction_of_matmul']:9.2f} {row['speedup_vs_reference']:11.0f}")
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
