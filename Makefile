# Two entry points: `make demo` (the report on the shipped zoo) and `make test` (lint + test suite).
# Both build the virtual environment first: the pinned PyTorch (the CPU build by default, see TORCH_INDEX),
# then swerve with its dev extras.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
# Where pip looks for PyTorch besides PyPI. On Linux PyPI's torch is the multi-gigabyte CUDA build, so the
# default is PyTorch's CPU wheel index; `make test TORCH_INDEX=` turns it off, and a CUDA index (see the
# PyTorch install guide) gives a GPU build. One retry: an index that cannot be reached costs seconds, not minutes.
TORCH_INDEX ?= $(if $(filter Linux,$(shell uname -s)),https://download.pytorch.org/whl/cpu,)
# The suite runs one OpenMP thread per process that waits passively, so a busy machine does not stall it.
TEST_ENV := OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE

.PHONY: venv data demo test lint bench clean

$(BIN)/swerve: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH) $(if $(TORCH_INDEX),--retries 1 --extra-index-url $(TORCH_INDEX))
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

venv: $(BIN)/swerve

# The data sets and programs the demo and tests use: installed from Debian where apt is usable, else
# Fashion-MNIST downloaded; whatever stays missing is named with the command that gets it.
data: venv
	@PY=$(BIN)/python bash scripts/get-data

demo: venv data
	$(BIN)/swerve demo --out demo-out

lint: venv
	$(BIN)/ruff check .

test: venv lint data
	$(TEST_ENV) $(BIN)/python -m pytest -q --durations=10

bench: venv
	$(BIN)/python benchmarks/train_throughput.py

clean:
	rm -rf $(VENV) demo-out runs .pytest_cache
