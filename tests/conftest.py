# The firmware tests under tests/firmware/ are plain functions (no pytest
# features) so that tests/mp_runner.py runs them on MicroPython as well;
# tests/test_on_micropython.py does that. Modules named mp_*.py need
# micropython.* and run only there.

# Requirements and their tests (docs/requirements.md, CONTRIBUTING.md): host
# tests say @pytest.mark.req("R-012"); firmware tests, which also run on
# MicroPython, a docstring line "req: R-012". Both become the `req` mark of
# the collected test and a `req` property in the JUnit XML of `make test`
# (host_tools/traceability.py reads the source; this makes them visible to
# pytest and its plugins too).
import json
import os
import re
import shutil
import subprocess

import pytest

from tests.support import BIN, ROOT, stop_process

_REQ_LINE = re.compile(r"^\s*req:\s*(.+?)\s*$", re.M)


def pytest_configure(config):
    config.addinivalue_line("markers", "req(*ids): the requirements (docs/requirements.md) "
                            "this test verifies")


# Speed marks (pyproject.toml): a test that starts a virtual board (the
# start_board or vboard fixture) is `vboard`, a test of MCU_MODULES is `mcu`,
# and both are `slow`, as is every test of SLOW_MODULES (measured at -n 2).
BOARD_FIXTURES = ("start_board", "vboard")
# modules whose tests run the virtual board or a broker without those fixtures
VBOARD_MODULES = ("tests/vboard/", "tests/carer/test_vboard_carer.py", "tests/host/test_run.py",
                  "tests/host/test_bundle.py", "tests/host/test_display.py",
                  "tests/host/test_trace_record.py", "tests/host/test_first_use.py")
# modules of long runs: whole modules on the unix ports, pip installs, make,
# mypy, days of simulated delivery, replays on both runtimes
SLOW_MODULES = ("tests/test_on_micropython.py", "tests/host/test_install.py",
                "tests/host/test_make_offline.py", "tests/boards/test_typecheck.py",
                "tests/boards/test_memory_budget.py", "tests/firmware/test_soak.py",
                "tests/firmware/test_detection.py", "tests/firmware/test_engine_properties.py",
                "tests/host/test_testing_api.py", "tests/host/test_testing_plugin.py",
                "tests/host/test_flex_replay.py", "tests/host/test_replay.py",
                "tests/carer/test_link_broker.py", "tests/carer/test_serve_auth.py")
NOT_VBOARD = ("tests/vboard/test_wire.py",)      # the protocol's bytes: no board
# modules that start QEMU (the emulated Cortex-M)
MCU_MODULES = ("tests/test_on_mcu.py", "tests/boards/test_mcu_board.py",
               "tests/boards/test_mcu_romfs.py")
SLOW_MODULES += ("tests/boards/test_mpy_cross.py",)     # every file, every architecture
# single tests of otherwise quick modules (each over 15 s at -n 2 on a loaded machine)
SLOW_TESTS = (
    "tests/boards/test_drivers.py::test_pico_board_loop_leaves_no_garbage",
    "tests/boards/test_drivers.py::test_pico_board_runs_the_full_monitor_on_micropython",
    "tests/firmware/test_chatter.py::test_random_chatter_never_takes_more_than_its_share",
    "tests/firmware/test_chatter.py::test_a_day_of_flapping_broker_keeps_every_alarm",
    "tests/firmware/test_carer_backoff.py::test_a_link_that_drops_within_seconds_is_retried",
    "tests/host/test_flash.py::test_manifest_is_deterministic_and_tracks_one_changed_file",
    "tests/host/test_flash.py::test_compile_per_architecture_and_for_older_releases",
    "tests/host/test_flash.py::test_compiled_firmware_loads_and_passes_selftest",
    "tests/host/test_cli.py::test_devs_lists_a_served_virtual_board",
)


def _speed_marks(item):
    marks = {m.name for m in item.iter_markers()}
    node = item.nodeid
    if "vboard" not in marks and (
            any(f in BOARD_FIXTURES for f in getattr(item, "fixturenames", ()))
            or node.startswith(VBOARD_MODULES) and not node.startswith(NOT_VBOARD)):
        item.add_marker(pytest.mark.vboard)
        marks.add("vboard")
    if node.startswith(MCU_MODULES):
        item.add_marker(pytest.mark.mcu)
        marks.add("mcu")
    if "slow" not in marks and (marks & {"vboard", "mcu"} or node.startswith(SLOW_MODULES)
                                or node.startswith(SLOW_TESTS)):
        item.add_marker(pytest.mark.slow)


