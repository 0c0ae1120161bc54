"""Monte Carlo for Definition 7 (eq 17): retrieval from a decayed memory, lag by lag.

What is simulated: the retrieval ``k_m S_T`` of the item ``tau`` steps back splits into
``gamma^tau ||k_m||^2 v_m`` and ``sum_j gamma^(age_j) c_j v_j`` with ``c_j = k_m . k_j``. The keys
are drawn (in chunks of the stream, so memory does not grow with ``T``) and the coefficients
``c_j`` computed from them. The values are averaged out exactly: for independent unit values
with a sign-symmetric law, the noise power averaged over the values' signs is
``sum_j gamma^(2 age_j) c_j^2``, which is also the noise power when the values are orthonormal
(the naive form builds the memory that way, with eq 17's recurrence). Items older than the age
where ``gamma^(2 age)`` falls below float64's epsilon are not drawn: their total share of the
noise power is below 1e-16.

The kernel comes first (``KERNELS``); the claims are declared at the bottom (``CLAIMS``).
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch

from pavlov_theory import judges
from pavlov_theory.claims import BEYOND, Claim, Context, Param, Probe, Result
from pavlov_theory.engine import Kernel, Law, sample_until, sampled, to_numpy
from pavlov_theory.memory import recurrent_form
from pavlov_theory.params import D_K, GAMMA, KEY_DIST, SNR_MIN
from pavlov_theory.proofs import forgetting as proof
from pavlov_theory.sampling import sample
from pavlov_theory.stats import Interval

ORDER = 3
AGE_CHUNK = 2048  # stream items held in memory at once, whatever T
EPS64 = float(np.finfo(np.float64).eps)


def drawn_ages(params: Mapping[str, Any]) -> int:
    """How many of the newest items are drawn: all ``T``, or those whose weight
    ``gamma^(2 age)`` is at least float64's epsilon."""
    if params["gamma"] >= 1:
        return params["T"]
    negligible = math.ceil(math.log(EPS64) / (2 * math.log(params["gamma"])))
    return min(params["T"], max(params["tau"] + 1, negligible))


def _draws(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype):
    """The probe key (the item at lag ``tau``), then the other keys by age, chunk by chunk (the
    key drawn at age ``tau`` is replaced by the probe)."""
    probe = sample(params["key_dist"], (trials,), params["d_k"], gen, dtype)
    yield probe
    ages = drawn_ages(params)
    for start in range(0, ages, AGE_CHUNK):
        size = min(AGE_CHUNK, ages - start)
        yield start, sample(params["key_dist"], (trials, size), params["d_k"], gen, dtype)


