"""`make bench`: the detection characteristic of the engine (issue 11), side by
side with the reference detector (today's 10-minute-mean engine before issue 11,
host_tools/bench/reference_engine.py) in the same run, on the same readings
(the tick time of both is host_tools/bench/tick.py).

Every fault starts after 90 minutes of normal delivery (the stop test has
learnt the stroke gaps, the 60-min window is full), at a phase that varies with
the seed; both engines see the same generated readings (sensor model of
host_tools/sim/sensors.py, offset fixed at +0.5 or -0.5 uL/h). Latency = first
matching alarm condition - onset. `python -m host_tools.bench.detection` runs
this section alone (SEEDS=n to change the seed count).
"""
import os
import sys

from host_tools.paths import FIRMWARE

if str(FIRMWARE) not in sys.path:
    sys.path.insert(0, str(FIRMWARE))

from host_tools.bench.reference_engine import Engine as RefEngine
from host_tools.sim.sensors import Scenario
from pumpmon import alarms as A
from pumpmon.config import Config
from pumpmon.engine import Engine

MIN = 60
H = 3600
WARM_S = 90 * MIN
RATES = (2.0, 5.0, 10.0, 30.0, 100.0, 200.0)
MODES = (("continuous", 0), ("strokes 1 min", 60), ("strokes 2.5 min", 150),
         ("strokes 5 min", 300))
OFFSETS = (0.5, -0.5)
SEEDS = int(os.environ.get("SEEDS", "10"))


def _b(*conds):
    m = 0
    for c in conds:
        m |= 1 << c
    return m


# fault: (label, factor after onset, flow fault, new engine's mask, reference's
#         mask, time limit after onset)
FAULTS = (
    ("total stop", 0.0, None, _b(A.NO_FLOW, A.PARTIAL_LONG), _b(A.NO_FLOW), 30 * MIN),
    ("fall to 10 %", 0.1, None, _b(A.NO_FLOW, A.PARTIAL_LONG), _b(A.NO_FLOW), 30 * MIN),
    ("40 % partial", 0.4, None, _b(A.NO_FLOW, A.PARTIAL, A.PARTIAL_LONG), _b(A.NO_FLOW),
     150 * MIN),
    ("1.4x over-delivery", 1.4, None, _b(A.OVER_DELIVERY), _b(A.OVER_DELIVERY), 150 * MIN),
    ("sparse readings (stop, every 2nd lost)", 0.0, "alternate",
     _b(A.FLOW_SENSOR, A.NO_FLOW), _b(A.FLOW_SENSOR, A.NO_FLOW), 15 * MIN),
    # issue 22: an overdose is over_delivery, and the first high alarm
    ("10x over-delivery", 10.0, None, _b(A.OVER_DELIVERY), _b(A.OVER_DELIVERY), 20 * MIN),
    ("dump at full scale (50 mL/h)", 1.0, None, _b(A.OVER_DELIVERY), _b(A.OVER_DELIVERY),
     5 * MIN, {"dump": 50000.0}),
    ("dump at 2x full scale (100 mL/h)", 1.0, None, _b(A.OVER_DELIVERY),
     _b(A.OVER_DELIVERY), 5 * MIN, {"dump": 100000.0}),
    # flex dosing: basal = the row's rate, three 20-min boluses a day at 10x;
    # the fault at the 13:00 bolus, 2 h after the start (11:00)
    ("flex dosing: stop 10 min into a bolus", 0.0, None, _b(A.NO_FLOW, A.PARTIAL_LONG),
     _b(A.NO_FLOW), 30 * MIN, {"flex": 10 * MIN}),
    ("flex dosing: a missed bolus (basal only)", 0.1, None,
     _b(A.NO_FLOW, A.PARTIAL, A.PARTIAL_LONG), _b(A.NO_FLOW), 20 * MIN, {"flex": 0}),
)
DUMP_RATES = (2.0, 30.0, 200.0)       # the dump rows: fewer rates (the bench's time)
FLEX_RATES = (2.0, 10.0, 20.0)        # basal rates of the flex rows (boluses 10x)
OVER_ROWS = (5, 6, 7)                 # rows whose first high alarm must be over_delivery


def _flex(basal):
    return [(0, basal), (8 * H, basal * 10), (8 * H + 20 * MIN, basal),
            (13 * H, basal * 10), (13 * H + 20 * MIN, basal),
            (19 * H, basal * 10), (19 * H + 20 * MIN, basal)]
