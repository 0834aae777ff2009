# Engine tick time, side by side: the firmware's engine and the reference
# (pre-issue-11) engine on the same recorded readings. Runs on CPython and on
# the MicroPython unix port; prints one JSON line: us per tick and, on
# MicroPython, heap bytes allocated per tick (steady state, after warm-up).
import gc
import json
import sys

from host_tools.bench.reference_engine import Engine as RefEngine
from host_tools.bench.us import ticks_us
from host_tools.bench.us import us_diff as _us_diff
from host_tools.sim.sensors import NONE as _NONE
from host_tools.sim.sensors import Scenario, record
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.engine import Engine
from pumpmon.monitor import Monitor


# the same driver as tick.py's (not imported: tick.py runs its benchmark when loaded)
def _drive(step, t0, lv, fl, fg, i, end):
    while i < end:
        level = lv[i]
        flow = fl[i]
        step(ticks_add(t0, i * 1000), None if level == _NONE else level,
             None if flow == _NONE else flow, fg[i], 0, 0)
        i += 1


def _monitor(engine_cls, cfg, t0):
    """The whole firmware tick (engine + alarm management + annunciator),
    with the engine given."""
    m = Monitor(cfg, t0, _no_event)
    m.engine = engine_cls(cfg, t0)
    return m


def _no_event(code, cond, detail):
    pass


class _EngineStep:
    """Engine.tick with Monitor.step's signature (no button)."""

    def __init__(self, engine_cls, cfg, t0):
        self.e = engine_cls(cfg, t0)

    def step(self, now, level, flow, flags, button, refill):
        self.e.tick(now, level, flow, flags, refill)


def measure(engine_cls, whole, arrays, rate, warm_s):
    lv, fl, fg = arrays
    t0 = ticks_add(0, -1000)
    cfg = Config({"rate_ul_h": rate})
    obj = _monitor(engine_cls, cfg, t0) if whole else _EngineStep(engine_cls, cfg, t0)
    step = obj.step
    n_all = len(lv)
    _drive(step, t0, lv, fl, fg, 0, warm_s)
    gc.collect()
    is_mp = sys.implementation.name == "micropython"
    if is_mp:
        gc.disable()
        a0 = gc.mem_alloc()
        _drive(step, t0, lv, fl, fg, warm_s, warm_s)
        ticks_us()
        overhead = gc.mem_alloc() - a0
        a0 = gc.mem_alloc()
    start = ticks_us()
    _drive(step, t0, lv, fl, fg, warm_s, n_all)
    us = _us_diff(ticks_us(), start)
    alloc = None
    if is_mp:
        alloc = gc.mem_alloc() - a0 - overhead
        gc.enable()
    n = n_all - warm_s
    return us / n, None if alloc is None else alloc / n


def main():
    cases = (("normal, 50 uL/h pulsatile", 50.0,
              Scenario(seed=3, rate_ul_h=50.0, duration_s=3 * 3600, pulse_period_s=300)),
             ("stopped, 30 uL/h", 30.0,
              Scenario(seed=5, rate_ul_h=30.0, duration_s=3 * 3600, factor=[(1800, 0.0)])))
    out = {"runtime": sys.implementation.name, "cases": []}
    for label, rate, sc in cases:
        arrays = record(sc)
        for whole in (0, 1):
            row = {"case": label, "what": "Monitor.step" if whole else "Engine.tick"}
            best = {}
            alloc = {}
            # interleaved, best of 5: the machine is shared
            for _rep in range(5):
                for name, cls in (("engine", Engine), ("reference", RefEngine)):
                    us, a = measure(cls, whole, arrays, rate, 3600)
                    if name not in best or us < best[name]:
                        best[name] = us
                    alloc[name] = a
            for name in best:
                row[name] = {"us_per_tick": best[name], "bytes_per_tick": alloc[name]}
            out["cases"].append(row)
    print(json.dumps(out))


main()
