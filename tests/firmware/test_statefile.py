# Alarm state across resets, and the Runner's persistent memory: a reset in
# the middle of an unacknowledged high-priority alarm brings it back at once;
# an unexpected reset is malfunction/internal; a corrupt state file boots
# safely; a full flash raises malfunction/internal and monitoring goes on.
# Runs on CPython and on the MicroPython unix port. The sensor recorder
# (recorder.py, its own tests) is off here (rec_segments=0) except in the
# heap test, where the whole loop as on a board must allocate nothing.
import os

from fakeboard import FakeBoard
from test_eventlog import FailingFlash, _read, _rmtree, _tmpdir, in_tmpdir

from pumpmon import alarms as A
from pumpmon import eventlog as L
import logread
from pumpmon import patterns as P
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.manager import EV_ESCALATED, EV_RAISED
from pumpmon.runner import Runner
from pumpmon.statefile import StateFile

NO_FLOW = 1 << A.NO_FLOW
INTERNAL = 1 << A.INTERNAL
INTERRUPTED = 1 << A.INTERRUPTED
CFG = {"rate_ul_h": 30}


def _board(t0=-20000):
    return FakeBoard(ticks_add(0, t0))


def _seconds(r, n):
    """n seconds of the main loop, a pass every 100 ms (fast enough for tests:
    the Runner samples once a second whatever the loop rate)."""
    b = r.board
    for _ in range(n * 10):
        r.step()
        b.t = ticks_add(b.t, 100)


def _records(d):
    got, bad = logread.read_all(d + "/log")
    return [x[2] for x in got], bad


def _sounds(b, since):
    return [hz for t, hz in b.tones if hz and t >= since]


def _no_flow_sounding(d, cause="power_on"):
    b = _board()
    b.cause = cause
    r = Runner(b, Config(CFG), flash=d, rec_segments=0)
    _seconds(r, 11 * 60)
    b.flow = 0
    _seconds(r, 11 * 60)
    assert r.monitor.manager.shown & NO_FLOW
    assert not r.monitor.manager.acked & NO_FLOW
    assert _sounds(b, 0)
    return r


def _reboot(d, t0, cause):
    """A new board on the same flash, nothing flowing, after a reset of
    `cause` (the Runner before is dropped, never closed: a power cut)."""
    b = _board(t0)
    b.flow = 0
    b.cause = cause
    return b, Runner(b, Config(CFG), flash=d, rec_segments=0)


@in_tmpdir("reset")
def test_reset_during_unacknowledged_alarm_sounds_again_at_once(d):
    """req: R-024"""
    _no_flow_sounding(d)
    # power cut: the Runner is dropped, never closed; a new board boots on the same flash
    b, r = _reboot(d, 123456, "power_on")
    t_boot = b.t
    assert r.monitor.manager.shown & NO_FLOW
    _seconds(r, 1)
    assert _sounds(b, t_boot), "no sound within 1 s of boot"
    assert P.RED in [c for _t, c in b.leds]
    assert not r.monitor.manager.shown & INTERNAL   # a power cut is not a fault
    recs, bad = _records(d)
    boots = [x for x in recs if x[0] == L.BOOT]
    assert len(boots) == 2 and boots[1][8] & NO_FLOW   # restored mask logged
    assert not bad


@in_tmpdir("escreset")
def test_resets_every_few_minutes_never_keep_an_alarm_from_escalating(d):
    """req: R-060"""
    # a board that resets every 4 min under an unanswered no_flow: the
    # escalation timer runs on across the boots (a minute at most lost to
    # each: the state file's last save), where it used to start again at
    # each boot and never reach its 10 minutes
    b = _board()
    r = Runner(b, Config(CFG), flash=d, rec_segments=0)
    _seconds(r, 11 * 60)
    b.flow = 0
    k = 0
    while not r.monitor.manager.shown & NO_FLOW:
        _seconds(r, 1)
        k += 1
        assert k < 600, "no_flow never raised"
    ran = 0
    for n in range(6):
        _seconds(r, 4 * 60)
        ran += 4 * 60
        if r.monitor.manager.escalated:
            break
        b, r = _reboot(d, 5000 + n, "power_on")
        b.flow = 0
    assert r.monitor.manager.escalated, "never escalated across %d resets" % n
    assert ran <= 10 * 60 + n * 60 + 4 * 60, (ran, n)
    recs, _bad = _records(d)
    assert [x for x in recs if x[0] == EV_ESCALATED and x[1] == A.NO_FLOW]   # logged
    # escalated before a reset: escalated again at the first pass after it
    b, r = _reboot(d, 9000, "power_on")
    b.flow = 0
    _seconds(r, 1)
    assert r.monitor.manager.escalated


