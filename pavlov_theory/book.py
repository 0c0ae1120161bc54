"""Helpers for the book's pages: read the ledger, render SymPy results, plot theory vs estimate."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sympy as sp

from . import ledger as ledger_mod

DEFAULT_LEDGER = Path("_build") / "ledger.json"


def load_ledger() -> dict[str, Any]:
    """The ledger written by ``pavlov-theory verify --out book/_build/ledger.json``
    (or the path in ``PAVLOV_LEDGER``)."""
    path = Path(os.environ.get("PAVLOV_LEDGER", DEFAULT_LEDGER))
    if not path.exists():
        raise FileNotFoundError(f"no ledger at {path}: run `pavlov-theory verify --out {path}` first")
    return ledger_mod.load(path)


def results(ledger: dict[str, Any], claim_id: str, **match: Any) -> list[dict[str, Any]]:
    """The ledger's outcomes for ``claim_id`` whose params include ``match``."""
    return [r for r in ledger["results"] if r["claim"] == claim_id
            and all(r["params"].get(k) == v for k, v in match.items())]


def summary(ledger: dict[str, Any], claim_id: str) -> dict[str, Any]:
    """The ledger's one-line record of ``claim_id`` (verdict, judge, probe, points)."""
    for record in ledger["claims"]:
        if record["claim"] == claim_id:
            return record
    raise KeyError(f"{claim_id} is not in the ledger: run `pavlov-theory verify` with it")


def verdict(ledger: dict[str, Any], claim_id: str) -> str:
    return summary(ledger, claim_id)["verdict"]


def verdict_line(ledger: dict[str, Any], claim_id: str):
    """The verdict of a claim as the chapters show it under each section, with its judge, its
    power probe and where the ledger came from."""
    from IPython.display import Markdown

    record = summary(ledger, claim_id)
    vacuous = record.get("vacuous_points", 0)
    extra = f", {vacuous} vacuous point(s) left out" if vacuous else ""
    trivial = record["probe_trivial"]
    probe = record["probe"] + (f", rejected trivially: {trivial}" if trivial else "")
    return Markdown(f"**Verdict for `{claim_id}`: {record['verdict']}** (judge `{record['judge']}`, "
                    f"{record['points']} point(s){extra}; power probe: {probe}; "
                    f"ledger at scale `{ledger['scale']}`, {ledger['device_name']}).")


def evidence(outcome: dict[str, Any], name: str) -> Any:
    """The evidence row ``name`` of one ledger outcome (its ``value`` when it has one)."""
    for row in outcome["evidence"]:
        if row.get("name") == name:
            return row.get("value", row)
    raise KeyError(f"{outcome['claim']}: no evidence named {name}")


def math(expr: sp.Basic):
    """A display object MyST-NB can glue as math (``{glue:math}``)."""
    from IPython.display import Math

    return Math(sp.latex(expr))


def steps_markdown(derivation, max_chars: int = 400) -> str:
    """Every checked step of a derivation, as a numbered markdown list with inline math; a step
    whose LaTeX is longer than ``max_chars`` (or a matrix) is listed by its label alone."""
    lines, confirmations = [], []
    for step in derivation.steps:
        if step.relation == "confirms":
            confirmations.append(step.label)
            continue
        number = len(lines) + 1
        if isinstance(step.lhs, sp.MatrixBase):
            lines.append(f"{number}. {step.label} (checked entry by entry)")
            continue
        relation = r"\le" if step.relation == "<=" else "="
        tex = f"{sp.latex(step.lhs)} {relation} {sp.latex(step.rhs)}"
        shown = f"{step.label}: $\\; {tex}$" if len(tex) <= max_chars else f"{step.label} (checked)"
        lines.append(f"{number}. {shown}")
    if confirmations:
        lines.append(f"\nConfirmed by independent computation: {'; '.join(confirmations)}.")
    return "\n".join(lines)


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    fmt = lambda x: f"{x:.4g}" if isinstance(x, float) else str(x)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def errorbar(ax, x, outcomes: list[dict[str, Any]], label: str, **kw) -> None:
    """Estimates with their confidence intervals as error bars."""
    est = [o["estimate"] for o in outcomes]
    lo = [o["estimate"] - o["ci"][0] for o in outcomes]
    hi = [o["ci"][1] - o["estimate"] for o in outcomes]
    ax.errorbar(x, est, yerr=[lo, hi], fmt="o", capsize=3, label=label, **kw)


def _fmt(x: Any) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def finding(ledger: dict[str, Any], claim_id: str) -> str:
    """One line with the decisive numbers of a claim: the first point whose verdict is the
    claim's (theory, estimate, interval, parameters that differ from the defaults)."""
    verdict_of_claim = verdict(ledger, claim_id)
    points = results(ledger, claim_id)
    point = next((r for r in points if r["verdict"] == verdict_of_claim), points[0])
    lo, hi = point["ci"]
    where = ", ".join(f"{k}={v}" for k, v in point["params"].items())
    return (f"{point['quantity']}: theory {_fmt(point['theory'])}, estimate {_fmt(point['estimate'])} "
            f"[{_fmt(lo)}, {_fmt(hi)}] at {where}")


def findings_table(ledger: dict[str, Any]) -> str:
    """Every claim of the ledger: its verdict, what it says, the decisive numbers, its chapter."""
    rows = []
    for record in ledger["claims"]:
        claim_id = record["claim"]
        section = claim_id.split(".")[0]
        origin = "beyond the paper" if record["beyond_paper"] else record["paper_ref"]
        rows.append([f"**{record['verdict']}**", f"{{doc}}`{claim_id} <{section}>`", origin,
                     finding(ledger, claim_id)])
    header = ["verdict", "claim", "source", "decisive numbers (first point with that verdict)"]
    return markdown_table(header, rows)
