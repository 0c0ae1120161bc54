"""Monte Carlo for Theorem 6: signal and noise power of Hebbian retrieval, and the capacity.

The claims of this section are declared at the bottom (``CLAIMS``).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from pavlov_theory.claims import Claim, Context, Outcome, Param
from pavlov_theory.device import rows_per_chunk
from pavlov_theory.montecarlo import dtype as ctx_dtype
from pavlov_theory.montecarlo import sequential_exact
from pavlov_theory.sampling import KEY_DISTS, pair_chunks
from pavlov_theory.stats import fit_power_law, ratio_of_means_ci
from pavlov_theory.claims import worst

from pavlov_theory.proofs import capacity as proof


def signal_noise_powers(
    trials: int,
    n: int,
    d_k: int,
    d_v: int,
    key_dist: str,
    gen: torch.Generator,
    dtype: torch.dtype = torch.float32,
    budget: int = 256 * 2**20,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-trial mean signal and noise power when each of ``n`` stored keys probes its memory.

    For probe ``k_m`` the signal is ``||k_m||^2 v_m`` and the noise is the rest of ``k_m S``
    (eq 29). Returns two float64 arrays of length ``trials`` (powers averaged over the ``n``
    probes of a trial). Peak memory stays near ``budget`` bytes whatever ``n``.
    """
    size = torch.finfo(dtype).bits // 8
    item_bytes = (d_k + 3 * d_v) * size
    chunk = min(n, rows_per_chunk(item_bytes, budget))
    per_trial = item_bytes * chunk + d_k * d_v * size
    batch = rows_per_chunk(per_trial, budget)
    device = gen.device
    signal, noise = [], []
    for start in range(0, trials, batch):
        t = min(batch, trials - start)
        seed = int(torch.randint(0, 2**62, (1,), generator=gen, device=device).item())
        S = torch.zeros((t, d_k, d_v), device=device, dtype=dtype)
        for keys, values in pair_chunks(seed, t, n, chunk, d_k, d_v, key_dist, str(device), dtype):
            S += keys.transpose(1, 2) @ values
        sig = torch.zeros(t, device=device, dtype=torch.float64)
        noi = torch.zeros(t, device=device, dtype=torch.float64)
        for keys, values in pair_chunks(seed, t, n, chunk, d_k, d_v, key_dist, str(device), dtype):
            norm2 = (keys * keys).sum(-1, keepdim=True)
            wanted = norm2 * values
            interference = keys @ S - wanted
            sig += (wanted * wanted).sum((1, 2)).double()
            noi += (interference * interference).sum((1, 2)).double()
        signal.append((sig / n).cpu().numpy())
        noise.append((noi / n).cpu().numpy())
    return np.concatenate(signal), np.concatenate(noise)


# ----------------------------------------------------------------------------- claims

D_K = Param("d_k", int, 256, 2, 65536, help="key dimension")
D_V = Param("d_v", int, 64, 1, 65536, help="value dimension (values on the unit sphere)")
N = Param("n", int, 64, 2, 10**6, help="stored CS-US pairs")
KEY_DIST = Param("key_dist", str, "sphere", choices=KEY_DISTS, help="key distribution")
SNR_MIN = Param("snr_min", float, 4.0, 1e-3, 1e6, help="required signal-to-noise ratio")


def measure_snr(claim_id: str, params: Mapping[str, Any], ctx: Context, theory: float):
    """Sequentially estimate P_S / P_N at ``params`` and judge it against ``theory``."""

    def draw(gen, size):
        return signal_noise_powers(size, params["n"], params["d_k"], params["d_v"], params["key_dist"],
                                   gen, ctx_dtype(ctx), ctx.memory_budget)

    return sequential_exact(claim_id, params, ctx, theory, draw,
                            interval=lambda x, a: ratio_of_means_ci(x[0], x[1], a), first=64)


