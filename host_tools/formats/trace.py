"""Trace format v1: reading and validating recorded sensor traces (the
front door of the format: write_trace, TraceError and the column names are
re-exported here; the columns are trace_columns.py, the writer trace_writer.py).

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
import difflib
import os
import re

from pumpmon import config as _config

from host_tools.formats.trace_columns import (  # noqa: F401 (re-exported: the format's API)
    CONFIG_KEYS, FLAG_NAMES, INFO_KEYS, MAGIC, MAX_ABS_ML, MAX_ABS_UL_H, MAX_GAP_MS, MAX_T_MS,
    OPTIONAL, OWN_PREFIX, REQUIRED, SWITCH, VERSION, TraceError, parse_flags, parse_number, parse_switch)
from host_tools.formats.trace_writer import write_trace  # noqa: F401 (re-exported)
from host_tools.terminal import quoted

# rows remembered by Trace.samples' fastest path (a few MB at most)
_SEEN_MAX = 16384
# level and flow cells remembered by its clean-row path, each
_CELLS_MAX = 8192

# a metadata key (a `# word=...` comment whose word is not a name is free text)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


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
        self._reading = None    # the file samples() reads, and
        self._read = 0          # where it ended (position)
        self._read_head()
        try:
            self.size = os.path.getsize(path)
        except (OSError, TypeError):
            self.size = 0

    @property
    def position(self):
        """Bytes samples() has read (for progress; the row loop pays nothing)."""
        f = self._reading
        # (a samples() left before its end closed its file)
        return f.tell() if f is not None and not f.closed else self._read

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
                raise self._err(n, "unsupported trace format %s (this tool reads %s v%s)"
                                % (quoted(body), MAGIC, VERSION))
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
            raise self._err(n, "metadata %s given twice (first on line %d)"
                            % (quoted(key), self.meta_line[key]))
        if key in CONFIG_KEYS:
            try:
                _check_setting(key, value)
            except _config.ConfigError as e:
                raise self._err(n, "bad metadata: %s" % e)
        elif key not in INFO_KEYS and not key.startswith(OWN_PREFIX) and _IDENT.match(key):
            near = difflib.get_close_matches(key, CONFIG_KEYS + INFO_KEYS, n=1, cutoff=0.75)
            raise self._err(n, "unknown metadata key %s%s; settings are in docs/config.md, "
                            "your own keys start with %s" % (
                                quoted(key), " (did you mean %r?)" % near[0] if near else "",
                                OWN_PREFIX))
        self.meta[key] = value
        self.meta_line[key] = n

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
                raise self._err(n, "column %s appears twice" % quoted(c))
            seen.add(c)
        for c in REQUIRED:
            if c not in names:
                raise self._err(n, "missing required column %r (header is %s)"
                                % (c, quoted(text)))
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
        sw = SWITCH
        row = self._row
        prev = -1
        n = 0
        # fastest path: a row whose text after t_ms (the first column) was
        # seen before in a row the clean-row path took gives the same values
        # again; only t_ms is read and checked (digits only, else the paths
        # below judge the row). Bounded, so memory stays flat.
        seen = {}
        room = _SEEN_MAX if it == 0 else 0     # (t_ms not first: never filled)
        # level and flow cells the clean-row path parsed, by their text
        # (bounded; the dict itself marks a miss; empty: no reading)
        lvc = {b"": None}
        flc = {b"": None}
        with self._open() as f:
            self._reading = f
            for raw in f:
                n += 1
                if n >= hl:
                    break   # the metadata and the header: read on open
            first = n + 1
            for n, raw in enumerate(f, first):
                c, _, tail = raw.partition(b",")
                v = seen.get(tail)
                if v is not None and c.isdigit():
                    t = int(c)
                    if prev < t <= MAX_T_MS and (prev < 0 or t - prev <= MAX_GAP_MS):
                        prev = t
                        yield (t,) + v
                        continue
                cells = raw.rstrip().split(b",")
                if len(cells) == ncols and raw.isascii() and b"_" not in raw \
                        and b'"' not in raw:
                    try:
                        t = int(cells[it])
                        if t <= prev or t > MAX_T_MS or \
                                (prev >= 0 and t - prev > MAX_GAP_MS):
                            raise ValueError
                        c = cells[il]
                        level = lvc.get(c, lvc)
                        if level is lvc:
                            v = float(c)
                            if not -MAX_ABS_ML <= v <= MAX_ABS_ML:
                                raise ValueError
                            level = int(v * 1000.0 + (0.5 if v >= 0.0 else -0.5))
                            if len(lvc) < _CELLS_MAX:
                                lvc[c] = level
                        c = cells[ifl]
                        flow = flc.get(c, flc)
                        if flow is flc:
                            v = float(c)
                            if not -MAX_ABS_UL_H <= v <= MAX_ABS_UL_H:
                                raise ValueError
                            flow = int(v * 10.0 + (0.5 if v >= 0.0 else -0.5))
                            if len(flc) < _CELLS_MAX:
                                flc[c] = flow
                        button = sw[cells[ib]] if ib >= 0 else 0
                        refill = sw[cells[ir]] if ir >= 0 else 0
                        flags = sw[cells[ig]] if ig >= 0 else 0
                    except (ValueError, KeyError):
                        s = row(raw, n, prev)
                    else:
                        prev = t
                        if room:
                            room -= 1
                            seen[tail] = (level, flow, flags, button, refill)
                        yield (t, level, flow, flags, button, refill)
                        continue
                else:
                    s = row(raw, n, prev)
                if s is not None:
                    prev = s[0]
                    yield s
            self._read = f.tell()
            self._reading = None
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
                raise ValueError("t_ms: %s is not an integer number of ms"
                                 % quoted(c.decode("utf-8", "replace")))
            if t > MAX_T_MS:
                raise ValueError("t_ms: %d is beyond %d (10 years): not a recording this "
                                 "monitor could make" % (t, MAX_T_MS))
            if t <= prev:
                if t < 0:
                    raise ValueError("t_ms: %d is negative" % t)
                raise ValueError("t_ms: %d is not after the previous row's %d "
                                 "(time must strictly increase)" % (t, prev))
            if prev >= 0 and t - prev > MAX_GAP_MS:
                raise ValueError("t_ms: %d is %.1f days after the previous row's %d: a gap "
                                 "longer than %d days is refused (a unit mistake?)"
                                 % (t, (t - prev) / 86400000.0, prev, MAX_GAP_MS // 86400000))
            level = parse_number(cells[il], "reservoir_ml", "mL", 1000.0, MAX_ABS_ML)
            flow = parse_number(cells[ifl], "flow_ul_h", "uL/h", 10.0, MAX_ABS_UL_H)
            button = parse_switch(cells[ib], "button") if ib >= 0 else 0
            refill = parse_switch(cells[ir], "refill") if ir >= 0 else 0
            flags = parse_flags(cells[ig]) if ig >= 0 else 0
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


def _check_setting(key, value):
    """A setting in the metadata, checked as config.json's (ConfigError)."""
    if key == "schedule":
        _config.parse_schedule(value)
    elif key == "start":
        _config.parse_hhmm(value, "start")
    elif key in _config.LIMITS:
        _config._number(key, value)


def read_trace(path):
    """Open a trace and read its metadata and header (TraceError when bad)."""
    return Trace(path)


def validate(path):
    """Check a whole trace (TraceError on the first problem); (rows, last t_ms)."""
    return Trace(path).validate()

