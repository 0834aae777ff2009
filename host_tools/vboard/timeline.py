"""The virtual board's timeline (every buzzer/LED change, reset, fault and
firmware log event, JSON Lines with --timeline) and the firmware's event log
read back from the board's flash; and the host's view of board time (Clock),
which every row is stamped with."""
import json
import os


def fmt_t(ms):
    if ms is None:
        return "-"
    s = ms // 1000
    return "%d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60)


class Clock:
    """Board time as far as the host knows (what it granted last, or the
    newest stamp the VM sent; it stands still while the VM does not sleep),
    and where the trace sits on it (set when the trace starts)."""

    def __init__(self):
        self.board_ms = 0
        self.trace_world0 = None     # board ms at which the trace's first row plays
        self.t_first = None          # that row's trace ms

    def world_ms(self):
        return self.board_ms

    def start_trace(self, world, t_first):
        """The trace's first row (trace ms t_first) plays at board ms world."""
        self.trace_world0 = world
        self.t_first = t_first

    def reach(self, ms):
        """Board time has reached ms (it never goes back)."""
        if ms > self.board_ms:
            self.board_ms = ms

    def trace_t(self, world):
        if self.trace_world0 is None or world is None:
            return None
        return self.t_first + (world - self.trace_world0)

    def world_of(self, t_ms):
        return self.trace_world0 + (t_ms - self.t_first)


class Timeline:
    """The rows (kept for callers in the same process, written to `path`
    when given), the log lines for a person (`log`), and the firmware's
    event log as it grows (alarm_events). `display` (oled.DisplayWatch) is
    looked at whenever the event log is."""

    def __init__(self, clock, path, flash, display, log=None):
        self.clock = clock
        self.flash = flash
        self.display = display
        self.log = log or (lambda text: None)
        self.file = open(path, "w") if path else None
        self.rows = []               # (the newest 100,000 at most)
        self.noted = 0               # rows noted so far
        self.alarm_events = []       # firmware event log records seen (dicts)
        self.log_seen = 0
        self.log_sig = None

    def note(self, kind, world=None, **fields):
        if world is None:
            world = self.clock.board_ms
        row = {"world_ms": world, "t_ms": self.clock.trace_t(world), "kind": kind}
        row.update(fields)
        self.noted += 1
        self.rows.append(row)
        if len(self.rows) > 100000:
            del self.rows[:50000]
        if self.file:
            self.file.write(json.dumps(row, separators=(",", ":")) + "\n")
        if kind not in ("led", "tone", "heartbeat", "display"):   # too frequent for the log lines
            self.log(_describe(row))

    def flush(self):
        if self.file:
            self.file.flush()

    def close(self):
        if self.file:
            self.file.close()
            self.file = None

    # ---- the firmware's event log (for the view and the timeline) ------------------------
    # Read while the VM waits for the host (at its requests for time, its
    # hello, before a reset), never on a wall-clock timer: its rows come at
    # the same place in the timeline in every run. vm: the VM running (its
    # first sensor read dates the records), or None.
    def check_log_changed(self, vm):
        self.display.check(self.note)
        logdir = os.path.join(self.flash, "log")
        try:
            sig = [(e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(logdir)]
        except OSError:
            return
        sig.sort()
        if sig != self.log_sig:
            self.log_sig = sig
            self.check_log(vm)

    def check_log(self, vm):
        logdir = os.path.join(self.flash, "log")
        if not os.path.isdir(logdir):
            return
        try:
            from host_tools.formats import eventlog as H
            from pumpmon import alarms as A
            from pumpmon import eventlog as L
            recs = _log_records(H, logdir)
        except Exception:  # a log being written: next time
            return
        now = self.clock.board_ms
        new = [r for r in recs if r.seq > self.log_seen]
        for r in sorted(new, key=lambda r: r.seq):
            code, cond, detail, seq, up_s, up_ms = r.code, r.cond, r.detail, r.seq, r.up_s, r.up_ms
            self.log_seen = max(self.log_seen, seq)
            row = {"event": H.EVENTS.get(code, str(code)), "seq": seq, "up_s": up_s}
            # when it happened: the board's uptime counts from about its first
            # sensor read (the Runner starts then); else when it was seen
            world = None
            if vm is not None and vm.first_read is not None:
                world = vm.first_read + up_s * 1000 + up_ms
                if world > now:
                    world = None
            if cond != L.NO_COND and 0 <= cond < len(A.TABLE):
                kind, prio, cause = A.TABLE[cond]
                row["alarm"] = A.KIND_NAMES[kind]
                row["cause"] = cause
            if code == L.BOOT:
                row["reset_cause"] = L.RESET_CAUSES[detail] if detail < len(L.RESET_CAUSES) \
                    else str(detail)
            elif detail and detail < len(A.DETAIL_NAMES) and code < 16:
                row["detail"] = A.DETAIL_NAMES[detail]
            elif code == L.CARER_COMING:          # "I am coming": which contact
                row["contact"] = detail
            self.alarm_events.append(dict(row, world_ms=now if world is None else world))
            self.note("event", world, **row)


def _describe(row):
    t = row["t_ms"]
    when = "t=%s" % fmt_t(t) if t is not None else "w=%s" % fmt_t(row["world_ms"])
    rest = " ".join("%s=%s" % (k, v) for k, v in row.items()
                    if k not in ("world_ms", "t_ms", "kind"))
    return "%s %s %s" % (when, row["kind"], rest)


def _log_records(H, logdir):
    """The valid records of the board's log folder (host_tools/formats/eventlog.py,
    the host's reader): a segment that holds none is passed over."""
    out = []
    for f in H.collect([logdir]):
        try:
            out += H.parse_segment(f)[0]
        except H.LogError:
            pass
    return out
