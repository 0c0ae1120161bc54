"""The book as a reader sees it, and the helpers its pages are built from.

The tests marked ``browser`` open every page of the built book (``book/_build/html``, or the site
in ``PAVLOV_BOOK_HTML``) in headless Chromium from its files, as a reader opens it, wait until
MathJax has typeset it, and fail when a raw TeX delimiter is visible in the page's text (folded blocks
opened), when MathJax reports a TeX error, when any request leaves the machine, when a local file
is missing, or when the console shows an error. They keep one screenshot per page (viewport
1000 x 800, and the full page) in ``screenshots`` beside the site (``book/_build/screenshots``).
Without a built book, Chromium or Playwright they skip, with the reason; with
``PAVLOV_BROWSER_REQUIRED=1`` (as ``make test`` runs them, after building the book) they fail
instead.
"""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import sympy as sp

from pavlov_theory import book
from pavlov_theory.derivation import Derivation

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("PAVLOV_BOOK_HTML", ROOT / "book" / "_build" / "html")).resolve()
SHOTS = HTML.parent / "screenshots"
REQUIRED = os.environ.get("PAVLOV_BROWSER_REQUIRED", "") == "1"
VIEWPORT = {"width": 1000, "height": 800}
RAW_TEX = ("\\(", "\\)", "\\[", "\\]", "$$", "\\begin{")
# an unparsed $...$ or a TeX command with an argument: what dollarmath or MathJax left undone
RAW_TEX_PATTERNS = (r"(?<![\\$])\$[^$\s][^$\n]{0,80}\$", r"\\[A-Za-z]+\{")
# MyST markup a reader should never see: a fence or a role that was not parsed
RAW_MYST = ("```", "{dropdown}", "{math}", "{eq}", "{doc}", "{download}", "{bdg-")
LOCAL_SCHEMES = {"file", "data", "blob", "about"}
# no host name resolves: a request that would leave the machine is recorded (the page's
# "request" event) and goes nowhere
NO_NETWORK = "--host-resolver-rules=MAP * ~NOTFOUND"
PAGES = sorted(p.name for p in HTML.glob("*.html")) or ["(no built book)"]


# --- the helpers the pages are built from --------------------------------------------------------

def _derivation() -> Derivation:
    d, n = sp.symbols("d_k n", positive=True)
    j = sp.symbols("j", integer=True, positive=True)
    der = Derivation("noise power, toy")
    der.step("P_N = sum_{j != m} E[c_j^2] (eq 31)", sp.Sum(1 / d, (j, 1, n - 1)), (n - 1) / d)
    der.inequality("SNR at most d_k", d / (n + 1), d)
    for size in (2, 3, 4):
        der.confirm(f"E||k||^4 by brute force over {size} explicit coordinates", size + 2, size + 2)
    der.step("a long one", sp.Sum(sum(sp.Symbol(f"x_{i}") for i in range(60)), (j, 1, 1)),
             sum(sp.Symbol(f"x_{i}") for i in range(60)))
    return der


def test_steps_show_each_identity_as_a_labelled_equation():
    text = book.steps_markdown(_derivation())
    assert "```{math}\n:label: noise-power-toy-1\n\n\\sum_{j=1}^{n - 1} \\frac{1}{d_{k}} = " in text
    assert ":label: noise-power-toy-2\n\n\\frac{d_{k}}{n + 1} \\le d_{k}" in text


def test_equation_labels_name_the_shown_steps():
    assert book.equation_labels(_derivation()) == {
        "noise-power-toy-1": "P_N = sum_{j != m} E[c_j^2] (eq 31)", "noise-power-toy-2": "SNR at most d_k",
        "noise-power-toy-3": "a long one"}


def test_steps_take_a_label_prefix():
    assert ":label: toy-2\n" in book.steps_markdown(_derivation(), label="toy")


def test_step_descriptions_are_escaped():
    assert "P\\_N = sum\\_\\{j != m\\} E\\[c\\_j^2\\]" in book.steps_markdown(_derivation())


def test_confirmations_at_several_sizes_merge_into_one_line():
    last = book.steps_markdown(_derivation()).split("\n\n")[-1]
    assert last == book.CONFIRMED_LINE + "E\\|\\|k\\|\\|^4 by brute force over 2, 3, 4 explicit coordinates."


