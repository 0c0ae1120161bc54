"""The chapters' prose states no number the registry does not hold, and each chapter ends with a
runnable check.

Every number a chapter shows beyond these is computed from the ledger in a code cell, so it stays
true at the scale the book is built at. A number in a chapter's Markdown text (code cells left
out) is read in its context:

- a reference (an equation, section, definition, theorem or appendix number, a year, the arXiv
  id) is not a value;
- a percentage must be a relative tolerance the project declares: the exact judge's
  ``POWER_REL``, the distance from 1 of one of the chapter's probe factors, the family-wise error
  level, or an interval level of the coverage study;
- a multiplier (``N times``, ``a factor N``, ``by a factor of N``, ``x N``) must be a factor of
  one of the chapter's own power probes, or ``1 +- POWER_REL``;
- a small integer may be a label (``layer 2``, ``context 1``) or a constant of a formula
  (``(d_k + 2)/(n - 1)``);
- any other number must be a value of the chapter's own claims (a parameter's default or range,
  a grid point's value or load ``n/d_k`` at any scale, a probe's value or point, a count of the
  choices a parameter offers or of the chapter's claims), or one of the constants 0, 1, the
  family-wise level and ``1 +- POWER_REL``.

Inside math, integers are constants of formulas; decimals and powers of ten follow the last rule.
Inline code follows the same rules as the text around it. A chapter is the set of claims whose id
starts with its file name; a page without claims (the introduction, the ledger, the statistical
design) has only the constants (and, for the statistical design, the coverage study's levels).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pavlov_theory import judges, ledger
from pavlov_theory.claims import registry

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(p for p in BOOK.glob("*.md") if not p.name.startswith("_"))

# the arXiv id of the paper; years (of the paper, of Oja's rule, of cited work) are references too
REFERENCE_NUMBERS = {"2508.08289"}
YEAR = re.compile(r"(?:19|20)\d\d")
_REF_WORDS = r"(?:eqs?\.?|equations?|sections?|definitions?|theorems?|appendix|appendices|figures?|steps?)"
_REF_NUMBER = r"[A-Z]?\d+(?:\.\d+)*"
REFERENCE = re.compile(rf"\b{_REF_WORDS}\s+{_REF_NUMBER}(?:\s*(?:-|–|to|and|,|or)\s*(?:{_REF_WORDS}\s+)?"
                       rf"{_REF_NUMBER})*", re.IGNORECASE)
NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(%|\\%)?(?![\w])")
GROUPED = re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?![\w,])")
# an integer written out in math (not part of a decimal); above LARGEST_FORMULA_CONSTANT it must
# be a value the chapter's claims hold
MATH_INTEGER = re.compile(r"(?<![\w.^_{])\d+(?![\w.])")
MATH_VALUE = re.compile(r"(?<![\w.])(?:10\^\{?(-?\d+)\}?|(\d+\.\d+(?:[eE][-+]?\d+)?))(\\%)?")
MULTIPLIER_BEFORE = re.compile(r"(?:\bfactor(?:\s+of)?|\btimes|\bmultiplied\s+by|\bdivided\s+by|\bx|×)\s*$",
                               re.IGNORECASE)
MULTIPLIER_AFTER = re.compile(r"^\s*(?:times\b|×|-?fold\b)", re.IGNORECASE)
LABEL_BEFORE = re.compile(r"\b(?:layers?|contexts?|hops?|heads?|paths?|routes?|stages?|parts?)[\s-]$",
                          re.IGNORECASE)
OPERATORS = "+-*/^"
SMALLEST_LABEL, LARGEST_LABEL = 1, 9  # a label names one of a few things
LARGEST_FORMULA_CONSTANT = 4  # (d_k + 2), (n - 1), 1/4: the constants the derived formulas carry
NO_TRY_IT = {"ledger", "statistics", "coverage"}  # the ledger's table and the statistical pages run no claim


@dataclass(frozen=True)
class Known:
    """What a chapter's prose may state: plain values, multipliers and relative tolerances."""

    values: frozenset[float]
    factors: frozenset[float]
    relative: frozenset[float] = field(default=frozenset())

    def holds(self, value: float, kind: str) -> bool:
        pool = {"value": self.values, "factor": self.factors, "relative": self.relative}[kind]
        return any(abs(value - k) <= 1e-9 * max(abs(value), abs(k)) for k in pool)  # relative: 1e-9 is not 0


def constants() -> set[float]:
    """The numbers every page may state: 0, 1, the family-wise error level and ``1 +- POWER_REL``."""
    return {0.0, 1.0, ledger.DEFAULT_FWER, 1 + judges.POWER_REL, 1 - judges.POWER_REL}


def _add(values: set[float], x: object) -> None:
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        values.add(float(x))


