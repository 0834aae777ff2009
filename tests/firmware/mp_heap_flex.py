# Issue 22's detectors under micropython.heap_lock() (any allocation raises
# MemoryError): flex dosing (schedule steps of 10x, the envelope rescaled from
# what was learnt, a stroke pump's extra stroke in the means), a bubble of
# 20 s (air counted, excused), a lone out-of-range flow (judged against the
# level: the flow sensor's fault), a dump at full scale with the level falling
# (over_delivery), a falling level with the flow sensor silent (the level
# decides). Only on MicroPython (both unix ports: make test runs it on each).
import gc
from array import array

import micropython

from host_tools.sim.sensors import NONE as _NONE
from host_tools.sim.sensors import Scenario, record
from pumpmon import alarms as A
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.monitor import Monitor

_H = 3600
_M = 60
# start 06:30: the 08:00 bolus (200 uL/h for 20 min) comes at 1:30
FLEX = [("00:00", 20.0), ("08:00", 200.0), ("08:20", 20.0), ("13:00", 200.0),
        ("13:20", 20.0)]
FULL = 500000            # flow_max_ul_h (50 mL/h) in 0.1 uL/h


def _drive(m, t0, arrays, start, stop, drop):
    """The scenario's readings with the faults of this test written in:
    1:00-1:00:20 air; 1:10-1:11 out of range (999999) with the level steady;
    2:10-2:20 a dump (full scale, flags bit 1, the level falling 1 mL/min);
    2:30-2:40 the flow sensor silent while the level falls as fast."""
    lv, fl, fg = arrays
    i = start
    while i < stop:
        level = lv[i]
        flow = fl[i]
        flags = fg[i]
        if _H <= i < _H + 20:
            flags = 1
        elif _H + 10 * _M <= i < _H + 11 * _M:
            flow = 999999
        elif 2 * _H + 10 * _M <= i < 2 * _H + 20 * _M:
            flow = FULL
            flags = 2
            drop[0] += 17
        elif 2 * _H + 30 * _M <= i < 2 * _H + 40 * _M:
            flow = _NONE
            drop[0] += 17
        if level != _NONE:
            level -= drop[0]
        now = ticks_add(t0, i * 1000)
        m.step(now, None if level == _NONE else level, None if flow == _NONE else flow,
               flags, 0, 0)
        m.poll(ticks_add(now, 500), 0)
        i += 1


def test_issue_22_detectors_allocate_nothing():
    sc = Scenario(seed=4, schedule=[(0, 20.0), (8 * _H, 200.0), (8 * _H + 1200, 20.0),
                                    (13 * _H, 200.0), (13 * _H + 1200, 20.0)],
                  start_s=6 * _H + 30 * _M, duration_s=3 * _H, pulse_period_s=180,
                  capacity_ml=40.0, level_ml=38.0, level_every_s=5)
    arrays = record(sc)
    raised = array("i", [0])
    drop = array("i", [0])

    def sink(code, cond, detail):
        if code == 1:
            raised[0] |= 1 << cond

    t0 = ticks_add(0, -50000)
    m = Monitor(Config({"schedule": FLEX, "start": "06:30", "reservoir_capacity_ml": 40.0}),
                t0, sink, sc.start_s)
    _drive(m, t0, arrays, 0, _H, drop)
    assert raised[0] == 0, raised[0]
    gc.collect()
    micropython.heap_lock()
    try:
        _drive(m, t0, arrays, _H, _H + 9 * _M, drop)   # the bubble: nothing
        quiet = raised[0]
        _drive(m, t0, arrays, _H + 9 * _M, 3 * _H, drop)
    finally:
        micropython.heap_unlock()
    assert quiet == 0, quiet
    got = raised[0]
    for c in (A.FLOW_SENSOR, A.OVER_DELIVERY):
        assert got & (1 << c), (c, got)
    assert not got & (1 << A.NO_FLOW), got
    e = m.engine
    assert e.flow.stop.env_r[0] or e.flow.stop.env_r[1] or e.flow.stop.env_r[2]     # the envelope learnt
