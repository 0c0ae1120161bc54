"""Monte Carlo for section 5.1: chains of Hebbian layers (higher-order conditioning).

The kernels (each with a plain reference on the same draws) come first; the claims of this
section are declared at the bottom (``CLAIMS``).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from pavlov_theory import judges, memory
from pavlov_theory.claims import BEYOND, Claim, Context, Probe, Result
from pavlov_theory.engine import Kernel, Law, bound_points, draw, headline, sampled, to_numpy
from pavlov_theory.params import D_K, HOPS, KEY_DIST, KEY_DISTS, N
from pavlov_theory.proofs import conditioning as proof
from pavlov_theory.sampling import sample
from pavlov_theory.stats import mean_ci

ORDER = 4


def chain_retrievals(
    trials: int, L: int, n: int, d_k: int, key_dist: str, gen: torch.Generator, dtype: torch.dtype,
    *, residual: bool = False, norm: str = "none",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Probe ``L`` stacked layers, layer ``l`` storing ``x_{l-1}^i -> x_l^i``, with every start
    ``x_0^i`` at once. Returns the retrievals ``r_L``, the targets ``x_L`` and the path sums
    ``x_0 + ... + x_L``, each ``(trials, n, d_k)``. ``residual`` adds each layer's input to its
    output (eq 20 with ``W_O = I``); ``norm`` is applied to each layer's output (eq 19)."""
    previous = sample(key_dist, (trials, n), d_k, gen, dtype)
    r, path = previous, previous.clone()
    for _ in range(L):
        current = sample(key_dist, (trials, n), d_k, gen, dtype)
        # r S with S = X_{l-1}^T X_l, computed as scores times values (never a d_k x d_k matrix)
        out = memory.normalize(norm, (r @ previous.transpose(-1, -2)) @ current)
        r = out + r if residual else out
        path += current
        previous = current
    return r, previous, path


def _chain_errors(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype,
                  residual: bool) -> tuple[np.ndarray, np.ndarray]:
    r, target, path = chain_retrievals(trials, params["L"], params["n"], params["d_k"], params["key_dist"],
                                       gen, dtype, residual=residual)
    aim = path if residual else target
    return to_numpy(((r - aim) ** 2).sum(-1).mean(-1)), to_numpy((aim**2).sum(-1).mean(-1))


def _chain_errors_naive(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype,
                        residual: bool) -> tuple[np.ndarray, np.ndarray]:
    """The chain read literally: ``S`` a sum of outer products, one trial and one start at a time."""
    layers = [sample(params["key_dist"], (trials, params["n"]), params["d_k"], gen, dtype).numpy()
              for _ in range(params["L"] + 1)]
    error, power = np.zeros(trials), np.zeros(trials)
    for t in range(trials):
        memories = []
        for previous, current in zip(layers[:-1], layers[1:]):
            S = np.zeros((params["d_k"], params["d_k"]))
            for k, v in zip(previous[t], current[t]):
                S += np.outer(k, v)
            memories.append(S)
        for start in range(params["n"]):
            r = layers[0][t, start].copy()
            for S in memories:
                r = r + r @ S if residual else r @ S
            aim = sum(x[t, start] for x in layers) if residual else layers[-1][t, start]
            error[t] += float((r - aim) @ (r - aim)) / params["n"]
            power[t] += float(aim @ aim) / params["n"]
    return error, power


def _chain_kernel(name: str, residual: bool) -> Kernel:
    return Kernel(
        name, lambda p, t, g, d: _chain_errors(p, t, g, d, residual),
        lambda p, t, g, d: _chain_errors_naive(p, t, g, d, residual),
        bytes_per_trial=lambda p, size: size * (5 * p["n"] * p["d_k"] + 2 * p["d_k"] ** 2),
        example={"L": 3, "n": 4, "d_k": 5, "key_dist": "gaussian"},
    )


# per trial: the error ||r_L - target||^2 and the target's power, each averaged over the n starts
CHAIN = _chain_kernel("conditioning.chain", residual=False)
RESIDUAL_CHAIN = _chain_kernel("conditioning.residual_chain", residual=True)


def _routing_draws(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype):
    """The concepts and the random pairs of both contexts, in one fixed order of draws."""
    n, d_k = params["n"], params["d_k"]
    concept = lambda *shape: sample("sphere", shape, d_k, gen, dtype)
    animal, mammal, reptile, dog, lizard = (concept(trials) for _ in range(5))
    keys2 = torch.cat([mammal[:, None], reptile[:, None], concept(trials, n - 2)], 1)
    values2 = torch.cat([dog[:, None], lizard[:, None], concept(trials, n - 2)], 1)
    layer1 = [(torch.cat([animal[:, None], concept(trials, n - 1)], 1),
               torch.cat([middle[:, None], concept(trials, n - 1)], 1)) for middle in (mammal, reptile)]
    return animal, (dog, lizard), keys2, values2, layer1