# The order the tests start in (make test, pytest-xdist --maxschedchunk 1:
# each worker takes the next test when it is free): the longest first, so the
# run does not end on one long test while the other workers idle. Stable: the
# order within a class stays pytest's (its fixture reuse). FIRST: the longest
# single tests of a make test (JUnit times under load, 2-4 min each; a stale
# entry costs only order); then the QEMU cases, the modules on the unix ports,
# the other slow tests, the rest.
FIRST = ("tests/boards/test_memory_budget.py::test_full_monitor_peak_heap_within_the_limit",
         "tests/vboard/test_deterministic.py::",
         "tests/test_on_micropython.py::test_firmware_module_on_32bit_port[test_carer_",
         "tests/test_on_micropython.py::test_firmware_module_on_32bit_port[test_detection-",
         "tests/host/test_flex_replay.py::test_flex_dosing_for_30_days",
         "tests/test_on_mcu.py::test_firmware_module_on_mcu[test_service-",
         "tests/host/test_flash_repair.py::",
         "tests/boards/test_drivers.py::test_pico_board_loop_leaves_no_garbage",
         "tests/test_on_micropython.py::test_firmware_module_on_32bit_port[test_service-",
         "tests/host/test_install.py::test_a_tester_project_uses_the_installed_plugin",
         "tests/vboard/test_first_contact.py::test_status_during_a_high_priority_alarm",
         "tests/test_on_mcu.py::test_firmware_module_on_mcu[test_recorder-")


def _start_order(item):
    node = item.nodeid
    for i, first in enumerate(FIRST):
        if node.startswith(first):
            return -len(FIRST) + i
    marks = {m.name for m in item.iter_markers()}
    if "mcu" in marks:
        return 1
    if node.startswith("tests/test_on_micropython.py"):
        return 2
    return 3 if "slow" in marks else 4


def pytest_collection_modifyitems(config, items):
    for item in items:
        _speed_marks(item)
        doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
        ids = [x.strip() for m in _REQ_LINE.finditer(doc) for x in m.group(1).split(",")
               if x.strip()]
        if ids:
            item.add_marker(pytest.mark.req(*ids))
        for mark in item.iter_markers("req"):
            ids += [a for a in mark.args if a not in ids]
        if ids:
            item.user_properties.append(("req", " ".join(ids)))
    items.sort(key=_start_order)


# CPU time per test, setup to teardown (this worker's and its finished children's:
# the boards', QEMU's, the unix ports'), as a `cpu_s` property in the JUnit XML
# of `make test`: on a loaded machine the wall times are inflated, the CPU
# seconds are not (issue 24: make test under 10 minutes; CONTRIBUTING.md).
def _cpu_s():
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item._cpu_start = _cpu_s()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    if call.when == "teardown" and hasattr(item, "_cpu_start"):
        item.user_properties.append(("cpu_s", "%.2f" % (_cpu_s() - item._cpu_start)))
    return (yield)


# ---- shared fixtures (CPython only: tests/firmware uses none) ----------------------------
# The virtual board: start_board(*serve args) -> tests.vboard_helpers.Board.
@pytest.fixture
def start_board(tmp_path):
    """start_board(*serve args) -> Board; every board is stopped (and its VM
    processes checked gone) at the end of the test."""
    from tests import vboard_helpers as vh
    started = []

    def start(*extra, flash_size=None):
        d = tmp_path / ("b%d" % len(started))
        d.mkdir()
        args = [str(BIN / "pumpmon"), "board", "serve", "--quiet", "--pty", str(d / "tty"),
                "--flash", str(d / "flash"), "--timeline", str(d / "timeline.jsonl"),
                "--control", str(d / "ctl.sock")]
        if flash_size:
            args += ["--flash-size", str(flash_size)]
        p = subprocess.Popen(args + list(extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             cwd=ROOT)
        started.append(p)
        line = p.stdout.readline().decode()
        assert line.startswith("vboard ready "), line + p.stderr.read().decode()
        info = dict(kv.split("=", 1) for kv in line.split()[2:])
        return vh.Board(p, info, d)

    yield start
    for p in started:
        if p.poll() is None:
            stop_process(p, 15)
        assert p.returncode == 0, p.stderr.read().decode()
    # no VM left behind: every unix-port process the boards started is gone
    for d in tmp_path.glob("b*"):
        tl = d / "timeline.jsonl"
        if tl.exists():
            for line in tl.read_text().splitlines():
                row = json.loads(line)
                if row["kind"] == "boot":
                    assert not vh._alive(row["pid"]), "VM %d left running" % row["pid"]


# The flash tests: a served board, a copy of the sources to change, a config file.
@pytest.fixture
def vboard(tmp_path):
    """A served virtual board (tests.vboard_helpers.VBoard) for the flash tests."""
    from tests.vboard_helpers import VBoard
    b = VBoard(tmp_path)
    yield b
    b.stop()


@pytest.fixture
def repo(tmp_path):
    """A copy of the firmware and the sim board that a test may change."""
    r = tmp_path / "repo"
    r.mkdir()
    shutil.copytree(ROOT / "firmware", r / "firmware",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "boards", r / "boards",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return r


@pytest.fixture
def cfg_file(tmp_path):
    p = tmp_path / "config.json"
    from tests.vboard_helpers import GOOD_CONFIG
    p.write_text(json.dumps(GOOD_CONFIG))
    return p
