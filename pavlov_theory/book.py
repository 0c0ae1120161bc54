"""Helpers for the book's pages: read the ledger, render SymPy results, plot theory vs estimate.

The module is also the book's Sphinx extension (``extra_extensions`` in ``book/_config.yml``): it
copies the MathJax 2 that the ``book`` extra installs (package ``jupyter-server-mathjax``) into the
built site, so formulas render without a network, and leaves out the unused live-code (thebe)
scripts.
"""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import sympy as sp

from . import ledger as ledger_mod
from .claims import get_claim
from .figures import evidence_row

DEFAULT_LEDGER = Path("_build") / "ledger-book.json"  # relative to book/, where chapters execute
MATHJAX_PACKAGE = "jupyter_server_mathjax"
MATHJAX_TARGET = Path("_static") / "mathjax"  # inside the HTML output; book/_config.yml's mathjax_path


def mathjax_dir() -> Path:
    """The folder holding ``MathJax.js`` (MathJax 2.7) in the installed ``jupyter-server-mathjax``,
    found without importing the package (importing it needs a Jupyter server)."""
    spec = importlib.util.find_spec(MATHJAX_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("jupyter-server-mathjax is not installed: pip install -e '.[book]'")
    folder = Path(list(spec.submodule_search_locations)[0]) / "static"
    if not (folder / "MathJax.js").is_file():
        raise FileNotFoundError(f"no MathJax.js in {folder}")
    return folder


def _copy_mathjax(app: Any, exception: Exception | None) -> None:
    """Sphinx ``build-finished`` hook: copy MathJax into the HTML output (``_static/mathjax``)."""
    if exception is None and app.builder.format == "html":
        shutil.copytree(mathjax_dir(), Path(app.outdir) / MATHJAX_TARGET, dirs_exist_ok=True)


def _is_thebe(asset: Any) -> bool:
    return "thebe" in str(asset.filename or "") or "THEBE_JS_URL" in asset.attributes.get("body", "")


def _drop_thebe(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """Sphinx ``html-page-context`` hook: leave out sphinx-thebe's assets. Live code is off in this
    book; its loader names a CDN, and Jupyter Book adds its configuration script twice, which the
    browser reports as an error on every page."""
    for key in ("script_files", "css_files"):
        if key in context:
            context[key][:] = [asset for asset in context[key] if not _is_thebe(asset)]


def _allow_parallel_reading(app: Any) -> None:
    """Sphinx ``builder-inited`` hook: sphinx-external-toc always loads sphinx-multitoc-numbering,
    which does not declare whether it is safe for parallel reading, so Sphinx reads (and
    executes) the chapters one by one. With ``use_multitoc_numbering`` off (``_config.yml``) it
    does nothing while pages are read (it renumbers sections after every page is merged), so it
    is declared safe here."""
    numbering = app.extensions.get("sphinx_multitoc_numbering")
    if numbering is not None and not app.config.use_multitoc_numbering:
        numbering.parallel_read_safe = True


def _write_serially(app: Any) -> None:
    """Sphinx ``builder-inited`` hook: the pages are written one after the other. In a parallel
    write, Sphinx (7.4) starts each task only after the main process has resolved the page before
    it, and an error that a finished worker reports while a task is being added is dropped
    (``ParallelTasks.add_task`` terminates the workers and goes on), so a page could fail to be
    written without failing the build. Reading, where the chapters execute, stays parallel: it
    queues every task at once, and its errors are raised when the tasks are joined."""
    app.builder.allow_parallel = False


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point: ship MathJax with the site, drop the unused live-code assets, let
    Sphinx read the chapters in parallel (``tools/build_book.py``) and write the pages serially.
    Fails the build at once when MathJax is missing, rather than leaving pages whose formulas show
    as raw TeX."""
    mathjax_dir()
    app.connect("builder-inited", _allow_parallel_reading)
    app.connect("builder-inited", _write_serially)
    app.connect("build-finished", _copy_mathjax)
    app.connect("html-page-context", _drop_thebe)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def ledger_path(book_dir: Path = Path(".")) -> Path:
    """Where the chapters read their ledger: ``PAVLOV_LEDGER`` (``make`` sets it), else the
    book-scale ledger ``make`` writes (``pavlov-theory verify --out book/_build/ledger-book.json``);
    a relative path is from ``book_dir``, the book's folder, where the chapters execute."""
    return book_dir / os.environ.get("PAVLOV_LEDGER", DEFAULT_LEDGER)


def load_ledger() -> dict[str, Any]:
    """The ledger the chapters read (:func:`ledger_path`; they execute in the book's folder)."""
    path = ledger_path()
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
    row = evidence_row(outcome, name)
    return row.get("value", row)


def math(expr: sp.Basic):
    """A display object MyST-NB can glue as math (``{glue:math}``)."""
    from IPython.display import Math

    return Math(sp.latex(expr))


_MARKUP = re.compile(r"([\\`*_\[\]{}<>|#$~])")
CONFIRMED_LINE = "Confirmed independently, by brute force or exact enumeration at explicit instances: "
ASSUMED = "Assumed, not derived: "


def escape_markdown(text: str) -> str:
    """``text`` with every character MyST Markdown could read as markup backslash-escaped (``$``
    would open math, ``|`` split a table cell, ``*`` and ``_`` emphasise)."""
    return _MARKUP.sub(r"\\\1", text)


def slug(text: str) -> str:
    """``text`` as a label: lower case, runs of other characters replaced by one hyphen."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def step_tex(step: Any) -> str:
    """The LaTeX of what a derivation step checks: its left side as computed, ``=`` (or ``\\le``
    for an inequality), its right side."""
    relation = r"\le" if step.relation == "<=" else "="
    return f"{sp.latex(step.lhs)} {relation} {sp.latex(step.rhs)}"


def confirmations_line(labels: list[str]) -> str:
    """One sentence listing independent confirmations; labels that differ only in their numbers
    (the same check at several sizes) are merged, their numbers listed in place."""
    groups: dict[str, list[list[str]]] = {}
    for label in labels:
        groups.setdefault(re.sub(r"\d+", "#", label), []).append(re.findall(r"\d+", label))
    merged = []
    for template, numbers in groups.items():
        parts = template.split("#")
        values = [", ".join(dict.fromkeys(column)) for column in zip(*numbers)]
        merged.append(parts[0] + "".join(v + p for v, p in zip(values, parts[1:])))
    return CONFIRMED_LINE + "; ".join(escape_markdown(m) for m in merged) + "."


def dropdown(title: str, body: str) -> str:
    """A folded block (sphinx-design dropdown) titled ``title`` (Markdown; a backtick fence's info
    string may hold no backtick, so any in the title become quotes) holding ``body``, which may
    itself contain three-backtick fences."""
    return f"````{{dropdown}} {title.replace('`', chr(39))}\n{body}\n````"


def _math_block(tex: str, label: str) -> str:
    return f"```{{math}}\n:label: {label}\n\n{tex}\n```"


def equation_labels(derivation: Any, label: str | None = None) -> dict[str, str]:
    """The equation label :func:`steps_markdown` gives each shown step of ``derivation`` (every step
    but the confirmations), mapped to the step's description: what prose cites with ``{eq}``."""
    prefix = label or slug(derivation.title)
    shown = [step for step in derivation.steps if step.relation != "confirms"]
    return {f"{prefix}-{k}": step.label for k, step in enumerate(shown, start=1)}


def steps_markdown(derivation: Any, max_chars: int = 400, label: str | None = None) -> str:
    """Every checked step of ``derivation`` as MyST Markdown: its description, then the identity
    SymPy checked (left side as computed, ``=`` or ``\\le``, right side; an inequality's
    certificate after it) as a numbered display equation labelled ``<prefix>-<k>``, where
    ``prefix`` is ``label`` or :func:`slug` of the derivation's title and ``k`` counts the shown
    steps from 1 (:func:`equation_labels` lists them); prose cites a step as ``{eq}`<prefix>-<k>```.
    A step whose LaTeX is longer than ``max_chars`` characters is folded in a dropdown.
    Confirmations (``Derivation.confirm``: one instance computed independently) are summarised in
    one closing line. An assumption (``Derivation.assume``) is shown as a step is, its description
    opened by :data:`ASSUMED`, so a reader can tell what is taken from what is checked."""
    tags = iter(equation_labels(derivation, label))
    blocks, confirmations = [], []
    for step in derivation.steps:
        if step.relation == "confirms":
            confirmations.append(step.label)
            continue
        tag = next(tags)
        tex = step_tex(step)
        text = (ASSUMED if step.relation == "assumes" else "") + escape_markdown(step.label)
        if step.certificate is not None:
            text += f" (the difference equals ${sp.latex(step.certificate)} \\ge 0$)"
        if len(tex) <= max_chars:
            blocks.append(f"{text}:\n\n{_math_block(tex, tag)}")
        else:
            blocks.append(dropdown(f"{text} (a long expression, folded)", _math_block(tex, tag)))
    if confirmations:
        blocks.append(confirmations_line(confirmations))
    return "\n\n".join(blocks)


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    fmt = lambda x: f"{x:.4g}" if isinstance(x, float) else str(x)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


# verdict -> sphinx-design badge colour: passes green (refined blue: the paper's own form is
# rejected), loose amber, fails red, undecided and vacuous grey
VERDICT_COLOURS = {"exact": "success", "holds": "success", "refined": "info", "loose": "warning",
                   "fails": "danger", "undecided": "secondary", "vacuous": "secondary"}
CSV_COLUMNS = ["claim", "quantity", "params", "theory", "estimate", "ci_low", "ci_high", "verdict",
               "judge", "trials", "seed", "device", "note"]


def verdict_badge(verdict: str) -> str:
    """A verdict as a coloured badge (MyST role of sphinx-design)."""
    return f"{{bdg-{VERDICT_COLOURS.get(verdict, 'secondary')}}}`{verdict}`"


def claim_link(claim_id: str) -> str:
    """A claim id linked to its section's chapter (the part of the id before the dot)."""
    return f"{{doc}}`{claim_id} <{claim_id.split('.')[0]}>`"


def ledger_header(ledger: dict[str, Any]) -> str:
    """One sentence: the ledger's scale, device, torch, seed, error level and run time (s)."""
    return (f"Scale `{ledger['scale']}` on {escape_markdown(ledger['device_name'])}, torch "
            f"{ledger['torch']}, seed {ledger['seed']}, family-wise level {ledger['fwer']:g} "
            f"({ledger['alpha_per_check']:.2g} per check), {ledger['seconds']:.0f} s in all.")


def ledger_table(ledger: dict[str, Any]) -> str:
    """Every claim in four narrow columns: the claim linked to its chapter, its verdict as a
    coloured badge, the judge, and the number of points (vacuous ones counted apart)."""
    rows = [[claim_link(c["claim"]), verdict_badge(c["verdict"]), c["judge"],
             f"{c['points']}" + (f" ({c['vacuous_points']} vacuous)" if c["vacuous_points"] else "")]
            for c in ledger["claims"]]
    return markdown_table(["claim", "verdict", "judge", "points"], rows)


def _interval(ci: list[Any]) -> str:
    return f"[{_fmt(ci[0])}, {_fmt(ci[1])}]"


def point_text(params: dict[str, Any]) -> str:
    """A grid point as ``name=value, ...``."""
    return ", ".join(f"{k}={v}" for k, v in params.items())


def claim_details(ledger: dict[str, Any], claim_id: str) -> str:
    """A folded block (dropdown) for one claim: its statement, paper reference, power probe,
    measured quantity and seconds, and a table of every point it was checked at (verdict first, so
    it stays in view on a narrow page)."""
    record = summary(ledger, claim_id)
    probe = record["probe"] + (f" (rejected trivially: {record['probe_trivial']})"
                               if record["probe_trivial"] else "")
    points = results(ledger, claim_id)
    quantities = ", ".join(dict.fromkeys(r["quantity"] for r in points))
    rows = [[verdict_badge(r["verdict"]), escape_markdown(point_text(r["params"])), _fmt(r["theory"]),
             _fmt(r["estimate"]), _interval(r["ci"]), r["trials"]] for r in points]
    table = markdown_table(["verdict", "parameters", "theory", "estimate", "interval", "trials"], rows)
    return dropdown(f"{escape_markdown(claim_id)}: {record['verdict']}",
                    f"{escape_markdown(record['statement'])}\n\n"
                    f"Paper: {escape_markdown(record['paper_ref'])}. Power probe: {escape_markdown(probe)}. "
                    f"Quantity: {escape_markdown(quantities)}. Checked in {record['seconds']:.1f} s; "
                    f"section {claim_link(claim_id)}.\n\n{table}")


def ledger_csv(ledger: dict[str, Any]) -> str:
    """The ledger's results as CSV, one row per checked point (``params`` as a JSON object)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in ledger["results"]:
        low, high = r["ci"]
        writer.writerow([r["claim"], r["quantity"], json.dumps(r["params"], sort_keys=True), r["theory"],
                         r["estimate"], low, high, r["verdict"], r["judge"], r["trials"], r["seed"],
                         r["device"], r.get("note", "")])
    return out.getvalue()


def write_downloads(ledger: dict[str, Any], folder: str | Path) -> dict[str, Path]:
    """Write the ledger as ``ledger.json`` and ``ledger.csv`` into ``folder`` (created) and
    return their paths by format, for the book's download links."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "ledger.json", "csv": folder / "ledger.csv"}
    paths["json"].write_text(json.dumps(ledger, indent=1) + "\n")
    paths["csv"].write_text(ledger_csv(ledger))
    return paths


def _fmt(x: Any) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def finding(ledger: dict[str, Any], claim_id: str) -> str:
    """One line with the decisive numbers of a claim: the first point whose verdict is the
    claim's (theory, estimate, interval, parameters that differ from the defaults)."""
    verdict_of_claim = verdict(ledger, claim_id)
    point = next((r for r in results(ledger, claim_id) if r["verdict"] == verdict_of_claim), None)
    if point is None:  # e.g. every point vacuous: no point carries the claim's verdict
        return "no counted point (see the ledger)"
    lo, hi = point["ci"]
    defaults = {p.name: p.default for p in get_claim(claim_id).params}
    changed = {k: v for k, v in point["params"].items() if k not in defaults or defaults[k] != v}
    where = ", ".join(f"{k}={v}" for k, v in changed.items()) or "the defaults"
    return escape_markdown(f"{point['quantity']}: theory {_fmt(point['theory'])}, "
                           f"estimate {_fmt(point['estimate'])} [{_fmt(lo)}, {_fmt(hi)}] at {where}")


def findings_table(ledger: dict[str, Any]) -> str:
    """Every claim of the ledger: its verdict, what it says, the decisive numbers, its chapter."""
    rows = []
    for record in ledger["claims"]:
        claim_id = record["claim"]
        origin = "beyond the paper" if record["beyond_paper"] else record["paper_ref"]
        rows.append([verdict_badge(record["verdict"]), claim_link(claim_id), origin,
                     finding(ledger, claim_id)])
    header = ["verdict", "claim", "source", "decisive numbers (first point with that verdict)"]
    return markdown_table(header, rows)
