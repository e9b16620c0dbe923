# The two commands of the README, and their parts. Everything runs in .venv, made on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench viewer wheel

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The web viewer (web/, built by Vite into the package; see docs/viewer.md). Rebuilt when a source is
# newer than the build; npm ci installs the locked dependencies when the lockfile changes. Without
# npm the viewer is not built and the server's `/` says how to build it.
VIEWER := src/urbantwin/web/static/index.html
NODE_MODULES := web/node_modules/.package-lock.json
VIEWER_SOURCES := web/index.html web/goals.html web/participate.html web/vite.config.js web/package.json $(shell find web/src -type f 2>/dev/null)
NO_NPM := echo "npm (Node.js 20.19 or newer) is not installed: the web viewer is not built"

$(NODE_MODULES): web/package-lock.json
	@command -v npm >/dev/null 2>&1 || { $(NO_NPM); exit 0; }; \
	cd web && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.package-lock.json

$(VIEWER): $(NODE_MODULES) $(VIEWER_SOURCES)
	@command -v npm >/dev/null 2>&1 || { $(NO_NPM); exit 0; }; \
	cd web && npm run --silent build -- --logLevel warn

## Build the web viewer (make demo and make test do this when its sources changed)
viewer: $(VIEWER)

## Set up and start the Leipzig demo on SQLite at http://127.0.0.1:8000 (`make demo PORT=8080`: another port)
PORT ?= 8000
demo: $(STAMP) $(VIEWER)
	$(BIN)/urbantwin demo --port $(PORT)

## Build the wheel, the viewer inside, into dist/: `pip install dist/urbantwin-*.whl` serves the platform
wheel: $(STAMP) $(VIEWER)
	$(BIN)/python -m pip wheel --no-deps --quiet --wheel-dir dist .

## Set up and run the whole test suite (lint, format check, the type checker, the layers' contracts,
## tests on SQLite and PostgreSQL, the viewer in Chromium); tests that share a fixture built once per
## worker name an xdist_group, tests of tens of seconds are marked long and start first (tests/conftest.py)
test: $(STAMP) $(VIEWER)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 --dist loadgroup -q

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .

## The SensorThings benchmark (see bench/README.md for the peers and the full command)
bench: $(STAMP)
	$(BIN)/python bench/sta.py --n 20000