@in_tmpdir("wdt")
def test_watchdog_reset_is_malfunction_internal(d):
    """req: R-033"""
    _no_flow_sounding(d)
    b, r = _reboot(d, 5000, "watchdog")
    _seconds(r, 2)
    m = r.monitor
    assert m.manager.shown & NO_FLOW and m.manager.shown & INTERNAL
    recs, _bad = _records(d)
    raised = [x for x in recs if x[0] == EV_RAISED and x[1] == A.INTERNAL]
    assert raised and raised[-1][2] == A.D_WATCHDOG
    assert [x for x in recs if x[0] == L.BOOT][-1][2] == L.reset_code("watchdog")
    # the reset is an event: latched until acknowledged, then gone
    b.btn = 1
    _seconds(r, 3)
    b.btn = 0
    _seconds(r, 1)
    assert not m.manager.shown & INTERNAL
    # the restored no_flow counts as present until the engine has judged
    # again (its window is not full yet): acknowledged, paused, not cleared
    assert m.manager.shown & NO_FLOW and m.manager.acked & NO_FLOW
    assert m.manager.paused
    _seconds(r, 11 * 60)
    assert m.manager.shown & NO_FLOW and m.engine.conditions & NO_FLOW
    # a brown-out is unexpected too
    b2 = _board(9000)
    b2.cause = "brownout"
    r2 = Runner(b2, Config(CFG), flash=d, rec_segments=0)
    _seconds(r2, 1)
    assert r2.monitor.manager.shown & INTERNAL
    assert r2.monitor.internal_detail == A.D_RESET


def _copy_flash(src, dst):
    """The board's files (state, log) copied to a fresh folder."""
    os.mkdir(dst)
    os.mkdir(dst + "/log")
    for name in ("state.bin",):
        with open(dst + "/" + name, "wb") as f:
            f.write(_read(src + "/" + name))
    for name in os.listdir(src + "/log"):
        with open(dst + "/log/" + name, "wb") as f:
            f.write(_read(src + "/log/" + name))


def _damage(d, how):
    data = bytearray(_read(d + "/state.bin"))
    if how == "deleted":
        os.remove(d + "/state.bin")
        return
    if how == "zeros":               # the case: 28 zero bytes
        data = bytes(len(data))
    elif how == "torn":
        data = bytes(data[:13])
    elif how == "crc":               # a flipped bit in the shown alarms
        data[6] ^= 0x01
        data = bytes(data)
    elif how == "empty":
        data = b""
    elif how == "ff":
        data = b"\xff" * len(data)
    elif how == "long":
        data = bytes(data) + b"x"
    with open(d + "/state.bin", "wb") as f:
        f.write(data)


DAMAGE = ("deleted", "zeros", "torn", "crc", "empty", "ff", "long")


@in_tmpdir("dmg")
def test_a_damaged_state_file_restores_from_the_log_as_a_missing_one_does(d):
    # issue 28: 28 zero bytes over state.bin under a latched no_flow used to
    # leave only malfunction/internal (log_failure), cleared by one long
    # press; a deleted one brought no_flow back. Every kind of damage is now
    # its loss: the same alarms, the same fault, monitoring_interrupted
    """req: R-068"""
    r = _no_flow_sounding(d)
    r.board.flow = 300               # delivery back: no_flow stays latched
    _seconds(r, 11 * 60)
    assert r.monitor.manager.shown & NO_FLOW and not r.monitor.engine.conditions & NO_FLOW
    seen = {}
    for how in DAMAGE:
        e = d + "/" + how
        _copy_flash(d, e)
        _damage(e, how)
        b = _board(4321)
        r2 = Runner(b, Config(CFG), flash=e, rec_segments=0)
        m = r2.monitor
        assert r2.store.boot == ("power_on", L.STATE_NONE if how == "deleted"
                           else L.STATE_CORRUPT), (how, r2.store.boot)
        _seconds(r2, 1)
        assert m.manager.shown & NO_FLOW and not m.manager.acked & NO_FLOW, how
        assert m.manager.shown & INTERNAL and m.internal_detail == A.D_STATE, how
        assert any(hz for _t, hz in b.tones), (how, "no sound within 1 s of boot")
        recs, _bad = _records(e)
        last_boot = [i for i in range(len(recs)) if recs[i][0] == L.BOOT][-1]
        after = [x for x in recs[last_boot:] if x[0] != L.FIRMWARE]   # identity.py's
        assert [x[0] for x in after[:2]] == [L.BOOT, L.INTERRUPTED], (how, after)
        raised = [x for x in after if x[0] == EV_RAISED]
        seen[how] = (m.manager.shown, m.manager.acked, m.internal_detail,
                     tuple(sorted((x[1], x[2]) for x in raised)))
        _rmtree(e)
    assert len(set(seen.values())) == 1, seen


