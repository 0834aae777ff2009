"""`make soak`: a year of normal delivery through the whole firmware Monitor.

Every rate of the detection table (2-200 uL/h) x every stroke mode (continuous,
strokes every ~1, ~2.5 and ~5 min; the stroke periods just below the round
figure, where the 60-min mean aliases most) x both worst zero offsets (+0.5 and
-0.5 uL/h, fixed), each with a daily schedule step (rate x1.5 from 08:00 to
20:00), a refill in refill mode at the end of day 1 and whenever the
reservoir runs low,
and the sensor model's spikes and dropouts. 48 configurations x DAYS days
(default 8: 384 days) on CPython, and a shorter run (1 day each) on the
MicroPython unix port. Then the scenario catalogue's soak
(host_tools/sim/scenarios.py SOAK: 7 configurations x 30 days, a 40 mL
reservoir and its refills; `make test` runs it for a few days). Prints the high- and medium-priority alarms per year;
exit status 1 if any high-priority alarm was raised.

The configuration builder and the run are MicroPython-compatible:
`micropython host_tools/bench/soak.py --mp DAYS` prints one JSON line.
"""
import json
import sys

from host_tools.sim.sensors import Scenario
from pumpmon import alarms as A
from pumpmon.clock import ticks_add
from pumpmon.config import Config
from pumpmon.monitor import Monitor

H = 3600
RATES = (2.0, 5.0, 10.0, 30.0, 100.0, 200.0)
MODES = ((0, "continuous"), (59, "strokes 59 s"), (148, "strokes 148 s"),
         (298, "strokes 298 s"))
OFFSETS = (0.5, -0.5)


def configs():
    out = []
    for rate in RATES:
        for period, mode in MODES:
            for off in OFFSETS:
                out.append((rate, period, off, "%g uL/h, %s, offset %+.1f" % (rate, mode, off)))
    return out


def scenario(cfg, days, seed):
    rate, period, off, _name = cfg
    kw = dict(seed=seed, schedule=[(0, rate), (8 * H, rate * 1.5), (20 * H, rate)],
              start_s=(seed * 3 % 24) * H, duration_s=int(days * 86400),
              capacity_ml=20.0, level_ml=18.0, auto_refill_ml=3.0, refill_s=[86400 - 600],
              level_every_s=10, offset_fixed=off)
    if period:
        kw.update(pulse_period_s=period, pulse_width_s=20)
    return Scenario(**kw)


