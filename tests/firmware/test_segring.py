# The segment ring on its own (firmware/pumpmon/segring.py), with a toy slot
# format of its test's own (4 bytes: magic, code, sequence number, checksum),
# so what is checked is the ring, not the event log's or the recorder's
# records: bounded rotation, the boot scan (where to go on, the sequence
# number, damage kept as evidence), write errors and interrupted writes.
# Real files in a temporary directory; runs on CPython and on the MicroPython
# unix ports.
import os

from test_eventlog import FailingFlash, _read, in_tmpdir

from pumpmon import segring as S

SIZE = 4
CHAT = 9                  # the toy format's "chatter" code


def _valid(buf):
    return 1 if buf[0] == 0xC3 and buf[3] == (buf[0] + buf[1] + buf[2]) & 0xFF else 0


def _seq(buf):
    return buf[2]


def _slot(code, seq):
    return bytes([0xC3, code, seq, (0xC3 + code + seq) & 0xFF])


def _ring(d, segments=3, per_seg=4, fs=None, per_slot=1):
    return S.Ring(d + "/r", segments, per_seg * SIZE, fs, "tx", SIZE, _valid, _seq,
                  per_slot, (CHAT,))


def _put(ring, code, seq):
    ring.ready()
    ring.write(_slot(code, seq), 1, 0)


def _written(d, n):
    """A ring in d holding slots 1..n (code 1), closed."""
    r = _ring(d)
    for i in range(1, n + 1):
        _put(r, 1, i)
    r.close()
    return r


def _files(d):
    return sorted(os.listdir(d + "/r"))


@in_tmpdir("ring")
def test_ring_is_bounded_and_goes_on_after_its_last_slot(d):
    r = _ring(d)
    assert r.seg == 0 and r.seq == 1 and not r.damaged
    for i in range(1, 15):                # 14 slots, 4 a segment
        _put(r, CHAT if i % 2 else 1, i)
    r.close()
    # never more than 3 segments: the oldest went first
    assert _files(d) == ["tx00000002.bin", "tx00000003.bin", "tx00000004.bin"]
    assert _read(r.file(4)) == _slot(CHAT, 13) + _slot(1, 14)
    # a reboot: the newest segment ended cleanly after its last slot
    r2 = _ring(d)
    assert r2.seg == 4 and r2.count == 2 and r2.seq == 15 and r2.chat == 1
    assert r2.segments() == [2, 3, 4] and not r2.damaged
    _put(r2, 1, 15)                       # appended to it, not a new segment
    r2.close()
    assert _read(r2.file(4)) == _slot(CHAT, 13) + _slot(1, 14) + _slot(1, 15)
    assert len(_files(d)) == 3


@in_tmpdir("ringtorn")
def test_a_torn_tail_is_kept_counted_and_never_appended_after(d):
    r = _written(d, 3)
    with open(r.file(1), "ab") as f:      # a write cut short: 2 of 4 bytes
        f.write(_slot(1, 4)[:2])
    before = _read(r.file(1))
    # a ring whose numbers are not per slot (the recorder's boot number)
    # goes on after the last valid one
    assert _ring(d, per_slot=0).seq == 4
    r2 = _ring(d)
    assert r2.damaged == 1 and r2.torn and r2.damaged_seg == 1
    # the cut slot used up its number (per_slot 1): 4 is never given again
    assert r2.seq == 5
    _put(r2, 1, 5)
    r2.close()
    assert _read(r2.file(1)) == before    # evidence kept as it was
    assert _read(r2.file(2)) == _slot(1, 5)


@in_tmpdir("ringbad")
def test_a_segment_of_garbage_is_kept_and_the_scan_looks_further_back(d):
    _written(d, 4)
    with open(d + "/r/tx00000002.bin", "wb") as f:   # no valid slot at all
        f.write(b"\x00" * (2 * SIZE))
    r2 = _ring(d)
    assert r2.seg == 2 and r2.damaged == 2 and not r2.torn and r2.damaged_seg == 2
    assert r2.seq == 4 + 1 + 2            # each bad slot after the last took a number
    _put(r2, 1, 7)
    r2.close()
    assert _read(d + "/r/tx00000002.bin") == b"\x00" * (2 * SIZE)
    assert _read(r2.file(3)) == _slot(1, 7)


@in_tmpdir("ringfail")
def test_a_write_error_leaves_no_slot_to_append_after(d):
    fs = FailingFlash()                   # full: a write stores 7 bytes, then ENOSPC
    r = _ring(d, fs=fs)
    _put(r, 1, 1)
    fs.full = 1
    try:
        _put(r, 1, 2)
        raise AssertionError("the write error was not raised")
    except OSError as e:
        assert S.errno_of(e) == 28
    r.fail()
    assert r._f is None
    fs.full = 0
    _put(r, 1, 3)                         # not after the partial bytes: a new segment
    r.close()
    assert r.seg == 2 and _read(r.file(2)) == _slot(1, 3)
    assert _read(r.file(1))[:SIZE] == _slot(1, 1)


@in_tmpdir("ringint")
def test_an_interrupted_write_is_never_appended_after(d):
    r = _ring(d)
    _put(r, 1, 1)
    r.interrupted()                       # between writes: nothing to do
    assert r._f is not None
    r._clean = 0                          # as a KeyboardInterrupt inside write()
    r.interrupted()
    assert r._f is None
    _put(r, 1, 2)
    r.close()
    assert r.seg == 2 and _read(r.file(2)) == _slot(1, 2)


def test_segment_names():
    assert S.seg_name(12, "tx") == "tx00000012.bin"
    assert S.seg_number("tx00000012.bin", "tx") == 12
    for bad in ("ev00000012.bin", "tx0000001x.bin", "tx12.bin", "tx00000012.bin~"):
        assert S.seg_number(bad, "tx") == -1, bad
