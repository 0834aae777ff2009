# The sensor recorder (firmware/pumpmon/recorder.py): record layout and CRC,
# ring bounds and rotation, a power cut at every byte of the writes (loses only
# the sample being written, invents nothing, appending resumes), write errors,
# the free-space limit, and the Runner recording exactly what the engine saw.
# Real files in a temporary directory; runs on CPython and the unix port.
import os

from fakeboard import FakeBoard
from test_eventlog import FailingFlash, _read, every_cut, in_tmpdir

from pumpmon import alarms as A
from pumpmon import eventlog as L
from pumpmon import recorder as R
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.runner import Runner

REC = R.REC


# ---- a small reader (the host's independent one is host_tools/formats/recording.py) ----
def _ring(path):
    """([(boot, sec, level, flow, flags, button, refill)], [headers], bad slots)
    of a recording folder, placing each sample in time from its segment."""
    try:
        names = os.listdir(path)
    except OSError:
        return [], [], 0
    segs = sorted(k for k in (L.seg_number(n, "tr") for n in names) if k > 0)
    out = []
    heads = []
    bad = 0
    for n in segs:
        data = _read(path + "/" + L.seg_name(n, "tr"))
        sec = None
        boot = None
        for off in range(0, len(data), REC):
            b = bytearray(data[off:off + REC])
            if len(b) < REC or not R.valid(b):
                bad += 1
                continue
            r = R.decode(b)
            if r[0] == R.KIND_SAMPLE:
                assert sec is not None, "a sample before its segment's header"
                sec += (r[1] - sec) & 0xFF
                out.append((boot, sec) + r[2:])
            else:
                sec = r[1]
                boot = r[2]
                heads.append(r)
    return out, heads, bad


def _values(i):
    """Distinct readings for sample i (None and odd values included)."""
    level = None if i % 7 == 3 else 18000 - i * 3
    flow = None if i % 5 == 4 else (i * 37) % 5000 - 600
    return level, flow, i & 0xFF, (i >> 1) & 1, (i >> 2) & 1


def _put(rec, i, sec=None):
    level, flow, flags, button, refill = _values(i)
    return rec.sample(i if sec is None else sec, level, flow, flags, button, refill)


def _want(boot, i, sec=None):
    return (boot, i if sec is None else sec) + _values(i)


# ---- tests ----------------------------------------------------------------------
def test_crc16_is_ccitt_false():
    assert R.crc16(b"123456789", 9) == 0x29B1


@in_tmpdir("rrec")
def test_record_is_10_bytes_round_trips_and_is_checked(d):
    """req: R-027"""
    rec = R.Recorder(d + "/rec", 4, 40 * REC, cause=1)
    cases = [(5, 18000, 300, 1, 1, 0), (6, None, None, 0, 0, 1),
             (7, -500, -100000, 255, 1, 1), (8, 1048575, 1048575, 0, 0, 0),
             (9, 5000000, -5000000, 2, 0, 0), (300, 0, 0, 0, 0, 0)]
    for c in cases:
        assert rec.sample(*c)
    rec.close()
    data = _read(d + "/rec/" + L.seg_name(1, "tr"))
    assert len(data) == (2 + len(cases)) * REC == 80
    got, heads, bad = _ring(d + "/rec")
    assert bad == 0
    # a header places the sample after a jump of more than 255 s
    assert heads == [(R.KIND_BOOT, 5, 1, 1), (R.KIND_CONT, 300, 1, 2)]
    # beyond +-1048575 a reading is stored as +-1048575: still out of any valid range
    want = [(1,) + c for c in cases[:4]] + [(1, 9, 1048575, -1048575, 2, 0, 0),
                                             (1, 300, 0, 0, 0, 0, 0)]
    assert got == want, got
    rec1 = bytearray(data[REC:2 * REC])
    for i in range(REC):            # any one flipped bit is caught
        for bit in range(8):
            b = bytearray(rec1)
            b[i] ^= 1 << bit
            assert not R.valid(b), (i, bit)
    assert not R.valid(bytearray(REC)) and not R.valid(bytearray(b"\xff" * REC))


