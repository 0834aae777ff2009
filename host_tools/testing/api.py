"""The testers' Python API: replay a trace (or samples written in code)
through the firmware and ask questions of the events (docs/testing.md).

    from host_tools.testing import replay_trace

    r = replay_trace("ward/2026-11-03.csv", config="ward/monitor.json")
    stop = r.first_raised("no_flow")
    assert stop is not None and stop.t_s <= 5400
    r.assert_no_high_before(3600)
    assert r.check("ward/2026-11-03.expect.json") == []

`pumpmon replay` runs on the same code (stream() and check_lines()), so an
event here is byte for byte a line of its output, and check() returns exactly
the differences `--check` prints. Nothing here imports matplotlib: a plot is
drawn only when asked (plot()), and says which extra to install when it
cannot be.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, Union

from host_tools.formats.expectations import check_events, load_expectation, load_json_object
from host_tools.formats.trace import TraceError, read_trace, write_trace
from host_tools.formats.trace_columns import FLAG_NAMES, round_half_away

PathLike = Union[str, "os.PathLike[str]"]
Config = Union[PathLike, Mapping[str, Any], None]
RUNTIMES = ("cpython", "micropython")

__all__ = ["Event", "Replay", "ReplayError", "RUNTIMES", "TraceError", "check_lines",
           "replay_samples", "replay_trace", "stream"]


class ReplayError(RuntimeError):
    """The replay could not run (no MicroPython unix port, the port failed,
    the two runtimes disagree); bad input is a TraceError (FILE:LINE)."""


@dataclass(frozen=True)
class Event:
    """One event of the replay: the fields of a JSON Lines record
    (docs/replay.md); a field the record does not carry is None."""
    t_ms: int
    event: str
    alarm: str | None = None
    priority: str | None = None
    cause: str | None = None
    detail: str | None = None
    hours_to_empty: int | None = None
    line: str = field(default="", compare=False, repr=False)

    @property
    def t_s(self) -> float:
        """The event's trace time in seconds."""
        return self.t_ms / 1000

    @property
    def name(self) -> str:
        """alarm/cause ("no_flow/low_flow"), or the event for the others."""
        return "%s/%s" % (self.alarm, self.cause) if self.alarm else self.event

    @classmethod
    def from_line(cls, line: str) -> "Event":
        d = json.loads(line)
        return cls(d["t_ms"], d["event"], d.get("alarm"), d.get("priority"), d.get("cause"),
                   d.get("detail"), d.get("hours_to_empty"), line.rstrip("\n"))

    def as_dict(self) -> dict:
        """The record as `pumpmon replay` writes it (only the keys it has)."""
        return json.loads(self.line)

    def __str__(self) -> str:
        extra = " (%s)" % self.priority if self.priority else ""
        return "%s %s at %s%s" % (self.event, self.name if self.alarm else "",
                                  _clock(self.t_ms), extra)


def _clock(t_ms: int) -> str:
    """ms -> "1:30:05" (h:mm:ss) for messages people read."""
    s = t_ms // 1000
    return "%d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60)


def _matches(e: Event, alarm: str | None, cause: str | None) -> bool:
    return (alarm is None or e.alarm == alarm) and (cause is None or e.cause == cause)


class Replay:
    """The result of a replay: its events, and questions a test reads well."""

    def __init__(self, events: list[Event], trace: str, runtime: str):
        self.events = events
        self.trace = trace          # the trace file (or "<samples>")
        self.runtime = runtime

    def __repr__(self) -> str:
        return "<Replay %s on %s: %d events>" % (self.trace, self.runtime, len(self.events))

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    @property
    def jsonl(self) -> str:
        """The events exactly as `pumpmon replay` prints them."""
        return "".join(e.line + "\n" for e in self.events)

    def raised(self, alarm: str | None = None, cause: str | None = None,
               from_s: float = 0, to_s: float | None = None,
               priority: str | None = None) -> list[Event]:
        """The alarms raised in [from_s, to_s] (trace seconds; to_s None: to
        the end), of one alarm/cause/priority when given."""
        lo = from_s * 1000
        return [e for e in self.events if e.event == "alarm_raised" and _matches(e, alarm, cause)
                and e.t_ms >= lo and (to_s is None or e.t_ms <= to_s * 1000)
                and (priority is None or e.priority == priority)]

    def first_raised(self, alarm: str | None = None, cause: str | None = None) -> Event | None:
        """The first raising of that alarm (any alarm when None), or None."""
        got = self.raised(alarm, cause)
        return got[0] if got else None

    def high_before(self, t_s: float) -> list[Event]:
        """High-priority alarms raised before t_s."""
        return [e for e in self.raised(priority="high") if e.t_ms < t_s * 1000]

    def assert_no_high_before(self, t_s: float) -> None:
        """AssertionError, in words, when a high-priority alarm came before t_s."""
        early = self.high_before(t_s)
        if early:
            raise AssertionError("%s: no high-priority alarm was expected before %s, but %s"
                                 % (self.trace, _clock(int(t_s * 1000)),
                                    "; ".join("%s was raised at %s" % (e.name, _clock(e.t_ms))
                                              for e in early)))

    def check(self, expectation: PathLike) -> list[str]:
        """The differences from an expectation file, exactly the lines
        `pumpmon replay --check` prints; [] when it holds."""
        return check_lines(self.events, expectation)

    def explain(self, expectation: PathLike) -> list[str]:
        """The same differences in plain words: what was expected, by when,
        and what happened instead; [] when the expectation holds."""
        return explain(self.events, load_expectation(str(expectation)))

    def plot(self, png: PathLike, config: Config = None) -> Path:
        """Draw the trace and the alarms to a PNG (needs the `plot` extra:
        ImportError naming it otherwise). Only for a replay of a trace file."""
        if self.trace == SAMPLES:
            raise ReplayError("a replay of samples has no trace file to plot: write them "
                              "with host_tools.formats.trace.write_trace first")
        from host_tools.extras import missing
        if missing("plot"):
            raise ImportError(missing("plot"))
        from host_tools.replay import plot as _plot
        trace = read_trace(self.trace)
        cfg = trace.config(*_overrides(config))
        _plot.plot_replay(trace, cfg, [e.as_dict() for e in self.events], str(png))
        return Path(png)


