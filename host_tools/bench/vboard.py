"""Figures of the virtual board: startup, soft reset, mpremote fs cp throughput.

    .venv/bin/python -m host_tools.bench.vboard [--size BYTES] [--resets N]

Starts `pumpmon board serve` (a fresh flash folder), then measures:
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=100000)
    ap.add_argument("--resets", type=int, default=10)
    a = ap.parse_args(argv)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