def test_an_assumption_is_shown_as_assumed_and_numbered_with_the_steps():
    p, q = sp.symbols("p q", positive=True)
    der = Derivation("toy")
    joint = der.assume("independent events", sp.Eq(q, sp.Product(sp.Function("p")(sp.Symbol("h")),
                                                                  (sp.Symbol("h"), 1, 2))))
    der.step("both at p", joint.subs(sp.Function("p")(sp.Symbol("h")), p), p**2)
    text = book.steps_markdown(der)
    assert text.startswith(book.ASSUMED + "independent events:\n\n```{math}\n:label: toy-1\n")
    assert ":label: toy-2" in text and "both at p" in text


def test_long_steps_are_folded():
    text = book.steps_markdown(_derivation(), max_chars=400)
    folded = text.split("````{dropdown}")
    assert len(folded) == 2 and ":label: noise-power-toy-3" in folded[1]


def test_dropdown_titles_hold_no_backtick():
    # a backtick in a fence's info string ends the fence: the block would show as raw text
    assert book.dropdown("`a.b`: exact", "body").splitlines()[0] == "````{dropdown} 'a.b': exact"


def test_verdict_badges_colour_by_verdict():
    assert book.verdict_badge("exact") == "{bdg-success}`exact`"
    assert book.verdict_badge("fails") == "{bdg-danger}`fails`"
    assert book.verdict_badge("undecided") == "{bdg-secondary}`undecided`"


def _ledger() -> dict:
    result = {"claim": "capacity.noise_power", "quantity": "snr", "params": {"n": 65, "d_k": 64},
              "theory": 1.0, "estimate": 1.01, "ci": [0.99, 1.03], "verdict": "exact", "judge": "exact",
              "trials": 1000, "seed": 0, "device": "cpu", "evidence": [], "note": "a, b"}
    claim = {"claim": "capacity.noise_power", "paper_ref": "Theorem 6", "statement": "SNR = d_k/(n-1)",
             "judge": "exact", "verdict": "exact", "probe": "x 1.02", "probe_trivial": "", "points": 1,
             "vacuous_points": 0, "seconds": 0.5}
    return {"claims": [claim], "results": [result]}


def test_ledger_table_has_four_columns_and_links_the_chapter():
    header, rule, row = book.ledger_table(_ledger()).splitlines()
    assert header == "| claim | verdict | judge | points |"
    assert row == "| {doc}`capacity.noise_power <capacity>` | {bdg-success}`exact` | exact | 1 |"


def test_ledger_csv_has_one_row_per_result():
    rows = list(csv.DictReader(io.StringIO(book.ledger_csv(_ledger()))))
    assert len(rows) == 1 and list(rows[0]) == book.CSV_COLUMNS
    assert json.loads(rows[0]["params"]) == {"d_k": 64, "n": 65} and rows[0]["note"] == "a, b"


def test_downloads_are_written(tmp_path):
    paths = book.write_downloads(_ledger(), tmp_path / "d")
    assert json.loads(paths["json"].read_text()) == _ledger()
    assert paths["csv"].read_text().startswith(",".join(book.CSV_COLUMNS))


def test_mathjax_ships_with_the_book_extra():
    assert (book.mathjax_dir() / "config" / "TeX-AMS-MML_HTMLorMML-full.js").is_file()


# --- the built book in a browser ----------------------------------------------------------------

def _unavailable() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed: pip install -e '.[test]'"
    if shutil.which("chromium") is None:
        return "no chromium on PATH: apt-get install chromium"
    if not (HTML / "index.html").is_file():
        return f"no built book in {HTML}: run `make book` first"
    return None


@pytest.fixture(scope="module")
def site() -> str:
    """The built book's folder as a file:// URL: read the way the README says to open it."""
    reason = _unavailable()
    if reason and REQUIRED:
        pytest.fail(reason)
    if reason:
        pytest.skip(reason)
    return HTML.as_uri() + "/"


@pytest.fixture(scope="module")
def browser(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                              args=[NO_NETWORK])
        yield chromium
        chromium.close()


