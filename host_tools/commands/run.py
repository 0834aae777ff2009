"""`pumpmon run` (`make run`): the monitor working, on the virtual board.

Starts a virtual board (host_tools/vboard/) with a trace (default: the
bundled demo, traces/demo.csv) at a speed that plays it in about 80 s, puts
the current firmware on it with `pumpmon flash` (the configuration comes from
the trace's metadata), and shows a live panel: level, flow, programmed rate,
LED, buzzer, active alarms, the board's event log. Ends by itself when the
trace has played (summary, and where the timeline and event log are); Ctrl-C
ends it cleanly. Without a terminal it prints plain lines.

With a real board (--port, BOARD=..., or one found on USB, as mpremote's
auto-detection) it flashes that board and shows its console instead: the
sensors and the buzzer are real then.
"""
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from host_tools.device.ports import PORT_HELP, console, resolve_port, usb_boards
from host_tools.exitcodes import BAD_INPUT, INTERRUPTED, PROBLEM, CommandError
from host_tools.paths import BUILD, TRACES
from host_tools.vboard.board import VirtualBoard
from host_tools.vboard.faults import UsageError
from host_tools.vboard.timeline import fmt_t

DEMO = TRACES / "demo.csv"
OUT = BUILD / "run"
TARGET_S = 80.0


def add_arguments(p):
    p.add_argument("--trace", metavar="FILE", default=str(DEMO),
                   help="sensor trace to play (default: traces/demo.csv)")
    p.add_argument("--speed", metavar="X", type=float,
                   help="trace seconds per second (default: the trace plays in ~80 s)")
    p.add_argument("--port", default=os.environ.get("BOARD") or None,
                   help=PORT_HELP + "; here the default is $BOARD, else the USB board "
                   "attached, else the virtual board")
    p.add_argument("--virtual", action="store_true",
                   help="use the virtual board even when a real one is attached")
    p.add_argument("--out", metavar="DIR", default=str(OUT),
                   help="where the flash folder, timeline and log go (default build/run)")
    p.add_argument("--fault", metavar="T:FAULT", action="append", default=[],
                   help="a fault at T trace seconds (see pumpmon board serve --help)")
    p.add_argument("--plain", action="store_true", help="plain lines, no redrawn panel")
    p.add_argument("--carer", action="store_true", help="virtual board: also a local MQTT "
                   "broker and the carer's view of the monitor (docs/carer.md)")


def run(args):
    port = None
    if not args.virtual and (args.port or usb_boards()):
        try:
            port = resolve_port(args.port)     # several USB boards: refused, listed
        except CommandError as e:
            print("pumpmon run: %s" % e, file=sys.stderr)
            return e.status
    if port:
        return run_real(port, args)
    return run_virtual(args)


def _trace_info(path):
    from host_tools.formats.trace import TraceError, read_trace, validate
    try:
        tr = read_trace(path)
        rows, last_ms = validate(path)
        values = tr.config_values()
    except TraceError as e:
        raise UsageError(str(e))
    except OSError as e:
        raise UsageError("%s: %s" % (path, e.strerror or e))
    from pumpmon.config import Config, ConfigError
    try:
        cfg = Config(values)
    except ConfigError as e:
        raise UsageError("%s: metadata: %s" % (path, e))
    return tr, rows, last_ms, values, cfg


