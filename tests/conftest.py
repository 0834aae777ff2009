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
import re
import shutil
import signal
import subprocess

import pytest

from tests.support import BIN, ROOT

_REQ_LINE = re.compile(r"^\s*req:\s*(.+?)\s*$", re.M)


def pytest_configure(config):
    config.addinivalue_line("markers", "req(*ids): the requirements (docs/requirements.md) "
                            "this test verifies")


# Speed marks (pyproject.toml): a test that starts a virtual board (the
# start_board or vboard fixture) is `vboard`, tests/test_on_mcu.py is `mcu`,
# and both are `slow`, as is every test in SLOW (measured at -n 2: seconds each).
BOARD_FIXTURES = ("start_board", "vboard")


def _speed_marks(item):
    marks = {m.name for m in item.iter_markers()}
    if any(f in BOARD_FIXTURES for f in getattr(item, "fixturenames", ())):
        item.add_marker(pytest.mark.vboard)
        marks.add("vboard")
    if item.nodeid.startswith("tests/test_on_mcu.py"):
        item.add_marker(pytest.mark.mcu)
        marks.add("mcu")
    if marks & {"vboard", "mcu"} and "slow" not in marks:
        item.add_marker(pytest.mark.slow)


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
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
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