def claim_values(claims: list) -> set[float]:
    """The values a set of claims holds: parameter defaults and ranges, grid values at every scale
    (with each point's load n/d_k), probe values and points, and counts (a parameter's choices, the
    claims themselves)."""
    values = constants() | ({float(len(claims))} if claims else set())
    for claim in claims:
        for p in claim.params:
            for x in (p.default, p.low, p.high):
                _add(values, x)
            if p.choices:
                values.add(float(len(p.choices)))
        points = [point for scale in claim.grid.values() for point in scale]
        points.append(claim.probe.point or {})
        for point in points:
            resolved = {**{p.name: p.default for p in claim.params}, **point}
            for x in resolved.values():
                _add(values, x)
            if isinstance(resolved.get("n"), int) and isinstance(resolved.get("d_k"), int):
                values.add(resolved["n"] / resolved["d_k"])
        for x in claim.probe.values:
            _add(values, x)
    return values


def probe_factors(claims: list) -> set[float]:
    """The multipliers a chapter may state: its probes' factors (theory and bound probes) and
    ``1 +- POWER_REL``."""
    factors = {1 + judges.POWER_REL, 1 - judges.POWER_REL}
    for claim in claims:
        if claim.probe.kind in ("theory", "bound"):
            factors |= {float(v) for v in claim.probe.values}
    return factors


def known_for(stem: str) -> Known:
    """What the chapter ``book/<stem>.md`` may state, from its own claims in the registry."""
    claims = [c for claim_id, c in registry().items() if claim_id.split(".")[0] == stem]
    factors = probe_factors(claims)
    relative = {judges.POWER_REL, ledger.DEFAULT_FWER} | {round(abs(f - 1), 12) for f in factors}
    if stem in ("statistics", "coverage"):
        from pavlov_theory import coverage

        relative |= set(coverage.LEVELS) | {coverage.CONFIDENCE}
    return Known(frozenset(claim_values(claims)), frozenset(factors), frozenset(relative))


def _strip_fences(markdown: str) -> str:
    text = re.sub(r"\A---\n.*?\n---\n", "", markdown, flags=re.S)
    text = re.sub(r"^(`{3,}|~{3,}).*?^\1\s*$", " ", text, flags=re.S | re.M)
    return re.sub(r"<!--.*?-->", " ", text, flags=re.S)


MATH = re.compile(r"\$\$.*?\$\$|(?<!\\)\$.+?(?<!\\)\$", re.S)


def math_spans(markdown: str) -> list[str]:
    """The math of a chapter's Markdown text (display and inline), code cells left out."""
    return MATH.findall(_strip_fences(markdown))


def prose(markdown: str) -> str:
    """A chapter's Markdown without its front matter, code cells and other fenced blocks, math,
    roles, link targets and HTML comments: the text a reader reads as prose, inline code kept
    (with its backticks dropped)."""
    text = MATH.sub(" ", _strip_fences(markdown))
    text = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", text)
    text = re.sub(r"`([^`]*)`", r" \1 ", text)
    return re.sub(r"\]\([^)]*\)", "]", text)


def _neighbour(text: str, start: int, end: int) -> tuple[str, str]:
    before, after = text[:start].rstrip(), text[end:].lstrip()
    return (before[-1] if before else ""), (after[0] if after else "")


def _kind_of(text: str, match: re.Match) -> str:
    """How a number is used: ``relative`` (a percentage), ``factor`` (a multiplier), ``label``,
    ``formula`` (a small constant of a formula) or ``value``."""
    if match.group(2):
        return "relative"
    before, after = text[max(0, match.start() - 30):match.start()], text[match.end():match.end() + 12]
    if MULTIPLIER_BEFORE.search(before) or MULTIPLIER_AFTER.search(after):
        return "factor"
    token = match.group(1)
    if token.isdigit():
        left, right = _neighbour(text, match.start(), match.end())
        if LABEL_BEFORE.search(before) and SMALLEST_LABEL <= int(token) <= LARGEST_LABEL:
            return "label"
        if (left in OPERATORS or right in OPERATORS) and int(token) <= LARGEST_FORMULA_CONSTANT:
            return "formula"
    return "value"


def stray_numbers(markdown: str, known: Known) -> list[str]:
    """The numbers of a chapter (its prose, inline code and math) that its context does not
    justify: neither a reference, a label or a formula constant, nor a value ``known`` holds in
    the role the number plays (a plain value, a multiplier or a relative tolerance)."""
    text = REFERENCE.sub(" ", prose(markdown))
    stray = []
    for match in GROUPED.finditer(text):  # "1,000" would otherwise read as 1 and 0
        if not known.holds(float(match.group(0).replace(",", "")), "value"):
            stray.append(match.group(0))
    text = GROUPED.sub(" ", text)
    for match in NUMBER.finditer(text):
        token = match.group(0)
        if token in REFERENCE_NUMBERS or YEAR.fullmatch(token):
            continue
        kind = _kind_of(text, match)
        value = float(match.group(1)) / (100 if kind == "relative" else 1)
        if kind in ("label", "formula") or known.holds(value, kind):
            continue
        stray.append(token)
    for span in math_spans(markdown):
        for match in MATH_VALUE.finditer(span):
            value = 10.0 ** int(match.group(1)) if match.group(1) is not None else float(match.group(2))
            kind = "relative" if match.group(3) else "value"
            if not known.holds(value / 100 if kind == "relative" else value, kind):
                stray.append(match.group(0))
        formula = re.sub(r"[\^_]\{[^{}]*\}", " ", MATH_VALUE.sub(" ", span))  # exponents, indices
        for match in MATH_INTEGER.finditer(formula):
            value = int(match.group(0))
            if value > LARGEST_FORMULA_CONSTANT and not known.holds(float(value), "value"):
                stray.append(match.group(0))
    return stray