@in_tmpdir("rring")
def test_ring_is_bounded_rotates_and_keeps_the_newest(d):
    """req: R-027"""
    p = d + "/rec"
    rec = R.Recorder(p, 3, 6 * REC)         # 3 segments of 6 slots: header + 5 samples
    for i in range(100):
        assert _put(rec, i)
    rec.close()
    names = sorted(os.listdir(p))
    assert len(names) == 3, names
    for n in names:
        assert len(_read(p + "/" + n)) <= 6 * REC
    got, heads, bad = _ring(p)
    assert bad == 0
    # every segment starts with a header, so every sample is placed in time
    assert [h[0] for h in heads] == [R.KIND_CONT] * 3
    assert got == [_want(1, i) for i in range(100 - len(got), 100)]
    assert len(got) >= 2 * 5               # at least nseg - 1 full segments kept
    # a long gap between samples (more than 255 s) within one segment is
    # impossible (one sample a second); across a write error a header follows


@in_tmpdir("rboot")
def test_reboot_starts_a_new_boot_and_appends(d):
    p = d + "/rec"
    rec = R.Recorder(p, 4, 20 * REC, cause=1)
    for i in range(5):
        assert _put(rec, i)
    rec.close()
    rec = R.Recorder(p, 4, 20 * REC, cause=2)     # soft reset
    assert rec.boot_no == 2
    for i in range(3):
        assert _put(rec, 10 + i, i)
    rec.close()
    rec = R.Recorder(p, 4, 20 * REC, cause=5)     # hard reset
    assert rec.boot_no == 3
    assert _put(rec, 20, 0)
    rec.close()
    got, heads, bad = _ring(p)
    assert bad == 0 and len(os.listdir(p)) == 1   # clean ends: appended
    assert [(h[0], h[2], h[3]) for h in heads] == [
        (R.KIND_BOOT, 1, 1), (R.KIND_BOOT, 2, 2), (R.KIND_BOOT, 3, 5)]
    assert got == [_want(1, i) for i in range(5)] + \
        [_want(2, 10 + i, i) for i in range(3)] + [_want(3, 20, 0)]


def _cut_everywhere(corrupt):
    n = 12                                             # rotates three times

    def write(src, fs):
        rec = R.Recorder(src + "/rec", 3, 4 * REC, fs)   # 3 segments: header + 3 samples
        for i in range(n):
            assert _put(rec, i)
        rec.close()

    def check(root, model, cut):
        # the samples whose write was complete and whose segment still exists
        want = []
        boot = 1          # the boot number after this one (1 if no header survived)
        for rel in sorted(model):
            for data in model[rel]:
                r = R.decode(bytearray(data))
                if r[0] == R.KIND_SAMPLE:
                    want.append(r[1])          # sample i has second i
                else:
                    boot = 2
        got, heads, bad = _ring(root + "/rec")
        assert [g[1] for g in got] == want, (cut, got, want)
        for g in got:                          # nothing invented, nothing altered
            assert g == _want(1, g[1]), (cut, g)
        assert bad <= 1, (cut, bad)            # at most the slot being written
        # only the sample being written is lost: every earlier one that
        # rotation kept is there
        if want:
            assert want == list(range(want[0], want[-1] + 1)), (cut, want)
        # reboot: never raises, a new boot, appends after the damage
        rec2 = R.Recorder(root + "/rec", 3, 4 * REC, cause=2)
        assert rec2.boot_no == boot, cut
        assert _put(rec2, 50, 0) and _put(rec2, 51, 1)
        assert rec2.lost == 0
        rec2.close()
        got2, heads2, bad2 = _ring(root + "/rec")
        assert got2[-2:] == [_want(boot, 50, 0), _want(boot, 51, 1)], (cut, got2)
        boots = [h for h in heads2 if h[0] == R.KIND_BOOT]
        assert boots[-1][1:] == (0, boot, 2), (cut, heads2)
        old = got2[:-2]
        assert old == got[len(got) - len(old):], cut   # only rotation drops old ones
        assert len(os.listdir(root + "/rec")) <= 3

    total = every_cut("rcut", write, check, corrupt)
    assert total == (n + 4) * REC + 1 + 4 + 1   # 4 headers; mkdir, 4 creates, 1 remove


