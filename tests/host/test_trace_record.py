"""`pumpmon trace record`: the board's sensor recording back as a trace v1.

- On the virtual board (real unix port, real mpremote, the firmware as it is
  on a board): feed a known trace, record it back through a soft reset (the
  mid-run `trace record` itself) and a hard reset, and compare with what was
  fed; replay each boot session's recording and compare its alarm events with
  the board's own event log (decoded with the logtool).
- On CPython with the fake board (fast): the same round trip and log
  comparison, damaged rings, and the command's bad-input handling.
"""
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from host_tools.formats import eventlog as logtool

from host_tools.formats import recording as tracerec
from host_tools.cli import main as cli
from host_tools.formats.trace import read_trace, write_trace

from tests.support import ROOT, stop_process
sys.path[:0] = [str(ROOT / "tests" / "firmware")]

from fakeboard import FakeBoard  # noqa: E402

from pumpmon import alarms as A  # noqa: E402
from pumpmon import eventlog as L  # noqa: E402
import logread  # noqa: E402
from pumpmon.clock import ticks_add  # noqa: E402
from pumpmon.config import Config  # noqa: E402
from pumpmon.events import NAMES  # noqa: E402
from pumpmon.runner import Runner  # noqa: E402

COND = {(A.KIND_NAMES[k], c): i for i, (k, _p, c) in enumerate(A.TABLE)}
SETTINGS = {"rate_ul_h": 30.0, "reservoir_capacity_ml": 20, "flow_window_s": 120,
            "board_id": "bench-7"}


# ---- comparing a replay with the board's event log ------------------------------
def log_sessions(log_dir):
    """Per boot, in order: (restored alarm mask, [(second since boot, event, cond, detail)])
    of the alarm manager's events in the board's log (logtool's reader)."""
    recs, probs = logtool.decode([str(log_dir)])
    assert not probs, probs
    out = []
    for r in recs:
        if r.code == 16:                         # boot: v0 = alarms restored from before
            out.append((r.v[0], []))
        elif 1 <= r.code <= 7 and out:
            out[-1][1].append((r.up_s, NAMES[r.code], -1 if r.cond == 255 else r.cond,
                               r.detail if r.code == 1 else 0))
    return out