def routing_margins(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype):
    """The dynamic-routing example of section 5.1.3: same weights, two contexts. Concepts are
    random unit vectors: animal, mammal, reptile, dog, lizard. Context 1 writes animal -> mammal
    into layer 1, context 2 animal -> reptile, each among ``n - 1`` random distractor pairs;
    layer 2 holds mammal -> dog and reptile -> lizard among ``n - 2``. Probing with animal gives
    a two-hop retrieval ``r`` per context. Returns per trial: the routing margins
    ``r . (own answer - other answer)`` of paths 1 and 2, then whether the nearest stored layer-2
    value (largest score) is the own answer, for paths 1 and 2. Path 1 is animal -> mammal -> dog,
    path 2 animal -> reptile -> lizard."""
    animal, answers, keys2, values2, layer1 = _routing_draws(params, trials, gen, dtype)
    margins, decoded = [], []
    for path, (keys1, values1) in enumerate(layer1):
        # r = animal S1 S2 with S = K^T V, computed as scores times values (never a d_k x d_k matrix)
        u = torch.einsum("tn,tnd->td", torch.einsum("tnd,td->tn", keys1, animal), values1)
        r = torch.einsum("tn,tnd->td", torch.einsum("tnd,td->tn", keys2, u), values2)
        margins.append(to_numpy((r * (answers[path] - answers[1 - path])).sum(-1)))
        decoded.append(to_numpy(torch.einsum("td,tnd->tn", r, values2).argmax(-1) == path))
    return (*margins, *decoded)


def routing_margins_naive(params: Mapping[str, Any], trials: int, gen: torch.Generator, dtype: torch.dtype):
    """The same on the same draws, read literally: ``S_1``, ``S_2`` as sums of outer products and
    the retrieval ``animal S_1 S_2``, one trial at a time."""
    animal, answers, keys2, values2, layer1 = (
        x.numpy() if isinstance(x, torch.Tensor) else x for x in _routing_draws(params, trials, gen, dtype))
    answers = [a.numpy() for a in answers]
    layer1 = [(k.numpy(), v.numpy()) for k, v in layer1]
    out = [np.zeros(trials), np.zeros(trials), np.zeros(trials, dtype=bool), np.zeros(trials, dtype=bool)]
    for t in range(trials):
        S2 = sum(np.outer(k, v) for k, v in zip(keys2[t], values2[t]))
        for path, (keys1, values1) in enumerate(layer1):
            S1 = sum(np.outer(k, v) for k, v in zip(keys1[t], values1[t]))
            r = animal[t] @ S1 @ S2
            out[path][t] = r @ (answers[path][t] - answers[1 - path][t])
            out[2 + path][t] = int(np.argmax([r @ v for v in values2[t]])) == path
    return tuple(out)


ROUTING = Kernel(
    "conditioning.routing_margins", routing_margins, routing_margins_naive,
    bytes_per_trial=lambda p, size: size * 8 * p["n"] * p["d_k"],
    example={"n": 5, "d_k": 6},
)

KERNELS = (CHAIN, RESIDUAL_CHAIN, ROUTING)


# ----------------------------------------------------------------------------- claims

CHAIN_PARAMS = (D_K.but(high=4096), N.but(default=16, high=4096), HOPS.but(high=64), KEY_DIST)


def _product_law(measure):
    """``measure``'s result with the product law (the project's hypothesis) shown beside it."""
    def with_product_law(params: Mapping[str, Any], ctx: Context) -> Result:
        result = measure(params, ctx)
        law = ctx.reference(proof.multi_hop(params["key_dist"]), "product_law", **params)
        result.evidence.append({"name": "product_law", "value": law,
                                "rejected": not result.ci[0] <= law <= result.ci[1]})
        return result
    return with_product_law


def _residual_evidence(values: Mapping[str, Any], der: Any) -> list[dict[str, Any]]:
    plain = proof.multi_hop(values["key_dist"])
    return [{"name": name, "value": der.evaluate(name, **values)}
            for name in ("path_error", "target_power", "power")] \
        + [{"name": "plain_chain_relative_error", "value": plain.evaluate("relative_error", **values)}]


# trials per point: enough for the exact judge to pin the second moment of the margin, whose relative
# spread grows with the load, to 2% at the grid's loads
ROUTING_TRIALS = {"ci": 100_000, "book": 200_000, "paper": 1_000_000}


def measure_routing(params: Mapping[str, Any], ctx: Context) -> Result:
    der, trials = proof.routing(), min(ctx.max_trials, ROUTING_TRIALS[ctx.scale])
    draws = draw(ctx, params, ROUTING, trials)
    margins = np.stack(draws[:2])  # both paths' margins share one law: their average per trial
    each = ctx.share(4)            # estimates its moments; the bound is judged path by path
    moments = [mean_ci(margins.mean(0), each.alpha), mean_ci((margins**2).mean(0), each.alpha)]
    verdicts = [judges.exact(ctx.theory(der, name, **params), ci)
                for name, ci in zip(("mean", "second_moment"), moments)]
    rows = [{"path": path + 1, "bound": ctx.bound(der, "cantelli", **params), "failures": int((m <= 0).sum()),
             "trials": m.size, "nearest_value_accuracy": float(draws[2 + path].mean())}
            for path, m in enumerate(margins)]
    verdict, rows = bound_points(rows, ctx.share(2))
    top = headline(rows)
    evidence = [{"name": name, "value": ctx.reference(der, name, **params), "ci": [ci.lo, ci.hi],
                 "verdict": v}
                for name, ci, v in zip(("mean", "second_moment"), moments, verdicts)]
    evidence += [{"name": name, "value": ctx.reference(der, name, **params)}
                 for name in ("variance", "gaussian")]
    return Result(top["bound"], top["measured"], tuple(top["ci"]), judges.combine([verdict, *verdicts]),
                  trials,
                  evidence + [{"name": "by_path", "value": rows}],
                  note="theory is Cantelli's bound from the derived margin moments; estimate the headline "
                       "path's rate of choosing the other path's answer")


