# The two commands of the README: `make` (verify at book scale, build the book) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# One pin: on this project's CI machine pip resolves it to a local CPU wheel; elsewhere pip picks
# the platform's default build (CUDA-enabled on Linux x86-64).
TORCH  ?= torch==2.13.0
SCALE  ?= book
LEDGER := book/_build/ledger.json
STAMP  := $(VENV)/.installed

.PHONY: all book verify test pytest clean

all: book

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

verify: $(STAMP)
	$(BIN)/pavlov-theory verify --scale $(SCALE) --out $(LEDGER)

book: verify
	TQDM_DISABLE=1 $(BIN)/jupyter-book build --all -W -n --keep-going book
	@echo "Open book/_build/html/index.html in a browser."

pytest: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

test: pytest
	$(MAKE) book SCALE=ci

clean:
	rm -rf book/_build build
