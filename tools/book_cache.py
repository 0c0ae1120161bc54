"""Which chapters of the book must be executed again, and the executions that may be kept.

A chapter's outputs are a function of its code cells, the Python it imports and the ledger records
it reads. Jupyter Book's execution cache (jupyter-cache, keyed by the code cells alone) keeps them
between builds; this module drops a chapter's cached execution whenever anything else it reads
has changed, so that a cached page is never stale:

- every chapter reads the engine (``pavlov_theory/*.py``), ``pyproject.toml``, the book's
  configuration and the test suite's settings (the statistics chapter prints them);
- a chapter named after a section (``book/rules.md``) reads that section's derivation and
  simulation modules, the modules those import in turn, and the ledger records of that section's
  claims (their findings: what two runs must agree on, see :func:`pavlov_theory.ledger.findings`);
- a chapter of ``NARROW`` (the coverage measurements) reads neither the registry nor the ledger:
  only the section modules its code imports, followed through the engine's imports, lazy ones
  included (the tests run such a chapter and compare the modules it loads with this closure);
- any other chapter (the introduction, the kernels, the ledger, the statistics) reads every module
  and the whole ledger file, its timings included;
- every chapter may read the stored measurements in ``MEASURED`` (the coverage chapter shows the
  deep-tail scan from there), so their files are read too;
- and every chapter runs on the installed packages and may read the ``PAVLOV_*`` environment (the
  statistics chapter shows stored coverage and stress reports named there): the packages' names and
  versions, those variables and the files they name are read too.

The digests of the last successful build are kept in ``STATE`` beside the cache, with the key of
everything it read (:func:`build_key`): a build with the same key is not run again.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

from pavlov_theory.claims import section_of
from pavlov_theory.ledger import findings

PACKAGES = {"pavlov_theory.proofs": "proofs", "pavlov_theory.simulations": "simulations"}
ENGINE = "pavlov_theory"  # its modules are read by every chapter; their imports are followed
NARROW = ("coverage",)  # chapters that call no registry and read no ledger
COMMON = ("pyproject.toml", "book/_config.yml", "book/_toc.yml", "tests/conftest.py")
MEASURED = "book/measured"  # stored measurements too long to rerun in a build
STATE = ".chapter-digests.json"
CACHE = ".jupyter_cache"
_CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```\s*$", re.S | re.M)


def _cell_code(text: str) -> str:
    """A code cell's Python, without its leading ``:option: value`` lines."""
    lines = text.splitlines()
    while lines and lines[0].startswith(":"):
        lines.pop(0)
    return "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))


def chapter_code(chapter: Path) -> str:
    """The Python of a MyST chapter's code cells, in order."""
    return "\n".join(_cell_code(m.group(1)) for m in _CODE_CELL.finditer(chapter.read_text()))


def _imported_modules(code: str, module: str | None = None) -> set[str]:
    """Fully qualified modules that ``code`` imports (``module``: its own name, for relative
    imports); ``from a import b`` yields both ``a`` and ``a.b``, as ``b`` may be either."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = (module or "").split(".")
                base = ".".join(parts[: len(parts) - node.level] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _module_file(root: Path, module: str) -> Path | None:
    """The file of a section module (``pavlov_theory.proofs.capacity`` -> ``proofs/capacity.py``)
    or of an engine module (``pavlov_theory.coverage`` -> ``pavlov_theory/coverage.py``), or None
    for anything else."""
    if module == ENGINE:
        path = root / ENGINE / "__init__.py"
    else:
        package, _, name = module.rpartition(".")
        folder = PACKAGES.get(package, ENGINE if package == ENGINE else None)
        path = root / folder / f"{name}.py" if folder else None
    return path if path is not None and path.is_file() else None


def module_closure(root: Path, modules: Iterable[str]) -> set[Path]:
    """The section modules among ``modules`` and every section module they import, transitively,
    also through the engine's modules (a lazy import inside a function counts). An import by name
    at run time (``importlib``, as the registry does) is not seen: a chapter that calls the
    registry reads every module."""
    todo, seen = list(modules), set()
    while todo:
        module = todo.pop()
        path = _module_file(root, module)
        if path is None or path in seen:
            continue
        seen.add(path)
        named = f"{module}.__init__" if module == ENGINE else module  # a package's imports start from itself
        todo.extend(_imported_modules(path.read_text(), module=named))
        if module.startswith(f"{ENGINE}."):
            todo.append(ENGINE)  # importing any of its modules runs the package's __init__ first
    return {p for p in seen if p.parent.name != ENGINE}


def sections(root: Path) -> list[str]:
    """The sections: one simulation module each."""
    return sorted(p.stem for p in (root / "simulations").glob("*.py") if not p.stem.startswith("_"))


def chapter_files(root: Path, chapter: Path) -> list[Path]:
    """Every source file ``chapter`` reads besides its own text and the ledger."""
    engine = (sorted((root / ENGINE).glob("*.py")) + [root / f for f in COMMON]
              + sorted(p for p in (root / MEASURED).rglob("*") if p.is_file()))
    section = chapter.stem in sections(root)
    if section or chapter.stem in NARROW:
        modules = _imported_modules(chapter_code(chapter))
        if section:
            modules |= {f"{p}.{chapter.stem}" for p in PACKAGES}
        return engine + sorted(module_closure(root, modules))
    return engine + sorted((root / "proofs").glob("*.py")) + sorted((root / "simulations").glob("*.py"))


def ledger_part(chapter: Path, ledger: dict[str, Any], root: Path) -> Any:
    """What ``chapter`` reads of the ledger: a section's findings, nothing (``NARROW``), or the
    whole ledger."""
    if chapter.stem in NARROW:
        return None
    if chapter.stem not in sections(root):
        return ledger
    mine = lambda record: section_of(record["claim"]) == chapter.stem
    top = {k: v for k, v in findings(ledger).items() if k not in ("claims", "results")}
    part = findings({"claims": [c for c in ledger["claims"] if mine(c)],
                     "results": [r for r in ledger["results"] if mine(r)]})
    return {**top, **part}


@lru_cache(maxsize=1)
def installed() -> tuple[str, ...]:
    """Every installed distribution as ``name==version``, sorted: what a chapter's Python runs on."""
    return tuple(sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()))


