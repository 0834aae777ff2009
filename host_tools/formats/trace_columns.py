"""The columns of trace v1 (docs/trace-format.md): their names, units and
limits, and one cell read or written in the firmware's integer units. The
reader (host_tools/formats/trace.py) and the writer
(host_tools/formats/trace_writer.py) both take them from here, so the two
sides of the format cannot drift apart.

Units: a level in uL (mL x 1000, rounded to the nearest uL), a flow in
0.1 uL/h (uL/h x 10, rounded to the nearest 0.1 uL/h, halves away from zero).
"""
import math

from pumpmon import config as _config

from host_tools.terminal import CUT, quoted

MAGIC = "pumpmon-trace"
VERSION = "1"
REQUIRED = ("t_ms", "reservoir_ml", "flow_ul_h")
# the latest time a row may have: 10 years. A replay steps the engine once a
# second through every gap, so an absurd time would spin for hours instead of
# failing (and a board's recording never spans more than months)
MAX_T_MS = 10 * 366 * 86400 * 1000
# the longest gap between two rows: 7 days. The replay steps the monitor
# through every second of a gap (sensor silence), about 2 s a simulated week
# on CPython; a longer gap is a unit mistake or two recordings glued together,
# refused at once with FILE:LINE rather than stepped through for minutes
MAX_GAP_MS = 7 * 86400 * 1000
OPTIONAL = ("button", "refill", "flow_flags")
# names a flow_flags cell may hold (bits of the firmware's flags argument)
FLAG_NAMES = {"air": 1}
# metadata keys that are monitor settings (everything pumpmon.config knows)
CONFIG_KEYS = tuple(_config.LIMITS) + tuple(_config.OTHER_KEYS)
# metadata keys the tools write that describe the trace (no effect on the
# monitor): trace gen / the corpus, then trace record / stream. Any other key
# is refused (a typo of a setting must not pass as a default), except a
# person's own, which start with OWN_PREFIX
INFO_KEYS = ("scenario", "seed", "generator", "description", "source", "board", "firmware",
             "firmware_build", "micropython", "port", "recorded", "boots", "excerpt",
             "time_base", "config_error")
OWN_PREFIX = "x_"
# readings beyond these are refused as malformed rather than passed on
# (the monitor's own valid ranges are far inside them)
MAX_ABS_ML = 1.0e6
MAX_ABS_UL_H = 1.0e8



class TraceError(Exception):
    """A problem with a trace; str() is exactly 'FILE:LINE: what is wrong'."""

    def __init__(self, path, line, what):
        self.path = str(path)
        self.line = line
        if len(what) > 2 * CUT + 100:      # a backstop: quoted text is cut where quoted
            what = "%s... (%d characters more)" % (what[:2 * CUT], len(what) - 2 * CUT)
        self.what = what
        super().__init__("%s:%d: %s" % (self.path, line, what))


def round_half_away(x):
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def parse_number(cell, col, what_unit, scale, limit):
    """Text of a reading -> int in firmware units, None when empty; ValueError text."""
    cell = cell.strip()
    if not cell:
        return None
    try:
        v = float(cell)
    except ValueError:
        raise ValueError("%s: %s is not a number" % (
            col, quoted(cell.decode("utf-8", "replace"))))
    if b"_" in cell or v != v or v in (math.inf, -math.inf):
        raise ValueError("%s: %s is not a finite number" % (
            col, quoted(cell.decode("utf-8", "replace"))))
    if abs(v) > limit:
        raise ValueError("%s: %s %s is out of the range the format allows (+-%g)" % (
            col, cell.decode(), what_unit, limit))
    return round_half_away(v * scale)


SWITCH = {b"0": 0, b"1": 1, b"": 0}


def parse_switch(cell, col):
    cell = cell.strip()
    if cell in (b"", b"0"):
        return 0
    if cell == b"1":
        return 1
    raise ValueError("%s: %s is not 0 or 1" % (col, quoted(cell.decode("utf-8", "replace"))))


def parse_flags(cell):
    cell = cell.strip()
    if not cell:
        return 0
    try:
        v = int(cell)
    except ValueError:
        v = 0
        for name in cell.decode("utf-8", "replace").split("|"):
            name = name.strip()
            if name not in FLAG_NAMES:
                raise ValueError("flow_flags: %r is not a flag (known: %s, or a number 0-255)"
                                 % (name, ", ".join(sorted(FLAG_NAMES))))
            v |= FLAG_NAMES[name]
        return v
    if b"_" in cell or not 0 <= v <= 255:
        raise ValueError("flow_flags: %r is not a flag number 0-255" % cell.decode())
    return v


def _fixed(v, digits):
    """An integer count of 10**-digits units as a decimal ('' for None)."""
    if v is None:
        return ""
    one = 10 ** digits
    sign = "-" if v < 0 else ""
    v = abs(v)
    return "%s%d.%0*d" % (sign, v // one, digits, v % one)


def format_level(ul):
    """A level in uL as mL with 3 decimals."""
    return _fixed(ul, 3)


def format_flow(dul):
    """A flow in 0.1 uL/h as uL/h with 1 decimal."""
    return _fixed(dul, 1)
