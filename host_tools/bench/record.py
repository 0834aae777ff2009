"""Sensor recording figures for `make bench` and `make bench-record`: bytes
per sample, default ring hours, record, decode and fetch throughput.

    python -m host_tools.bench.record [--no-vboard]
"""
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from host_tools.formats.recording import record
from host_tools.formats.recording import parse_ring
from host_tools.paths import FIRMWARE, ROOT, micropython_env, tool


_MP_BENCH = r"""
import os, sys, time
from pumpmon import recorder as R
d = sys.argv[1]
rec = R.Recorder(d + '/rec', 3, 4000 * R.REC)
n = 3000
t = time.ticks_us()
i = 0
while i < n:
    rec.sample(i, 18000 - i, 300 + (i & 7), 0, 0, 0)
    i += 1
dt = time.ticks_diff(time.ticks_us(), t)
print(n * 1000000 // dt, dt // n)
"""


def bench(vboard=True):
    """Rows for the report: record size, the default ring, throughput."""
    import os
    import time
    sys.path[:0] = [str(FIRMWARE)]
    from pumpmon import recorder as R
    rows = []
    per_seg = R.SEG_BYTES // R.REC
    kept = (R.SEGMENTS - 1) * (per_seg - 1)
    rows.append(("record", "%d" % R.REC, "bytes/sample",
                 "+1 header per segment (%d samples) and per boot: %.3f B/sample"
                 % (per_seg - 1, R.REC * per_seg / (per_seg - 1.0))))
    rows.append(("default ring", "%d" % (R.SEGMENTS * per_seg * R.REC), "bytes",
                 "%d x %d B segments (%d KiB of 4 KiB blocks); the oldest is dropped first"
                 % (R.SEGMENTS, per_seg * R.REC, R.SEGMENTS * R.SEG_BYTES // 1024)))
    rows.append(("kept at 1 Hz", "%.1f" % (kept / 3600.0), "hours",
                 "at least %d samples (%d full segments)" % (kept, R.SEGMENTS - 1)))
    rows.append(("per day", "%.0f" % (86400 * R.REC * per_seg / (per_seg - 1.0) / 1024), "KiB",
                 "86 400 samples"))
    with tempfile.TemporaryDirectory() as tmp:
        # the firmware's recorder, real files, write + flush per sample
        rec = R.Recorder(tmp + "/rec", 3, 4000 * R.REC)
        t = time.perf_counter()
        for i in range(3000):
            rec.sample(i, 18000 - i, 300 + (i & 7), 0, 0, 0)
        dt = time.perf_counter() - t
        rec.close()
        rows.append(("recorder.sample(), CPython", "%.0f" % (3000 / dt), "samples/s",
                     "%.0f us each (write + flush to a host file)" % (dt / 3000 * 1e6)))
        mp = tool("micropython")
        if mp:
            env = micropython_env()
            os.makedirs(tmp + "/mp")
            r = subprocess.run([str(mp), "-c", _MP_BENCH, tmp + "/mp"], env=env,
                               capture_output=True, text=True, timeout=120)
            if r.returncode == 0:
                rate, us = r.stdout.split()
                rows.append(("recorder.sample(), unix port", rate, "samples/s",
                             "%s us each (write + flush to a host file)" % us))
        # the host side: a full default ring decoded and written as a trace
        ring = Path(tmp) / "ring"
        rec = R.Recorder(str(ring), R.SEGMENTS, R.SEG_BYTES)
        for i in range(kept + per_seg):
            rec.sample(i, 18000 - i // 60, 300 + (i % 7) - 3, 0, 0, 0)
        rec.close()
        size = sum(q.stat().st_size for q in ring.iterdir())
        t = time.perf_counter()
        sessions, _p = parse_ring([ring])
        n, _b, _c = record(sessions, {}, Path(tmp) / "t.csv")
        dt = time.perf_counter() - t
        rows.append(("decode + write trace (host)", "%.0f" % (n / dt), "samples/s",
                     "a full default ring: %d samples, %d bytes, %.1f s" % (n, size, dt)))
        if vboard:
            rows.append(_bench_fetch(ring, size, tmp))
    return "Sensor recording (docs/recording.md)", rows


def section_record():
    """The section for `make bench` (host_tools/bench/__main__.py): (title, rows)."""
    return bench(True)


def _bench_fetch(ring, size, tmp):
    """`trace record --port` against the virtual board holding a full ring."""
    import time
    flash = Path(tmp) / "flash"
    shutil.copytree(ring, flash / "rec")
    (flash / "config.json").write_text(json.dumps({"rate_ul_h": 30.0}))
    pty = Path(tmp) / "tty"
    board = subprocess.Popen(
        [sys.executable, "-m", "host_tools.cli", "board", "serve", "--quiet", "--flash",
         str(flash), "--flash-size", str(4 << 20), "--socket", "-1", "--pty", str(pty)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        board.stdout.readline()
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "host_tools.cli", "trace", "record", "--port",
                            str(pty), "--out", str(Path(tmp) / "f.csv"), "--no-restart"],
                           cwd=ROOT, capture_output=True, text=True, timeout=1800)
        dt = time.perf_counter() - t
    finally:
        board.terminate()
        board.wait(20)
    if r.returncode != 0:
        return ("trace record --port (virtual board)", "-", "", "failed: %s" % r.stderr[-200:])
    return ("trace record --port, virtual board", "%.0f" % (size / dt / 1024), "KiB/s",
            "%.0f s for a full 24 h ring (mpremote fs cp over a pty)" % dt)


if __name__ == "__main__":
    title, _rows = bench("--no-vboard" not in sys.argv)
    print(title)
    for what, value, unit, note in _rows:
        print("  %-34s %10s %-12s %s" % (what, value, unit, note))