def replay_events(trace_path, tmp):
    out = Path(tmp) / (Path(trace_path).name + ".events.jsonl")
    assert cli(["replay", str(trace_path), "--out", str(out)]) == 0
    ev = []
    for line in out.read_text().splitlines():
        e = json.loads(line)
        cond = COND[(e["alarm"], e["cause"])] if "alarm" in e else -1
        det = A.DETAIL_NAMES.index(e["detail"]) if "detail" in e else 0
        ev.append((e["t_ms"] // 1000, e["event"], cond, det))
    return ev


def comparable(events, restored):
    """The events a replay of one boot session can reproduce: those of the
    engine's conditions; not malfunction/internal (resets, log and config
    faults are the board's own), nor monitoring_interrupted (the reset
    itself), nor the alarms restored at boot (the board's manager started
    with them shown; a replay from the boot cannot know), nor, after a high
    alarm was restored, the escalation (its timer started at boot)."""
    # the one escalation timer runs from boot when a high alarm was restored
    # (manager.py): the board escalates at 10 min whatever is raised later,
    # a replay from the boot only 10 min after its first high alarm
    esc_unknown = restored & A.HIGH_MASK
    return [e for e in events if e[2] not in (A.INTERNAL, A.INTERRUPTED)
            and not (e[2] >= 0 and restored >> e[2] & 1)
            and e[1] not in ("audio_paused", "audio_resumed")
            and not (esc_unknown and e[1] == "escalated")]


def check_replays_match_log(src_dir, log_dir, tmp, config=None, min_events=1):
    """Record each boot session alone, replay it, compare with the log."""
    logs = log_sessions(log_dir)
    src_dir = Path(src_dir)
    sessions, probs = tracerec.parse_ring([src_dir / "rec" if (src_dir / "rec").is_dir()
                                           else src_dir])
    complete = [s for s in sessions if not s.partial and s.samples]
    assert len(logs) == len(sessions) and complete
    compared = 0
    for k, s in enumerate(sessions):
        if s.partial or not s.samples:
            continue
        path = Path(tmp) / ("boot%d.csv" % s.boot)
        args = ["trace", "record", "--from", str(src_dir), "--boot", str(s.boot),
                "--out", str(path)]
        if config:
            args += ["--config", str(config)]
        assert cli(args) == 0
        restored, board_events = logs[k]
        # up to the recording's last second, not in it: a board still running
        # logs on after its recording was fetched, and may have been read part
        # way through that second
        end = s.samples[-1][0]
        got = [e for e in comparable(replay_events(path, tmp), restored) if e[0] < end]
        want = [e for e in comparable(board_events, restored) if e[0] < end]
        assert got == want, (s.boot, got, want)
        compared += len(want)
    assert compared >= min_events        # the comparison saw alarms, not just silence
    return compared


# ---- the fake board (CPython, fast) ------------------------------------------------------
def _rows(n, stop_at=None, silent=(), button=(), refill=()):
    """Trace rows: level falls 1 uL a second (every row distinct), noisy flow
    at 30 uL/h, occlusion from stop_at, flow silent in `silent` seconds."""
    out = []
    for i in range(n):
        flow = 300 + (i * 7) % 11 - 5 if stop_at is None or i < stop_at else (i * 3) % 5
        if silent and silent[0] <= i < silent[1]:
            flow = None
        level = None if i % 97 == 50 else 18000 - i
        out.append((i * 1000, level, flow, 1 if 200 <= i < 203 else 0,
                    1 if i in button else 0, 1 if i in refill else 0))
    return out


def _drive(r, b, rows, start, stop):
    """One trace row a second, 100 loop passes of 10 ms each."""
    for i in range(start, stop):
        _t, level, flow, flags, button, refill = rows[i]
        b.level = level
        b.flow = flow
        b.flow_flags = flags
        b.btn = button
        b.refill_mode = refill
        for _ in range(100):
            r.step()
            b.sleep_ms(10)


def _fake_board_run(d, rows, cuts):
    """Boot sessions over rows: [(from, to, reset cause)]; returns the board."""
    b = FakeBoard(ticks_add(0, -30000))
    for start, stop, cause in cuts:
        b.cause = cause
        r = Runner(b, Config(SETTINGS), flash=str(d))
        r.note_config(Config(SETTINGS))
        _drive(r, b, rows, start, stop)
        r.rec.close()
        r.log.close()
        b.sleep_ms(2345)                       # the board is off for a while
    (d / "config.json").write_text(json.dumps(SETTINGS))
    return b


def test_fake_board_round_trip_through_resets(tmp_path):
    d = tmp_path / "flash"
    d.mkdir()
    rows = _rows(900, stop_at=150, silent=(700, 720), button=(610, 611, 612),
                 refill=range(800, 830))
    cuts = [(0, 400, "power_on"), (400, 640, "soft"), (640, 900, "hard")]
    _fake_board_run(d, rows, cuts)
    out = tmp_path / "rec.csv"
    assert cli(["trace", "record", "--from", str(d), "--out", str(out)]) == 0
    tr = read_trace(out)
    assert tr.meta["rate_ul_h"] == "30" and tr.meta["flow_window_s"] == "120"
    assert tr.meta["board_id"] == "bench-7" and tr.meta["reservoir_capacity_ml"] == "20"
    assert tr.meta["boots"] == "0/boot1/power_on;400000/boot2/soft;640000/boot3/hard"
    got = list(tr.samples())
    # every row fed, once, in order, with its time: levels, flags, button and
    # refill exact, flow within the sensor's resolution (the fake sensor's
    # +-0.1 uL/h jitter); sessions joined end to end
    # the button: down at any loop pass since the previous sample (a press
    # shorter than a second is kept); here held 610-612 s, released just
    # before the sample of 613 s
    starts = [c[0] for c in cuts]
    assert len(got) == len(rows)
    for i, (g, w) in enumerate(zip(got, rows)):
        btn = w[4] | (rows[i - 1][4] if i not in starts else 0)
        assert g[0] == w[0] and g[1] == w[1] and g[3] == w[3] and g[5] == w[5], (g, w)
        assert g[4] == btn, (g, w)
        assert (g[2] is None) == (w[2] is None) and (g[2] is None or abs(g[2] - w[2]) <= 1)
    # the alarms: occlusion (boot 1) and flow sensor silence (boot 3)
    n = check_replays_match_log(d, d / "log", tmp_path, min_events=2)
    assert n >= 2


def test_fake_board_short_press_between_samples_is_kept(tmp_path):
    d = tmp_path / "flash"
    d.mkdir()
    b = FakeBoard(ticks_add(0, -30000))
    r = Runner(b, Config(SETTINGS), flash=str(d))
    rows = _rows(30)
    _drive(r, b, rows, 0, 10)
    for _ in range(30):
        r.step()
        b.sleep_ms(10)
    b.btn = 1                                  # 300 ms press between two samples
    for _ in range(30):
        r.step()
        b.sleep_ms(10)
    b.btn = 0
    _drive(r, b, rows, 11, 20)
    r.rec.close()
    out = tmp_path / "rec.csv"
    assert cli(["trace", "record", "--from", str(d), "--out", str(out),
                "--config", str(_cfg(tmp_path))]) == 0
    pressed = [s[0] for s in read_trace(out).samples() if s[4]]
    assert pressed == [11000]                  # at the sample after the press


def _cfg(tmp_path):
    p = tmp_path / "cfg.json"
    p.write_text(json.dumps(SETTINGS))
    return p


def test_window_boot_selection_and_boot_row(tmp_path):
    d = tmp_path / "flash"
    d.mkdir()
    rows = _rows(300)
    _fake_board_run(d, rows, [(0, 100, "power_on"), (100, 300, "soft")])
    out = tmp_path / "x.csv"
    assert cli(["trace", "record", "--from", str(d), "--out", str(out), "--boot", "last"]) == 0
    s = list(read_trace(out).samples())
    assert s[0][0] == 0 and len(s) == 200 and read_trace(out).meta["boots"] == "0/boot2/soft"
    assert cli(["trace", "record", "--from", str(d), "--out", str(out), "--last", "30s"]) == 0
    tr = read_trace(out)
    s = list(tr.samples())
    assert [x[0] for x in s] == list(range(270000, 300000, 1000)) and tr.meta["excerpt"] == "1"
    assert tr.meta["boots"] == "270000/boot2/soft/partial"
    assert cli(["trace", "record", "--from", str(d), "--out", str(out), "--since", "1m30s"]) == 0
    assert next(read_trace(out).samples())[0] == 90000
    # a boot whose first sample came after its first second: a row without
    # readings at the boot, so the replay's engine starts when the board's did
    sess = tracerec.Session(5, "soft", False)
    sess.samples = [(1, 100, 200, 0, 0, 0), (2, 100, 201, 0, 0, 0)]
    rows2, boots = tracerec.trace_rows([sess])
    assert rows2[0] == (0, None, None, 0, 0, 0) and rows2[1][0] == 1000
    assert boots == [(0, 5, "soft", False)]


def test_same_second_samples_stay_in_their_second():
    sess = tracerec.Session(1, "power_on", False)
    sess.samples = [(0, 1, 1, 0, 0, 0), (1, 2, 2, 0, 0, 0), (1, 3, 3, 0, 0, 0), (2, 4, 4, 0, 0, 0)]
    rows, _b = tracerec.trace_rows([sess])
    assert [r[0] for r in rows] == [0, 1000, 1500, 2000]


@pytest.mark.req("R-027")
def test_damaged_ring_is_reported_and_the_rest_used(tmp_path, capsys):
    d = tmp_path / "flash"
    d.mkdir()
    rows = _rows(60)
    _fake_board_run(d, rows, [(0, 60, "power_on")])
    seg = sorted((d / "rec").iterdir())[0]
    data = bytearray(seg.read_bytes())
    data[10 * 11 + 3] ^= 0x40                  # sample 10 (slot 11) corrupt
    data += b"\x01\x02\x03"                    # and a torn tail
    seg.write_bytes(bytes(data))
    out = tmp_path / "x.csv"
    assert cli(["trace", "record", "--from", str(d), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "corrupt record" in err and "torn record at the end (3 of 10 bytes)" in err
    got = [s[0] // 1000 for s in read_trace(out).samples()]
    assert got == [i for i in range(60) if i != 10]


@pytest.mark.parametrize("args, text", [
    (["--from", "/nonexistent/x"], "/nonexistent/x: no such folder"),
    (["--from", "EMPTY"], "no recording"),
    (["--from", "EMPTY", "--last", "soon"], "'soon' is not a duration"),
    (["--from", "RING", "--boot", "7"], "no samples of boot 7 in the recording (boots: 1)"),
    (["--from", "RING", "--config", "LATIN1"], "latin1.json:1: not UTF-8 text"),
    (["--from", "RING", "--config", "DEEP"], "deep.json:1: not JSON this tool reads"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, args, text):
    (tmp_path / "empty").mkdir()
    (tmp_path / "latin1.json").write_bytes(b'{"rate_ul_h": 30, "board_id": "\xe9"}')
    (tmp_path / "deep.json").write_bytes(b"[" * 100000)
    args = [a.replace("LATIN1", str(tmp_path / "latin1.json"))
            .replace("DEEP", str(tmp_path / "deep.json")) for a in args]
    ring = tmp_path / "ring"
    ring.mkdir()
    _fake_board_run(ring, _rows(5), [(0, 5, "power_on")])
    args = [a.replace("EMPTY", str(tmp_path / "empty")).replace("RING", str(ring))
            for a in args]
    assert cli(["trace", "record"] + args + ["--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and text in err[0], err


# ---- the virtual board ------------------------------------------------------------------
MICROPYTHON = Path(sys.executable).parent / "micropython"
SPEED = "max"        # board time is virtual: the highest speed, and still exact
N_ROWS = 440
OCCLUSION = 60       # no_flow at ~180 s (2 min window)
SOFT_AT = 200        # the mid-run `trace record` (through the console channel: the monitor goes on)
RECOVER = 230        # delivery again
HARD_AT = 300        # --fault reset
SILENT = (350, 370)  # flow sensor silent: malfunction/flow_sensor in the third boot


def _install(flash, settings):
    shutil.copytree(ROOT / "firmware" / "pumpmon", flash / "pumpmon")
    for f in ("main.py", "boot.py"):
        shutil.copy(ROOT / "firmware" / f, flash / f)
    shutil.copy(ROOT / "boards" / "sim" / "board.py", flash / "board.py")
    # the drivers it imports, as `pumpmon flash` puts them in lib/ (its clock: a
    # DS3231; its buzzer; its display, over micropython-lib's ssd1306)
    (flash / "lib").mkdir()
    for f in ("ds3231.py", "wallclock.py", "buzzer.py", "oled.py", "ssd1306.py"):
        shutil.copy(ROOT / "boards" / "drivers" / f, flash / "lib" / f)
    (flash / "config.json").write_text(json.dumps(settings))


def _status(control):
    from host_tools.vboard.control import control as ctl
    return json.loads(ctl(control, "status"))


def _wait_trace_t(control, t_s, timeout):
    """Until the board's trace time reaches t_s, waiting on board time (the
    board's `wait`), not on wall-clock sleeps."""
    from host_tools.vboard.control import control as ctl
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        st = _status(control)
        if st["t_ms"] is not None and st["t_ms"] >= t_s * 1000:
            return st
        ctl(control, "wait 1000")
    raise AssertionError("the virtual board did not reach %s s of trace" % t_s)


def _record(port, out, *extra):
    r = subprocess.run([sys.executable, "-m", "host_tools.cli", "trace", "record", "--port",
                        port, "--out", str(out)] + list(extra), cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stderr


@pytest.mark.skipif(not MICROPYTHON.exists(), reason="no MicroPython unix port (make setup)")
@pytest.mark.req("R-027")
def test_virtual_board_round_trip_and_replay_matches_log(tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    _install(flash, SETTINGS)
    fed = _rows(N_ROWS, stop_at=OCCLUSION, silent=SILENT)
    # recovery after the occlusion, so boot 2 and 3 deliver again
    fed = [r if not (RECOVER <= r[0] // 1000) or r[2] is None else
           (r[0], r[1], 300 + (r[0] // 1000 * 7) % 11 - 5) + r[3:] for r in fed]
    trace = tmp_path / "fed.csv"
    write_trace(trace, {"rate_ul_h": 30.0, "flow_window_s": 120}, fed)
    pty = tmp_path / "tty"
    control = tmp_path / "ctl.sock"
    board = subprocess.Popen(
        [sys.executable, "-m", "host_tools.cli", "board", "serve", "--quiet", "--flash",
         str(flash), "--trace", str(trace), "--speed", str(SPEED), "--socket", "-1",
         "--pty", str(pty), "--control", str(control), "--fault", "%d:reset" % HARD_AT],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = board.stdout.readline()
        assert ready.startswith("vboard ready"), ready + board.stderr.read()
        port = str(pty)
        _wait_trace_t(str(control), SOFT_AT, 120)
        # mid-run: fetch what is there so far, through the running monitor's
        # console channel: no interruption, no new boot session
        mid = tmp_path / "mid.csv"
        err_mid = _record(port, mid)
        assert "does not answer" not in err_mid, err_mid
        _wait_trace_t(str(control), N_ROWS + 5, 180)
        out = tmp_path / "rec.csv"
        keep = tmp_path / "fetched"
        err = _record(port, out, "--keep", str(keep), "--no-restart")
    finally:
        stop_process(board, 20)
    tr = read_trace(out)
    assert tr.meta["rate_ul_h"] == "30" and tr.meta["board_id"] == "bench-7"
    assert tr.meta["firmware"] == "0.1.0"
    boots = tr.meta["boots"].split(";")
    assert [b.split("/")[2] for b in boots] == ["power_on", "hard"], (boots, err)
    logged, _bad = logread.read_all(str(flash / "log"))
    assert L.MONITORING_STOPPED not in [x[2][0] for x in logged]   # never interrupted
    # the fetched copy is byte for byte the board's flash (the monitor went on
    # recording: the newest segment may have grown since, or a new one begun)
    for q in (keep).iterdir():
        if q.suffix == ".bin":
            got = q.read_bytes()
            assert (flash / "rec" / q.name).read_bytes()[:len(got)] == got
    sessions, probs = tracerec.parse_ring([keep])
    assert not probs, probs
    # the mid-run recording is a prefix of the final one (boot 1 unchanged)
    mid_rows = list(read_trace(mid).samples())
    assert mid_rows == list(tr.samples())[:len(mid_rows)]
    by_level = {r[1]: k for k, r in enumerate(fed) if r[1] is not None}
    last_row = -1
    for s in sessions:
        secs = [x[0] for x in s.samples]
        # the recorder: one sample a second, none twice, none missing (board
        # time is virtual: the loop cannot stall in board time, however
        # loaded the machine)
        assert secs == list(range(secs[0], secs[0] + len(secs))), s.boot
        # each sample is a row of the fed trace, exactly (sensor resolution:
        # 1 uL, 0.1 uL/h), in order
        idx = []
        for x in s.samples:
            if x[1] is None or (s is sessions[0] and x[0] == 0):
                continue        # (the board's first read starts the trace: it sees no flow)
            k = by_level[x[1]]
            assert fed[k][1:4] == x[1:4], (x, fed[k])
            if k < N_ROWS - 1:             # after the trace the last row stays in force
                idx.append((x[0], k))
        # a new boot reads on with the row after the last one read (the
        # reset falls on a row's time, which comes first: no row is read twice)
        if last_row >= 0:
            assert idx[0][1] == last_row + 1, (s.boot, idx[0], last_row)
        # every row exactly once, one a second: no offset tolerated
        off = [k - sec for sec, k in idx]
        assert len(set(off)) == 1, (s.boot, sorted(set(off)))
        last_row = idx[-1][1]
    assert len(sessions[0].samples) >= SOFT_AT - 5
    # replaying each boot's recording gives the alarms the board logged
    check_replays_match_log(keep, flash / "log", tmp_path, config=None, min_events=2)


@pytest.mark.skipif(not MICROPYTHON.exists(), reason="no MicroPython unix port (make setup)")
def test_virtual_board_stream_equals_the_recording(tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    _install(flash, SETTINGS)
    trace = tmp_path / "fed.csv"
    write_trace(trace, {"rate_ul_h": 30.0}, _rows(3000))
    pty = tmp_path / "tty"
    board = subprocess.Popen(
        [sys.executable, "-m", "host_tools.cli", "board", "serve", "--quiet", "--flash",
         str(flash), "--trace", str(trace), "--speed", str(SPEED), "--socket", "-1",
         "--pty", str(pty)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        assert board.stdout.readline().startswith("vboard ready")
        streamed = tmp_path / "s.csv"
        r = subprocess.run([sys.executable, "-m", "host_tools.cli", "trace", "stream", "--port",
                            str(pty), "--out", str(streamed), "--duration", "6s"], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        keep = tmp_path / "fetched"
        _record(str(pty), tmp_path / "r.csv", "--keep", str(keep), "--no-restart")
    finally:
        stop_process(board, 20)
    tr = read_trace(streamed)
    assert tr.meta["source"] == "pumpmon trace stream" and tr.meta["rate_ul_h"] == "30"
    live = list(tr.samples())
    assert len(live) >= 30
    # streamed through the console channel: the monitor never stopped (one
    # boot session), and the rows are the recording's, sample for sample
    assert "does not answer" not in r.stderr, r.stderr
    sessions, probs = tracerec.parse_ring([keep])
    assert [s.cause for s in sessions] == ["power_on"] and not probs
    rec = [(x[0] * 1000,) + tuple(x[1:]) for x in sessions[0].samples]
    i = rec.index(live[0])
    assert rec[i:i + len(live)] == live
    assert not (flash / "recorder.json").exists()     # nothing changed on the board
