"""What a chapter of the book is executed again for (tools/book_cache.py)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from pavlov_theory.claims import registry, section_of
from tools import book_cache

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = """# Alpha

```{code-cell} ipython3
:tags: [remove-cell]
from pavlov_theory import book
from pavlov_theory.proofs import alpha as proof
%matplotlib inline
```
"""


def _ledger(value: float = 1.0, seconds: float = 2.0, other: float = 3.0) -> dict:
    claims = [{"claim": "alpha.one", "verdict": "holds", "seconds": seconds},
              {"claim": "beta.two", "verdict": "holds", "seconds": seconds}]
    results = [{"claim": "alpha.one", "estimate": value, "cached": False},
               {"claim": "beta.two", "estimate": other, "cached": False}]
    return {"scale": "ci", "seconds": seconds, "claims": claims, "results": results}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    files = {
        "pavlov_theory/engine.py": "",
        "proofs/vectors.py": "X = 1\n",
        "proofs/alpha.py": "from .vectors import X\n",
        "proofs/beta.py": "",
        "simulations/alpha.py": "from pavlov_theory.proofs import alpha\n",
        "simulations/beta.py": "from pavlov_theory.proofs import beta\n",
        "book/alpha.md": CHAPTER,
        "book/intro.md": "# Intro\n",
        **{name: "" for name in book_cache.COMMON},
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def _edit(path: Path) -> None:
    path.write_text(path.read_text() + "# edited\n")


def test_relative_imports_resolve_to_the_package():
    code = "from .vectors import d_k\nfrom . import capacity\n"
    assert {"pavlov_theory.proofs.vectors", "pavlov_theory.proofs.capacity"} <= \
        book_cache._imported_modules(code, module="pavlov_theory.proofs.rules")


def test_closure_follows_imports_transitively(repo):
    closure = book_cache.module_closure(repo, ["pavlov_theory.simulations.alpha"])
    assert closure == {repo / "simulations/alpha.py", repo / "proofs/alpha.py", repo / "proofs/vectors.py"}


def test_chapter_code_drops_cell_options_and_magics(repo):
    code = book_cache.chapter_code(repo / "book/alpha.md")
    assert "tags" not in code and "%matplotlib" not in code and "import alpha as proof" in code


def test_an_edit_of_a_stored_measurement_changes_every_chapters_digest(repo):
    stored = repo / book_cache.MEASURED / "scan.json"
    stored.parent.mkdir(parents=True)
    stored.write_text("{}")
    before = {c: book_cache.digest(repo, repo / c, _ledger()) for c in ("book/alpha.md", "book/intro.md")}
    stored.write_text('{"rows": []}')
    assert all(book_cache.digest(repo, repo / c, _ledger()) != d for c, d in before.items())


def test_a_section_chapter_reads_its_modules_not_another_sections(repo):
    files = book_cache.chapter_files(repo, repo / "book/alpha.md")
    assert repo / "proofs/vectors.py" in files and repo / "simulations/beta.py" not in files


def test_an_edit_of_an_imported_module_changes_the_digest(repo):
    before = book_cache.digest(repo, repo / "book/alpha.md", _ledger())
    _edit(repo / "proofs/vectors.py")
    assert book_cache.digest(repo, repo / "book/alpha.md", _ledger()) != before


def test_an_edit_of_another_section_keeps_the_digest(repo):
    before = book_cache.digest(repo, repo / "book/alpha.md", _ledger())
    _edit(repo / "simulations/beta.py")
    assert book_cache.digest(repo, repo / "book/alpha.md", _ledger()) == before


def _state(repo: Path, chapters: dict[str, str]) -> dict:
    return {"root": str(repo.resolve()), "chapters": chapters}


def test_an_edit_of_the_engine_changes_every_digest(repo):
    before = book_cache.digests(repo, repo / "book", _ledger())
    _edit(repo / "pavlov_theory/engine.py")
    after = book_cache.digests(repo, repo / "book", _ledger())
    assert book_cache.stale(after, _state(repo, before), repo) == ["book/alpha.md", "book/intro.md"]


def test_nothing_is_stale_when_nothing_changed(repo):
    current = book_cache.digests(repo, repo / "book", _ledger())
    assert book_cache.stale(current, _state(repo, current), repo) == []


def test_a_build_of_a_checkout_elsewhere_makes_every_chapter_stale(repo):
    current = book_cache.digests(repo, repo / "book", _ledger())
    moved = {"root": "/elsewhere", "chapters": current}
    assert book_cache.stale(current, moved, repo) == sorted(current)


def test_a_section_chapter_reads_its_own_findings_only(repo):
    chapter = repo / "book/alpha.md"
    base = book_cache.digest(repo, chapter, _ledger())
    assert book_cache.digest(repo, chapter, _ledger(other=4.0)) == base
    assert book_cache.digest(repo, chapter, _ledger(seconds=9.0)) == base
    assert book_cache.digest(repo, chapter, _ledger(value=1.5)) != base


def test_a_chapter_of_the_whole_book_reads_every_field(repo):
    chapter = repo / "book/intro.md"
    base = book_cache.digest(repo, chapter, _ledger())
    assert book_cache.digest(repo, chapter, _ledger(seconds=9.0)) != base
    _edit(repo / "simulations/beta.py")
    assert book_cache.digest(repo, chapter, _ledger()) != base


NARROW_CHAPTER = """# Coverage

