"""Deliberately plain reference implementations: one trial, one item, one load at a time.

They follow the paper's definitions literally (build ``S`` as a sum of outer products, probe
it, subtract the wanted value) so the batched simulations can be tested against them on the
same samples, and so ``bench/run.py`` can say how much the batching buys.
"""
from __future__ import annotations

import numpy as np


def association(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``S = sum_i k_i^T v_i`` for one trial, one outer product at a time."""
    S = np.zeros((keys.shape[1], values.shape[1]))
    for k, v in zip(keys, values):
        S += np.outer(k, v)
    return S


def noise_curves(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each trial and each load ``n``: the largest noise power over the ``n`` stored items,
    and the first item's, by rebuilding the memory at every load. ``keys``: ``(trials, N, d_k)``,
    ``values``: ``(trials, N, d_v)``. Returns two ``(trials, N)`` arrays."""
    trials, N, _ = keys.shape
    largest, first = np.zeros((trials, N)), np.zeros((trials, N))
    for t in range(trials):
        for load in range(1, N + 1):
            S = association(keys[t, :load], values[t, :load])
            powers = []
            for m in range(load):
                k = keys[t, m]
                noise = k @ S - (k @ k) * values[t, m]
                powers.append(float(noise @ noise))
            largest[t, load - 1], first[t, load - 1] = max(powers), powers[0]
    return largest, first


def chain(layers: list[np.ndarray], residual: bool = False) -> np.ndarray:
    """Probe a chain of layers with ``layers[0][0]``; layer ``l`` stores ``layers[l-1] -> layers[l]``
    (each ``(n, d)``). Returns the retrieval after the last layer."""
    r = layers[0][0].copy()
    for previous, current in zip(layers[:-1], layers[1:]):
        out = r @ association(previous, current)
        r = r + out if residual else out
    return r
