"""Figures of the virtual board: board-time speed and determinism under load;
startup, soft reset, mpremote fs cp throughput.

    .venv/bin/python -m host_tools.bench.vboard [--cut S] [--hogs N] [--size BYTES]
                                                [--resets N] [--no-serial]

Board time (docs/virtual-board.md: virtual, granted by the host): the demo
trace (traces/demo.csv, or its first --cut seconds) is flashed and played to
its end at --speed max twice, once on the machine as it is and once beside
--hogs processes burning a CPU each. Printed for each: trace rows delivered,
board time, wall time, the board-time speed reached (board s per wall s), the
alarms with their board times; then whether the two runs' figures, timelines
and event logs are the same (they must be: the same inputs).

Then it starts `pumpmon board serve` (a fresh flash folder) and measures:
  - startup: from launching the command to its "vboard ready" line (the VM
    has booted and connected its peripherals);
  - soft reset: Ctrl-D at the raw prompt until the raw prompt is back
    ("OK / MPY: soft reboot / raw REPL"), median of N, with mpremote's own
    SerialTransport;
  - fs cp: `mpremote connect X fs cp FILE :FILE` of a random file, wall time
    of the whole command, on the pty symlink, on /dev/pts/N (mpremote reads a
    /dev/pts device without its 10 ms polling sleep) and on socket://.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
from host_tools.paths import ROOT  # noqa: E402


def board_time(cut_s, hogs):
    """The demo played at full speed, idle and beside CPU hogs: the table."""
    from host_tools.vboard.play import cut_trace, log_bytes, play, timeline_bytes
    from host_tools.terminal import fmt_t
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        trace = ROOT / "traces" / "demo.csv"
        if cut_s:
            trace = cut_trace(trace, d / "demo-cut.csv", cut_s)
        runs = []
        for label, n in (("as it is", 0), ("%d CPU hog%s" % (hogs, "s" * (hogs != 1)), hogs)):
            procs = [subprocess.Popen([sys.executable, "-c", "while True:\n    pass\n"])
                     for _ in range(n)]
            try:
                load = os.getloadavg()[0]
                p = play(trace, d / ("run%d" % len(runs)), speed="max")
            finally:
                for h in procs:
                    h.kill()
                    h.wait()
            runs.append((label, load, p))
        print("board time at --speed max: %s (%s of board time), flashed with pumpmon flash"
              % (trace.name, fmt_t(runs[0][2].board_ms)))
        print("| machine | load before | rows delivered | trace's board time | wall s (play; "
              "with flashing) | board-time speed reached | boots | alarms raised (board time) |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for label, load, p in runs:
            raised = ", ".join("%s/%s %s" % (a[1], a[2], fmt_t(a[3])) for a in p.alarms
                               if a[0] == "alarm_raised") or "none"
            # speed: the trace's board time over the wall time it took to play
            print("| %s | %.1f | %d | %s | %.1f; %.1f | %.0fx | %d | %s |" % (
                label, load, p.rows, fmt_t(p.trace_ms), p.play_s, p.wall_s,
                p.trace_ms / 1000.0 / max(p.play_s, 1e-3), p.boots, raised))
        a, b = runs[0][2], runs[1][2]
        same = (a.rows, a.board_ms, a.alarms) == (b.rows, b.board_ms, b.alarms)
        same_tl = timeline_bytes(a.timeline) == timeline_bytes(b.timeline)
        same_log = log_bytes(a.log) == log_bytes(b.log)
        print("same figures: %s; same timeline bytes (%d rows): %s; same event log bytes: %s"
              % (_yes(same), timeline_bytes(a.timeline).count(b"\n"), _yes(same_tl),
                 _yes(same_log)))
        return same and same_tl and same_log


def _yes(ok):
    return "yes" if ok else "NO"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cut", type=int, default=0, metavar="S",
                    help="play only the demo's first S seconds (default: all of it)")
    ap.add_argument("--hogs", type=int, default=2, help="CPU-burning processes (default 2)")
    ap.add_argument("--no-serial", action="store_true",
                    help="board time only: no startup, soft reset, fs cp figures")
    ap.add_argument("--size", type=int, default=100000)
    ap.add_argument("--resets", type=int, default=10)
    a = ap.parse_args(argv)
    ok = board_time(a.cut, a.hogs)
    if a.no_serial:
        return 0 if ok else 1
    print()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        t0 = time.monotonic()
        p = subprocess.Popen([str(BIN / "pumpmon"), "board", "serve", "--quiet", "--pty",
                              str(d / "tty"), "--flash", str(d / "flash"), "--flash-size",
                              str(4 * 1024 * 1024)], stdout=subprocess.PIPE, cwd=ROOT)
        try:
            line = p.stdout.readline().decode()
            startup = time.monotonic() - t0
            info = dict(kv.split("=", 1) for kv in line.split()[2:])
            print("startup (command to 'vboard ready'): %.3f s" % startup)
            from mpremote.transport_serial import SerialTransport
            t = SerialTransport(info["pty"], baudrate=115200)
            t.enter_raw_repl(soft_reset=False)
            times = []
            for _ in range(a.resets):
                s = time.monotonic()
                t.serial.write(b"\x04")
                t.read_until(1, b"raw REPL; CTRL-B to exit\r\n", timeout=10)
                times.append(time.monotonic() - s)
                t.read_until(1, b">", timeout=10)
            t.exit_raw_repl()
            t.close()
            times.sort()
            print("soft reset in raw REPL (Ctrl-D to raw prompt), median of %d: %.3f s "
                  "(min %.3f, max %.3f)" % (len(times), times[len(times) // 2], times[0],
                                            times[-1]))
            blob = d / "blob.bin"
            blob.write_bytes(os.urandom(a.size))
            for name, port in (("pty symlink", info["pty"]), ("/dev/pts", info["tty"]),
                               ("socket", info["socket"])):
                s = time.monotonic()
                target = "blob%d.bin" % len(name)     # a new file each time
                r = subprocess.run([str(BIN / "mpremote"), "connect", port, "fs", "cp",
                                    str(blob), ":" + target], capture_output=True)
                el = time.monotonic() - s
                ok = r.returncode == 0 and (d / "flash" / target).read_bytes() == \
                    blob.read_bytes()
                print("mpremote fs cp %d bytes via %-11s %.2f s = %.1f KB/s%s" % (
                    a.size, name + ":", el, a.size / el / 1000, "" if ok else " (FAILED)"))
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(15)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
