# The chatter limiter costs the main loop nothing: an hour of 100 ms passes
# under micropython.heap_lock() with the carers' link flapping every 0.5 s
# (Runner.write(CARER_LINK), what firmware/carerlink/ calls at every change)
# while the segment's share is used, so every change is held back and
# counted. Only on MicroPython.
import gc

import micropython
from fakeboard import FakeBoard
from test_eventlog import _rmtree, _tmpdir

from pumpmon import chatter as C
from pumpmon import eventlog as L
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.runner import Runner


def test_a_flapping_link_held_back_allocates_nothing():
    d = _tmpdir("cheap")
    try:
        b = FakeBoard(ticks_add(0, -20000))
        r = Runner(b, Config({"rate_ul_h": 30}), flash=d, rec_segments=0)
        n = 0
        while n < 600:                            # warm up: boot records, start-up judged
            r.step()
            b.t = ticks_add(b.t, 100)
            n += 1
        r.log.ring.chat = C.SEG_BUDGET                # this segment's share is used
        r.store.chatter.link.sum_s = r.up_s + 7200      # and the long summary is not due
        r.store._snap_s = 1 << 29                 # no hourly log write inside the lock
        r.store._alive_s = 1 << 29                # nor the minute's state save (opens a file)
        gc.collect()
        micropython.heap_lock()
        try:
            n = 0
            state = 0
            while n < 36000:                      # an hour of 100 ms loop passes
                if n % 5 == 0:                    # a change every 0.5 s
                    state = 4 if state != 4 else 0
                    r.write(L.CARER_LINK, L.NO_COND, state, 104, 1)
                r.step()
                b.t = ticks_add(b.t, 100)
                n += 1
        finally:
            micropython.heap_unlock()
        assert r.store.chatter.link.held == 7200, r.store.chatter.link.held
        assert r.log.lost == 0
    finally:
        _rmtree(d)
