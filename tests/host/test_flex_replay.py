"""Issue 22: days of flex dosing (20 uL/h with three 20-minute boluses a day
at 200 uL/h) replayed through the firmware (`pumpmon replay`'s driver) on
CPython, the MicroPython unix port and its 32-bit build: byte-identical
events, no alarm in the 30 days (the stop test's envelope overflowed in 2-3
days, and a stroke pump's first bolus raised over_delivery), and a stop on
the last evening found by the stop test within its target. Also the issue's
new cases (dumps, a bubble) give the same events on every runtime.
make test runs 7 days (FLEX_DAYS, about 2 min a pump on a loaded machine);
FLEX_DAYS=30 runs the month (about 10 min a pump)."""
import json
import os
import subprocess

import pytest

from host_tools import paths
from host_tools.replay import driver as replay_driver
from host_tools.sim import scenarios as S
from host_tools.sim.sensors import Scenario

from tests.support import ROOT
MP32 = ROOT / "build" / "mp32" / "micropython"
D = 86400
H = 3600
DAYS = int(os.environ.get("FLEX_DAYS", "7"))


def _values(sc):
    v = {"reservoir_capacity_ml": sc.capacity_ml}
    if sc.schedule is None:
        v["rate_ul_h"] = sc.rate
    else:
        v["schedule"] = [("%02d:%02d" % (s // 3600, s // 60 % 60), r) for s, r in sc.schedule]
    if sc.start_s:
        v["start"] = "%02d:%02d" % (sc.start_s // 3600, sc.start_s // 60 % 60)
    return v


def _every_runtime(tmp_path, kwargs, seed=1):
    """The events text on CPython, the unix port and the 32-bit build."""
    from pumpmon.config import Config
    sc = Scenario(seed=seed, **kwargs)
    values = _values(sc)
    feed = tmp_path / "feed.txt"
    with open(feed, "w", encoding="utf-8") as f:
        f.write(json.dumps(values, sort_keys=True) + "\n")
        buf = []
        for s in sc.samples():
            buf.append(replay_driver.encode_sample(s))
            if len(buf) >= 8192:
                f.write("".join(buf))
                buf = []
        f.write("".join(buf))
    assert MP32.exists(), "no 32-bit MicroPython: run `make mp32` (make test does)"
    procs = []
    for binary in (paths.micropython(), str(MP32)):
        with open(feed, "rb") as fin:
            procs.append(subprocess.Popen(
                [binary, "-X", "heapsize=4M", replay_driver.__file__], stdin=fin,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=paths.micropython_env()))
    out = []
    replay_driver.replay(Config(values), Scenario(seed=seed, **kwargs).samples(), out.append)
    cp = "".join(out)
    texts = [cp]
    for p in procs:
        o, e = p.communicate(timeout=3000)
        assert p.returncode == 0, e.decode()[-2000:]
        texts.append(o.decode())
    return texts


@pytest.mark.parametrize("period", [0, 180], ids=["continuous", "strokes 3 min"])
def test_flex_dosing_for_30_days_same_events_everywhere_and_no_false_alarm(tmp_path, period):
    stop = (DAYS - 1) * D + 22 * H          # the last evening, basal hours
    kw = dict(schedule=S.FLEX, duration_s=stop + 20 * 60, level_every_s=10,
              capacity_ml=40.0, level_ml=38.0, factor=[(stop, 0.0)])
    if period:
        kw["pulse_period_s"] = period
    cp, mp, mp32 = _every_runtime(tmp_path, kw)
    assert mp == cp and mp32 == cp            # byte for byte
    events = [json.loads(x) for x in cp.splitlines()]
    before = [e for e in events if e["t_ms"] < stop * 1000]
    assert before == [], before[:5]
    raised = [e for e in events if e["event"] == "alarm_raised"]
    assert raised and (raised[0]["alarm"], raised[0]["cause"]) == ("no_flow", "low_flow")
    limit = 60 if not period else period + 120
    assert raised[0]["t_ms"] // 1000 - stop <= limit, raised[0]


NEW = [e for e in S.DETECTION if e[0].startswith(("dump", "over-delivery 10x"))] + [
    e for e in S.DETECTION if e[0] == "flex dosing, strokes every 3 min: stop 10 min after a bolus"]


@pytest.mark.parametrize("entry", NEW, ids=[e[0] for e in NEW])
def test_issue_22_cases_same_events_on_every_runtime(tmp_path, entry):
    cp, mp, mp32 = _every_runtime(tmp_path, entry[4])
    assert cp and mp == cp and mp32 == cp
    assert '"over_delivery"' in cp or '"low_flow"' in cp


def test_a_bubble_same_events_on_every_runtime_and_quiet(tmp_path):
    kw = dict(S.find(S.QUIET, "a bubble: the air flag for 20 s")[1])
    kw["factor"] = [(kw["duration_s"] - 600, 0.0)]     # and a stop, so there are events
    cp, mp, mp32 = _every_runtime(tmp_path, kw)
    assert mp == cp and mp32 == cp
    raised = [json.loads(x) for x in cp.splitlines() if '"alarm_raised"' in x]
    assert [(e["alarm"], e["cause"]) for e in raised] == [("no_flow", "low_flow")], raised
