"""Trace format v1 (docs/trace-format.md): every bad input ends with exit
status 2 and exactly one line `FILE:LINE: what is wrong` on stderr, no
traceback and no events; gaps, unknown columns, metadata and --config."""
import json

import pytest

from host_tools.formats.trace import TraceError, read_trace, validate, write_trace

from tests.support import pumpmon

HEAD = "# pumpmon-trace v1\n# rate_ul_h=30\nt_ms,reservoir_ml,flow_ul_h,button,refill\n"


def flow_at(i, mean=30.0):
    """A flow reading with some noise (a constant one is a stuck sensor)."""
    return "%.1f" % (mean + ((i * 7919) % 13 - 6) * 0.1 if mean else ((i * 7919) % 5 - 2) * 0.1)


def rows(n, start=0, level="18.50", flow=None, step=1000):
    return "".join("%d,%s,%s,0,0\n" % (start + i * step, level,
                                       flow_at(i) if flow is None else flow)
                   for i in range(n))


def write(tmp_path, text, name="t.csv"):
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def assert_bad(path, line, phrase, *extra, where=None):
    r = pumpmon("replay", path, *extra)
    assert r.returncode == 2, r.stderr
    assert r.stdout == ""                      # no partial event output
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr           # exactly one line, no traceback
    assert lines[0].startswith("%s:%d: " % (where or path, line)), lines[0]
    assert phrase in lines[0], lines[0]
    return lines[0]


