# Issue 12 on the virtual board (the real unix port, the real firmware
# flashed by `pumpmon flash`): each silent path of the issue now ends in
# sound and the red light on the board's timeline within 2 s of the boot
# (board time), or, for a flash that stops taking writes, within 2 minutes.
# The damage is done to the board's flash folder between resets, as someone
# with a USB cable would. Written against the current vboard API (issue 18
# reorganised it; its helpers come from test_vboard.py).
import shutil
import time

import pytest

from tests.vboard_helpers import _flash_firmware, _trace

from host_tools.vboard.control import control

MELODY = {523, 262}          # malfunction: C5 C4 C4 - C5 C4


def _reset_and_boot(b):
    """Press reset; the board time of the new boot."""
    n = len(b.timeline())
    control(b.control, "reset")
    b.wait(lambda: any(r["kind"] == "boot" for r in b.timeline()[n:]), 60, "the boot")
    return next(r["world_ms"] for r in b.timeline()[n:] if r["kind"] == "boot")


def _sounds_and_red(b, w_boot, notes, what, within=2000):
    """The first tone among notes and the first red light after w_boot both
    come within `within` ms of board time; returns the tones heard."""
    def after(kind):
        return [r for r in b.timeline() if r["kind"] == kind and r["world_ms"] >= w_boot]

    b.wait(lambda: any(r["hz"] in notes for r in after("tone")), 60, what + ": sound")
    b.wait(lambda: any(r["colour"] == "red" for r in after("led")), 60, what + ": red")
    t = next(r["world_ms"] for r in after("tone") if r["hz"] in notes)
    c = next(r["world_ms"] for r in after("led") if r["colour"] == "red")
    assert t - w_boot <= within and c - w_boot <= within, (what, t - w_boot, c - w_boot)
    return {r["hz"] for r in after("tone")}


@pytest.mark.req("R-032")
def test_damaged_or_missing_firmware_files_sound_within_2s(start_board, tmp_path):
    b = start_board()
    _flash_firmware(b, {"rate_ul_h": 30}, tmp_path)
    keep = tmp_path / "keep"
    shutil.copytree(b.flash, keep)

    def restore():
        for p in keep.rglob("*"):
            if p.is_file() and not str(p.relative_to(keep)).startswith(("log", "rec")):
                dst = b.flash / p.relative_to(keep)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(p, dst)

    cases = [
        # main.py never runs: boot.py's steady tone and red, left on at the REPL
        ("main.py removed", lambda: (b.flash / "main.py").unlink(), {523}),
        ("main.py corrupt", lambda: (b.flash / "main.py").write_text("def main(:\n"), {523}),
        # the monitor cannot start: failsafe.py's melody and red blips
        ("engine.mpy missing", lambda: (b.flash / "lib/pumpmon/engine.mpy").unlink(), MELODY),
        ("runner.mpy truncated", lambda: (b.flash / "lib/pumpmon/runner.mpy").write_bytes(
            (b.flash / "lib/pumpmon/runner.mpy").read_bytes()[:200]), MELODY),
        ("board.mpy missing", lambda: (b.flash / "board.mpy").unlink(), MELODY),
        ("lib/ missing", lambda: shutil.rmtree(b.flash / "lib"), MELODY),
    ]
    for what, damage, notes in cases:
        damage()
        w = _reset_and_boot(b)
        heard = _sounds_and_red(b, w, notes, what)
        if notes == MELODY:
            b.wait(lambda: MELODY <= {r["hz"] for r in b.timeline()
                                      if r["kind"] == "tone" and r["world_ms"] >= w},  # noqa: B023
                   30, what + ": the whole melody")
        else:
            assert heard <= {523, 0}, (what, heard)
        restore()
        _good_boot(b, what)