def _grid(dims, loads, hops, dists):
    return [{"d_k": d, "n": max(2, int(r * d)), "L": h, "key_dist": k}
            for k in dists for d in dims for r in loads for h in hops]


CLAIMS = (
    Claim(
        id="conditioning.multi_hop",
        paper_ref=f"{BEYOND} (section 5.1, eqs 18-20 define the chain; the paper states no noise law for it)",
        statement="The error of an L-hop chain of Hebbian layers relative to its target's power is F^L - 1, "
                  "F derived per key law: the product law (1 + (n-1)/d_k)^L - 1 is exact for sphere keys; "
                  "gaussian keys give (1 + (n+1)/d_k)^L - 1.",
        kind="exact",
        judge="exact",
        quantity="relative_error",
        params=CHAIN_PARAMS,
        derive=lambda: [proof.multi_hop(d) for d in KEY_DISTS],
        # the per-trial error is a product of L random factors, right-skewed for small n: the
        # first look is large enough for the interval to be trusted
        measure=_product_law(sampled(Law(lambda p: proof.multi_hop(p["key_dist"]), "relative_error"), CHAIN,
                                     estimator="ratio", first=2048)),
        grid={
            "ci": _grid((64,), (0.5,), (1, 3, 6), ("sphere", "gaussian")),
            "book": _grid((32, 128), (0.25, 0.5), (1, 2, 4, 6), ("sphere", "gaussian")),
            "paper": _grid((32, 128, 512), (0.25, 0.5, 1.0), (1, 2, 3, 4, 6, 8), KEY_DISTS),
        },
        probe=Probe("theory", (1.02, 0.98), point={"d_k": 32, "n": 16, "L": 4, "key_dist": "gaussian"}),
    ),
    Claim(
        id="conditioning.residual",
        paper_ref=f"{BEYOND} (eq 20 defines the residual stream; taken with W_O = I and no Norm)",
        statement="With the residual stream the L-hop retrieval carries every stimulus on the path; "
                  "its error against their sum, relative to the sum's power L+1, is (a_L - (L+1))/(L+1), "
                  "a_L from a two-state linear recursion (derived).",
        kind="exact",
        judge="exact",
        quantity="relative_error",
        params=CHAIN_PARAMS,
        derive=lambda: [proof.residual(d) for d in KEY_DISTS],
        measure=sampled(Law(lambda p: proof.residual(p["key_dist"]), "relative_error"), RESIDUAL_CHAIN,
                        estimator="ratio", first=2048, evidence=_residual_evidence),
        grid={
            "ci": _grid((64,), (0.25,), (1, 4), ("sphere", "gaussian")),
            "book": _grid((32, 128), (0.25, 0.5), (1, 2, 4, 6), ("sphere", "gaussian")),
            "paper": _grid((32, 128, 512), (0.25, 0.5, 1.0), (1, 2, 3, 4, 6, 8), KEY_DISTS),
        },
        probe=Probe("theory", (1.02, 0.98), point={"d_k": 32, "n": 16, "L": 3, "key_dist": "sphere"}),
    ),
    Claim(
        id="conditioning.routing",
        paper_ref=f"{BEYOND} (section 5.1.3 describes the two routes in words; "
                  "the margin law is the project's)",
        statement="The same weights route animal to dog in one context and to lizard in the other: each "
                  "context's answer beats the other's with margin of derived mean 1 and variance V, so the "
                  "wrong path wins with probability at most V/(1+V) (Cantelli's inequality, proved).",
        kind="bound",
        judge="bound",
        quantity="path_error",
        params=(D_K.but(high=4096), N.but(high=4096, help="pairs stored in each layer")),
        derive=proof.routing,
        measure=measure_routing,
        grid={
            "ci": [{"d_k": 32, "n": 8}, {"d_k": 64, "n": 16}],
            "book": [{"d_k": 32, "n": int(r * 32)} for r in (0.25, 0.5, 1.0, 2.0)]
            + [{"d_k": 64, "n": int(r * 64)} for r in (0.25, 0.5, 1.0)] + [{"d_k": 128, "n": 32}],
            "paper": [{"d_k": d, "n": int(r * d)} for d in (32, 128, 512) for r in (0.25, 0.5, 1.0, 2.0)],
        },
        probe=Probe("bound", (0.1,), point={"d_k": 16, "n": 16}),
    ),
)
