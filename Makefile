# The two commands of the README, and their parts. Everything runs in .venv, made on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## Set up and start the Leipzig demo on SQLite at http://127.0.0.1:8000
demo: $(STAMP)
	$(BIN)/urbantwin demo --port 8000

## Set up and run the whole test suite (lint, format check, tests on SQLite and PostgreSQL)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .

## The SensorThings benchmark (see bench/README.md for the peers and the full command)
bench: $(STAMP)
	$(BIN)/python bench/sta.py --n 20000
