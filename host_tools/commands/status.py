"""`pumpmon status [--port PORT] [--json]`: what a running monitor is doing
now (alarms, sound, light, readings, its log), asked on its console channel
(docs/console-protocol.md): the monitor goes on, nothing is reset.

Exit status (docs/exit-codes.md): 0 the monitor answered; 1 the board
answered but no monitor runs on it (at its REPL, or a firmware without the
channel); 3, 4, 9 no board, port busy, connection lost. With --json a failure
is {"ok": false, "status": N, "error": "..."} on stdout too.
"""
import json
import sys

from pumpmon import alarms as A

from host_tools.device.errors import ChannelError
from host_tools.device.ports import add_port_argument
from host_tools.device.session import BoardSession
from host_tools.exitcodes import OK, PROBLEM, CommandError
from host_tools.view import words as W


def add_arguments(p):
    add_port_argument(p)
    p.add_argument("--json", action="store_true", help="the status as one JSON object")
    p.add_argument("--timeout", type=float, default=3.0, metavar="S",
                   help="seconds to wait for the monitor's answer (default 3)")


def _mins(s):
    h, s = divmod(int(s), 3600)
    return "%dh%02dm%02ds" % (h, s // 60, s % 60)


def text(st):
    """The status in a few human lines."""
    alarms = st.get("alarms") or []
    lines = ["monitoring (firmware %s, manifest %s, MicroPython %s on %s), up %s since a %s "
             "reset" % (st.get("firmware"), st.get("manifest", "?"), st.get("micropython"),
                        st.get("platform"), _mins(st.get("up_s", 0)), st.get("boot_cause"))]
    if alarms:
        lines.append("alarms: %s%s" % (", ".join(alarms),
                                      " (sound paused)" if st.get("paused") else ""))
    else:
        lines.append("alarms: none")
    light, sound = playing(st)
    lines.append("light: %s" % light)
    lines.append("sound: %s" % sound)
    level = st.get("level_ul")
    days = st.get("days_x10")
    lines.append("reservoir: %s%s; flow %.1f uL/h (programmed %.1f)" % (
        "%.2f mL" % (level / 1000.0) if level is not None else "level not known yet",
        ", %.1f days left" % (days / 10.0) if days is not None else "",
        st.get("flow_mean", 0) / 10.0, st.get("prog_mean", 0) / 10.0))
    lines.append("event log: next seq %d%s%s; %d samples recorded since boot" % (
        st.get("log_seq", 0),
        ", WRITE ERROR %d" % st["log_failed"] if st.get("log_failed") else "",
        ", %d damaged records found at boot" % st["log_damaged"]
        if st.get("log_damaged") else "", st.get("rec_samples", 0)))
    if st.get("heap_used") is not None:
        from host_tools.mcu.qemu import PICO_HEAP
        lines.append("heap: %d B used of %d (%.0f %% of a Pico's %d B free heap)" % (
            st["heap_used"], st.get("heap_total") or 0,
            100.0 * st["heap_used"] / PICO_HEAP, PICO_HEAP))
    return "\n".join(lines)


def playing(st):
    """(light, sound): the patterns the monitor plays, in words, from the
    alarm manager's state it reports (shown, acked, paused) by the
    firmware's own rules (manager.py: light_kind, sound_kind) and pattern
    tables, as the bedside view says them; never the LED or the buzzer at
    the instant of the question (a blinking light is off half the time)."""
    if not st.get("monitoring", True):
        return ("yellow, steady: " + W.YELLOW_STATES["service"],
                "a steady service tone (not an alarm)")
    shown, acked = int(st.get("shown") or 0), int(st.get("acked") or 0)
    top = A.top_condition(shown)
    if top >= 0:
        kind, prio, cause = A.TABLE[top]
        light = "%s (%s: %s/%s)" % (W.light_words(kind)[1],
                                    W.PRIORITY_WORDS[A.PRIORITY_NAMES[prio]],
                                    A.KIND_NAMES[kind], cause)
    elif st.get("led") == "yellow":
        light = "%s: %s" % (W.light_words(A.KIND_STARTING)[1], W.YELLOW_STATES["starting"])
    else:
        light = "%s: monitoring, all well" % W.light_words(A.KIND_NONE)[1]
    if st.get("paused"):
        sound = ("paused by a short press (it ends by itself after the configured pause; "
                 "a new alarm sounds at once)")
    else:
        c = A.top_condition(shown & ~(acked & A.QUIET_MASK))
        if c >= 0:
            sound = "sounding: " + W.sound_words(c)
        elif shown:
            sound = "silent: acknowledged (sounds again if the cause stays)"
        else:
            sound = "silent"
    return light, sound


def next_step(port, e):
    """What to do about a board where no monitor answers, in the same line."""
    if "REPL" not in str(e):
        return ""
    return ("; to start it again: `mpremote connect %s reset` (runs main.py as at "
            "power-on), or a first flash: `pumpmon flash --port %s --config FILE`"
            % (port, port))


def _fail(args, status, message):
    print("pumpmon status: %s" % message, file=sys.stderr)
    if args.json:
        print(json.dumps({"ok": False, "status": status, "error": message}))
    return status


def run(args):
    try:
        b = BoardSession(args.port, raw=False)
    except CommandError as e:
        return _fail(args, e.status, str(e))
    try:
        st = b.status(timeout=args.timeout)
    except ChannelError as e:
        return _fail(args, PROBLEM, "%s: %s%s" % (b.port, e, next_step(b.port, e)))
    except CommandError as e:
        return _fail(args, e.status, str(e))
    finally:
        b.close()
    st["port"] = b.port
    st["light_pattern"], st["sound_pattern"] = playing(st)
    if args.json:
        print(json.dumps(dict(st, ok=True)))
    else:
        print("%s: %s" % (b.port, text(st)))
    return OK
