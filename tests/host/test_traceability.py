"""The safety file cannot drift (issue 27): docs/requirements.md,
docs/hazards.md and the requirement marks in the tests agree, checked by
host_tools/traceability.py; and docs/soup.md's versions are the pins.

The checker is shown to be real on a small synthetic tree: removing a test's
mark, adding a requirement with no test, naming an unknown requirement, a
hazard without a control, a control that is not a requirement... each makes
it report the problem."""
import subprocess
import sys
import textwrap

import pytest

from host_tools import traceability as T

from tests.support import ROOT

REQS = """\
# Requirements
## Detection
| ID | requirement | hazards |
| --- | --- | --- |
| R-001 | A stop is found. | H-01 |
| R-002 | Nothing is found when all is well. | - |
"""
HAZARDS = """\
# Hazards
| ID | hazard | cause | harm | risk controls | verification | residual risk |
| --- | --- | --- | --- | --- | --- | --- |
| H-01 | a stop | a kink | withdrawal | R-001 | tests/firmware/test_fw.py::test_stop | say so |
"""
FW_TEST = '''\
def test_stop():
    """A stop.

    req: R-001
    """


def test_quiet():
    """req: R-002"""


def _helper():
    pass
'''
HOST_TEST = '''\
import pytest


@pytest.mark.req("R-002")
def test_host_quiet():
    pass


def test_unmarked_helper_test():
    pass
'''


def _tree(tmp_path, reqs=REQS, hazards=HAZARDS, fw=FW_TEST, host=HOST_TEST):
    (tmp_path / "docs").mkdir(exist_ok=True)
    (tmp_path / "tests" / "firmware").mkdir(parents=True, exist_ok=True)
    (tmp_path / "tests" / "host").mkdir(parents=True, exist_ok=True)
    (tmp_path / "docs" / "requirements.md").write_text(reqs)
    (tmp_path / "docs" / "hazards.md").write_text(hazards)
    (tmp_path / "tests" / "firmware" / "test_fw.py").write_text(fw)
    (tmp_path / "tests" / "host" / "test_host.py").write_text(host)
    return tmp_path


@pytest.mark.req("R-056")
def test_the_safety_file_is_whole():
    problems = T.check(ROOT)
    assert problems == [], "\n".join(problems)
    reqs, _p = T.requirements(ROOT)
    hz, _p = T.hazards(ROOT)
    found, _p = T.tests(ROOT)
    marked = [k for k, ids in found.items() if ids]
    assert len(reqs) >= 50 and len(hz) >= 10 and len(marked) >= 200, (
        len(reqs), len(hz), len(marked))
    # every group of the issue is there
    groups = {r["group"].split(" ")[0] for r in reqs.values()}
    assert {"Detection", "Annunciation", "Logging", "Fail-safe", "Configuration",
            "Carers'", "Host"} <= groups, groups


@pytest.mark.req("R-056")
def test_a_whole_synthetic_tree_passes(tmp_path):
    assert T.check(_tree(tmp_path)) == []


@pytest.mark.req("R-056")
@pytest.mark.parametrize("change, words", [
    # the mark removed from the only test of R-001
    (dict(fw=FW_TEST.replace("    req: R-001\n", "")), "R-001 (docs/requirements.md:5) has no test"),
    # a requirement added with no test
    (dict(reqs=REQS + "| R-003 | Something new. | - |\n"), "R-003 (docs/requirements.md:7) has no test"),
    # a host mark removed: R-002 still has its firmware test, so no problem there...
    # ...but a test naming an unknown requirement is one
    (dict(host=HOST_TEST.replace('"R-002"', '"R-009"')), "names R-009, which docs/requirements.md does not define"),
    (dict(fw=FW_TEST.replace("req: R-002", "req: R-002, R-777")), "test_quiet names R-777"),
    # a hazard with no control
    (dict(hazards=HAZARDS.replace("| R-001 |", "| none yet |")), "H-01 (docs/hazards.md:4) has no risk control"),
    # a control that is not a requirement
    (dict(hazards=HAZARDS.replace("| R-001 |", "| R-001, R-042 |")), "names R-042, which docs/requirements.md does not define"),
    (dict(hazards=HAZARDS.replace("| R-001 |", "| R-001, H-02 |")), "risk control H-02 is not a requirement ID"),
    # the two documents disagree about which controls which
    (dict(hazards=HAZARDS.replace("| R-001 |", "| R-001, R-002 |")), "lists R-002 as a control, but R-002 does not name H-01"),
    (dict(reqs=REQS.replace("| - |", "| H-01 |")), "R-002 names H-01, but H-01 does not list R-002"),
    (dict(reqs=REQS.replace("| - |", "| H-07 |")), "names H-07, which docs/hazards.md does not define"),
    # hazards.md names a test that does not exist, or one that verifies none of its controls
    (dict(hazards=HAZARDS.replace("test_stop |", "test_gone |")), "verification tests/firmware/test_fw.py::test_gone: no such test"),
    (dict(hazards=HAZARDS.replace("test_stop |", "test_quiet |")), "test_quiet verifies none of its controls (R-002)"),
    # a pytest mark in a firmware test (it runs on MicroPython, where pytest is not)
    (dict(fw="import pytest\n\n\n@pytest.mark.req('R-001')\ndef test_stop():\n    pass\n\n\n"
              "def test_quiet():\n    '''req: R-002'''\n"), "in its docstring (req: R-...), not with a pytest mark"),
    (dict(reqs=REQS + "| R-001 | Again. | H-01 |\n"), "R-001 is defined twice"),
    (dict(reqs=REQS + "| R-004 | A row with a cell too few |\n"), "R-004: a row is ID | requirement | hazards"),
])
def test_the_check_finds_each_kind_of_drift(tmp_path, change, words):
    problems = T.check(_tree(tmp_path, **change))
    assert any(words in p for p in problems), problems