```{code-cell} ipython3
from pavlov_theory import lazy
```
"""


def _narrow(repo: Path) -> Path:
    """A chapter of ``book_cache.NARROW`` whose engine module imports ``proofs.beta`` inside a function."""
    (repo / "pavlov_theory/lazy.py").write_text("def law():\n    from .proofs import beta\n    return beta\n")
    chapter = repo / "book" / f"{book_cache.NARROW[0]}.md"
    chapter.write_text(NARROW_CHAPTER)
    return chapter


def test_a_narrow_chapter_follows_the_engines_lazy_imports(repo):
    files = book_cache.chapter_files(repo, _narrow(repo))
    assert repo / "proofs/beta.py" in files
    assert repo / "proofs/alpha.py" not in files and repo / "simulations/beta.py" not in files


def test_the_packages_own_relative_imports_are_followed(repo):
    (repo / "pavlov_theory/__init__.py").write_text("from .lazy import law\n")
    chapter = _narrow(repo)
    for code in ("import pavlov_theory", "import pavlov_theory.engine"):  # the second runs __init__ too
        chapter.write_text(NARROW_CHAPTER.replace("from pavlov_theory import lazy", code))
        assert repo / "proofs/beta.py" in book_cache.chapter_files(repo, chapter), code


def test_a_narrow_chapter_reads_no_ledger_and_no_other_section(repo):
    chapter = _narrow(repo)
    base = book_cache.digest(repo, chapter, _ledger())
    assert book_cache.digest(repo, chapter, _ledger(value=1.5, other=4.0, seconds=9.0)) == base
    _edit(repo / "simulations/alpha.py")
    assert book_cache.digest(repo, chapter, _ledger()) == base
    _edit(repo / "proofs/beta.py")
    assert book_cache.digest(repo, chapter, _ledger()) != base


NARROW_RUN = """
import importlib, json, os, sys
sys.path.insert(0, os.getcwd())
from tools import book_cache
# the modules themselves: the package exports functions named claims and ledger
book, claims, coverage, ledger = (importlib.import_module(f"pavlov_theory.{m}")
                                  for m in ("book", "claims", "coverage", "ledger"))


def refused(*args, **kwargs):
    raise RuntimeError("a narrow chapter called the registry or read the ledger")


