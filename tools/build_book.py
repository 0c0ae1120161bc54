"""``jupyter-book build`` with its pages read, and their notebooks executed, in parallel.

    python -m tools.build_book [--jobs N|auto] [jupyter-book build options] book

Jupyter Book 1.x hands Sphinx one process however many cores there are; MyST-NB and this book's
extension are safe for Sphinx's parallel read, so each of ``--jobs`` processes (default: one per
usable core) reads and executes its share of the chapters. Everything else is the
``jupyter-book build`` command itself.
"""
from __future__ import annotations

import functools
import os
import sys


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity on this platform
        return os.cpu_count() or 1


def split_jobs(argv: list[str]) -> tuple[int, list[str]]:
    """``--jobs N`` (or ``auto``) taken out of ``argv``; the rest is for ``jupyter-book build``."""
    jobs, rest, args = "auto", [], iter(argv)
    for arg in args:
        if arg == "--jobs":
            jobs = next(args, "")
        elif arg.startswith("--jobs="):
            jobs = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    if jobs == "auto":
        return usable_cores(), rest
    if not jobs.isdigit() or int(jobs) < 1:
        raise SystemExit(f"build_book: --jobs: expected 'auto' or an integer >= 1, got {jobs!r}")
    return int(jobs), rest


def main(argv: list[str] | None = None) -> None:
    import jupyter_book.sphinx as jupyter_book_sphinx
    from jupyter_book.cli.main import main as jupyter_book

    jobs, rest = split_jobs(sys.argv[1:] if argv is None else argv)
    # the build command imports build_sphinx from its module when it runs: it gets this default
    jupyter_book_sphinx.build_sphinx = functools.partial(jupyter_book_sphinx.build_sphinx, jobs=jobs)
    jupyter_book(["build", *rest])


if __name__ == "__main__":
    main()