@pytest.mark.req("R-056")
def test_make_trace_prints_the_matrix_with_the_last_results(tmp_path):
    root = _tree(tmp_path)
    md = T.matrix(root, results=tmp_path / "none.xml")
    assert "| R-001 A stop is found. | H-01 | tests/firmware/test_fw.py::test_stop | not run |" in md
    assert "tests/host/test_host.py::test_host_quiet | not run |" in md
    assert md.rstrip().endswith("2 requirements, 3 marked tests.")
    xml = tmp_path / "results.xml"
    xml.write_text(textwrap.dedent("""\
        <testsuites><testsuite>
        <testcase classname="tests.firmware.test_fw" name="test_stop"/>
        <testcase classname="tests.host.test_host" name="test_host_quiet"><failure/></testcase>
        </testsuite></testsuites>"""))
    md = T.matrix(root, results=xml)
    assert "test_fw.py::test_stop | passed |" in md
    assert "test_host.py::test_host_quiet | **FAILED** (1 of 1) |" in md
    # without a test, the matrix says so
    md = T.matrix(_tree(tmp_path, fw=FW_TEST.replace("    req: R-001\n", "")), results=xml)
    assert "| R-001 A stop is found. | H-01 | **no test** | - |" in md


@pytest.mark.req("R-056")
def test_the_command_exits_1_on_a_problem_and_prints_markdown():
    r = subprocess.run([sys.executable, "-m", "host_tools.traceability", "--check"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "the trace is whole" in r.stdout, r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "host_tools.traceability"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("# Requirements -> tests -> last result")


@pytest.mark.req("R-056")
def test_soup_versions_are_the_pinned_ones(tmp_path):
    assert T.soup_problems(ROOT) == []
    have = T.pins(ROOT)
    assert have["micropython"] == "1.28.0" and "amqtt" in have and "micropython-umqtt.simple" in have
    # a version in soup.md that is not the pin, and a pin without a row: found
    for name in ("requirements.txt", "requirements-firmware.txt", "requirements-stubs-rp2.txt",
                 "requirements-stubs-esp32.txt", "pyproject.toml", "Makefile"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "docs").mkdir()
    soup = (ROOT / "docs" / "soup.md").read_text()
    (tmp_path / "docs" / "soup.md").write_text(soup.replace("| `rich` | 15.0.0 |", "| `rich` | 14.0.0 |"))
    assert any("rich 14.0.0, but the pin says 15.0.0" in p for p in T.soup_problems(tmp_path))
    (tmp_path / "requirements.txt").write_text((ROOT / "requirements.txt").read_text()
                                               + "newthing==1.0\n")
    assert any("newthing 1.0 is pinned but has no row" in p for p in T.soup_problems(tmp_path))


@pytest.mark.req("R-056")
def test_marks_reach_pytest_and_the_junit_xml(tmp_path):
    """The conftest turns docstring lines into `req` marks and both forms
    into a `req` property of the JUnit XML."""
    xml = tmp_path / "r.xml"
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "tests/firmware/test_identity.py::test_version_code_round_trip_and_refusals",
                        "tests/host/test_traceability.py::test_a_whole_synthetic_tree_passes",
                        "--junitxml", str(xml)], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    text = xml.read_text()
    assert '<property name="req" value="R-029" />' in text, text


@pytest.mark.req("R-056")
def test_the_readme_states_the_intended_use():
    """The README's first paragraph says what docs/intended-use.md says: an
    external delivery set-up (the sensors cannot reach an implanted pump),
    never instead of the pump's alarms or a clinician."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first = text.split("\n\n")[1]
    for words in ("external", "docs/intended-use.md", "cannot watch\nan implanted pump",
                  "never replaces the pump's own alarms or a clinician"):
        assert words in first, words
    use = (ROOT / "docs" / "intended-use.md").read_text(encoding="utf-8")
    for words in ("slide potentiometer", "inline", "bedroom at night",
                  "never replaces the pump's own alarms", "never replaces a clinician"):
        assert words in use.replace("**", ""), words
