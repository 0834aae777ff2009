# Proof that recording a sample allocates nothing: the recorder alone, and the
# whole main loop with the event log, the state file and the recorder, under
# micropython.heap_lock() (any allocation raises MemoryError, which the
# recorder would count as a lost sample). Only on MicroPython.
import gc

import micropython

from fakeboard import FakeBoard
from test_eventlog import in_tmpdir

from pumpmon import recorder as R
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.runner import Runner


@in_tmpdir("rheap")
def test_sample_allocates_nothing(d):
    rec = R.Recorder(d + "/rec", 3, 6000 * R.REC)
    rec.sample(0, 18000, 300, 0, 0, 0)        # warm up: segment open, boot header
    sample = rec.sample
    gc.collect()
    micropython.heap_lock()
    try:
        i = 1
        while i < 5000:
            # readings of every kind: none, out of range (clamped), flags, button, refill
            sample(i, None if i % 7 == 0 else 18000 - i, None if i % 11 == 0 else
                   (5000000 if i % 13 == 0 else i), i & 0xFF, i & 1, (i >> 1) & 1)
            i += 1
    finally:
        micropython.heap_unlock()
    assert rec.samples == 5000 and rec.lost == 0 and rec.failed == 0


@in_tmpdir("rheap3")
def test_streaming_allocates_nothing(d):
    rec = R.Recorder(d + "/rec", 3, 600 * R.REC, stream=1)
    rec.sample(0, 18000, 300, 0, 0, 0)
    sample = rec.sample
    gc.collect()
    micropython.heap_lock()
    try:
        i = 1
        while i < 20:                         # '#S ...' lines on stdout
            sample(i, None if i & 1 else 18000, 300 + i, 0, i & 1, 0)
            i += 1
    finally:
        micropython.heap_unlock()
    assert rec.samples == 20 and rec.lost == 0


def locked_hour(r, b):
    """Warm the Runner up, then an hour of 100 ms main-loop passes under
    heap_lock (mp_heap_service.py uses it too)."""
    step = r.step
    n = 0
    while n < 600:                                # warm up: boot records, start-up judged
        step()
        b.t = ticks_add(b.t, 100)
        n += 1
    r.store._snap_s = 1 << 29                     # no hourly log write inside the lock
    r.store._alive_s = 1 << 29                    # nor the minute's state save (opens a file)
    before = r.rec.samples
    gc.collect()
    micropython.heap_lock()
    try:
        n = 0
        while n < 36000:                          # an hour of 100 ms loop passes
            step()
            b.t = ticks_add(b.t, 100)
            n += 1
    finally:
        micropython.heap_unlock()
    assert r.rec.samples - before == 3600, r.rec.samples - before
    assert r.rec.lost == 0 and r.log.lost == 0 and r.monitor.manager.shown == 0


@in_tmpdir("rheap2")
def test_main_loop_with_recorder_allocates_nothing(d):
    b = FakeBoard(ticks_add(0, -20000))       # the ticks wrap inside the locked hour
    r = Runner(b, Config({"rate_ul_h": 30}), flash=d, rec_segments=3,
               rec_seg_bytes=4000 * R.REC)
    locked_hour(r, b)