# (name, file text, line of the error, phrase in the message)
BAD = [
    ("empty file", "", 1, "empty file"),
    ("header, no rows", HEAD + "# nothing\n\n", 5, "no samples after the header (line 3)"),
    ("only comments", "# pumpmon-trace v1\n# rate_ul_h=30\n", 2, "no header row"),
    ("missing t_ms", "# rate_ul_h=30\nreservoir_ml,flow_ul_h\n1,2\n", 2,
     "missing required column 't_ms'"),
    ("missing reservoir_ml", "# rate_ul_h=30\nt_ms,flow_ul_h\n0,2\n", 2,
     "missing required column 'reservoir_ml'"),
    ("missing flow_ul_h", "# rate_ul_h=30\n\nt_ms,reservoir_ml,button\n0,2,0\n", 3,
     "missing required column 'flow_ul_h'"),
    ("duplicate column", "# rate_ul_h=30\nt_ms,reservoir_ml,flow_ul_h,flow_ul_h\n", 2,
     "appears twice"),
    ("malformed level", HEAD + rows(5) + "5000,18.5x,30.0,0,0\n" + rows(3, 6000), 9,
     "reservoir_ml: '18.5x' is not a number"),
    ("malformed flow", HEAD + rows(2) + "2000,18.5,1.2.3,0,0\n", 6,
     "flow_ul_h: '1.2.3' is not a number"),
    ("nan level", HEAD + rows(2) + "2000,nan,30,0,0\n", 6,
     "reservoir_ml: 'nan' is not a finite number"),
    ("NaN flow", HEAD + "0,18.5,NaN,0,0\n", 4, "flow_ul_h: 'NaN' is not a finite number"),
    ("inf flow", HEAD + rows(3) + "3000,18.5,inf,0,0\n", 7, "is not a finite number"),
    ("-infinity level", HEAD + "0,-Infinity,3,0,0\n", 4, "is not a finite number"),
    ("huge flow", HEAD + "0,18.5,1e300,0,0\n", 4, "out of the range"),
    ("underscore", HEAD + "0,18.5,1_000,0,0\n", 4, "is not a finite number"),
    ("t_ms not integer", HEAD + rows(1) + "1500.5,18.5,30,0,0\n", 5,
     "t_ms: '1500.5' is not an integer"),
    ("t_ms empty", HEAD + rows(1) + ",18.5,30,0,0\n", 5, "t_ms: '' is not an integer"),
    ("time backwards", HEAD + rows(10) + "5000,18.5,30,0,0\n", 14,
     "t_ms: 5000 is not after the previous row's 9000"),
    ("time repeated", HEAD + rows(2) + "1000,18.5,30,0,0\n", 6, "not after"),
    ("negative time", HEAD + "-1000,18.5,30,0,0\n", 4, "t_ms: -1000 is negative"),
    # a replay steps through every second up to it: refused, not hours of spinning
    ("absurd time", HEAD + rows(2) + "400000000000,18.5,30,0,0\n", 6,
     "t_ms: 400000000000 is beyond 316224000000 (10 years)"),
    ("too few cells", HEAD + rows(2) + "2000,18.5,30\n", 6, "3 cells where the header has 5"),
    ("too many cells", HEAD + "0,18.5,30,0,0,7\n", 4, "6 cells where the header has 5"),
    ("button not 0/1", HEAD + rows(2) + "2000,18.5,30,2,0\n", 6, "button: '2' is not 0 or 1"),
    ("refill not 0/1", HEAD + "0,18.5,30,0,yes\n", 4, "refill: 'yes' is not 0 or 1"),
    ("bad flag name", "# rate_ul_h=3\nt_ms,reservoir_ml,flow_ul_h,flow_flags\n0,1,2,bubble\n",
     3, "flow_flags: 'bubble' is not a flag"),
    ("flag number too big", "# rate_ul_h=3\nt_ms,reservoir_ml,flow_ul_h,flow_flags\n0,1,2,300\n",
     3, "flow_flags"),
    ("bad quoting", "# rate_ul_h=3\nt_ms,reservoir_ml,flow_ul_h,note\n0,1,2,\"a\"b\"\n", 3,
     "quoting"),
    ("rate not a number", "# pumpmon-trace v1\n# rate_ul_h=fast\n" + HEAD.split("\n", 2)[2], 2,
     "bad metadata: rate_ul_h: 'fast' is not a number"),
    ("rate nan", "# rate_ul_h=nan\nt_ms,reservoir_ml,flow_ul_h\n", 1, "not a finite number"),
    ("rate out of range", "# x\n# rate_ul_h=-5\nt_ms,reservoir_ml,flow_ul_h\n", 2, "outside"),
    ("bad schedule", "# schedule=08:00-30\nt_ms,reservoir_ml,flow_ul_h\n", 1,
     "not HH:MM/RATE"),
    ("bad start", "# rate_ul_h=3\n# start=25:00\nt_ms,reservoir_ml,flow_ul_h\n", 2,
     "out of range"),
    ("metadata twice", "# rate_ul_h=3\n# rate_ul_h=4\nt_ms,reservoir_ml,flow_ul_h\n", 2,
     "given twice (first on line 1)"),
    ("rate and schedule", "# rate_ul_h=3\n# schedule=00:00/3\nt_ms,reservoir_ml,flow_ul_h\n",
     1, "not both"),
    ("no rate at all", "# pumpmon-trace v1\nt_ms,reservoir_ml,flow_ul_h\n0,1,2\n", 1,
     "no programmed delivery"),
    ("capacity below low level", "# rate_ul_h=3\n# reservoir_capacity_ml=1.5\n"
     "t_ms,reservoir_ml,flow_ul_h\n", 2, "low_reservoir_ml must be below"),
    ("future version", "# pumpmon-trace v2\n# rate_ul_h=3\nt_ms,reservoir_ml,flow_ul_h\n", 1,
     "unsupported trace format"),
]


@pytest.mark.parametrize("name,text,line,phrase", BAD, ids=[b[0] for b in BAD])
@pytest.mark.req("R-054")
def test_bad_input_one_line_exit_2(tmp_path, name, text, line, phrase):
    assert_bad(write(tmp_path, text), line, phrase)


@pytest.mark.parametrize("name,text,line,phrase", BAD, ids=[b[0] for b in BAD])
def test_bad_input_trace_error_api(tmp_path, name, text, line, phrase):
    # the same problems through the Python API (host_tools.formats.trace), as the
    # virtual board and the recorder use it
    p = write(tmp_path, text)
    with pytest.raises(TraceError) as e:
        tr = read_trace(p)
        tr.config()
        for _ in tr.samples():
            pass
    assert str(e.value).startswith("%s:%d: " % (p, line))
    assert phrase in str(e.value)
    assert e.value.line == line


