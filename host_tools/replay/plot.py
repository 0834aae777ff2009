"""`pumpmon replay --plot PNG`: a picture of a replay, for a bug report.

Three panels sharing the time axis:
- flow: the readings averaged per bin, the 10-minute mean the engine judges
  (flow_window_s), the programmed rate and the no_flow / over-delivery
  thresholds;
- reservoir level: per-bin mean with the min..max band, the low-reservoir and
  empty thresholds, refill-mode periods;
- alarms: one lane per alarm (kind/cause), a bar from raised to cleared,
  coloured by priority (hatched while latched after its condition ended),
  with markers for acknowledged / audio paused / audio resumed and button
  presses. Alarm periods are also shaded behind the two plots.

Long traces are decimated while streaming (bins of at least a minute, at
most ~2000 bins), so a year of samples plots in bounded memory.
"""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Patch
from matplotlib.lines import Line2D

PRIORITY_COLOUR = {"high": "#d62728", "medium": "#ff9f1c", "low": "#2ec4b6"}
MAX_BINS = 2000
MIN_BIN_MS = 60000


class Bins:
    """Streaming decimation: per-bin sums/min/max; bins double in width when
    there are too many."""

    def __init__(self, width_ms=MIN_BIN_MS):
        self.w = width_ms
        self.t0 = None
        self.fs, self.fn, self.ls, self.ln = [], [], [], []
        self.lmin, self.lmax, self.refill, self.button = [], [], [], []

    def _grow(self, i):
        while len(self.fs) <= i:
            for a in (self.fs, self.fn, self.ls, self.ln, self.refill, self.button):
                a.append(0)
            self.lmin.append(math.inf)
            self.lmax.append(-math.inf)

    def _halve(self):
        def pair(a, f):
            return [f(a[i:i + 2]) for i in range(0, len(a), 2)]
        for name in ("fs", "fn", "ls", "ln"):
            setattr(self, name, pair(getattr(self, name), sum))
        self.refill = pair(self.refill, max)
        self.button = pair(self.button, max)
        self.lmin = pair(self.lmin, min)
        self.lmax = pair(self.lmax, max)
        self.w *= 2

    def feed(self, samples):
        for t, level, flow, _flags, button, refill in samples:
            if self.t0 is None:
                self.t0 = t
            i = (t - self.t0) // self.w
            if i >= len(self.fs):
                while i >= 2 * MAX_BINS:
                    self._halve()
                    i = (t - self.t0) // self.w
                self._grow(i)
            if flow is not None:
                self.fs[i] += flow
                self.fn[i] += 1
            if level is not None:
                self.ls[i] += level
                self.ln[i] += 1
                if level < self.lmin[i]:
                    self.lmin[i] = level
                if level > self.lmax[i]:
                    self.lmax[i] = level
            if refill:
                self.refill[i] = 1
            if button:
                self.button[i] = 1
        return self


def alarm_periods(events, end_ms):
    """[(alarm, cause, priority, raised, condition_cleared|None, cleared|end)],
    plus the marker events [(t_ms, event, label)]."""
    open_ = {}
    periods = []
    marks = []
    for e in events:
        ev = e["event"]
        t = e["t_ms"]
        if "alarm" in e:
            key = (e["alarm"], e.get("cause", ""))
            if ev == "alarm_raised":
                open_[key] = [key[0], key[1], e.get("priority", "high"), t, None, None]
            elif ev == "alarm_condition_cleared" and key in open_:
                open_[key][4] = t
            elif ev == "alarm_cleared" and key in open_:
                p = open_.pop(key)
                p[5] = t
                periods.append(tuple(p))
            elif ev == "alarm_acknowledged":
                marks.append((t, ev, key))
        else:
            marks.append((t, ev, None))
    for p in open_.values():
        p[5] = end_ms
        periods.append(tuple(p))
    periods.sort(key=lambda p: p[3])
    return periods, marks


def _moving_mean(sums, counts, n):
    out = []
    s = c = 0
    for i in range(len(sums)):
        s += sums[i]
        c += counts[i]
        if i >= n:
            s -= sums[i - n]
            c -= counts[i - n]
        out.append(s / c / 10.0 if c else math.nan)
    return out


