# The tick benchmark itself: runs on CPython and on the MicroPython unix port.
# Prints one JSON line: microseconds per tick and heap bytes per tick in
# steady state (normal delivery, and with a no_flow alarm sounding).
import gc
import json
import sys

from host_tools.bench.us import ticks_us
from host_tools.bench.us import us_diff as _us_diff
from host_tools.sim.sensors import NONE as _NONE
from host_tools.sim.sensors import Scenario, record
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.monitor import Monitor


def _drive(step, t0, lv, fl, fg, i, end):
    while i < end:
        level = lv[i]
        flow = fl[i]
        step(ticks_add(t0, i * 1000), None if level == _NONE else level,
             None if flow == _NONE else flow, fg[i], 0, 0)
        i += 1


def measure(sc, warm_s):
    lv, fl, fg = record(sc)
    cfg = Config({"rate_ul_h": sc.rate, "reservoir_capacity_ml": sc.capacity_ml})
    t0 = ticks_add(0, -1000)
    events = []
    m = Monitor(cfg, t0, lambda c, k, d: events.append(c))
    n_all = len(lv)
    _drive(m.step, t0, lv, fl, fg, 0, warm_s)
    n_events = len(events)
    gc.collect()
    is_mp = sys.implementation.name == "micropython"
    if is_mp:
        gc.disable()
        # what the measurement itself costs (the call, the clock): subtracted
        a0 = gc.mem_alloc()
        _drive(m.step, t0, lv, fl, fg, warm_s, warm_s)
        ticks_us()
        overhead = gc.mem_alloc() - a0
        a0 = gc.mem_alloc()
    start = ticks_us()
    _drive(m.step, t0, lv, fl, fg, warm_s, n_all)
    us = _us_diff(ticks_us(), start)
    alloc = None
    if is_mp:
        alloc = gc.mem_alloc() - a0 - overhead
        gc.enable()
    n = n_all - warm_s
    return {"ticks": n, "us_per_tick": us / n,
            "bytes_per_tick": None if alloc is None else alloc / n,
            "events_during": len(events) - n_events}


def main():
    normal = measure(Scenario(seed=3, rate_ul_h=50.0, duration_s=4 * 3600,
                              pulse_period_s=300), 3600)
    alarm = measure(Scenario(seed=5, rate_ul_h=30.0, duration_s=4 * 3600,
                             factor=[(1800, 0.0)]), 3600)
    print(json.dumps({"runtime": sys.implementation.name, "normal": normal, "alarm": alarm}))


main()