@in_tmpdir("corrupt")
def test_corrupt_state_file_boots_safely(d):
    """req: R-036"""
    for garbage in (b"", b"\xff" * 24, b"\x00" * 28):
        # no log to restore from (a fresh board's flash damaged): nothing
        # restored from garbage, and malfunction/internal says so
        b = _board(777)
        e = d + "/fresh"
        os.mkdir(e)
        with open(e + "/state.bin", "wb") as f:
            f.write(garbage)
        r = Runner(b, Config(CFG), flash=e, rec_segments=0)
        assert r.store.boot == ("power_on", L.STATE_CORRUPT)
        _seconds(r, 1)
        assert r.monitor.manager.shown & INTERNAL
        assert r.monitor.internal_detail == A.D_LOG
        assert [x for x in _records(e)[0] if x[0] == L.BOOT][-1][10] == L.STATE_CORRUPT
        _rmtree(e)
    _no_flow_sounding(d)
    # a save cut before its rename leaves state.new half-written: the old state holds
    st = StateFile(d)
    assert st.save(NO_FLOW, 0, 0, 5)
    with open(d + "/state.new", "wb") as f:
        f.write(b"PMST\x01")
    b = _board(888)
    r = Runner(b, Config(CFG), flash=d, rec_segments=0)
    assert r.store.boot == ("power_on", L.STATE_OK)
    # (a power-on after monitoring also shows monitoring_interrupted)
    assert r.monitor.manager.shown == NO_FLOW | INTERRUPTED
    # FAT renames by deleting the target first: a cut between leaves only state.new
    os.rename(d + "/state.bin", d + "/state.new")
    r = Runner(_board(999), Config(CFG), flash=d, rec_segments=0)
    assert r.store.boot == ("power_on", L.STATE_OK)
    assert r.monitor.manager.shown == NO_FLOW | INTERRUPTED


@in_tmpdir("state")
def test_state_file_round_trip_and_newest_copy_wins(d):
    """req: R-024"""
    st = StateFile(d)
    assert st.load() == (L.STATE_NONE, 0, 0, 0, 0)
    assert st.save(0x81, 0x80 | 0x200, 1, 0xDEADBEEF)
    assert StateFile(d).load() == (L.STATE_OK, 0x81, 0x80, 1, 0xDEADBEEF)
    old = _read(d + "/state.bin")
    assert st.save(0x1, 0, 0, 7)
    with open(d + "/state.new", "wb") as f:   # an older copy left behind
        f.write(old)
    assert StateFile(d).load() == (L.STATE_OK, 0x1, 0, 0, 7)


@in_tmpdir("order")
def test_log_is_on_flash_before_the_sound_changes(d):
    """req: R-022"""
    seen = []

    def sink(code, cond, detail, runner):
        # an independent reader, at the moment the event is signalled
        recs, _bad = logread.read_all(d + "/log")
        seen.append((code, cond, runner.board.tone, recs[-1][2][0], recs[-1][2][1]))

    b = _board()
    r = Runner(b, Config(CFG), [sink], flash=d, rec_segments=0)
    _seconds(r, 11 * 60)
    b.flow = 0
    _seconds(r, 11 * 60)
    first = [s for s in seen if s[0] == EV_RAISED][0]
    assert first[:2] == (EV_RAISED, A.NO_FLOW)
    assert first[2] == 0                     # silent still
    assert first[3:] == (EV_RAISED, A.NO_FLOW)   # and already in the log file


