"""The virtual board's terminal view (`pumpmon board serve` on a terminal):
one status line redrawn in place (rich), keys for faults."""
import atexit
import os
import selectors
import sys
import termios
import time
import tty

from host_tools.terminal import print_line
from host_tools.vboard.timeline import fmt_t
from host_tools.view.words import STYLE

REFRESH_S = 0.25        # the status is redrawn at most this often

KEYS = {"p": "button=press", "a": "button=long", "h": "hang", "r": "reset",
        "c": "power-cut", "s": "flow=silent", "o": "flow=ok", "f": "flash=fail",
        "g": "flash=ok"}


class LiveView:
    """The status redrawn in place on a terminal (rich: cut to the terminal's
    width, never wrapped, so a redraw never leaves a copy behind and the
    endpoints printed above stay on screen); plain lines otherwise."""

    def __init__(self, stream=sys.stdout):
        self.stream = stream
        self.tty = stream.isatty()
        self.last = 0.0
        self.live = None
        self.console = None
        if self.tty:
            from rich.console import Console
            self.console = Console(file=stream, highlight=False)

    def __call__(self, board):
        now = time.monotonic()
        if not self.tty or now - self.last < REFRESH_S:
            return
        self.last = now
        text = _status(board)
        if self.live is None:
            from rich.live import Live
            self.live = Live(text, console=self.console, auto_refresh=False,
                             vertical_overflow="crop")
            self.live.start()
            atexit.register(self.close)
        self.live.update(text, refresh=True)

    def message(self, text):
        print_line(self.console, self.stream, text)

    def close(self):
        if self.live is not None:
            self.live.stop()
            self.live = None


def _status(board):
    from rich.text import Text
    cur = board.current
    if cur is not None:
        lv = "-" if cur.level is None else "%.2f mL" % (cur.level / 1000.0)
        fl = "-" if cur.flow is None else "%.1f uL/h" % (cur.flow / 10.0)
    else:
        lv = fl = "-"
    t = board.trace_t(board.world_ms())
    vm = board.vm
    state = "off" if vm is None else ("raw REPL" if board.raw else "running")
    if board.trace is not None and board.trace_world0 is None:
        state += ", trace waits for the firmware's first sensor read"
    led = board.led or "-"
    faults = ",".join("%s=%s" % kv for kv in board.world_faults.items()) or "none"
    line = Text.assemble(
        "t=%s level %s flow %s | LED " % (fmt_t(t), lv, fl),
        ("\u25cf " + led, STYLE.get(led, "")),
        " | buzzer %s | %s | faults %s" % (
            ("%d Hz" % board.tone) if board.tone else "-", state, faults),
        no_wrap=True, overflow="ellipsis")
    return line


class Keys:
    def __init__(self, board):
        self.board = board
        self.quit = False
        self.old = None

    def start(self):
        fd = sys.stdin.fileno()
        self.old = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        self.board.sel.register(fd, selectors.EVENT_READ, (self.read, None))

    def read(self, _arg=None):
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
