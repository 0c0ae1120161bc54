"""The one comparison the tests use between a fast form and its reference."""
from __future__ import annotations

from typing import Any

import numpy as np


def assert_close(name: str, ref: Any, got: Any, tol: float) -> None:
    """Fail unless ``got`` matches ``ref`` within ``tol``, relative to the reference's largest
    magnitude (absolute when the reference is all zeros); the message names the comparison."""
    ref = np.asarray(ref.detach().cpu() if hasattr(ref, "detach") else ref, dtype=np.float64)
    got = np.asarray(got.detach().cpu() if hasattr(got, "detach") else got, dtype=np.float64)
    if ref.shape != got.shape:
        raise AssertionError(f"{name}: shape {got.shape} != reference {ref.shape}")
    scale = max(float(np.abs(ref).max(initial=0.0)), 1.0 if not ref.any() else 0.0)
    error = float(np.abs(got - ref).max(initial=0.0)) / scale
    if not error <= tol:
        raise AssertionError(f"{name}: relative deviation {error:.3g} exceeds {tol:.3g}")


def assert_same_mean(name: str, a: Any, b: Any, sigmas: float = 5.0) -> None:
    """Fail unless the means of independent samples ``a`` and ``b`` lie within ``sigmas`` standard
    errors of their difference (plus rounding, for constant samples): a variance-reduced kernel
    against the plain one it replaces."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    se = float(np.sqrt(a.var() / a.size + b.var() / b.size))
    if not abs(a.mean() - b.mean()) <= sigmas * se + 1e-12:
        raise AssertionError(f"{name}: {a.mean()} vs {b.mean()} (se {se})")
