"""The testers' pytest plugin (host_tools/testing/plugin.py), run as a tester
runs it: pytest in a folder of their own, in a subprocess, with the plugin
loaded through the package's `pytest11` entry point (not named anywhere).

Inert until asked; one item per trace with an expectation; plain-word
failures with a plot; --pumpmon-runtime; the ini option; pytest-xdist and
JUnit XML; the pumpmon_replay fixture with a named configuration."""
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tests.support import ROOT
TRACES = ROOT / "traces"


def _project(tmp_path, names=("occlusion", "air_in_line"), ini=""):
    d = tmp_path / "tester"
    (d / "ward").mkdir(parents=True)
    for n in names:
        for ext in (".csv", ".expect.json"):
            shutil.copy(TRACES / (n + ext), d / "ward" / (n + ext))
    shutil.copy(TRACES / "normal.csv", d / "ward" / "no_expectation.csv")
    (d / "pytest.ini").write_text("[pytest]\n" + ini)
    return d


def _pytest(cwd, *args, timeout=300):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
                          + [str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.req("R-087")
def test_inert_until_asked(tmp_path):
    d = _project(tmp_path)
    (d / "test_light.py").write_text(
        "import sys\n"
        "def test_nothing_heavy_was_imported():\n"
        "    heavy = [m for m in ('host_tools.testing.api', 'pumpmon', 'matplotlib',\n"
        "             'host_tools.formats.trace') if m in sys.modules]\n"
        "    assert not heavy, heavy\n"
        "    assert 'host_tools.testing.plugin' in sys.modules   # loaded, but idle\n")
    r = _pytest(d, "-q")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed" in r.stdout           # the traces were not collected


@pytest.mark.req("R-087")
def test_one_item_per_trace_with_an_expectation(tmp_path):
    d = _project(tmp_path)
    r = _pytest(d, "--pumpmon-traces", "ward", "--collect-only", "-q")
    assert r.returncode == 0, r.stdout + r.stderr
    items = [x for x in r.stdout.splitlines() if "::" in x]
    assert items == ["ward/air_in_line.csv::air_in_line", "ward/occlusion.csv::occlusion"]
    r = _pytest(d, "--pumpmon-traces", "ward", "-v")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed" in r.stdout


@pytest.mark.req("R-087")
def test_a_wrong_expectation_fails_in_plain_words_with_a_plot(tmp_path):
    d = _project(tmp_path)
    exp = d / "ward" / "occlusion.expect.json"
    exp.write_text(json.dumps({"raised": [{"alarm": "no_flow", "cause": "low_flow",
                                           "from_s": 0, "to_s": 1800}]}))
    r = _pytest(d, "--pumpmon-traces", "ward", "--pumpmon-plots", "plots")
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout
    assert "occlusion.csv (cpython) did not do what occlusion.expect.json expects" in out
    assert ("expected no_flow/low_flow to be raised between 0:00:00 and 0:30:00; "
            "it was raised at 1:00:06 instead") in out
    assert "- missing: no_flow/low_flow raised between 0 s and 1800 s" in out
    png = d / "plots" / "occlusion.png"
    assert "plot: %s" % png in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "1 failed, 1 passed" in out


@pytest.mark.req("R-087")
def test_a_changed_snapshot_fails_with_the_diff(tmp_path):
    d = _project(tmp_path, names=("occlusion",))
    snap = d / "ward" / "occlusion.events.jsonl"
    snap.write_text((TRACES / "occlusion.events.jsonl").read_text().replace(
        '"t_ms":', '"t_ms":1', 1))
    r = _pytest(d, "--pumpmon-traces", "ward")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "the events differ from occlusion.events.jsonl" in r.stdout
    assert "+++ this replay" in r.stdout


@pytest.mark.req("R-087")
def test_ini_option_runtime_both_xdist_and_junit(tmp_path):
    d = _project(tmp_path, ini="pumpmon_traces = ward\npumpmon_runtime = both\n")
    r = _pytest(d, "-n", "2", "--junitxml", "report.xml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed" in r.stdout
    cases = ET.parse(d / "report.xml").getroot().iter("testcase")
    names = sorted(c.get("name") for c in cases)
    assert names == ["air_in_line", "occlusion"]
    props = {p.get("name"): p.get("value") for p in
             ET.parse(d / "report.xml").getroot().iter("property")}
    assert props.get("pumpmon_runtime") == "both"


@pytest.mark.req("R-087")
def test_the_fixture_with_a_named_configuration(tmp_path):
    d = _project(tmp_path, names=("occlusion",))
    (d / "ward" / "fast.json").write_text(json.dumps({"rate_ul_h": 100}))
    (d / "test_ward.py").write_text(
        "import pytest\n"
        "def test_default(pumpmon_replay):\n"
        "    r = pumpmon_replay('ward/occlusion.csv')\n"
        "    assert 3600 < r.first_raised('no_flow').t_s < 3700\n"
        "@pytest.mark.pumpmon_config('ward/fast.json')\n"
        "def test_configured(pumpmon_replay):\n"
        "    r = pumpmon_replay('ward/occlusion.csv')\n"
        "    assert r.first_raised('no_flow').t_s < 3600\n"
        "def test_samples(pumpmon_replay):\n"
        "    rows = [(t * 1000, 20.0, 0.0) for t in range(300)]\n"
        "    r = pumpmon_replay.samples(rows, {'rate_ul_h': 30})\n"
        "    assert r.runtime == 'micropython'\n")
    r = _pytest(d, "--pumpmon-runtime", "micropython", "-q", "test_ward.py")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 passed" in r.stdout


@pytest.mark.req("R-087")
def test_a_missing_folder_is_a_usage_error(tmp_path):
    d = _project(tmp_path)
    r = _pytest(d, "--pumpmon-traces", "nowhere")
    assert r.returncode == 4
    assert "--pumpmon-traces" in r.stderr and "no such folder" in r.stderr
