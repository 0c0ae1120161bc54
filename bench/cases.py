"""The shapes benchmarked: those the book-scale checks draw, a few small fixed ones, and each
kernel's example point (seconds; for smoke tests).

Book shapes are read from the claims' own grids at run time, so they follow the grids: every
``d_k`` of the worst-case capacity sweep with its loads ``1..N`` (``measure_capacities``), and
for the other sweeps the grid point whose trial costs the most flops, mapped to the kernel's
parameters the way the claim's check maps it. A claim or kernel that is gone is skipped with a
note, never an error.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from bench.flops import FLOPS, flops_per_trial
from pavlov_theory.claims import registry

SHAPES = ("small", "book", "example")


@dataclass(frozen=True)
class Case:
    """One kernel at one parameter point; ``label`` says where the point comes from."""

    label: str
    kernel: str
    params: Mapping[str, Any] = field(default_factory=dict)
    # the parameters of the other kernels of its estimators where they differ from ``params``
    # (a plain kernel that draws what the fast one averages out), by kernel name
    plain_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def params_of(self, kernel: str) -> Mapping[str, Any]:
        return self.plain_params.get(kernel, self.params)

    def shape(self) -> str:
        return self.shape_of(self.kernel)

    def shape_of(self, kernel: str) -> str:
        return " ".join(f"{k}={v}" for k, v in self.params_of(kernel).items())


SMALL = (  # fixed small shapes, kept so that runs of different dates compare
    Case("small", "capacity.noise_curves",
         {"n": 64, "d_k": 64, "d_v": 64, "key_dist": "sphere", "delta": 0.5}),
    Case("small", "conditioning.chain", {"L": 4, "n": 32, "d_k": 64, "key_dist": "sphere"}),
    Case("small", "capacity.probe_signal_noise", {"n": 64, "d_k": 64, "d_v": 64, "key_dist": "gaussian"}),
    Case("small", "capacity.item_noise", {"n": 32, "d_k": 64, "d_v": 64, "delta": 0.5},
         {"capacity.noise_curves": {"n": 32, "d_k": 64, "d_v": 64, "key_dist": "sphere", "delta": 0.5}}),
    Case("small", "forgetting.stream_powers_averaged",
         {"d_k": 64, "d_v": 0, "gamma": 0.9, "tau": 5, "T": 200, "key_dist": "sphere"},
         {"forgetting.stream_powers": {"d_k": 64, "d_v": 16, "gamma": 0.9, "tau": 5, "T": 200,
                                       "key_dist": "sphere"}}),
    Case("small", "forgetting.probe_stream_powers_averaged",
         {"d_k": 256, "d_v": 0, "gamma": 0.99, "tau": 5, "T": 2000, "key_dist": "sphere"}),
    Case("small", "rules.oja_powers_averaged", {"T": 64, "tau": 8, "d_k": 16, "d_v": 8, "alpha": 0.5}),
    Case("small", "rules.oja_norm_averaged", {"T": 64, "tau": 0, "d_k": 16, "d_v": 8, "alpha": 0.5}),
    Case("small", "softmax.powers_averaged", {"n": 64, "d_k": 16, "beta": 2.0, "s": 0.9},
         {"softmax.powers": {"n": 64, "d_k": 16, "d_v": 16, "beta": 2.0, "s": 0.9}}),
    Case("small", "softmax.normalised_powers_averaged", {"n": 64, "d_k": 16, "beta": 2.0, "s": 0.9},
         {"softmax.normalised_powers": {"n": 64, "d_k": 16, "d_v": 16, "beta": 2.0, "s": 0.9}}),
)


def capacity_sweep(found: Mapping[str, Any], scale: str = "book") -> list[Case]:
    """``capacity.noise_curves`` at every ``d_k`` of each ``capacity.worst_case`` point of
    ``scale``, with ``n`` the sweep's largest load there (``sweep_loads``)."""
    from pavlov_theory.proofs import capacity as proof
    from pavlov_theory.simulations import capacity

    cases = []
    for point in registry()["capacity.worst_case"].points(scale):
        der = proof.worst_case(point["key_dist"])
        for d_k in capacity.sweep_dims(point["d_k"]):
            params = {"n": capacity.sweep_loads(der, d_k, point["delta"]), "d_k": d_k, "d_v": point["d_v"],
                      "key_dist": point["key_dist"], "delta": point["delta"]}
            cases.append(Case(f"capacity.worst_case {scale}", "capacity.noise_curves", params))
    return cases