@pytest.fixture(scope="module")
def capacity() -> Known:
    return known_for("capacity")


def test_prose_strips_code_math_and_roles_and_keeps_inline_code():
    text = "Text 7 $x = 3.5$ and `y = 4` and\n```{code-cell}\nz = 99\n```\n$$w = 12$$ {doc}`a 13 <b>`."
    assert re.findall(r"\d+(?:\.\d+)?", prose(text)) == ["7", "4"]
    assert math_spans(text) == ["$x = 3.5$", "$$w = 12$$"]


def test_references_are_not_numbers_to_check():
    text = ("Theorem 9 (eqs 41-43), section 5.1.3, Definitions 10 and 11, appendix A.1.3, eq 17, "
            "arXiv 2508.08289, Oja (1982).")
    assert stray_numbers(text, Known(frozenset(), frozenset())) == []


def test_labels_and_formula_constants_are_not_values():
    text = "Layer 1 holds A -> B, layer 2 B -> C; the layer-2 value; the SNR falls as (d_k + 2)/(n - 1)."
    assert stray_numbers(text, Known(frozenset(), frozenset())) == []


def test_a_planted_typed_number_is_caught(capacity):
    chapter = (BOOK / "capacity.md").read_text()
    planted = chapter + "\nThe measured capacity is 37.25 pairs, about 0.31 of d_k.\n"
    assert set(stray_numbers(planted, capacity)) - set(stray_numbers(chapter, capacity)) == {"37.25", "0.31"}


@pytest.mark.parametrize("sentence, number", [
    ("The law is within 5% of the measurement.", "5%"),
    ("The bound is 10 times the measured rate.", "10"),
    ("The bound is loose by a factor of 3.", "3"),
    ("The frame stores 9 more pairs.", "9"),
    ("The mean-field value is $\\approx 0.17$ here.", "0.17"),
    ("A layer's failure rate of $10^{-9}$ is measured.", "10^{-9}"),
    ("Run it with `--set n=37`.", "37"),
    ("The memory holds 1,000 pairs.", "1,000"),
    ("The capacity is $\\approx 37$ pairs.", "37"),
])
def test_planted_numbers_in_context_are_caught(capacity, sentence, number):
    """Each plant is a number some claim of the registry holds in another role or another
    chapter (5% is epsilon = 0.05, 10 a probe factor of the head count), or none at all: in
    capacity.md's context each must be reported."""
    chapter = (BOOK / "capacity.md").read_text()
    assert number in stray_numbers(chapter + "\n" + sentence + "\n", capacity)


def test_the_plants_are_values_the_old_registry_wide_rule_accepted():
    """The rule is stronger than "any value of the registry": 5% (0.05) and 10 are such values."""
    everything = claim_values(list(registry().values()))
    assert 0.05 in everything and 10.0 in everything


def test_honest_numbers_in_context_are_accepted(capacity):
    text = ("A 2% error; the probe multiplies the derived value by 1.02 and 0.98; "
            "the decoding check at d_k = 64; loads 0.25 and 2.")
    assert stray_numbers(text, capacity) == []


def test_a_multiplier_must_be_a_probe_factor_not_any_value():
    known = Known(frozenset({1.0, 16.0}), frozenset({1.5}))
    assert stray_numbers("a memory 1.5 times (or 1/1.5 times) the derived one, at d_k = 16", known) == []
    assert stray_numbers("a bound 16 times the measured rate", known) == ["16"]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_prose_states_no_number_its_claims_lack(chapter):
    assert stray_numbers(chapter.read_text(), known_for(chapter.stem)) == []


@pytest.mark.parametrize("chapter", [c for c in CHAPTERS if c.stem not in NO_TRY_IT],
                         ids=lambda p: p.stem)
def test_chapter_ends_with_a_runnable_check(chapter):
    text = chapter.read_text()
    assert "## Try it" in text
    tail = text.split("## Try it")[-1]
    assert "pavlov-theory check" in tail and "pt.check(" in tail


def test_every_claim_has_a_figure_in_its_chapter():
    """Each claim whose chapter exists draws at least one figure titled with its verdict."""
    missing = []
    for claim_id in registry():
        chapter = BOOK / f"{claim_id.split('.')[0]}.md"
        if chapter.exists() and f'figs.verdict_title(ledger, "{claim_id}"' not in chapter.read_text():
            missing.append(claim_id)
    assert missing == []


@pytest.mark.parametrize("chapter", [p for p in CHAPTERS if "steps_markdown(" in p.read_text()],
                         ids=lambda p: p.stem)
def test_every_chapter_with_derivations_cites_a_checked_step(chapter):
    assert re.search(r"\{eq\}`[\w-]+`", _strip_fences(chapter.read_text()))