SAMPLES = "<samples>"


def _overrides(config: Config) -> tuple:
    """(overrides dict | None, its file name | None) from a path or a dict."""
    if config is None:
        return None, None
    if isinstance(config, Mapping):
        return dict(config), "<config>"
    return load_json_object(str(config)), str(config)


def stream(trace_path: Any, write: Callable[[str], Any], config: Config = None,
           runtime: str = "cpython",
           progress: Callable[[Iterable], Iterable] | None = None):
    """Replay a trace file, writing each JSON line to write() as it comes
    (the command's path: memory stays flat however long the trace).
    TraceError for bad input (FILE:LINE), ReplayError when it cannot run."""
    from host_tools.replay.runtimes import run_cpython, run_micropython
    if runtime not in RUNTIMES:
        raise ValueError("runtime must be one of %s, not %r" % (", ".join(RUNTIMES), runtime))
    # a Trace already opened (the command's, whose position its progress shows)
    trace = trace_path if hasattr(trace_path, "samples") else read_trace(str(trace_path))
    overrides, name = _overrides(config)
    cfg = trace.config(overrides, name)
    progress = progress or (lambda samples: samples)
    try:
        if runtime == "micropython":
            return run_micropython(trace, trace.config_values(overrides), write, progress)
        return run_cpython(trace, cfg, write, progress)
    except TraceError:
        raise
    except RuntimeError as e:
        raise ReplayError(str(e)) from e


def _collect(trace_path: PathLike, config: Config, runtime: str, label: str) -> Replay:
    lines: list[str] = []
    stream(trace_path, lines.append, config, runtime)
    return Replay([Event.from_line(x) for x in lines], label, runtime)


def replay_trace(trace: PathLike, config: Config = None, runtime: str = "cpython") -> Replay:
    """Replay a trace file (docs/trace-format.md) through the firmware.

    config: a monitor configuration file (as `pumpmon replay --config`) or
    a dict of settings, over the trace's metadata. runtime: "cpython",
    "micropython" (the unix port: byte-identical events) or "both" (runs
    each and raises ReplayError unless their events are identical)."""
    if runtime == "both":
        a = _collect(trace, config, "cpython", str(trace))
        b = _collect(trace, config, "micropython", str(trace))
        diff = first_difference(a, b)
        if diff:
            raise ReplayError("%s: CPython and MicroPython disagree: %s" % (trace, diff))
        a.runtime = "both"
        return a
    return _collect(trace, config, runtime, str(trace))


def first_difference(a: Replay, b: Replay) -> str | None:
    """Where two replays' events first differ, in words; None when identical."""
    for i, (x, y) in enumerate(zip(a.events, b.events)):
        if x.line != y.line:
            return "event %d: %s on %s, %s on %s" % (i + 1, x.line, a.runtime, y.line, b.runtime)
    if len(a.events) != len(b.events):
        longer = a if len(a.events) > len(b.events) else b
        return "%s has %d more event(s), first %s" % (
            longer.runtime, abs(len(a.events) - len(b.events)),
            longer.events[min(len(a.events), len(b.events))].line)
    return None


