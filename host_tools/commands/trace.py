"""`pumpmon trace ...`: generate traces, check them, and regenerate the corpus.

    pumpmon trace list                       the scenarios
    pumpmon trace gen SCENARIO [-o FILE] [--hours H | --days N] [--rate R] [--seed S]
    pumpmon trace gen "rate 30 uL/h, 180 min, stop at minute 90" -o x.csv
    pumpmon trace check TRACE...             validate (exit 2 + FILE:LINE on the first problem)
    pumpmon trace corpus [--dir traces]      regenerate traces/*.csv, *.events.jsonl, *.expect.json
    pumpmon trace bench [--days 30]          replay speed on both runtimes (for make bench)
    pumpmon trace record / stream            the board's recording (commands/trace_record.py)

The scenarios and the corpus are host_tools/sim/corpus.py; a description is
read by host_tools/sim/describe.py. Exit statuses: docs/exit-codes.md.
"""
import difflib
import json
import sys

from host_tools.exitcodes import BAD_INPUT, OK
from host_tools.formats.trace import TraceError, validate
from host_tools.sim.corpus import ALL, CORPUS_DIR, H, generate, regenerate


def add_arguments(p):
    sub = p.add_subparsers(dest="trace_cmd", metavar="ACTION")
    sub.required = True
    lst = sub.add_parser("list", help="list the scenarios")
    lst.add_argument("--json", action="store_true",
                     help="a JSON array: scenario, text, expectation")
    g = sub.add_parser("gen", help="generate a trace from a scenario or a one-line "
                       "description (\"rate 30 uL/h, 180 min, stop at minute 90\")")
    g.add_argument("scenario", metavar="SCENARIO|DESCRIPTION",
                   help="a scenario (%s) or a description: clauses separated by commas "
                   "(`pumpmon trace gen help` lists them)" % ", ".join(sorted(ALL)))
    g.add_argument("-o", "--out", metavar="FILE", help="write here instead of stdout")
    g.add_argument("--expect", metavar="FILE", help="also write what the monitor must do "
                   "(an expectation file for `pumpmon replay --check`, docs/replay.md)")
    length = g.add_mutually_exclusive_group()
    length.add_argument("--hours", type=float, help="length in hours (default: the scenario's)")
    length.add_argument("--days", type=float, help="length in days")
    g.add_argument("--rate", type=float, help="programmed rate, uL/h (schedules scaled)")
    g.add_argument("--seed", type=int, help="noise seed (default 1, or the description's)")
    c = sub.add_parser("check", help="validate traces (exit 2 and FILE:LINE on a problem)")
    c.add_argument("traces", nargs="+", metavar="TRACE")
    c.add_argument("--json", action="store_true",
                   help="one JSON object a trace (JSON Lines): ok, rows, last_ms or error")
    b = sub.add_parser("bench", help="measure replay speed on a generated trace (make bench)")
    b.add_argument("--days", type=float, default=30, help="trace length (default 30 days)")
    r = sub.add_parser("corpus", help="regenerate the scenario corpus and its expected events")
    r.add_argument("--dir", default=str(CORPUS_DIR), help="where (default traces/)")
    from host_tools.commands import trace_record  # pumpmon trace record: docs/recording.md
    trace_record.add_arguments(sub.add_parser(
        "record", help="fetch a board's sensor recording and write a trace"))
    trace_record.add_stream_arguments(sub.add_parser(
        "stream", help="record a board's sensor readings live (bench work) until stopped"))


def _gen_spec(text):
    """(spec, seed or None) for a scenario name or a description."""
    from host_tools.sim.describe import parse
    if text in ALL:
        return ALL[text], None
    if len(text.split()) == 1 and not any(c.isdigit() for c in text):
        near = difflib.get_close_matches(text, list(ALL), n=1)
        raise ValueError("unknown scenario %r%s (`pumpmon trace list`), or give a "
                         "description such as \"rate 30 uL/h, 180 min, stop at minute 90\""
                         % (text, " (did you mean %r?)" % near[0] if near else ""))
    return parse(text)


