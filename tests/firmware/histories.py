# Long, random schedule histories for the engine (issue 22): any schedule shape
# (up to 24 entries, rate ratios up to 20x, boluses of minutes), gaps in time,
# refills and a final stop, driven straight into Engine.tick with the sensor
# model's noise. Used by test_engine_properties.py: with hypothesis on CPython,
# and with seeded histories on the unix ports. MicroPython-compatible.
from array import array

from host_tools.sim.sensors import Rng
from pumpmon import alarms as A
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.engine import Engine

DAY = 86400
SMALL = 1 << 30          # a 32-bit port's small ints are below this
# the configuration (floats and lists, not engine state); the last ticks_ms
# value, the port's own clock (it wraps within the port's small ints: 2**30 on
# a board, 2**62 on the 64-bit unix port)
_SKIP = ("cfg", "_last")


def schedule_of(basal_x10, entries):
    """entries: [(minutes after the previous entry (>= 1), ratio x 100 (100..2000))];
    the first entry starts at 00:00. Entries past the day are dropped. Returns
    the schedule as Config takes it and the rates (0.1 uL/h) per entry."""
    out = []
    minute = 0
    for k in range(len(entries)):
        gap, ratio = entries[k]
        if k:
            minute += gap
        if minute >= 1440:
            break
        rate = basal_x10 * ratio // 100
        out.append(("%02d:%02d" % (minute // 60, minute % 60), rate / 10.0))
    return out


def check_small(obj, where="engine", depth=0):
    """Every int the engine (and its reservoir part) keeps is a small int of
    a 32-bit port: |v| < 2**30, arrays included. The failures, as text."""
    bad = []
    d = getattr(obj, "__dict__", None)
    if d is None:
        return bad
    for name in d:
        if name in _SKIP:
            continue
        v = d[name]
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            if not -SMALL < v < SMALL:
                bad.append("%s.%s = %d" % (where, name, v))
        elif isinstance(v, (array, bytearray)):
            for i in range(len(v)):
                if not -SMALL < v[i] < SMALL:
                    bad.append("%s.%s[%d] = %d" % (where, name, i, v[i]))
                    break
        elif depth < 2 and getattr(v, "__dict__", None) is not None:
            bad += check_small(v, where + "." + name, depth + 1)
    return bad


def stop_target_s(rate_x10, period, stepped_down_s):
    """How long a stop may take to be found (issue 11's targets, docs/engine.md):
    continuous >= 5 uL/h 3 min, below 20 min; a stroke pump its period + 2 min
    more at worst. Within 35 min after a step down the learnt gaps may be
    stretched up to stroke_max_s (300 s): 1.25 x 300 s + 2 min."""
    t = 180 if rate_x10 >= 50 else 1200
    if period:
        t = max(t, period + 120)
    if stepped_down_s is not None and stepped_down_s < 35 * 60:
        t = max(t, 375 + 120)
    return t


class History:
    """One history: a schedule (basal x ratios), a pump (continuous, or a
    stroke of 20 s every period s), a fixed zero offset, `days` days with
    gaps in time [(t_s, length_s)] and refills [t_s] (refill mode 5 min,
    the reservoir filled) before the last 2 h, and a stop at stop_s."""

    def __init__(self, basal_x10, entries, period, offset_x10, days, gaps, refills,
                 stop_s, seed):
        self.sched = schedule_of(basal_x10, entries)
        self.cfg = Config({"schedule": self.sched, "reservoir_capacity_ml": 20.0})
        self.period = period
        self.offset = offset_x10
        self.end_s = int(days * DAY)
        self.gaps = sorted(gaps)
        self.refills = sorted(refills)
        self.stop_s = stop_s
        self.rng = Rng(seed)
        self.found_s = None       # first no_flow after the stop, s after it
        self.errors = []          # values out of the small-int range
        self.exception = None
        self.last_step_down = None
        self.high_before_stop = 0  # high-priority conditions raised before (mask)

    def run(self, until_found=True):
        cfg = self.cfg
        now = ticks_add(0, -90000)      # the ticks counter wraps, as on a board
        e = Engine(cfg, now)
        rng = self.rng
        vol = 18000.0             # true reservoir volume, uL
        gi = 0
        ri = 0
        refill_until = -1
        prev_rate = cfg.rate_at(0)
        stepped = None
        t = 0
        width = 20
        end = self.stop_s + 1800 if until_found else self.end_s
        if end > self.end_s:
            end = self.end_s
        no_flow = 1 << A.NO_FLOW
        try:
            while t < end:
                if gi < len(self.gaps) and t >= self.gaps[gi][0]:
                    t += self.gaps[gi][1]        # no tick at all: a gap in time
                    now = ticks_add(now, self.gaps[gi][1] * 1000)
                    gi += 1
                    continue
                if ri < len(self.refills) and t >= self.refills[ri]:
                    refill_until = t + 300
                    ri += 1
                refill = 1 if t < refill_until else 0
                if refill and vol < 19000.0:
                    vol += 200.0
                prog = cfg.rate_at(t % DAY)      # 0.1 uL/h
                if prog < prev_rate:
                    stepped = t
                prev_rate = prog
                rate = 0 if t >= self.stop_s else prog
                if self.period:
                    true = rate * self.period // width if (t % self.period) < width else 0
                else:
                    true = rate
                vol -= true / 36000.0
                if vol < 3000.0 and refill_until < t:
                    refill_until = t + 300       # the carer refills when it runs low
                g = rng.gauss()
                flow = int(true + self.offset + g * (10 + 3 * true // 100))
                level = None
                if t % 10 == 0:
                    level = int(vol + rng.gauss() * 30) // 10 * 10
                e.tick(now, level, flow, 0, refill)
                now = ticks_add(now, 1000)
                c = e.conditions
                if t < self.stop_s:
                    self.high_before_stop |= c & A.HIGH_MASK
                elif self.found_s is None and c & no_flow:
                    self.found_s = t - self.stop_s
                    self.stepped_before_stop = (None if stepped is None
                                                else self.stop_s - stepped)
                    if until_found:
                        break
                if t % 3600 == 0:
                    self.errors += check_small(e)
                t += 1
        except Exception as ex:  # noqa: BLE001 - the property: none at all
            self.exception = repr(ex)
        self.errors += check_small(e)
        self.engine = e
        return self

    def target_s(self):
        """The stop's target, from the rate at the stop."""
        rate = self.cfg.rate_at(self.stop_s % DAY)
        sd = getattr(self, "stepped_before_stop", None)
        return stop_target_s(rate, self.period, sd)


def random_history(seed, days):
    """A history drawn from the sensor model's generator (for the ports, where
    hypothesis does not run): the same ranges as the hypothesis strategy."""
    r = Rng(seed)
    n = 1 + r.u32() % 24
    entries = [(1 + r.u32() % 120, 100 + r.u32() % 1901) for _ in range(n)]
    basal = 15 + r.u32() % 236                   # 1.5 .. 25.0 uL/h
    period = (0, 0, 60, 120, 180, 300)[r.u32() % 6]
    offset = -5 + r.u32() % 11
    end = int(days * DAY)
    gaps = [(3600 + r.u32() % (end - 4 * 3600), 1 + r.u32() % 600) for _ in range(r.u32() % 4)]
    refills = [3600 + r.u32() % (end - 4 * 3600) for _ in range(r.u32() % 3)]
    stop = end - 3600 + r.u32() % 1800
    return History(basal, entries, period, offset, days, gaps, refills, stop, seed)
