# Two entry points: `make demo` (the report on the shipped zoo) and `make test` (lint + test suite).
# Both build the virtual environment first: the pinned CPU PyTorch, then swerve with its dev extras.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0

.PHONY: venv demo test lint bench clean

$(BIN)/swerve: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

venv: $(BIN)/swerve

demo: venv
	$(BIN)/swerve demo --out demo-out

lint: venv
	$(BIN)/ruff check .

test: venv lint
	$(BIN)/python -m pytest -q

bench: venv
	$(BIN)/python benchmarks/train_throughput.py

clean:
	rm -rf $(VENV) demo-out runs .pytest_cache
