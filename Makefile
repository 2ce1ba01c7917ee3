# Set-up and everyday commands. Each target creates .venv when missing and installs
# into it only when pyproject.toml changed since the last install.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: venv test-venv run test lint format proto bench clean

venv: $(VENV)/.installed

test-venv: $(VENV)/.installed-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install -e ".[test]"
	touch $(VENV)/.installed $@

run: venv
	$(BIN)/python examples/emnist_fedavg.py

lint: test-venv
	$(BIN)/ruff check tffl tffl_ops examples tests
	$(BIN)/ruff format --check tffl tffl_ops examples tests

format: test-venv
	$(BIN)/ruff check --fix tffl tffl_ops examples tests
	$(BIN)/ruff format tffl tffl_ops examples tests

test: lint
	$(BIN)/python -m pytest

proto: test-venv
	PYTHON=$(BIN)/python bash tffl/proto/regenerate.sh

bench: test-venv
	$(BIN)/python -m tests.benchmarks.run

clean:
	rm -rf $(VENV) build *.egg-info
