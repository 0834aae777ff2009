# Event log figures for `make bench`: bytes per record, records per second
# (CPython and the MicroPython unix port, real files in /tmp, flushed like on
# the board), records and bytes written per hour and per day by the Runner on
# a board in memory, and how long the default log holds.
#   python -m host_tools.bench.log          the table
#   micropython host_tools/bench/log.py     the speed part only, one JSON line
import json
import os
import sys
import time

from host_tools.bench.us import ticks_us
from host_tools.bench.us import us_diff as _us_diff
from host_tools.sim.memboard import MemBoard
from pumpmon import eventlog as L


N_SPEED = 3000


def _tmp():
    r = os.urandom(6)
    p = "/tmp/pm_bench_log_" + "".join("%02x" % b for b in r)
    os.mkdir(p)
    return p


def _rm(p):
    for n in os.listdir(p):
        q = p + "/" + n
        if os.stat(q)[0] & 0x4000:
            _rm(q)
        else:
            os.remove(q)
    os.rmdir(p)


def speed(n=N_SPEED):
    """Records appended per second with the default segments (rotating), and
    the time to find the end of a full newest segment at boot."""
    d = _tmp()
    try:
        log = L.EventLog(d + "/log")
        t = ticks_us()
        i = 0
        while i < n:
            log.append(1, 0, 0, i, 0, 1, 0, i, 300, 300, 250)
            i += 1
        us = _us_diff(ticks_us(), t)
        log.close()
        # fill the newest segment, then time a boot's scan of it
        log = L.EventLog(d + "/log")
        while log.ring.count < log.ring.per_seg - 1:
            log.append(17, 255, 0, 0, 0, 0, 0, 1, 2, 3, 4)
        log.close()
        t = ticks_us()
        log = L.EventLog(d + "/log")
        boot_us = _us_diff(ticks_us(), t)
        ok = log.seq == n + 1 + (log.ring.per_seg - 1 - n % log.ring.per_seg) and log.lost == 0
        log.close()
        return {"runtime": sys.implementation.name, "records": n,
                "per_s": n * 1000000 // max(us, 1), "boot_scan_ms": boot_us / 1000.0,
                "ok": ok}
    finally:
        _rm(d)


class _DeskBoard(MemBoard):
    """The in-memory board with time moved only by the caller."""

    def sleep_ms(self, ms):
        pass


def day_figures(hours=24):
    """The Runner on a fake board for `hours` of quiet delivery, then one
    alarm episode (no_flow, acknowledged, cleared) and a refill: records and
    bytes written."""
    from pumpmon.clock import ticks_add
    from pumpmon.config import Config
    from pumpmon.runner import Runner
    d = _tmp()
    try:
        b = _DeskBoard(ticks_add(0, -20000))
        r = Runner(b, Config({"rate_ul_h": 30}), flash=d, rec_segments=0)  # event log only
        r.note_config(Config({"rate_ul_h": 30}))

        def sec(n):
            for _ in range(n):
                r.step()
                b.t = ticks_add(b.t, 1000)

        sec(hours * 3600)
        quiet = r.log.ring.writes
        state0 = r.store.state.gen
        b.flow = 0
        sec(15 * 60)
        b.btn = 1
        sec(3)
        b.btn = 0
        b.flow = 300
        sec(20 * 60)
        b.refill_mode = 1
        sec(600)
        b.refill_mode = 0
        sec(60)
        episode = r.log.ring.writes - quiet
        states = r.store.state.gen - state0
        return quiet, episode, states
    finally:
        _rm(d)


def section_log():
    import subprocess
    from host_tools.paths import micropython, micropython_env
    rows = [("record size", "%d" % L.REC, "bytes", "fixed; CRC32 included (docs/log-format.md)")]
    res = [speed()]
    out = subprocess.run([micropython(), "-X", "heapsize=1M", __file__],
                         env=micropython_env(), capture_output=True, text=True, check=True).stdout
    res.append(json.loads(out))
    for s in res:
        rows.append(("append + flush, %s" % s["runtime"], "%d" % s["per_s"], "rec/s",
                     "%d records over 8 x 16 KiB segments%s" % (
                         s["records"], "" if s["ok"] else "  WRONG SEQUENCE")))
        rows.append(("boot: find the end of a full segment, %s" % s["runtime"],
                     "%.1f" % s["boot_scan_ms"], "ms", "reads at most one segment"))
    quiet, episode, states = day_figures(24)
    per_seg = 16384 // L.REC
    keep = 7 * per_seg
    rows.append(("records in 24 h of quiet delivery", "%d" % quiet, "", "boot + config + "
                 "hourly status"))
    rows.append(("record bytes written per hour, quiet", "%.0f" % (quiet * L.REC / 24.0),
                 "bytes", "plus littlefs metadata per flush"))
    rows.append(("records for one alarm episode + refill", "%d" % episode, "",
                 "raised, acked, paused, resumed, cleared, refill start/end, status"))
    rows.append(("state file saves for that episode", "%d" % states, "", "24 bytes each, "
                 "write + rename"))
    rows.append(("default log holds (8 x 16 KiB, oldest dropped)", "%d" % keep, "records",
                 "at least 7 full segments of %d" % per_seg))
    day_quiet = 24.0
    rows.append(("  = days at 24 status records/day", "%.0f" % (keep / day_quiet), "days",
                 "quiet"))
    busy = day_quiet + episode
    rows.append(("  = days with one alarm episode every day", "%.0f" % (keep / busy), "days",
                 "%.0f records/day" % busy))
    return "Event log on flash", rows


def main():
    from host_tools.bench.table import print_table
    t = time.time()
    title, rows = section_log()
    print_table(title, rows, time.time() - t)
    return 0


if __name__ == "__main__":
    if sys.implementation.name == "micropython":
        print(json.dumps(speed()))
    else:
        sys.exit(main())