def run_gen(args):
    if args.scenario.strip() in ("help", "?"):
        from host_tools.sim.describe import CLAUSES
        print("a description is clauses separated by commas, e.g. \"rate 30 uL/h, 180 min, "
              "stop at minute 90\":\n" + CLAUSES)
        return OK
    try:
        spec, seed = _gen_spec(args.scenario)
    except ValueError as e:
        sys.stderr.write("pumpmon trace gen: %s\n" % e)
        return BAD_INPUT
    dur = None
    if args.hours is not None:
        dur = int(args.hours * H)
    elif args.days is not None:
        dur = int(args.days * 86400)
    if dur is not None and dur <= 0:
        sys.stderr.write("pumpmon trace gen: the length must be positive\n")
        return BAD_INPUT
    if args.rate is not None and not 0 < args.rate <= 5000:
        sys.stderr.write("pumpmon trace gen: --rate must be in 0..5000 uL/h\n")
        return BAD_INPUT
    seed = args.seed if args.seed is not None else (seed or 1)
    try:
        rows = generate(spec, args.out or sys.stdout, seed, dur, args.rate)
    except OSError as e:
        sys.stderr.write("pumpmon trace gen: cannot write %s: %s\n"
                         % (args.out, e.strerror or e))
        return BAD_INPUT
    if args.expect:
        try:
            with open(args.expect, "w") as f:
                f.write(json.dumps(spec.expectation(), indent=1) + "\n")
        except OSError as e:
            sys.stderr.write("pumpmon trace gen: cannot write %s: %s\n"
                             % (args.expect, e.strerror or e))
            return BAD_INPUT
    if args.out:
        sys.stderr.write("%s: %d rows (%s)%s\n" % (
            args.out, rows, spec.text, "; expects %s" % ", ".join(
                "%s%s" % (a, "/" + c if c else "") for a, c, _lo, _hi in spec.expect)
            if args.expect and spec.expect else ""))
    return OK


def run(args):
    if args.trace_cmd == "list":
        if args.json:
            print(json.dumps([{"scenario": n, "text": ALL[n].text,
                               "expect": ALL[n].expectation()} for n in sorted(ALL)]))
        else:
            for name in sorted(ALL):
                print("%-20s %s" % (name, ALL[name].text))
        return OK
    if args.trace_cmd == "gen":
        return run_gen(args)
    if args.trace_cmd == "check":
        status = OK
        for path in args.traces:
            try:
                rows, last = validate(path)
            except TraceError as e:
                sys.stderr.write("%s\n" % e)
                status = BAD_INPUT
                if args.json:
                    print(json.dumps({"trace": path, "ok": False, "status": BAD_INPUT,
                                      "error": str(e)}))
            else:
                from host_tools.formats.trace_judge import warnings
                warn = warnings(path)
                for w in warn:
                    sys.stderr.write("%s: warning: %s\n" % (path, w))
                if args.json:
                    print(json.dumps({"trace": path, "ok": True, "rows": rows,
                                      "last_ms": last, "warnings": warn}))
                elif warn:
                    print("%s: valid, %d rows, %.1f h, but as written the monitor sees "
                          "sensor faults in it (%d warning%s above: meant?)" % (
                              path, rows, last / 3.6e6, len(warn), "s" * (len(warn) > 1)))
                else:
                    print("%s: ok, %d rows, %.1f h" % (path, rows, last / 3.6e6))
        return status
    if args.trace_cmd == "bench":
        from host_tools.bench.replay import section_replay
        title, rows = section_replay(args.days)
        print(title)
        for what, value, unit, note in rows:
            print("  %-50s %10s %-6s %s" % (what, value, unit, note))
        return OK
    if args.trace_cmd == "corpus":
        regenerate(args.dir)
        return OK
    from host_tools.commands import trace_record
    if args.trace_cmd == "record":
        return trace_record.run(args)
    return trace_record.run_stream(args)
