"""`make bench`: speed, memory, detection latency and the other figures, as tables.

A section is a function returning (title, rows); a row is (what, value, unit,
target or note). Sections of other parts live in their own modules and are
listed in SECTIONS.
"""
import json
import subprocess
import sys
import time

from host_tools.bench.detection import SECTIONS as DETECTION_SECTIONS  # detection table, engine tick
from host_tools.bench.boards import section_boards   # compiled size, peak heap per board
from host_tools.bench.log import section_log         # event log: size, speed, retention
from host_tools.bench.replay import section_replay    # replay throughput, 30-day trace
from host_tools.bench.flash import section_flash     # pumpmon flash vs mpremote cp
from host_tools.bench.record import section_record       # sensor recorder: size, ring, speed
from host_tools.bench.carer import section_carer         # the carers' link: loop time vs broker

from host_tools.bench.table import print_table
from host_tools.paths import HOST_TOOLS, micropython, micropython_env


def _tick_rows(res):
    rt = res["runtime"]
    rows = []
    for case in ("normal", "alarm"):
        r = res[case]
        label = "normal delivery" if case == "normal" else "no_flow sounding"
        rows.append(("engine tick, %s, %s" % (label, rt), "%.1f" % r["us_per_tick"], "us",
                     "1 tick/s on a board"))
        if r["bytes_per_tick"] is not None:
            rows.append(("heap allocated per tick, %s, %s" % (label, rt),
                         "%.3f" % r["bytes_per_tick"], "bytes", "target 0 (%d ticks)" % r["ticks"]))
    return rows


def section_tick():
    rows = []
    out = subprocess.run([sys.executable, "-m", "host_tools.bench.tick"],
                         capture_output=True, text=True, check=True).stdout
    rows += _tick_rows(json.loads(out))
    out = subprocess.run([micropython(), "-X", "heapsize=8M", str(HOST_TOOLS / "bench" / "tick.py")],
                         env=micropython_env(), capture_output=True, text=True, check=True).stdout
    rows += _tick_rows(json.loads(out))
    return "Engine speed and heap (steady state, 3 h after 1 h warm-up)", rows


def _config(sc):
    """The Config a board would run a scenario with (its rate or schedule,
    its reservoir, the time of day it starts)."""
    from pumpmon.config import Config
    values = {"reservoir_capacity_ml": sc.capacity_ml}
    if sc.schedule is None:
        values["rate_ul_h"] = sc.rate
    else:
        values["schedule"] = [("%02d:%02d" % (s // 3600, s // 60 % 60), r)
                              for s, r in sc.schedule]
    if sc.start_s:
        values["start"] = "%02d:%02d" % (sc.start_s // 3600, sc.start_s // 60 % 60)
    return Config(values)


def _first_raised(events, kind, cause):
    """Trace seconds of the first alarm_raised of kind (and cause), or None."""
    for line in events:
        e = json.loads(line)
        if e["event"] == "alarm_raised" and e["alarm"] == kind and \
                (cause is None or e["cause"] == cause):
            return e["t_ms"] // 1000
    return None


def section_latency():
    from host_tools.replay.driver import replay
    from host_tools.sim import scenarios as S
    rows = []
    for name, kind, cause, onset, ceiling, kwargs in S.SITUATIONS:
        sc = S.build(kwargs, 1)
        events = []
        replay(_config(sc), sc.samples(), events.append)   # the firmware, as `pumpmon replay`
        start = S.onset_of(onset, sc)
        t = _first_raised(events, kind, cause)
        if isinstance(ceiling, str):
            limit = "before true volume %s mL" % ceiling.split(":")[1]
            ok = t is not None and t <= S.onset_of(ceiling, sc)
        else:
            limit = "ceiling %d s" % ceiling
            ok = t is not None and t - start <= ceiling
        lat = "none" if t is None else "%d" % (t - start)
        rows.append(("%s -> %s%s" % (name, kind, "/" + cause if cause else ""), lat, "s",
                     ("%s%s" % (limit, "" if ok else "  MISSED"))))
    return "Detection latency (seed 1; negative = before the truth, e.g. empty alarm " \
           "before the last drop)", rows


def section_margin():
    from host_tools.replay.driver import Replay
    from host_tools.sim import scenarios as S
    rows = []
    days = 3
    for name, kw in S.SOAK:
        sc = S.soak_scenario(kw, 7, days)
        cfg = _config(sc)
        run = Replay(cfg, lambda line: None)
        hi = 0.0
        lo = 1e9

        def watched(samples):
            # the driver has stepped the Monitor with s when it asks for the next
            nonlocal hi, lo
            for s in samples:
                yield s
                e = run.monitor.engine
                if s[0] % 10000 == 0 and e.prog_mean:
                    over_thr = (e.prog_mean * cfg.over_pct + cfg.over_margin * 100) / 100.0
                    hi = max(hi, e.flow_mean / over_thr)
                    lo = min(lo, e.flow_mean / float(e.prog_mean))

        run.run(watched(sc.samples()))
        rows.append(("%s: lowest measured/programmed" % name, "%.2f" % lo, "",
                     "no_flow below %.2f" % (cfg.no_flow_pct / 100.0)))
        rows.append(("%s: highest measured/over-delivery limit" % name, "%.2f" % hi, "",
                     "over_delivery above 1.00"))
    return "False-alarm margins over %d days of normal delivery (seed 7)" % days, rows


SECTIONS = [section_tick, section_latency, section_margin, section_replay, section_boards,
            section_log, section_record, section_flash, section_carer]
SECTIONS[1:1] = DETECTION_SECTIONS


def main():
    print("pumpmon benchmark: %s, %s" % (sys.version.split()[0], time.strftime("%Y-%m-%d")))
    for fn in SECTIONS:
        t = time.time()
        title, rows = fn()
        print_table(title, rows, time.time() - t)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
