"""Which board a command talks to: the one place `--port` is resolved.

Every command that talks to a board (flash, config, status, log pull, trace
record and stream, run) takes the same `--port` (docs/cli.md):
- omitted or `auto`: auto-detection, as mpremote's: the USB serial ports with
  a vendor id. Exactly one: that one. None, or several: refused (exit 3) with
  what was found, the virtual boards running included, and how to choose; a
  command never guesses between two boards (it could flash the wrong one).
- mpremote's shorthands, the same table as its own (`mpremote a0`):
  `a0`..`a3` = /dev/ttyACM0..3, `u0`..`u3` = /dev/ttyUSB0..3, `c0`..`c3` =
  COM0..3; `id:SERIAL` (the USB serial number), `port:PATH`.
- anything else as it is: a device, a virtual board's pty, socket://HOST:PORT.

Running virtual boards (`pumpmon board serve`, `make vboard`) advertise
themselves with a small file in the runtime folder (advertise()), which
`pumpmon devs` and the messages here list.
"""
import json
import os
import re
import tempfile

from host_tools.device.errors import DeviceError
from host_tools.exitcodes import BAD_INPUT, NO_BOARD

# mpremote's shorthands (mpremote/main.py, _BUILTIN_COMMAND_EXPANSIONS: range(4));
# tests/host/test_cli.py pins this table to mpremote's own
SHORTHAND_PREFIXES = (("a", "/dev/ttyACM"), ("u", "/dev/ttyUSB"), ("c", "COM"))
SHORTHANDS = {"%s%d" % (k, n): "%s%d" % (dev, n)
              for n in range(4) for k, dev in SHORTHAND_PREFIXES}

PORT_HELP = ("the board: a device, mpremote's a0..a3 / u0..u3 / c0..c3 "
             "(/dev/ttyACMn, /dev/ttyUSBn, COMn), id:SERIAL, a virtual board's pty, "
             "socket://HOST:PORT; default auto: the one USB board attached "
             "(`pumpmon devs` lists them)")

MAX_LISTED = 8          # boards named in a message (`pumpmon devs` lists them all)
START_VIRTUAL = "start a virtual board with `make vboard` (pumpmon board serve)"


def add_port_argument(p, default=None):
    """The same --port on every command."""
    p.add_argument("--port", metavar="PORT", default=default, help=PORT_HELP)


# ---- USB serial ports ------------------------------------------------------------------------
def serial_ports(comports=None):
    """Every serial port, as mpremote `devs` lists them: dicts with device,
    vid, pid ("2e8a"), serial, manufacturer, product, description, usb (has
    a vendor id: a board, as mpremote's auto-detection sees it)."""
    if comports is None:
        try:
            import serial.tools.list_ports
            comports = serial.tools.list_ports.comports()
        except Exception:  # noqa: BLE001 - no port listing here: no board
            comports = []
    out = []
    for p in sorted(comports):
        usb = p.vid is not None and p.pid is not None
        out.append({
            "kind": "usb" if usb else "serial", "port": p.device,
            "shorthand": next((k for k, v in SHORTHANDS.items() if v == p.device), None),
            "vid": "%04x" % p.vid if isinstance(p.vid, int) else None,
            "pid": "%04x" % p.pid if isinstance(p.pid, int) else None,
            "serial": p.serial_number, "manufacturer": p.manufacturer,
            "product": p.product, "description": p.description})
    return out


def usb_boards(comports=None):
    return [p for p in serial_ports(comports) if p["kind"] == "usb"]


def usb_port():
    """The one USB board attached, or None (none, or several)."""
    boards = usb_boards()
    return boards[0]["port"] if len(boards) == 1 else None


# ---- virtual boards --------------------------------------------------------------------------
def runtime_dir():
    """Where running virtual boards advertise themselves
    ($PUMPMON_RUNTIME_DIR, else <tmp>/pumpmon-vboard-UID/boards)."""
    d = os.environ.get("PUMPMON_RUNTIME_DIR")
    if d:
        return d
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return os.path.join(tempfile.gettempdir(), "pumpmon-vboard-%d" % uid, "boards")


def advertise(info):
    """Write this process's virtual board into the runtime folder; returns
    the file (remove it with withdraw() when the board stops)."""
    d = runtime_dir()
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "%d.json" % os.getpid())
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(dict(info, pid=os.getpid()), f)
    os.replace(tmp, path)
    return path