def _good_boot(b, what):
    """Repaired: the monitor runs again and drives the outputs (the virtual
    board keeps the last tone and light across a reset, unlike a board's PWM,
    so the next case's alarm shows as a change only after this)."""
    w = _reset_and_boot(b)
    b.wait(lambda: any(r["kind"] == "event" and r["event"] == "boot" and r["world_ms"] >= w
                       for r in b.timeline()), 60, "the monitor's boot record after " + what)
    b.wait(lambda: any(r["kind"] == "tone" and r["hz"] == 0 and r["world_ms"] >= w
                       for r in b.timeline()), 60, "the monitor's outputs after " + what)


@pytest.mark.req("R-041")
def test_bad_config_json_is_malfunction_within_2s_not_a_reset_loop(start_board, tmp_path):
    cfg = _trace(tmp_path / "t.csv", duration_s=3000)
    b = start_board("--trace", str(tmp_path / "t.csv"), "--speed", "1")
    _flash_firmware(b, cfg, tmp_path)
    for what, data in (("a JSON list", b"[1, 2]"), ("true", b"true"),
                       ("a boolean rate", b'{"rate_ul_h": true}'),
                       ("a duplicate key", b'{"rate_ul_h": 30, "rate_ul_h": 40}'),
                       ("200 KB", b'{"rate_ul_h": 30, "board_id": "' + b"x" * 200000 + b'"}')):
        (b.flash / "config.json").write_bytes(data)
        n = _bad_config_records(b)
        w = _reset_and_boot(b)
        _sounds_and_red(b, w, MELODY, what)
        b.wait(lambda: _bad_config_records(b) > n, 30, what + ": bad_config in the log")  # noqa: B023 - waited for here
    rows = b.timeline()
    assert not [r for r in rows if r["kind"] == "reset" and r.get("cause") == "watchdog"]


def _bad_config_records(b):
    # config records refusing the file (the timeline shows details of alarm
    # events only; after the first, bad_config stays latched, not raised anew)
    from pumpmon import alarms as A
    import logread
    from pumpmon import eventlog as L
    recs, _bad = logread.read_all(str(b.flash / "log"))
    return len([r for r in recs if r[2][0] == L.CONFIG and r[2][2] == A.D_CONFIG])


def _monitoring(start_board, tmp_path):
    """A board at 20x with a trace, flashed, its monitor running."""
    cfg = _trace(tmp_path / "t.csv", duration_s=3000)
    b = start_board("--trace", str(tmp_path / "t.csv"), "--speed", "20")
    _flash_firmware(b, cfg, tmp_path)
    b.wait(lambda: any(r["kind"] == "event" and r["event"] == "boot"
                       for r in b.timeline()), 60, "the monitor")
    return b


@pytest.mark.req("R-025")
def test_power_cut_is_logged_as_monitoring_interrupted(start_board, tmp_path):
    b = _monitoring(start_board, tmp_path)
    n = len(b.timeline())
    control(b.control, "power-cut=60")
    b.wait(lambda: any(r["kind"] == "event" and r["event"] == "monitoring_interrupted"
                       for r in b.timeline()[n:]), 90, "monitoring_interrupted")
    b.wait(lambda: any(r["kind"] == "led" and r["colour"] == "yellow"
                       for r in b.timeline()[n:]), 60, "the low-priority alarm's light")


@pytest.mark.req("R-036")
def test_flash_that_stops_taking_writes_is_an_alarm_within_2_minutes(start_board, tmp_path):
    b = _monitoring(start_board, tmp_path)
    n = len(b.timeline())
    control(b.control, "flash=fail")
    b.wait(lambda: any(r["kind"] == "fault" for r in b.timeline()[n:]), 30, "the fault")
    w = next(r["world_ms"] for r in b.timeline()[n:] if r["kind"] == "fault")
    b.wait(lambda: any(r["kind"] == "tone" and r["hz"] in MELODY and r["world_ms"] >= w
                       for r in b.timeline()), 60, "malfunction after the flash failed")
    t = next(r["world_ms"] for r in b.timeline() if r["kind"] == "tone"
             and r["hz"] in MELODY and r["world_ms"] >= w)
    assert t - w <= 120000, t - w