@pytest.mark.parametrize("where,text,line", [
    ("data row", HEAD.encode() + b"0,18.5,30,0,0\n1000,18.5,30,0,0\xff\n", 5),
    ("metadata", b"# pumpmon-trace v1\n# board_id=caf\xe9\n# rate_ul_h=3\n", 2),
    ("header", b"# rate_ul_h=3\nt_ms,reservoir_ml,flow_ul_h,n\xc3\n", 2),
    ("unknown column", HEAD.replace("refill\n", "refill,note\n").encode()
     + b"0,18.5,30,0,0,ok\n1000,18.5,30,0,0,\x80\n", 5),
])
def test_non_utf8(tmp_path, where, text, line):
    assert_bad(write(tmp_path, text), line, "not UTF-8")


def test_missing_file(tmp_path):
    assert_bad(tmp_path / "nope.csv", 1, "cannot open")


def test_error_late_in_a_long_trace_gives_no_events_and_no_out_file(tmp_path):
    # a stop at 1 h (the monitor would raise no_flow), then a bad row at the end
    text = (HEAD + rows(3600) + "".join("%d,18.5,%s,0,0\n" % (3600000 + i * 1000, flow_at(i, 0))
                                        for i in range(3599)) + "7199000,18.5,oops,0,0\n")
    p = write(tmp_path, text)
    out = tmp_path / "events.jsonl"
    assert_bad(p, 7203, "flow_ul_h: 'oops' is not a number", "--out", out)
    assert not out.exists()
    # without the bad row the same trace raises the alarm
    p.write_text(text.rsplit("7199000", 1)[0], encoding="utf-8")
    r = pumpmon("replay", p)
    assert r.returncode == 0 and '"alarm":"no_flow"' in r.stdout


def test_bad_config_file(tmp_path):
    p = write(tmp_path, HEAD + rows(3))
    c = write(tmp_path, '{"rate_ul_h": 30,\n "pause_s": }\n', "c.json")
    assert_bad(p, 2, "not JSON", "--config", c, where=c)
    # the error names the config file, not the trace
    c.write_text("[1, 2]")
    r = pumpmon("replay", p, "--config", c)
    assert r.returncode == 2 and r.stderr.startswith("%s:1: " % c)
    c.write_text('{"pause_s": 500}')
    r = pumpmon("replay", p, "--config", c)
    assert r.returncode == 2 and r.stderr.startswith("%s:1: pause_s" % c), r.stderr
    assert len(r.stderr.splitlines()) == 1
    c.write_text('{"no_such_setting": 1}')
    r = pumpmon("replay", p, "--config", c)
    assert r.returncode == 2 and "unknown setting 'no_such_setting'" in r.stderr


@pytest.mark.req("R-082")
def test_absurd_time_refused_at_once_by_replay_and_trace_check(tmp_path):
    import time
    bad = write(tmp_path, HEAD + rows(2) + "400000000000,18.5,30,0,0\n", "far.csv")
    # (a trace need not start at 0; a gap over 7 days is refused on its own:
    # test_replay.py, test_an_absurd_gap_is_refused_at_once_with_file_and_line)
    ok = write(tmp_path, HEAD + "315359999000,18.5,30,0,0\n315360000000,18.5,30,0,0\n",
               "ok.csv")
    for cmd in (("trace", "check"), ("replay",)):
        t0 = time.monotonic()
        r = pumpmon(*cmd, bad)
        assert r.returncode == 2 and time.monotonic() - t0 < 15, r.stderr
        assert r.stderr.startswith("%s:6: t_ms: 400000000000 is beyond" % bad), r.stderr
    r = pumpmon("trace", "check", ok)                  # 10 years (365-day) is still a time
    assert r.returncode == 0, r.stderr


