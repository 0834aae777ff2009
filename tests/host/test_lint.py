"""ruff with the project's rules (pyproject.toml [tool.ruff]; `make lint` runs
the same): no undefined name, unused import or variable, no bugbear defect, no
`noqa` that silences nothing (issue 26)."""
import subprocess

import pytest

from tests.support import BIN, ROOT

RUFF = str(BIN / "ruff")


def ruff(*args, stdin=None):
    return subprocess.run([RUFF, "check", "--no-cache", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_the_project_passes_ruff():
    r = ruff(".")
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("code, rule", [
    ("import os\n", "F401"),                                   # unused import
    ("def f():\n    return undefined_name\n", "F821"),
    ("def f(x=[]):\n    return x\n", "B006"),                   # a shared default
    ("import os  # noqa: E731\nos.getcwd()\n", "RUF100"),      # a noqa for nothing
])
def test_ruff_finds_a_defect_with_these_settings(code, rule):
    # the project's settings in force (the firmware's folder: its per-file rules too)
    r = ruff("--stdin-filename", "firmware/pumpmon/example.py", "-", stdin=code)
    assert r.returncode == 1 and rule in r.stdout, r.stdout + r.stderr
