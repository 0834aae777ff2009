"""`pumpmon replay TRACE`: replay a recorded sensor trace through the firmware.

Every sample goes through pumpmon.monitor.Monitor (the board's engine, alarm
management and annunciator) by host_tools/replay_driver.py, on CPython or,
with --runtime micropython, inside the MicroPython unix port; the events come
out as JSON Lines (docs/replay.md). The trace is validated in a first pass, so
a bad file produces one error line and no events at all.
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from host_tools import replay_driver
from host_tools.trace import TraceError, read_trace

ROOT = Path(__file__).resolve().parent.parent
MICROPYTHON = Path(sys.executable).parent / "micropython"
MP_HEAP = "4M"


class UsageError(Exception):
    pass


def add_arguments(p):
    p.add_argument("trace", metavar="TRACE", help="trace file (docs/trace-format.md)")
    p.add_argument("--config", metavar="FILE",
                   help="JSON settings overriding the trace's metadata (docs/config.md)")
    p.add_argument("--runtime", choices=("cpython", "micropython"), default="cpython",
                   help="where the firmware runs (default cpython; micropython: the "
                        "unix port, byte-identical events)")
    p.add_argument("--out", metavar="FILE", help="write the events here instead of stdout")
    p.add_argument("--plot", metavar="PNG", help="also draw levels, flow and alarms to a PNG")
    p.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                   help="progress on stderr (auto: when stderr is a terminal)")


def load_overrides(path):
    """--config FILE -> dict; TraceError (FILE:LINE) when it cannot be used."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise TraceError(path, 1, "cannot open: %s" % (e.strerror or e))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise TraceError(path, line, "not UTF-8")
    try:
        values = json.loads(text)
    except ValueError as e:
        raise TraceError(path, getattr(e, "lineno", 1), "not JSON: %s" % getattr(e, "msg", e))
    if not isinstance(values, dict):
        raise TraceError(path, 1, "settings must be a JSON object")
    return values


def prepare(args):
    """Open and check everything; (trace, cfg, config values, rows, last t_ms)."""
    trace = read_trace(args.trace)
    overrides = load_overrides(args.config) if args.config else None
    cfg = trace.config(overrides, args.config)
    rows, last = trace.validate()
    return trace, cfg, trace.config_values(overrides), rows, last


def _progress(samples, total, enabled):
    if not enabled or total < 100000:
        yield from samples
        return
    err = sys.stderr
    every = max(total // 200, 1)
    n = 0
    nxt = every
    for s in samples:
        yield s
        n += 1
        if n >= nxt:
            nxt += every
            err.write("\rreplay: %3d%%  %d/%d rows" % (n * 100 // total, n, total))
            err.flush()
    err.write("\r" + " " * 60 + "\r")
    err.flush()


def run_cpython(trace, cfg, write, progress):
    return replay_driver.replay(cfg, progress(trace.samples()), write)


def micropython_env():
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([".frozen", str(ROOT / "firmware"), str(ROOT)])
    return env


def run_micropython(trace, values, write, progress):
    """The same driver inside the unix port, samples streamed on its stdin."""
    if not MICROPYTHON.exists():
        raise UsageError("no MicroPython unix port at %s (make setup)" % MICROPYTHON)
    encode = replay_driver.encode_sample
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [str(MICROPYTHON), "-X", "heapsize=" + MP_HEAP,
             str(ROOT / "host_tools" / "replay_driver.py")],
            cwd=ROOT, env=micropython_env(), stdin=subprocess.PIPE, stdout=out, stderr=err)
        try:
            pipe = proc.stdin
            pipe.write((json.dumps(values, sort_keys=True) + "\n").encode())
            buf = []
            for s in progress(trace.samples()):
                buf.append(encode(s))
                if len(buf) >= 8192:
                    pipe.write("".join(buf).encode())
                    buf = []
            pipe.write("".join(buf).encode())
            pipe.close()
        except BrokenPipeError:
            pass
        finally:
            rc = proc.wait()
        err.seek(0)
        errtext = err.read().decode("utf-8", "replace")
        if rc != 0:
            raise RuntimeError("micropython replay failed (exit %d): %s"
                               % (rc, errtext.strip()[-2000:]))
        out.seek(0)
        for line in out:
            write(line.decode("utf-8"))
    rows, steps, events = (int(x) for x in errtext.split()[-3:])
    return _Counts(rows, steps, events)


class _Counts:
    def __init__(self, rows, steps, events):
        self.rows = rows
        self.steps = steps
        self.events = events


def run(args):
    try:
        trace, cfg, values, total, last = prepare(args)
    except TraceError as e:
        sys.stderr.write("%s\n" % e)
        return 2
    show = args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty())

    def progress(samples):
        return _progress(samples, total, show)

    events = [] if args.plot else None
    out = open(args.out, "w", encoding="utf-8", newline="\n") if args.out else sys.stdout
    write_out = out.write
    if events is not None:
        def write(line):
            events.append(line)
            write_out(line)
    else:
        write = write_out
    try:
        if args.runtime == "micropython":
            run_micropython(trace, values, write, progress)
        else:
            run_cpython(trace, cfg, write, progress)
    except TraceError as e:  # the file changed under us after validation
        sys.stderr.write("%s\n" % e)
        return 2
    except UsageError as e:
        sys.stderr.write("pumpmon replay: %s\n" % e)
        return 2
    except RuntimeError as e:
        sys.stderr.write("pumpmon replay: %s\n" % e)
        return 1
    finally:
        if args.out:
            out.close()
        else:
            out.flush()
    if args.plot:
        from host_tools import plot
        plot.plot_replay(trace, cfg, [json.loads(line) for line in events], args.plot)
    return 0
