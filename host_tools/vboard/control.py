"""The virtual board's control socket: faults, `status` and `stop` from
tests, scripts and `pumpmon board ctl` (docs/virtual-board.md), the server
side (Control) and the client (control())."""
import json
import os
import selectors
import socket
import time

from host_tools.vboard.faults import UsageError
from host_tools.vboard.hwlink import accept, listen_unix, receive


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


def wait_board_ms(path, ms, timeout=60.0):
    """Until the board's time has moved on ms from now, however slowly a
    loaded machine runs it; AssertionError after timeout seconds of wall."""
    until = json.loads(control(path, "status"))["world_ms"] + ms
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if int(control(path, "wait %d" % ms).split()[1]) >= until:
            return
    raise AssertionError("board time did not move on %d ms in %d s" % (ms, timeout))


WAIT_CAP_S = 0.25


class Control:
    """The control socket at `path`: a line in, a line out. `status()` is
    the board's state, `stop()` ends the board, `apply_fault(spec)` any
    other line; `wait` is answered here, against `clock` and the timeline's
    rows; `stopping()` answers every waiter."""

    def __init__(self, sel, path, clock, timeline, status, stop, apply_fault, stopping):
        self.sel = sel
        self.path = path
        self.clock = clock
        self.timeline = timeline
        self.status = status
        self.stop = stop
        self.apply_fault = apply_fault
        self.stopping = stopping
        self.waiters = []           # (conn, board ms, rows noted, wall cap) of `wait`s
        if os.path.exists(path):
            os.unlink(path)
        self.listen = listen_unix(path, 4)
        sel.register(self.listen, selectors.EVENT_READ, (self._accept, None))

    def close(self):
        self.listen.close()
        try:
            if os.path.exists(self.path):
                os.unlink(self.path)
        except OSError:
            pass

    def _accept(self, _arg):
        accept(self.sel, self.listen, self._conn)

    def _conn(self, st):
        if not receive(self.sel, st):
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
        self.waiters.append((conn, self.clock.board_ms + ms, self.timeline.noted,
                             time.monotonic() + WAIT_CAP_S))

    def serve_waiters(self):
        if not self.waiters:
            return
        now = time.monotonic()
        board_ms = self.clock.board_ms
        stopping = self.stopping()
        keep = []
        for w in self.waiters:
            conn, until, noted, cap = w
            if board_ms >= until or self.timeline.noted != noted or now >= cap or stopping:
                try:
                    conn.sendall(b"ok %d\n" % board_ms)
                except OSError:
                    pass
            else:
                keep.append(w)
        self.waiters = keep

    def command(self, line):
        if line == "status":
            return json.dumps(self.status())
        if line == "stop":
            self.stop()
            return "ok"
        try:
            self.apply_fault(line)
        except UsageError as e:
            return "error: %s" % e
        return "ok"
