"""Monte Carlo for Definition 7 (eq 17): retrieval from a decayed memory, lag by lag.

What is simulated: the retrieval ``k_m S_T`` of the item ``tau`` steps back splits into
``gamma^tau ||k_m||^2 v_m`` and ``sum_j gamma^(age_j) c_j v_j`` with ``c_j = k_m . k_j``. The keys
are drawn, in chunks of the stream so memory does not grow with ``T``. With ``d_v > 0`` the
values (independent unit vectors of dimension ``d_v``) are drawn too and the noise vector is
summed: the measured noise power ``||sum_j gamma^(age_j) c_j v_j||^2`` holds the value cross terms
``c_j c_l v_j . v_l``, so ``E[v_j . v_l] = 0`` is sampled, not assumed. With ``d_v = 0`` the noise
power is its conditional expectation given the keys (Rao-Blackwellised): the values are
independent of the keys with ``E[v_j . v_l] = delta_jl`` (independent, mean 0, unit norm), so
``E[noise | keys] = sum_j gamma^(2 age_j) c_j^2``, the same mean with less variance and no values
to draw. The grids draw the values at one point per scale, which keeps the cross terms tested.

Each stream (one trial) is read out with PROBES independent probe keys, each put in turn at lag
``tau`` among the stream's other keys and values: every (probe, stream) pair is a stream of the
claim's law, so the trial's mean over its probes has the same expectation as one readout, the
trials stay independent, and the probes' share of the variance falls by up to PROBES for the
cost of one matrix product (the keys, the costly draws, are shared).

The cosine kernels (:data:`PROBE_STREAM`, :data:`PROBE_CONTRAST`) read each stream with one
probe key ``k_m`` and draw, instead of the keys, only what the readout depends on: ``||k_m||^2``
and the cosines ``c_j = k_m . k_j`` with the stream's other keys, from their exact law given the
probe (``sampling.probe_cosines``: for sphere keys a coordinate of a uniform unit vector, for
Gaussian keys ``N(0, ||k_m||^2 / d_k)`` given the probe, for Rademacher keys the mean of ``d_k``
random signs). The other keys are independent of each other and of the probe, so given the
probe the ``c_j`` are independent with that law, and the powers above are functions of
``||k_m||``, the ``c_j`` and the values only: each trial has the law of one probe of the
PROBES-probe kernel, at ``O(T)`` a trial (``O(T d_v)`` with values) instead of ``O(T d_k)``. The
contrast reads the same cosines (and values) under both decays.

What is not sampled: the signal power uses ``||v_m|| = 1`` (unit values by construction), and
items older than the age where ``gamma^(2 age)`` falls to float64's epsilon are not drawn: their
expected share of the noise power is at most ``eps / gamma^2`` (a geometric tail of at most
``eps / (1 - gamma^2)`` against a total weight of at least ``gamma^2 / (1 - gamma^2)``).

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
from pavlov_theory.params import D_K, D_V, GAMMA, KEY_DIST, SNR_MIN
from pavlov_theory.proofs import forgetting as proof
from pavlov_theory.sampling import probe_cosines, sample
from pavlov_theory.stats import Interval

ORDER = 3
AGE_CHUNK = 2048  # stream items held in memory at once, whatever T
EPS64 = float(np.finfo(np.float64).eps)
PROBES = 16  # probe keys per stream: each stream of keys is read out this many times, at lag tau


def decays(params: Mapping[str, Any]) -> tuple[float, ...]:
    """The decays a kernel point reads the stream under: ``gamma``, then ``gamma_ref`` if set."""
    return (params["gamma"], params["gamma_ref"]) if "gamma_ref" in params else (params["gamma"],)


def drawn_ages(params: Mapping[str, Any]) -> int:
    """How many of the newest items are drawn: all ``T``, or those whose weight
    ``gamma^(2 age)`` is at least float64's epsilon under one of the point's decays."""
    if max(decays(params)) >= 1:
        return params["T"]
    negligible = math.ceil(math.log(EPS64) / (2 * math.log(max(decays(params)))))
    return min(params["T"], max(params["tau"] + 1, negligible))


def _draws(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype):
    """The PROBES probe keys of each stream (``[trial, probe, d_k]``, each the item at lag
    ``tau``), then the other keys and the unit values by age, chunk by chunk (the key drawn at age
    ``tau`` is replaced by the probe). With ``d_v = 0`` no values are drawn: the values are
    averaged out exactly (see the module's docstring)."""
    probes = sample(params["key_dist"], (trials, PROBES), params["d_k"], gen, dtype)
    yield probes
    ages = drawn_ages(params)
    for start in range(0, ages, AGE_CHUNK):
        size = min(AGE_CHUNK, ages - start)
        keys = sample(params["key_dist"], (trials, size), params["d_k"], gen, dtype)
        values = sample("sphere", (trials, size), params["d_v"], gen, dtype) if params["d_v"] else None
        yield start, keys, values


def _readout(params: Mapping[str, Any], norm2: torch.Tensor, chunks, dtype: torch.dtype
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Signal power ``gamma^(2 tau) ||k_m||^4`` (unit values) and noise power
    ``||sum_{j != m} gamma^(age_j) (k_m . k_j) v_j||^2`` of probes of squared norms ``norm2``
    (float64 ``[trial, probe]``) put at lag ``tau``, from ``chunks`` of the stream by age:
    ``(start, c, values)`` with ``c_j = k_m . k_j`` as ``[trial, probe, age]`` and the unit values
    (``None`` with ``d_v = 0``). By trial, probe and decay (:func:`decays`): float64 ``[trial,
    probe, decay]``. The noise holds the value cross terms; with ``d_v = 0`` it is its expectation
    given the keys."""
    lag, device = params["tau"], norm2.device
    gammas = torch.tensor(decays(params), dtype=torch.float64, device=device)
    signal = gammas ** (2 * lag) * norm2.square()[..., None]
    shape = (*norm2.shape, len(gammas), max(1, params["d_v"]))
    noise = torch.zeros(shape, dtype=torch.float64, device=device)
    for start, coeff, values in chunks:
        ages = torch.arange(start, start + coeff.shape[-1], device=device, dtype=torch.float64)
        weight = torch.where(ages == lag, 0.0, gammas[:, None] ** ages)  # [decay, age]
        if values is None:  # values averaged out: the power sum_j gamma^(2 age_j) c_j^2, in one column
            # summed in the dtype within a chunk (relative rounding at most AGE_CHUNK eps / 2, the size
            # of the engine's rounding floor, and far less in practice), over the chunks in float64
            noise[..., 0] += (coeff.square() @ (weight**2).T.to(dtype)).double()
        else:
            noise += ((coeff[:, :, None, :] * weight.to(dtype)) @ values[:, None]).double()
    return signal, noise[..., 0] if params["d_v"] == 0 else (noise**2).sum(-1)


def probe_powers(params: Mapping[str, Any], trials: int, gen: torch.Generator,
                 dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_readout` of the stream's PROBES probe keys, the keys drawn: float64 ``[trial, probe,
    decay]``."""
    draws = _draws(params, trials, gen, dtype)
    probes = next(draws)
    # c_j = k_m . k_j, [trial, probe, age]
    coefficients = ((start, (keys @ probes.transpose(-1, -2)).transpose(-1, -2), values)
                    for start, keys, values in draws)
    return _readout(params, (probes.double() ** 2).sum(-1), coefficients, dtype)


def _per_trial(signal: Any, noise: Any) -> tuple[np.ndarray, np.ndarray]:
    """Signal and noise power under decay ``gamma``, each the mean over a trial's probes."""
    return to_numpy(signal[:, :, 0].mean(-1)), to_numpy(noise[:, :, 0].mean(-1))


def _contrast(signal: Any, noise: Any) -> tuple[np.ndarray]:
    """Per trial, ``1/SNR`` under ``gamma`` less ``1/SNR`` under ``gamma_ref``, the mean over the
    trial's probes of noise power / signal power."""
    nsr = noise / signal
    return (to_numpy((nsr[:, :, 0] - nsr[:, :, 1]).mean(-1)),)


def _sphere_only(params: Mapping[str, Any]) -> None:
    """A contrast reads 1/SNR as the mean of noise / signal: exact only for a constant signal
    power, which sphere keys (``||k_m|| = 1``) give."""
    if params["key_dist"] != "sphere":
        raise ValueError(f"key_dist: expected sphere (a constant signal power), got {params['key_dist']!r}")


def stream_powers(params: Mapping[str, Any], trials: int, gen: torch.Generator,
                  dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Per-trial signal and noise power (:func:`probe_powers`) under decay ``gamma``, each the mean
    over the stream's PROBES probe keys."""
    return _per_trial(*probe_powers(params, trials, gen, dtype))


def decay_contrast(params: Mapping[str, Any], trials: int, gen: torch.Generator,
                   dtype: torch.dtype) -> tuple[np.ndarray]:
    """Per trial, ``1/SNR`` under ``gamma`` less ``1/SNR`` under ``gamma_ref``, read from the same
    stream (common random numbers), the mean over its probe keys of noise power / signal power.
    Sphere keys only: ``||k_m|| = 1`` makes the signal power the constant ``gamma^(2 tau)``, so the
    mean of noise / signal is ``E[noise] / signal = 1/SNR`` exactly."""
    _sphere_only(params)
    return _contrast(*probe_powers(params, trials, gen, dtype))


def _naive_powers(params: Mapping[str, Any], trials: int, gen: torch.Generator,
                  dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
    """The definition read literally: one trial, one probe and one decay at a time, the memory
    built by eq 17's recurrence (``memory.recurrent_form``) over the stream, oldest first, with the
    drawn unit values (with ``d_v = 0``, orthonormal values, one basis vector per item), the probe
    put at lag ``tau`` and read out; the signal is ``gamma^tau ||k_m||^2 v_m``, the rest the
    noise. Returns the powers as ``[trial, probe, decay]`` arrays."""
    draws = _draws(params, trials, gen, dtype)
    probes = next(draws)
    chunks = list(draws)
    by_age = torch.cat([keys for _, keys, _ in chunks], dim=1)  # [trial, age, d_k]
    lag, ages, gammas = params["tau"], by_age.shape[1], decays(params)
    values_by_age = (torch.cat([values for _, _, values in chunks], dim=1) if params["d_v"]
                     else torch.eye(ages, dtype=by_age.dtype).expand(trials, ages, ages))
    signal, noise = np.zeros((2, trials, PROBES, len(gammas)))
    for t in range(trials):
        for r, probe in enumerate(probes[t]):
            signal[t, r], noise[t, r] = _read_literally(by_age[t], probe, values_by_age[t], lag, gammas)
    return signal, noise


def _read_literally(by_age: torch.Tensor, probe: torch.Tensor, values: torch.Tensor, lag: int,
                    gammas: tuple[float, ...]) -> tuple[list[float], list[float]]:
    """One stream read literally: ``probe`` put at ``lag`` among the keys ``by_age`` (newest
    first), the memory built by eq 17's recurrence over the stream, oldest first, with ``values``
    (by age), read out with the probe; the signal is ``gamma^lag ||k_m||^2 v_m``, the rest the
    noise. Their powers, one per decay of ``gammas``."""
    keys = by_age.clone()
    keys[lag] = probe
    queries = probe.expand(len(keys), -1)  # the last output is k_m S_T (the stream runs oldest first)
    signal, noise = [], []
    for g in gammas:
        out = recurrent_form(queries, keys.flip(0), values.flip(0), g)[-1]
        wanted = g**lag * float(probe @ probe) * values[lag]
        signal.append(float((wanted**2).sum()))
        noise.append(float(((out - wanted) ** 2).sum()))
    return signal, noise


def stream_powers_naive(params: Mapping[str, Any], trials: int, gen: torch.Generator,
                        dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
    """:func:`stream_powers` read literally (:func:`_naive_powers`), averaged over the probes."""
    signal, noise = _naive_powers(params, trials, gen, dtype)
    return signal[:, :, 0].mean(-1), noise[:, :, 0].mean(-1)


def decay_contrast_naive(params: Mapping[str, Any], trials: int, gen: torch.Generator,
                         dtype: torch.dtype) -> tuple[np.ndarray]:
    """:func:`decay_contrast` read literally (:func:`_naive_powers`): each probe's 1/SNR under the
    two decays, their difference averaged over the probes."""
    signal, noise = _naive_powers(params, trials, gen, dtype)
    return ((noise[:, :, 0] / signal[:, :, 0] - noise[:, :, 1] / signal[:, :, 1]).mean(-1),)


def stream_bytes(params: Mapping[str, Any], size: int) -> int:
    """Memory of one trial in bytes (``size``: bytes per element of the dtype): the probes and one
    chunk of keys and values, the probe-key coefficients (in the dtype, one copy per decay where
    values are drawn, and two float64 passes) and the float64 powers and weights."""
    ages, dims, count = min(drawn_ages(params), AGE_CHUNK), params["d_k"] + params["d_v"], len(decays(params))
    return (size * (dims * (ages + PROBES) + PROBES * ages * (1 + count * bool(params["d_v"])))
            + 8 * PROBES * (2 * ages + count * (params["d_v"] + 3)) + 16 * count * ages)


STREAM = Kernel(
    "forgetting.stream_powers", stream_powers, stream_powers_naive, stream_bytes,
    example={"d_k": 5, "d_v": 3, "gamma": 0.8, "tau": 2, "T": 7, "key_dist": "gaussian"},
)
AVERAGED = Kernel(  # the same kernel with the values averaged out given the keys (d_v = 0)
    "forgetting.stream_powers_averaged", stream_powers, stream_powers_naive, stream_bytes,
    example={**STREAM.example, "d_v": 0},
)
CONTRAST = Kernel(
    "forgetting.decay_contrast", decay_contrast, decay_contrast_naive, stream_bytes,
    example={"d_k": 5, "d_v": 0, "gamma": 0.7, "gamma_ref": 0.8, "tau": 2, "T": 7, "key_dist": "sphere"},
)


# ----------------------------------------------------------------------------- one probe, its cosines drawn

def _cosine_draws(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype):
    """One probe key ``k_m`` per stream, through its squared norm ``||k_m||^2`` (``[trial]``), then
    by age, chunk by chunk, its cosines ``c_j = k_m . k_j`` with the stream's other keys, drawn
    from their exact law given the probe (:func:`~pavlov_theory.sampling.probe_cosines`; the cosine
    drawn at age ``tau`` stands for the probe itself and gets weight 0), and the unit values (none
    with ``d_v = 0``, as in :func:`_draws`)."""
    norm2, _ = probe_cosines(params["key_dist"], trials, 0, params["d_k"], gen, dtype)
    yield norm2
    ages = drawn_ages(params)
    for start in range(0, ages, AGE_CHUNK):
        size = min(AGE_CHUNK, ages - start)
        _, cosines = probe_cosines(params["key_dist"], trials, size, params["d_k"], gen, dtype, norm2)
        values = sample("sphere", (trials, size), params["d_v"], gen, dtype) if params["d_v"] else None
        yield start, cosines, values


def _cosine_readout(params: Mapping[str, Any], trials: int, gen: torch.Generator,
                    dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_readout` of one probe key per stream read through its cosines
    (:func:`_cosine_draws`), ``O(T)`` a trial with ``d_v = 0`` (``O(T d_v)`` with values) instead of
    ``O(T d_k)``: float64 ``[trial, probe, decay]`` with one probe."""
    draws = _cosine_draws(params, trials, gen, dtype)
    norm2 = next(draws).double()[:, None]
    return _readout(params, norm2, ((start, c[:, None, :], values) for start, c, values in draws), dtype)


def cosine_powers(params: Mapping[str, Any], trials: int, gen: torch.Generator,
                  dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`probe_powers` for one probe key per stream read through its cosines: signal and noise
    power, float64 ``[trial, decay]``."""
    signal, noise = _cosine_readout(params, trials, gen, dtype)
    return signal[:, 0], noise[:, 0]


def probe_stream_powers(params: Mapping[str, Any], trials: int, gen: torch.Generator,
                        dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Per-trial signal and noise power under decay ``gamma`` of one probe key read through its
    cosines: the law of one of :func:`stream_powers`' probes."""
    return _per_trial(*_cosine_readout(params, trials, gen, dtype))


def probe_decay_contrast(params: Mapping[str, Any], trials: int, gen: torch.Generator,
                         dtype: torch.dtype) -> tuple[np.ndarray]:
    """:func:`decay_contrast` of one probe key read through its cosines: the same cosines (and
    values) read under ``gamma`` and ``gamma_ref`` (common random numbers). Sphere keys only."""
    _sphere_only(params)
    return _contrast(*_cosine_readout(params, trials, gen, dtype))


def _naive_cosine_powers(params: Mapping[str, Any], trials: int, gen: torch.Generator,
                         dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
    """The draws of :func:`_cosine_draws` as explicit keys, read literally: one trial and one
    decay at a time, the probe ``k_m = ||k_m|| e_1`` put at lag ``tau`` and every other key with
    first coordinate ``c_j / ||k_m||`` (so ``k_m . k_j = c_j``), the memory built by eq 17's
    recurrence over the stream, oldest first, with the drawn unit values (with ``d_v = 0``,
    orthonormal values) and read out with the probe. Returns the powers as ``[trial, decay]``."""
    draws = _cosine_draws(params, trials, gen, dtype)
    norm2 = next(draws)
    chunks = list(draws)
    cosines = torch.cat([c for _, c, _ in chunks], dim=1)  # [trial, age]
    lag, ages, gammas = params["tau"], cosines.shape[1], decays(params)
    values_by_age = (torch.cat([values for _, _, values in chunks], dim=1) if params["d_v"]
                     else torch.eye(ages, dtype=cosines.dtype).expand(trials, ages, ages))
    signal, noise = np.zeros((2, trials, len(gammas)))
    for t in range(trials):
        probe = torch.zeros(2, dtype=cosines.dtype)
        probe[0] = norm2[t].sqrt()
        keys = torch.zeros(ages, 2, dtype=cosines.dtype)
        keys[:, 0] = cosines[t] / probe[0]
        signal[t], noise[t] = _read_literally(keys, probe, values_by_age[t], lag, gammas)
    return signal, noise


def probe_stream_powers_naive(params: Mapping[str, Any], trials: int, gen: torch.Generator,
                              dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
    """:func:`probe_stream_powers` read literally (:func:`_naive_cosine_powers`)."""
    signal, noise = _naive_cosine_powers(params, trials, gen, dtype)
    return signal[:, 0], noise[:, 0]


def probe_decay_contrast_naive(params: Mapping[str, Any], trials: int, gen: torch.Generator,
                               dtype: torch.dtype) -> tuple[np.ndarray]:
    """:func:`probe_decay_contrast` read literally (:func:`_naive_cosine_powers`)."""
    signal, noise = _naive_cosine_powers(params, trials, gen, dtype)
    return (noise[:, 0] / signal[:, 0] - noise[:, 1] / signal[:, 1],)


def cosine_bytes(params: Mapping[str, Any], size: int) -> int:
    """Memory of one trial in bytes (``size``: bytes per element of the dtype): one chunk of
    cosines with the draws they are made of, of values and of weighted cosines (one copy per
    decay), and the float64 powers and weights."""
    ages, count = min(drawn_ages(params), AGE_CHUNK), len(decays(params))
    return size * ages * (4 + params["d_v"] + count) + 8 * count * (params["d_v"] + 3) + 16 * count * ages


PROBE_STREAM = Kernel(
    "forgetting.probe_stream_powers", probe_stream_powers, probe_stream_powers_naive, cosine_bytes,
    example=STREAM.example,
)
PROBE_AVERAGED = Kernel(  # the same kernel with the values averaged out given the keys (d_v = 0)
    "forgetting.probe_stream_powers_averaged", probe_stream_powers, probe_stream_powers_naive, cosine_bytes,
    example=AVERAGED.example,
)
PROBE_CONTRAST = Kernel(
    "forgetting.probe_decay_contrast", probe_decay_contrast, probe_decay_contrast_naive, cosine_bytes,
    example=CONTRAST.example,
)

KERNELS = (STREAM, AVERAGED, CONTRAST, PROBE_STREAM, PROBE_AVERAGED, PROBE_CONTRAST)

# The cosine kernels' equal-width cost (seconds a trial x variance a trial, CPU, float32) against the
# PROBES-probe kernels', measured at the book points (sphere keys, d_v = 0): 0.06 to 0.34 at d_k >= 256,
# 0.65 to 0.94 at d_k = 64 where at most AGE_CHUNK ages are drawn but 1.5 to 5 where more are, 1.2 to
# 1.7 at d_k = 32; 2.8 with values drawn (d_v = 16). A trial of the PROBES-probe kernel costs O(T d_k)
# against the cosines' O(T), for up to PROBES times less variance.
COSINE_MIN_D_K = 64  # the least d_k where the cosine kernels were cheaper at equal width (CPU) ...
COSINE_MIN_D_K_LONG = 128  # ... and where more than AGE_CHUNK ages are drawn


def stream_kernel(params: Mapping[str, Any], contrast: bool = False) -> Kernel:
    """The kernel that reads the stream at ``params`` for the narrowest interval a CPU second: the
    cosine kernel (one probe, :data:`PROBE_STREAM`, or :data:`PROBE_CONTRAST` for a contrast) where
    the values are averaged out and ``d_k`` is at least :data:`COSINE_MIN_D_K` (or
    :data:`COSINE_MIN_D_K_LONG` where more than AGE_CHUNK ages are drawn), else the PROBES-probe
    kernel (:data:`STREAM`, :data:`CONTRAST`); a point with drawn values (``d_v > 0``) keeps the
    PROBES-probe kernel, which draws the keys themselves."""
    least = COSINE_MIN_D_K if drawn_ages(params) <= AGE_CHUNK else COSINE_MIN_D_K_LONG
    cosines = params["d_v"] == 0 and params["d_k"] >= least
    return (PROBE_CONTRAST if cosines else CONTRAST) if contrast else (PROBE_STREAM if cosines else STREAM)


# ----------------------------------------------------------------------------- claims

def _stream(params: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """A kernel point: the claim's stream with ``changes`` (sphere keys and ``d_v``'s default
    unless stated)."""
    point = {"key_dist": "sphere", "d_v": VALUES.default,
             **{k: params[k] for k in ("d_k", "d_v", "gamma", "tau", "T") if k in params}}
    return {**point, **changes}


def measure_snr(params: Mapping[str, Any], ctx: Context) -> Result:
    """The SNR of the item ``tau`` back, sampled until the exact judge decides; at gamma = 1 the
    derived law is the Hebbian limit of the same formula."""
    name = "snr" if params["gamma"] < 1 else "snr_hebbian"
    limit = lambda values, der: ([{"name": "snr_limit", "value": der.evaluate("snr_limit", **values)}]
                                 if values["gamma"] < 1 else [])
    return sampled(Law(lambda p: proof.snr(p["key_dist"]), name), stream_kernel(params), "ratio", first=64,
                   evidence=limit)(params, ctx)


def side_of(ctx: Context, point: Mapping[str, Any], threshold: float,
            kernel: Kernel | None = None) -> tuple[Interval, str]:
    """The measured SNR at ``point`` against ``threshold``: ``holds`` above it, ``fails`` below
    (the sign judge on SNR - threshold), sampled until one is decided."""
    above = lambda c: judges.sign(c.map(lambda v: v - threshold), 0.0)
    return sample_until(ctx, point, kernel or stream_kernel(point), "ratio", above, 64)


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
    """The measured count of items above snr_min, judged exact against the derived count. The
    count is measured at the lags around the (probed) derived count, so a count off by one item is
    measured against its own neighbours; a probe's factor is rounded to whole items."""
    der = proof.effective_capacity()
    theory = round(ctx.theory(der, "items", **params))
    ci, rows = measured_items(params, ctx, theory)
    rows.append({"name": "items_limit", "value": ctx.reference(der, "items_limit", **params)})
    return Result(theory, ci.estimate, (ci.lo, ci.hi), judges.exact(theory, ci), ci.n, rows)


MEMORY_FACTOR = 1.5  # the optimum's neighbours: memory length 1/(1 - gamma^2) divided and multiplied by it


def check_optimal_decay(params: Mapping[str, Any], ctx: Context) -> Result:
    """(a) The SNR measured at the (probed) derived optimum is exact against the derived maximum;
    (b) the location: around the probed optimum ``x = gamma^2`` the decays whose memory length
    ``1/(1 - x)`` is divided and multiplied by MEMORY_FACTOR are each compared with the optimum on
    shared streams (common random numbers, the contrast kernel :func:`stream_kernel` picks: every
    stream read under both decays):
    per trial, the difference of their 1/SNR from the optimum's, sampled until its sign is decided.
    The argmin judge on that curve, 1/SNR less the optimum's (0 at the optimum; a shift that does
    not move the minimiser), requires both neighbours to be measurably worse. A wrong optimum is
    thus measured against its own neighbours; the shift the check resolves is a memory length off
    by MEMORY_FACTOR."""
    der, parts = proof.optimal_decay(), ctx.share(3)
    best = ctx.theory(der, "memory_length", **params)  # 1/(1 - x_opt), the probed optimum
    grid = [1 - 1 / (best * f) for f in (1 / MEMORY_FACTOR, 1.0, MEMORY_FACTOR)]  # x = gamma^2, rising
    gammas = [math.sqrt(x) for x in grid]
    law = lambda g: ctx.reference(proof.snr("sphere"), "snr", **_stream(params, gamma=g))
    centre_point = _stream(params, gamma=gammas[1])
    centre, _ = sample_until(parts, centre_point, stream_kernel(centre_point), "ratio",
                             lambda c: judges.exact(law(gammas[1]), c), 64)
    verdict_best = judges.exact(ctx.theory(der, "snr_opt", **params), centre)
    curve = [Interval(0.0, 0.0, 0.0, centre.n)] * 3  # 1/SNR less the optimum's, by decay
    for i in (0, 2):
        point = _stream(params, gamma=gammas[i], gamma_ref=gammas[1])
        curve[i], _ = sample_until(parts, point, stream_kernel(point, contrast=True),
                                   "mean", lambda c: judges.sign(c, 0.0), 64)
    located, plausible = judges.argmin(gammas[1], gammas, curve)
    rows = [decay_row(g, law(g), law(gammas[1]), centre, None if i == 1 else curve[i])
            for i, g in enumerate(gammas)]
    rows += [{"name": "gamma_limit", "value": ctx.reference(der, "gamma_limit", **params)},
             {"name": "snr_at_optimum", "verdict": verdict_best},
             {"name": "located", "verdict": located, "plausible": plausible,
              "resolves": f"memory length x {MEMORY_FACTOR:g} (gamma {gammas[0]:.4g} .. {gammas[2]:.4g})"}]
    # the maximiser lies between the neighbours of the plausible set (one stationary point, proved)
    lo = gammas[max(0, gammas.index(min(plausible)) - 1)]
    hi = gammas[min(2, gammas.index(max(plausible)) + 1)]
    best_measured = gammas[int(np.argmin([c.estimate for c in curve]))]
    return Result(ctx.theory(der, "gamma_opt", **params), best_measured, (lo, hi),
                  judges.combine([verdict_best, located]), centre.n + curve[0].n + curve[2].n, rows)


def decay_row(gamma: float, derived: float, derived_centre: float, centre: Interval,
              contrast: Interval | None) -> dict[str, Any]:
    """The evidence row of one decay of :func:`check_optimal_decay`: its SNR (at a neighbour, from
    the optimum's SNR and the contrast, the interval holding when both do) and, at a neighbour,
    the measured and derived contrast of 1/SNR against the optimum."""
    row = {"name": f"gamma={gamma:.6g}", "gamma": gamma, "derived_snr": derived}
    if contrast is None:
        return {**row, "snr": centre.estimate, "ci": [centre.lo, centre.hi], "trials": centre.n}
    inverse = lambda x: 1 / x if x > 0 else math.inf  # SNR from 1/SNR (and 1/SNR from SNR), >= 0
    return {**row, "snr": inverse(1 / centre.estimate + contrast.estimate),
            "ci": [inverse(inverse(centre.lo) + contrast.hi), inverse(1 / centre.hi + contrast.lo)],
            "trials": contrast.n,
            "nsr_minus_optimum": contrast.estimate, "nsr_minus_optimum_ci": [contrast.lo, contrast.hi],
            "derived_nsr_minus_optimum": 1 / derived - 1 / derived_centre}


def check_saturation(params: Mapping[str, Any], ctx: Context) -> Result:
    """Both halves of the statement over the stream lengths T/100, T/10, T. Decay: the measured
    count of items above snr_min equals the derived finite-T count at each length, and the
    derivation puts each length past ``settle_length``, where the finite count equals the
    T -> infinity count (fixed). Hebbian: the item's SNR lies on the side of snr_min that the derived
    ``saturation_length = 1 + c/snr_min`` says (the sign judge): above it for a shorter stream,
    below it (0 items) for a longer one; at the three lengths (at the grids' points all far past
    it) and at the lengths SATURATION_MARGIN below and above it, so that a saturation length off by
    more than that factor fails. The Hebbian rows come in rising T."""
    der, lengths = proof.effective_capacity(), sweep_lengths(params["T"])
    saturation = ctx.theory(der, "saturation_length", **params)
    near = [t for t in (math.floor(saturation / SATURATION_MARGIN), math.ceil(saturation * SATURATION_MARGIN))
            if T_PARAM.low <= t and t not in lengths]
    parts = ctx.share(2 * len(lengths) + len(near))
    rows, verdicts = [], []

    def hebbian_row(length: int) -> dict[str, Any]:
        point = {**params, "T": length}
        hebbian = _stream(point, gamma=1.0, tau=0)
        # one probe read through its cosines: where d_k/(T-1) lies far from snr_min (at the grids' lengths,
        # far past saturation_length) the side is decided at the first look, so the trials are fixed and
        # their cost is the time a trial, O(T) against O(T d_k)
        snr, side = side_of(parts, hebbian, params["snr_min"], PROBE_STREAM)
        # the sign of SNR - snr_min says the SNR is above; of snr_min - SNR, below
        side_sign = 1 if length < saturation else -1
        verdicts.append(judges.sign(snr.map(lambda v: side_sign * (v - params["snr_min"])), 0.0))
        return {"name": f"hebbian T={length}", "T": length, "snr": snr.estimate, "ci": [snr.lo, snr.hi],
                "trials": snr.n, "side": side, "hebbian_items": ctx.reference(der, "hebbian_items", **point),
                "verdict": verdicts[-1],
                "derived_snr": ctx.reference(proof.snr("sphere"), "snr_hebbian", **hebbian)}

    hebbian_rows = [hebbian_row(length) for length in near]
    for length in lengths:
        point = {**params, "T": length}
        theory = round(ctx.theory(der, "items", **point))
        ci, _ = measured_items(point, parts, theory)
        verdicts.append(judges.exact(theory, ci))
        rows.append({"name": f"decay T={length}", "T": length, "items": ci.estimate, "ci": [ci.lo, ci.hi],
                     "trials": ci.n, "derived": theory, "limit": ctx.reference(der, "items_limit", **point),
                     "verdict": verdicts[-1]})
        hebbian_rows.append(hebbian_row(length))
    rows += sorted(hebbian_rows, key=lambda r: r["T"])
    rows.append({"name": "settle_length", "value": ctx.reference(der, "settle_length", **params)})
    rows.append({"name": "saturation_length", "value": ctx.reference(der, "saturation_length", **params)})
    last = next(r for r in reversed(rows) if r["name"].startswith("decay"))
    return Result(last["derived"], last["items"], tuple(last["ci"]), judges.combine(verdicts),
                  sum(r.get("trials", 0) for r in rows), rows)


SATURATION_MARGIN = 1.1  # the Hebbian readout is also taken this factor below and above saturation_length


def sweep_lengths(T_max: int) -> list[int]:
    """The stream lengths of the saturation sweep: T_max/100, T_max/10, T_max."""
    return [T_max // 100, T_max // 10, T_max]


TAU = Param("tau", int, 5, 0, 10**6, help="lag of the probed item (0 = the newest)")
T_PARAM = Param("T", int, 1000, 2, 10**6, help="stream length")
DECAY = GAMMA.but(default=0.95)
VALUES = D_V.but(default=0, low=0, help="value dimension (unit values drawn); 0: values averaged out exactly")


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


def settled(p: Mapping[str, Any]) -> str | None:
    """Saturation's sweep needs a positive long-stream count, reached by its shortest stream."""
    der = proof.effective_capacity()
    if decaying(p):
        return decaying(p)
    if der.evaluate("items_limit", **p) < 1:
        return "snr_min: expected a threshold some item reaches under this decay (the long-stream count is 0)"
    settle = der.evaluate("settle_length", **p)
    return (f"T: expected T/100 >= {settle:g}, the length from which the count equals its long-stream limit"
            if p["T"] // 100 < settle else None)


# (d_k, gamma, snr_min) whose derived crossing lag lies at least 4% in SNR from both neighbouring
# integer lags, so that a finite sample can tell the count
CROSSINGS = ((64, 0.9, 2.0), (64, 0.9, 4.0), (256, 0.8, 2.0), (256, 0.9, 1.0), (1024, 0.9, 4.0),
             (64, 0.95, 2.0), (256, 0.95, 1.0), (1024, 0.8, 2.0))


# a count whose x1.02 and x0.98 shifts round to one item more and one fewer (a count of 26 or
# more), its crossing 4% and 6% in SNR from the neighbouring lags: the count probes' point
COUNT_PROBE = {"d_k": 128, "gamma": 0.95, "snr_min": 0.5}


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
        params=(D_K, DECAY, TAU, T_PARAM, KEY_DIST, VALUES),
        derive=lambda: [proof.snr(d) for d in ("sphere", "gaussian", "rademacher")],
        measure=measure_snr,
        grid={
            # the values are drawn (d_v > 0) at one point per scale, averaged out exactly elsewhere
            "ci": [{"d_k": 32, "gamma": 0.9, "tau": 3, "T": 200, "key_dist": k, "d_v": v}
                   for k, v in (("sphere", 0), ("gaussian", 16))]
            + [{"d_k": 64, "gamma": 0.99, "tau": 40, "T": 10**4},
               {"d_k": 64, "gamma": 1.0, "tau": 0, "T": 10**4}],
            "book": [{"d_k": 64, "gamma": g, "tau": t, "T": 1000} for g in (0.9, 0.98) for t in (0, 5, 20)]
            + [{"d_k": 64, "gamma": g, "tau": 5, "T": 1000, "key_dist": k,
                "d_v": 16 if (k, g) == ("gaussian", 0.98) else 0}
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
        probe=Probe("theory", (1.02, 0.98), point=COUNT_PROBE | {"T": 1000}),
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
                  "and the SNR with the memory length 1/(1 - gamma^2) divided or multiplied by 1.5 is "
                  "measurably lower.",
        kind="exact",
        judge="argmin",
        quantity="gamma",
        params=(D_K, TAU.but(default=10), T_PARAM),
        derive=proof.optimal_decay,
        measure=check_optimal_decay,
        grid={
            "ci": [{"d_k": 64, "tau": 10, "T": 1000}, {"d_k": 64, "tau": 10, "T": 60}],
            "book": [{"d_k": d, "tau": t, "T": T} for d in (32, 256)
                     for t, T in ((10, 60), (10, 1000), (60, 10**5))],
            "paper": [{"d_k": d, "tau": t, "T": T} for d in (32, 256, 1024) for t in (5, 20, 100)
                      for T in (6 * t, 10**5)],
        },
        # a x1.02 shift of gamma is not resolvable (the SNR is flat at its maximum): the probe shifts
        # the optimum's memory length 1/(1 - gamma^2) by MEMORY_FACTOR, the spacing the location resolves
        probe=Probe("theory", (MEMORY_FACTOR, 1 / MEMORY_FACTOR)),
        constraint=interior,
    ),
    Claim(
        id="forgetting.saturation",
        paper_ref="section 4.3, after eq 17 ('preventing memory saturation while maintaining a fixed "
                  "effective capacity')",
        statement="With decay the number of recent items above snr_min stays fixed as the stream grows "
                  "(T/100, T/10, T: each past the length where the finite count reaches its long-stream "
                  "limit); plain Hebbian memory (gamma = 1) saturates: every item's SNR is d_k/(T-1), "
                  "so beyond T = 1 + d_k/snr_min no item is retrieved reliably (0 items).",
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
        probe=Probe("theory", (1.02, 0.98), point=COUNT_PROBE | {"T": 10**4}),
        constraint=settled,
    ),
)