@dataclass
class Visit:
    """What happened while a page loaded and was typeset."""

    external: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    raw_tex: list[str] = field(default_factory=list)
    tex_errors: list[str] = field(default_factory=list)
    typeset: list[str] = field(default_factory=list)


# every visible text node outside code, as a reader sees it (MathJax keeps its TeX in <script>)
VISIBLE_TEXT = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const out = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest('pre, code, script, style, noscript, textarea')) continue;
    if (!el.checkVisibility({visibilityProperty: true})) continue;
    out.push(n.textContent);
  }
  return out.join(' ');
}"""

# resolves 'typeset' once MathJax 2 has finished the page (its startup signal 'End' follows the
# first typesetting; queueing on the hub from inside that hook stalls the queue), 'no math' on a
# page without it, and 'timeout' when MathJax has not finished within the given milliseconds
TYPESET = """ms => new Promise(resolve => {
  setTimeout(() => resolve('timeout'), ms);
  if (!document.querySelector('script[src*="MathJax.js"]')) { resolve('no math'); return; }
  const wait = () => (window.MathJax && MathJax.Hub && MathJax.Hub.Register)
    ? MathJax.Hub.Register.StartupHook('End', () => resolve('typeset'))
    : setTimeout(wait, 50);
  wait();
})"""

RETYPESET = """ms => new Promise(resolve => {
  setTimeout(() => resolve('timeout'), ms);
  MathJax.Hub.Queue(['Rerender', MathJax.Hub], () => resolve('typeset'));
})"""
TIMEOUT_MS = 60_000
REDIRECT = re.compile(r'<meta http-equiv="Refresh" content="0; url=([^"]+)"', re.IGNORECASE)

TEX_ERRORS = """() => !window.MathJax || !MathJax.Hub || !MathJax.Hub.getAllJax ? [] :
  MathJax.Hub.getAllJax().filter(j => j.texError || (j.root && j.root.texError))
    .map(j => j.originalText.slice(0, 120))
    .concat([...document.querySelectorAll('.MathJax_Error')].map(e => e.textContent.slice(0, 120)))"""


def _raw_tex(text: str) -> list[str]:
    """Up to five snippets of ``text`` around raw TeX delimiters or unparsed MyST markup."""
    pattern = "|".join([re.escape(t) for t in RAW_TEX + RAW_MYST] + list(RAW_TEX_PATTERNS))
    return [text[max(0, i - 40):i + 60] for i in (m.start() for m in re.finditer(pattern, text))][:5]


def _is_local(url: str) -> bool:
    return urlsplit(url).scheme in LOCAL_SCHEMES


def _visit(browser, site: str, name: str) -> tuple[Visit, object]:
    """Open page ``name`` at 1000 x 800, wait for MathJax, screenshot it, open its folded blocks,
    and record what went wrong on the way."""
    visit = Visit()
    page = browser.new_page(viewport=VIEWPORT)
    page.on("request", lambda r: None if _is_local(r.url) else visit.external.append(r.url))
    page.on("console", lambda m: visit.console.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: visit.console.append(str(e)))
    page.on("requestfailed", lambda r: visit.missing.append(f"{r.url} ({r.failure})"))
    page.on("websocket", lambda w: visit.external.append(w.url))
    page.set_default_timeout(TIMEOUT_MS)
    redirect = REDIRECT.search((HTML / name).read_text())
    page.goto(site + name, wait_until="load")
    if redirect:  # Jupyter Book's index.html: check the page it forwards to
        page.wait_for_url(site + redirect.group(1), wait_until="load")
    visit.typeset.append(page.evaluate(TYPESET, TIMEOUT_MS))
    page.evaluate("() => document.fonts.ready.then(() => 1)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    stem = name.removesuffix(".html")
    page.screenshot(path=SHOTS / f"{stem}.png")
    page.screenshot(path=SHOTS / f"{stem}-full.png", full_page=True)
    visit.raw_tex = _raw_tex(page.evaluate(VISIBLE_TEXT))
    if page.evaluate("() => document.querySelectorAll('details:not([open])').length"):
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        if page.evaluate("() => !!window.MathJax && !!window.MathJax.Hub"):
            visit.typeset.append(page.evaluate(RETYPESET, TIMEOUT_MS))
        visit.raw_tex += _raw_tex(page.evaluate(VISIBLE_TEXT))
    visit.tex_errors = page.evaluate(TEX_ERRORS)
    return visit, page


@pytest.mark.browser
@pytest.mark.parametrize("name", PAGES)
def test_page_renders_offline(browser, site, name):
    visit, page = _visit(browser, site, name)
    page.close()
    assert "timeout" not in visit.typeset, f"{name}: MathJax did not finish in {TIMEOUT_MS} ms"
    assert visit.external == [], f"{name} loads from the network: {visit.external}"
    assert visit.missing == [], f"{name}: requests failed: {visit.missing}"
    assert visit.raw_tex == [], f"{name} shows raw TeX or MyST markup: {visit.raw_tex}"
    assert visit.tex_errors == [], f"{name}: MathJax could not typeset: {visit.tex_errors}"
    assert visit.console == [], f"{name} logs errors: {visit.console}"


# the verdict badges of every table (the summary, and each claim's points with its block opened):
# each one, with the page scrolled down to it (only down: a table's own horizontal scroll stays
# where a reader finds it), must lie inside the viewport and be what the reader sees at its centre
# (not clipped by the table's scrolling box); and the summary shows one badge a row
VERDICTS_SEEN = """() => {
  document.querySelectorAll('details').forEach(d => d.open = true);
  const tables = [...document.querySelectorAll('article table')];
  const out = [];
  for (const badge of document.querySelectorAll('article table .sd-badge')) {
    window.scrollTo(0, window.scrollY + badge.getBoundingClientRect().top - window.innerHeight / 2);
    const r = badge.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    out.push({text: badge.textContent, right: r.right, width: window.innerWidth,
              seen: r.width > 0 && r.right <= window.innerWidth && !!hit && badge.contains(hit)});
  }
  const first = tables.length ? tables[0] : null;
  return {rows: first ? first.querySelectorAll('tbody tr').length : 0,
          summary: first ? first.querySelectorAll('.sd-badge').length : 0, badges: out};
}"""


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.targets += [v for k, v in attrs if k in ("href", "src") and v]


def _local_target(page: Path, link: str) -> Path | None:
    parts = urlsplit(link)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    return (page.parent / unquote(parts.path)).resolve()


@pytest.mark.browser
def test_local_links_resolve(site):
    broken = []
    for page in sorted(HTML.glob("*.html")):
        parser = _Links()
        parser.feed(page.read_text())
        broken += [f"{page.name}: {link}" for link in parser.targets
                   if (target := _local_target(page, link)) is not None and not target.exists()]
    assert broken == []


def _downloads() -> dict[str, Path]:
    """The files the ledger page offers for download, by name."""
    parser = _Links()
    parser.feed((HTML / "ledger.html").read_text())
    return {Path(urlsplit(t).path).name: HTML / unquote(urlsplit(t).path) for t in parser.targets
            if "_downloads/" in t}


@pytest.mark.browser
def test_ledger_offers_json_and_csv(site):
    found = _downloads()
    assert {"ledger.json", "ledger.csv"} <= set(found)
    ledger = json.loads(found["ledger.json"].read_text())
    rows = list(csv.DictReader(io.StringIO(found["ledger.csv"].read_text())))
    assert len(rows) == len(ledger["results"]) and list(rows[0]) == book.CSV_COLUMNS
    assert {c["claim"] for c in ledger["claims"]} == {r["claim"] for r in rows}


@pytest.mark.browser
def test_ledger_verdicts_are_visible_at_1000_pixels(browser, site):
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(site + "ledger.html", wait_until="load")
    page.evaluate(TYPESET, TIMEOUT_MS)
    folded = page.evaluate("() => document.querySelectorAll('details:not([open])').length")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    found = page.evaluate(VERDICTS_SEEN)
    page.close()
    assert folded, "the ledger's details start folded"
    assert width <= VIEWPORT["width"], f"the ledger page is {width} px wide at {VIEWPORT['width']} px"
    assert found["rows"] and found["summary"] == found["rows"], "the summary shows one verdict badge a claim"
    hidden = [s for s in found["badges"] if not s["seen"]]
    assert hidden == [], f"verdicts cut off at {VIEWPORT['width']} px: {hidden[:3]}"
