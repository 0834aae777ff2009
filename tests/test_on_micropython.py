# Runs every firmware test module again on the real MicroPython unix port
# (the `micropython` of the venv), through tests/mp_runner.py.
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MICROPYTHON = Path(sys.executable).parent / "micropython"
MODULES = sorted(p.stem for p in (ROOT / "tests" / "firmware").glob("test_*.py")) + sorted(
    p.stem for p in (ROOT / "tests" / "firmware").glob("mp_*.py"))


# the unix port built 32-bit by `make mp32` (small ints are 31-bit, as on a
# board): the firmware tests and the heap-lock tests run on it too, so an int
# that outgrows 2**30 allocates and fails here as it would on a Pico
MICROPYTHON32 = ROOT / "build" / "mp32" / "micropython"
# on the 32-bit port the soak module runs its short test of the hardest
# configurations only (days of every detector, a schedule step, a refill), to
# keep `make test` short; the 64-bit port runs all of it
MODULES32 = [(m, None) for m in MODULES if m != "test_soak"] + [
    ("test_soak", "test_soak_worst_offsets")]


def run_micropython(args, heap="4M", timeout=1200, binary=MICROPYTHON):
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join(
        [".frozen", str(ROOT / "firmware"), str(ROOT / "tests" / "firmware"), str(ROOT)])
    return subprocess.run([str(binary), "-X", "heapsize=" + heap] + args,
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("module", MODULES)
def test_firmware_module_on_unix_port(module):
    r = run_micropython([str(ROOT / "tests" / "mp_runner.py"), module])
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    m = re.search(r"^(\d+) passed, 0 failed$", r.stdout, re.M)
    assert m and int(m.group(1)) > 0, out


@pytest.mark.parametrize("module,only", MODULES32)
def test_firmware_module_on_32bit_port(module, only):
    assert MICROPYTHON32.exists(), "no 32-bit MicroPython: run `make mp32` (make test does)"
    args = [str(ROOT / "tests" / "mp_runner.py"), module] + (["-k", only] if only else [])
    r = run_micropython(args, binary=MICROPYTHON32)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    m = re.search(r"^(\d+) passed, 0 failed$", r.stdout, re.M)
    assert m and int(m.group(1)) > 0, out


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


def test_runner_reports_failures():
    # the runner itself must fail on a failing test, or the above proves nothing
    r = run_micropython([str(ROOT / "tests" / "mp_runner.py"), "selftest_fails"],
                        timeout=60)
    assert r.returncode == 1
    assert "0 passed, 1 failed" in r.stdout