def test_power_cut_at_every_byte_truncated():
    """req: R-027"""
    _cut_everywhere(False)


def test_power_cut_at_every_byte_with_garbage():
    """req: R-027"""
    _cut_everywhere(True)


@in_tmpdir("rfull")
def test_write_error_loses_samples_retries_and_marks_the_resume(d):
    """req: R-036"""
    p = d + "/rec"
    fs = FailingFlash()
    rec = R.Recorder(p, 4, 40 * REC, fs)
    for i in range(3):
        assert _put(rec, i)
    fs.full = 1
    assert not _put(rec, 3)                       # fails, never raises
    assert rec.failed == 28 and rec.lost == 1
    for i in range(4, 20):                        # no retry before a minute
        assert not _put(rec, i)
    assert rec.lost == 17
    fs.full = 0
    for i in range(20, 63):
        assert not _put(rec, i)                   # still waiting for the retry
    assert _put(rec, 63)                          # 3 + 60 s: tries again, works
    assert rec.lost == 0 and rec.failed == 0
    assert _put(rec, 64)
    rec.close()
    got, heads, bad = _ring(p)
    assert bad == 1                               # the torn slot of the failed write
    assert got == [_want(1, i) for i in (0, 1, 2, 63, 64)]
    assert heads[-1][0] == R.KIND_CONT and heads[-1][1] == 63 and heads[-1][3] == 1


class _SmallFlash(L.Flash):
    def __init__(self, free):
        self._free = free

    def free(self, path):
        return self._free


@in_tmpdir("rfree")
def test_ring_is_limited_to_the_free_space(d):
    rec = R.Recorder(d + "/rec", 55, 16384, _SmallFlash(16384 * 12), 16384 * 2)
    assert rec.limited and rec.ring.nseg == 10 and not rec.off
    rec = R.Recorder(d + "/rec2", 55, 16384, _SmallFlash(16384), 16384 * 2)
    assert rec.off and not _put(rec, 0)
    rec = R.Recorder(d + "/rec3", 55, 16384, _SmallFlash(1 << 30), 16384 * 2)
    assert not rec.limited and rec.ring.nseg == 55
    rec = R.Recorder(d + "/rec4", 0, 16384)
    assert rec.off and not _put(rec, 0)
    assert "rec4" not in os.listdir(d)            # off: nothing written


@in_tmpdir("rset")
def test_settings_file(d):
    assert R.settings(d) == (R.SEGMENTS, R.SEG_BYTES, 0, 1)
    with open(d + "/recorder.json", "w") as f:
        f.write('{"segments": 7, "seg_bytes": 4096, "stream": true, "batch": 10}')
    assert R.settings(d) == (7, 4096, 1, 10)
    with open(d + "/recorder.json", "w") as f:
        f.write('{"segments": ')
    assert R.settings(d + "/") == (R.SEGMENTS, R.SEG_BYTES, 0, 1)


# ---- in the main loop ---------------------------------------------------------------
def _run_s(r, b, seconds):
    for _ in range(seconds * 100):
        r.step()
        b.sleep_ms(10)


