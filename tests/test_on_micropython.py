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


def run_micropython(args, heap="4M", timeout=1200):
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join(
        [".frozen", str(ROOT / "firmware"), str(ROOT / "tests" / "firmware"), str(ROOT)])
    return subprocess.run([str(MICROPYTHON), "-X", "heapsize=" + heap] + args,
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("module", MODULES)
def test_firmware_module_on_unix_port(module):
    r = run_micropython([str(ROOT / "tests" / "mp_runner.py"), module])
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    m = re.search(r"^(\d+) passed, 0 failed$", r.stdout, re.M)
    assert m and int(m.group(1)) > 0, out


def test_runner_reports_failures():
    # the runner itself must fail on a failing test, or the above proves nothing
    r = run_micropython([str(ROOT / "tests" / "mp_runner.py"), "selftest_fails"],
                        timeout=60)
    assert r.returncode == 1
    assert "0 passed, 1 failed" in r.stdout
