# Thudo — two commands set everything up: `make run` and `make test` (README.md).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test check lint format typecheck bench install messages clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)
	$(BIN)/thudo compilemessages
	@# The npm open311 client for the Open311 client-library test (it skips without one).
	@if ! command -v npm >/dev/null 2>&1; then echo "npm not found: the Open311 client-library test will skip"; \
	elif [ tests/open311_client/node_modules/.package-lock.json -nt tests/open311_client/package-lock.json ]; then :; \
	else npm ci --prefix tests/open311_client --no-audit --no-fund --loglevel=error || echo "npm ci failed: the Open311 client-library test will skip"; fi

## Serve the demo city at http://127.0.0.1:8000 (SQLite, background work in the same command).
run: install
	$(BIN)/thudo migrate --no-input
	$(BIN)/thudo collectstatic --no-input -v 0
	$(BIN)/thudo demo
	$(BIN)/thudo run

## The whole test suite (SQLite unless DATABASE_URL names PostgreSQL).
test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy thudo config tests

check: lint typecheck test

## Speed goals: starts the production server and drives it with wrk (prints figures and ratios).
bench: install
	$(BIN)/python benchmarks/run.py

## Refresh the Vietnamese catalogue after changing strings (needs GNU gettext).
messages: $(STAMP)
	$(BIN)/thudo makemessages -l vi --no-obsolete $(foreach p,.venv var benchmarks tests */tests conftest.py build,--ignore '$(p)' --ignore '$(p)/*')

clean:
	rm -rf $(VENV) var
