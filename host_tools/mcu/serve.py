"""`pumpmon board serve --mcu`: the emulated microcontroller as a board that
mpremote and `pumpmon` talk to (docs/mcu.md). QEMU runs MicroPython's qemu
port (`make mcu`) with its REPL on a pty, linked where the virtual board's
is and advertised like it, so `pumpmon devs` lists it and `pumpmon flash
--port PTY` flashes it (boards/qemu/: no sensors attached). Runs until
SIGINT/SIGTERM or QEMU ends; QEMU is stopped by its pid, the link and the
advert removed.
"""
import json
import os
import signal
import sys
import tempfile
import time

from host_tools.device.ports import advertise, withdraw
from host_tools.exitcodes import BAD_INPUT, OK, PROBLEM
from host_tools.mcu.qemu import PICO_HEAP, McuError, Qemu

WHAT = "emulated Cortex-M3, MicroPython qemu port"


def default_link():
    d = os.path.join(tempfile.gettempdir(), "pumpmon-vboard-%d" % os.getuid())
    return os.path.join(d, "ttyMCU0")


def _link(target, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if os.path.islink(path) or os.path.exists(path):
        os.unlink(path)
    os.symlink(target, path)


def serve(args):
    if args.flash or args.trace or args.fault or args.pico_heap:
        print("pumpmon board serve --mcu: --flash, --trace, --fault and --pico-heap are the "
              "virtual board's (the MCU's flash is in its RAM, its heap the Pico's, no "
              "sensors are attached)", file=sys.stderr)
        return BAD_INPUT
    size = args.flash_size
    if size % 4096 or not 64 * 1024 <= size <= 16 * 1024 * 1024:
        print("pumpmon board serve --mcu: --flash-size: 64 KiB to 16 MiB in 4 KiB blocks",
              file=sys.stderr)
        return BAD_INPUT
    stop = []

    def on_signal(signum, frame):
        stop.append(signum)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    q = ad = None
    link = args.pty or default_link()
    try:
        try:
            q = Qemu(flash=size if size != 1024 * 1024 else None)
        except (McuError, OSError) as e:
            print("pumpmon board serve --mcu: %s" % e, file=sys.stderr)
            return PROBLEM
        try:
            _link(q.pty, link)
        except OSError as e:
            print("pumpmon board serve --mcu: cannot create the pty link %s: %s" % (link, e),
                  file=sys.stderr)
            return BAD_INPUT
        info = {"port": os.path.abspath(link), "tty": q.pty, "socket": None, "control": None,
                "flash": "RAM (%d KiB)" % (size // 1024), "trace": None, "speed": None,
                "started": int(time.time()), "what": WHAT, "qemu_pid": q.pid,
                "heap": PICO_HEAP}
        ad = advertise(info)                    # `pumpmon devs` lists it
        if args.json:
            print(json.dumps(dict(info, pid=os.getpid())), flush=True)
        else:
            print("mcu ready pty=%s tty=%s qemu_pid=%d heap=%d flash=%d" %
                  (link, q.pty, q.pid, PICO_HEAP, size), flush=True)
            if not args.quiet:
                print("flash it: pumpmon flash --port %s --config FILE; stop: Ctrl-C" % link,
                      flush=True)
        while not stop and q.alive():
            time.sleep(0.2)
        if not stop:
            print("pumpmon board serve --mcu: QEMU ended (status %s)" % q.proc.returncode,
                  file=sys.stderr)
            return PROBLEM
        return OK
    finally:
        if ad:
            withdraw(ad)
        if q is not None:
            q.stop()
            if os.path.islink(link) and os.readlink(link) == q.pty:
                os.unlink(link)
        for s, h in old.items():
            signal.signal(s, h)