@in_tmpdir("rrun")
def test_runner_records_what_the_engine_saw(d):
    """req: R-027"""
    b = FakeBoard(ticks_add(0, -20000))     # the ticks wrap during the run
    r = Runner(b, Config({"rate_ul_h": 30}), flash=d, rec_segments=4,
               rec_seg_bytes=200 * REC)
    seen = []
    step = r.monitor.step

    def spy(now, level, flow, flags, button, refill):
        seen.append((r.up_s, level, flow, flags, button, refill))
        step(now, level, flow, flags, button, refill)

    r.monitor.step = spy
    _run_s(r, b, 30)
    b.level = None
    b.flow_flags = 1
    _run_s(r, b, 3)
    b.level = 17990
    b.flow_flags = 0
    b.refill_mode = 1
    _run_s(r, b, 2)
    b.refill_mode = 0
    # a short press between two samples: the engine's step never sees it
    # (the board's polls do); the recording keeps it at the next sample
    for _ in range(20):
        r.step()
        b.sleep_ms(10)
    b.btn = 1
    for _ in range(30):
        r.step()
        b.sleep_ms(10)
    b.btn = 0
    _run_s(r, b, 5)
    r.rec.close()
    got, heads, bad = _ring(d + "/rec")
    assert bad == 0 and heads[0][:3] == (R.KIND_BOOT, 0, 1)
    assert heads[0][3] == L.reset_code("power_on")
    assert len(got) == len(seen) and len(got) >= 40
    pressed = [g for g in got if g[5]]
    assert len(pressed) == 1 and not any(s[4] for s in seen)
    for g, s in zip(got, seen):
        assert g[0] == 1
        assert g[1:5] + (g[6],) == s[:4] + (s[5],), (g, s)
    # one sample a second, at the engine's seconds since boot
    assert [g[1] for g in got] == list(range(len(got)))
    assert r.monitor.manager.shown == 0 and b.tone == 0


class _RecFails(L.Flash):
    """Writes under rec/ fail (EIO); the log and the state file work."""

    def open(self, path, mode):
        if "/rec/" in path and "r" not in mode:
            raise OSError(5)
        return open(path, mode)


@in_tmpdir("rfail")
def test_recorder_failure_never_stops_monitoring(d):
    """req: R-036"""
    b = FakeBoard(ticks_add(0, -20000))
    r = Runner(b, Config({"rate_ul_h": 30}), flash=d, fs=_RecFails())
    _run_s(r, b, 11 * 60)
    assert r.rec.lost > 0 and r.rec.samples == 0
    # a recording that cannot be written is malfunction/internal
    # (log_failure) at once (issue 12: found in seconds, not an hour)
    assert r.monitor.manager.shown == 1 << A.INTERNAL
    assert r.monitor.internal_detail == A.D_LOG
    b.flow = 0
    _run_s(r, b, 12 * 60)
    assert r.monitor.manager.shown & 1       # no_flow, found and sounding
    assert b.tone != 0 or any(hz for _t, hz in b.tones)
    assert r.log.lost == 0


class _FlushCount(L.Flash):
    def __init__(self):
        self.flushes = 0

    def open(self, path, mode):
        f = open(path, mode)
        if "r" in mode:
            return f
        fs = self

        class _F:
            def write(self, b):
                return f.write(b)

            def flush(self):
                fs.flushes += 1
                f.flush()

            def close(self):
                f.close()

        return _F()


@in_tmpdir("rbatch")
def test_batch_commits_every_n_samples(d):
    fs = _FlushCount()
    rec = R.Recorder(d + "/rec", 3, 400 * REC, fs, batch=10)
    for i in range(35):
        assert _put(rec, i)
    assert fs.flushes == 3                # after samples 10, 20, 30
    rec.close()                            # closing commits the rest
    got, heads, bad = _ring(d + "/rec")
    assert got == [_want(1, i) for i in range(35)] and bad == 0
    fs = _FlushCount()
    rec = R.Recorder(d + "/rec2", 3, 400 * REC, fs)
    for i in range(5):
        assert _put(rec, i)
    assert fs.flushes == 5                # the default: every sample committed
