"""`pumpmon log`: read the board's event log (docs/log-format.md).

  pumpmon log decode FILE...|DIR [--json | --csv]
  pumpmon log pull [--port PORT] [--dest DIR] [--remote-dir /log] [--no-restart]

The decoding is host_tools/formats/eventlog.py. Exit status
(docs/exit-codes.md): 0 the log is whole, 1 problems were reported (damaged,
missing or unreadable records: the rest is decoded), 2 the input cannot be
used; `pull`: 3, 4, 9 when the board cannot be found or read.

`pull` reads the segments through the running monitor's console channel
(docs/console-protocol.md): the monitor goes on, nothing is reset. Only when
the monitor does not answer there (an older firmware, a board at its REPL)
does it fall back to the REPL, which interrupts and then restarts it.
"""
import argparse
import datetime
import shutil
import sys
import tempfile
from pathlib import Path

from host_tools.device.errors import ChannelError
from host_tools.device.ports import add_port_argument
from host_tools.device.session import BoardSession
from host_tools.exitcodes import BAD_INPUT, OK, PROBLEM, CommandError
from host_tools.formats.eventlog import (SEG_RE, TABLE_HEADER, LogError, decode, summary,
                                         table_rows, write_csv, write_json, write_table,
                                         _where)
from host_tools.terminal import fitted, terminal_width, write_fitted_table


def add_arguments(parser):
    sub = parser.add_subparsers(dest="log_command", metavar="SUBCOMMAND")
    sub.required = True
    d = sub.add_parser("decode", help="decode log segments to a table, JSON Lines or CSV",
                       description="Decode event log segments (files, or a folder of "
                       "ev########.bin), verify checksums and sequence numbers.")
    d.add_argument("paths", nargs="+", metavar="FILE|DIR")
    _format_args(d)
    d.set_defaults(_log_run=run_decode)
    p = sub.add_parser("pull", help="fetch the log segments from a board, then decode them",
                       description="Copy the board's log folder into DEST, "
                       "then decode it. Read through the running monitor's console channel, "
                       "without stopping it; only a board whose monitor does not answer "
                       "there is read through the REPL (interrupted, then restarted with a "
                       "soft reset unless --no-restart).")
    add_port_argument(p)
    p.add_argument("--dest", help="local folder (default: log-YYYYmmdd-HHMMSS)")
    p.add_argument("--remote-dir", default="/log", help="the log folder on the board (/log)")
    p.add_argument("--no-restart", action="store_true",
                   help="leave the board at its REPL instead of restarting the monitor")
    _format_args(p)
    p.set_defaults(_log_run=run_pull)


def _format_args(p):
    g = p.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="JSON Lines, one record a line")
    g.add_argument("--csv", action="store_true", help="CSV with a header row")
    p.add_argument("--width", type=int, metavar="COLS",
                   help="fit the table to COLS columns (default: the terminal's width "
                   "on a terminal; whole lines into a pipe or a file)")


def run(args):
    return args._log_run(args)


def _emit(args, paths, out=None, err=None):
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        items, probs = decode(paths)
    except LogError as e:
        err.write("pumpmon log: %s\n" % e)
        return BAD_INPUT
    if args.json:
        write_json(items, out)
    elif args.csv:
        write_csv(items, out)
    elif fitted(out, args.width):
        _fitted(items, out, args.width)
    else:
        write_table(items, out)
    out.flush()
    if args.json or args.csv:
        for p in probs:
            err.write("%s: %s\n" % (_where(p), p[2]))
    err.write("%s\n" % summary(items, probs))
    return PROBLEM if probs else OK


COMPACT_BELOW = 140     # columns: under this, time and alarm go under each other


def _fitted(items, out, width):
    """The table fitted to the terminal (or --width): the values fold inside
    their column; on a narrow terminal the board's time goes under the
    uptime and the alarm under the event, so the values keep some room."""
    rows, problems = table_rows(items)
    styles = {i: "red" for i in problems}
    if (width or terminal_width(out)) >= COMPACT_BELOW:
        write_fitted_table(TABLE_HEADER, rows, out, width, wrap=("alarm", "values"),
                           styles=styles)
        return
    compact = [(seq, up + "\n" + wall if wall else up,
                event + ("\n" + alarm if alarm not in ("", "-") else ""), values)
               for seq, up, wall, event, alarm, values in rows]
    write_fitted_table(("seq", "uptime / wall", "event / alarm", "values"), compact, out,
                       width, wrap=("values",), styles=styles)


def run_decode(args):
    return _emit(args, args.paths)


def run_pull(args):
    dest = Path(args.dest or datetime.datetime.now().strftime("log-%Y%m%d-%H%M%S"))
    try:
        dest.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".pull-", dir=dest))
    except OSError as e:
        sys.stderr.write("pumpmon log: %s: cannot create: %s\n" % (dest, e.strerror or e))
        return BAD_INPUT
    remote = args.remote_dir.rstrip("/") or "/"
    try:
        # no soft reset before the copy: the session interrupts the monitor
        # with Ctrl-C and restarts it afterwards (unless --no-restart)
        try:
            b = BoardSession(args.port, raw=False)
        except CommandError as e:
            sys.stderr.write("pumpmon log: %s\n" % e)
            return e.status
        match = lambda n: SEG_RE.match(n) is not None   # noqa: E731
        try:
            got = None
            if remote == "/log":
                try:
                    got = b.fetch_folder("log", stage, match)
                except ChannelError as e:
                    if e.answered:
                        raise CommandError(PROBLEM, "the monitor refused: %s" % e)
                    sys.stderr.write("pumpmon log: %s: the monitor does not answer on its "
                                     "console channel; reading through the REPL (this "
                                     "interrupts it)\n" % b.port)
            if got is None:
                b.enter_raw(soft_reset=False)
                got = b.copy_folder(remote, stage, match=match)
                if not args.no_restart:
                    try:
                        b.restart()
                    except CommandError as e:  # the copy worked; say what to do
                        sys.stderr.write("pumpmon log: could not restart the board (%s): "
                                         "reset it by hand\n" % e)
            if not got:
                sys.stderr.write("pumpmon log: %s: no log segments in %s on the board\n" % (
                    b.port, remote))
                return BAD_INPUT        # (a wrong --remote-dir, or a board never run)
        except CommandError as e:
            sys.stderr.write("pumpmon log: %s: could not copy %s: %s\n" % (b.port, remote, e))
            return e.status
        finally:
            b.close()
        for old in dest.iterdir():       # earlier copies: the board's set replaces them
            if SEG_RE.match(old.name):
                old.unlink()
        for name in got:
            shutil.move(str(stage / name), str(dest / name))
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    sys.stderr.write("pumpmon log: %d segment%s copied to %s\n" % (
        len(got), "" if len(got) == 1 else "s", dest))
    return _emit(args, [str(dest)])


def main(argv=None):
    p = argparse.ArgumentParser(prog="pumpmon log")
    add_arguments(p)
    args = p.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