PointMap = Callable[[Mapping[str, Any]], Mapping[str, Any]]


def costliest(claim: str, kernel: str, to_kernel: PointMap = dict, scale: str = "book",
              plain: Mapping[str, PointMap] | None = None) -> Callable[[Mapping[str, Any]], list[Case]]:
    """The point of ``claim``'s grid at ``scale`` whose trial of ``kernel`` costs the most flops
    (ties: the most memory), with ``to_kernel`` mapping the claim's point to the kernel's parameters;
    ``plain`` maps it to the parameters of a plain kernel that takes other ones (by its name)."""
    def cases(found: Mapping[str, Any]) -> list[Case]:
        points = [(p, dict(to_kernel(p))) for p in registry()[claim].points(scale)]
        cost = lambda p: (flops_per_trial(kernel, p) or 0.0, found[kernel].bytes_per_trial(p, 4))
        point, params = max(points, key=lambda pair: cost(pair[1]))
        others = {name: dict(fn(point)) for name, fn in (plain or {}).items()}
        return [Case(f"{claim} {scale}", kernel, params, others)]
    return cases


def pick(*keys: str, **fixed: Any) -> PointMap:
    """A claim's point reduced to the keys a kernel reads (the claim's own keys, such as the
    ``keys``/``values`` switch that picks the kernel, dropped), with ``fixed`` set."""
    return lambda p: {**{k: p[k] for k in keys}, **fixed}


def snr_load(p: Mapping[str, Any]) -> Mapping[str, Any]:
    """``capacity.average_case``'s kernel point: the claim's point at the load nearest the derived
    capacity, as ``check_average_case`` maps it."""
    from pavlov_theory.proofs import capacity as proof
    from pavlov_theory.simulations.capacity import measured_load

    n0 = measured_load(proof.average_case(p["key_dist"]).evaluate("capacity", **p))
    return {"n": n0, "d_k": p["d_k"], "d_v": p["d_v"], "key_dist": p["key_dist"]}


def counted_lag(p: Mapping[str, Any]) -> Mapping[str, Any]:
    """``forgetting.effective_capacity``'s kernel point: the stream read at the lag of the derived
    count of items (one of the two lags ``measured_items`` reads), sphere keys, values averaged."""
    from pavlov_theory.proofs import forgetting as proof
    from pavlov_theory.simulations.forgetting import _stream

    items = round(proof.effective_capacity().evaluate("items", **p))
    return _stream(p, tau=min(max(items, 0), p["T"] - 1), d_v=0)


def drawn_values(claim: str, scale: str = "book") -> PointMap:
    """``forgetting.snr_by_lag``'s plain kernel point: the averaged point with the value dimension
    of the claim's grid point that draws the values (``d_v > 0``; the largest if several)."""
    def to_plain(p: Mapping[str, Any]) -> Mapping[str, Any]:
        d_v = max(q["d_v"] for q in registry()[claim].points(scale))
        return {**p, "d_v": d_v}
    return to_plain


def chain(*sources: Callable[[Mapping[str, Any]], list[Case]]) -> Callable[[Mapping[str, Any]], list[Case]]:
    """Several sources of one claim (a claim that draws two kernels), their cases in turn."""
    return lambda found: [case for source in sources for case in source(found)]


