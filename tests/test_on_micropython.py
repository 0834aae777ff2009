# Runs every firmware test module again on the real MicroPython unix port
# (the `micropython` of the venv), through tests/mp_runner.py.
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT
MICROPYTHON = Path(sys.executable).parent / "micropython"
MODULES = sorted(p.stem for p in (ROOT / "tests" / "firmware").glob("test_*.py")) + sorted(
    p.stem for p in (ROOT / "tests" / "firmware").glob("mp_*.py"))


def _functions(module):
    text = (ROOT / "tests" / "firmware" / (module + ".py")).read_text(encoding="utf-8")
    return re.findall(r"^def (test_\w+)\(", text, re.M)


# the long modules run one test function a case, so that the two pytest
# workers share them instead of one waiting for the other
SPLIT = ("test_detection", "test_detection_fast", "test_engine_properties", "test_dump")
# the soak module runs its short test of the hardest configurations only (a
# day each of every detector, a schedule step, a refill): the rest of it steps
# the same integer code through more simulated days, which CPython does here
# and `make soak` does on the unix port, for longer; a port adds nothing to it
CASES = []
for _m in MODULES:
    if _m == "test_soak":
        CASES.append((_m, "test_soak_worst_offsets"))
    elif _m in SPLIT:
        CASES += [(_m, f) for f in _functions(_m)]
    else:
        CASES.append((_m, None))

# the unix port built 32-bit by `make mp32` (small ints are 31-bit, as on a
# board): the firmware tests and the heap-lock tests run on it too, so an int
# that outgrows 2**30 allocates and fails here as it would on a Pico
MICROPYTHON32 = ROOT / "build" / "mp32" / "micropython"


def run_micropython(args, heap="4M", timeout=1200, binary=MICROPYTHON):
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join(
        [".frozen", str(ROOT / "firmware"), str(ROOT / "tests" / "firmware"), str(ROOT)])
    return subprocess.run([str(binary), "-X", "heapsize=" + heap] + args,
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def _run_module(module, only, binary):
    args = [str(ROOT / "tests" / "mp_runner.py"), module] + (["-k", only] if only else [])
    r = run_micropython(args, binary=binary)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    m = re.search(r"^(\d+) passed, 0 failed$", r.stdout, re.M)
    assert m and int(m.group(1)) > 0, out


@pytest.mark.parametrize("module,only", CASES)
@pytest.mark.req("R-014")
def test_firmware_module_on_unix_port(module, only):
    _run_module(module, only, MICROPYTHON)


@pytest.mark.parametrize("module,only", CASES)
@pytest.mark.req("R-014")
def test_firmware_module_on_32bit_port(module, only):
    assert MICROPYTHON32.exists(), "no 32-bit MicroPython: run `make mp32` (make test does)"
    _run_module(module, only, MICROPYTHON32)


@pytest.mark.req("R-014")
def test_every_firmware_test_runs_on_the_ports():
    # a test function the split lists would leave out is a test that never runs there
    for m in SPLIT:
        assert set(f for mod, f in CASES if mod == m) == set(_functions(m)) != set(), m
    assert {m for m, _f in CASES} == set(MODULES)


@pytest.mark.req("R-014")
def test_32bit_port_is_32_bit():
    # small ints are 31-bit there: 2**30 is a long int, allocated on the heap
    assert MICROPYTHON32.exists(), "no 32-bit MicroPython: run `make mp32` (make test does)"
    r = subprocess.run([str(MICROPYTHON32), "-c",
                        "import sys, micropython\n"
                        "print(sys.maxsize)\n"
                        "x = 2**29\n"
                        "micropython.heap_lock()\n"
                        "try:\n"
                        "    y = x + x\n"
                        "    print('no-alloc')\n"
                        "except MemoryError:\n"
                        "    print('alloc')\n"
                        "micropython.heap_unlock()\n"], capture_output=True, text=True,
                       timeout=60)
    assert r.stdout.split() == ["2147483647", "alloc"], r.stdout + r.stderr


@pytest.mark.req("R-014")
def test_runner_reports_failures():
    # the runner itself must fail on a failing test, or the above proves nothing
    r = run_micropython([str(ROOT / "tests" / "mp_runner.py"), "selftest_fails"],
                        timeout=60)
    assert r.returncode == 1
    assert "0 passed, 1 failed" in r.stdout
