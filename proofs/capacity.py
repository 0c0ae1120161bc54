"""Theorem 6 and appendix A.1: signal and noise power of Hebbian retrieval, the average-case SNR
and the linear capacity, derived exactly for each key distribution.

Probing ``S = sum_j k_j^T v_j`` with a stored key ``k_m`` returns
``r = ||k_m||^2 v_m + sum_{j != m} (k_m . k_j) v_j`` (eq 29): signal plus interference.
The paper (eq 33) approximates ``k_m . k_j ~ N(0, 1/d_k)``; here the expectations are exact.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from pavlov_theory.derivation import Derivation

from .vectors import d_k, d_v, key_moments, n

snr_min = sp.Symbol("snr_min", positive=True)


@lru_cache(maxsize=None)
def signal_noise(dist: str) -> Derivation:
    """Results ``signal_power``, ``noise_power``, ``snr``, ``raw_power`` (= E||r||^2) and the
    paper's ``paper_snr`` for keys from ``dist`` and values uniform on the unit sphere."""
    keys = key_moments(dist)
    sphere = key_moments("sphere")
    der = Derivation(f"signal and noise power, {dist} keys")
    v_norm2 = sp.Integer(1)  # values on the unit sphere
    v_cross = der.step(
        "E[v_i . v_j] = d_v E[v_ia] E[v_ja] = 0 for independent values",
        d_v * sphere.results["mean_coord"] ** 2, 0)
    signal = der.step(
        "P_S = E[||k_m||^4] E[||v_m||^2] (signal = ||k_m||^2 v_m, eq 30)",
        keys.results["norm4"] * v_norm2, keys.results["norm4"])
    cross_terms = (n - 1) * (n - 2) * v_cross
    noise = der.step(
        "P_N = (n-1) E[c^2] E||v||^2 + cross terms, which vanish (eqs 31-32)",
        (n - 1) * keys.results["cos2"] * v_norm2 + cross_terms, (n - 1) * keys.results["cos2"])
    snr = der.step("SNR = P_S / P_N", signal / noise, sp.simplify(signal / noise))
    paper = (d_k / (n - 1))
    der.result("signal_power", signal)
    der.result("noise_power", noise)
    der.result("snr", snr)
    der.result("raw_power", sp.simplify(signal + noise))
    der.result("paper_snr", paper)
    der.result("snr_over_paper", sp.simplify(snr / paper))
    return der


@lru_cache(maxsize=None)
def average_case(dist: str) -> Derivation:
    """Result ``capacity``: the largest load with ``SNR >= snr_min`` (eqs 34-35), solved from
    the exact SNR; ``paper_capacity`` is eq 35, ``1 + d_k / snr_min``."""
    snr = signal_noise(dist).results["snr"]
    der = Derivation(f"average-case capacity, {dist} keys")
    solutions = sp.solve(sp.Eq(snr, snr_min), n)
    if len(solutions) != 1:
        raise AssertionError(f"SNR = snr_min has {len(solutions)} solutions in n")
    capacity = solutions[0]
    der.step("SNR(capacity) = snr_min", snr.subs(n, capacity), snr_min)
    der.step("SNR decreases in n, so SNR > snr_min exactly when n < capacity",
             sp.sign(sp.diff(snr, n).subs(n, 2)), -1)
    der.result("capacity", capacity)
    der.result("paper_capacity", 1 + d_k / snr_min)
    der.result("capacity_over_paper_excess", sp.simplify((capacity - 1) / (d_k / snr_min)))
    return der
