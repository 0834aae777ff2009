"""`pumpmon trace record` and `pumpmon trace stream`: the board's sensor
recording as a trace v1 (docs/recording.md).

    pumpmon trace record [--port PORT] --out FILE [--since DUR | --last DUR] [--boot N|last]
    pumpmon trace record --from DIR  --out FILE [...]      a copy of the board's /rec (+ config.json)
    pumpmon trace stream [--port PORT] --out FILE           live, one row a second

--port as every command (docs/cli.md); exit statuses: docs/exit-codes.md.

Thin: the copy from a board is host_tools/recording/fetch.py, the live stream
host_tools/recording/stream.py, reading the recording and writing the trace
host_tools/formats/recording.py.
"""
import json
import shutil
import sys
import tempfile
from pathlib import Path

from host_tools.device.errors import ChannelError
from host_tools.device.ports import add_port_argument, resolve_port
from host_tools.exitcodes import BAD_INPUT, OK, PROBLEM, CommandError
from host_tools.formats.recording import (SEG_RE, RecError, board_info_from_dir, parse_duration,
                                          parse_ring, record, summary)
from host_tools.recording.fetch import config_file_into, fetch
from host_tools.recording.stream import stream_channel, stream_repl


def add_arguments(p):
    src = p.add_mutually_exclusive_group()
    add_port_argument(src)
    src.add_argument("--from", dest="from_dir", metavar="DIR",
                     help="a copy of the board's /rec folder instead of a board "
                          "(DIR/config.json, DIR/manifest.json used when present)")
    p.add_argument("--out", required=True, metavar="FILE", help="the trace to write")
    p.add_argument("--config", metavar="FILE",
                   help="the board's settings from this file instead of its config.json")
    p.add_argument("--boot", metavar="N|last",
                   help="only this boot session (number as in the summary; last: the newest)")
    w = p.add_mutually_exclusive_group()
    w.add_argument("--since", metavar="DUR",
                   help="leave out the first DUR of the recording (e.g. 2h, 90m, 1h30m)")
    w.add_argument("--last", metavar="DUR", help="only the last DUR (e.g. 24h, 30m)")
    p.add_argument("--keep", metavar="DIR", help="also keep the copied segments here")
    p.add_argument("--no-restart", action="store_true",
                   help="leave the board at its REPL instead of restarting the monitor")
    _json_argument(p)


def _json_argument(p):
    p.add_argument("--json", action="store_true", help="the result as one JSON object on "
                   "stdout (out, rows, boots, problems; or ok false, status, error)")


def _done(args, **result):
    if args.json:
        print(json.dumps(dict(result, ok=True, out=args.out)))
    return OK


def _failed(args, what, status, message):
    sys.stderr.write("pumpmon trace %s: %s\n" % (what, message))
    if args.json:
        print(json.dumps({"ok": False, "status": status, "error": str(message)}))
    return status


def run(args):
    try:
        boot = None
        if args.boot is not None:
            boot = "last" if args.boot == "last" else int(args.boot)
        since = parse_duration(args.since) if args.since else None
        last = parse_duration(args.last) if args.last else None
    except ValueError as e:
        return _failed(args, "record", BAD_INPUT, e)
    stage = None
    port = None
    try:
        if args.from_dir:
            d = Path(args.from_dir)
            if not d.is_dir():
                raise RecError("%s: no such folder" % d)
            info = board_info_from_dir(d)
            if args.config:
                info.pop("config_error", None)
                info.pop("config_values", None)
                config_file_into(info, args.config)
            src = d / "rec" if (d / "rec").is_dir() else d
        else:
            port = resolve_port(args.port)
            stage = Path(tempfile.mkdtemp(prefix="pumpmon-rec-"))
            info = fetch(port, stage, not args.no_restart)
            if args.config:
                info.pop("config_error", None)
                config_file_into(info, args.config)
            src = stage / "rec"
            if args.keep:
                Path(args.keep).mkdir(parents=True, exist_ok=True)
                for q in list(src.glob("tr*.bin")) + list(stage.glob("*.json")):
                    shutil.copy2(q, Path(args.keep) / q.name)
        if not src.is_dir() or not any(SEG_RE.match(q.name) for q in src.iterdir()):
            raise RecError("%s: no recording (no tr########.bin segments)" % (
                port or src))
        sessions, probs = parse_ring([src])
        if info.get("config_error") and not args.config:
            sys.stderr.write("pumpmon trace record: warning: %s (the board ran on its "
                             "fallback settings; give --config to replay against others)\n"
                             % info["config_error"])
        try:
            n, boots, _chosen = record(sessions, info, args.out, boot, since, last)
        except OSError as e:
            raise RecError("%s: cannot write: %s" % (args.out, e.strerror or e))
        sys.stderr.write(summary(sessions, probs, n, boots, args.out) + "\n")
        return _done(args, rows=n, boots=len(boots), problems=len(probs))
    except CommandError as e:           # RecError is one
        return _failed(args, "record", e.status, e)
    except OSError as e:
        return _failed(args, "record", BAD_INPUT, e)
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)


def add_stream_arguments(p):
    add_port_argument(p)
    p.add_argument("--out", required=True, metavar="FILE", help="the trace to write")
    p.add_argument("--config", metavar="FILE",
                   help="the board's settings from this file instead of its config.json")
    p.add_argument("--duration", metavar="DUR",
                   help="stop after this long (e.g. 10m); default: until Ctrl-C")
    p.add_argument("--keep-streaming", action="store_true",
                   help="leave streaming on in the board's /recorder.json afterwards")
    _json_argument(p)


def run_stream(args):
    try:
        limit = parse_duration(args.duration) / 1000.0 if args.duration else None
    except ValueError as e:
        return _failed(args, "stream", BAD_INPUT, e)
    try:
        port = resolve_port(args.port)
        n = stream_channel(port, args.out, limit, args.config)
        if n is None:
            sys.stderr.write("pumpmon trace stream: %s: the monitor does not answer on its "
                             "console channel; streaming through the REPL (this restarts it)\n"
                             % port)
            n = stream_repl(port, args.out, limit, args.config, args.keep_streaming)
    except ChannelError as e:
        return _failed(args, "stream", PROBLEM, "the monitor refused: %s" % e)
    except (CommandError, OSError) as e:
        return _failed(args, "stream", getattr(e, "status", BAD_INPUT), e)
    sys.stderr.write("%s: %d rows streamed\n" % (args.out, n))
    return _done(args, rows=n)
