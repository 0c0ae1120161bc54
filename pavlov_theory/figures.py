"""The one figure style of the book: a single panel at page width, derived values as lines,
estimates as points with their confidence intervals as error bars, the verdict in the title.

Chapters build every figure with :func:`panel`, draw with :func:`theory` and :func:`estimates`
(or :func:`interval_points` for evidence rows), close with :func:`finish`, and put the decisive
numbers in a caption computed from the ledger with :func:`caption`. matplotlib is imported only
when a figure is made (it is a dependency of the book, not of the verifier).
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

WIDTH_IN = 6.4   # inches: the width of the book's text column at 100 dpi
HEIGHT_IN = 4.0  # inches
STYLE: dict[str, Any] = {
    "font.size": 11, "axes.titlesize": 11, "axes.labelsize": 11, "legend.fontsize": 9,
    "xtick.labelsize": 10, "ytick.labelsize": 10, "lines.linewidth": 1.5, "lines.markersize": 5,
    "errorbar.capsize": 3, "axes.grid": True, "grid.alpha": 0.3, "figure.dpi": 100,
    "legend.frameon": False,
}
THEORY_STYLE: dict[str, Any] = {"lw": 1.5}
ESTIMATE_STYLE: dict[str, Any] = {"fmt": "o", "capsize": 3, "ms": 5}


def panel(xlabel: str, ylabel: str, *, xlog: bool = False, ylog: bool = False,
          height: float = HEIGHT_IN) -> tuple[Any, Any]:
    """A new single-panel figure at page width (``WIDTH_IN`` by ``height`` inches) in the book's
    style, with axis labels (which carry the units) and optional log axes; returns ``(fig, ax)``."""
    import matplotlib.pyplot as plt

    plt.rcParams.update(STYLE)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, height))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    return fig, ax


def theory(ax: Any, x: Sequence[float], y: Sequence[float], label: str | None = None, **kw: Any) -> None:
    """A derived law as a line (``y`` computed from the derivation at ``x``)."""
    ax.plot(list(x), list(y), label=label, **{**THEORY_STYLE, **kw})


def _finite(*values: Any) -> bool:
    return all(v is not None and math.isfinite(float(v)) for v in values)


def interval_points(ax: Any, x: Sequence[float], estimate: Sequence[float],
                    lo: Sequence[float], hi: Sequence[float], label: str | None = None, **kw: Any) -> None:
    """Estimates with their interval ``[lo, hi]`` as error bars; points without a finite estimate or
    limit are left out (the ledger writes a non-finite number as null)."""
    rows = [(a, e, low, high) for a, e, low, high in zip(x, estimate, lo, hi) if _finite(a, e, low, high)]
    if not rows:
        return
    xs, est, low, high = (list(c) for c in zip(*rows))
    yerr = [[max(e - a, 0.0) for e, a in zip(est, low)], [max(b - e, 0.0) for e, b in zip(est, high)]]
    style = {**ESTIMATE_STYLE, **kw}
    if "marker" in kw:  # a marker of its own replaces the format string's
        style.pop("fmt")
        style.setdefault("ls", "none")
    ax.errorbar(xs, est, yerr=yerr, label=label, **style)


def estimates(ax: Any, x: Sequence[float], outcomes: Iterable[dict[str, Any]], label: str | None = None,
              **kw: Any) -> None:
    """Ledger outcomes (their ``estimate`` and ``ci``) at ``x`` as points with error bars."""
    outs = list(outcomes)
    interval_points(ax, x, [o["estimate"] for o in outs], [o["ci"][0] for o in outs],
                    [o["ci"][1] for o in outs], label, **kw)


def verdict_title(ledger: dict[str, Any], claim_id: str, what: str = "") -> str:
    """A figure title naming the claim, its verdict in the ledger and the ledger's scale."""
    verdict = next((c["verdict"] for c in ledger["claims"] if c["claim"] == claim_id), "not run")
    head = f"{what}: " if what else ""
    return f"{head}{claim_id} {verdict} (scale {ledger['scale']})"


def finish(fig: Any, ax: Any, title: str, *, legend: bool = True) -> Any:
    """Title (the verdict), legend and layout; shows the figure and returns it."""
    import matplotlib.pyplot as plt

    ax.set_title(title)
    if legend and ax.get_legend() is None and ax.get_legend_handles_labels()[0]:
        ax.legend()
    fig.tight_layout()
    plt.show()
    return fig


def legend_below(ax: Any, ncol: int = 2) -> None:
    """The legend under the axes, in ``ncol`` columns (for figures with many series)."""
    ax.legend(ncol=ncol, loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize=8)


def caption(text: str):
    """The caption under a figure, a Markdown paragraph computed from the ledger."""
    from IPython.display import Markdown

    return Markdown(f"*Figure.* {text}")


def fmt(x: Any, digits: int = 3) -> str:
    """A number as the captions print it (``digits`` significant digits; ``n/a`` for null)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}g}"


def interval_text(outcome: dict[str, Any], digits: int = 3) -> str:
    """``estimate [lo, hi]`` of a ledger outcome."""
    lo, hi = outcome["ci"]
    return f"{fmt(outcome['estimate'], digits)} [{fmt(lo, digits)}, {fmt(hi, digits)}]"


def evidence_row(outcome: dict[str, Any], name: str) -> dict[str, Any]:
    """The whole evidence row ``name`` of a ledger outcome (all its fields, not only its value)."""
    for row in outcome["evidence"]:
        if row.get("name") == name:
            return row
    raise KeyError(f"{outcome['claim']}: no evidence named {name}")


def span(values: Sequence[float], digits: int = 3) -> str:
    """``a to b`` for the least and largest of ``values`` (just ``a`` when they print the same)."""
    low, high = fmt(min(values), digits), fmt(max(values), digits)
    return low if low == high else f"{low} to {high}"
