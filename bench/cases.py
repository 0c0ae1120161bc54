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

    def shape(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.params.items())


SMALL = (  # fixed small shapes, kept so that runs of different dates compare
    Case("small", "capacity.noise_curves",
         {"n": 64, "d_k": 64, "d_v": 64, "key_dist": "sphere", "delta": 0.5}),
    Case("small", "conditioning.chain", {"L": 4, "n": 32, "d_k": 64, "key_dist": "sphere"}),
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


def costliest(claim: str, kernel: str, to_kernel: Callable[[Mapping[str, Any]], Mapping[str, Any]] = dict,
              scale: str = "book") -> Callable[[Mapping[str, Any]], list[Case]]:
    """The point of ``claim``'s grid at ``scale`` whose trial of ``kernel`` costs the most flops
    (ties: the most memory), with ``to_kernel`` mapping the claim's point to the kernel's parameters."""
    def cases(found: Mapping[str, Any]) -> list[Case]:
        points = [dict(to_kernel(p)) for p in registry()[claim].points(scale)]
        cost = lambda p: (flops_per_trial(kernel, p) or 0.0, found[kernel].bytes_per_trial(p, 4))
        return [Case(f"{claim} {scale}", kernel, max(points, key=cost))]
    return cases


# claim -> its book-scale cases; each mapping reads as the claim's check draws the kernel
BOOK: dict[str, Callable[[Mapping[str, Any]], list[Case]]] = {
    "capacity.worst_case": capacity_sweep,
    "conditioning.multi_hop": costliest("conditioning.multi_hop", "conditioning.chain"),
    "conditioning.residual": costliest("conditioning.residual", "conditioning.residual_chain"),
    "propagation.head_failure": costliest("propagation.head_failure", "propagation.failures",
                                          lambda p: {**p, "H": 1}),
    "propagation.layer_failure": costliest("propagation.layer_failure", "propagation.failures"),
    "propagation.shared_heads": costliest("propagation.shared_heads", "propagation.failures",
                                          lambda p: {**p, "embedding": "shared"}),
    "propagation.network_error": costliest("propagation.network_error", "propagation.network_failures"),
    "propagation.head_count": costliest("propagation.head_count", "propagation.failures",
                                        lambda p: {**p, "H": 1, "d_k": p["d_model"]}),
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

