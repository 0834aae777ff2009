"""`make bench`: speed, memory, detection latency and the other figures, as tables.

A section is a function returning (title, rows); a row is (what, value, unit,
target or note). Sections of other parts live in their own modules and are
listed in SECTIONS. `python -m host_tools.bench tick latency` runs only the
sections named (the name after section_).
"""
import json
import sys
import time

from host_tools.bench.detection import section_detection  # detection characteristic
from host_tools.bench.tick import section_tick       # tick time and heap, both engines
from host_tools.bench.boards import section_boards   # compiled size, peak heap per board
from host_tools.bench.log import section_log         # event log: size, speed, retention
from host_tools.bench.replay import section_replay    # replay throughput, 30-day trace
from host_tools.bench.flash import section_flash     # pumpmon flash vs mpremote cp
from host_tools.bench.record import section_record       # sensor recorder: size, ring, speed
from host_tools.bench.carer import section_carer         # the carers' link: loop time vs broker
from host_tools.bench.policy import section_policy       # alarm policy: audible night minutes
from host_tools.bench.display import section_display     # the display's share of the I2C bus
from host_tools.bench.memory import section_memory       # the memory budget: 32-bit, QEMU, 30 days

from host_tools.bench.table import print_table


def _config(sc, overrides=None):
    """The Config a board would run a scenario with (its rate or schedule,
    its reservoir, the time of day it starts, and any settings given)."""
    from pumpmon.config import Config
    values = {"reservoir_capacity_ml": sc.capacity_ml}
    if sc.schedule is None:
        values["rate_ul_h"] = sc.rate
    else:
        values["schedule"] = [("%02d:%02d" % (s // 3600, s // 60 % 60), r)
                              for s, r in sc.schedule]
    if sc.start_s:
        values["start"] = "%02d:%02d" % (sc.start_s // 3600, sc.start_s // 60 % 60)
    values.update(overrides or {})
    return Config(values)


def section_latency():
    """Every detection situation of the catalogue (seed 1), replayed through
    the firmware as `pumpmon replay` does, judged by the one checker."""
    from host_tools.formats.expectations import check_events
    from host_tools.replay.driver import replay
    from host_tools.sim import scenarios as S
    rows = []
    for entry in S.DETECTION:
        name, accepted, _onset, ceiling, kwargs, cfg = entry[:6]
        sc = S.build(kwargs, 1)
        lines = []
        replay(_config(sc, cfg), sc.samples(), lines.append)   # the firmware, as `pumpmon replay`
        events = [json.loads(x) for x in "".join(lines).splitlines()]
        expectation, (start, _deadline) = S.expectation(entry, sc)
        ok = not check_events(events, expectation)
        t = S.first_raised(events, accepted)
        if isinstance(ceiling, str):
            limit = "before true volume %s mL" % ceiling.split(":")[1]
        else:
            limit = "ceiling %d s" % ceiling
        lat = "none" if t is None else "%d" % (t - start)
        rows.append(("%s -> %s" % (name, " or ".join(accepted)), lat, "s",
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
                e = run.monitor.engine  # noqa: B023 - run before the loop moves on
                if s[0] % 10000 == 0 and e.mean10.prog:
                    over_thr = (e.mean10.prog * cfg.over_pct + cfg.over_margin * 100) / 100.0  # noqa: B023
                    hi = max(hi, e.flow_mean / over_thr)
                    lo = min(lo, e.flow_mean / float(e.mean10.prog))

        run.run(watched(sc.samples()))
        rows.append(("%s: lowest measured/programmed" % name, "%.2f" % lo, "",
                     "no_flow below %.2f" % (cfg.no_flow_pct / 100.0)))
        rows.append(("%s: highest measured/over-delivery limit" % name, "%.2f" % hi, "",
                     "over_delivery above 1.00"))
    return "False-alarm margins over %d days of normal delivery (seed 7)" % days, rows


SECTIONS = [section_tick, section_detection, section_latency, section_margin, section_replay,
            section_boards, section_log, section_record, section_flash,
            section_carer, section_policy, section_display, section_memory]


def main(argv=None):
    """Every section, or those named (`python -m host_tools.bench tick latency`:
    the name after section_)."""
    names = sys.argv[1:] if argv is None else argv
    by_name = {fn.__name__[len("section_"):]: fn for fn in SECTIONS}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        sys.stderr.write("unknown section(s) %s; the sections: %s\n"
                         % (", ".join(unknown), " ".join(by_name)))
        return 2
    print("pumpmon benchmark: %s, %s" % (sys.version.split()[0], time.strftime("%Y-%m-%d")))
    for fn in [by_name[n] for n in names] or SECTIONS:
        t = time.time()
        title, rows = fn()
        print_table(title, rows, time.time() - t)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