# claim -> its book-scale cases; each mapping reads as the claim's check draws the kernel
BOOK: dict[str, Callable[[Mapping[str, Any]], list[Case]]] = {
    "capacity.worst_case": capacity_sweep,
    "conditioning.multi_hop": costliest("conditioning.multi_hop", "conditioning.chain"),
    "conditioning.residual": costliest("conditioning.residual", "conditioning.residual_chain"),
    "propagation.head_failure": costliest("propagation.head_failure", "propagation.failures",
                                          lambda p: {**p, "H": 1}),
    "propagation.layer_failure": costliest("propagation.layer_failure", "propagation.failures"),
    # the heads' keys come from an embedding, so the check draws them (the drawn-keys path)
    "propagation.shared_heads": costliest("propagation.shared_heads", "propagation.failures_drawn_keys",
                                          lambda p: {**p, "embedding": "shared"}),
    "propagation.network_error": costliest("propagation.network_error", "propagation.network_failures"),
    "propagation.head_count": costliest("propagation.head_count", "propagation.failures",
                                        lambda p: {**p, "H": 1, "d_k": p["d_model"]}),
    # variance-reduced kernels: the point whose trial of the fast kernel costs most; the plain kernel
    # at the same point unless it takes other parameters (then mapped as its check would draw it)
    "capacity.noise_power": costliest("capacity.noise_power", "capacity.probe_signal_noise"),
    "capacity.average_case": costliest("capacity.average_case", "capacity.probe_signal_noise", snr_load),
    "capacity.concentration": costliest(
        "capacity.concentration", "capacity.item_noise", pick("n", "d_k", "d_v", "delta"),
        plain={"capacity.noise_curves": pick("n", "d_k", "d_v", "key_dist", "delta")}),
    "forgetting.snr_by_lag": costliest(
        "forgetting.snr_by_lag", "forgetting.stream_powers_averaged", lambda p: {**p, "d_v": 0},
        plain={"forgetting.stream_powers": drawn_values("forgetting.snr_by_lag")}),
    "forgetting.effective_capacity": costliest(
        "forgetting.effective_capacity", "forgetting.probe_stream_powers_averaged", counted_lag,
        plain={"forgetting.stream_powers_averaged": counted_lag}),
    "rules.oja": chain(*(costliest("rules.oja", k, pick("T", "tau", "d_k", "d_v", "alpha"))
                         for k in ("rules.oja_powers_averaged", "rules.oja_norm_averaged"))),
    "softmax.snr": chain(*(costliest("softmax.snr", f"softmax.{k}_averaged", pick("n", "d_k", "beta", "s"),
                                     plain={f"softmax.{k}": pick("n", "d_k", "d_v", "beta", "s")})
                           for k in ("powers", "normalised_powers"))),
}


def examples(found: Mapping[str, Any]) -> list[Case]:
    """Each kernel with a flop count at its own ``example`` point (tiny: where the kernel-vs-naive
    tests compare it)."""
    return [Case("example", name, dict(found[name].example)) for name in FLOPS if name in found]


def collect(shapes: Iterable[str], found: Mapping[str, Any]) -> tuple[list[Case], list[str]]:
    """The cases of the chosen ``shapes`` whose kernel is registered (``found``: name -> kernel),
    and a note for each source that could not be read."""
    cases: list[Case] = []
    notes: list[str] = []
    chosen = set(shapes)
    if "small" in chosen:
        cases += SMALL
    if "book" in chosen:
        for claim, source in BOOK.items():
            try:
                cases += source(found)
            except (KeyError, AttributeError, ImportError) as error:
                notes.append(f"{claim}: book shapes skipped ({type(error).__name__}: {error})")
    if "example" in chosen:
        cases += examples(found)
    kept = [c for c in cases if c.kernel in found]
    notes += [f"{c.kernel}: not registered, {c.label} skipped" for c in cases if c.kernel not in found]
    return kept, notes

