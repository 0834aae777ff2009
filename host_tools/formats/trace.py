"""Trace format v1: reading, validating and writing recorded sensor traces.

The format is described in docs/trace-format.md. In short:

    # pumpmon-trace v1
    # rate_ul_h=41.7
    # reservoir_capacity_ml=40
    t_ms,reservoir_ml,flow_ul_h,button,refill
    0,18.50,41.2,0,0
    1000,18.50,,0,0

Everything here streams: a trace of weeks (millions of rows) is never held in
memory. Every problem with a file is a `TraceError` whose text is exactly
`FILE:LINE: what is wrong`.

Samples are yielded in the firmware's integer units:
`(t_ms, level_ul|None, flow_dul_h|None, flags, button, refill)` with the level
in uL (mL x 1000, rounded to the nearest uL) and the flow in 0.1 uL/h (uL/h x
10, rounded to the nearest 0.1 uL/h, halves away from zero).
"""
import csv
import math
import os

from pumpmon import config as _config

MAGIC = "pumpmon-trace"
VERSION = "1"
REQUIRED = ("t_ms", "reservoir_ml", "flow_ul_h")
# the latest time a row may have: 10 years. A replay steps the engine once a
# second through every gap, so an absurd time would spin for hours instead of
# failing (and a board's recording never spans more than months)
MAX_T_MS = 10 * 366 * 86400 * 1000
OPTIONAL = ("button", "refill", "flow_flags")
# names a flow_flags cell may hold (bits of the firmware's flags argument)
FLAG_NAMES = {"air": 1}
# metadata keys that are monitor settings (everything pumpmon.config knows)
CONFIG_KEYS = tuple(_config.LIMITS) + tuple(_config.OTHER_KEYS)
# readings beyond these are refused as malformed rather than passed on
# (the monitor's own valid ranges are far inside them)
MAX_ABS_ML = 1.0e6
MAX_ABS_UL_H = 1.0e8


class TraceError(Exception):
    """A problem with a trace; str() is exactly 'FILE:LINE: what is wrong'."""

    def __init__(self, path, line, what):
        self.path = str(path)
        self.line = line
        self.what = what
        super().__init__("%s:%d: %s" % (self.path, line, what))


def _round_half_away(x):
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def _number(cell, col, what_unit, scale, limit):
    """Text of a reading -> int in firmware units, None when empty; ValueError text."""
    cell = cell.strip()
    if not cell:
        return None
    try:
        v = float(cell)
    except ValueError:
        raise ValueError("%s: %r is not a number" % (col, cell.decode("utf-8", "replace")))
    if b"_" in cell or v != v or v in (math.inf, -math.inf):
        raise ValueError("%s: %r is not a finite number" % (col, cell.decode("utf-8", "replace")))
    if abs(v) > limit:
        raise ValueError("%s: %s %s is out of the range the format allows (+-%g)" % (
            col, cell.decode(), what_unit, limit))
    return _round_half_away(v * scale)


_SWITCH = {b"0": 0, b"1": 1, b"": 0}


def _switch(cell, col):
    cell = cell.strip()
    if cell in (b"", b"0"):
        return 0
    if cell == b"1":
        return 1
    raise ValueError("%s: %r is not 0 or 1" % (col, cell.decode("utf-8", "replace")))


def _flags(cell):
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