def test_trace_check_command(tmp_path):
    good = write(tmp_path, HEAD + rows(10), "good.csv")
    bad = write(tmp_path, HEAD + rows(3) + "1000,1,1,0,0\n", "bad.csv")
    r = pumpmon("trace", "check", good)
    assert r.returncode == 0 and "ok, 10 rows" in r.stdout
    r = pumpmon("trace", "check", good, bad)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        "%s:7: t_ms: 1000 is not after the previous row's 2000 (time must strictly increase)"
        % bad]


# ---- what is legal ---------------------------------------------------------
def events_of(path, *extra):
    r = pumpmon("replay", path, *extra)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_samples_units_and_rounding(tmp_path):
    p = write(tmp_path, "# rate_ul_h=3\nt_ms,flow_ul_h,reservoir_ml,flow_flags,button\n"
                        "0,41.25,18.5,0,0\n"
                        "1000,,0.0125,air,1\n"
                        "1500,-0.05,,1,0\n"
                        "2500, 7 ,1e1,,\n")
    assert list(read_trace(p).samples()) == [
        (0, 18500, 413, 0, 0, 0),
        (1000, 13, None, 1, 1, 0),
        (1500, None, -1, 1, 0, 0),
        (2500, 10000, 70, 0, 0, 0),
    ]
    assert validate(p) == (4, 2500)


def test_unknown_columns_ignored_and_comments_blank_lines_crlf_bom(tmp_path):
    base = write(tmp_path, "# pumpmon-trace v1\n# rate_ul_h=10\n"
                           "t_ms,reservoir_ml,flow_ul_h\n"
                           + "".join("%d,18.5,%s\n" % (i * 1000, flow_at(i, 10 if i < 3600 else 0))
                                     for i in range(5400)), "base.csv")
    lines = ["\ufeff# pumpmon-trace v1", "# rate_ul_h=10", "# a note = with spaces",
             "temperature_c,t_ms,reservoir_ml,comment,flow_ul_h,extra"]
    for i in range(5400):
        lines.append('%s,%d,18.5,%s,%s,x' % ("21.5" if i % 2 else "nan", i * 1000,
                                           '"hello, world"' if i % 7 == 0 else "",
                                           flow_at(i, 10 if i < 3600 else 0)))
        if i == 100:
            lines.append("# a comment between rows")
            lines.append("")
    fancy = tmp_path / "fancy.csv"
    fancy.write_bytes("\r\n".join(lines).encode("utf-8") + b"\r\n")
    a = events_of(base)
    assert '"alarm":"no_flow"' in a
    assert events_of(fancy) == a


def test_gap_is_sensor_silence_stepped_every_second(tmp_path):
    # 2 h at 1 Hz with a 5-minute hole: the same events as the trace with the
    # hole filled by empty readings (the monitor was stepped every second)
    n = 7200
    hole = range(3600, 3900)
    full = [HEAD]
    gap = [HEAD]
    for i in range(n):
        if i in hole:
            full.append("%d,,,0,0\n" % (i * 1000))
        else:
            row = "%d,18.50,%s,0,0\n" % (i * 1000, flow_at(i))
            full.append(row)
            gap.append(row)
    a = events_of(write(tmp_path, "".join(full), "full.csv"))
    b = events_of(write(tmp_path, "".join(gap), "gap.csv"))
    assert a == b
    ev = [json.loads(x) for x in b.splitlines()]
    raised = [(e["t_ms"], e["cause"]) for e in ev if e["event"] == "alarm_raised"]
    # the flow sensor is faulty flow_fault_s (10 s) into the silence, during the gap
    assert raised[0][1] == "flow_sensor"
    assert 3600000 < raised[0][0] <= 3600000 + 11000
    assert raised[0][0] % 1000 == 0
    assert ("level_sensor" in [c for _, c in raised])


def test_trace_starting_late_and_sub_second_rows(tmp_path):
    # an excerpt starting at 10 h is not 10 h of silence; 2 rows a second are fine
    text = HEAD + "".join("%d,18.5,%s,0,0\n" % (36000000 + i * 500, flow_at(i))
                          for i in range(7200))
    assert events_of(write(tmp_path, text)) == ""


