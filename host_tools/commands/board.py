"""`pumpmon board`: the virtual board (docs/virtual-board.md).

  pumpmon board serve [--pty PATH] [--socket PORT] [--flash DIR] [--trace FILE] ...
  pumpmon board serve --mcu [--pty PATH] [--flash-size BYTES] [--json]
                                     (the emulated Cortex-M: host_tools/mcu/serve.py)
  pumpmon board ctl --control PATH LINE...
"""
import json
import os
import shutil
import signal
import sys
import tempfile
import time

from host_tools.device.ports import advertise, withdraw
from host_tools.exitcodes import BAD_INPUT, OK, PROBLEM
from host_tools.vboard.board import VirtualBoard
from host_tools.vboard.control import control
from host_tools.vboard.faults import FAULT_HELP, UsageError
from host_tools.vboard.view import Keys, LiveView


def add_arguments(p):
    sub = p.add_subparsers(dest="board_cmd", metavar="SUBCOMMAND")
    sub.required = True
    s = sub.add_parser("serve", help="run a virtual board until stopped (SIGINT/SIGTERM)",
                       description="Run a virtual MicroPython board (the unix port) that "
                       "mpremote talks to. First line of output: the endpoints.")
    s.add_argument("--pty", metavar="PATH", help="symlink to the board's serial pty "
                   "(default /tmp/pumpmon-vboard-UID/ttyACM0)")
    s.add_argument("--socket", metavar="PORT", type=int, default=0,
                   help="serve socket://127.0.0.1:PORT too (0: any free port, -1: none)")
    s.add_argument("--flash", metavar="DIR", help="the board's flash: a host folder "
                   "(default: a new temporary folder)")
    s.add_argument("--flash-size", metavar="BYTES", type=int, default=1048576,
                   help="flash size (default 1 MiB; 4 KiB blocks as littlefs)")
    s.add_argument("--trace", metavar="FILE", help="sensor trace to play (trace format v1)")
    s.add_argument("--speed", metavar="X|max", default="1",
                   help="the most board time runs ahead of real time: X times (default 1), "
                   "or max (as fast as the machine goes); board time is virtual either way")
    s.add_argument("--epoch", metavar="UNIX_S", type=int,
                   help="the board's clock at board time 0 (default 2026-01-01 00:00 UTC)")
    s.add_argument("--timeline", metavar="FILE", help="write every buzzer/LED change, "
                   "reset, fault and log event here (JSON Lines)")
    s.add_argument("--fault", metavar="T:FAULT", action="append", default=[],
                   help="apply FAULT at T trace seconds: " + FAULT_HELP)
    s.add_argument("--control", metavar="PATH", help="control socket path (faults, status)")
    s.add_argument("--heap", default="512K", help="MicroPython heap (default 512K)")
    s.add_argument("--pico-heap", action="store_true",
                   help="run the 32-bit MicroPython build (make mp32) with the Pico's free "
                   "heap (209,936 B) instead of the unix port with --heap")
    s.add_argument("--mcu", action="store_true",
                   help="run the emulated microcontroller instead (make mcu: MicroPython's "
                   "qemu port on a Cortex-M3, the Pico's heap, littlefs in RAM, no sensors "
                   "attached; docs/mcu.md); flash it with pumpmon flash --port PTY")
    s.add_argument("--exit-at-end", action="store_true",
                   help="stop when the trace has played")
    s.add_argument("--quiet", action="store_true", help="only the first line")
    s.add_argument("--json", action="store_true", help="the first line as a JSON object "
                   "(port, tty, socket, control, flash, trace, speed, pid)")
    c = sub.add_parser("ctl", help="send a fault or 'status' to a running board",
                       description="Send a command to a running virtual board.")
    c.add_argument("--control", metavar="PATH", required=True)
    c.add_argument("line", nargs="+", help="a fault (%s), 'status' or 'stop'" % FAULT_HELP)


def run(args):
    if args.board_cmd == "ctl":
        try:
            print(control(args.control, " ".join(args.line)))
        except OSError as e:
            print("pumpmon board ctl: %s: %s" % (args.control, e), file=sys.stderr)
            return BAD_INPUT
        return OK
    if args.mcu:
        from host_tools.mcu.serve import serve as serve_mcu
        return serve_mcu(args)
    return serve(args)


def _advert(board, args):
    return {"port": os.path.abspath(board.pty_path), "tty": board.pty_name,
            "socket": "socket://127.0.0.1:%d" % board.tcp_port if board.tcp else None,
            "control": board.control_path, "flash": board.flash,
            "trace": args.trace, "speed": args.speed, "started": int(time.time())}


def serve(args):
    from host_tools.formats.trace import TraceError
    tmp_flash = None
    flash = args.flash
    if not flash:
        tmp_flash = flash = tempfile.mkdtemp(prefix="pumpmon-flash-")
    view = LiveView() if not args.quiet else None
    if args.fault and not args.trace:
        print("pumpmon board serve: --fault needs --trace (its times are trace times)",
              file=sys.stderr)
        return BAD_INPUT
    try:
        board = VirtualBoard(
            flash, pty_path=args.pty, tcp_port=args.socket, flash_size=args.flash_size,
            trace=args.trace, speed=args.speed, timeline=args.timeline, faults=args.fault,
            control=args.control, heap=args.heap, exit_at_end=args.exit_at_end,
            display=view, epoch=args.epoch, pico_heap=args.pico_heap)
    except (UsageError, TraceError, OSError) as e:
        print("pumpmon board serve: %s" % e, file=sys.stderr)
        return BAD_INPUT
    stop = []
    ad = None

    def on_signal(signum, frame):
        stop.append(signum)
        board.wake()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    keys = Keys(board) if (view and sys.stdin.isatty()) else None
    try:
        board.start()
        if not board.wait_ready():
            print("pumpmon board serve: the virtual board did not start: %s"
                  % board.start_failure, file=sys.stderr)
            return PROBLEM
        info = _advert(board, args)
        ad = advertise(info)                    # `pumpmon devs` lists it
        if args.json:
            print(json.dumps(dict(info, pid=os.getpid())), flush=True)
        else:
            print(board.endpoints_line(), flush=True)
        if view:
            board.log = view.message
        if keys:
            keys.start()
            view.message("keys: p short press, a long press, h hang, r reset, c power cut, "
                         "s/o flow silent/ok, f/g flash fail/ok, q quit")
        board.serve(lambda: bool(stop) or (keys is not None and keys.quit))
    finally:
        if ad:
            withdraw(ad)
        if keys:
            keys.stop()
        board.close()
        for s, h in old.items():
            signal.signal(s, h)
        if view and view.tty:
            sys.stdout.write("\n")
        if tmp_flash:
            shutil.rmtree(tmp_flash, ignore_errors=True)
    return OK
