# Issue 12 on the virtual board (the real unix port, the real firmware
# flashed by `pumpmon flash`): a Pico loses its own clock at every power cut;
# with a DS3231 fitted (the default, boards/sim/rom/simclocks.py) a dose
# schedule keeps its phase through one, no alarm; without one the monitor
# cannot tell the time of day and says so (malfunction/internal, bad_config)
# rather than judge against the wrong part of the day.
import json
import subprocess
import time

import pytest

from tests.support import BIN, ROOT
from tests.vboard_helpers import _flash_firmware, _trace
from test_vboard_failsafe import _sounds_and_red

from host_tools.vboard.control import control
from pumpmon import alarms as A
from pumpmon import eventlog as L
import logread
from pumpmon.manager import EV_RAISED


EPOCH_S = 1800000000     # 2027-01-15 08:00 UTC: the virtual world's time at board time 0


def _schedule_around_now(cfg):
    """The trace's configuration with a schedule instead of its rate: 30 uL/h
    (what the trace delivers) from the hour before the board's time to three
    hours after it, 60 uL/h the rest of the day. `pumpmon flash` sets a
    virtual board's clock to its world's time (--epoch plus board time): the
    test ends well inside the 30 uL/h part. A board that took the time of day
    wrong would program 60."""
    h = time.gmtime(EPOCH_S).tm_hour
    cfg = dict(cfg)
    del cfg["rate_ul_h"]
    cfg["schedule"] = "%02d:00/30;%02d:00/60" % ((h - 1) % 24, (h + 3) % 24)
    return cfg


def _status(b):
    r = subprocess.run([str(BIN / "pumpmon"), "status", "--port", b.port, "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def _records(b):
    recs, _bad = logread.read_all(str(b.flash / "log"))
    return sorted((r[2] for r in recs), key=lambda f: f[3])     # by sequence


def _scheduled_board(start_board, tmp_path, speed=20):
    cfg = _schedule_around_now(_trace(tmp_path / "t.csv", duration_s=3000))
    b = start_board("--trace", str(tmp_path / "t.csv"), "--speed", str(speed),
                    "--epoch", str(EPOCH_S))
    _flash_firmware(b, cfg, tmp_path)
    b.wait(lambda: any(r["kind"] == "event" and r["event"] == "boot"
                       for r in b.timeline()), 60, "the monitor")
    st = _status(b)
    # monitoring on the board's RTC that pumpmon flash set: the 30 uL/h part
    assert st["prog_mean"] == 300 and "malfunction/internal" not in st["alarms"], st
    return b


def _power_cut(b, off_s=60):
    n = len(b.timeline())
    control(b.control, "power-cut=%d" % off_s)
    b.wait(lambda: any(r["kind"] == "event" and r["event"] == "monitoring_interrupted"
                       for r in b.timeline()[n:]), 90, "monitoring_interrupted")
    return next(r["world_ms"] for r in b.timeline()[n:] if r["kind"] == "boot")


@pytest.mark.req("R-044")
def test_clock_lost_at_a_power_cut_the_ds3231_keeps_the_schedule_in_phase(
        start_board, tmp_path):
    b = _scheduled_board(start_board, tmp_path)
    seq = _records(b)[-1][3]
    _power_cut(b)
    after = [f for f in _records(b) if f[3] > seq]
    boot = next(f for f in after if f[0] == L.BOOT)
    assert L.RESET_CAUSES[boot[2]] == "power_on"
    # the time of day came back from the DS3231: no bad_config, nothing raised
    # but the power cut's own low-priority alarm
    config = next(f for f in after if f[0] == L.CONFIG)
    assert config[2] == 0, config
    raised = [f[1] for f in after if f[0] == EV_RAISED]
    assert A.INTERNAL not in raised and raised == [A.INTERRUPTED], raised
    # the records carry the time again, and the DS3231 ran while the power
    # was off: how long monitoring was off is known (60 s cut, plus at most
    # a minute since the last alive time, plus the boot)
    off = next(f for f in after if f[0] == L.INTERRUPTED)
    assert 60 <= off[8] <= 150, off
    assert boot[7] >= 1735689600                   # 2025-01-01: a set clock
    st = _status(b)
    assert st["prog_mean"] == 300, st              # the same part of the day
    assert "malfunction/internal" not in st["alarms"], st


@pytest.mark.req("R-044")
def test_without_a_ds3231_the_lost_clock_is_bad_config_within_2s(
        start_board, tmp_path, monkeypatch):
    monkeypatch.setenv("PUMPMON_VBOARD_NO_DS3231", "1")     # a board without one
    # at 1x, so that the 2 s from the boot are real seconds of a VM starting
    b = _scheduled_board(start_board, tmp_path, speed=1)
    seq = _records(b)[-1][3]
    w = _power_cut(b, 2)
    # malfunction's C4 (the power-on test plays only C5) and the red light
    _sounds_and_red(b, w, {262}, "the lost clock")
    tones = [r["hz"] for r in b.timeline() if r["kind"] == "tone" and r["world_ms"] >= w]
    first = tones[:tones.index(262)]
    assert 392 not in first and [t for t in first if t][-1] == 523, tones  # C5 C4
    after = [f for f in _records(b) if f[3] > seq]
    config = next(f for f in after if f[0] == L.CONFIG)
    assert config[2] == A.D_CONFIG, config
    internal = [f for f in after if f[0] == EV_RAISED and f[1] == A.INTERNAL]
    assert internal and internal[0][2] == A.D_CONFIG, after
    boot = next(f for f in after if f[0] == L.BOOT)
    assert boot[7] == 0                            # no time in the records
    off = next(f for f in after if f[0] == L.INTERRUPTED)
    assert off[8] == L.UNKNOWN                     # how long: unknown
    assert "malfunction/internal" in _status(b)["alarms"]
