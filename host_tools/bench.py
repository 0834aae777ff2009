"""`make bench`: speed, memory, detection latency and the other figures, as tables.

A section is a function returning (title, rows); a row is (what, value, unit,
target or note). Sections of other parts live in their own modules and are
listed in SECTIONS.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from host_tools.bench_boards import section_boards   # compiled size, peak heap per board
from host_tools.bench_log import section_log         # event log: size, speed, retention
from host_tools.corpus import section_replay         # replay throughput, 30-day trace
from host_tools.flash_bench import section_flash     # pumpmon flash vs mpremote cp
from host_tools.tracerec import section_record       # sensor recorder: size, ring, speed

ROOT = Path(__file__).resolve().parent.parent
MICROPYTHON = Path(sys.executable).parent / "micropython"


def micropython_env():
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join(
        [".frozen", str(ROOT / "firmware"), str(ROOT / "tests" / "firmware"), str(ROOT)])
    return env


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
    out = subprocess.run([sys.executable, "-m", "host_tools.bench_tick"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    rows += _tick_rows(json.loads(out))
    out = subprocess.run([str(MICROPYTHON), "-X", "heapsize=8M",
                          str(ROOT / "host_tools" / "bench_tick.py")], cwd=ROOT,
                         env=micropython_env(), capture_output=True, text=True, check=True).stdout
    rows += _tick_rows(json.loads(out))
    return "Engine speed and heap (steady state, 3 h after 1 h warm-up)", rows


def section_latency():
    sys.path[:0] = [str(ROOT / "firmware"), str(ROOT / "tests" / "firmware")]
    from harness import Run

    from host_tools import situations as S
    rows = []
    for name, kind, cause, onset, ceiling, kwargs in S.SITUATIONS:
        sc = S.build(kwargs, 1)
        run = Run(sc).go()
        start = S.onset_of(onset, sc)
        t = run.first(kind, cause)
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
    sys.path[:0] = [str(ROOT / "firmware"), str(ROOT / "tests" / "firmware")]
    from harness import Run

    from host_tools import situations as S
    from pumpmon.clock import ticks_add
    rows = []
    days = 3
    for name, kw in S.SOAK:
        sc = S.soak_scenario(kw, 7, days)
        run = Run(sc)
        m = run.monitor
        e = m.engine
        cfg = run.cfg
        hi = 0.0
        lo = 1e9
        for t_ms, level, flow, flags, button, refill in sc.samples():
            m.step(ticks_add(run.t0, t_ms), level, flow, flags, button, refill)
            if t_ms % 10000 == 0 and e.prog_mean:
                over_thr = (e.prog_mean * cfg.over_pct + cfg.over_margin * 100) / 100.0
                hi = max(hi, e.flow_mean / over_thr)
                lo = min(lo, e.flow_mean / float(e.prog_mean))
        rows.append(("%s: lowest measured/programmed" % name, "%.2f" % lo, "",
                     "no_flow below %.2f" % (cfg.no_flow_pct / 100.0)))
        rows.append(("%s: highest measured/over-delivery limit" % name, "%.2f" % hi, "",
                     "over_delivery above 1.00"))
    return "False-alarm margins over %d days of normal delivery (seed 7)" % days, rows


SECTIONS = [section_tick, section_latency, section_margin, section_replay, section_boards,
            section_log, section_record, section_flash]
from host_tools.bench_detection import SECTIONS as _DETECTION  # noqa: E402  issue 11
SECTIONS[1:1] = _DETECTION


def print_table(title, rows, seconds):
    print()
    print("## %s  (%.0f s)" % (title, seconds))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    for what, value, unit, note in rows:
        print("  %-*s  %*s %-5s  %s" % (w0, what, w1, value, unit, note))


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