def stream_powers(params: Mapping[str, Any], trials: int, gen: torch.Generator,
                  dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Per-trial signal power ``gamma^(2 tau) ||k_m||^4`` and noise power
    ``sum_{j != m} gamma^(2 age_j) (k_m . k_j)^2`` of the item ``tau`` steps back in a stream of
    ``T`` under decay ``gamma`` (values averaged out, see the module's docstring)."""
    draws = _draws(params, trials, gen, dtype)
    probe = next(draws)
    g, lag = params["gamma"], params["tau"]
    signal = g ** (2 * lag) * (probe.double() ** 2).sum(-1) ** 2
    noise = torch.zeros(trials, dtype=torch.float64, device=probe.device)
    for start, keys in draws:
        ages = torch.arange(start, start + keys.shape[1], device=probe.device, dtype=torch.float64)
        weight = torch.where(ages == lag, 0.0, g ** (2 * ages))
        coeff = (keys @ probe[:, :, None]).squeeze(-1).double()
        noise += (coeff**2 * weight).sum(-1)
    return to_numpy(signal), to_numpy(noise)


def stream_powers_naive(params: Mapping[str, Any], trials: int, gen: torch.Generator,
                        dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
    """The definition read literally: one trial at a time, the memory built by eq 17's recurrence
    (``memory.recurrent_form``) over the stream, oldest first, with orthonormal values (one basis
    vector per item), probed with the key at lag ``tau``; the coordinate of ``v_m`` is the
    signal, the rest the noise."""
    draws = _draws(params, trials, gen, dtype)
    probe = next(draws)
    by_age = torch.cat([keys for _, keys in draws], dim=1)  # [trial, age, d_k]
    lag, ages = params["tau"], by_age.shape[1]
    signal, noise = np.zeros(trials), np.zeros(trials)
    for t in range(trials):
        keys = by_age[t].clone()
        keys[lag] = probe[t]
        keys = keys.flip(0)  # time order: the oldest first, the newest (age 0) last
        values = torch.eye(ages, dtype=keys.dtype)
        queries = probe[t].expand(ages, -1)
        out = recurrent_form(queries, keys, values, params["gamma"])[-1]  # k_m S_T
        m = ages - 1 - lag
        signal[t] = float(out[m]) ** 2
        noise[t] = float((out**2).sum()) - signal[t]
    return signal, noise


STREAM = Kernel(
    "forgetting.stream_powers", stream_powers, stream_powers_naive,
    bytes_per_trial=lambda p, size: size * (p["d_k"] * (min(drawn_ages(p), AGE_CHUNK) + 1))
    + 24 * min(drawn_ages(p), AGE_CHUNK),
    example={"d_k": 5, "gamma": 0.8, "tau": 2, "T": 7, "key_dist": "gaussian"},
)

KERNELS = (STREAM,)


# ----------------------------------------------------------------------------- claims

def _stream(params: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """A kernel point: the claim's stream with ``changes`` (sphere keys unless stated)."""
    point = {"key_dist": "sphere", **{k: params[k] for k in ("d_k", "gamma", "tau", "T") if k in params}}
    return {**point, **changes}


def _shifted(ci: Interval, by: float) -> Interval:
    return Interval(ci.estimate - by, ci.lo - by, ci.hi - by, ci.n)


def measure_snr(params: Mapping[str, Any], ctx: Context) -> Result:
    """The SNR of the item ``tau`` back, sampled until the exact judge decides; at gamma = 1 the
    derived law is the Hebbian limit of the same formula."""
    name = "snr" if params["gamma"] < 1 else "snr_hebbian"
    limit = lambda values, der: ([{"name": "snr_limit", "value": der.evaluate("snr_limit", **values)}]
                                 if values["gamma"] < 1 else [])
    return sampled(Law(lambda p: proof.snr(p["key_dist"]), name), STREAM, "ratio", first=64,
                   evidence=limit)(params, ctx)


def side_of(ctx: Context, point: Mapping[str, Any], threshold: float) -> tuple[Interval, str]:
    """The measured SNR at ``point`` against ``threshold``: ``holds`` above it, ``fails`` below
    (the sign judge on SNR - threshold), sampled until one is decided."""
    return sample_until(ctx, point, STREAM, "ratio", lambda c: judges.sign(_shifted(c, threshold), 0.0), 64)


def measured_items(params: Mapping[str, Any], ctx: Context,
                   items: int) -> tuple[Interval, list[dict[str, Any]]]:
    """How many of the newest items have SNR >= snr_min, measured at the two lags around the
    derived count ``items`` (the SNR falls with the lag, proved in the derivation, so these two
    lags decide the count): an interval on the count and the evidence rows."""
    half, s, lo, hi, est = ctx.share(2), params["snr_min"], 0, params["T"], items
    rows = []
    for lag in (items - 1, items):
        if not 0 <= lag < params["T"]:
            continue
        ci, side = side_of(half, _stream(params, tau=lag), s)
        rows.append({"name": f"snr_at_lag_{lag}", "lag": lag, "value": ci.estimate, "ci": [ci.lo, ci.hi],
                     "trials": ci.n, "side": side})
        if lag == items - 1:
            lo, hi = (items, hi) if side == "holds" else (lo, items - 1) if side == "fails" else (lo, hi)
            est = est if ci.estimate >= s else items - 1
        else:
            lo, hi = ((max(lo, items + 1), hi) if side == "holds"
                      else (lo, min(hi, items)) if side == "fails" else (lo, hi))
            est = items + 1 if ci.estimate >= s and est == items else est
    return Interval(est, lo, hi, sum(r["trials"] for r in rows)), rows


def check_effective_capacity(params: Mapping[str, Any], ctx: Context) -> Result:
    """The measured count of items above snr_min, judged exact against the derived count."""
    der = proof.effective_capacity()
    theory = ctx.theory(der, "items", **params)
    ci, rows = measured_items(params, ctx, round(ctx.reference(der, "items", **params)))
    rows.append({"name": "items_limit", "value": ctx.reference(der, "items_limit", **params)})
    return Result(theory, ci.estimate, (ci.lo, ci.hi), judges.exact(theory, ci), ci.n, rows)


MEMORY_FACTOR = 2.0  # the neighbours of the optimum: memory length 1/(1 - gamma^2) halved and doubled


def check_optimal_decay(params: Mapping[str, Any], ctx: Context) -> Result:
    """(a) The SNR measured at the derived optimum is exact against the derived maximum; (b) the
    SNR at the decays whose memory length ``1/(1 - gamma^2)`` is halved and doubled is measurably
    lower: judged with the argmin judge on the measured 1/SNR over the three decays."""
    der, parts = proof.optimal_decay(), ctx.share(4)
    best = ctx.reference(der, "x_opt", **params)
    grid = [1 - (1 - best) * f for f in (MEMORY_FACTOR, 1.0, 1 / MEMORY_FACTOR)]  # x = gamma^2, rising
    at_best, verdict_best = sample_until(parts, _stream(params, gamma=math.sqrt(best)), STREAM, "ratio",
                                         lambda c: judges.exact(ctx.theory(der, "snr_opt", **params), c), 64)
    intervals = {1: at_best}
    for i in (0, 2):
        intervals[i], _ = sample_until(
            parts, _stream(params, gamma=math.sqrt(grid[i])), STREAM, "ratio",
            lambda c: judges.sign(Interval(at_best.estimate - c.estimate, at_best.lo - c.hi,
                                           at_best.hi - c.lo, c.n), 0.0), 64)
    nsr = [Interval(1 / c.estimate, 1 / c.hi, 1 / c.lo, c.n) for c in (intervals[i] for i in range(3))]
    gammas = [math.sqrt(g) for g in grid]
    theory = ctx.theory(der, "gamma_opt", **params)
    located, plausible = judges.argmin(theory, gammas, nsr)
    rows = [{"name": f"gamma={g:.6g}", "gamma": g, "snr": c.estimate, "ci": [c.lo, c.hi], "trials": c.n,
             "derived_snr": ctx.reference(proof.snr("sphere"), "snr", **_stream(params, gamma=g))}
            for g, c in zip(gammas, (intervals[i] for i in range(3)))]
    rows += [{"name": "gamma_limit", "value": ctx.reference(der, "gamma_limit", **params)},
             {"name": "snr_at_optimum", "verdict": verdict_best}, {"name": "located", "verdict": located}]
    best_measured = gammas[int(np.argmax([c.estimate for c in (intervals[i] for i in range(3))]))]
    return Result(theory, best_measured, (min(plausible), max(plausible)),
                  judges.combine([verdict_best, located]), sum(c.n for c in intervals.values()), rows)


def check_saturation(params: Mapping[str, Any], ctx: Context) -> Result:
    """Both halves of the statement over a sweep of stream lengths up to ``T``: under decay the
    measured count of items above snr_min equals the derived T -> infinity count at every T
    (fixed); without decay the SNR of every item is the derived d_k/(T - 1), falling below snr_min
    (saturation: no item is retrieved reliably once T > 1 + d_k/snr_min)."""
    der, lengths = proof.effective_capacity(), sweep_lengths(params["T"])
    parts = ctx.share(2 * len(lengths))
    fixed = ctx.theory(der, "items_limit", **params)
    rows, verdicts = [], []
    for length in lengths:
        point = {**params, "T": length}
        ci, _ = measured_items(point, parts, round(ctx.reference(der, "items_limit", **params)))
        verdicts.append(judges.exact(fixed, ci))
        rows.append({"name": f"decay T={length}", "T": length, "items": ci.estimate, "ci": [ci.lo, ci.hi],
                     "trials": ci.n, "verdict": verdicts[-1]})
        hebbian = {**_stream(point, gamma=1.0, tau=0)}
        law = ctx.theory(proof.snr("sphere"), "snr_hebbian", **hebbian)
        snr, verdict = sample_until(parts, hebbian, STREAM, "ratio", lambda c: judges.exact(law, c), 16)
        verdicts.append(verdict)
        rows.append({"name": f"hebbian T={length}", "T": length, "snr": snr.estimate, "ci": [snr.lo, snr.hi],
                     "trials": snr.n, "derived_snr": law, "verdict": verdict,
                     "hebbian_items": ctx.reference(der, "hebbian_items", **point)})
    last = next(r for r in reversed(rows) if r["name"].startswith("decay"))
    return Result(fixed, last["items"], tuple(last["ci"]), judges.combine(verdicts),
                  sum(r["trials"] for r in rows), rows)


def sweep_lengths(T_max: int) -> list[int]:
    """The stream lengths of the saturation sweep: T_max/100, T_max/10, T_max."""
    return [T_max // 100, T_max // 10, T_max]


TAU = Param("tau", int, 5, 0, 10**6, help="lag of the probed item (0 = the newest)")
T_PARAM = Param("T", int, 1000, 2, 10**6, help="stream length")
DECAY = GAMMA.but(default=0.95)


def lag_in_stream(p: Mapping[str, Any]) -> str | None:
    return f"tau: expected an integer in [0, {p['T'] - 1}] (a lag inside the stream of T = {p['T']})" \
        if p["tau"] >= p["T"] else None


def decaying(p: Mapping[str, Any]) -> str | None:
    return ("gamma: expected a number in (0, 1) here (at gamma = 1 every item has the same SNR: "
            "see forgetting.saturation)") if p["gamma"] >= 1 else None


def interior(p: Mapping[str, Any]) -> str | None:
    return (f"tau: expected an integer in [1, {(p['T'] - 1) / 2:g}) (below (T-1)/2 the best decay is "
            "inside (0, 1); at tau = 0 it is 0, above it is 1)") \
        if not 1 <= p["tau"] < (p["T"] - 1) / 2 else None


# (d_k, gamma, snr_min) whose derived crossing lag lies at least 4% in SNR from both neighbouring
# integer lags, so that a finite sample can tell the count
CROSSINGS = ((64, 0.9, 2.0), (64, 0.9, 4.0), (256, 0.8, 2.0), (256, 0.9, 1.0), (1024, 0.9, 4.0),
             (64, 0.95, 2.0), (256, 0.95, 1.0), (1024, 0.8, 2.0))


def _crossing_points(triples, lengths):
    return [{"d_k": d, "gamma": g, "snr_min": s, "T": t} for d, g, s in triples for t in lengths]


CLAIMS = (
    Claim(
        id="forgetting.snr_by_lag",
        paper_ref=f"{BEYOND} (Definition 7, eq 17: the SNR of the decayed memory)",
        statement="Under decay gamma, the item tau steps back in a stream of T has SNR "
                  "c gamma^(2 tau) / ((1 - gamma^(2T))/(1 - gamma^2) - gamma^(2 tau)), c = E||k||^4/E[c^2] "
                  "(d_k for sphere and Rademacher keys, d_k + 2 for Gaussian); gamma = 1 gives d_k/(T-1).",
        kind="exact",
        judge="exact",
        quantity="snr",
        params=(D_K, DECAY, TAU, T_PARAM, KEY_DIST),
        derive=lambda: [proof.snr(d) for d in ("sphere", "gaussian", "rademacher")],
        measure=measure_snr,
        grid={
            "ci": [{"d_k": 32, "gamma": 0.9, "tau": 3, "T": 200, "key_dist": k}
                   for k in ("sphere", "gaussian")]
            + [{"d_k": 64, "gamma": 0.99, "tau": 40, "T": 10**4},
               {"d_k": 64, "gamma": 1.0, "tau": 0, "T": 10**4}],
            "book": [{"d_k": 64, "gamma": g, "tau": t, "T": 1000} for g in (0.9, 0.98) for t in (0, 5, 20)]
            + [{"d_k": 64, "gamma": g, "tau": 5, "T": 1000, "key_dist": k}
               for k in ("gaussian", "rademacher") for g in (0.9, 0.98)]
            + [{"d_k": 64, "gamma": g, "tau": 30, "T": 10**5} for g in (0.99, 0.999, 1.0)],
            "paper": [{"d_k": d, "gamma": g, "tau": t, "T": T, "key_dist": k}
                      for k in ("sphere", "gaussian", "rademacher") for d in (16, 64, 256)
                      for g in (0.9, 0.99) for t in (0, 10, 50) for T in (100, 10**4)],
        },
        probe=Probe("theory", (1.02, 0.98), point={"d_k": 32, "gamma": 0.9, "tau": 3, "T": 200}),
        constraint=lag_in_stream,
    ),
    Claim(
        id="forgetting.effective_capacity",
        paper_ref=f"{BEYOND} (section 4.3: the effective capacity of eq 17)",
        statement="Under decay gamma < 1 the items with SNR >= snr_min are the newest ones, and there are "
                  "min(T, floor(tau_c) + 1) of them, tau_c = log(snr_min G/(d_k + snr_min)) / (2 log gamma), "
                  "G = (1 - gamma^(2T))/(1 - gamma^2) (sphere keys); as T grows it tends to a count "
                  "free of T.",
        kind="exact",
        judge="exact",
        quantity="items",
        params=(D_K, DECAY, SNR_MIN, T_PARAM),
        derive=proof.effective_capacity,
        measure=check_effective_capacity,
        grid={
            "ci": _crossing_points(CROSSINGS[0:1] + CROSSINGS[2:3], (1000,)),
            "book": _crossing_points(CROSSINGS[:5], (1000,)) + _crossing_points(CROSSINGS[4:5], (10**5,)),
            "paper": _crossing_points(CROSSINGS, (1000, 10**5)),
        },
        probe=Probe("theory", (1.02, 0.98)),
        constraint=decaying,
    ),
    Claim(
        id="forgetting.optimal_decay",
        paper_ref=f"{BEYOND} (section 4.3: 'gamma controls the trade-off between memory depth and "
                  "retrieval quality')",
        statement="The decay that maximises the SNR of the item tau back in a stream of T is the root above "
                  "tau/(tau+1) of sum_a (a - tau) gamma^(2a) = 0 (inside (0, 1) iff tau < (T-1)/2), "
                  "tending to sqrt(tau/(tau+1)) as T grows, whatever d_k; measured: the SNR at it is the "
                  "derived maximum "
                  "and the SNR with the memory length 1/(1 - gamma^2) halved or doubled is measurably lower.",
        kind="exact",
        judge="argmin",
        quantity="gamma",
        params=(D_K, TAU.but(default=10), T_PARAM),
        derive=proof.optimal_decay,
        measure=check_optimal_decay,
        grid={
            "ci": [{"d_k": 64, "tau": 10, "T": 1000}, {"d_k": 64, "tau": 10, "T": 30}],
            "book": [{"d_k": d, "tau": t, "T": T} for d in (32, 256)
                     for t, T in ((10, 30), (10, 1000), (60, 10**5))],
            "paper": [{"d_k": d, "tau": t, "T": T} for d in (32, 256, 1024) for t in (5, 20, 100)
                      for T in (3 * t, 10**5)],
        },
        probe=Probe("theory", (1.02, 0.98)),
        constraint=interior,
    ),
    Claim(
        id="forgetting.saturation",
        paper_ref="section 4.3, after eq 17 ('preventing memory saturation while maintaining a fixed "
                  "effective capacity')",
        statement="With decay the number of recent items above snr_min stays fixed as the stream grows "
                  "(T/100, T/10, T); plain Hebbian memory (gamma = 1) saturates: every item's SNR is "
                  "d_k/(T-1), "
                  "so beyond T = 1 + d_k/snr_min no item is retrieved reliably.",
        kind="exact",
        judge="exact",
        quantity="items",
        params=(D_K, DECAY, SNR_MIN, T_PARAM.but(default=10**4, low=200)),
        derive=proof.effective_capacity,
        measure=check_saturation,
        grid={
            "ci": [{"d_k": 64, "gamma": 0.9, "snr_min": 2.0, "T": 10**4}],
            "book": [{"d_k": 64, "gamma": 0.9, "snr_min": 2.0, "T": 10**5},
                     {"d_k": 256, "gamma": 0.8, "snr_min": 2.0, "T": 10**5}],
            "paper": _crossing_points(CROSSINGS, (10**5,)),
        },
        probe=Probe("theory", (1.02, 0.98)),
        constraint=decaying,
    ),
)
