"""The virtual board's terminal view (`pumpmon board serve` on a terminal):
one status line redrawn, keys for faults."""
import os
import selectors
import sys
import termios
import time
import tty

from host_tools.vboard.timeline import fmt_t

KEYS = {"p": "button=press", "a": "button=long", "h": "hang", "r": "reset",
        "c": "power-cut", "s": "flow=silent", "o": "flow=ok", "f": "flash=fail",
        "g": "flash=ok"}


class LiveView:
    """One status line redrawn on a terminal; plain lines otherwise."""

    def __init__(self, stream=sys.stdout):
        self.stream = stream
        self.tty = stream.isatty()
        self.last = 0.0

    def __call__(self, board):
        now = time.monotonic()
        if not self.tty or now - self.last < 0.1:
            return
        self.last = now
        cur = board.current
        if cur is not None:
            lv = "-" if cur.level is None else "%.2f mL" % (cur.level / 1000.0)
            fl = "-" if cur.flow is None else "%.1f uL/h" % (cur.flow / 10.0)
        else:
            lv = fl = "-"
        w = board.world_ms()
        t = board.trace_t(w)
        vm = board.vm
        state = "off" if vm is None else ("raw REPL" if board.raw else "running")
        if board.trace is not None and board.trace_world0 is None:
            state += ", trace waits for the firmware's first sensor read"
        led = board.led or "-"
        faults = ",".join("%s=%s" % kv for kv in board.world_faults.items()) or "none"
        line = "t=%s level %s flow %s | LED %s | buzzer %s | %s | faults %s" % (
            fmt_t(t), lv, fl, _led_mark(led), ("%d Hz" % board.tone) if board.tone else "-",
            state, faults)
        self.stream.write("\r\x1b[K" + line[:200])
        self.stream.flush()

    def message(self, text):
        if self.tty:
            self.stream.write("\r\x1b[K" + text + "\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _led_mark(name):
    codes = {"red": "31", "green": "32", "yellow": "33"}
    c = codes.get(name)
    return "\x1b[%sm●\x1b[0m %s" % (c, name) if c else name


class Keys:
    def __init__(self, board):
        self.board = board
        self.quit = False
        self.old = None

    def start(self):
        fd = sys.stdin.fileno()
        self.old = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        self.board.sel.register(fd, selectors.EVENT_READ, ("stdin", self.read))

    def read(self):
        ch = os.read(sys.stdin.fileno(), 16).decode(errors="ignore")
        for c in ch:
            if c == "q":
                self.quit = True
            elif c in KEYS:
                self.board.apply_fault(KEYS[c])

    def stop(self):
        if self.old is not None:
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self.old)
            self.old = None