def test_metadata_schedule_start_and_config_override(tmp_path):
    # flow of 30 uL/h for 3 h
    body = "t_ms,reservoir_ml,flow_ul_h\n" + "".join(
        "%d,18.5,%s\n" % (i * 1000, flow_at(i)) for i in range(3 * 3600))
    ok = write(tmp_path, "# rate_ul_h=30\n" + body, "ok.csv")
    assert events_of(ok) == ""
    # the schedule in the metadata steps to 200 uL/h at 08:00; the trace starts at 07:00
    sched = write(tmp_path, "# schedule=00:00/30;08:00/200;20:00/30\n# start=07:00\n" + body,
                  "sched.csv")
    # (18.5 mL at 2.76 mL a day is under 7 days: low_reservoir too, left out here)
    ev = [json.loads(x) for x in events_of(sched).splitlines()]
    ev = [e for e in ev if e.get("alarm") != "low_reservoir"]
    assert ev and ev[0]["alarm"] == "no_flow" and ev[0]["event"] == "alarm_raised"
    assert 3600000 < ev[0]["t_ms"] < 3600000 + 900000
    # starting at 12:00 the whole trace is under the 200 uL/h step
    cfg = write(tmp_path, '{"start": "12:00"}', "noon.json")
    ev = [json.loads(x) for x in events_of(sched, "--config", cfg).splitlines()]
    ev = [e for e in ev if e.get("alarm") != "low_reservoir"]
    assert ev[0]["alarm"] == "no_flow" and ev[0]["t_ms"] < 900000
    # --config with a rate replaces the metadata's schedule
    cfg.write_text(json.dumps({"rate_ul_h": 30.0}))
    assert events_of(sched, "--config", cfg) == ""
    # ... and a schedule replaces the metadata's rate
    cfg.write_text(json.dumps({"schedule": "00:00/200"}))
    assert '"no_flow"' in events_of(ok, "--config", cfg)
    assert read_trace(ok).config_values({"schedule": "00:00/200"}) == {"schedule": "00:00/200"}
    # a rate given only by --config
    bare = write(tmp_path, body, "bare.csv")
    cfg.write_text(json.dumps({"rate_ul_h": 30}))
    assert events_of(bare, "--config", cfg) == ""


def test_write_trace_round_trip(tmp_path):
    samples = [(0, 18500, 412, 0, 0, 0), (1000, None, None, 1, 1, 0),
               (2000, -250, -5, 0, 0, 1), (5000, 0, 0, 0, 0, 0)]
    p = tmp_path / "w.csv"
    assert write_trace(p, {"rate_ul_h": 41.7, "board_id": "bench-3"}, iter(samples)) == 4
    tr = read_trace(p)
    assert tr.meta == {"rate_ul_h": "41.7", "board_id": "bench-3"}
    assert list(tr.samples()) == samples
    assert p.read_text().startswith("# pumpmon-trace v1\n# rate_ul_h=41.7\n")
    with pytest.raises(ValueError):
        write_trace(tmp_path / "x.csv", {"a=b": 1}, [])


# ---- never a traceback, whatever the bytes ---------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

CELLS = st.sampled_from(["", "0", "1", "18.5", "-0.3", "nan", "inf", "1e400", "x", "1_0",
                         " 7 ", "air", "air|air", "300", '"a,b"', "\xe9", "#", "1.5", "-1"])
LINES = st.one_of(
    st.lists(CELLS, min_size=1, max_size=7).map(",".join),
    st.sampled_from(["# pumpmon-trace v1", "# rate_ul_h=30", "# rate_ul_h=x", "# start=07:00",
                     "# schedule=00:00/5;12:00/9", "t_ms,reservoir_ml,flow_ul_h",
                     "t_ms,reservoir_ml,flow_ul_h,button,refill,flow_flags", "", "#",
                     "flow_ul_h,t_ms,note,reservoir_ml"]),
    st.integers(0, 10 ** 7).map(lambda t: "%d,18.5,30.0,0,0,0" % t))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINES, max_size=12), junk=st.binary(max_size=8), crlf=st.booleans())
