# Quick start: `make run` (worker on the bundled sample feed, dry run) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

# The first `make run` on a fresh clone spends about a minute here: each step says so.
$(STAMP): requirements-dev.lock pyproject.toml
	@test -x $(BIN)/python || echo "make: creating the virtualenv $(VENV) with $(PY)"
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "make: installing the locked dependencies into $(VENV) (under a minute the first time)"
	@$(BIN)/python -m pip install -q --disable-pip-version-check --no-compile -r requirements-dev.lock
	@echo "make: installing this project into $(VENV)"
	@$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

run: $(STAMP)
	@echo "make: starting the worker (python -m worker run; Ctrl-C stops it)"
	@$(BIN)/python -m worker run

# Test files run in parallel (up to 4 processes; one file stays in one process): most
# of the suite's time is spent waiting on real timeouts, not computing.
test: $(STAMP)
	@tools/ensure_chromium.sh
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile

# Lint: ruff's rules and layout, and mypy --strict over engine, adapters and worker.
lint: $(STAMP)
	$(BIN)/ruff check engine adapters worker tests bench
	$(BIN)/ruff format --check engine adapters worker tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/replay_throughput.py

clean:
	rm -rf $(VENV)
