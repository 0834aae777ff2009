"""`pumpmon trace ...`: generate traces, check them, and regenerate the corpus.

    pumpmon trace list                       the scenarios
    pumpmon trace gen SCENARIO [-o FILE] [--hours H | --days N] [--rate R] [--seed S]
    pumpmon trace check TRACE...             validate (exit 2 + FILE:LINE on the first problem)
    pumpmon trace corpus [--dir traces]      regenerate traces/*.csv, *.events.jsonl, *.expect.json
    pumpmon trace bench [--days 30]          replay speed on both runtimes (for make bench)
    pumpmon trace record / stream            the board's recording (commands/trace_record.py)

The scenarios and the corpus are host_tools/sim/corpus.py.
"""
import sys

from host_tools.formats.trace import TraceError, validate
from host_tools.sim.corpus import ALL, CORPUS_DIR, H, generate, regenerate


def add_arguments(p):
    sub = p.add_subparsers(dest="trace_cmd", metavar="ACTION")
    sub.required = True
    sub.add_parser("list", help="list the scenarios")
    g = sub.add_parser("gen", help="generate a trace from a scenario")
    g.add_argument("scenario", choices=sorted(ALL), metavar="SCENARIO",
                   help="one of: " + ", ".join(sorted(ALL)))
    g.add_argument("-o", "--out", metavar="FILE", help="write here instead of stdout")
    length = g.add_mutually_exclusive_group()
    length.add_argument("--hours", type=float, help="length in hours (default: the scenario's)")
    length.add_argument("--days", type=float, help="length in days")
    g.add_argument("--rate", type=float, help="programmed rate, uL/h (schedules scaled)")
    g.add_argument("--seed", type=int, default=1, help="noise seed (default 1)")
    c = sub.add_parser("check", help="validate traces (exit 2 and FILE:LINE on a problem)")
    c.add_argument("traces", nargs="+", metavar="TRACE")
    b = sub.add_parser("bench", help="measure replay speed on a generated trace (make bench)")
    b.add_argument("--days", type=float, default=30, help="trace length (default 30 days)")
    r = sub.add_parser("corpus", help="regenerate the scenario corpus and its expected events")
    r.add_argument("--dir", default=str(CORPUS_DIR), help="where (default traces/)")
    from host_tools.commands import trace_record  # pumpmon trace record: docs/recording.md
    trace_record.add_arguments(sub.add_parser(
        "record", help="fetch a board's sensor recording and write a trace"))
    trace_record.add_stream_arguments(sub.add_parser(
        "stream", help="record a board's sensor readings live (bench work) until stopped"))


def run(args):
    if args.trace_cmd == "list":
        for name in sorted(ALL):
            print("%-20s %s" % (name, ALL[name].text))
        return 0
    if args.trace_cmd == "gen":
        spec = ALL[args.scenario]
        dur = None
        if args.hours is not None:
            dur = int(args.hours * H)
        elif args.days is not None:
            dur = int(args.days * 86400)
        if dur is not None and dur <= 0:
            sys.stderr.write("pumpmon trace gen: the length must be positive\n")
            return 2
        if args.rate is not None and not 0 < args.rate <= 5000:
            sys.stderr.write("pumpmon trace gen: --rate must be in 0..5000 uL/h\n")
            return 2
        if args.out:
            generate(spec, args.out, args.seed, dur, args.rate)
        else:
            generate(spec, sys.stdout, args.seed, dur, args.rate)
        return 0
    if args.trace_cmd == "check":
        status = 0
        for path in args.traces:
            try:
                rows, last = validate(path)
            except TraceError as e:
                sys.stderr.write("%s\n" % e)
                status = 2
            else:
                print("%s: ok, %d rows, %.1f h" % (path, rows, last / 3.6e6))
        return status
    if args.trace_cmd == "bench":
        from host_tools.bench.replay import section_replay
        title, rows = section_replay(args.days)
        print(title)
        for what, value, unit, note in rows:
            print("  %-50s %10s %-6s %s" % (what, value, unit, note))
        return 0
    if args.trace_cmd == "corpus":
        regenerate(args.dir)
        return 0
    if args.trace_cmd == "record":
        from host_tools.commands import trace_record
        return trace_record.run(args)
    if args.trace_cmd == "stream":
        from host_tools.commands import trace_record
        return trace_record.run_stream(args)
    return 2

