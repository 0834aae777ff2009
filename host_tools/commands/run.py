"""`pumpmon run` (`make run`): the monitor working, on the virtual board.

Starts a virtual board (host_tools/vboard/) with a trace (default: the
bundled demo, traces/demo.csv) at a speed that plays it in about 80 s, puts
the current firmware on it with `pumpmon flash` (the configuration comes from
the trace's metadata; a flash that fails or outlasts its timeout is tried
once more, then reported in one line), and shows the bedside view
(host_tools/view/): the light and the sound in words, each alarm and its
cause, what to press, each press. Ends by itself when the trace has played
(summary, and where the timeline and event log are); Ctrl-C ends it cleanly.
Without a terminal it prints plain lines.

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
from host_tools.extras import missing
from host_tools.paths import BUILD, TRACES, trace_file
from host_tools.terminal import fmt_t
from host_tools.vboard.board import VirtualBoard
from host_tools.vboard.faults import UsageError
from host_tools.view.bedside import BedsideView

DEMO = TRACES / "demo.csv"
OUT = BUILD / "run"
TARGET_S = 80.0


def add_arguments(p):
    p.add_argument("--trace", metavar="FILE", default=str(DEMO),
                   help="sensor trace to play (default: traces/demo.csv)")
    p.add_argument("--speed", metavar="X|max",
                   help="a ceiling on board (trace) seconds per second, or max: as fast as "
                   "the machine goes (default: the trace plays in ~80 s)")
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
    p.add_argument("--wav", metavar="FILE",
                   help="virtual board: the buzzer's drive signal as a 16-bit WAV (22,050 Hz), "
                   "from its recorded PWM changes (docs/alarm-signals.md)")
    p.add_argument("--display-frames", action="store_true",
                   help="virtual board: a PNG of its display at each change, in DIR/display/ "
                   "(docs/display.md)")
    p.add_argument("--pico-heap", action="store_true",
                   help="virtual board: the 32-bit MicroPython build (make mp32) with the Pico's "
                   "free heap (209,936 B) instead of the unix port (docs/virtual-board.md)")
    p.add_argument("--no-carer", dest="carer", action="store_false",
                   help="virtual board: without the carer's view (by default a local MQTT "
                   "broker and what `pumpmon carer` would show and ring: docs/carer.md)")


def run(args):
    args.trace = trace_file(args.trace)        # a bundled trace by its name too
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


FLASH_TIMEOUT_S = 300


def _flash(port, config_path, out, board=None, say=None, timeout=FLASH_TIMEOUT_S):
    """The project's flashing tool; (ok, its output). Its progress lines go
    to say() as they come; a flash that outlasts `timeout` is stopped and
    reported as a failure (one line: what happened and what to do)."""
    cmd = [sys.executable, "-m", "host_tools.cli", "flash", "--port", port,
           "--config", str(config_path), "--settle", "0.5"]
    if board:
        cmd += ["--board", board]
    try:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, errors="replace")
    except OSError as e:
        return False, "cannot start pumpmon flash: %s" % e
    lines = []

    def pump():
        for line in p.stdout:
            lines.append(line.rstrip("\n"))
            if say and not line.startswith("flashed "):
                say("  " + line.rstrip("\n")[:200])

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        reader.join(2)
        return False, ("pumpmon flash gave no result within %d s and was stopped (a board "
                       "that stopped answering); run `make run` again" % timeout)
    reader.join(5)
    text = "\n".join(lines).strip()
    if p.returncode == 0:
        return True, text
    return False, text or "pumpmon flash ended with status %d" % p.returncode


def _flash_twice(port, config_path, out, board, panel, interrupted):
    """Flash; when that fails (a session that broke, a timeout), once more:
    the tool is atomic, so a second try starts from a whole version."""
    ok, text = _flash(port, config_path, out, board, panel.say)
    if not ok and not interrupted:
        panel.say("flashing failed (%s); trying once more..." % _last_line(text))
        ok, text = _flash(port, config_path, out, board, panel.say)
    return ok, text


def _last_line(text):
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no output"


def _samples(path):
    from host_tools.formats.trace import read_trace
    return read_trace(path).samples()


# ---- the virtual board -----------------------------------------------------------------
FIRST_READ_MS = 120000      # board time from the flash to the firmware's first sensor read
STALL_S = 60.0              # wall seconds with no progress at all: the board hangs


class Stall:
    """True from stalled() once nothing of the board's progress() has moved
    for limit_s of wall time."""

    def __init__(self, board, limit_s=STALL_S):
        self.board, self.limit_s = board, limit_s
        self.mark, self.since = board.progress(), time.monotonic()

    def stalled(self):
        now, mark = time.monotonic(), self.board.progress()
        if mark != self.mark:
            self.mark, self.since = mark, now
        return now - self.since > self.limit_s

def run_virtual(args):
    try:
        tr, rows, last_ms, values, cfg = _trace_info(args.trace)
    except UsageError as e:
        print("pumpmon run: %s" % e, file=sys.stderr)
        return BAD_INPUT
    dur_s = max(1.0, last_ms / 1000.0)
    if args.speed == "max":
        speed = "max"
    else:
        try:
            speed = float(args.speed) if args.speed else max(1.0, math.ceil(dur_s / TARGET_S))
            if speed <= 0:
                raise ValueError
        except ValueError:
            print("pumpmon run: --speed %s: give a number above 0, or max" % args.speed,
                  file=sys.stderr)
            return BAD_INPUT
    out = Path(args.out)
    flash = out / "flash"
    if flash.exists():
        shutil.rmtree(flash)
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "config.json"
    from host_tools.carer.demo import CarerDemo
    carer, no_carer = None, None
    if args.carer and missing("carer") and not shutil.which("mosquitto"):
        no_carer = "no carer's view: " + missing("carer")
    elif args.carer:
        try:
            carer = CarerDemo(values)           # points the config at its broker
        except (RuntimeError, OSError) as e:
            # the carer's view is a demo of the network side: the bedside
            # monitor runs without it (as a real one does when the link is down)
            no_carer = "no carer's view: cannot start a local broker (%s)" % e
    cfg_path.write_text(json.dumps(values) + "\n")
    timeline = out / "timeline.jsonl"
    plain = args.plain or not sys.stdout.isatty()
    panel = BedsideView(tr, cfg, dur_s, speed, plain, sys.stdout, _samples(args.trace))
    try:
        board = VirtualBoard(flash, pty_path=str(out / "tty"), tcp_port=-1, trace=args.trace,
                             speed=speed, timeline=str(timeline), faults=args.fault,
                             exit_at_end=True, pico_heap=getattr(args, "pico_heap", False))
    except (UsageError, OSError) as e:
        print("pumpmon run: %s" % e, file=sys.stderr)
        if carer is not None:
            carer.close()
        return BAD_INPUT
    if args.display_frames:
        frames = out / "display"
        if frames.exists():
            shutil.rmtree(frames)
        board.display_frames = str(frames)
    stop = threading.Event()
    interrupted = []
    t0 = time.monotonic()

    def on_sigint(signum, frame):
        interrupted.append(signum)
        stop.set()
        board.wake()

    old = {s: signal.signal(s, on_sigint) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    thread = None
    status = 0
    try:
        board.start()
        if not board.wait_ready():
            print("pumpmon run: the virtual board did not start: %s; run `make run` again, "
                  "or `pumpmon board serve` to see it alone" % board.start_failure,
                  file=sys.stderr)
            return PROBLEM
        thread = threading.Thread(target=board.serve, args=(stop.is_set,), daemon=True)
        thread.start()
        if no_carer:
            panel.say(no_carer)
        panel.say("virtual board up on %s; flashing the firmware (pumpmon flash)..."
                  % board.pty_path)
        # (the /dev/pts name, not the symlink: mpremote reads a /dev/pts device
        # without its 10 ms polling sleep, several times faster)
        ok, text = _flash_twice(board.pty_name, cfg_path, out, "sim", panel, interrupted)
        if interrupted:
            return INTERRUPTED
        last = _last_line(text)
        if not ok:
            print("pumpmon run: flashing failed twice: %s\n  (the board's timeline: %s; "
                  "run `make run` again, or `pumpmon flash --port %s` to see it alone)"
                  % (last, timeline, board.pty_path), file=sys.stderr)
            return PROBLEM
        panel.say(last)
        heap = board.heap_text()
        if heap:
            panel.say("heap: " + heap)
        # board time is virtual: the trace is the same board time on any
        # machine; the speed is a ceiling, the wall time is measured
        panel.say("playing %s: %s of board time, %s" % (
            args.trace, fmt_t(int(dur_s * 1000)),
            "as fast as the machine goes" if speed == "max" else "at most %gx real time" % speed))
        wait_start = time.monotonic()
        panel.play_start = wait_start
        board_start = board.world_ms()
        watch = Stall(board)
        while not stop.is_set() and not board.trace_done:
            for line in carer.lines() if carer else ():
                panel.say(line)
            panel.draw(board)
            # judged by the board's progress, not by the wall clock: a busy
            # machine slows the board down, it does not stop it
            problem = None
            if board.trace_world0 is None and board.world_ms() - board_start > FIRST_READ_MS:
                problem = ("the firmware never read its sensors in %d s of board time"
                           % (FIRST_READ_MS // 1000))
            elif watch.stalled():
                problem = ("the virtual board made no progress for %.0f s (board time, its "
                           "VM's CPU and the trace all stood still): hung" % watch.limit_s)
            if problem:
                print("pumpmon run: %s; the board's timeline: %s" % (problem, timeline),
                      file=sys.stderr)
                status = PROBLEM
                break
            time.sleep(0.1)
        panel.draw(board, final=True)
    finally:
        panel.close()
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
        status = INTERRUPTED
    panel.summary(board, out, timeline, flash, time.monotonic() - t0)
    if args.wav:
        _write_wav(board, args.wav, panel)
    return status


def _write_wav(board, path, panel):
    """The buzzer's recorded PWM changes (timeline rows "tone"), from the
    first to the board's last time, as a WAV (host_tools/vboard/sound.py)."""
    from host_tools.vboard import sound
    chs = sound.changes(board.timeline_rows)
    sig = sound.render(chs, chs[0][0] if chs else 0, board.world_ms())
    sound.write_wav(path, sig)
    panel.say("  the buzzer's drive as sound: %s (%d notes, %.0f s from the first, %d Hz)"
              % (path, sum(1 for c in chs if c[1]), len(sig) / float(sound.RATE), sound.RATE))


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
    ok, text = _flash(port, cfg_path, out, None, lambda m: print(m, flush=True))
    if not ok:
        print("pumpmon run: flashing failed: %s" % _last_line(text), file=sys.stderr)
        return PROBLEM
    print(_last_line(text), flush=True)
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
