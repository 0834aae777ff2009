"""`pumpmon trace record` and `pumpmon trace stream`: the board's sensor
recording as a trace v1 (docs/recording.md).

    pumpmon trace record --port PORT --out FILE [--since DUR | --last DUR] [--boot N|last]
    pumpmon trace record --from DIR  --out FILE [...]      a copy of the board's /rec (+ config.json)
    pumpmon trace stream --port PORT [--out FILE]           live, one row a second

Thin: the copy from a board is host_tools/recording/fetch.py, the live stream
host_tools/recording/stream.py, reading the recording and writing the trace
host_tools/formats/recording.py.
"""
import shutil
import sys
import tempfile
from pathlib import Path

from host_tools.device.errors import ChannelError
from host_tools.flashing.build import FlashError
from host_tools.formats.recording import (SEG_RE, RecError, board_info_from_dir, parse_duration,
                                          parse_ring, record, summary)
from host_tools.recording.fetch import config_file_into, fetch
from host_tools.recording.stream import stream_channel, stream_repl


def add_arguments(p):
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--port", help="the board: serial device or socket://host:port "
                     "(what mpremote connect takes)")
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


def run(args):
    try:
        boot = None
        if args.boot is not None:
            boot = "last" if args.boot == "last" else int(args.boot)
        since = parse_duration(args.since) if args.since else None
        last = parse_duration(args.last) if args.last else None
    except ValueError as e:
        sys.stderr.write("pumpmon trace record: %s\n" % e)
        return 2
    stage = None
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
            stage = Path(tempfile.mkdtemp(prefix="pumpmon-rec-"))
            info = fetch(args.port, stage, not args.no_restart)
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
                args.port or src))
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
        return 0
    except RecError as e:
        sys.stderr.write("pumpmon trace record: %s\n" % e)
        return 2
    except OSError as e:
        sys.stderr.write("pumpmon trace record: %s\n" % e)
        return 2
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)


def add_stream_arguments(p):
    p.add_argument("--port", required=True, help="the board: serial device or "
                   "socket://host:port (what mpremote connect takes)")
    p.add_argument("--out", required=True, metavar="FILE", help="the trace to write")
    p.add_argument("--config", metavar="FILE",
                   help="the board's settings from this file instead of its config.json")
    p.add_argument("--duration", metavar="DUR",
                   help="stop after this long (e.g. 10m); default: until Ctrl-C")
    p.add_argument("--keep-streaming", action="store_true",
                   help="leave streaming on in the board's /recorder.json afterwards")


def run_stream(args):
    try:
        limit = parse_duration(args.duration) / 1000.0 if args.duration else None
    except ValueError as e:
        sys.stderr.write("pumpmon trace stream: %s\n" % e)
        return 2
    try:
        n = stream_channel(args.port, args.out, limit, args.config)
        if n is None:
            sys.stderr.write("pumpmon trace stream: %s: the monitor does not answer on its "
                             "console channel; streaming through the REPL (this restarts it)\n"
                             % args.port)
            n = stream_repl(args.port, args.out, limit, args.config, args.keep_streaming)
    except (ChannelError, FlashError, RecError, OSError) as e:
        sys.stderr.write("pumpmon trace stream: %s\n" % e)
        return 2
    sys.stderr.write("%s: %d rows streamed\n" % (args.out, n))
    return 0