claims.registry = claims.section_modules = refused
book.load_ledger = book.ledger_path = ledger.load = refused
coverage.MIN_REPLICATES = 2  # the imports do not depend on how many replicates run; the time does
chapter = book_cache.Path("book", sys.argv[1]).resolve()
os.chdir("book")
exec(compile(book_cache.chapter_code(chapter), str(chapter), "exec"), {"display": lambda *a: None})
print(json.dumps(sorted(m for m in sys.modules if m.startswith(tuple(book_cache.PACKAGES)))))
"""


@pytest.mark.parametrize("chapter", book_cache.NARROW)
def test_a_narrow_chapter_loads_only_the_modules_its_digest_reads(chapter):
    """Run the chapter's code (fewer replicates) with the registry and the ledger refused: it must
    finish, and every section module it loaded must be one its digest reads."""
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("PAVLOV_")}
    done = subprocess.run([sys.executable, "-c", NARROW_RUN, f"{chapter}.md"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.splitlines()[-1])
    read = {str(p.relative_to(ROOT).with_suffix("")).replace("/", ".")
            for p in book_cache.chapter_files(ROOT, ROOT / "book" / f"{chapter}.md")}
    files = {m for m in loaded if m.count(".") == 2}  # modules, not the packages themselves
    assert files and {m.split(".", 1)[1] for m in files} <= read


def test_a_missing_or_corrupt_state_makes_every_chapter_stale(repo):
    current = book_cache.digests(repo, repo / "book", _ledger())
    (repo / "state.json").write_text("{not json")
    for state in ("state.json", "absent.json"):
        assert book_cache.stale(current, book_cache.read_state(repo / state), repo) == sorted(current)


def test_the_build_key_reads_the_chapters_text_but_not_the_build_folder(repo):
    current = book_cache.digests(repo, repo / "book", _ledger())
    key = book_cache.build_key(repo / "book", current, ["book"])
    (repo / "book/_build").mkdir()
    (repo / "book/_build/page.html").write_text("built")
    assert book_cache.build_key(repo / "book", current, ["book"]) == key
    _edit(repo / "book/alpha.md")
    assert book_cache.build_key(repo / "book", current, ["book"]) != key


def _cached_execution(cache, chapter: Path, code: str) -> None:
    import nbformat
    from jupyter_cache.base import CacheBundleIn

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    cache.cache_notebook_bundle(CacheBundleIn(notebook, str(chapter)), check_validity=False)


def test_prune_keeps_only_the_fresh_chapters_executions(repo):
    from jupyter_cache import get_cache

    path = repo / "book/_build/.jupyter_cache"
    assert book_cache.prune(path, []) == 0  # creates the cache
    cache = get_cache(path)
    _cached_execution(cache, repo / "book/alpha.md", "1")
    _cached_execution(cache, repo / "book/intro.md", "2")
    _cached_execution(cache, Path("/elsewhere/book/alpha.md"), "3")
    assert book_cache.prune(path, [repo / "book/intro.md"]) == 2
    assert [r.uri for r in cache.list_cache_records()] == [str(repo / "book/intro.md")]


def test_keep_latest_leaves_one_execution_per_chapter(repo):
    from jupyter_cache import get_cache

    path = repo / "book/_build/.jupyter_cache"
    book_cache.prune(path, [])
    cache = get_cache(path)
    for code in ("1", "2"):
        _cached_execution(cache, repo / "book/alpha.md", code)
    book_cache.keep_latest(path)
    assert len(cache.list_cache_records()) == 1


@pytest.mark.parametrize("chapter", sorted(p.name for p in (ROOT / "book").glob("*.md")))
def test_a_section_chapter_names_only_its_own_claims(chapter):
    """The digest of a section's chapter covers that section's ledger records alone: a claim of
    another section named in its code would be read without being tracked."""
    path = ROOT / "book" / chapter
    if path.stem not in book_cache.sections(ROOT):
        pytest.skip("not a section's chapter: it names no claim, or tracks the whole ledger")
    ids = set(registry())
    literals = re.findall(r"[\"']([a-z_]+\.[a-z_]+)[\"']", book_cache.chapter_code(path))
    named = {m for m in literals if m in ids}
    assert named and {section_of(m) for m in named} == {path.stem}


def test_build_book_takes_cached_and_jobs_out_of_the_arguments():
    from tools.build_book import split_jobs

    assert split_jobs(["--cached", "--jobs", "3", "-W", "book"]) == (3, True, ["-W", "book"])
    assert split_jobs(["--jobs=1", "book"]) == (1, False, ["book"])


def test_the_sphinx_builders_look_make_chunks_up_where_build_book_sets_it():
    import sphinx.builders

    for phase in (sphinx.builders.Builder._read_parallel, sphinx.builders.Builder._write_parallel):
        assert "make_chunks" in phase.__code__.co_names and phase.__globals__ is vars(sphinx.builders)


def test_build_book_merges_its_settings_over_the_command_lines():
    from tools.build_book import with_overrides

    seen = {}
    build = with_overrides(lambda *a, confoverrides=None, **k: seen.update(confoverrides), {"mode": "cache"})
    build("src", "out", confoverrides={"nitpicky": True, "mode": "force"})
    assert seen == {"nitpicky": True, "mode": "cache"}


def test_another_installed_package_changes_every_digest(repo, monkeypatch):
    before = book_cache.digests(repo, repo / "book", _ledger())
    monkeypatch.setattr(book_cache, "installed", lambda: ["sympy==0.0"])
    after = book_cache.digests(repo, repo / "book", _ledger())
    assert book_cache.stale(after, _state(repo, before), repo) == sorted(before)


def test_a_report_named_in_the_environment_is_read_from_the_book_folder(repo, monkeypatch):
    chapter, report = repo / "book/intro.md", repo / "book/stress.json"
    report.write_text("{}")
    monkeypatch.setenv("PAVLOV_STRESS", "stress.json")
    before = book_cache.digest(repo, chapter, _ledger())
    report.write_text('{"runs": 20}')
    assert book_cache.digest(repo, chapter, _ledger()) != before
    monkeypatch.delenv("PAVLOV_STRESS")
    assert book_cache.digest(repo, chapter, _ledger()) != before


def test_the_ledger_named_in_the_environment_counts_by_its_findings_only(repo, monkeypatch):
    """make names the ledger in PAVLOV_LEDGER: another section's timings must not make a section's
    chapter stale (its findings are read by ledger_part)."""
    chapter, ledger_file = repo / "book/alpha.md", repo / "ledger.json"
    ledger_file.write_text("{}")
    monkeypatch.setenv("PAVLOV_LEDGER", str(ledger_file))
    before = book_cache.digest(repo, chapter, _ledger())
    ledger_file.write_text('{"seconds": 9}')
    assert book_cache.digest(repo, chapter, _ledger(seconds=9.0, other=5.0)) == before


def _run_build(monkeypatch, book: Path, exit_code: int) -> list[list[str]]:
    """tools.build_book.main with --cached on ``book``, the jupyter-book command replaced by one
    that exits with ``exit_code``; returns the command lines it was called with."""
    import jupyter_book.cli.main

    from pavlov_theory import ledger
    from tools import build_book

    calls = []

    def fake_jupyter_book(args):
        calls.append(args)
        raise SystemExit(exit_code)

    monkeypatch.setattr(jupyter_book.cli.main, "main", fake_jupyter_book)
    monkeypatch.setattr(ledger, "load", lambda path: _ledger())
    with pytest.raises(SystemExit) as done:
        build_book.main(["--cached", "-W", str(book)])
    assert done.value.code == exit_code
    return calls


# jupyter-book's command line still subclasses click's deprecated BaseCommand
QUIET_CLICK = pytest.mark.filterwarnings("ignore:'BaseCommand' is deprecated:DeprecationWarning")


@QUIET_CLICK
def test_a_failed_build_records_no_state(repo, monkeypatch):
    _run_build(monkeypatch, repo / "book", 1)
    assert not (repo / "book/_build" / book_cache.STATE).exists()


@QUIET_CLICK
def test_a_build_records_its_state_and_the_next_one_with_nothing_new_is_skipped(repo, monkeypatch):
    (repo / "book/_build/html").mkdir(parents=True)
    (repo / "book/_build/html/index.html").write_text("built")
    first = _run_build(monkeypatch, repo / "book", 0)
    assert first and "--all" in first[0]
    state = book_cache.read_state(repo / "book/_build" / book_cache.STATE)
    assert state["root"] == str(repo.resolve())
    assert set(state["chapters"]) == {"book/alpha.md", "book/intro.md"}
    assert _run_build(monkeypatch, repo / "book", 0) == []  # skipped: the command is not called
    _edit(repo / "book/alpha.md")
    assert _run_build(monkeypatch, repo / "book", 0)  # the chapter's text changed: built again


@QUIET_CLICK
def test_build_book_hands_sphinx_one_page_per_task(repo, monkeypatch):
    import sphinx.builders

    from tools.build_book import one_page_per_task

    monkeypatch.setattr(sphinx.builders, "make_chunks", sphinx.builders.make_chunks)  # restored after
    _run_build(monkeypatch, repo / "book", 0)
    assert sphinx.builders.make_chunks is one_page_per_task
    assert one_page_per_task(["a", "b", "c"], 2) == [["a"], ["b"], ["c"]]


def test_the_book_extension_keeps_reading_parallel_and_writes_serially():
    """Sphinx 7.4 can drop a parallel writer's error while it adds the next task, so the extension
    turns the HTML builder's parallel write off; reading, where the chapters execute, stays parallel."""
    from types import SimpleNamespace

    from pavlov_theory import book

    hooks: dict[str, list] = {}
    app = SimpleNamespace(connect=lambda event, fn: hooks.setdefault(event, []).append(fn), extensions={},
                          config=SimpleNamespace(use_multitoc_numbering=False),
                          builder=SimpleNamespace(allow_parallel=True))
    declared = book.setup(app)
    for hook in hooks["builder-inited"]:
        hook(app)
    assert app.builder.allow_parallel is False and declared["parallel_read_safe"] is True
