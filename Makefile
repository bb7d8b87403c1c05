# Developer entry points. `make demo` and `make test` set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mfmarl-installed.stamp
# The CPU build of torch, installed before the package so that the bare `torch>=2.1`
# requirement does not pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
DEMO_OUT ?= runs/demo

.PHONY: .venv setup demo test lint format clean bench docs wheel

.venv: $(STAMP)
setup: $(STAMP)

# Re-runs only when pyproject.toml changes (or the venv is missing).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e '.[test,docs]'
	touch $@

# The Gaussian Squeeze bar: every method at N = 100 and 500, 3 seeds each (about 3 minutes
# on 2 idle cores); prints every seed's G/G* and PASS or FAIL for MF-Q against the bar.
demo: $(STAMP)
	$(BIN)/mfmarl reproduce gaussian-squeeze --scale quick --seeds 3 --n-agents 100 500 \
		--out $(DEMO_OUT) --force

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy src

# The documentation site into build/site (warnings are errors: mkdocs.yml has strict).
docs: $(STAMP)
	$(BIN)/mkdocs build

# Build the sdist and wheel and check the wheel in a fresh venv (about a minute).
wheel: $(STAMP)
	$(BIN)/python -m pytest -q -m slow tests/test_wheel.py

format: $(STAMP)
	$(BIN)/ruff check --fix src tests examples benchmarks
	$(BIN)/ruff format src tests examples benchmarks

# Throughput and scaling benchmarks (about 10 minutes on 2 cores); each writes
# benchmarks/results/<name>.json, then summary.json gathers the headline ratios.
BENCH := PYTHONPATH=$(CURDIR)/src $(abspath $(BIN))/python
bench: $(STAMP)
	$(BENCH) benchmarks/env.py
	$(BENCH) benchmarks/acting.py
	$(BENCH) benchmarks/learning.py
	$(BENCH) benchmarks/scale.py
	$(BENCH) benchmarks/episode.py --algo mfq --variants fp32:2 bf16:2 auto:2
	$(BENCH) benchmarks/episode.py --algo mfac
	$(BENCH) benchmarks/profile_episode.py --threads 2 --kernels 20
	$(BENCH) benchmarks/summary.py

clean:
	rm -rf build dist src/*.egg-info .pytest_cache .ruff_cache .mypy_cache $(DEMO_OUT)