@pytest.mark.req("R-034")
def test_heartbeat_is_on_the_timeline_and_stops_on_a_hang(start_board, tmp_path):
    # the pin the independent sounder watches: toggled once a second by the
    # sampling path; a hang stops it until the watchdog resets the board
    cfg = _trace(tmp_path / "t.csv", duration_s=3000)
    b = start_board("--trace", str(tmp_path / "t.csv"), "--speed", "20", "--fault", "120:hang")
    _flash_firmware(b, cfg, tmp_path)
    b.wait(lambda: any(r["kind"] == "boot" and r["cause"] == "watchdog"
                       for r in b.timeline()), 90, "the watchdog reset")
    b.wait(lambda: len([r for r in b.timeline() if r["kind"] == "heartbeat"
                        and r["t_ms"] and r["t_ms"] > 135000]) > 3, 60,
           "the heartbeat after the reset")
    rows = b.timeline()
    beats = [r for r in rows if r["kind"] == "heartbeat" and r["t_ms"] is not None]
    before = [r["t_ms"] for r in beats if 60000 <= r["t_ms"] < 119000]
    assert len(before) >= 50, len(before)                # about one a second
    gaps = [b2 - b1 for b1, b2 in zip(before, before[1:])]
    assert max(gaps) <= 1500, max(gaps)
    hang = next(r["t_ms"] for r in rows if r["kind"] == "fault" and r["spec"] == "hang")
    after = [r["t_ms"] for r in beats if r["t_ms"] > hang]
    # silent until the watchdog resets the board, 8 s of board time after the
    # last feed (the pass before the hang: its loop sleeps 10 ms)
    assert after and after[0] - hang >= 8000 - 10, after[:2]
    assert {r["level"] for r in beats} == {0, 1}


@pytest.mark.req("R-035")
def test_buzzer_that_raises_never_stops_the_light_or_the_watchdog(start_board, tmp_path):
    # a buzzer driver that raises on every call, then the flow sensor goes
    # silent: the alarm is shown by the light (malfunction's red blips) as
    # soon as the sound fails, the watchdog is fed (no reset), and the
    # output failure is logged
    b = _monitoring(start_board, tmp_path)
    n = len(b.timeline())
    control(b.control, "buzzer=fail")
    control(b.control, "flow=silent")
    b.wait(lambda: any(r["kind"] == "event" and r["event"] == "alarm_raised"
                       and r.get("cause") == "flow_sensor" for r in b.timeline()[n:]),
           60, "malfunction/flow_sensor")
    w = next(r["world_ms"] for r in b.timeline()[n:] if r["kind"] == "event"
             and r["event"] == "alarm_raised" and r.get("cause") == "flow_sensor")
    b.wait(lambda: len([r for r in b.timeline() if r["kind"] == "led"
                        and r["world_ms"] >= w]) >= 10, 60, "the red blips")
    red = next(r["world_ms"] for r in b.timeline() if r["kind"] == "led"
               and r["colour"] == "red" and r["world_ms"] >= w - 2000)
    assert red - w <= 2000, red - w
    # 80 s of board time later: still blinking, never reset, never a tone
    end = w + 80000
    b.wait(lambda: b.timeline()[-1]["world_ms"] > end or
           any(r["kind"] == "led" and r["world_ms"] > end for r in b.timeline()), 60, "80 s")
    rows = b.timeline()[n:]
    assert not [r for r in rows if r["kind"] in ("reset", "boot")]
    assert not [r for r in rows if r["kind"] == "tone" and r["hz"]]
    from pumpmon import alarms as A
    import logread
    from pumpmon import eventlog as L
    b.wait(lambda: any(r[2][0] == L.FAULT and r[2][2] == A.D_OUTPUT
                       for r in logread.read_all(str(b.flash / "log"))[0]), 60,
           "internal_fault output_failure in the log")