def plot_replay(trace, cfg, events, png, title=None):
    """Draw the trace (streamed again) and the replay's events to png."""
    b = Bins().feed(trace.samples())
    nb = len(b.fs)
    if b.t0 is None or nb == 0:
        b.t0 = 0
        nb = 1
        b._grow(0)
    t_end = b.t0 + nb * b.w
    span_h = (t_end - b.t0) / 3.6e6
    if span_h > 72:
        unit, div = "days", 86.4e6
    elif span_h > 3:
        unit, div = "hours", 3.6e6
    else:
        unit, div = "minutes", 6e4
    x = [(b.t0 + (i + 0.5) * b.w) / div for i in range(nb)]
    edges = [(b.t0 + i * b.w) / div for i in range(nb + 1)]

    fmean = [b.fs[i] / b.fn[i] / 10.0 if b.fn[i] else math.nan for i in range(nb)]
    win = max(1, int(round(cfg.flow_window_s * 1000 / b.w)))
    fwin = _moving_mean(b.fs, b.fn, win)
    lmean = [b.ls[i] / b.ln[i] / 1000.0 if b.ln[i] else math.nan for i in range(nb)]
    lmin = [v / 1000.0 if b.ln[i] else math.nan for i, v in enumerate(b.lmin)]
    lmax = [v / 1000.0 if b.ln[i] else math.nan for i, v in enumerate(b.lmax)]
    prog = []
    for i in range(nb):
        tod = (cfg.start_s + (b.t0 + i * b.w) // 1000) % 86400
        prog.append(cfg.rate_at(tod) / 10.0)
    prog.append(prog[-1])
    low_thr = [p * cfg.no_flow_fraction for p in prog]
    over_thr = [p * cfg.over_delivery_factor + cfg.over_delivery_margin_ul_h for p in prog]

    periods, marks = alarm_periods(events, t_end)
    lanes = []
    for p in periods:
        if (p[0], p[1]) not in lanes:
            lanes.append((p[0], p[1]))

    fig_h = 7.5 + 0.25 * max(0, len(lanes) - 3)
    fig, (axf, axl, axa) = plt.subplots(
        3, 1, sharex=True, figsize=(15, fig_h),
        gridspec_kw={"height_ratios": [3, 2, 0.6 + 0.35 * max(len(lanes), 1)]})
    name = getattr(trace, "name", "")
    fig.suptitle(title or "%s  (%.1f h; alarm periods: %d; events: %d)" % (
        name, span_h, len(periods), len(events)), fontsize=12, fontweight="bold")

    # alarm shading behind the data
    for ax in (axf, axl):
        for alarm, cause, prio, t_on, t_cc, t_off in periods:
            ax.axvspan(t_on / div, t_off / div, color=PRIORITY_COLOUR.get(prio, "grey"),
                       alpha=0.13 if prio == "high" else 0.10, lw=0, zorder=0)

    # flow
    axf.plot(x, fmean, color="#9ecae1", lw=0.6, alpha=0.6, label="flow, %s mean" % _dur(b.w))
    axf.plot(x, fwin, color="#08519c", lw=1.8,
             label="flow, %s moving mean" % _dur(cfg.flow_window_s * 1000))
    axf.step(edges, prog, where="post", color="black", lw=1.3, ls="--",
             label="programmed rate")
    axf.step(edges, low_thr, where="post", color=PRIORITY_COLOUR["high"], lw=0.9, ls=":",
             label="no_flow below (x%.2f)" % cfg.no_flow_fraction)
    axf.step(edges, over_thr, where="post", color="#7b2cbf", lw=0.9, ls=":",
             label="over_delivery above")
    # the scale follows what is judged (the window mean) and the thresholds;
    # single readings and pump strokes may go off the top
    finite = sorted(v for v in fwin if v == v)
    top = max(over_thr) * 1.15
    if finite:
        top = max(top, finite[-1] * 1.1)
        bottom = min(0.0, finite[0] * 1.1 - 1.0)
    else:
        bottom = 0.0
    axf.set_ylim(bottom, top)
    axf.set_ylabel("flow (uL/h)")
    axf.grid(True, alpha=0.3)
    axf.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, framealpha=0.9)

    # level
    axl.fill_between(x, lmin, lmax, color="#a1d99b", alpha=0.6, lw=0, label="level min..max")
    axl.plot(x, lmean, color="#006d2c", lw=1.5, label="reservoir level")
    axl.axhline(cfg.low_reservoir_ml, color=PRIORITY_COLOUR["medium"], ls=":", lw=1,
                label="low_reservoir at %.1f mL" % cfg.low_reservoir_ml)
    axl.axhline(cfg.reservoir_empty_ml, color=PRIORITY_COLOUR["high"], ls=":", lw=1,
                label="empty at %.1f mL" % cfg.reservoir_empty_ml)
    first = True
    for i in range(nb):
        if b.refill[i]:
            axl.axvspan(edges[i], edges[i + 1], color="grey", alpha=0.3, lw=0,
                        label="refill mode" if first else None)
            first = False
    lv = [v for v in lmin + lmax if v == v]
    if lv:
        lo, hi = min(lv), max(lv)
        pad = max(0.3, (hi - lo) * 0.1)
        axl.set_ylim(min(lo - pad, cfg.reservoir_empty_ml - 0.2),
                     max(hi + pad, cfg.low_reservoir_ml + 0.5))
    axl.set_ylabel("reservoir (mL)")
    axl.grid(True, alpha=0.3)
    axl.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, framealpha=0.9)

    # alarm lanes
    n = max(len(lanes), 1)
    for alarm, cause, prio, t_on, t_cc, t_off in periods:
        y = lanes.index((alarm, cause))
        col = PRIORITY_COLOUR.get(prio, "grey")
        end_active = t_cc if t_cc is not None else t_off
        axa.barh(y, (end_active - t_on) / div, left=t_on / div, height=0.6, color=col,
                 edgecolor=col)
        if t_cc is not None:
            axa.barh(y, (t_off - t_cc) / div, left=t_cc / div, height=0.6, color="white",
                     edgecolor=col, hatch="///", lw=0.8)
    mstyle = {"alarm_acknowledged": ("v", "black", "acknowledged (long press)"),
              "audio_paused": ("|", "#3a0ca3", "audio paused"),
              "audio_resumed": ("^", "#3a0ca3", "audio resumed")}
    seen = set()
    for t, ev, key in marks:
        if ev not in mstyle:
            continue
        m, c, _ = mstyle[ev]
        y = lanes.index(key) if key in lanes else n - 0.5
        if ev != "alarm_acknowledged":
            y = -0.55
        axa.plot([t / div], [y + (0.42 if ev == "alarm_acknowledged" else 0)], marker=m,
                 color=c, ms=8 if m != "|" else 12, mew=2, ls="none", zorder=5)
        seen.add(ev)
    presses = [x[i] for i in range(nb) if b.button[i]]
    if presses:
        axa.plot(presses, [n - 0.35] * len(presses), marker="o", color="#6c757d", ms=4,
                 ls="none")
    axa.set_yticks(range(len(lanes)))
    axa.set_yticklabels(["%s/%s" % l for l in lanes] if lanes else [])
    axa.set_ylim(-0.9, n - 0.1)
    axa.invert_yaxis()
    if not lanes:
        axa.text(0.5, 0.5, "no alarm", transform=axa.transAxes, ha="center", va="center",
                 fontsize=11, color="#2b9348")
    axa.grid(True, axis="x", alpha=0.3)
    axa.set_xlabel("trace time (%s)" % unit)
    handles = [Patch(color=PRIORITY_COLOUR[p], label="%s priority" % p)
               for p in ("high", "medium")]
    handles.append(Patch(facecolor="white", edgecolor="grey", hatch="///",
                         label="latched, condition gone"))
    for ev in ("alarm_acknowledged", "audio_paused", "audio_resumed"):
        m, c, label = mstyle[ev]
        handles.append(Line2D([], [], marker=m, color=c, ls="none", mew=2, label=label))
    if presses:
        handles.append(Line2D([], [], marker="o", color="#6c757d", ls="none", ms=4,
                              label="button held"))
    axa.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
               framealpha=0.9)
    axa.set_xlim(edges[0], edges[-1])
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def _dur(ms):
    s = ms // 1000
    if s % 86400 == 0:
        return "%d d" % (s // 86400)
    if s % 3600 == 0:
        return "%d h" % (s // 3600)
    if s % 60 == 0:
        return "%d min" % (s // 60)
    return "%d s" % s