def soak_one(cfg, days, seed):
    """Run one configuration; return (high raised [(t_s, cause, detail)],
    medium raised per cause {cause: n}). A refill_today (high) raised while the
    reservoir really held a day or less of programmed delivery (or <= 1 mL;
    10 % and 0.3 mL of margin for the level sensor's noise) is a true alarm
    (the model refills late, at auto_refill_ml): counted in medium as
    'refill_today_true', not as a false high alarm."""
    sc = scenario(cfg, days, seed)
    c = Config({"schedule": [("%02d:%02d" % (s // 3600, s // 60 % 60), r)
                             for s, r in sc.schedule],
                "start": "%02d:00" % (sc.start_s // 3600), "reservoir_capacity_ml": 20.0})
    return run(sc, c)


def run(sc, c):
    """The Monitor through a scenario with Config c: (high, medium) as
    soak_one returns them."""
    high = []
    medium = {}
    clock = [0]
    level = [None]            # the last level reading, uL
    day_ul = c.daily_ul       # programmed uL per day

    def on_event(code, cond, detail):
        if code != 1:
            return
        kind, prio, cause = A.TABLE[cond]
        if cond == A.REFILL_TODAY and level[0] is not None and (
                level[0] * 10 <= day_ul * 11 or level[0] <= 1300):
            medium["refill_today_true"] = medium.get("refill_today_true", 0) + 1
        elif prio == A.HIGH:
            high.append((clock[0], cause, A.DETAIL_NAMES[detail]))
        else:
            medium[cause] = medium.get(cause, 0) + 1

    now = ticks_add(0, -90000)
    m = Monitor(c, now, on_event, sc.start_s)
    last = 0
    for t_ms, lv, flow, flags, button, refill in sc.samples():
        now = ticks_add(now, t_ms - last)
        last = t_ms
        clock[0] = t_ms // 1000
        if lv is not None:
            level[0] = lv
        m.step(now, lv, flow, flags, button, refill)
    return high, medium


def _task(args):
    i, days = args
    return soak_one(configs()[i], days, 100 + i)


def _catalogue_task(i):
    """The scenario catalogue's soak entry i (host_tools/sim/scenarios.py
    SOAK: 30 days, a 40 mL reservoir, refills when it runs low), as
    tests/firmware/test_soak.py runs it for a few days."""
    from host_tools.sim import scenarios as S
    _name, kwargs = S.SOAK[i]
    sc = S.soak_scenario(kwargs, 11 + i)
    values = {"reservoir_capacity_ml": sc.capacity_ml}
    if sc.schedule is None:
        values["rate_ul_h"] = sc.rate
    else:                 # flex dosing (issue 22)
        values["schedule"] = [("%02d:%02d" % (s // 3600, s // 60 % 60), r)
                              for s, r in sc.schedule]
    return run(sc, Config(values))


def _summary(results, days, label):
    n_high = 0
    partial = 0
    lowres = 0
    today = 0
    lines = []
    for (cfg, (high, medium)) in results:
        n_high += len(high)
        partial += medium.get("partial", 0)
        lowres += medium.get("volume", 0) + medium.get("days_to_empty", 0)
        today += medium.get("refill_today_true", 0)
        if high or medium.get("partial"):
            lines.append("  %s: high %r, medium %r" % (cfg[3], high, medium))
    total_days = days * len(results)
    per_year = 365.0 / total_days
    print("%s: %d configurations x %g days = %g simulated days" % (
        label, len(results), days, total_days))
    print("  high-priority alarms: %d (%.1f per year)" % (n_high, n_high * per_year))
    print("  medium under_delivery/partial (false): %d (%.1f per year)" % (
        partial, partial * per_year))
    print("  medium low_reservoir (true: the reservoir was low before each refill): %d"
          % lowres)
    print("  high low_reservoir/refill_today (true: a day or less left before a late refill): %d"
          % today)
    for line in lines:
        print(line)
    return n_high


def main(argv):
    if argv and argv[0] == "--mp":      # on the unix port: one JSON line
        days = float(argv[1])
        out = []
        for i, cfg in enumerate(configs()):
            high, medium = soak_one(cfg, days, 200 + i)
            out.append([i, high, medium])
        print(json.dumps(out))
        return 0
    import multiprocessing
    import os
    import subprocess
    import time
    from host_tools.paths import PACKAGES, micropython, micropython_path
    days = float(os.environ.get("DAYS", "8"))
    mp_days = float(os.environ.get("MP_DAYS", "1"))
    t = time.time()
    env = dict(os.environ)
    env["MICROPYPATH"] = micropython_path()
    mp = subprocess.Popen([micropython(), "-X", "heapsize=8M",
                           str(PACKAGES / "host_tools" / "bench" / "soak.py"), "--mp",
                           str(mp_days)], cwd=PACKAGES, env=env, stdout=subprocess.PIPE, text=True)
    cfgs = configs()
    jobs = int(os.environ.get("JOBS", "2"))
    with multiprocessing.get_context("fork").Pool(max(1, jobs - 1)) as pool:
        res = pool.map(_task, [(i, days) for i in range(len(cfgs))], chunksize=1)
    bad = _summary(list(zip(cfgs, res)), days, "CPython (%.0f s)" % (time.time() - t))
    from host_tools.sim import scenarios as S
    with multiprocessing.get_context("fork").Pool(max(1, jobs - 1)) as pool:
        res = pool.map(_catalogue_task, range(len(S.SOAK)), chunksize=1)
    bad += _summary([((0, 0, 0, name), r) for (name, _kw), r in zip(S.SOAK, res)],
                    S.SOAK_DAYS, "CPython, the catalogue's soak (%.0f s)" % (time.time() - t))
    out, _ = mp.communicate()
    if mp.returncode != 0:
        print("MicroPython soak failed (exit %d)" % mp.returncode)
        return 1
    mres = [(cfgs[i], (high, medium)) for i, high, medium in json.loads(out)]
    bad += _summary(mres, mp_days, "MicroPython unix port (%.0f s)" % (time.time() - t))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