class Trace:
    """A trace file: metadata read on open, samples streamed on demand."""

    def __init__(self, path):
        self.path = path
        if isinstance(path, (str, bytes)) or hasattr(path, "__fspath__"):
            self.name = os.fsdecode(path)
        else:
            self.name = str(getattr(path, "name", path))
        self.meta = {}          # key -> value text
        self.meta_line = {}     # key -> line number
        self.columns = []       # header names
        self.header_line = 0
        self.position = 0       # bytes read by samples() so far (roughly)
        self._read_head()
        try:
            self.size = os.path.getsize(path)
        except (OSError, TypeError):
            self.size = 0

    # ---- header --------------------------------------------------------
    def _err(self, line, what):
        return TraceError(self.name, line, what)

    def _open(self):
        try:
            return open(self.path, "rb")
        except OSError as e:
            raise TraceError(self.name, 1, "cannot open: %s" % (e.strerror or e))

    def _text(self, raw, n):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise self._err(n, "not UTF-8 (byte 0x%02x at column %d)" % (
                raw[e.start], e.start + 1))

    def _read_head(self):
        with self._open() as f:
            n = 0
            for raw in f:
                n += 1
                if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                text = self._text(raw, n).strip()
                if not text:
                    continue
                if text.startswith("#"):
                    self._meta_line(text[1:].strip(), n)
                    continue
                self._header(text, n)
                return
        if n == 0:
            raise self._err(1, "empty file")
        raise self._err(n, "no header row (expected %s)" % ",".join(REQUIRED))

    def _meta_line(self, body, n):
        if body.startswith(MAGIC):
            version = body[len(MAGIC):].strip()
            if version != "v" + VERSION:
                raise self._err(n, "unsupported trace format %r (this tool reads %s v%s)"
                                % (body, MAGIC, VERSION))
            self.meta_line[MAGIC] = n
            return
        if "=" not in body:
            return  # a plain comment
        key, value = body.split("=", 1)
        key = key.strip()
        value = value.strip()
        if not key or " " in key:
            return  # prose that happens to contain '='
        if key in self.meta:
            raise self._err(n, "metadata %r given twice (first on line %d)"
                            % (key, self.meta_line[key]))
        if key in CONFIG_KEYS:
            self._check_setting(key, value, n)
        self.meta[key] = value
        self.meta_line[key] = n

    def _check_setting(self, key, value, n):
        try:
            if key == "schedule":
                _config.parse_schedule(value)
            elif key == "start":
                _config.parse_hhmm(value, "start")
            elif key in _config.LIMITS:
                _config._number(key, value)
        except _config.ConfigError as e:
            raise self._err(n, "bad metadata: %s" % e)

    def _header(self, text, n):
        if '"' in text:
            names = next(csv.reader([text]))
        else:
            names = text.split(",")
        names = [c.strip() for c in names]
        self.columns = names
        self.header_line = n
        seen = set()
        for c in names:
            if c in seen and (c in REQUIRED or c in OPTIONAL):
                raise self._err(n, "column %r appears twice" % c)
            seen.add(c)
        for c in REQUIRED:
            if c not in names:
                raise self._err(n, "missing required column %r (header is %r)" % (c, text))
        self._idx = [names.index(c) if c in names else -1
                     for c in REQUIRED + OPTIONAL]

    # ---- settings ------------------------------------------------------
    def config_values(self, overrides=None):
        """Settings for pumpmon.config.Config: metadata, then overrides on top.

        rate_ul_h and schedule replace one another (an override giving one
        drops the other from the metadata)."""
        values = {k: v for k, v in self.meta.items() if k in CONFIG_KEYS}
        if overrides:
            overrides = dict(overrides)
            if "rate_ul_h" in overrides and "schedule" not in overrides:
                values.pop("schedule", None)
            if "schedule" in overrides and "rate_ul_h" not in overrides:
                values.pop("rate_ul_h", None)
            values.update(overrides)
        return values

    def config(self, overrides=None, overrides_name=None):
        """A validated Config; a bad combination is a TraceError (line of the
        metadata, or line 1 of the overriding file)."""
        try:
            # a board that could not use its config.json ran on the fallback
            # (rate 0, which only the fallback has without pump_stopped)
            fallback = bool(self.meta.get("config_error")) and not overrides
            return _config.Config(self.config_values(overrides), fallback)
        except _config.ConfigError as e:
            if overrides_name:
                raise TraceError(overrides_name, 1, "%s (with the metadata of %s)"
                                 % (e, self.name))
            line = 1
            for key in self.meta_line:
                if key in str(e):
                    line = self.meta_line[key]
                    break
            raise self._err(line, "bad metadata: %s" % e)

    # ---- rows ----------------------------------------------------------
    def samples(self):
        """Yield (t_ms, level_ul|None, flow_dul|None, flags, button, refill).

        Streams the file; raises TraceError on the first bad row. A fast path
        takes the common clean row; anything unusual goes through _row(),
        which parses carefully and names the problem."""
        it, il, ifl, ib, ir, ig = self._idx
        ncols = len(self.columns)
        hl = self.header_line
        sw = _SWITCH
        row = self._row
        prev = -1
        n = 0
        with self._open() as f:
            for raw in f:
                n += 1
                if n <= hl:
                    continue
                if not n & 0xFFFF:
                    self.position = f.tell()
                cells = raw.rstrip().split(b",")
                if len(cells) == ncols and raw.isascii() and b"_" not in raw \
                        and b'"' not in raw:
                    try:
                        t = int(cells[it])
                        if t <= prev or t > MAX_T_MS:
                            raise ValueError
                        c = cells[il]
                        if c:
                            v = float(c)
                            if not -MAX_ABS_ML <= v <= MAX_ABS_ML:
                                raise ValueError
                            level = int(v * 1000.0 + (0.5 if v >= 0.0 else -0.5))
                        else:
                            level = None
                        c = cells[ifl]
                        if c:
                            v = float(c)
                            if not -MAX_ABS_UL_H <= v <= MAX_ABS_UL_H:
                                raise ValueError
                            flow = int(v * 10.0 + (0.5 if v >= 0.0 else -0.5))
                        else:
                            flow = None
                        button = sw[cells[ib]] if ib >= 0 else 0
                        refill = sw[cells[ir]] if ir >= 0 else 0
                        flags = sw[cells[ig]] if ig >= 0 else 0
                    except (ValueError, KeyError):
                        s = row(raw, n, prev)
                    else:
                        prev = t
                        yield (t, level, flow, flags, button, refill)
                        continue
                else:
                    s = row(raw, n, prev)
                if s is not None:
                    prev = s[0]
                    yield s
        if prev < 0:
            raise self._err(max(n, 1), "no samples after the header (line %d)" % hl)

    def _row(self, raw, n, prev):
        """One row, parsed carefully: a sample, None (blank or comment), or a
        TraceError naming the line and the problem."""
        it, il, ifl, ib, ir, ig = self._idx
        ncols = len(self.columns)
        err = self._err
        if not raw.isascii():
            self._text(raw, n)  # raises when not UTF-8
        line = raw.strip()
        if not line or line.startswith(b"#"):
            return None
        if b'"' in line:
            try:
                cells = [c.encode("utf-8") for c in
                         next(csv.reader([line.decode("utf-8")], strict=True))]
            except csv.Error as e:
                raise err(n, "bad CSV quoting: %s" % e)
        else:
            cells = line.split(b",")
        if len(cells) != ncols:
            raise err(n, "%d cells where the header has %d columns" % (len(cells), ncols))
        try:
            c = cells[it].strip()
            try:
                t = int(c)
                if b"_" in c:
                    raise ValueError
            except ValueError:
                raise ValueError("t_ms: %r is not an integer number of ms"
                                 % c.decode("utf-8", "replace"))
            if t > MAX_T_MS:
                raise ValueError("t_ms: %d is beyond %d (10 years): not a recording this "
                                 "monitor could make" % (t, MAX_T_MS))
            if t <= prev:
                if t < 0:
                    raise ValueError("t_ms: %d is negative" % t)
                raise ValueError("t_ms: %d is not after the previous row's %d "
                                 "(time must strictly increase)" % (t, prev))
            level = _number(cells[il], "reservoir_ml", "mL", 1000.0, MAX_ABS_ML)
            flow = _number(cells[ifl], "flow_ul_h", "uL/h", 10.0, MAX_ABS_UL_H)
            button = _switch(cells[ib], "button") if ib >= 0 else 0
            refill = _switch(cells[ir], "refill") if ir >= 0 else 0
            flags = _flags(cells[ig]) if ig >= 0 else 0
        except ValueError as e:
            raise err(n, str(e))
        return (t, level, flow, flags, button, refill)

    def validate(self):
        """Full pass over the rows; returns the number of rows and the last t_ms."""
        rows = 0
        last = 0
        for s in self.samples():
            rows += 1
            last = s[0]
        return rows, last


