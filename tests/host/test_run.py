# `pumpmon run` (what `make run` runs) without a terminal: the virtual board,
# the firmware flashed with pumpmon flash, a short trace played to its end,
# plain lines and a summary.
import json
import subprocess
import sys
from pathlib import Path


from tests.support import ROOT
from tests.vboard_helpers import stop_trace
BIN = Path(sys.executable).parent


def test_pumpmon_run_plays_a_trace_to_its_end_without_a_tty(tmp_path):
    trace = tmp_path / "short.csv"
    stop_trace(trace, "run-test", 5, 600, 300, 480)   # no_flow, delivery back at 480 s
    out = tmp_path / "out"
    r = subprocess.run([str(BIN / "pumpmon"), "run", "--virtual", "--trace", str(trace),
                        "--speed", "40", "--out", str(out), "--display-frames",
                        "--wav", str(out / "sound.wav")],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=ROOT,
                       timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    text = r.stdout
    assert "\x1b[" not in text                       # plain lines, no redrawing
    assert "flashed sim board" in text
    assert "event alarm_raised no_flow/low_flow" in text
    assert "summary: 600 trace rows played" in text
    assert "raised no_flow" in text
    # the carer's view beside it (a local broker, issue 16): the carer hears
    # the occlusion and rings
    assert "carer sees  demo: online" in text, text
    # in the bedside view's words (issue 28), with the action
    from host_tools.view import words as W
    assert "carer RINGS monitor demo: NO FLOW: %s [high priority]: %s" % (
        W.describe("no_flow", "low_flow"), W.CARER_ACTION["high"]) in text, text
    # the start-up race (issue 28): the board boots after the broker answers,
    # so the link's only record is "up": no failure, no lost-link indication
    from host_tools.formats.eventlog import decode, to_dict
    recs = [to_dict(x) for x in decode([out / "flash" / "log"])[0] if not isinstance(x, tuple)]
    link = [d for d in recs if d["event"] == "carer_link"]
    assert link and all(d["link"] == "up" and "error" not in d for d in link), link
    assert "carer link:" not in text and "carer_link" not in " ".join(
        str(d.get("cause")) for d in recs if d["event"] == "alarm_raised")
    timeline = out / "timeline.jsonl"
    assert str(timeline) in text
    rows = [json.loads(line) for line in timeline.read_text().splitlines()]
    assert any(r["kind"] == "trace" and r["what"] == "end" for r in rows)
    assert any(r["kind"] == "led" and r["colour"] == "red" for r in rows)
    assert (out / "flash" / "log").is_dir()
    # the board's display (read off the emulated SSD1306's pixels): not
    # monitoring until the flow is judged, then monitoring, then the stop in words
    shown = [r["lines"] for r in rows if r["kind"] == "display"]
    heads = [s[0] for s in shown]
    assert "NOT MONITORING" in heads and "Monitoring" in heads and "NO FLOW" in heads, heads
    assert heads.index("NOT MONITORING") < heads.index("Monitoring") < heads.index("NO FLOW")
    assert ["NO FLOW", "drug not flowing", "HIGH PRIORITY", "CALL THE CLINIC", "NOW", ""] \
        in shown
    assert "display: NO FLOW | drug not flowing | HIGH PRIORITY" in text
    # the buzzer's recorded PWM changes as sound: the no_flow melody's notes,
    # each with four harmonics within 15 dB (tests/host/test_sound.py: all alarms)
    from host_tools.vboard import sound
    sig, rate = sound.read_wav(out / "sound.wav")
    notes = set()
    for a, b in sound.pulses(sig, rate)[:20]:
        f0, harm = sound.spectrum(sig[a:b], rate)
        notes.add(round(f0 / 10))
        assert len(sound.within(harm)) >= 4, (f0, harm)
    assert {52, 29, 39} <= notes, notes          # C5 D4 G4 (and C5 of the power-on test)
    frames = sorted((out / "display").glob("display-*.png"))
    assert len(frames) >= 3 and frames[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the board and its VM are gone
    pids = [r["pid"] for r in rows if r["kind"] == "boot"]
    assert pids
    for pid in pids:
        assert not Path("/proc/%d" % pid).exists() or \
            "State:\tZ" in Path("/proc/%d/status" % pid).read_text()


def test_pumpmon_run_refuses_a_bad_trace(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("# pumpmon-trace v1\n# rate_ul_h=30\nt_ms,reservoir_ml,flow_ul_h,button,"
                   "refill,flow_flags\n0,18.0,abc,0,0,0\n")
    r = subprocess.run([str(BIN / "pumpmon"), "run", "--virtual", "--trace", str(bad),
                        "--out", str(tmp_path / "out")], capture_output=True, text=True,
                       cwd=ROOT, timeout=60)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert str(bad) + ":4:" in r.stderr


def test_pumpmon_run_on_a_real_port_flashes_and_follows_the_console(tmp_path):
    # the real-board path, against the virtual board standing in for one
    import signal
    import time
    d = tmp_path / "board"
    serve = subprocess.Popen([str(BIN / "pumpmon"), "board", "serve", "--quiet", "--pty",
                              str(d / "tty"), "--flash", str(d / "flash"), "--socket", "-1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        assert serve.stdout.readline().startswith(b"vboard ready ")
        trace = tmp_path / "short.csv"
        stop_trace(trace, "run-test", 5, 600, 300, 480)   # no_flow, delivery back at 480 s
        run = subprocess.Popen([str(BIN / "pumpmon"), "run", "--port", str(d / "tty"),
                                "--trace", str(trace), "--out", str(tmp_path / "out")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
        seen = b""
        end = time.monotonic() + 120
        while b"console follows" not in seen and time.monotonic() < end:
            line = run.stdout.readline()
            if not line:
                break
            seen += line
        assert b"console follows" in seen, seen
        assert b"flashed sim board" in seen
        run.send_signal(signal.SIGINT)
        assert run.wait(20) == 130
        assert (d / "flash" / "manifest.json").exists()
        assert float(json.loads((d / "flash" / "config.json").read_text())["rate_ul_h"]) == 30
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(15) == 0
