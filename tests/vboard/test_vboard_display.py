# The display on the virtual board, side by side with a board without one
# (PUMPMON_VBOARD_NO_SSD1306=1): the same trace, the same firmware. The
# emulated bus takes the display's bus time in board time (simoled.py,
# simclocks.py), so the loop passes that send a piece are longer, as on a
# Pico; yet every sensor sample is read on its second (none missed, none
# late: the recordings are the same row for row), and every alarm event
# comes at the same board second with and without the display.
import pytest

from host_tools.formats import recording as R
from tests.vboard_helpers import _flash_firmware, _trace


def _run(start_board, tmp_path, name, cfg):
    b = start_board("--trace", str(tmp_path / "t.csv"), "--speed", "40")
    _flash_firmware(b, cfg, tmp_path)
    b.wait(lambda: b.status()["trace_done"], 120, "the trace to end")
    rows = b.timeline()
    events = [(r["event"], r.get("alarm"), r.get("cause"), r["up_s"]) for r in rows
              if r["kind"] == "event" and r["event"] not in ("boot", "config", "power_on_test")]
    shown = [r["lines"] for r in rows if r["kind"] == "display"]
    sessions, _probs = R.parse_ring([b.flash / "rec"])
    samples, _boots = R.trace_rows(R.select(sessions))
    # the trace's 600 s (the board runs on after it until it is stopped)
    end = 600000
    return ([e for e in events if e[3] * 1000 < end], shown,
            [s for s in samples if s[0] < end])


@pytest.mark.req("R-063")
def test_display_changes_no_reading_and_no_alarm_time(start_board, tmp_path, monkeypatch):
    # a stop at 300 s (no_flow), delivery back at 480 s, a short press at 420 s
    cfg = _trace(tmp_path / "t.csv", duration_s=600, factor=[(300, 0.0), (480, 1.0)],
                 button=[(420, 0.2)])
    with_d = _run(start_board, tmp_path, "with", cfg)
    monkeypatch.setenv("PUMPMON_VBOARD_NO_SSD1306", "1")
    without = _run(start_board, tmp_path, "without", cfg)
    ev, shown, samples = with_d
    assert ev and [e for e in ev if e[0] == "alarm_raised" and e[1] == "no_flow"], ev
    assert ev == without[0]
    assert shown and not without[1]
    # every second's sample, read and recorded, the same with the display on
    assert len(samples) == 600 and samples == without[2]
    ts = [s[0] for s in samples[1:]]          # (the first: the boot, no readings)
    assert all(b - a == 1000 for a, b in zip(ts, ts[1:]))
    # the words on the glass: starting, monitoring, the alarm, its pause
    heads = [s[0] for s in shown]
    assert heads.index("NOT MONITORING") < heads.index("Monitoring") < heads.index("NO FLOW")
    paused = [s[5] for s in shown if s[5].startswith("|| ")]
    assert paused, shown
    secs = [int(p.split()[1]) for p in paused]
    assert secs == sorted(secs, reverse=True) and max(secs) <= 120


@pytest.mark.req("R-065")
def test_pumpmon_demo_on_the_virtual_board(start_board, tmp_path):
    # `pumpmon demo --port` through the console channel of a monitoring
    # board: started and logged, each alarm's name and DEMO on the display,
    # the melodies on the buzzer, and back to monitoring; refused (exit 1)
    # once an alarm is shown
    import subprocess
    import sys
    from pathlib import Path
    from pumpmon import demo as D
    from pumpmon import patterns as P
    bin_ = Path(sys.executable).parent
    root = Path(__file__).resolve().parents[2]
    cfg = _trace(tmp_path / "t.csv", duration_s=900, factor=[(600, 0.0)])
    b = start_board("--trace", str(tmp_path / "t.csv"), "--speed", "20")
    _flash_firmware(b, cfg, tmp_path)
    b.wait(lambda: any(r["kind"] == "display" and r["lines"][0] == "Monitoring"
                       for r in b.timeline()), 120, "monitoring")
    r = subprocess.run([str(bin_ / "pumpmon"), "demo", "--port", b.port], capture_output=True,
                       text=True, cwd=root, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "the alarm demonstration" in r.stdout
    b.wait(lambda: any(e.get("event") == "demo" for e in b.timeline()[-400:]
                       if e["kind"] == "event") and
           any(r["kind"] == "display" and r["lines"][0] == "Monitoring"
               and r["world_ms"] > _started(b) for r in b.timeline()), 120, "the demo to end")
    rows = b.timeline()
    t0 = _started(b)
    shown = [r["lines"] for r in rows if r["kind"] == "display" and r["world_ms"] >= t0]
    demo_titles = [s[0] for s in shown if s[5] == "DEMO"]
    assert "NO FLOW" in demo_titles and "STOPPED" in demo_titles, shown
    tones = {r["hz"] for r in rows if r["kind"] == "tone" and r["world_ms"] >= t0
             and r["world_ms"] < t0 + D.DEMO_MS * len(D.KINDS)}
    assert {P.C4, P.D4, P.G4, P.C5} <= tones
    ends = [r for r in rows if r["kind"] == "event" and r.get("event") == "demo"]
    assert len(ends) >= 2
    # an alarm shown: refused
    b.wait(lambda: any(r["kind"] == "event" and r.get("event") == "alarm_raised"
                       for r in b.timeline()), 240, "the stop's alarm")
    r = subprocess.run([str(bin_ / "pumpmon"), "demo", "--port", b.port], capture_output=True,
                       text=True, cwd=root, timeout=60)
    assert r.returncode == 1 and "refused" in r.stderr, r.stdout + r.stderr


def _started(b):
    for r in b.timeline():
        if r["kind"] == "event" and r.get("event") == "demo":
            return r["world_ms"]
    return 1 << 60