# high-priority conditions of the reference engine (its table had bits 0-6)
REF_HIGH = _b(0, 1, 2, 3, 4, 5, 6)


def target_s(fault, rate, period):
    """(median target, worst target) in s for a row, from issue 11."""
    if fault in (2, 3):
        return None, 2 * H
    if fault == 4:
        return None, 2 * MIN
    if fault == 5:            # 10x: 2 min (a stroke pump: its period more)
        return None, 2 * MIN + period
    if fault in (6, 7):       # a dump at or beyond full scale
        return None, 60
    if fault in (8, 9):       # in a bolus (10x); a missed one is a stop to the test
        rate = rate * 10
    if rate >= 10:
        med, worst = 60, 3 * MIN
    elif rate >= 5:
        med, worst = None, 3 * MIN
    else:
        med, worst = None, 20 * MIN
    if period:
        worst = max(worst, period + 2 * MIN)
        med = None
    return med, worst


def run_one(args):
    """One fault, rate, stroke period, offset and seed: (new latency, reference
    latency, new false high alarms before onset, reference false high)."""
    fault, rate, period, offset, seed = args
    label, factor, ffault, mask_new, mask_ref, limit = FAULTS[fault][:6]
    extra = FAULTS[fault][6] if len(FAULTS[fault]) > 6 else {}
    onset = WARM_S + (seed * 53) % 300
    kw = dict(seed=seed, rate_ul_h=rate, factor=[(onset, factor)], offset_fixed=offset)
    values = {"rate_ul_h": rate}
    if "dump" in extra:
        kw["dump"] = (onset, extra["dump"])
    if "flex" in extra:       # the 13:00 bolus, from an 11:00 start
        onset = 2 * H + extra["flex"] + (seed * 53) % 60
        sched = _flex(rate)
        kw.update(schedule=sched, start_s=11 * H, factor=[(onset, factor)])
        if not extra["flex"]:
            kw["factor"] = [(onset, factor), (onset + 20 * MIN, 1.0)]
        values = {"schedule": [("%02d:%02d" % (t // 3600, t // 60 % 60), r)
                               for t, r in sched], "start": "11:00"}
    kw["duration_s"] = onset + limit
    if period:
        kw.update(pulse_period_s=period, pulse_width_s=20)
    if ffault:
        kw["flow_fault"] = (ffault, onset)
    sc = Scenario(**kw)
    cfg = Config(values)
    new = _Judge(Engine(cfg, 0, sc.start_s), A.HIGH_MASK, mask_new, onset)
    ref = _Judge(RefEngine(cfg, 0), REF_HIGH, mask_ref, onset)
    for t_ms, level, flow, flags, _b_, refill in sc.samples():
        new.tick(t_ms, level, flow, flags, refill)
        ref.tick(t_ms, level, flow, flags, refill)
        if new.latency is not None and ref.latency is not None:
            break
    return new.latency, ref.latency, new.false, ref.false, new.first, ref.first


class _Judge:
    """One engine on the readings: its latency (s) from the onset to a
    condition of `mask`, and whether a condition of `high` came before it."""

    def __init__(self, engine, high, mask, onset):
        self.e = engine
        self.high = high
        self.mask = mask
        self.onset = onset
        self.latency = None
        self.false = 0
        self.first = -1           # the first high-priority condition after the onset

    def tick(self, t_ms, level, flow, flags, refill):
        if self.latency is not None:
            return
        self.e.tick(t_ms, level, flow, flags, refill)
        c = self.e.conditions
        t = t_ms // 1000
        if t < self.onset:
            if c & self.high:
                self.false = 1
            return
        if self.first < 0 and c & self.high:
            self.first = A.lowest_bit(c & self.high)
        if c & self.mask:
            self.latency = t - self.onset


def run_stuck(args):
    """Level reading frozen from 2 h: latency of level_sensor, and the time
    0.5 mL takes at the programmed rate."""
    rate, seed = args
    budget = int(0.5 / (rate / 1000.0) * H)
    onset = 2 * H
    sc = Scenario(seed=seed, rate_ul_h=rate, duration_s=onset + budget + H,
                  level_stuck_s=onset, level_every_s=10, capacity_ml=40.0, level_ml=38.0)
    e = Engine(Config({"rate_ul_h": rate, "reservoir_capacity_ml": 40.0}), 0)
    for t_ms, level, flow, flags, _b_, refill in sc.samples():
        e.tick(t_ms, level, flow, flags, refill)
        if e.conditions & (1 << A.LEVEL_SENSOR):
            return t_ms // 1000 - onset, budget
    return None, budget


def _stats(values, n):
    got = sorted(v for v in values if v is not None)
    if not got:
        return "none", "none"
    med = got[len(got) // 2]
    worst = "%d" % got[-1] if len(got) == n else "miss %d/%d" % (n - len(got), n)
    return "%d" % med, worst


def _pool_map(fn, tasks):
    jobs = int(os.environ.get("JOBS", "2"))
    if jobs <= 1:
        return [fn(t) for t in tasks]
    import multiprocessing
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        return pool.map(fn, tasks, chunksize=4)


def characteristic():
    tasks = []
    only = os.environ.get("FAULT")      # development: one fault's rows only
    for f in range(len(FAULTS)):
        if only is not None and f != int(only):
            continue
        rates = DUMP_RATES if f in (6, 7) else FLEX_RATES if f in (8, 9) else RATES
        for rate in rates:
            for _name, period in MODES:
                for off in OFFSETS:
                    for seed in range(1, SEEDS + 1):
                        tasks.append((f, rate, period, off, seed))
    results = _pool_map(run_one, tasks)
    table = {}
    for task, res in zip(tasks, results):
        table.setdefault(task[:4], []).append(res)
    return table


def section_detection():
    table = characteristic()
    rows = []
    met = total = 0
    false_new = false_ref = runs = 0
    for (f, rate, period, off), res in sorted(table.items()):
        n = len(res)
        runs += n
        false_new += sum(r[2] for r in res)
        false_ref += sum(r[3] for r in res)
        nm, nw = _stats([r[0] for r in res], n)
        rm, rw = _stats([r[1] for r in res], n)
        med_t, worst_t = target_s(f, rate, period)
        lat = sorted(r[0] for r in res if r[0] is not None)
        ok = len(lat) == n and lat[-1] <= worst_t and (
            med_t is None or lat[n // 2] <= med_t)
        met += ok
        total += 1
        mode = [m for m, p in MODES if p == period][0]
        target = ("med <= %d, " % med_t if med_t else "") + "worst <= %d" % worst_t
        first = ""
        if f in OVER_ROWS:    # the first high alarm, new engine; the reference's
            n_over = sum(1 for r in res if r[4] == A.OVER_DELIVERY)
            ref_first = sorted(set(r[5] for r in res))
            ok = ok and n_over == n
            first = ";  first high over_delivery %d/%d (reference: %s)" % (
                n_over, n, "/".join(A.TABLE[c][2] if c >= 0 else "none" for c in ref_first))
        rows.append(("%s, %g uL/h, %s, offset %+.1f" % (FAULTS[f][0], rate, mode, off),
                     "%s / %s" % (nm, nw), "s",
                     "reference %s / %s;  target %s%s%s" % (rm, rw, target, first,
                                                            "" if ok else "  MISSED")))
    rows.append(("rows meeting their target (new engine)", "%d/%d" % (met, total), "", ""))
    rows.append(("high-priority alarms before the fault, new / reference",
                 "%d / %d" % (false_new, false_ref), "runs", "of %d runs each" % runs))
    stuck = _pool_map(run_stuck, [(r, s) for r in (10.0, 30.0, 100.0, 200.0)
                                  for s in (1, 2, 3)])
    for i, rate in enumerate((10.0, 30.0, 100.0, 200.0)):
        res = stuck[i * 3:i * 3 + 3]
        lat = [r[0] for r in res]
        budget = res[0][1]
        worst = max(lat) if None not in lat else None
        rows.append(("level reading stuck, %g uL/h (3 seeds)" % rate,
                     "none" if worst is None else "%d" % worst, "s",
                     "worst; target <= %d (0.5 mL at the rate); reference: never%s"
                     % (budget, "" if worst is not None and worst <= budget else "  MISSED")))
    return ("Detection characteristic: latency median / worst over %d seeds (s), new engine; "
            "reference = the 10-min-mean engine before issue 11" % SEEDS), rows


# registered in host_tools/bench/__main__.py
SECTIONS = [section_detection]


if __name__ == "__main__":
    from host_tools.bench.table import print_table
    import time
    t = time.time()
    title, rows = section_detection()
    print_table(title, rows, time.time() - t)
