# The two commands of the README: `make` (verify at book scale, build the book) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# One pin: on this project's CI machine pip resolves it to a local CPU wheel; elsewhere pip picks
# the platform's default build (CUDA-enabled on Linux x86-64).
TORCH  ?= torch==2.13.0
SCALE  ?= book
# 1: the browser tests fail, rather than skip, without chromium or a built book
BROWSER_REQUIRED ?= 1
# one ledger per scale, so that `make test` (ci) leaves the book-scale ledger alone
LEDGER := book/_build/ledger-$(SCALE).json
STAMP  := $(VENV)/.installed
HTML   := book/_build/html/index.html

.PHONY: all book verify test pytest browser clean

all: book

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# cached points are read back, not recomputed; a ledger with unchanged findings keeps its file
verify: $(STAMP)
	$(BIN)/pavlov-theory verify --scale $(SCALE) --out $(LEDGER)

# the chapters are read and executed in parallel, one process per core (tools/build_book.py); a
# chapter whose inputs did not change keeps its cached execution, and a build that would read
# nothing new is not run (tools/book_cache.py)
book: verify
	PAVLOV_LEDGER=$(abspath $(LEDGER)) TQDM_DISABLE=1 $(BIN)/python -m tools.build_book --cached -W -n --keep-going book
	@echo "Open $(HTML) in a browser (it reads offline: MathJax ships with it)."

pytest: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m "not browser"

# every page of the built book in headless chromium; screenshots in book/_build/screenshots
browser: $(STAMP)
	PAVLOV_BROWSER_REQUIRED=$(BROWSER_REQUIRED) $(BIN)/python -m pytest -m browser tests/test_browser.py

test: pytest
	$(MAKE) book SCALE=ci
	$(MAKE) browser

clean:
	rm -rf book/_build build
