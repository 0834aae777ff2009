"""`pumpmon replay`: events for known situations (the same as driving the
firmware's Monitor directly), byte-identical events on CPython and on the
MicroPython unix port, --check, --plot, and the scenario corpus in traces/."""
import json
import subprocess
import sys

import pytest

from host_tools.sim import corpus

from host_tools.replay import driver as replay_driver

from host_tools.sim import scenarios as situations
from host_tools.replay.plot import MAX_BINS, Bins, alarm_periods
from host_tools.sim.sensors import Scenario
from host_tools.formats.trace import read_trace, write_trace

from tests.support import ROOT
TRACES = ROOT / "traces"
CORPUS = sorted(p.name[:-4] for p in TRACES.glob("*.csv"))
H = 3600
KEY_ORDER = (["t_ms", "event"], ["t_ms", "event", "alarm", "priority", "cause"],
             ["t_ms", "event", "alarm", "priority", "cause", "detail"],
             # issue 17: low_reservoir events end with the time to empty
             ["t_ms", "event", "alarm", "priority", "cause", "hours_to_empty"],
             ["t_ms", "event", "alarm", "priority", "cause", "detail", "hours_to_empty"])


def pumpmon(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "host_tools.cli"] + [str(a) for a in args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def replay(path, *extra):
    r = pumpmon("replay", path, *extra)
    assert r.returncode == 0, r.stderr
    return r.stdout


def scenario_trace(path, kwargs, seed=1):
    sc = Scenario(seed=seed, **kwargs)
    spec = corpus.Spec("test", "", kwargs)
    write_trace(path, spec.metadata(sc, seed), sc.samples())
    return path


# ---- the replay is the firmware, driven as the board drives it -------------
KNOWN = [s for s in situations.DETECTION if s[0] in (
    "stop, 10 uL/h continuous", "flow sensor stuck", "over-delivery 2x, 10 uL/h, offset -0.5",
    "level jumps up 3 mL", "flow sensor air in line")]
QUIET = [q[:2] for q in situations.QUIET if q[0] in ("schedule 30 -> 55 -> 30 uL/h",
                                                     "refill in refill mode") and q[2] == 1]


@pytest.mark.parametrize("entry", KNOWN, ids=[k[0] for k in KNOWN])
@pytest.mark.req("R-001")
def test_known_situation_raises_its_alarm_like_the_monitor(tmp_path, entry):
    from harness import Run  # tests/firmware/harness.py: drives Monitor directly
    name, (accepted,), onset, ceiling, kwargs = entry[:5]
    p = scenario_trace(tmp_path / "s.csv", kwargs)
    events = [json.loads(x) for x in replay(p).splitlines()]
    raised = [e for e in events if e["event"] == "alarm_raised"]
    assert raised, name
    first = raised[0]
    assert "%s/%s" % (first["alarm"], first["cause"]) == accepted
    assert onset * 1000 <= first["t_ms"] <= (onset + ceiling) * 1000
    # exactly the events of the firmware test harness, which steps the
    # Monitor from the generator without any file in between
    run = Run(situations.build(kwargs, 1)).go()
    direct = [(t, ev, k, c, d or None) for t, ev, k, c, d, _prio in run.events]
    mine = [(e["t_ms"] // 1000, e["event"], e.get("alarm"), e.get("cause"), e.get("detail"))
            for e in events]
    assert mine == direct


@pytest.mark.parametrize("name,kwargs", QUIET, ids=[q[0] for q in QUIET])
@pytest.mark.req("R-002")
def test_quiet_situation_raises_no_high_priority_alarm(tmp_path, name, kwargs):
    p = scenario_trace(tmp_path / "q.csv", kwargs)
    events = [json.loads(x) for x in replay(p).splitlines()]
    assert not [e for e in events if e.get("priority") == "high"], events


# ---- one code path, two runtimes --------------------------------------------
# Every corpus trace is replayed on both runtimes against its expectation and
# its committed events, byte for byte, by the testers' pytest plugin
# (host_tools/testing/plugin.py): `make test` collects traces/ beside tests/.


def test_corpus_is_reproducible_and_small(tmp_path):
    r = pumpmon("trace", "corpus", "--dir", tmp_path)
    assert r.returncode == 0, r.stderr
    made = sorted(p.name for p in tmp_path.iterdir())
    committed = sorted(p.name for p in TRACES.iterdir() if not p.name.startswith("."))
    assert made == committed
    for name in made:
        assert (tmp_path / name).read_bytes() == (TRACES / name).read_bytes(), name
    # the short scenarios stay small (issue 11 added 7 short traces); reservoir_rundown
    # (issue 17) plays 2.5 days at 1 Hz, ~4.9 MB on its own
    sizes = {p.name: p.stat().st_size for p in TRACES.iterdir()}
    assert sum(v for k, v in sizes.items() if not k.startswith("reservoir_rundown")) < 3_500_000
    assert sizes["reservoir_rundown.csv"] < 5_500_000
    assert {s.name for s in corpus.SPECS} | {"demo"} == set(CORPUS)


@pytest.mark.req("R-053")
def test_long_trace_byte_identical_on_both_runtimes(tmp_path):
    # 4 days: a day/night schedule, pulsatile delivery, an occlusion, an
    # over-delivery, a leak-free refill and button presses, so every kind of
    # event happens; the CPython and MicroPython outputs must be identical
    D = 86400
    kwargs = dict(schedule=[(0, 30.0), (8 * H, 55.0), (20 * H, 30.0)], start_s=6 * H,
                  duration_s=4 * D, pulse_period_s=300, pulse_width_s=20,
                  capacity_ml=40.0, level_ml=8.0, level_every_s=10,
                  factor=[(D, 0.0), (D + 2 * H, 1.0), (2 * D, 2.5), (2 * D + 3 * H, 1.0)],
                  refill_s=3 * D,
                  button=[(D + 30 * 60, 1), (D + 45 * 60, 3), (2 * D + H, 1),
                          (2 * D + 2 * H, 3), (3 * D + 5 * H, 1)])
    p = scenario_trace(tmp_path / "long.csv", kwargs, seed=7)
    assert p.stat().st_size > 4 << 20       # big enough for the progress display
    out = tmp_path / "cp.jsonl"
    r = pumpmon("replay", p, "--out", out, "--progress", "always")
    assert r.returncode == 0 and r.stdout == ""
    assert "replay:" in r.stderr and "%" in r.stderr
    cp = out.read_text(encoding="utf-8")
    mp = replay(p, "--runtime", "micropython")
    assert mp == cp
    names = {json.loads(x)["event"] for x in cp.splitlines()}
    assert {"alarm_raised", "alarm_cleared", "alarm_acknowledged", "audio_paused",
            "audio_resumed"} <= names, names


def test_sample_lines_for_micropython_round_trip():
    samples = [(0, 18500, 412, 0, 0, 0), (1000, None, None, 1, 1, 0), (2000, -250, -5, 0, 0, 1),
               (3000, 0, 0, 0, 1, 0), (10 ** 12, None, 7, 0, 0, 0)]
    text = "".join(replay_driver.encode_sample(s) for s in samples)
    assert list(replay_driver.decode_lines(text.splitlines())) == samples


# ---- the JSON Lines contract ------------------------------------------------
@pytest.mark.req("R-053")
def test_event_lines_contract():
    allowed = {"alarm_raised", "alarm_condition_cleared", "alarm_cleared", "alarm_acknowledged",
               "audio_paused", "audio_resumed", "escalated"}
    seen = set()
    for name in CORPUS:
        for line in (TRACES / (name + ".events.jsonl")).read_text().splitlines():
            e = json.loads(line)
            assert list(e) in [list(k) for k in KEY_ORDER], line
            assert e["event"] in allowed
            assert isinstance(e["t_ms"], int)
            if "alarm" in e:
                # alarm names may be added (issue 11: under_delivery), never
                # renamed; issue 22 moved the cause over_delivery from malfunction
                # to an alarm of its own (an overdose is not an equipment fault)
                assert e["alarm"] in ("no_flow", "malfunction", "low_reservoir",
                                      "under_delivery", "over_delivery")
                assert (e["alarm"] == "over_delivery") == (e["cause"] == "over_delivery")
                assert e["priority"] in ("high", "medium", "low")
                if e["alarm"] == "low_reservoir":
                    assert isinstance(e["hours_to_empty"], int) and e["hours_to_empty"] >= 0
                    seen.add("hours_to_empty")
            assert line == json.dumps(e, separators=(",", ":"))
            seen.add(e["event"])
    assert seen == allowed | {"hours_to_empty"}


def test_demo_trace_story():
    demo = TRACES / "demo.csv"
    assert demo.stat().st_size < 1_000_000
    tr = read_trace(demo)
    assert {"button", "refill"} <= set(tr.columns)
    ev = [json.loads(x) for x in (TRACES / "demo.events.jsonl").read_text().splitlines()]
    story = [(e["event"], e.get("alarm")) for e in ev]
    must = [("alarm_raised", "no_flow"), ("audio_paused", None),
            ("alarm_acknowledged", "no_flow"), ("alarm_cleared", "no_flow"),
            ("alarm_raised", "malfunction"), ("alarm_acknowledged", "malfunction"),
            ("alarm_raised", "low_reservoir"), ("alarm_cleared", "low_reservoir")]
    i = 0
    for step in story:
        if i < len(must) and step == must[i]:
            i += 1
    assert i == len(must), story
    # normal delivery first (1-2 h), and the refill clears the low reservoir
    assert ev[0]["t_ms"] > H * 1000
    refill_t = [s[0] for s in tr.samples() if s[5]]
    assert refill_t and refill_t[0] <= ev[-1]["t_ms"] <= refill_t[-1]


# ---- --check --------------------------------------------------------------
@pytest.mark.req("R-053")
def test_check_reports_differences(tmp_path):
    r = pumpmon("replay", TRACES / "occlusion.csv", "--check", TRACES / "normal.expect.json")
    assert r.returncode == 1
    assert "+ unexpected: no_flow/low_flow (high) raised at" in r.stderr
    assert r.stdout == (TRACES / "occlusion.events.jsonl").read_text()
    r = pumpmon("replay", TRACES / "normal.csv", "--check", TRACES / "occlusion.expect.json")
    assert r.returncode == 1
    assert ("- missing: no_flow/low_flow raised between 3600 s and 4500 s (raised: never)"
            in r.stderr)
    late = tmp_path / "late.json"
    late.write_text(json.dumps({"raised": [{"alarm": "no_flow", "cause": "low_flow",
                                            "from_s": 0, "to_s": 3600}]}))
    r = pumpmon("replay", TRACES / "occlusion.csv", "--check", late)
    assert r.returncode == 1 and "(raised: no_flow/low_flow at 3606 s)" in r.stderr
    # medium alarms do not count as "other high-priority alarms"
    loose = tmp_path / "loose.json"
    loose.write_text(json.dumps({"raised": [], "no_other_high": True}))
    r = pumpmon("replay", TRACES / "refill.csv", "--check", loose)
    assert r.returncode == 0, r.stderr
    assert '"priority":"medium"' in r.stdout
    # but the escalated low reservoir (refill_today) is high priority
    r = pumpmon("replay", TRACES / "reservoir_empty.csv", "--check", loose)
    assert r.returncode == 1
    assert "+ unexpected: low_reservoir/refill_today (high) raised at 10 s" in r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"raised": [{"alarm": "no_flow", "from_s": "soon"}]}')
    r = pumpmon("replay", TRACES / "occlusion.csv", "--check", bad)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == ['%s:1: "raised"[0]: from_s must be a number of seconds'
                                     % bad]


# ---- --plot ---------------------------------------------------------------
def test_plot_is_a_png_with_content(tmp_path):
    import matplotlib.image as mpimg
    png = tmp_path / "demo.png"
    out = replay(TRACES / "demo.csv", "--plot", png)
    assert out == (TRACES / "demo.events.jsonl").read_text()   # plotting changes nothing
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
    img = mpimg.imread(str(png))
    h, w = img.shape[:2]
    assert w >= 1200 and h >= 700
    rgb = img[:, :, :3]
    assert rgb.std() > 0.05                      # not a blank canvas
    # the high-priority bars (#d62728) and the medium one (#ff9f1c) are drawn
    def count(r, g, b):
        return int((((rgb[:, :, 0] - r) ** 2 + (rgb[:, :, 1] - g) ** 2
                     + (rgb[:, :, 2] - b) ** 2) < 0.003).sum())
    assert count(0.84, 0.15, 0.16) > 2000
    assert count(1.0, 0.62, 0.11) > 1000
    # and the green of the level curve
    assert count(0.0, 0.43, 0.17) > 500


def test_plot_decimation_keeps_memory_bounded_and_sums():
    def samples(n):
        for i in range(n):
            yield (i * 1000, 18000 - i // 100, 300 + i % 7, 0, int(i % 5000 == 0), 0)
    n = 5 * 86400
    b = Bins().feed(samples(n))
    assert len(b.fs) <= 2 * MAX_BINS
    assert sum(b.fn) == n and sum(b.ln) == n
    assert sum(b.fs) == sum(300 + i % 7 for i in range(n))
    assert min(b.lmin) == 18000 - (n - 1) // 100 and max(b.lmax) == 18000


def test_alarm_periods_from_events():
    ev = [{"t_ms": 10, "event": "alarm_raised", "alarm": "no_flow", "priority": "high",
           "cause": "low_flow"},
          {"t_ms": 20, "event": "audio_paused"},
          {"t_ms": 30, "event": "alarm_condition_cleared", "alarm": "no_flow",
           "priority": "high", "cause": "low_flow"},
          {"t_ms": 40, "event": "alarm_acknowledged", "alarm": "no_flow", "priority": "high",
           "cause": "low_flow"},
          {"t_ms": 40, "event": "alarm_cleared", "alarm": "no_flow", "priority": "high",
           "cause": "low_flow"},
          {"t_ms": 50, "event": "alarm_raised", "alarm": "low_reservoir", "priority": "medium",
           "cause": "volume"}]
    periods, marks = alarm_periods(ev, 99)
    assert periods == [("no_flow", "low_flow", "high", 10, 30, 40),
                       ("low_reservoir", "volume", "medium", 50, None, 99)]
    assert [m[1] for m in marks] == ["audio_paused", "alarm_acknowledged"]


def test_bad_row_late_on_micropython_gives_one_line_and_no_events(tmp_path):
    # the CPython side finds the bad row while streaming; the MicroPython
    # process is stopped and nothing it printed comes out
    text = (TRACES / "occlusion.csv").read_text() + "99999999,18.5,nan,0,0,0\n"
    p = tmp_path / "bad.csv"
    p.write_text(text)
    line = text.count("\n")
    r = pumpmon("replay", p, "--runtime", "micropython")
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.splitlines() == ["%s:%d: flow_ul_h: 'nan' is not a finite number"
                                     % (p, line)]


def test_every_corpus_trace_is_collected_by_the_plugin():
    # the plugin collects a trace only beside its expectation: a corpus trace
    # without one would silently go unchecked in `make test`
    for name in CORPUS:
        assert (TRACES / (name + ".expect.json")).is_file(), name
        assert (TRACES / (name + ".events.jsonl")).is_file(), name
    import tomllib
    ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert ini["pumpmon_traces"] == ["traces"] and ini["pumpmon_runtime"] == "both"
    assert "tests traces" in (ROOT / "Makefile").read_text()


@pytest.mark.req("R-082")
@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_an_absurd_gap_is_refused_at_once_with_file_and_line(tmp_path, runtime):
    # issue 28: the last row at t_ms=100000000000 (3.2 years: a unit
    # mistake) used to be stepped through second by second for minutes
    import time
    from host_tools.formats.trace import MAX_GAP_MS
    text = (TRACES / "occlusion.csv").read_text()
    p = tmp_path / "gap.csv"
    p.write_text(text + "100000000000,18.5,10,0,0,0\n")
    line = text.count("\n") + 1
    t0 = time.monotonic()
    r = pumpmon("replay", p, "--runtime", runtime)
    took = time.monotonic() - t0
    assert r.returncode == 2 and r.stdout == "", r.stderr
    assert r.stderr.startswith("%s:%d: t_ms: 100000000000 is " % (p, line)), r.stderr
    assert "longer than %d days is refused" % (MAX_GAP_MS // 86400000) in r.stderr
    assert took < 5.0, took


@pytest.mark.req("R-082")
def test_a_gap_at_the_limit_is_replayed_as_sensor_silence(tmp_path):
    # the limit is not an off-by-one: a gap of exactly MAX_GAP_MS is stepped
    # through (sensor silence: the flow sensor is found silent in it)
    from host_tools.formats.trace import MAX_GAP_MS
    p = tmp_path / "week.csv"
    p.write_text("# pumpmon-trace v1\n# rate_ul_h=30\nt_ms,reservoir_ml,flow_ul_h\n"
                 "0,15,30\n1000,15,30\n%d,15,30\n" % (1000 + MAX_GAP_MS))
    events = [json.loads(x) for x in replay(p).splitlines()]
    assert any(e["event"] == "alarm_raised" and e.get("cause") == "flow_sensor"
               for e in events), events
    p.write_text(p.read_text() + "%d,15,30\n" % (2002 + 2 * MAX_GAP_MS))
    r = pumpmon("replay", p)
    assert r.returncode == 2 and ":7: t_ms: " in r.stderr, r.stderr
