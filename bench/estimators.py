"""What each benchmarked estimator averages, and the plain estimator it is compared with at equal
interval width.

An interval's width goes as ``sqrt(variance / trials)``, so two estimators reach the same width
when their trials are in the ratio of their per-trial variances, and the speed-up of ``fast``
over ``plain`` at equal width is

    (plain seconds per trial * plain per-trial variance) / (fast seconds per trial * fast variance).

A kernel that is its own plain form (no variance-reduced estimator yet) has variance ratio 1, and
only the kernel speed-up counts. To benchmark a variance-reduced kernel (a Rao-Blackwellised one,
say), add one entry naming it ``fast``, the kernel it replaces ``plain``, and the per-trial values
each averages; it is then run at every shape where the plain kernel is benchmarked. An entry whose
kernel is not registered (yet) is reported as skipped, with a note.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from pavlov_theory.params import DELTA

Statistic = Callable[[Sequence[np.ndarray], Mapping[str, Any]], np.ndarray]


@dataclass(frozen=True)
class Estimator:
    """``statistic(outputs, params)``: the per-trial values of ``fast`` whose mean the check
    estimates, shape ``(trials,)`` or ``(trials, k)`` for ``k`` estimates made together (their
    variances are summed: the sum of the squared interval widths). ``plain_statistic`` is the same
    for ``plain`` (``statistic`` when omitted).

    ``from_fast``: the estimator is paired only at the cases of its fast kernel (the plain kernel
    then runs at the case's ``plain_params``, where the two take different parameters), not at
    every case of its plain kernel: for a plain kernel that other sweeps run at points where the
    fast one does not estimate the same mean."""

    name: str
    fast: str
    plain: str
    statistic: Statistic
    plain_statistic: Statistic | None = None
    from_fast: bool = False

    def statistic_of(self, kernel: str) -> Statistic:
        return self.statistic if kernel == self.fast else (self.plain_statistic or self.statistic)


def per_trial_variance(values: np.ndarray) -> float:
    """The sample variance of per-trial values, summed over columns when there are several."""
    values = np.asarray(values, dtype=float)
    if values.shape[0] < 2:
        return float("nan")
    return float(np.var(values.reshape(values.shape[0], -1), axis=0, ddof=1).sum())


def any_item_fails(outputs: Sequence[np.ndarray], p: Mapping[str, Any]) -> np.ndarray:
    """``capacity.noise_curves``: whether any stored item fails (largest noise power >= delta),
    one column per load (the worst-case sweep counts failures at every load)."""
    return (outputs[0] >= p.get("delta", DELTA.default)).astype(float)


def ratio_terms(outputs: Sequence[np.ndarray], p: Mapping[str, Any]) -> np.ndarray:
    """A ratio of means ``mean(error) / mean(power)`` linearised: ``(error - R power) / mean(power)``,
    whose variance over trials is the delta-method variance of the ratio per trial."""
    error, power = outputs[0], outputs[1]
    ratio = error.mean() / power.mean()
    return (error - ratio * power) / power.mean()


def layer_fails(outputs: Sequence[np.ndarray], p: Mapping[str, Any]) -> np.ndarray:
    """``propagation.failures`` (and its drawn-keys form): whether all H heads fail (the layer
    event; the head's when H = 1)."""
    return outputs[2].astype(float)


def network_fails(outputs: Sequence[np.ndarray], p: Mapping[str, Any]) -> np.ndarray:
    return outputs[0].astype(float)


def first_output(outputs: Sequence[np.ndarray], p: Mapping[str, Any]) -> np.ndarray:
    """A check estimating the plain mean of a kernel's only output (``rules.oja``'s ``E||S_T||^2``)."""
    return np.asarray(outputs[0], dtype=float)


def controlled_failure(outputs: Sequence[np.ndarray], p: Mapping[str, Any]) -> np.ndarray:
    """``capacity.item_noise`` as ``capacity.concentration`` averages it: the Rao-Blackwellised
    failure less its control variates ``X, X^2, A, A^2`` (derived means) times their coefficients.
    The check fits the coefficients on a separate pilot; here they are fitted on the same trials,
    which understates the residual variance by a factor of about ``1 - 4/trials``."""
    from pavlov_theory.simulations import capacity

    outputs = tuple(np.asarray(o, dtype=float) for o in outputs)
    beta = capacity.control_coefficients(outputs)
    return capacity.controlled(outputs, beta, capacity.control_means(p))


def first_item_fails(outputs: Sequence[np.ndarray], p: Mapping[str, Any]) -> np.ndarray:
    """``capacity.noise_curves`` as ``capacity.concentration`` read it before ``item_noise``
    (the former ``capacity.item_failure``): whether the first item's noise power at the last load
    ``n`` reaches delta, one Bernoulli trial per stream."""
    return (outputs[1][:, -1] >= p.get("delta", DELTA.default)).astype(float)


ESTIMATORS: tuple[Estimator, ...] = (
    Estimator("capacity: any item fails, per load", "capacity.noise_curves", "capacity.noise_curves",
              any_item_fails),
    Estimator("chain: relative error (ratio of means)", "conditioning.chain", "conditioning.chain",
              ratio_terms),
    Estimator("residual chain: relative error (ratio of means)", "conditioning.residual_chain",
              "conditioning.residual_chain", ratio_terms),
    Estimator("propagation: layer fails, keys drawn", "propagation.failures_drawn_keys",
              "propagation.failures_drawn_keys", layer_fails),
    Estimator("propagation: network fails", "propagation.network_failures", "propagation.network_failures",
              network_fails),
    # variance-reduced kernels against the plain ones they replace
    Estimator("chain: relative error, keys drawn in their span", "conditioning.chain",
              "conditioning.chain_drawn_keys", ratio_terms, from_fast=True),
    Estimator("propagation: layer fails, cosines drawn from their law", "propagation.failures",
              "propagation.failures_drawn_keys", layer_fails, from_fast=True),
    Estimator("capacity: SNR (ratio of means), one probe, values averaged out", "capacity.probe_signal_noise",
              "capacity.signal_noise_powers", ratio_terms),
    Estimator("capacity: single-item failure, Rao-Blackwellised + controls", "capacity.item_noise",
              "capacity.noise_curves", controlled_failure, first_item_fails, from_fast=True),
    Estimator("forgetting: SNR (ratio of means), values averaged out", "forgetting.stream_powers_averaged",
              "forgetting.stream_powers", ratio_terms, from_fast=True),
    # one probe a stream with its cosines drawn from their law, against PROBES probes of drawn keys
    Estimator("forgetting: SNR (ratio of means), one probe, cosines drawn",
              "forgetting.probe_stream_powers_averaged", "forgetting.stream_powers_averaged", ratio_terms,
              from_fast=True),
    Estimator("oja: SNR (ratio of means), keys averaged out", "rules.oja_powers_averaged", "rules.oja_powers",
              ratio_terms),
    Estimator("oja: squared norm, keys averaged out", "rules.oja_norm_averaged", "rules.oja_norm",
              first_output),
    Estimator("softmax: SNR (ratio of means), values and probes averaged", "softmax.powers_averaged",
              "softmax.powers", ratio_terms, from_fast=True),
    Estimator("softmax: normalised SNR (ratio of means), values and probes averaged",
              "softmax.normalised_powers_averaged", "softmax.normalised_powers", ratio_terms, from_fast=True),
)


def involving(kernel: str, estimators: Sequence[Estimator] | None = None) -> list[Estimator]:
    """The estimators (default: ``ESTIMATORS``) ``kernel`` takes part in, as fast or plain form."""
    return [e for e in (ESTIMATORS if estimators is None else estimators) if kernel in (e.fast, e.plain)]


def paired_at(kernel: str, estimators: Sequence[Estimator] | None = None) -> list[Estimator]:
    """The estimators compared at a case of ``kernel``: those it takes part in, less those paired
    only at their fast kernel's cases (``from_fast``) when ``kernel`` is their plain form."""
    return [e for e in involving(kernel, estimators) if not (e.from_fast and kernel != e.fast)]


def variances(kernel: str, outputs: Sequence[np.ndarray], params: Mapping[str, Any],
              estimators: Sequence[Estimator] | None = None) -> dict[str, float | str]:
    """Per-trial variance of each estimator's statistic on ``kernel``'s outputs, by estimator name;
    a statistic that raises gives its error's one-line text instead."""
    out: dict[str, float | str] = {}
    for e in involving(kernel, estimators):
        try:
            out[e.name] = per_trial_variance(e.statistic_of(kernel)(outputs, params))
        except Exception as error:  # a statistic that does not fit the outputs: reported, not fatal
            out[e.name] = f"{type(error).__name__}: {error}"
    return out


def equal_width_speedup(fast_seconds: float, fast_variance: float, plain_seconds: float,
                        plain_variance: float, same_kernel: bool = False) -> float | None:
    """``(plain_seconds * plain_variance) / (fast_seconds * fast_variance)`` (seconds per trial),
    with the variance ratio exactly 1 when fast and plain are one kernel; None when a variance is
    not finite or the fast one is zero (no spread seen in the trials: nothing to compare)."""
    if same_kernel:
        return plain_seconds / fast_seconds
    if not (np.isfinite(fast_variance) and np.isfinite(plain_variance)) or fast_variance <= 0:
        return None
    return plain_seconds * plain_variance / (fast_seconds * fast_variance)
