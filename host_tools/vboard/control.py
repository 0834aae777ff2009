"""The virtual board's control socket: faults, `status` and `stop` from
tests, scripts and `pumpmon board ctl` (docs/virtual-board.md), the server
side (a part of VirtualBoard) and the client."""
import json
import os
import selectors
import socket
import time

from host_tools.vboard.faults import UsageError
from host_tools.vboard.hwlink import listen_unix


def control(path, line, timeout=5.0):
    """Send one line to a running board's control socket; its reply."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall((line + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf.decode().strip()
    finally:
        s.close()


WAIT_CAP_S = 0.25


class Control:
    def _setup_control(self):
        self.waiters = []           # (conn, board ms, rows noted, wall cap) of `wait`s
        if os.path.exists(self.control_path):
            os.unlink(self.control_path)
        self.ctl_listen = listen_unix(self.control_path, 4)
        self.sel.register(self.ctl_listen, selectors.EVENT_READ, ("ctl_accept", None))

    def _ctl_accept(self, _arg=None):
        self._accept(self.ctl_listen, "ctl_conn")

    def _ctl_conn(self, st):
        if not self._receive(st):
            return
        conn = st.sock
        while b"\n" in st.buf:
            line, st.buf = st.buf.split(b"\n", 1)
            line = line.decode(errors="replace").strip()
            if line.split(" ")[0] == "wait":
                self._wait(conn, line)
                continue
            reply = self.command(line)
            try:
                conn.sendall((reply + "\n").encode())
            except OSError:
                pass

    # `wait [MS]`: the answer ("ok BOARD_MS") comes once board time has moved
    # MS on (default 1000), or the timeline got a row, or, when board time
    # stands still (no firmware sleeping: the REPL), after WAIT_CAP_S: tests
    # wait on board time and timeline rows this way, not on wall-clock sleeps
    def _wait(self, conn, line):
        arg = line[4:].strip()
        ms = int(arg) if arg.isdigit() else 1000
        self.waiters.append((conn, self.board_ms + ms, self.noted,
                             time.monotonic() + WAIT_CAP_S))

    def _serve_waiters(self):
        if not self.waiters:
            return
        now = time.monotonic()
        keep = []
        for w in self.waiters:
            conn, until, noted, cap = w
            if self.board_ms >= until or self.noted != noted or now >= cap or self.stopping:
                try:
                    conn.sendall(b"ok %d\n" % self.board_ms)
                except OSError:
                    pass
            else:
                keep.append(w)
        self.waiters = keep

    def command(self, line):
        if line == "status":
            return json.dumps(self.status())
        if line == "stop":
            self.stopping = True
            return "ok"
        try:
            self.apply_fault(line)
        except UsageError as e:
            return "error: %s" % e
        return "ok"

    def status(self):
        vm = self.vm
        cur = self.current
        return {
            "world_ms": self.world_ms(), "t_ms": self.trace_t(self.world_ms()),
            "speed": self.speed or "max",
            "vm": None if vm is None else {"pid": vm.pid, "mode": vm.mode, "cause": vm.cause,
                                           "hello": vm.hello, "watchdog_ms": vm.wdt_ms},
            "raw": self.raw, "led": self.led, "tone": self.tone, "boots": self.boots,
            "trace_started": self.trace_world0 is not None, "trace_done": self.trace_done,
            "sample": None if cur is None else list(cur), "faults": dict(self.world_faults),
            "counts": dict(self.counts),
        }
