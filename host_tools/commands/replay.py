"""`pumpmon replay TRACE`: replay a recorded sensor trace through the firmware.

Every sample goes through pumpmon.monitor.Monitor (the board's engine, alarm
management and annunciator) by host_tools/replay/driver.py, on CPython or,
with --runtime micropython, inside the MicroPython unix port; the events come
out as JSON Lines (docs/replay.md). The trace is validated in a first pass, so
a bad file produces one error line and no events at all.
"""
import shutil
import sys
import tempfile

from host_tools.exitcodes import BAD_INPUT, OK, PROBLEM
from host_tools.extras import missing
from host_tools.formats.expectations import load_expectation
from host_tools.formats.trace import TraceError, read_trace
from host_tools.paths import trace_file
from host_tools.testing import api

def add_arguments(p):
    p.add_argument("trace", metavar="TRACE", help="trace file (docs/trace-format.md), or a "
                   "bundled trace's name (pumpmon trace list: occlusion, demo, ...)")
    p.add_argument("--config", metavar="FILE",
                   help="JSON settings overriding the trace's metadata (docs/config.md)")
    p.add_argument("--runtime", choices=("cpython", "micropython"), default="cpython",
                   help="where the firmware runs (default cpython; micropython: the "
                        "unix port, byte-identical events)")
    p.add_argument("--out", metavar="FILE", help="write the events here instead of stdout")
    p.add_argument("--plot", metavar="PNG", help="also draw levels, flow and alarms to a PNG "
                   "(needs the extra pumpmon[plot]: matplotlib)")
    p.add_argument("--check", metavar="EXPECTED",
                   help="compare the events with an expectation file (JSON, docs/replay.md); "
                        "exit 1 with the differences when they disagree")
    p.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                   help="progress on stderr (auto: when stderr is a terminal)")


def _progress(trace, samples, enabled):
    """The samples, showing how far into the file we are (long traces only)."""
    if not enabled or trace.size < 4 << 20:
        return samples
    return _showing(trace, samples)


def _showing(trace, samples):
    err = sys.stderr
    size = trace.size
    n = 0
    for s in samples:
        yield s
        n += 1
        if not n & 0x3FFFF:
            err.write("\rreplay: %3d%%  %d rows" % (trace.position * 100 // size, n))
            err.flush()
    err.write("\r" + " " * 40 + "\r")
    err.flush()


def run(args):
    """The command on the testers' API (host_tools/testing/api.py): the same
    replay, the same events and the same --check differences."""
    args.trace = trace_file(args.trace)        # a bundled trace by its name too
    if args.plot and missing("plot"):
        sys.stderr.write("pumpmon replay: %s\n" % missing("plot"))
        return PROBLEM
    try:
        trace = read_trace(args.trace)      # bad input: one line, before anything runs
        expectation = load_expectation(args.check) if args.check else None
    except TraceError as e:
        sys.stderr.write("%s\n" % e)
        return BAD_INPUT
    show = args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty())

    def progress(samples):
        return _progress(trace, samples, show)

    # One pass over the trace; the events are held back (in a spooled file,
    # so memory stays flat) until the whole trace has been read without a
    # problem: a bad trace gives its one error line and no events at all.
    with tempfile.SpooledTemporaryFile(1 << 20, mode="w+", encoding="utf-8",
                                       newline="\n") as spool:
        try:
            api.stream(trace, spool.write, args.config, args.runtime, progress)
        except TraceError as e:
            sys.stderr.write("%s\n" % e)
            return BAD_INPUT
        except api.ReplayError as e:
            sys.stderr.write("pumpmon replay: %s\n" % e)
            return PROBLEM
        spool.seek(0)
        if args.out:
            try:
                with open(args.out, "w", encoding="utf-8", newline="\n") as out:
                    shutil.copyfileobj(spool, out)
            except OSError as e:
                sys.stderr.write("pumpmon replay: cannot write %s: %s\n"
                                 % (args.out, e.strerror or e))
                return BAD_INPUT
        else:
            shutil.copyfileobj(spool, sys.stdout)
            sys.stdout.flush()
        result = None
        if args.plot or expectation:
            spool.seek(0)
            result = api.Replay([api.Event.from_line(x) for x in spool], args.trace,
                                args.runtime)
        if args.plot:
            try:
                result.plot(args.plot, args.config)
            except ImportError as e:
                sys.stderr.write("pumpmon replay: %s\n" % e)
                return PROBLEM
    if expectation:
        problems = result.check(args.check)
        if problems:
            sys.stderr.write("%s: %s disagrees with the events:\n%s\n" % (
                args.trace, args.check, "\n".join(problems)))
            return PROBLEM
        sys.stderr.write("%s: as expected by %s (%d expected alarm(s) raised in time%s)\n" % (
            args.trace, args.check, len(expectation["raised"]),
            ", no other high-priority alarm" if expectation["no_other_high"] else ""))
    return OK