def _flash(port, config_path, out):
    """The project's flashing tool; (ok, its output)."""
    cmd = [sys.executable, "-m", "host_tools.cli", "flash", "--port", port,
           "--config", str(config_path), "--settle", "0.5"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode == 0:
        return True, r.stdout.strip()           # its one-line summary
    return False, (r.stdout + r.stderr).strip()


# ---- the virtual board -----------------------------------------------------------------
def run_virtual(args):
    try:
        tr, rows, last_ms, values, cfg = _trace_info(args.trace)
    except UsageError as e:
        print("pumpmon run: %s" % e, file=sys.stderr)
        return BAD_INPUT
    dur_s = max(1.0, last_ms / 1000.0)
    speed = args.speed or max(1.0, math.ceil(dur_s / TARGET_S))
    out = Path(args.out)
    flash = out / "flash"
    if flash.exists():
        shutil.rmtree(flash)
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "config.json"
    from host_tools.carer.demo import CarerDemo
    carer = CarerDemo(values) if args.carer else None     # points the config at its broker
    cfg_path.write_text(json.dumps(values) + "\n")
    timeline = out / "timeline.jsonl"
    plain = args.plain or not sys.stdout.isatty()
    panel = Panel(tr, cfg, dur_s, speed, plain)
    try:
        board = VirtualBoard(flash, pty_path=str(out / "tty"), tcp_port=-1, trace=args.trace,
                             speed=speed, timeline=str(timeline), faults=args.fault,
                             exit_at_end=True)
    except (UsageError, OSError) as e:
        print("pumpmon run: %s" % e, file=sys.stderr)
        if carer is not None:
            carer.close()
        return BAD_INPUT
    stop = threading.Event()
    interrupted = []
    t0 = time.monotonic()

    def on_sigint(signum, frame):
        interrupted.append(signum)
        stop.set()
        board.wake()

    old = {s: signal.signal(s, on_sigint) for s in (signal.SIGINT, signal.SIGTERM)}
    thread = None
    status = 0
    try:
        board.start()
        if not board.wait_ready():
            print("pumpmon run: the virtual board did not start", file=sys.stderr)
            return PROBLEM
        thread = threading.Thread(target=board.serve, args=(stop.is_set,), daemon=True)
        thread.start()
        panel.say("virtual board up on %s; flashing the firmware (pumpmon flash)..."
                  % board.pty_path)
        # (the /dev/pts name, not the symlink: mpremote reads a /dev/pts device
        # without its 10 ms polling sleep, several times faster)
        ok, text = _flash(board.pty_name, cfg_path, out)
        if not ok and not interrupted:
            # the tool is atomic and says "run the command again" when a
            # session broke; once more, then give up
            panel.say("flashing failed (%s); once more..." % text.splitlines()[-1][:100])
            ok, text = _flash(board.pty_name, cfg_path, out)
        if interrupted:
            return INTERRUPTED
        last = text.splitlines()[-1] if text else ""
        if not ok:
            print("pumpmon run: flashing failed:\n%s" % text, file=sys.stderr)
            return PROBLEM
        panel.say(last)
        # board time is virtual: the trace is the same board time on any
        # machine; the speed is a ceiling, the wall time is measured
        panel.say("playing %s: %s of board time, at most %gx real time" % (
            args.trace, fmt_t(int(dur_s * 1000)), speed))
        wait_start = time.monotonic()
        panel.play_start = wait_start
        while not stop.is_set() and not board.trace_done:
            for line in carer.lines() if carer else ():
                panel.say(line)
            panel.draw(board)
            if board.trace_world0 is None and time.monotonic() - wait_start > 30:
                print("pumpmon run: the firmware never read its sensors", file=sys.stderr)
                status = 1
                break
            time.sleep(0.1)
        panel.draw(board, final=True)
    finally:
        stop.set()
        board.wake()
        if thread is not None:
            thread.join(5)
        board.close()
        if carer is not None:
            carer.close()
        for s, h in old.items():
            signal.signal(s, h)
    if interrupted:
        panel.say("stopped (Ctrl-C)")
        status = 130
    panel.summary(board, out, timeline, flash, time.monotonic() - t0)
    return status


class Panel:
    """The live view: redrawn in place on a terminal, plain lines otherwise."""

    def __init__(self, trace, cfg, dur_s, speed, plain):
        self.trace = trace
        self.cfg = cfg
        self.dur_ms = int(dur_s * 1000)
        self.speed = speed
        self.plain = plain
        self.stream = sys.stdout
        self.n_events = 0
        self.alarms = {}        # (alarm, cause) -> state text
        self.lines = 0
        self.next_plain = 0

    def say(self, text):
        if not self.plain and self.lines:
            self.stream.write("\x1b[%dA\x1b[J" % self.lines)
            self.lines = 0
        self.stream.write(text + "\n")
        self.stream.flush()

    def _events(self, board):
        new = board.alarm_events[self.n_events:]
        self.n_events = len(board.alarm_events)
        for e in new:
            key = (e.get("alarm"), e.get("cause"))
            ev = e["event"]
            if ev == "alarm_raised":
                self.alarms[key] = "active"
            elif ev == "alarm_condition_cleared":
                self.alarms[key] = "latched (condition gone)"
            elif ev == "alarm_acknowledged" and key in self.alarms:
                self.alarms[key] = "acknowledged"
            elif ev == "alarm_cleared":
                self.alarms.pop(key, None)
        return new

    def _state(self, board):
        w = board.world_ms()
        t = board.trace_t(w)
        cur = board.current
        lv = fl = "-"
        if cur is not None:
            lv = "-" if cur.level is None else "%.2f mL" % (cur.level / 1000.0)
            fl = "-" if cur.flow is None else "%.1f uL/h" % (cur.flow / 10.0)
            self.last_level = lv if cur.level is not None else getattr(self, "last_level", "-")
            lv = self.last_level
        prog = "-"
        if t is not None:
            tod = (self.cfg.start_s + t // 1000) % 86400
            prog = "%.1f uL/h" % (self.cfg.rate_at(tod) / 10.0)
        lt = board.last_tone_world      # a burst repeats every 6 s (high), 15 s (medium)
        sounding = lt is not None and w - lt < 16000
        tone = ("%d Hz" % board.tone) if board.tone else "silent"
        buzzer = "%s (alarm sounding)" % tone if sounding else tone
        alarms = ", ".join("%s/%s %s" % (k[0], k[1], v) for k, v in self.alarms.items()) \
            or "none"
        return t, lv, fl, prog, board.led or "-", buzzer, alarms

    def draw(self, board, final=False):
        new = self._events(board)
        t, lv, fl, prog, led, buzzer, alarms = self._state(board)
        if self.plain:
            for e in new:
                self.stream.write("t=%s event %s\n" % (fmt_t(board.trace_t(e["world_ms"])),
                                                       _ev_text(e)))
            if t is not None and (t >= self.next_plain or final):
                self.next_plain = (t // (self.dur_ms // 10 or 1) + 1) * (self.dur_ms // 10 or 1)
                self.stream.write("t=%s level %s flow %s programmed %s LED %s buzzer %s "
                                  "alarms %s\n" % (fmt_t(t), lv, fl, prog, led, buzzer, alarms))
            self.stream.flush()
            return
        pct = 0 if t is None else min(100, t * 100 // max(1, self.dur_ms))
        bar = "#" * (pct // 5) + "-" * (20 - pct // 5)
        rows = [
            "pumpmon run: virtual board, %s at %gx   t = %s / %s  [%s] %d%%" % (
                os.path.basename(str(self.trace.path)), self.speed, fmt_t(t),
                fmt_t(self.dur_ms), bar, pct),
            "  reservoir level  %-12s flow %-14s programmed %s" % (lv, fl, prog),
            "  LED              %-22s buzzer %s" % (_led(led), buzzer),
            "  alarms           %s" % alarms,
            "  events (board log, newest last):",
        ]
        evs = board.alarm_events[-6:]
        for e in evs:
            rows.append("    up %s  %s" % (fmt_t(e.get("up_s", 0) * 1000), _ev_text(e)))
        rows += [""] * (6 - len(evs))
        rows.append("  Ctrl-C stops")
        if self.lines:
            self.stream.write("\x1b[%dA" % self.lines)
        self.stream.write("".join("\x1b[2K" + r[:160] + "\n" for r in rows))
        self.stream.flush()
        self.lines = len(rows)

    def summary(self, board, out, timeline, flash, wall_s):
        raised = [e for e in board.alarm_events if e["event"] == "alarm_raised"]
        self.say("")
        played = board.trace_t(board.world_ms())
        play_s = time.monotonic() - getattr(self, "play_start", time.monotonic() - wall_s)
        self.say("summary: %d trace rows played (%s of board time) in %.1f s of wall time "
                 "(%.0fx; ceiling %gx; %.0f s in all with flashing); %d board boots; "
                 "%d events in the board's log" % (
                     board.rows, fmt_t(played), play_s,
                     (played or 0) / 1000.0 / max(play_s, 1e-3), self.speed, wall_s,
                     board.boots, len(board.alarm_events)))
        for e in raised:
            self.say("  raised %-14s %-20s at up %s" % (e.get("alarm"), e.get("cause"),
                                                       fmt_t(e.get("up_s", 0) * 1000)))
        if not raised:
            self.say("  no alarm raised")
        self.say("  timeline (every LED/buzzer change): %s" % timeline)
        self.say("  event log on the board's flash: %s  (pumpmon log decode %s)"
                 % (flash / "log", flash / "log"))


def _ev_text(e):
    s = e["event"]
    if e.get("alarm"):
        s += " %s/%s" % (e["alarm"], e["cause"])
    if e.get("detail"):
        s += " (%s)" % e["detail"]
    if e.get("reset_cause"):
        s += " (%s)" % e["reset_cause"]
    return s


def _led(name):
    codes = {"red": "31", "green": "32", "yellow": "33"}
    c = codes.get(name)
    return ("\x1b[%sm\u25cf\x1b[0m %s" % (c, name)) if c else name


# ---- a real board ------------------------------------------------------------------------------
def run_real(port, args):
    try:
        _tr, _rows, _last, values, _cfg = _trace_info(args.trace)
    except UsageError as e:
        print("pumpmon run: %s" % e, file=sys.stderr)
        return BAD_INPUT
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "config.json"
    cfg_path.write_text(json.dumps(values) + "\n")
    print("real board on %s: flashing the firmware (configuration from %s)..."
          % (port, args.trace), flush=True)
    ok, text = _flash(port, cfg_path, out)
    print(text, flush=True)
    if not ok:
        return PROBLEM
    try:
        s = console(port)
    except Exception as e:  # noqa: BLE001 - pyserial's errors vary by device
        print("pumpmon run: cannot open %s: %s" % (port, e), file=sys.stderr)
        return PROBLEM
    # Ctrl-C or SIGTERM ends the console, even when we were started with
    # SIGINT ignored (a background job of a script, a test runner's worker);
    # in force before the message that invites it
    stop = []

    def on_signal(signum, frame):
        stop.append(signum)

    old = {n: signal.signal(n, on_signal) for n in (signal.SIGINT, signal.SIGTERM)}
    try:
        print("the monitor runs on the board: its sensors, buzzer and LEDs are real. "
              "Its console follows (Ctrl-C ends; `pumpmon log pull --port %s` fetches the "
              "event log)." % port, flush=True)
        while not stop:
            data = s.read(4096)    # returns within its 0.2 s timeout
            if data:
                sys.stdout.write(data.decode("utf-8", "replace"))
                sys.stdout.flush()
        return INTERRUPTED
    finally:
        s.close()
        for n, h in old.items():
            signal.signal(n, h)
