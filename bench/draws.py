"""Random draws: how many a kernel consumes per trial, and how fast the device makes them.

A kernel whose trial does few multiply-adds per random number cannot reach the matmul rate: its
floor is the time the generator takes to make its draws. ``bench.run`` therefore reports, beside
each kernel's fraction of the matmul rate, its fraction of the draw rate: the seconds its draws
would take at the device's own rate for that kind of draw (measured in the same run) over the
kernel's seconds (``bench.run.draw_rates`` times the draws). The two fractions add up to the share
of the kernel's time that the hardware's two limits account for; near 1, only fewer draws or fewer
flops per trial would make it faster.

Draws are counted, not declared: every torch function through which the kernels consume a generator
is wrapped while the kernel runs once, and the elements each returns are added up."""
from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any, Callable, Iterator, Mapping

import torch

# the torch functions through which the kernels draw (``pavlov_theory.sampling`` and the sections)
KINDS = ("randn", "rand", "randint", "_standard_gamma", "binomial")
GAMMA_SHAPE = 8.0  # shape parameter of the gamma draws timed (the kernels draw chi-square halves)
BINOMIAL_COUNT = 64.0  # trials of the binomial draws timed (the kernels draw Binomial(d_k, 1/2))


@contextlib.contextmanager
def counting() -> Iterator[Counter]:
    """Within the block, count the elements drawn through each of :data:`KINDS`."""
    counts: Counter = Counter()
    originals = {kind: getattr(torch, kind) for kind in KINDS}

    def wrap(kind: str, fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        def counted(*args: Any, **kwargs: Any) -> torch.Tensor:
            out = fn(*args, **kwargs)
            counts[kind] += out.numel()
            return out
        return counted

    try:
        for kind, fn in originals.items():
            setattr(torch, kind, wrap(kind, fn))
        yield counts
    finally:
        for kind, fn in originals.items():
            setattr(torch, kind, fn)


def draw(kind: str, size: int, gen: torch.Generator) -> torch.Tensor:
    """``size`` draws of ``kind`` from ``gen`` (float32 where the kind has a dtype), at the fixed
    gamma shape and binomial count the rates are timed at."""
    device = gen.device
    if kind == "randint":
        return torch.randint(0, 2, (size,), generator=gen, device=device)
    if kind == "_standard_gamma":
        return torch._standard_gamma(torch.full((size,), GAMMA_SHAPE, device=device), generator=gen)
    if kind == "binomial":
        return torch.binomial(torch.full((size,), BINOMIAL_COUNT, device=device),
                              torch.full((size,), 0.5, device=device), generator=gen)
    return getattr(torch, kind)((size,), generator=gen, device=device)


def draw_seconds(per_trial: Mapping[str, float], rates: Mapping[str, float]) -> float:
    """Seconds per trial that a trial's draws take at the device's rates."""
    return sum(count / rates[kind] for kind, count in per_trial.items())