def test_any_input_is_samples_or_one_trace_error(tmp_path, lines, junk, crlf):
    data = ("\r\n" if crlf else "\n").join(lines).encode("utf-8") + junk
    p = tmp_path / "fuzz.csv"
    p.write_bytes(data)
    try:
        tr = read_trace(p)
        tr.config()
        out = list(tr.samples())
    except TraceError as e:
        assert str(e).startswith("%s:%d: " % (p, e.line)) and e.line >= 1
        assert "\n" not in str(e)
        return
    prev = -1
    for s in out:
        assert len(s) == 6 and all(v is None or type(v) is int for v in s)
        assert s[0] > prev
        prev = s[0]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(1, 10 ** 6),
                          st.one_of(st.none(), st.integers(-10 ** 9, 10 ** 9)),
                          st.one_of(st.none(), st.integers(-10 ** 9, 10 ** 9)),
                          st.integers(0, 255), st.integers(0, 1), st.integers(0, 1)),
                min_size=1, max_size=30))
def test_write_read_round_trip(tmp_path, rows):
    t = 0
    samples = []
    for dt, lv, fl, fg, b, r in rows:
        t += dt
        samples.append((t, lv, fl, fg, b, r))
    p = tmp_path / "rt.csv"
    write_trace(p, {"rate_ul_h": "5"}, samples)
    assert list(read_trace(p).samples()) == samples


def _read_all(path):
    try:
        return list(read_trace(path).samples())
    except TraceError as e:
        return str(e)


@pytest.mark.parametrize("t_ms", ["3000", "2000", "1_000_000", " 4000", "+4000", "-1", "4000.0",
                                  "99999999999999", "900000000000", ""])
def test_remembered_rows_judge_t_ms_like_the_careful_path(tmp_path, monkeypatch, t_ms):
    """Trace.samples' fastest path (a row's text after t_ms seen before) reads
    only t_ms: it must give the same samples or the same FILE:LINE error as
    the clean-row and careful paths do without it."""
    from host_tools.formats import trace as T
    text = HEAD + "1000,18.50,30.0,0,0\n2000,18.50,30.0,0,0\n3000,18.50,30.0,0,0\n" \
        + t_ms + ",18.50,30.0,0,0\n5000,18.50,30.0,0,0\n"
    p = write(tmp_path, text)
    fast = _read_all(p)
    monkeypatch.setattr(T, "_SEEN_MAX", 0)
    assert _read_all(p) == fast


# cell texts for the cache test: valid ones, often repeated, and now and then
# one only the careful path may judge (each must give what it gives without
# the caches)
_GOOD = st.sampled_from(["18.50", "18.5", "18.500", " 18.5", "+18.5", "", "0", "-0.0", "1e3",
                         "40", "-40.001", "30.0", "30.05", "-30.05", "0.0001"])
_BAD = st.sampled_from(["nan", "inf", "1e400", "1_0", "18,5", "x", "999999", "2e6"])
_CELLS = st.one_of(_GOOD, _GOOD, _GOOD, _GOOD, _GOOD, _GOOD, _BAD)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.integers(1, 3000), _CELLS, _CELLS, st.sampled_from(["0", "1", ""])),
                     min_size=1, max_size=25))
def test_remembered_cells_give_what_parsing_gives(tmp_path, monkeypatch, rows):
    """Trace.samples keeps the level and flow cells its clean-row path parsed,
    by their text: the samples, or the FILE:LINE error, must be the same as
    without any remembering (rows and cells)."""
    from host_tools.formats import trace as T
    t = 0
    text = HEAD
    for dt, lv, fl, b in rows:
        t += dt
        text += "%d,%s,%s,%s,0\n" % (t, lv, fl, b)
    p = tmp_path / "cells.csv"
    p.write_text(text)
    remembered = _read_all(p)
    with monkeypatch.context() as m:        # (undone after each example)
        m.setattr(T, "_SEEN_MAX", 0)
        m.setattr(T, "_CELLS_MAX", 0)
        assert _read_all(p) == remembered