def _row(i: int, s: Any) -> tuple:
    """One sample written in code -> firmware units (as the trace reader
    gives them): (t_ms, reservoir_ml, flow_ul_h[, button, refill, flow_flags])
    or a dict with those column names; None or "" is no reading."""
    if isinstance(s, Mapping):
        unknown = set(s) - {"t_ms", "reservoir_ml", "flow_ul_h", "button", "refill",
                            "flow_flags"}
        if unknown:
            raise TraceError(SAMPLES, i + 1, "samples[%d]: unknown key(s) %s" % (
                i, ", ".join(sorted(unknown))))
        s = (s.get("t_ms"), s.get("reservoir_ml"), s.get("flow_ul_h"), s.get("button", 0),
             s.get("refill", 0), s.get("flow_flags", 0))
    s = tuple(s)
    if len(s) not in (3, 4, 5, 6):
        raise TraceError(SAMPLES, i + 1, "samples[%d]: expected (t_ms, reservoir_ml, flow_ul_h"
                         "[, button, refill, flow_flags]), got %d values" % (i, len(s)))
    t, lv, fl = s[:3]
    button, refill, flags = (tuple(s[3:]) + (0, 0, 0))[:3]
    if isinstance(flags, str):
        bits = 0
        for name in filter(None, flags.split("|")):
            if name not in FLAG_NAMES:
                raise TraceError(SAMPLES, i + 1, "samples[%d]: unknown flow flag %r" % (i, name))
            bits |= FLAG_NAMES[name]
        flags = bits
    try:
        return (int(t), None if lv in (None, "") else round_half_away(float(lv) * 1000),
                None if fl in (None, "") else round_half_away(float(fl) * 10),
                int(flags or 0), int(button or 0), int(refill or 0))
    except (TypeError, ValueError) as e:
        raise TraceError(SAMPLES, i + 1, "samples[%d]: %s" % (i, e))


def replay_samples(samples: Iterable[Any], settings: Mapping[str, Any] | None = None,
                   config: Config = None, runtime: str = "cpython") -> Replay:
    """Replay samples given in code, in the trace format's units:
    (t_ms, reservoir_ml, flow_ul_h[, button, refill, flow_flags]) tuples or
    dicts with those column names. settings: the trace's metadata (at least
    rate_ul_h or schedule, docs/config.md); config: a configuration file or
    dict over them, as for replay_trace(). The samples go through the trace
    writer and reader, so they are checked exactly as a file's rows are; an
    error names the sample ("<samples>:N: sample N-1: ...")."""
    rows = [_row(i, s) for i, s in enumerate(samples)]
    meta = {k: _setting_text(k, v) for k, v in (settings or {}).items()}
    fd, tmp = tempfile.mkstemp(prefix="pumpmon-samples-", suffix=".csv")
    os.close(fd)
    try:
        write_trace(tmp, meta, rows)
        try:
            r = replay_trace(tmp, config, runtime)
        except TraceError as e:
            header = _header_line(tmp)
            if e.line > header:     # a row: name the sample it came from
                raise TraceError(SAMPLES, e.line - header, "samples[%d]: %s"
                                 % (e.line - header - 1, e.what)) from None
            raise TraceError(SAMPLES, 0, "settings: %s" % e.what) from None
        r.trace = SAMPLES
        return r
    finally:
        os.unlink(tmp)


def _setting_text(key: str, value: Any) -> str:
    """A setting as trace metadata text: a schedule given as a list
    [["00:00", 20], ["08:00", 200]] becomes "00:00/20;08:00/200"."""
    if key == "schedule" and not isinstance(value, str):
        return ";".join("%s/%s" % (hhmm, rate) for hhmm, rate in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _header_line(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.startswith("#") and line.strip():
                return n
    return 0


def check_lines(events: Sequence[Event | Mapping], expectation: PathLike) -> list[str]:
    """The `--check` differences between events and an expectation file."""
    exp = load_expectation(str(expectation))
    return check_events([e.as_dict() if isinstance(e, Event) else e for e in events], exp)


def explain(events: Sequence[Event], exp: Mapping) -> list[str]:
    """check_events' differences said in plain words, one sentence each."""
    raised = [e for e in events if e.event == "alarm_raised"]
    out = []
    expected = []
    for item in exp["raised"]:
        anyof = item if isinstance(item, list) else [item]
        expected += anyof
        if any(_matches(e, a, c) and e.t_ms >= lo * 1000 and (hi is None or e.t_ms <= hi * 1000)
               for a, c, lo, hi in anyof for e in raised):
            continue
        a, c, lo, hi = anyof[0]
        what = " or ".join("%s/%s" % (x, y) if y else "%s (any cause)" % x
                           for x, y, _l, _h in anyof)
        when = ("after %s" % _clock(int(lo * 1000)) if hi is None else
                "between %s and %s" % (_clock(int(lo * 1000)), _clock(int(hi * 1000))))
        same = [e for e in raised if any(_matches(e, x, y) for x, y, _l, _h in anyof)]
        if same:
            instead = "it was raised at %s instead" % ", ".join(_clock(e.t_ms) for e in same)
        else:
            others = [e for e in raised if e.priority == "high"]
            instead = "it was never raised" + (
                " (high-priority alarms raised: %s)" % ", ".join(
                    "%s at %s" % (e.name, _clock(e.t_ms)) for e in others) if others else "")
        out.append("expected %s to be raised %s; %s" % (what, when, instead))
    if exp.get("no_other_high", True):
        for e in raised:
            if e.priority == "high" and not any(_matches(e, a, c) for a, c, _l, _h in expected):
                out.append("expected no other high-priority alarm, but %s was raised at %s"
                           % (e.name, _clock(e.t_ms)))
    return out
