# Expectation files (`pumpmon replay --check`) are validated against the
# firmware's alarm table: a typo is bad input (exit 2, FILE:LINE, the nearest
# name), never a "missing" alarm.
import json
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools.exitcodes import BAD_INPUT, OK, PROBLEM
from host_tools.formats.expectations import alarm_causes, load_expectation
from host_tools.formats.trace import TraceError
from pumpmon import alarms as A

from tests.support import ROOT
BIN = Path(sys.executable).parent
TRACE = ROOT / "traces" / "fast_stop.csv"


def check(expect_path):
    return subprocess.run([str(BIN / "pumpmon"), "replay", str(TRACE), "--check",
                           str(expect_path), "--out", "/dev/null"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_the_names_are_the_firmwares():
    known = alarm_causes()
    assert set(known) == set(A.KIND_NAMES)
    assert "low_flow" in known["no_flow"] and "flow_sensor" in known["malfunction"]
    assert sum(len(c) for c in known.values()) == len(A.TABLE)


def test_an_unknown_alarm_is_bad_input_with_its_line(tmp_path):
    p = tmp_path / "e.json"
    p.write_text('{\n "raised": [\n  {"alarm": "no_flow", "from_s": 0},\n'
                 '  {\n   "alarm": "noflow",\n   "from_s": 900\n  }\n ]\n}\n')
    r = check(p)
    assert r.returncode == BAD_INPUT, r.stderr
    line = r.stderr.strip()
    assert line.startswith("%s:5: " % p), line
    assert "unknown alarm 'noflow'" in line and "did you mean 'no_flow'" in line
    assert "missing" not in line and len(r.stderr.splitlines()) == 1


def test_an_unknown_cause_is_bad_input_with_its_line(tmp_path):
    p = tmp_path / "e.json"
    p.write_text('{"raised": [\n {"alarm": "no_flow",\n  "cause": "lowflow", "from_s": 0}]}\n')
    with pytest.raises(TraceError) as e:
        load_expectation(p)
    assert e.value.line == 3
    assert "no_flow has no cause 'lowflow'" in e.value.what and "'low_flow'" in e.value.what
    assert check(p).returncode == BAD_INPUT


@pytest.mark.parametrize("body, says", [
    ('{"raised": [{"alarm": "no_flow"}], "no_other_hihg": true}', "did you mean 'no_other_high'"),
    ('{"raised": [{"alarm": "no_flow", "to": 5}]}', "unknown key(s) to"),
    ('{"raised": [{"alarm": "no_flow"}], "no_other_high": "yes"}', "true or false"),
    ('{"raised": [{"cause": "low_flow"}]}', 'needs "alarm"'),
])
def test_other_mistakes(tmp_path, body, says):
    p = tmp_path / "e.json"
    p.write_text(body)
    r = check(p)
    assert r.returncode == BAD_INPUT and says in r.stderr, r.stderr


@pytest.mark.req("R-053")
def test_a_good_expectation_still_checks_and_a_real_miss_is_still_1(tmp_path):
    good = ROOT / "traces" / "fast_stop.expect.json"
    assert check(good).returncode == OK
    late = json.loads(good.read_text())
    late["raised"][0]["from_s"] = 3000          # the trace is 17 min long
    late["raised"][0]["to_s"] = 3100
    p = tmp_path / "late.json"
    p.write_text(json.dumps(late))
    r = check(p)
    assert r.returncode == PROBLEM and "- missing: no_flow/low_flow" in r.stderr


def test_every_corpus_expectation_is_valid():
    from host_tools.sim.corpus import ALL
    found = sorted((ROOT / "traces").glob("*.expect.json"))
    # one for each entry of the catalogue (make corpus): an empty glob fails
    assert {p.name[:-len(".expect.json")] for p in found} == set(ALL), found
    for p in found:
        load_expectation(p)
