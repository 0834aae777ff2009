"""The testers' Python API (host_tools/testing/api.py, docs/testing.md): the
events are `pumpmon replay`'s, on both runtimes; the helpers answer what a
test asks; check() is exactly what `--check` prints; samples written in code
are checked as a file's rows are."""
import json

import pytest

from host_tools.testing import Event, ReplayError, TraceError, replay_samples, replay_trace

from tests.support import ROOT, pumpmon
TRACES = ROOT / "traces"


_pumpmon = pumpmon


@pytest.mark.req("R-087")
@pytest.mark.parametrize("name", ["occlusion", "air_in_line", "demo"])
def test_events_are_the_commands_lines_on_both_runtimes(name):
    want = (TRACES / (name + ".events.jsonl")).read_text(encoding="utf-8")
    r = replay_trace(TRACES / (name + ".csv"), runtime="both")
    assert r.jsonl == want and want
    assert [e.as_dict() for e in r] == [json.loads(x) for x in want.splitlines()]
    for e, line in zip(r.events, want.splitlines()):
        d = json.loads(line)
        assert (e.t_ms, e.event, e.alarm, e.priority, e.cause, e.detail) == (
            d["t_ms"], d["event"], d.get("alarm"), d.get("priority"), d.get("cause"),
            d.get("detail"))


@pytest.mark.req("R-087")
def test_questions_a_test_asks():
    r = replay_trace(TRACES / "demo.csv")
    raised = [json.loads(x) for x in (TRACES / "demo.events.jsonl").read_text().splitlines()
              if '"alarm_raised"' in x]
    first = r.first_raised("no_flow")
    want = next(e for e in raised if e["alarm"] == "no_flow")
    assert first.t_ms == want["t_ms"] and first.cause == want["cause"]
    assert r.first_raised("no_such_alarm") is None
    assert [e.t_ms for e in r.raised()] == [e["t_ms"] for e in raised]
    # a window holds exactly the raisings inside it, ends included
    t = raised[1]["t_ms"] / 1000
    assert [e.t_ms for e in r.raised(from_s=t, to_s=t)] == [raised[1]["t_ms"]]
    assert all(e.priority == "high" for e in r.raised(priority="high"))
    # "no high-priority alarm before T": holds just before the first, fails just after
    high = [e for e in raised if e["priority"] == "high"][0]["t_ms"] / 1000
    r.assert_no_high_before(high)
    with pytest.raises(AssertionError) as e:
        r.assert_no_high_before(high + 1)
    assert "was raised at" in str(e.value)


@pytest.mark.req("R-087")
def test_check_is_exactly_what_the_command_prints(tmp_path):
    wrong = tmp_path / "wrong.expect.json"
    wrong.write_text(json.dumps({"raised": [{"alarm": "no_flow", "cause": "low_flow",
                                             "from_s": 0, "to_s": 600}]}))
    trace = TRACES / "occlusion.csv"
    lines = replay_trace(trace).check(wrong)
    assert lines and lines[0].startswith("- missing: no_flow/low_flow")
    r = _pumpmon("replay", trace, "--check", wrong)
    assert r.returncode == 1
    assert r.stderr.splitlines()[1:] == lines
    assert replay_trace(trace).check(TRACES / "occlusion.expect.json") == []
    words = replay_trace(trace).explain(wrong)
    assert words == ["expected no_flow/low_flow to be raised between 0:00:00 and 0:10:00; "
                     "it was raised at 1:00:06 instead"]


@pytest.mark.req("R-087")
def test_a_configuration_file_or_dict_changes_the_monitor(tmp_path):
    trace = TRACES / "occlusion.csv"
    base = replay_trace(trace).first_raised("no_flow")
    # the same stop, judged with a 10x higher programmed rate: the delivery is
    # far under it from the start, so the alarm comes much earlier
    cfg = tmp_path / "monitor.json"
    cfg.write_text(json.dumps({"rate_ul_h": 100}))
    for config in (cfg, {"rate_ul_h": 100}):
        got = replay_trace(trace, config=config).first_raised("no_flow")
        assert got is not None and got.t_ms < base.t_ms
    bad = tmp_path / "bad.json"
    bad.write_text('{"rate_ul_h": -5}')
    with pytest.raises(TraceError) as e:
        replay_trace(trace, config=bad)
    assert str(e.value).startswith(str(bad) + ":1:")


def _stop_rows(stop_s=3600, end_s=4200, rate=30.0):
    """A syringe at 30 uL/h that stops at stop_s: the level falls as it delivers."""
    rows = []
    level = 20.0
    for t in range(0, end_s):
        flow = rate if t < stop_s else 0.0
        level -= flow / 3600 / 1000
        noise = ((t * 7919) % 13 - 6) * 0.05          # a flow sensor that is not stuck
        rows.append({"t_ms": t * 1000, "reservoir_ml": round(level, 4),
                     "flow_ul_h": round(flow + (noise if flow else noise / 10), 2)})
    return rows


@pytest.mark.req("R-087")
def test_samples_written_in_code_on_both_runtimes():
    r = replay_samples(_stop_rows(), {"rate_ul_h": 30}, runtime="both")
    stop = r.first_raised("no_flow")
    assert stop is not None and 3600 < stop.t_s < 3600 + 120, r.events
    r.assert_no_high_before(3600)
    assert r.trace == "<samples>"
    # tuples in the same units, a schedule given as a list
    rows = [(d["t_ms"], d["reservoir_ml"], d["flow_ul_h"]) for d in _stop_rows()]
    again = replay_samples(rows, {"schedule": [["00:00", 30], ["23:00", 30]]})
    assert [e.line for e in again] == [e.line for e in r]


@pytest.mark.req("R-087")
def test_bad_samples_name_the_sample():
    rows = [(0, 20.0, 30.0), (1000, 20.0, 30.0), (1000, 20.0, 30.0)]
    with pytest.raises(TraceError) as e:
        replay_samples(rows, {"rate_ul_h": 30})
    assert str(e.value).startswith("<samples>:3: samples[2]:") and "increase" in str(e.value)
    with pytest.raises(TraceError, match=r"samples\[1\]: unknown key\(s\) flow"):
        replay_samples([{"t_ms": 0, "reservoir_ml": 1, "flow_ul_h": 1},
                        {"t_ms": 1, "reservoir_ml": 1, "flow": 1}], {"rate_ul_h": 30})
    with pytest.raises(TraceError, match="settings:"):
        replay_samples([(0, 1, 1)], {"rate_ul_h": "fast"})


@pytest.mark.req("R-087")
def test_runtimes_that_disagree_are_an_error():
    from host_tools.testing import api
    a = api.Replay([Event.from_line('{"t_ms":1,"event":"audio_paused"}')], "x", "cpython")
    b = api.Replay([Event.from_line('{"t_ms":2,"event":"audio_paused"}')], "x", "micropython")
    assert "event 1:" in api.first_difference(a, b)
    assert api.first_difference(a, a) is None
    with pytest.raises(ValueError):
        replay_trace(TRACES / "occlusion.csv", runtime="pypy")
    assert issubclass(ReplayError, RuntimeError)


@pytest.mark.req("R-087")
def test_plot_without_a_trace_file_says_so(tmp_path):
    r = replay_samples(_stop_rows(end_s=600), {"rate_ul_h": 30})
    with pytest.raises(ReplayError, match="write_trace"):
        r.plot(tmp_path / "x.png")
    png = replay_trace(TRACES / "occlusion.csv").plot(tmp_path / "o.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
