# The tick benchmark (`make bench`, the "Tick time and heap" table): the
# firmware's engine and the reference (pre-issue-11) engine,
# host_tools/bench/reference_engine.py, on the same recorded readings, alone
# (Engine.tick) and as the whole firmware tick (Monitor.step: engine, alarm
# management, annunciator). main() runs on CPython and on the MicroPython
# unix port (MicroPython-compatible: no f-strings, nothing allocated per tick
# by the driver) and prints one JSON line: us per tick and, on MicroPython,
# heap bytes allocated per tick in steady state (after a 1-hour warm-up).
# section_tick() is the host side (CPython): it runs main() on every runtime
# and makes the table.
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

WARM_S = 3600
REPEATS = 5             # interleaved, best of: the machine is shared
# (label, rate uL/h, scenario): 3 h, so 2 h measured after the warm-up
CASES = (("normal, 50 uL/h pulsatile", 50.0,
          dict(seed=3, rate_ul_h=50.0, duration_s=3 * 3600, pulse_period_s=300)),
         ("no_flow sounding, 30 uL/h", 30.0,
          dict(seed=5, rate_ul_h=30.0, duration_s=3 * 3600, factor=[(1800, 0.0)])))


def _drive(step, t0, lv, fl, fg, i, end):
    while i < end:
        level = lv[i]
        flow = fl[i]
        step(ticks_add(t0, i * 1000), None if level == _NONE else level,
             None if flow == _NONE else flow, fg[i], 0, 0)
        i += 1


def _no_event(code, cond, detail):
    pass


class _EngineStep:
    """Engine.tick with Monitor.step's signature (no button)."""

    def __init__(self, engine_cls, cfg, t0):
        self.e = engine_cls(cfg, t0)

    def step(self, now, level, flow, flags, button, refill):
        self.e.tick(now, level, flow, flags, refill)


def _stepper(engine_cls, whole, cfg, t0):
    if not whole:
        return _EngineStep(engine_cls, cfg, t0)
    m = Monitor(cfg, t0, _no_event)
    m.engine = engine_cls(cfg, t0)
    return m


def measure(engine_cls, whole, arrays, rate, warm_s=WARM_S):
    """(us per tick, heap bytes per tick or None on CPython) after warm_s."""
    lv, fl, fg = arrays
    t0 = ticks_add(0, -1000)
    step = _stepper(engine_cls, whole, Config({"rate_ul_h": rate}), t0).step
    n_all = len(lv)
    _drive(step, t0, lv, fl, fg, 0, warm_s)
    gc.collect()
    is_mp = sys.implementation.name == "micropython"
    if is_mp:
        gc.disable()
        # what the measurement itself costs (the call, the clock): subtracted
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
    out = {"runtime": sys.implementation.name, "ticks": 0, "cases": []}
    for label, rate, kw in CASES:
        arrays = record(Scenario(**kw))
        out["ticks"] = len(arrays[0]) - WARM_S
        for whole in (1, 0):
            row = {"case": label, "what": "Monitor.step" if whole else "Engine.tick"}
            best = {}
            alloc = {}
            for _rep in range(REPEATS):
                for name, cls in (("engine", Engine), ("reference", RefEngine)):
                    us, a = measure(cls, whole, arrays, rate)
                    if name not in best or us < best[name]:
                        best[name] = us
                    alloc[name] = a
            for name in best:
                row[name] = {"us_per_tick": best[name], "bytes_per_tick": alloc[name]}
            out["cases"].append(row)
    print(json.dumps(out))


# ---- the host side (CPython only) -------------------------------------------
def _runs():
    import subprocess
    from pathlib import Path
    from host_tools.paths import BUILD, PACKAGES, micropython, micropython_env

    def run(cmd, env=None):
        return json.loads(subprocess.run(cmd, cwd=PACKAGES, env=env, capture_output=True,
                                         text=True, check=True).stdout)

    runs = [run([sys.executable, "-m", "host_tools.bench.tick"])]
    runs[0]["runtime"] = "CPython"
    for binary, label in ((micropython(), "micropython"),
                          (BUILD / "mp32" / "micropython", "micropython 32-bit")):
        if Path(binary).exists():
            r = run([str(binary), "-X", "heapsize=8M",
                     str(PACKAGES / "host_tools" / "bench" / "tick.py")], micropython_env())
            r["runtime"] = label
            runs.append(r)
    return runs


def section_tick():
    rows = []
    for r in _runs():
        for c in r["cases"]:
            new = c["engine"]
            ref = c["reference"]
            ratio = new["us_per_tick"] / ref["us_per_tick"]
            note = "new / reference = %.2fx (target <= 1.5x)" % ratio
            if c["what"] == "Monitor.step":
                note += "; 1 tick/s on a board"
            rows.append(("%s, %s, %s" % (c["what"], c["case"], r["runtime"]),
                         "%.2f / %.2f" % (new["us_per_tick"], ref["us_per_tick"]), "us", note))
            if new["bytes_per_tick"] is not None:
                rows.append(("  heap allocated per tick, new / reference",
                             "%.3f / %.3f" % (new["bytes_per_tick"], ref["bytes_per_tick"]),
                             "bytes", "target 0 for the new engine (%d ticks)" % r["ticks"]))
    return ("Tick time and heap, new engine / reference engine (steady state: 2 h after "
            "1 h warm-up; best of %d interleaved)" % REPEATS), rows


if __name__ == "__main__":
    main()
