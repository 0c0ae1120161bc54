"""Glue between a claim's simulation and the judging rules: seeded batches, sequential sampling."""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
import torch

from .claims import Context
from .device import resolve_dtype
from .sampling import derive_seed, generator
from .stats import Interval, judge_exact, mean_ci, sequential

Draw = Callable[[torch.Generator, int], tuple[np.ndarray, ...]]


def batch_generator(ctx: Context, claim_id: str, params: Mapping[str, Any], index: int) -> torch.Generator:
    """The generator for batch ``index`` of one check: independent across claims, points, batches."""
    return generator(derive_seed(ctx.seed, claim_id, sorted(params.items()), index), ctx.device)


def dtype(ctx: Context) -> torch.dtype:
    return resolve_dtype(ctx.dtype)


def sequential_exact(
    claim_id: str,
    params: Mapping[str, Any],
    ctx: Context,
    theory: float,
    draw: Draw,
    interval: Callable[[tuple[np.ndarray, ...], float], Interval] = lambda x, a: mean_ci(x[0], a),
    first: int = 256,
) -> tuple[Interval, str]:
    """Sample until the exact-claim judge decides ``theory`` against the estimate's interval.

    The interval is widened by a rounding floor of ``1000 eps`` of the dtype (relative), so an
    estimate with no sampling variance is not failed for float rounding; the floor is far below
    the 2% error the judge must detect."""
    floor = 1e3 * eps(ctx) * abs(theory)
    widen = lambda ci: Interval(ci.estimate, ci.lo - floor, ci.hi + floor, ci.n)
    return sequential(
        lambda index, size: draw(batch_generator(ctx, claim_id, params, index), size),
        lambda samples, level: widen(interval(samples, level)),
        lambda ci: judge_exact(theory, ci),
        ctx.alpha,
        first,
        ctx.max_trials,
    )


def eps(ctx: Context) -> float:
    return float(torch.finfo(dtype(ctx)).eps)
