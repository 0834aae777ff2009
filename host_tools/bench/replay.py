"""`make bench` section: `pumpmon replay` throughput on a generated 30-day
1 Hz trace, on both runtimes, against the floor of parsing it with the csv
module, and its peak memory."""
import os
import sys
from pathlib import Path

from host_tools.sim.corpus import ALL, generate


_MAXRSS = ("import resource, sys\n"
           "from host_tools.cli import main\n"
           "rc = main(sys.argv[1:])\n"
           "sys.stderr.write('maxrss_kb %d\\n' % resource.getrusage(resource.RUSAGE_SELF)"
           ".ru_maxrss)\n"
           "sys.exit(rc)\n")


def _cpu_children():
    import resource
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def _timed_replay(path, runtime):
    """(wall s, CPU s of the replay and its children, peak RSS kB). The CPU
    time is what to compare on a shared machine: wall time grows with the
    load of other jobs."""
    import subprocess
    import time
    t = time.perf_counter()
    c = _cpu_children()
    r = subprocess.run([sys.executable, "-c", _MAXRSS, "replay", str(path), "--runtime",
                        runtime, "--out", os.devnull], capture_output=True,
                       text=True)
    dt = time.perf_counter() - t
    cpu = _cpu_children() - c
    if r.returncode != 0:
        raise RuntimeError("replay failed: %s" % r.stderr)
    rss = int(r.stderr.split("maxrss_kb")[-1].split()[0])
    return dt, cpu, rss


def _parse(path):
    """(wall s, CPU s) of reading the trace with the csv module: the floor."""
    import csv as _csv
    import time
    t = time.perf_counter()
    c = time.process_time()
    with open(path, newline="") as f:
        for _row in _csv.reader(f):
            pass
    return time.perf_counter() - t, time.process_time() - c


def section_replay(days=30, runs=2):
    """Rows for `make bench`: replay throughput of a generated `days`-day
    1 Hz trace on both runtimes, as a ratio to parsing it with the csv module,
    and the peak memory (flat with trace length: the trace is streamed).

    This machine's speed drifts by 10-20 % over a minute (other tenants), so
    each CPython replay is timed between two csv parses and compared with
    their mean; `runs` such replays, the ratio their mean."""
    import tempfile
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        short = Path(tmp) / "short.csv"
        generate(ALL["normal"], short, seed=3, duration_s=86400)
        path = Path(tmp) / "long.csv"
        n = generate(ALL["normal"], path, seed=3, duration_s=int(days * 86400))
        _dt, _cpu, rss1 = _timed_replay(short, "cpython")
        before = _parse(path)
        parse = [before]
        ratios = []
        walls = []
        cpus = []
        for _run in range(runs):
            dt, cpu, rss = _timed_replay(path, "cpython")
            after = _parse(path)
            parse.append(after)
            floor = ((before[0] + after[0]) / 2, (before[1] + after[1]) / 2)
            ratios.append((dt / floor[0], cpu / floor[1]))
            walls.append(dt)
            cpus.append(cpu)
            before = after
        pw = sum(p[0] for p in parse) / len(parse)
        pc = sum(p[1] for p in parse) / len(parse)
        rows.append(("parse %d-day trace with csv.reader (the floor)" % days,
                     "%.0f" % (n / pw), "rows/s", "%.2f s (CPU %.2f s; %s), %d rows, %.0f MB"
                     % (pw, pc, "-".join("%.2f" % p[1] for p in parse), n,
                        path.stat().st_size / 1e6)))
        dt = sum(walls) / runs
        cpu = sum(cpus) / runs
        wall_x = sum(r[0] for r in ratios) / runs
        cpu_x = sum(r[1] for r in ratios) / runs
        rows.append(("pumpmon replay, %d days, cpython" % days, "%.0f" % (n / dt), "rows/s",
                     "%.1f s (%.1fx the csv parse beside it; CPU %.1f s, %.1fx; runs %s); "
                     "target <= 12x, < 15 s; a year: ~%.0f min"
                     % (dt, wall_x, cpu, cpu_x, ", ".join("%.1fx" % r[1] for r in ratios),
                        31536000 / (n / dt) / 60)))
        rows.append(("peak memory of the replay, 1 day -> %d days" % days,
                     "%.0f" % (rss / 1024.0), "MB", "1 day: %.0f MB (flat: streamed)"
                     % (rss1 / 1024.0)))
        dt, cpu, rss = _timed_replay(path, "micropython")
        floor = _parse(path)
        rows.append(("pumpmon replay, %d days, micropython" % days, "%.0f" % (n / dt),
                     "rows/s", "%.1f s (%.1fx the csv parse; CPU %.1f s, %.1fx); a year: "
                     "~%.0f min" % (dt, dt / floor[0], cpu, cpu / floor[1],
                                    31536000 / (n / dt) / 60)))
    return "Trace replay throughput (generated 1 Hz trace, full firmware engine)", rows