@pytest.mark.req("R-036")
@pytest.mark.parametrize("damage", ["deleted", "zeros"])
def test_deleted_state_file_under_a_latched_alarm_sounds_again_within_2s(start_board, tmp_path,
                                                                         damage):
    # no_flow raised, delivery back (the alarm stays latched, unacknowledged);
    # someone deletes state.bin (or it is damaged: issue 28's 28 zero bytes)
    # and resets: the alarm is back at the boot, monitoring_interrupted logged
    cfg = _trace(tmp_path / "t.csv", duration_s=3000, factor=[(30, 0.0), (300, 1.0)])
    b = start_board("--trace", str(tmp_path / "t.csv"), "--speed", "20")
    _flash_firmware(b, cfg, tmp_path)
    b.wait(lambda: any(r["kind"] == "event" and r["event"] == "alarm_condition_cleared"
                       and r.get("alarm") == "no_flow" for r in b.timeline()), 120,
           "no_flow latched after delivery came back")
    if damage == "deleted":
        (b.flash / "state.bin").unlink()
    else:
        (b.flash / "state.bin").write_bytes(bytes(28))
    w = _reset_and_boot(b)
    # 2 s of real time: 40 s of board time at 20x (the VM's start-up, imports
    # and hashing take real time, which the board clock runs 20x through)
    _sounds_and_red(b, w, {523, 294, 392}, "state.bin " + damage, within=2000 * 20)
    b.wait(lambda: any(r["kind"] == "event" and r["event"] == "alarm_raised"
                       and r.get("detail") == "state_missing" and r["world_ms"] >= w
                       for r in b.timeline()), 30, "malfunction/internal state_missing")
    import logread
    from pumpmon import eventlog as L
    recs = [r[2] for r in logread.read_all(str(b.flash / "log"))[0]]
    boot = max(i for i, r in enumerate(recs) if r[0] == L.BOOT)
    assert recs[boot][8] & 1                                    # no_flow restored
    assert recs[boot][10] == (L.STATE_NONE if damage == "deleted" else L.STATE_CORRUPT)
    after = [r for r in recs[boot + 1:] if r[0] != L.FIRMWARE]     # identity.py's record
    assert after[0][0] == L.INTERRUPTED, recs[boot:boot + 4]


@pytest.mark.req("R-034")
def test_boot_py_raising_systemexit_is_left_to_the_independent_sounder(start_board, tmp_path):
    # boot.py replaced by one that raises SystemExit: as on the rp2 port, a
    # soft reset before main.py runs, at every boot. No firmware code runs, so
    # nothing in software can sound (docs/safety.md): the heartbeat stops, which
    # is what the independent sounder hears. Our own boot.py never lets one out
    # (tests/firmware/test_failsafe.py::test_boot_py_lets_nothing_out_but_a_ctrl_c)
    cfg = _trace(tmp_path / "t.csv", duration_s=3000)
    b = start_board("--trace", str(tmp_path / "t.csv"), "--speed", "1")
    _flash_firmware(b, cfg, tmp_path)
    b.wait(lambda: any(r["kind"] == "heartbeat" for r in b.timeline()), 60, "the heartbeat")
    (b.flash / "boot.py").write_text("raise SystemExit\n")
    boots = _boot_records(b)
    w = _reset_and_boot(b)
    # the virtual board then sits at its REPL (the rp2 port would soft-reset
    # in a loop): silent either way
    time.sleep(4)
    rows = [r for r in b.timeline() if r["world_ms"] > w]
    assert not [r for r in rows if r["kind"] in ("heartbeat", "tone")], rows[:20]
    assert not [r for r in rows if r["kind"] == "led" and r["colour"] != "off"], rows[:20]
    assert _boot_records(b) == boots           # the monitor never started


def _boot_records(b):
    import logread
    from pumpmon import eventlog as L
    recs, _bad = logread.read_all(str(b.flash / "log"))
    return len([r for r in recs if r[2][0] == L.BOOT])
