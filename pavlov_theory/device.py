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


def rows_per_chunk(bytes_per_row: int, budget: int) -> int:
    """How many rows (trials or items) fit in ``budget`` bytes; at least one."""
    return max(1, int(budget // max(1, bytes_per_row)))
