# Quick start: `make run` (worker on the bundled sample feed, dry run) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NATIVE := $(VENV)/.native
# The compiled hot path (mypyc) is rebuilt whenever any source it could depend on changes.
NATIVE_DEPS := $(shell find engine adapters worker -name '*.py') tools/build_native.py

.PHONY: run test lint bench clean

$(STAMP): requirements-dev.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

$(NATIVE): $(STAMP) $(NATIVE_DEPS)
	$(BIN)/python -W ignore tools/build_native.py
	touch $(NATIVE)

run: $(NATIVE)
	$(BIN)/python -m worker run

# Test files run in parallel (up to 4 processes; one file stays in one process): most
# of the suite's time is spent waiting on real timeouts, not computing.
test: $(NATIVE)
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check engine adapters worker tests bench
	$(BIN)/mypy

bench: $(NATIVE)
	$(BIN)/python bench/replay_throughput.py

clean:
	$(PY) tools/build_native.py --clean || true
	rm -rf $(VENV)
