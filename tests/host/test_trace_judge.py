# Issue 25: `pumpmon trace check` said "ok" for a hand-written trace (a row a
# minute) that raises a sensor malfunction at 10 s. It now warns when the
# monitor cannot judge a trace as written: rows too far apart, no level
# column, a flow reading that never changes; and it never warns on a trace
# the monitor judges as meant (the corpus: it warns exactly on the traces
# whose expected events hold a sensor malfunction).
import json
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools.formats.trace_judge import warnings

from tests.support import ROOT
BIN = Path(sys.executable).parent
HEAD = "# pumpmon-trace v1\n# rate_ul_h=30\n"


def check(*paths):
    return subprocess.run([str(BIN / "pumpmon"), "trace", "check"] + [str(p) for p in paths],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_a_row_a_minute_is_warned_about(tmp_path):
    p = tmp_path / "hand.csv"
    p.write_text(HEAD + "t_ms,reservoir_ml,flow_ul_h,button,refill,flow_flags\n" + "".join(
        "%d,%.3f,%.1f,0,0,0\n" % (m * 60000, 18 - m * 0.0005, 30 + (m % 3)) for m in range(60)))
    r = check(p)
    assert r.returncode == 0, r.stderr
    assert "ok" not in r.stdout.split(",")[0] and "cannot" not in r.stdout
    assert "as written the monitor sees sensor faults" in r.stdout
    assert "rows are 60 s apart" in r.stderr and "row a second" in r.stderr
    assert "no flow reading for 60 s from t=0:00:00" in r.stderr
    assert "silent after 10 s" in r.stderr
    # the replay agrees: a sensor malfunction within seconds
    rp = subprocess.run([str(BIN / "pumpmon"), "replay", str(p)], capture_output=True,
                        text=True, cwd=ROOT, timeout=120)
    ev = [json.loads(x) for x in rp.stdout.splitlines()]
    first = [e for e in ev if e["event"] == "alarm_raised"][0]
    assert (first["alarm"], first["cause"]) == ("malfunction", "flow_sensor")
    assert first["t_ms"] <= 20000


def test_no_level_column_and_a_constant_flow(tmp_path):
    p = tmp_path / "nolevel.csv"
    p.write_text(HEAD + "t_ms,reservoir_ml,flow_ul_h\n" + "".join("%d,,30.0\n" % (s * 1000)
                                                     for s in range(600)))
    r = check(p)
    assert r.returncode == 0
    assert "no reservoir level readings" in r.stderr
    assert "does not change for 120 s" in r.stderr
    r = subprocess.run([str(BIN / "pumpmon"), "trace", "check", "--json", str(p)],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    js = json.loads(r.stdout)
    assert js["ok"] and len(js["warnings"]) == 2


CORPUS = sorted(p for p in (ROOT / "traces").glob("*.csv"))


@pytest.mark.parametrize("trace", CORPUS, ids=lambda p: p.stem)
def test_the_corpus_warns_exactly_where_a_sensor_malfunction_is_expected(trace):
    ev = [json.loads(x) for x in trace.with_suffix(".events.jsonl").read_text().splitlines()]
    sensor = [e for e in ev if e["event"] == "alarm_raised" and e.get("alarm") ==
              "malfunction" and e.get("cause") in ("flow_sensor", "level_sensor")]
    w = warnings(str(trace))
    if w:
        assert sensor, (trace.name, w)       # a warning is never a false alarm
    if not sensor:
        assert not w, w
