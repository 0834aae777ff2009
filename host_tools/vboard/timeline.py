"""The virtual board's timeline (every buzzer/LED change, reset, fault and
firmware log event, JSON Lines with --timeline) and the firmware's event log
read back from the board's flash, a part of VirtualBoard."""
import json
import os


def fmt_t(ms):
    if ms is None:
        return "-"
    s = ms // 1000
    return "%d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60)


class Timeline:
    def note(self, kind, world=None, **fields):
        if world is None:
            world = self.world_ms()
        row = {"world_ms": world, "t_ms": self.trace_t(world), "kind": kind}
        row.update(fields)
        self.noted += 1
        self.timeline_rows.append(row)
        if len(self.timeline_rows) > 100000:
            del self.timeline_rows[:50000]
        if self.timeline:
            self.timeline.write(json.dumps(row, separators=(",", ":")) + "\n")
        if kind not in ("led", "tone", "heartbeat", "display"):   # too frequent for the log lines
            self.log(self._describe(row))

    def _describe(self, row):
        t = row["t_ms"]
        when = "t=%s" % fmt_t(t) if t is not None else "w=%s" % fmt_t(row["world_ms"])
        rest = " ".join("%s=%s" % (k, v) for k, v in row.items()
                        if k not in ("world_ms", "t_ms", "kind"))
        return "%s %s %s" % (when, row["kind"], rest)

    # ---- the firmware's event log (for the view and the timeline) ------------------------
    # Read while the VM waits for the host (at its requests for time, its
    # hello, before a reset), never on a wall-clock timer: its rows come at
    # the same place in the timeline in every run.
    def _check_log_changed(self):
        self._check_display()
        logdir = os.path.join(self.flash, "log")
        try:
            sig = [(e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(logdir)]
        except OSError:
            return
        sig.sort()
        if sig != self.log_sig:
            self.log_sig = sig
            self._check_log()

    def _check_log(self):
        logdir = os.path.join(self.flash, "log")
        if not os.path.isdir(logdir):
            return
        try:
            from pumpmon import alarms as A
            from pumpmon import eventlog as L
            recs, _bad = L.read_all(logdir, _HostFlash())
        except Exception:  # a log being written: next time
            return
        new = [r for r in recs if r[2][3] > self.log_seen]
        for _seg, _off, f in sorted(new, key=lambda r: r[2][3]):
            code, cond, detail, seq, up_s, up_ms = f[0], f[1], f[2], f[3], f[4], f[5]
            self.log_seen = max(self.log_seen, seq)
            row = {"event": L.NAMES.get(code, str(code)), "seq": seq, "up_s": up_s}
            vm = self.vm
            # when it happened: the board's uptime counts from about its first
            # sensor read (the Runner starts then); else when it was seen
            world = None
            if vm is not None and vm.first_read is not None:
                world = vm.first_read + up_s * 1000 + up_ms
                if world > self.world_ms():
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
            self.alarm_events.append(dict(row, world_ms=self.world_ms() if world is None
                                          else world))
            self.note("event", world, **row)


class _HostFlash:
    """pumpmon.eventlog's file operations on the host folder."""

    def open(self, path, mode):
        return open(path, mode)

    def listdir(self, path):
        return os.listdir(path)
