"""`pumpmon replay TRACE`: replay a recorded sensor trace through the firmware.

Every sample goes through pumpmon.monitor.Monitor (the board's engine, alarm
management and annunciator) by host_tools/replay_driver.py, on CPython or,
with --runtime micropython, inside the MicroPython unix port; the events come
out as JSON Lines (docs/replay.md). The trace is validated in a first pass, so
a bad file produces one error line and no events at all.
"""
import json
import os
import shutil
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
    """Open the trace, read its settings; (trace, cfg, config values)."""
    trace = read_trace(args.trace)
    overrides = load_overrides(args.config) if args.config else None
    cfg = trace.config(overrides, args.config)
    return trace, cfg, trace.config_values(overrides)


def _progress(trace, samples, enabled):
    """Pass samples through, showing how far into the file we are."""
    if not enabled or trace.size < 4 << 20:
        yield from samples
        return
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


def run_cpython(trace, cfg, write, progress):
    return replay_driver.replay(cfg, progress(trace.samples()), write)


def micropython_env():
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([".frozen", str(ROOT / "firmware"), str(ROOT)])
    return env


def run_micropython(trace, values, write, progress):
    """The same driver inside the unix port, the samples streamed to its stdin
    (parsed and checked here, so both runtimes see exactly the same numbers)."""
    if not MICROPYTHON.exists():
        raise UsageError("no MicroPython unix port at %s (make setup)" % MICROPYTHON)
    encode = replay_driver.encode_sample
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [str(MICROPYTHON), "-X", "heapsize=" + MP_HEAP,
             str(ROOT / "host_tools" / "replay_driver.py")],
            cwd=ROOT, env=micropython_env(), stdin=subprocess.PIPE, stdout=out, stderr=err)
        ok = False
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
            ok = True
        except BrokenPipeError:
            ok = True   # it stopped reading: its exit status and stderr say why
        finally:
            if not ok:  # a bad row (TraceError) or an interrupt: stop it
                proc.kill()
            rc = proc.wait()
        err.seek(0)
        errtext = err.read().decode("utf-8", "replace")
        if rc != 0:
            raise RuntimeError("micropython replay failed (exit %d): %s"
                               % (rc, errtext.strip()[-2000:]))
        out.seek(0)
        for line in out:
            write(line.decode("utf-8"))


def run(args):
    try:
        trace, cfg, values = prepare(args)
    except TraceError as e:
        sys.stderr.write("%s\n" % e)
        return 2
    show = args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty())

    def progress(samples):
        return _progress(trace, samples, show)

    # One pass over the trace; the events are held back (in a spooled file,
    # so memory stays flat) until the whole trace has been read without a
    # problem: a bad trace gives its one error line and no events at all.
    with tempfile.SpooledTemporaryFile(1 << 20, mode="w+", encoding="utf-8",
                                       newline="\n") as spool:
        try:
            if args.runtime == "micropython":
                run_micropython(trace, values, spool.write, progress)
            else:
                run_cpython(trace, cfg, spool.write, progress)
        except TraceError as e:
            sys.stderr.write("%s\n" % e)
            return 2
        except UsageError as e:
            sys.stderr.write("pumpmon replay: %s\n" % e)
            return 2
        except RuntimeError as e:
            sys.stderr.write("pumpmon replay: %s\n" % e)
            return 1
        spool.seek(0)
        if args.out:
            try:
                with open(args.out, "w", encoding="utf-8", newline="\n") as out:
                    shutil.copyfileobj(spool, out)
            except OSError as e:
                sys.stderr.write("pumpmon replay: cannot write %s: %s\n"
                                 % (args.out, e.strerror or e))
                return 2
        else:
            shutil.copyfileobj(spool, sys.stdout)
            sys.stdout.flush()
        if args.plot:
            from host_tools import plot
            spool.seek(0)
            events = [json.loads(line) for line in spool]
            plot.plot_replay(trace, cfg, events, args.plot)
    return 0
