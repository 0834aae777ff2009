"""`pumpmon demo [--port PORT]`: the alarm demonstration on a running
monitor, asked on its console channel (docs/alarm-demo.md): each alarm's
sound and light for a few seconds, its name on the display, highest priority
first. The monitor keeps monitoring; a real alarm ends the demonstration at
once; it is refused while any alarm is shown. Logged on the board.

Exit status (docs/exit-codes.md): 0 started; 1 refused (an alarm is shown)
or no monitor answers; 3, 4, 9 no board, port busy, connection lost.
"""
import sys

from host_tools.device.errors import ChannelError
from host_tools.device.ports import add_port_argument
from host_tools.device.session import BoardSession
from host_tools.exitcodes import OK, PROBLEM, CommandError


def add_arguments(p):
    add_port_argument(p)
    p.add_argument("--timeout", type=float, default=3.0, metavar="S",
                   help="seconds to wait for the monitor's answer (default 3)")


def plan():
    """What the demonstration plays, in order: [(alarm name, priority)]."""
    from pumpmon import alarms as A
    from pumpmon import demo as D
    from pumpmon import screenwords as SW
    out = []
    for k, c in zip(D.KINDS, D.CONDS):
        title = SW.WORDS.get((A.KIND_NAMES[k], A.TABLE[c][2]), (A.KIND_NAMES[k],))[0]
        out.append((title, A.PRIORITY_NAMES[A.TABLE[c][1]]))
    return out


def run(args):
    from pumpmon import demo as D
    try:
        b = BoardSession(args.port, raw=False)
    except CommandError as e:
        print("pumpmon demo: %s" % e, file=sys.stderr)
        return e.status
    try:
        b.ask("demo", timeout=args.timeout)
    except ChannelError as e:
        print("pumpmon demo: %s: %s" % (b.port, e), file=sys.stderr)
        return PROBLEM
    except CommandError as e:
        print("pumpmon demo: %s" % e, file=sys.stderr)
        return e.status
    finally:
        b.close()
    steps = plan()
    print("%s: the alarm demonstration, %d alarms of %g s each (a press ends it; a real "
          "alarm ends it at once):" % (b.port, len(steps), D.DEMO_MS / 1000.0))
    for i, (title, prio) in enumerate(steps):
        print("  %2d s  %-9s %s priority" % (i * D.DEMO_MS // 1000, title, prio))
    return OK