def withdraw(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True            # someone else's process: it exists
    return True


def virtual_boards():
    """The virtual boards running now (dicts: kind "virtual", port, pid, tty,
    socket, control, flash, trace, speed). A file left by a board that was
    killed is removed."""
    d = runtime_dir()
    try:
        names = sorted(os.listdir(d))
    except OSError:
        return []
    out = []
    for name in names:
        if not name.endswith(".json"):
            continue
        path = os.path.join(d, name)
        try:
            with open(path) as f:
                info = json.load(f)
            pid = int(info["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not _alive(pid) or not os.path.exists(str(info.get("port"))):
            withdraw(path)
            continue
        out.append(dict(info, kind="virtual"))
    return out


def describe(b):
    """One board in a few words, for lists and messages."""
    if b["kind"] == "virtual":
        extra = [x for x in (b.get("what"), b.get("socket"),
                             b.get("trace") and "trace %s" % b["trace"]) if x]
        return "%s (virtual board, pid %d%s)" % (b["port"], b["pid"],
                                                  "".join(", " + x for x in extra))
    words = [w for w in (b.get("manufacturer"), b.get("product")) if w]
    what = " ".join(words) or b.get("description") or ""
    ids = "%s:%s" % (b["vid"] or "0000", b["pid"] or "0000")
    return "%s (%s%s)" % (b["port"], ids, " " + what if what and what != "n/a" else "")


# ---- --port -----------------------------------------------------------------------------------
def expand(port):
    """mpremote's spelling -> a device; None for auto-detection."""
    if port is None:
        return None
    port = port.strip()
    if port in ("", "auto"):
        return None
    if port in SHORTHANDS:
        return SHORTHANDS[port]
    if port.startswith("port:"):
        return port[len("port:"):]
    if port.startswith("id:"):
        wanted = port[len("id:"):]
        for b in serial_ports():
            if b["serial"] == wanted:
                return b["port"]
        raise DeviceError(NO_BOARD, "no board found: no USB serial port has the serial "
                          "number %s%s" % (wanted, _found()))
    if len(port) == 2 and port[0] in "auc" and port[1].isdigit():
        raise DeviceError(BAD_INPUT, "--port %s: mpremote's shorthands are a0..a3, u0..u3 "
                          "and c0..c3; give the device itself" % port)
    return port


def _found(usb=None):
    """What there is to choose from, and how: for the messages."""
    usb = usb_boards() if usb is None else usb
    virtual = virtual_boards()
    lines = []
    for b in (usb + virtual)[:MAX_LISTED]:
        lines.append("  --port %s" % describe(b))
    if len(usb + virtual) > MAX_LISTED:
        lines.append("  ... and %d more (`pumpmon devs`)" % (len(usb + virtual) - MAX_LISTED))
    if not virtual:
        lines.append("  %s%s, then give its pty as --port" % (
            "or " if usb else "no USB board, no virtual board running: ", START_VIRTUAL))
    return "\n" + "\n".join(lines)


def missing(dev):
    """A device path that is not there (a URL or a Windows COMn is not a path:
    only opening it can tell)."""
    return ("://" not in dev and not re.match(r"COM\d+\Z", dev, re.I)
            and not os.path.exists(dev))


def resolve_port(port=None):
    """The device a command opens, for a --port as given (None: auto); a
    DeviceError(NO_BOARD) listing what was found when there is no single
    answer."""
    dev = expand(port)
    if dev is not None:
        if missing(dev):
            raise DeviceError(NO_BOARD, "no board found: %s does not exist; boards here:%s"
                              % (dev, _found()))
        return dev
    usb = usb_boards()
    if len(usb) == 1:
        return usb[0]["port"]
    if not usb:
        raise DeviceError(NO_BOARD, "no board found: no USB serial port with a vendor id; "
                          "plug a board in or give --port:" + _found(usb))
    raise DeviceError(NO_BOARD, "%d boards found: give --port to choose one:" % len(usb)
                      + _found(usb))


def console(port, timeout=0.2):
    """The board's serial console, only read (no REPL exchange: the running
    monitor is left alone), for `pumpmon run` on a real board."""
    import serial
    return serial.serial_for_url(port, baudrate=115200, timeout=timeout)
