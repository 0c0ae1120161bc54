"""Device, dtype and chunk sizes: cuda when present, else cpu; chunks bounded by a memory budget."""
from __future__ import annotations

import torch

from .params import ParamError

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(name: str | None = "auto") -> str:
    """``auto`` picks cuda when available, else cpu. Asking for cuda without one is an error."""
    name = name or "auto"
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return name
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ParamError(f"device: {name!r} requested but no CUDA device is available (use cpu or auto)")
        return name
    raise ParamError(f"device: expected one of auto, cpu, cuda, got {name!r}")


def resolve_dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise ParamError(f"dtype: expected one of {', '.join(DTYPES)}, got {name!r}")
    return DTYPES[name]


def default_budget(device: str) -> int:
    """Bytes a single simulation chunk may occupy: 256 MiB on cpu, 4 GiB on a GPU."""
    return 4 * 2**30 if device.startswith("cuda") else 256 * 2**20


# A check's chunks are sized to the budget from each kernel's own count of bytes per trial, but the
# kernels' temporaries take more: on an H200 the bench measured peaks of up to 3.3 times the budget
# (torch.cuda.max_memory_allocated; capacity.signal_noise_powers at d_k = 1024, n = 4096, a book
# shape; paper shapes were not benched, and the CUDA context and the allocator's cache come on top).
# Each process that shares a GPU with others is counted this many budgets of its memory: a margin
# over that one measurement, not a bound.
PEAK_PER_BUDGET = 4


def processes_per_gpu(device: str) -> int:
    """How many processes checking points can share the memory of the GPU ``device`` (at least 1),
    each counted :data:`PEAK_PER_BUDGET` chunk budgets."""
    total = torch.cuda.get_device_properties(torch.device(device)).total_memory
    return max(1, int(total // (PEAK_PER_BUDGET * default_budget(device))))


def rows_per_chunk(bytes_per_row: int, budget: int) -> int:
    """How many rows (trials or items) fit in ``budget`` bytes; at least one."""
    return max(1, int(budget // max(1, bytes_per_row)))
