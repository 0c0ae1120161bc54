"""``jupyter-book build`` with its pages read, and their notebooks executed, in parallel.

    python -m tools.build_book [--jobs N|auto] [--cached] [jupyter-book build options] book

Jupyter Book 1.x hands Sphinx one process however many cores there are; MyST-NB and this book's
extension are safe for Sphinx's parallel read, so each of ``--jobs`` processes (default: one per
usable core) reads and executes the chapters, one at a time, each taking a waiting chapter as
soon as it is free (:func:`one_page_per_task`). Everything else is the ``jupyter-book build``
command itself.

With ``--cached`` (which implies ``--all``: every page is read again) a chapter is executed again
only when its code cells or what it reads changed (:mod:`tools.book_cache`); the others take their
outputs from the execution cache in ``_build/.jupyter_cache``, and a build that would read nothing
new is not run. Without it every chapter is executed, as ``_config.yml`` says.
"""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any, Callable

from tools import book_cache


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity on this platform
        return os.cpu_count() or 1


def split_jobs(argv: list[str]) -> tuple[int, bool, list[str]]:
    """``--jobs N`` (or ``auto``) and ``--cached`` taken out of ``argv``; the rest is for
    ``jupyter-book build``."""
    jobs, cached, rest, args = "auto", False, [], iter(argv)
    for arg in args:
        if arg == "--cached":
            cached = True
        elif arg == "--jobs":
            jobs = next(args, "")
        elif arg.startswith("--jobs="):
            jobs = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    if jobs == "auto":
        return usable_cores(), cached, rest
    if not jobs.isdigit() or int(jobs) < 1:
        raise SystemExit(f"build_book: --jobs: expected 'auto' or an integer >= 1, got {jobs!r}")
    return int(jobs), cached, rest


def book_folder(rest: list[str]) -> Path:
    """The book's folder: the build command's one positional argument."""
    folders = [a for a in rest if not a.startswith("-")]
    if len(folders) != 1:
        raise SystemExit(f"build_book: expected one book folder among the arguments, got {folders}")
    return Path(folders[0]).resolve()


def one_page_per_task(arguments: list[str], nproc: int, maxbatch: int = 10) -> list[list[str]]:
    """Sphinx's ``make_chunks`` as this build uses it: one page per task. Sphinx starts a waiting
    task whenever one of its ``nproc`` processes is free (the waiting ones in no fixed order), so no
    process idles while pages wait; Sphinx's own batches (half the pages each, in name order, for
    two processes) leave one process idle while the other still executes a long chapter and the
    pages batched after it. The book's extension has Sphinx write the pages serially
    (:func:`pavlov_theory.book.setup`), so only the read phase uses it."""
    return [[page] for page in arguments]


def main(argv: list[str] | None = None) -> None:
    import jupyter_book.sphinx as jupyter_book_sphinx
    import sphinx.builders
    from jupyter_book.cli.main import main as jupyter_book

    from pavlov_theory import book as book_helpers
    from pavlov_theory import ledger

    jobs, cached, rest = split_jobs(sys.argv[1:] if argv is None else argv)
    build = functools.partial(jupyter_book_sphinx.build_sphinx, jobs=jobs)
    if cached:
        # every page is read again, so that a chapter whose cached execution was dropped is executed
        rest = rest if "--all" in rest else ["--all", *rest]
        folder = book_folder(rest)
        cache, state_path = folder / "_build" / book_cache.CACHE, folder / "_build" / book_cache.STATE
        current = book_cache.digests(folder.parent, folder, ledger.load(book_helpers.ledger_path(folder)))
        state, key = book_cache.read_state(state_path), book_cache.build_key(folder, current, rest)
        stale = book_cache.stale(current, state, folder.parent)
        if not stale and state.get("build") == key and (folder / "_build" / "html" / "index.html").exists():
            print("build_book: nothing changed since the last build")
            sys.exit(0)
        book_cache.prune(cache, [folder.parent / c for c in current if c not in stale])
        state_path.unlink(missing_ok=True)  # written again only when this build succeeds
        print(f"build_book: {len(stale)} of {len(current)} chapters to execute again:",
              ", ".join(stale) or "none")
        build = with_overrides(build, {"nb_execution_mode": "cache", "nb_execution_cache_path": str(cache)})
    # the build command imports build_sphinx from its module when it runs: it gets these defaults
    jupyter_book_sphinx.build_sphinx = build
    sphinx.builders.make_chunks = one_page_per_task  # where the builders' parallel read looks it up
    code = 0
    try:
        jupyter_book(["build", *rest])
    except SystemExit as done:
        code = done.code
    if cached and not code:
        book_cache.record(state_path, cache, folder.parent, current, key)
    sys.exit(code)


def with_overrides(build: Callable[..., Any], extra: dict[str, Any]) -> Callable[..., Any]:
    """``build`` with ``extra`` merged over the Sphinx configuration the command line gives it."""

    def build_with(*args: Any, confoverrides: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return build(*args, confoverrides={**(confoverrides or {}), **extra}, **kwargs)

    return build_with


if __name__ == "__main__":
    main()
