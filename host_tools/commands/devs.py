"""`pumpmon devs [--all] [--json]`: the boards a command could talk to.

The USB serial ports with a vendor id (what auto-detection and mpremote's
`devs` see: device, VID:PID, serial number, manufacturer and product) and the
virtual boards running on this machine (`pumpmon board serve`, `make vboard`:
their pty, socket, trace). Each line starts with what to give as --port.
Exit status 0, also when nothing is found (the list is the answer).
"""
import json
import sys

from host_tools.device.ports import START_VIRTUAL, describe, serial_ports, virtual_boards
from host_tools.exitcodes import OK


def add_arguments(p):
    p.add_argument("--all", action="store_true",
                   help="also serial ports without a vendor id (not a USB board)")
    p.add_argument("--json", action="store_true",
                   help="one JSON object: {\"boards\": [...]}, each with its kind "
                   "(usb, virtual, serial) and port")


def boards(all_ports=False):
    ports = [p for p in serial_ports() if all_ports or p["kind"] == "usb"]
    return ports + virtual_boards()


def _line(b):
    if b["kind"] == "virtual":
        return "%-30s virtual  %s" % (b["port"], describe(b).split(" (", 1)[1][:-1])
    short = (" (%s)" % b["shorthand"]) if b["shorthand"] else ""
    ids = "%s:%s" % (b["vid"] or "0000", b["pid"] or "0000")
    words = " ".join(w for w in (b.get("manufacturer"), b.get("product")) if w) or \
        (b.get("description") or "")
    serial = (" serial %s" % b["serial"]) if b.get("serial") else ""
    return "%-30s %-8s %s %s%s" % (b["port"] + short, b["kind"], ids, words, serial)


def run(args):
    found = boards(args.all)
    if args.json:
        print(json.dumps({"boards": found}))
        return OK
    for b in found:
        print(_line(b))
    if not any(b["kind"] == "usb" for b in found):
        # on stderr: stdout stays the list
        print("no USB board attached" + ("" if any(b["kind"] == "virtual" for b in found)
                                         else "; no virtual board running: " + START_VIRTUAL),
              file=sys.stderr)
    return OK
