"""The bedside view of `pumpmon run` (`make run`): what a carer at the bed
would see and hear, in words, redrawn in place with rich (a live panel that
fits any terminal from 80x24 up; colour follows the alarm: red, yellow,
green; NO_COLOR honoured by rich), or plain lines when the output is not a
terminal (a pipe, a log file, a test). docs/bedside-view.md shows it.
"""
import os
import time

from host_tools.terminal import fmt_t, print_line
from host_tools.view import words as W
from host_tools.view.state import BedsideState, presses

REFRESH_S = 0.25        # the panel is redrawn at most this often


class BedsideView:
    """say(text), draw(board, final=False), summary(...): the interface
    `pumpmon run` drives."""

    def __init__(self, trace, cfg, dur_s, speed, plain, stream, samples=()):
        self.name = os.path.basename(str(trace.path))
        self.cfg = cfg
        self.dur_ms = int(dur_s * 1000)
        self.speed = speed
        self.plain = plain
        self.stream = stream
        self.state = BedsideState(cfg)
        self.presses = presses(samples)     # [(t_ms, duration)] from the trace
        self.n_events = 0
        self.next_plain = 0
        self.last_level = "-"
        self.live = None
        self.console = None
        self.play_start = None      # when the trace began to play (run.py sets it)
        self._drawn = 0.0
        if not plain:
            from rich.console import Console
            self.console = Console(file=stream, highlight=False)

    # ---- messages ------------------------------------------------------------------
    def say(self, text):
        print_line(self.console, self.stream, text)

    # ---- the state, from the board ---------------------------------------------------
    def _catch_up(self, board):
        """New events and button presses, in order; their lines (plain mode)."""
        out = []
        new = board.alarm_events[self.n_events:]
        self.n_events = len(board.alarm_events)
        now_t = board.trace_t(board.world_ms())
        items = [(e["world_ms"], 1, e) for e in new]
        while self.presses and now_t is not None and self.presses[0][0] <= now_t:
            t, dur = self.presses.pop(0)
            items.append((board.world_of(t - dur), 0, dur))
        for when, what, x in sorted(items, key=lambda i: (i[0], i[1])):
            text = self.state.press(when, x) if what == 0 else self.state.event(x, when)
            if text:
                out.append("t=%s %s" % (fmt_t(board.trace_t(when)),
                                        text if what == 0 else "event %s: %s"
                                        % (_ev_text(x), text)))
        return out

    def _readings(self, board):
        cur = board.current
        fl = "-"
        if cur is not None:
            if cur.level is not None:
                self.last_level = "%.2f mL" % (cur.level / 1000.0)
            fl = "-" if cur.flow is None else "%.1f uL/h" % (cur.flow / 10.0)
        t = board.trace_t(board.world_ms())
        prog = "-"
        if t is not None:
            tod = (self.cfg.start_s + t // 1000) % 86400
            prog = "%.1f uL/h" % (self.cfg.rate_at(tod) / 10.0)
        text = "reservoir %s, flow %s, programmed %s" % (self.last_level, fl, prog)
        if self.state.refilling:
            text += "; REFILL mode on"
        return t, text

    # ---- drawing --------------------------------------------------------------------
    def draw(self, board, final=False):
        lines = self._catch_up(board)
        t, readings = self._readings(board)
        now = board.world_ms()
        colour, light, meaning = self.state.light(board.led)
        sound = self.state.sound(now)
        if self.plain:
            out = list(lines)
            step = self.dur_ms // 10 or 1
            if t is not None and (t >= self.next_plain or final):
                self.next_plain = (t // step + 1) * step
                alarms = ", ".join(W.short(a.alarm, a.cause)
                                   for a in self.state.shown()) or "none"
                out += ["t=%s light %s: %s" % (fmt_t(t), light, meaning),
                        "  sound: %s" % sound, "  alarms: %s" % alarms,
                        "  sensors: %s" % readings]
                out += ["  press: %s" % a for a in self.state.actions()]
                shows = display_text(board)
                if shows is not None:
                    out.append("  display: %s" % " / ".join(shows))
                heap = heap_text(board)
                if heap:
                    out.append("  heap: %s" % heap)
            width = plain_width()
            for line in out:
                self.stream.write(wrap(line, width) + "\n")
            self.stream.flush()
            return
        mono = time.monotonic()
        if not final and mono - self._drawn < REFRESH_S:
            return
        self._drawn = mono
        panel = self._panel(board, t, readings, colour, light, meaning, sound)
        if self.live is None:
            from rich.live import Live
            self.live = Live(panel, console=self.console, auto_refresh=False,
                             vertical_overflow="crop")
            self.live.start()
        self.live.update(panel, refresh=True)
        if final:
            self.close()

    def close(self):
        if self.live is not None:
            self.live.stop()
            self.live = None

    def _panel(self, board, t, readings, colour, light, meaning, sound):
        from rich.console import Group
        from rich.padding import Padding
        from rich.panel import Panel
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text
        st = self.state
        width, height = self.console.size
        shown = st.shown()
        border = W.STYLE.get(colour, "")
        if t is not None:
            t = min(t, self.dur_ms)
        pct = 0 if t is None else min(100, t * 100 // max(1, self.dur_ms))
        head = Table.grid(expand=True)
        head.add_column(no_wrap=True)
        head.add_column(ratio=1)
        head.add_row("t %s / %s  %3d%%  " % (fmt_t(t), fmt_t(self.dur_ms), pct),
                     ProgressBar(total=100, completed=pct))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        grid.add_row("Light", Text.assemble(("\u25cf " + light, border), ": " + meaning))
        grid.add_row("Sound", Text(sound, style="bold" if sound.startswith("sounding")
                                   else ""))
        grid.add_row("Sensors", readings)
        if st.coming is not None:
            grid.add_row("Carer", Text("contact %s is coming (answered at %s); the alarm "
                                       "sounds until someone is here"
                                       % (st.coming[1], fmt_t(st.coming[0])), style="bold"))
        shows = display_text(board)
        if shows is not None:     # the board's display, read off its pixels: 2 lines
            grid.add_row("Display", Text(shows[0], no_wrap=True, overflow="ellipsis"))
            grid.add_row("", Text(shows[1], no_wrap=True, overflow="ellipsis"))
        heap = heap_text(board)
        if heap:                  # how much of a Pico's free heap the monitor holds
            grid.add_row("Heap", Text(heap, no_wrap=True, overflow="ellipsis", style="dim"))
        rows = [head, grid, Text("Alarms", style="bold underline")]
        # 80x24 and up: the fixed rows take about 16 lines (18 with the
        # display, one more with the heap); alarms first, then as many
        # recent lines as fit
        spare = max(2, height - (16 if shows is None else 18) - (1 if heap else 0))
        room = max(1, min(len(shown), spare - 1, 4))
        if not shown:
            rows.append(Text("  none", style="green"))
        for a in shown[:room]:
            tag = "cause gone" if not a.present else ""
            if a.acked:
                tag = "acknowledged" + (", " + tag if tag else "")
            rows.append(Text.assemble(
                ("  \u25cf %-6s " % a.priority.upper(), W.PRIORITY_STYLE[a.priority]),
                ("[%s] " % tag if tag else "", "dim"),
                W.describe(a.alarm, a.cause, a.detail),
                no_wrap=True, overflow="ellipsis"))
        if len(shown) > room:
            rows.append(Text("  and %d more" % (len(shown) - room), style="dim"))
        rows.append(Text("What to press", style="bold underline"))
        rows += [Padding(Text(a), (0, 0, 0, 2)) for a in st.actions()]
        rows.append(Text("Just now", style="bold underline"))
        recent = list(st.recent)[-max(1, min(5, spare - min(len(shown), room + 1))):]
        for when, text in recent:
            rows.append(Text("  t=%s %s" % (fmt_t(board.trace_t(when)), text),
                             no_wrap=True, overflow="ellipsis"))
        title = "pumpmon bedside: virtual board, %s at %s" % (self.name, _speed(self.speed))
        return Panel(Group(*rows), title=title, title_align="left", border_style=border,
                     subtitle="Ctrl-C stops", subtitle_align="right",
                     width=min(width, 120))

    # ---- the end ----------------------------------------------------------------------
    def summary(self, board, out, timeline, flash, wall_s):
        self.close()
        raised = [e for e in board.alarm_events if e["event"] == "alarm_raised"]
        self.say("")
        played = board.trace_t(board.world_ms())
        play_s = time.monotonic() - (self.play_start or time.monotonic() - wall_s)
        self.say("summary: %d trace rows played (%s of board time) in %.1f s of wall time "
                 "(%.0fx; ceiling %s; %.0f s in all with flashing); %d board boots; "
                 "%d events in the board's log" % (
                     board.rows, fmt_t(played), play_s,
                     (played or 0) / 1000.0 / max(play_s, 1e-3), _speed(self.speed), wall_s,
                     board.boots, len(board.alarm_events)))
        for e in raised:
            self.say("  raised %-14s %-20s at up %s: %s" % (
                e.get("alarm"), e.get("cause"), fmt_t(e.get("up_s", 0) * 1000),
                W.describe(e.get("alarm"), e.get("cause"), e.get("detail"))))
        if not raised:
            self.say("  no alarm raised")
        self.say("  timeline (every LED/buzzer change): %s" % timeline)
        self.say("  event log on the board's flash: %s  (pumpmon log decode %s)"
                 % (flash / "log", flash / "log"))


def plain_width():
    """The width plain lines are wrapped to: the terminal's (COLUMNS when
    set), else 80 (a pipe, a log file)."""
    import shutil
    return max(40, shutil.get_terminal_size((80, 24)).columns)


def wrap(line, width):
    """A line wrapped at spaces to `width` columns, never inside a word (a
    word longer than the line stays whole), continued indented."""
    import textwrap
    if len(line) <= width:
        return line
    indent = " " * (len(line) - len(line.lstrip(" ")) + 4)
    return "\n".join(textwrap.wrap(line, width, subsequent_indent=indent,
                                    break_long_words=False, break_on_hyphens=False))


def heap_text(board):
    """How much of a Pico's free heap the monitor holds, in words
    (VirtualBoard.heap_text), or None (not said yet, or no such board)."""
    fn = getattr(board, "heap_text", None)
    return fn() if fn is not None else None


def display_text(board):
    """The board's display in two lines of words (its six rows, read off the
    emulated SSD1306's pixels: host_tools/vboard/oled.py), or None when the
    board has none (or it has shown nothing yet)."""
    lines = getattr(board, "display_lines", None)
    if not lines:
        return None
    return (" | ".join(s for s in lines[:3] if s) or "(blank)",
            " | ".join(s for s in lines[3:] if s) or "-")


def _ev_text(e):
    s = e["event"]
    if e.get("alarm"):
        s += " %s/%s" % (e["alarm"], e["cause"])
    if e.get("detail"):
        s += " (%s)" % e["detail"]
    if e.get("reset_cause"):
        s += " (%s)" % e["reset_cause"]
    return s


def _speed(speed):
    """--speed as said: "169x", or "max" (as fast as the machine goes)."""
    return "max" if speed == "max" else "%gx" % speed
