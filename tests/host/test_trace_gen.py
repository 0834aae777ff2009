# `pumpmon trace gen "DESCRIPTION"` (host_tools/sim/describe.py): a scenario
# from one line, written with the sensor model, so the readings vary as a real
# sensor's do and the firmware raises what the description implies.
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools.exitcodes import BAD_INPUT, OK
from host_tools.formats.trace import read_trace
from host_tools.replay import driver
from host_tools.sim.describe import parse

from tests.support import ROOT
BIN = Path(sys.executable).parent


def gen(*args):
    return subprocess.run([str(BIN / "pumpmon"), "trace", "gen"] + [str(a) for a in args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def replay(path):
    events = []
    tr = read_trace(path)
    import json
    driver.replay(tr.config(), tr.samples(), lambda line: events.append(json.loads(line)))
    return tr, [e for e in events if e["event"] == "alarm_raised"]


def test_the_issues_example_stops_at_minute_90_and_no_flow_follows(tmp_path):
    out = tmp_path / "x.csv"
    r = gen("rate 30 uL/h, 180 min, stop at minute 90", "-o", out)
    assert r.returncode == OK, r.stderr
    tr, raised = replay(out)
    assert tr.meta["rate_ul_h"] == "30"
    assert tr.meta["description"] == "rate 30 uL/h, 180 min, stop at minute 90"
    rows = list(tr.samples())
    assert len(rows) == 180 * 60 and rows[-1][0] == (180 * 60 - 1) * 1000
    before = [s[2] for s in rows[:90 * 60] if s[2] is not None]
    # noisy like a sensor: not a constant column (which trips the stuck-sensor alarm)
    assert len(set(before)) > 50 and statistics.pstdev(before) > 5      # 0.1 uL/h units
    assert 280 < statistics.mean(before) < 320
    first = raised[0]
    assert (first["alarm"], first["cause"]) == ("no_flow", "low_flow"), raised
    assert 90 * 60 * 1000 <= first["t_ms"] <= 95 * 60 * 1000
    assert not [e for e in raised if e["t_ms"] < 90 * 60 * 1000]


def test_a_flow_sensor_fault_at_a_minute(tmp_path):
    out = tmp_path / "f.csv"
    assert gen("rate 30, 60 min, flow sensor stuck at minute 40", "-o", out).returncode == OK
    _tr, raised = replay(out)
    assert [(e["alarm"], e["cause"], e.get("detail")) for e in raised][:1] == \
        [("malfunction", "flow_sensor", "stuck")], raised
    assert 40 * 60 * 1000 < raised[0]["t_ms"] <= 45 * 60 * 1000


@pytest.mark.parametrize("text, check", [
    ("100 uL/h pulsatile every 4 min, 3 h, fall to 40% at 1 h, resume at 2 h",
     lambda k: k["pulse_period_s"] == 240 and k["factor"] == [(3600, 0.4), (7200, 1.0)]),
    ("rate 10, 2 h, over-delivery 1.5x at 60 min", lambda k: k["factor"] == [(3600, 1.5)]),
    ("rate 150, 4 h, reservoir 5 mL, refill at 3:30",
     lambda k: k["level_ml"] == 5.0 and k["refill_s"] == [12600]),
    ("rate 30, 90 min, sensor fault at 45 min", lambda k: k["flow_fault"] == ("silent", 2700)),
    ("rate 30; 2 days; leak 0.5 mL/h at 1 h; seed 7", lambda k: k["duration_s"] == 172800
     and k["leak_ml_h"] == 0.5 and k["leak_from_s"] == 3600),
    ("rate 30, 90 min, level sensor stuck at 30 min, long press at 50 min",
     lambda k: k["level_stuck_s"] == 1800 and k["button"] == [(3000, 3)]),
])
def test_descriptions(text, check):
    spec, _seed = parse(text)
    assert check(spec.kwargs), spec.kwargs


@pytest.mark.parametrize("text, says", [
    ("rat 30, 2 h", "did you mean 'rate'"),
    ("rate 30, 2 h, stpo at 30 min", "did you mean 'stop'"),
    ("rate 30, 60 min, stop at minute 90", "after the end of the trace"),
    ("rate 0, 60 min", "0 < rate"),
    ("occlsion", "did you mean 'occlusion'"),
])
def test_a_description_it_cannot_read_is_bad_input(text, says, tmp_path):
    r = gen(text, "-o", tmp_path / "x.csv")
    assert r.returncode == BAD_INPUT
    assert says in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.csv").exists()


def test_a_scenario_name_still_works(tmp_path):
    r = gen("fast_stop", "-o", tmp_path / "s.csv")
    assert r.returncode == OK and read_trace(tmp_path / "s.csv").meta["scenario"] == "fast_stop"


@pytest.mark.parametrize("text, expects", [
    ("rate 30 uL/h, 180 min, stop at minute 90", [("no_flow", None, 5400, 6300)]),
    ("rate 10, 2 h, over-delivery 2x at 60 min",
     [("over_delivery", "over_delivery", 3600, 4500)]),
    ("rate 50, 40 min, sensor fault at 20 min", [("malfunction", "flow_sensor", 1200, 1230)]),
])
def test_expect_writes_what_the_monitor_must_do_and_the_replay_agrees(tmp_path, text, expects):
    import json
    out, exp = tmp_path / "x.csv", tmp_path / "x.expect.json"
    assert gen(text, "-o", out, "--expect", exp).returncode == OK
    e = json.loads(exp.read_text())
    assert [(r["alarm"], r["cause"], r["from_s"], r["to_s"]) for r in e["raised"]] == expects
    r = subprocess.run([str(BIN / "pumpmon"), "replay", str(out), "--check", str(exp),
                        "--out", "/dev/null"], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == OK, r.stderr


def test_help_and_an_event_without_its_time():
    r = gen("help")
    assert r.returncode == OK and "stop|occlusion at T" in r.stdout
    r = gen("rate 30, 1 h, stop")
    assert r.returncode == BAD_INPUT and "an event needs its time" in r.stderr


# issue 25: the common ways of saying rates, lengths and events
@pytest.mark.parametrize("said, canonical", [
    ("rate 30 uL/h, 180 min, stop after 1 h", "rate 30, 180 min, stop at minute 60"),
    ("30 ul/hr, for 3 hours, stops at 90 min", "rate 30, 180 min, stop at minute 90"),
    ("30 µl per hour, 3 hrs, the pump stops after 90 mins", "rate 30, 3 h, stop at 90 min"),
    ("rate of 30, lasting 2 h, occluded at 1:00, resumes at 1:30",
     "rate 30, 2 h, stop at 60 min, resume at 90 min"),
    ("programmed rate 45 microlitres/hour, 90 minutes long, blocked from 30 min",
     "rate 45, 90 min, stop at 30 min"),
    ("rate 30, 2 h, refilled at 1 h, button press at 70 min",
     "rate 30, 2 h, refill at 60 min, press at 70 min"),
    ("rate=30, 2 h, delivery stopped after 3600 s", "rate 30, 2 h, stop at 1 h"),
])
def test_common_phrasings_mean_the_same(said, canonical):
    assert parse(said)[0].kwargs == parse(canonical)[0].kwargs


@pytest.mark.parametrize("text, near", [
    ("rate 30, 2 h, pump explodes at 30 min", None),
    ("30 ul/hr, for 3 hours, zap", None),
    ("rate 30, 2 h, stp at 1 h", "stop"),
    ("rate 30, 2 h, leek 1 mL/h at 1 h", "leak"),
])
def test_a_miss_is_answered_with_a_few_close_examples_not_a_dump(text, near, tmp_path):
    r = gen(text, "-o", tmp_path / "x.csv")
    assert r.returncode == BAD_INPUT
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1, err              # one line, not the whole grammar
    examples = err.split("e.g. ", 1)[1].split(" (`pumpmon", 1)[0].split("', '")
    assert 2 <= len(examples) <= 3, err
    for ex in examples:                                 # each example is itself understood
        try:
            parse("rate 30, 3 h, " + ex.strip("'"))
        except ValueError as e:                         # (a length given twice)
            assert "length is given" in str(e)
            parse("rate 30, " + ex.strip("'"))
    if near:
        assert near in err.split("e.g.")[1] or "did you mean '%s'" % near in err
