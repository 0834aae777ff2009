"""`pumpmon replay TRACE`: replay a recorded sensor trace through the firmware.

Every sample goes through pumpmon.monitor.Monitor (the board's engine, alarm
management and annunciator) by host_tools/replay/driver.py, on CPython or,
with --runtime micropython, inside the MicroPython unix port; the events come
out as JSON Lines (docs/replay.md). The trace is validated in a first pass, so
a bad file produces one error line and no events at all.
"""
import json
import shutil
import subprocess
import sys
import tempfile

from host_tools import paths
from host_tools.replay import driver as replay_driver
from host_tools.formats.trace import TraceError, read_trace

MP_HEAP = "4M"


class UsageError(RuntimeError):
    """The replay cannot run here (e.g. no MicroPython unix port): exit 1."""


def add_arguments(p):
    p.add_argument("trace", metavar="TRACE", help="trace file (docs/trace-format.md)")
    p.add_argument("--config", metavar="FILE",
                   help="JSON settings overriding the trace's metadata (docs/config.md)")
    p.add_argument("--runtime", choices=("cpython", "micropython"), default="cpython",
                   help="where the firmware runs (default cpython; micropython: the "
                        "unix port, byte-identical events)")
    p.add_argument("--out", metavar="FILE", help="write the events here instead of stdout")
    p.add_argument("--plot", metavar="PNG", help="also draw levels, flow and alarms to a PNG")
    p.add_argument("--check", metavar="EXPECTED",
                   help="compare the events with an expectation file (JSON, docs/replay.md); "
                        "exit 1 with the differences when they disagree")
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


def load_expectation(path):
    """An expectation file -> {"raised": [...], "no_other_high": bool}."""
    values = load_overrides(path)
    raised = values.get("raised", [])
    if not isinstance(raised, list):
        raise TraceError(path, 1, '"raised" must be a list')
    out = []
    for i, r in enumerate(raised):
        what = '"raised"[%d]' % i
        if not isinstance(r, dict) or not isinstance(r.get("alarm"), str):
            raise TraceError(path, 1, '%s needs "alarm" (no_flow, malfunction, '
                                      'low_reservoir)' % what)
        cause = r.get("cause")
        lo = r.get("from_s", 0)
        hi = r.get("to_s")
        for k, v in (("from_s", lo), ("to_s", hi)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise TraceError(path, 1, "%s: %s must be a number of seconds" % (what, k))
        if cause is not None and not isinstance(cause, str):
            raise TraceError(path, 1, "%s: cause must be a string or null" % what)
        unknown = set(r) - {"alarm", "cause", "from_s", "to_s"}
        if unknown:
            raise TraceError(path, 1, "%s: unknown key(s) %s" % (what, ", ".join(sorted(unknown))))
        out.append((r["alarm"], cause, lo, hi))
    unknown = set(values) - {"raised", "no_other_high"}
    if unknown:
        raise TraceError(path, 1, "unknown key(s) %s" % ", ".join(sorted(unknown)))
    return {"raised": out, "no_other_high": bool(values.get("no_other_high", True))}


def _name(alarm, cause):
    return "%s/%s" % (alarm, cause) if cause else "%s (any cause)" % alarm


def check_events(events, expectation):
    """Differences between events (dicts) and an expectation: a list of lines."""
    raised = [e for e in events if e.get("event") == "alarm_raised"]
    problems = []
    for alarm, cause, lo, hi in expectation["raised"]:
        same = [e for e in raised if e.get("alarm") == alarm
                and (cause is None or e.get("cause") == cause)]
        inside = [e for e in same if e["t_ms"] >= lo * 1000
                  and (hi is None or e["t_ms"] <= hi * 1000)]
        if not inside:
            window = "from %s s" % lo if hi is None else "between %s s and %s s" % (lo, hi)
            got = ", ".join("%s at %.0f s" % (_name(e["alarm"], e.get("cause")),
                                              e["t_ms"] / 1000) for e in same) or "never"
            problems.append("- missing: %s raised %s (raised: %s)"
                            % (_name(alarm, cause), window, got))
    if expectation["no_other_high"]:
        for e in raised:
            if e.get("priority") != "high":
                continue
            if any(e.get("alarm") == a and (c is None or e.get("cause") == c)
                   for a, c, _lo, _hi in expectation["raised"]):
                continue
            problems.append("+ unexpected: %s (high) raised at %.0f s"
                            % (_name(e["alarm"], e.get("cause")), e["t_ms"] / 1000))
    return problems


def prepare(args):
    """Open the trace, read its settings; (trace, cfg, config values)."""
    trace = read_trace(args.trace)
    overrides = load_overrides(args.config) if args.config else None
    cfg = trace.config(overrides, args.config)
    return trace, cfg, trace.config_values(overrides)


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


def run_cpython(trace, cfg, write, progress):
    return replay_driver.replay(cfg, progress(trace.samples()), write)


def run_micropython(trace, values, write, progress):
    """The same driver inside the unix port, the samples streamed to its stdin
    (parsed and checked here, so both runtimes see exactly the same numbers)."""
    try:
        mp = paths.micropython()
    except FileNotFoundError as e:
        raise UsageError(str(e))
    encode = replay_driver.encode_sample
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [mp, "-X", "heapsize=" + MP_HEAP, replay_driver.__file__],
            env=paths.micropython_env(), stdin=subprocess.PIPE, stdout=out, stderr=err)
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
        expectation = load_expectation(args.check) if args.check else None
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
        except RuntimeError as e:  # also UsageError
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
        events = None
        if args.plot or expectation:
            spool.seek(0)
            events = [json.loads(line) for line in spool]
        if args.plot:
            from host_tools.replay import plot
            plot.plot_replay(trace, cfg, events, args.plot)
    if expectation:
        problems = check_events(events, expectation)
        if problems:
            sys.stderr.write("%s: %s disagrees with the events:\n%s\n" % (
                args.trace, args.check, "\n".join(problems)))
            return 1
        sys.stderr.write("%s: as expected by %s (%d expected alarm(s) raised in time%s)\n" % (
            args.trace, args.check, len(expectation["raised"]),
            ", no other high-priority alarm" if expectation["no_other_high"] else ""))
    return 0