def read_trace(path):
    """Open a trace and read its metadata and header (TraceError when bad)."""
    return Trace(path)


def validate(path):
    """Check a whole trace (TraceError on the first problem); (rows, last t_ms)."""
    return Trace(path).validate()


def _fmt_level(ul):
    if ul is None:
        return ""
    sign = "-" if ul < 0 else ""
    ul = abs(ul)
    return "%s%d.%03d" % (sign, ul // 1000, ul % 1000)


def _fmt_flow(dul):
    if dul is None:
        return ""
    sign = "-" if dul < 0 else ""
    dul = abs(dul)
    return "%s%d.%d" % (sign, dul // 10, dul % 10)


def write_trace(path_or_file, meta, samples):
    """Write a v1 trace: metadata (dict, insertion order kept) then the rows.

    samples: iterable of (t_ms, level_ul|None, flow_dul|None, flags, button,
    refill) in firmware units (as samples() yields them). The button, refill
    and flow_flags columns are always written. Returns the number of rows."""
    if isinstance(path_or_file, (str, bytes)) or hasattr(path_or_file, "__fspath__"):
        with open(path_or_file, "w", encoding="utf-8", newline="\n") as f:
            return write_trace(f, meta, samples)
    f = path_or_file
    out = ["# %s v%s\n" % (MAGIC, VERSION)]
    for k, v in meta.items():
        if k == MAGIC:
            continue
        k = str(k)
        v = str(v)
        if not k or "=" in k or "\n" in k + v or " " in k:
            raise ValueError("bad metadata key or value: %r=%r" % (k, v))
        out.append("# %s=%s\n" % (k, v))
    out.append("t_ms,reservoir_ml,flow_ul_h,button,refill,flow_flags\n")
    f.write("".join(out))
    n = 0
    buf = []
    for t, level, flow, flags, button, refill in samples:
        buf.append("%d,%s,%s,%d,%d,%d\n" % (t, _fmt_level(level), _fmt_flow(flow),
                                          button, refill, flags))
        n += 1
        if len(buf) >= 4096:
            f.write("".join(buf))
            buf = []
    f.write("".join(buf))
    return n
