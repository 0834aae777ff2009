# Proof that the steady-state tick allocates nothing: run it under
# micropython.heap_lock(), where any allocation raises MemoryError. Only on
# MicroPython (CPython has no heap lock).
import gc

import micropython

from harness import Run
from host_tools.sim.sensors import NONE as _NONE
from host_tools.sim.sensors import Scenario, record
from pumpmon.clock import ticks_add

def _drive(run, arrays, start, stop):
    m = run.monitor
    lv, fl, fg = arrays
    t0 = run.t0
    i = start
    while i < stop:
        level = lv[i]
        flow = fl[i]
        m.step(ticks_add(t0, i * 1000), None if level == _NONE else level,
               None if flow == _NONE else flow, fg[i], 0, 0)
        # the main loop polls the button and patterns between samples too
        m.poll(ticks_add(t0, i * 1000 + 500), 0)
        i += 1


def _locked(run, arrays, start, stop):
    gc.collect()
    micropython.heap_lock()
    try:
        _drive(run, arrays, start, stop)
    finally:
        micropython.heap_unlock()


def test_steady_tick_allocates_nothing():
    # 3 h of normal pulsatile delivery: 1 h to settle, 2 h locked (every
    # bucket, minute and mismatch judgement runs under the lock)
    sc = Scenario(seed=3, rate_ul_h=50.0, duration_s=3 * 3600, pulse_period_s=300)
    arrays = record(sc)
    run = Run(sc)
    _drive(run, arrays, 0, 3600)
    assert not run.events, run.events
    _locked(run, arrays, 3600, 3 * 3600)
    assert not run.events


def test_sounding_alarm_allocates_nothing():
    # delivery stops at 1 h; once no_flow sounds, 1 h more under the lock
    sc = Scenario(seed=5, rate_ul_h=30.0, duration_s=3 * 3600, factor=[(3600, 0.0)])
    arrays = record(sc)
    run = Run(sc)
    _drive(run, arrays, 0, 5400)
    assert run.first("no_flow") is not None
    n = len(run.events)
    _locked(run, arrays, 5400, 3 * 3600)
    assert len(run.events) == n
    assert run.monitor.manager.sound_kind() == 0


def test_heap_lock_is_effective():
    # the lock really catches an allocation (else the tests above prove nothing)
    micropython.heap_lock()
    try:
        try:
            _x = [1, 2, 3]
            failed = False
        except MemoryError:
            failed = True
    finally:
        micropython.heap_unlock()
    assert failed
