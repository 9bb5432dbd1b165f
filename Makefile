# Two commands set up everything on a fresh machine:
#   make demo   - run csbot on its embedded default (SQLite, demo data, no Slack needed)
#   make test   - ruff + the whole test suite on SQLite and on Postgres
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

.PHONY: install demo test lint bench bench-scale
install: $(STAMP)

demo: $(STAMP)
	$(BIN)/csbot demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/kpi_bench.py

bench-scale: $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	nice -n 10 $(BIN)/python bench/scale_bench.py