@in_tmpdir("enospc")
def test_full_flash_raises_internal_and_monitoring_goes_on(d):
    """req: R-036"""
    fs = FailingFlash()
    fs.full = 1
    b = _board()
    r = Runner(b, Config(CFG), flash=d, fs=fs, rec_segments=0)
    _seconds(r, 2)
    m = r.monitor
    assert m.manager.shown & INTERNAL and m.internal_detail == A.D_LOG
    assert r.log.lost >= 1
    _seconds(r, 11 * 60)
    b.flow = 0
    _seconds(r, 11 * 60)
    assert m.manager.shown & NO_FLOW         # no_flow detection went on
    assert m.engine.conditions & NO_FLOW
    assert b.tone or _sounds(b, 0)
    # the flash recovers: the next retry writes, the condition clears
    fs.full = 0
    _seconds(r, 70)
    assert r.log.lost == 0 and not m.internal
    recs, bad = _records(d)
    codes = [x[0] for x in recs]
    assert L.LOG_RESUMED in codes
    resumed = [x for x in recs if x[0] == L.LOG_RESUMED][0]
    assert resumed[8] >= 2 and resumed[9] == 28
    assert StateFile(d).load()[1] & NO_FLOW   # the state file caught up too


@in_tmpdir("snap")
def test_hourly_snapshot_refill_and_config_records(d):
    """req: R-022"""
    b = _board()
    b.wall = 1790000000
    r = Runner(b, Config(CFG), flash=d, rec_segments=0)
    r.note_config(Config(CFG))
    _seconds(r, 3600 + 5)
    b.refill_mode = 1
    _seconds(r, 5)
    b.refill_mode = 0
    _seconds(r, 5)
    recs, bad = _records(d)
    codes = [x[0] for x in recs]
    # boot, the firmware's identity (issue 27), then the first config: changed
    assert codes[:3] == [L.BOOT, L.FIRMWARE, L.CONFIG] and recs[2][9] == 1
    snaps = [x for x in recs if x[0] == L.SNAPSHOT]
    assert len(snaps) == 1
    s = snaps[0]
    assert 3600 <= s[4] <= 3601 and s[7] == 1790000000
    assert 17000 < s[8] < 19000               # level, uL
    assert 250 < s[9] < 350 and s[10] == 300  # mean flow and programmed, 0.1 uL/h
    assert s[11] == s[8] * 10 // 720          # days x10 at 0.72 mL/day
    assert codes[-2:] == [L.REFILL_START, L.REFILL_END]
    assert [x[3] for x in recs] == list(range(1, len(recs) + 1)) and not bad
    # the same configuration after a reboot is not a change; another one is
    r = Runner(_board(), Config(CFG), flash=d, rec_segments=0)
    r.note_config(Config(CFG))
    r.note_config(Config({"rate_ul_h": 40}))
    recs, bad = _records(d)
    assert [x[9] for x in recs if x[0] == L.CONFIG] == [1, 0, 1]


def test_steady_loop_with_log_allocates_nothing():
    # MicroPython only (CPython has no heap lock): with the log and the state
    # file on, an hour of loop passes without an event allocates nothing
    """req: R-014"""
    try:
        import micropython
        micropython.heap_lock  # noqa: B018 - a feature test: AttributeError without it
    except (ImportError, AttributeError):
        return
    import gc
    d = _tmpdir("heap")
    try:
        b = _board()
        # a recording segment big enough for the hour: starting a segment
        # opens a file (allocates), every 27 min by default; since issue 12 a
        # lost sample is an alarm, so this shows as shown != 0
        from pumpmon import recorder as R
        r = Runner(b, Config(CFG), flash=d, rec_seg_bytes=4000 * R.REC)
        _seconds(r, 60)                   # warm up: boot records, start-up judged
        r.store._snap_s = 1 << 29         # no hourly write inside the locked hour
        r.store._alive_s = 1 << 29        # nor the minute's state save (opens a file)
        step = r.step
        gc.collect()
        micropython.heap_lock()
        try:
            n = 0
            while n < 36000:
                step()
                b.t = ticks_add(b.t, 100)
                n += 1
        finally:
            micropython.heap_unlock()
        assert r.monitor.manager.shown == 0 and r.log.lost == 0
    finally:
        _rmtree(d)
