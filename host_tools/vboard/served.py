"""A `pumpmon board serve` in a process group of its own, started and stopped
from another program (the benchmarks, the tests): waits for its "vboard
ready" line and knows the port to give mpremote or `pumpmon flash`."""
import os
import re
import select
import signal
import subprocess
import sys
import time


class ServedBoard:
    def __init__(self, pty, flash, extra=(), stderr=subprocess.DEVNULL, timeout=30):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "host_tools.cli", "board", "serve", "--pty", str(pty),
             "--flash", str(flash)] + [str(a) for a in extra],
            stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL,
            start_new_session=True)
        line = b""
        end = time.monotonic() + timeout
        while not line.endswith(b"\n") and time.monotonic() < end:
            if select.select([self.proc.stdout], [], [], 0.5)[0]:
                c = os.read(self.proc.stdout.fileno(), 1)
                if not c:
                    break
                line += c
        self.line = line
        m = re.search(r"(/\S+)", line.decode(errors="replace"))
        self.port = str(pty) if os.path.exists(str(pty)) else (m.group(1) if m else None)
        self.ready = line.endswith(b"\n") and self.port is not None

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
