# Issue 25: a machine that cannot reach GitHub. The MicroPython builds (the
# 32-bit unix port here; `make mcu` uses the same Makefile macro MP_SOURCE)
# clone upstream only when MICROPYTHON_SRC is not given; a clone that fails
# ends in one line that names MICROPYTHON_SRC and the command to type, and
# the README's set-up section says so.
import os
import subprocess

import pytest

from tests.support import ROOT


def _make(tmp_path, *extra):
    # as on a machine where nobody gave the source: CI's .ci/run exports
    # MICROPYTHON_SRC (the shared tarball), which would build it instead
    env = {k: v for k, v in os.environ.items() if k not in ("MICROPYTHON_SRC", "MAKEFLAGS")}
    return subprocess.run(["make", "-s", "mp32", "MP32_DIR=%s" % (tmp_path / "mp32")] +
                          list(extra), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def _error_lines(r):
    return [ln for ln in r.stderr.splitlines() if not ln.startswith("make")]


@pytest.mark.req("R-083")
def test_a_clone_that_fails_names_MICROPYTHON_SRC_in_one_line(tmp_path):
    # an unreachable upstream (as with no network): nothing is built
    r = _make(tmp_path, "MP_GIT=file://%s/no-such-repo.git" % tmp_path)
    assert r.returncode != 0
    lines = _error_lines(r)
    assert len(lines) == 1, r.stderr
    assert "cannot download MicroPython" in lines[0]
    assert "make mp32 MICROPYTHON_SRC=path/to/micropython-1.28.0-src.tar.gz" in lines[0]
    assert not (tmp_path / "mp32" / "micropython").exists()


@pytest.mark.req("R-083")
def test_a_wrong_MICROPYTHON_SRC_is_one_line(tmp_path):
    r = _make(tmp_path, "MICROPYTHON_SRC=%s/nothing-here.tar.gz" % tmp_path)
    assert r.returncode != 0
    lines = _error_lines(r)
    assert len(lines) == 1 and "no such tarball or folder" in lines[0], r.stderr
    assert "MICROPYTHON_SRC=" in lines[0]


@pytest.mark.req("R-083")
def test_readme_set_up_section_documents_the_offline_build():
    text = (ROOT / "README.md").read_text()
    setup = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    assert "MICROPYTHON_SRC=" in setup and "make test MICROPYTHON_SRC" in setup
    assert ".venv/bin/pumpmon" in setup and "source .venv/bin/activate" in setup
