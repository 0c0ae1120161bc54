"""``python -m pavlov_theory``: the same command line as ``pavlov-theory``."""
import sys

from .cli import main

if __name__ == "__main__":  # worker processes that re-import this module must not run it
    sys.exit(main())