def environment(env: Mapping[str, str], book: Path) -> bytes:
    """The ``PAVLOV_*`` variables of ``env``, each with the contents of the file it names, if any
    (a relative path from ``book``, where the chapters execute); the ledger's contents are read
    per chapter (:func:`ledger_part`), so ``PAVLOV_LEDGER`` counts by its name alone."""
    out = b""
    for name in sorted(k for k in env if k.startswith("PAVLOV_")):
        path = book / env[name]
        named = path.read_bytes() if name != "PAVLOV_LEDGER" and path.is_file() else b""
        out += f"{name}={env[name]}\0".encode() + named + b"\0"
    return out


def digest(root: Path, chapter: Path, ledger: dict[str, Any]) -> str:
    """SHA-256 of everything ``chapter``'s outputs depend on besides its code cells; the chapters
    execute in this process's environment."""
    h = hashlib.sha256("\n".join(installed()).encode())
    h.update(environment(os.environ, chapter.parent))
    for path in chapter_files(root, chapter):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(json.dumps(ledger_part(chapter, ledger, root), sort_keys=True).encode())
    return h.hexdigest()


def digests(root: Path, book: Path, ledger: dict[str, Any]) -> dict[str, str]:
    """The digest of every chapter of ``book``, by its path relative to ``root``."""
    return {str(c.relative_to(root)): digest(root, c, ledger) for c in sorted(book.glob("*.md"))}


def build_key(book: Path, chapters: dict[str, str], command: list[str]) -> str:
    """SHA-256 of all a build reads: the chapters' digests, every file of ``book`` outside its
    ``_build`` folder (the chapters' text, the configuration) and the build's command line."""
    h = hashlib.sha256(json.dumps([chapters, command], sort_keys=True).encode())
    sources = (p for p in book.rglob("*") if p.is_file() and "_build" not in p.relative_to(book).parts)
    for path in sorted(sources):
        h.update(str(path.relative_to(book)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def read_state(path: Path) -> dict[str, Any]:
    """What the last successful build recorded (``root``, ``chapters``: their digests, ``build``:
    :func:`build_key`); nothing when the file is missing or unreadable."""
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def stale(current: dict[str, str], state: dict[str, Any], root: Path) -> list[str]:
    """The chapters whose dependencies changed since the last successful build: all of them when
    that build was of a checkout elsewhere (its cached executions name other paths)."""
    previous = state.get("chapters") if state.get("root") == str(root.resolve()) else None
    previous = previous if isinstance(previous, dict) else {}
    return sorted(c for c, d in current.items() if previous.get(c) != d)


def prune(cache_path: Path, keep: Iterable[Path]) -> int:
    """Create the execution cache if it is missing, and remove every cached execution but those of
    the chapters ``keep``; returns how many went. Jupyter-cache matches an execution by its code
    cells alone, so one left for a stale chapter, or under a path that no longer is a chapter,
    could be served to a page whose other inputs changed."""
    from jupyter_cache import get_cache

    cache, kept, dropped = get_cache(cache_path), {str(c.resolve()) for c in keep}, 0
    for record in cache.list_cache_records():
        if str(Path(record.uri).resolve()) not in kept:
            cache.remove_cache(record.pk)
            dropped += 1
    return dropped


def record(state_path: Path, cache_path: Path, root: Path, chapters: dict[str, str], key: str) -> None:
    """After a successful build: keep the latest execution of each chapter (:func:`keep_latest`)
    and write what :func:`read_state` reads back."""
    keep_latest(cache_path)
    state = {"root": str(root.resolve()), "chapters": chapters, "build": key}
    state_path.write_text(json.dumps(state, indent=1, sort_keys=True))


def keep_latest(cache_path: Path) -> None:
    """Leave one cached execution per chapter, its latest (older code cells are not read again)."""
    from jupyter_cache import get_cache

    cache, latest = get_cache(cache_path), {}
    for record in sorted(cache.list_cache_records(), key=lambda r: r.created):
        if record.uri in latest:
            cache.remove_cache(latest[record.uri].pk)
        latest[record.uri] = record
