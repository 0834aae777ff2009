"""`pumpmon flash`: put the firmware on a board, compiled, incremental,
verified and atomic. The protocol is host_tools/flashing/protocol.py
(docs/flashing.md tells it whole); this module is its arguments and output.
Exit statuses: docs/exit-codes.md.
"""
import json
import sys

from host_tools.device.ports import add_port_argument
from host_tools.exitcodes import OK, CommandError
from host_tools.flashing import guide
from host_tools.flashing.protocol import flash


def add_arguments(p):
    add_port_argument(p)
    p.add_argument("--board", help="board folder under boards/ (default: from the board's "
                   "platform: rp2 -> rpi_pico, esp32 -> esp32, linux -> sim)")
    p.add_argument("--config", metavar="FILE", help="configuration (JSON) to install as "
                   "config.json; validated on the host first")
    p.add_argument("--dry-run", action="store_true",
                   help="say what would be sent and removed; change nothing (with no "
                   "--port: build for --board and list every file, touching no board)")
    p.add_argument("--source", action="store_true", help="ship .py source, not .mpy")
    p.add_argument("--bundle", metavar="FILE", help="install a release bundle (make release: "
                   "compiled files, manifest, hashes; every hash checked first) instead of "
                   "building the working tree")
    p.add_argument("--json", action="store_true",
                   help="print the summary as one JSON object")
    p.add_argument("--settle", type=float, default=1.0, metavar="S",
                   help="seconds to watch the monitor run after the reset (default 1)")


def human(s):
    if s.get("dry_run"):
        where = s["port"] or "no port: a first flash, no board touched"
        how = "; " + s["read"] if s.get("read") else ""
        lines = ["dry run: %s board on %s (%s%s)" % (s["board"], where, s["micropython"], how),
                 "would send %d files (%d bytes), skip %d, remove %d" % (
                     len(s["would_send"]), s["bytes_to_send"], s["files_skipped"],
                     len(s["would_remove"]))]
        if s.get("bytecode"):
            lines.append("bytecode: " + s["bytecode"])
        lines += ["  send   " + p for p in s["would_send"]]
        lines += ["  remove " + p for p in s["would_remove"]]
        return "\n".join(lines)
    text = ("flashed %s board on %s (%s): sent %d files (%d bytes), skipped %d, removed %d, "
            "in %.2f s; version %s%s, self-test passed, monitor running" % (
                s["board"], s["port"], s["micropython"], s["files_sent"], s["bytes_sent"],
                s["files_skipped"], s["files_removed"], s["seconds"], s["version"],
                " (was %s)" % s["previous_version"]
                if s.get("previous_version") not in (None, s["version"]) else ""))
    if s.get("bundle"):
        text += "; release %s from %s" % (s["firmware"], s["bundle"])
    if s.get("files_resumed"):
        text += " (%d files already staged by an interrupted flash)" % s["files_resumed"]
    if s.get("clock"):
        text += "; clock set to %s (%s)" % (s["clock"], s["clock_zone"])
    else:
        text += "; the board has no clock to set"
    return text + "; " + guide.alarms_text(s.get("alarms"))


def run(args):
    tty = sys.stderr.isatty() and not args.json
    try:
        s = flash(args.port, args.board, args.config, args.dry_run, args.source,
                  progress=tty, settle=args.settle, bundle=args.bundle,
                  log=None if args.json else (lambda m: print(m, file=sys.stderr)))
    except CommandError as e:
        print("pumpmon flash: %s" % e, file=sys.stderr)
        if args.json:
            print(json.dumps({"ok": False, "status": e.status, "error": str(e)}))
        return e.status
    if args.json:
        s["ok"] = True
        print(json.dumps(s))
    else:
        print(human(s))
    return OK