def check_noise_power(params: Mapping[str, Any], ctx: Context) -> Outcome:
    der = proof.signal_noise(params["key_dist"])
    theory = der.evaluate("snr", **params) * ctx.theory_factor
    paper = der.evaluate("paper_snr", **params)
    ci, verdict = measure_snr("capacity.noise_power", params, ctx, theory)
    return Outcome("capacity.noise_power", "snr", dict(params), theory, ci.estimate, (ci.lo, ci.hi),
                   verdict, ci.n, ctx.seed, ctx.device,
                   evidence=[{"name": "paper_snr", "value": paper,
                              "paper_in_ci": bool(ci.lo <= paper <= ci.hi)}])


def check_average_case(params: Mapping[str, Any], ctx: Context) -> Outcome:
    """Measure the SNR at the load nearest the derived capacity and read the capacity off it:
    ``capacity = 1 + (n0 - 1) SNR(n0) / snr_min`` (exact when SNR is proportional to 1/(n-1))."""
    der = proof.average_case(params["key_dist"])
    theory = der.evaluate("capacity", **params) * ctx.theory_factor
    n0 = max(2, int(round(der.evaluate("capacity", **params))))
    point = {**params, "n": n0}
    snr_theory = (theory - 1) * params["snr_min"] / (n0 - 1)
    ci, verdict = measure_snr("capacity.average_case", point, ctx, snr_theory)
    to_capacity = lambda snr: 1 + (n0 - 1) * snr / params["snr_min"]
    return Outcome("capacity.average_case", "capacity", dict(params), theory, to_capacity(ci.estimate),
                   (to_capacity(ci.lo), to_capacity(ci.hi)), verdict, ci.n, ctx.seed, ctx.device,
                   evidence=[{"name": "paper_capacity", "value": der.evaluate("paper_capacity", **params)},
                             {"name": "probe_load", "value": n0}])


def _grid_noise(dims, loads, dists):
    return [{"d_k": d, "n": max(2, int(load * d)), "key_dist": dist}
            for dist in dists for d in dims for load in loads]


CLAIMS = (
    Claim(
        id="capacity.noise_power",
        paper_ref="Theorem 6, appendix A.1.1, eqs 30-34",
        statement="Probing with a stored key, signal power over noise power is d_k/(n-1); "
                  "derived exactly per key distribution (gaussian keys give (d_k+2)/(n-1)).",
        kind="exact",
        quantity="snr",
        params=(D_K, D_V, N, KEY_DIST),
        derive=lambda: [proof.signal_noise(d) for d in KEY_DISTS],
        check=check_noise_power,
        grid={
            "ci": _grid_noise((16, 64), (0.25, 2.0), KEY_DISTS),
            "book": _grid_noise((16, 64, 256, 1024), (0.25, 1.0, 4.0), KEY_DISTS),
            "paper": _grid_noise((16, 64, 256, 1024, 4096), (0.25, 1.0, 4.0, 16.0), KEY_DISTS),
        },
    ),
    Claim(
        id="capacity.average_case",
        paper_ref="Theorem 6 (1), eqs 34-35",
        statement="Requiring SNR > snr_min allows n < 1 + d_k/snr_min pairs: capacity linear in d_k.",
        kind="exact",
        quantity="capacity",
        params=(D_K, D_V, KEY_DIST, SNR_MIN),
        derive=lambda: [proof.average_case(d) for d in KEY_DISTS],
        check=check_average_case,
        grid={
            "ci": [{"d_k": d, "snr_min": 4.0, "key_dist": k} for k in ("sphere", "gaussian") for d in (16, 64)],
            "book": [{"d_k": d, "snr_min": g, "key_dist": k} for k in KEY_DISTS
                     for d in (16, 64, 256, 1024) for g in (2.0, 8.0)],
            "paper": [{"d_k": d, "snr_min": g, "key_dist": k} for k in KEY_DISTS
                      for d in (16, 64, 256, 1024, 4096) for g in (1.0, 4.0, 16.0)],
        },
    ),
)
