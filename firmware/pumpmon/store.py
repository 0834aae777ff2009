# The board's persistent memory, out of the main loop: the event log
# (eventlog.py, in flash/log/), the alarm state (statefile.py,
# flash/state.bin), the sensor recording (recorder.py, in flash/rec/) and the
# store-fault latch over the three. The Runner (runner.py) owns one when it
# has a flash directory and calls it at fixed points of its pass: the log
# sink first among the event sinks (a high-priority event is on flash before
# its alarm sounds), save_state() before the outputs when the alarm state
# changed, tick() once a second, record() after the outputs.
#
# At boot (boot()) the alarm state is restored, so a reset never silences an
# alarm: from the state file, or, when it is gone or damaged while the log
# shows the board ran before, from the log's last record
# (malfunction/internal state_missing); the boot is logged, and an
# unexpected reset (watchdog, brown-out) raises malfunction/internal. The log
# gets a boot record, every alarm event (high priority synced), refill start
# and end, configuration, internal faults and an hourly status snapshot; the
# state file is saved after every change and every minute (the last alive
# time). A write error anywhere is malfunction/internal (log_failure),
# cleared by the next good write (the alarm stays latched until
# acknowledged): docs/safety.md, docs/log-format.md, docs/recording.md.
from pumpmon import alarms as A
from pumpmon import eventlog as L
from pumpmon import identity
from pumpmon import recorder as R
from pumpmon.chatter import Chatters
from pumpmon.manager import EV_CLEARED, EV_RAISED
from pumpmon.statefile import StateFile

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

SNAPSHOT_S = const(3600)     # status record every hour
RETRY_S = const(60)          # after a write error, try the flash again this often
FAULT_LOG_S = const(60)      # at most one internal_fault record a minute
ALIVE_S = const(60)          # the state file's last alive time, this often: it
#                              also proves the flash writable (docs/safety.md)
# resets that are part of normal use (power on, a soft reset, the reset button
# or `mpremote reset`); any other cause (watchdog, brown-out, panic, unknown)
# is malfunction/internal
EXPECTED_RESETS = ("power_on", "soft", "hard")


def config_crc(cfg):
    """CRC32 of the settings in a fixed order: tells a changed configuration.
    31 bits, so it fits the log's signed value fields unclamped."""
    d = cfg.as_dict()
    net = cfg.net
    if net:              # the carers' link: a secret only as set / not set
        from pumpmon.netconfig import SECRETS
        for k in net:
            d[k] = ("set" if net[k] is not None else None) if k in SECRETS else net[k]
    text = ";".join("%s=%s" % (k, d[k]) for k in sorted(d))
    return L.crc32(text.encode()) & 0x7FFFFFFF


def _level(e):
    """The tracked level, uL, for the log (UNKNOWN: none tracked yet)."""
    lt = e.level
    return lt.ul if lt.ref else L.UNKNOWN


def values(monitor):
    """level, flow mean, programmed mean, days to empty x10 (UNKNOWN if not
    known): the status the log's records and the console's status carry."""
    e = monitor.engine
    level = _level(e)
    m = e.reservoir.minutes   # schedule-aware, reservoir.py
    days = m // 144 if m >= 0 and level != L.UNKNOWN else L.UNKNOWN
    return level, e.flow_mean, e.mean10.prog, days


def last_shown(log):
    """The alarms shown at the last valid record of the log's newest segment
    (every record carries manager.shown), 0 when none can be read."""
    shown = 0
    try:
        for rec in log.records(log.ring.segments()[-1:]):
            if rec.ok:
                shown = rec.shown
    except Exception:
        pass
    return shown


def bad_config_latch(log):
    """1 when the latched malfunction/internal was raised by bad_config and
    nothing else joined it since: no unexpected reset, no lost or corrupt
    state file, no internal_fault record, no damaged or lost log records.
    Reads the log a record at a time; anything it cannot read answers 0:
    the alarm then stays latched."""
    ok = 0
    try:
        for rec in log.records():
            if not rec.ok:
                ok = 0
                continue
            code = rec.code
            if rec.cond == A.INTERNAL:
                if code == EV_RAISED:
                    ok = 1 if rec.detail == A.D_CONFIG else 0
                elif code == EV_CLEARED:
                    ok = 0
            elif code == L.BOOT:      # detail the reset cause, v2 the state file
                d = rec.detail
                cause = L.RESET_CAUSES[d] if d < len(L.RESET_CAUSES) else ""
                if cause not in EXPECTED_RESETS or rec.v2 != L.STATE_OK:
                    ok = 0
            elif code == L.FAULT and rec.detail != A.D_CONFIG:
                ok = 0
            elif code == L.LOG_DAMAGED or code == L.LOG_RESUMED:
                ok = 0
    except Exception:
        return 0
    return ok


class Store:
    def __init__(self, runner, flash, log_segments=8, log_seg_bytes=16384, fs=None):
        """runner: the Runner (its board, monitor, uptime and event sinks);
        flash: the directory ("" the current one); fs: the file operations
        (segring.Flash; tests pass a failing one). boot() restores and logs."""
        self.r = runner
        pre = flash if (flash == "" or flash.endswith("/")) else flash + "/"
        self.pre = pre
        self.log = L.EventLog(pre + "log", log_segments, log_seg_bytes, fs)
        self.chatter = Chatters(self)   # the log's chatter limiters (chatter.py)
        self.state = StateFile(flash, fs)
        self.rec = None           # the sensor recorder, from boot()
        self._fs = fs
        self._log_bytes = log_segments * log_seg_bytes
        self.boot = None          # (reset cause, state status) once booted
        self.firmware = None      # (version code, manifest id): identity.py, at boot
        self.dirty = 0            # the alarm state changed: saved before the sound changes
        self._cfg_crc = 0
        self._failing = 0         # the latch: 1 while the log, state file or recorder fails
        self._retry_s = 0
        self._faults = 0          # loop faults (exceptions, outputs) not yet logged
        self._fault_detail = A.D_EXCEPTION
        self._fault_log_s = -FAULT_LOG_S
        self._refill = 0
        self._snap_s = SNAPSHOT_S
        self._alive_s = ALIVE_S

    # ---- boot -----------------------------------------------------------------
    def start(self, rec_segments=None, rec_seg_bytes=None):
        """Restore the alarm state, log the boot, annunciate at once; then
        the recorder (rec_segments, rec_seg_bytes: None: flash/recorder.json
        or the defaults; 0 segments: no recording)."""
        r = self.r
        m = r.monitor
        try:
            cause = r.board.reset_cause()
        except Exception:
            cause = "unknown"
        status, shown, acked, paused, cfg_crc = self.state.load()
        self._cfg_crc = cfg_crc
        lost = 0
        if status != L.STATE_OK and self.log.seq > 1:
            # no valid state file (deleted, lost, or damaged: zeros, torn, a
            # wrong CRC), yet the log shows this board ran before. The log's
            # last record says what was shown then: those alarms come back,
            # unacknowledged, and malfunction/internal (state_missing) says
            # why (docs/safety.md); the boot record keeps which it was
            shown = last_shown(self.log) & ((1 << A.N_CONDITIONS) - 1)
            acked = 0
            lost = 1
        if status == L.STATE_OK or lost:
            # a pause is not restored: after a reset a shown alarm sounds at
            # once (how long the board was off is unknown)
            m.restore(shown, acked, self.state.esc if status == L.STATE_OK else 0,
                      r.board.ticks_ms())
        self.boot = (cause, status)
        self.write(L.BOOT, L.NO_COND, L.reset_code(cause), shown, acked, status, paused,
                   sync=True)
        identity.log_boot(self, self.pre)   # which firmware runs (and a flash's old one)
        ring = self.log.ring
        if ring.damaged:          # kept on flash; the count is evidence too
            self.write(L.LOG_DAMAGED, L.NO_COND, 0, ring.damaged, ring.damaged_seg, ring.torn)
        wall = r.wall_now()
        if status == L.STATE_OK or lost:
            # this board monitored before: say for how long it was off (when
            # a clock knows), and show it until acknowledged; a soft reset is
            # a tool's restart (pumpmon flash, config): logged, no alarm
            before = self.state.alive
            off = wall - before if wall > 0 and 0 < before <= wall else L.UNKNOWN
            self.write(L.INTERRUPTED, L.NO_COND, L.reset_code(cause), off, before)
            if cause != "soft":
                m.interrupt()
        fault = 0
        if cause not in EXPECTED_RESETS:
            fault = A.D_WATCHDOG if cause == "watchdog" else A.D_RESET
        elif lost:
            fault = A.D_STATE
        elif status == L.STATE_CORRUPT:   # damaged, and no log to restore from
            fault = A.D_LOG
        if fault:
            m.fault(fault)
        m.poll(r.board.ticks_ms(), 0)   # restored alarms and the fault: raised now
        if fault and m.internal_detail == fault:
            # a reset is an event, not a lasting condition: it stays latched
            # (sounding) until acknowledged
            m.clear_fault()
        self.save_state(wall if wall > 0 else -1)
        self._start_recorder(rec_segments, rec_seg_bytes)

    def _start_recorder(self, segments, seg_bytes):
        pre = self.pre
        try:
            seg, size, stream, batch = R.settings(pre, self._fs)
            if segments is not None:
                seg = segments
            if seg_bytes is not None:
                size = seg_bytes
            # room kept free: the event log at its full size, and 64 KiB
            self.rec = R.Recorder(pre + "rec", seg, size, self._fs, self._log_bytes + 65536,
                                  L.reset_code(self.boot[0]), stream, batch)
        except Exception:         # no recording; monitoring goes on
            self.rec = None

    # ---- the log --------------------------------------------------------------
    def sink(self, code, cond, detail, runner):
        """The event sink that logs (the Runner's first)."""
        level, flow, prog, days = values(runner.monitor)
        high = cond >= 0 and A.priority_of(cond) == A.HIGH
        self.dirty = 1
        if self.chatter.alarm(code, cond, detail, level, flow, prog, days):
            return                # a condition clearing again under a flapping sensor
        self.write(code, L.NO_COND if cond < 0 else cond, detail, level, flow, prog, days,
                   sync=high and code == EV_RAISED)

    def write(self, code, cond=L.NO_COND, detail=0, v0=0, v1=0, v2=0, v3=0, sync=False):
        """Append a record to the event log; the carers' link's records go
        through their limiter (chatter.py)."""
        if code == L.CARER_LINK:
            return self.chatter.link.write(cond, detail, v0, v1, v2, v3, sync)
        return self.append(code, cond, detail, v0, v1, v2, v3, sync)

    def append(self, code, cond=L.NO_COND, detail=0, v0=0, v1=0, v2=0, v3=0, sync=False):
        """Append a record to the event log now; a write error raises
        malfunction/internal (log_failure), a later success clears that
        condition (the alarm stays latched until acknowledged)."""
        r = self.r
        ok = self.log.append(code, cond, detail, r.up_s, r.up_ms, r.monitor.manager.shown,
                             r.wall_now(), v0, v1, v2, v3, sync)
        self._check(ok)
        return ok

    def _check(self, ok):
        """The store-fault latch: set by any failure of the log, the state
        file or the recorder, cleared when the log writes again."""
        m = self.r.monitor
        rec = self.rec
        if not ok or self.state.failed or (rec is not None and rec.lost):
            if not self._failing:
                self._failing = 1
                self._retry_s = self.r.up_s + RETRY_S
            m.fault(A.D_LOG)
        elif self._failing and not self.log.lost:
            self._failing = 0
            if m.internal and m.internal_detail == A.D_LOG:
                m.clear_fault()

    def save_state(self, alive=-1):
        """Save the alarm state (when it changed; alive: the last alive
        time, -1 keep the saved one)."""
        self.dirty = 0
        st = self.state
        mg = self.r.monitor.manager
        st.save(mg.shown, mg.acked, mg.paused, self._cfg_crc, alive,
                mg.escalation_s(self.r.board.ticks_ms()))
        self._check(not st.failed)

    def note_config(self, cfg, err=None):
        """Log the configuration in use (at boot, and whenever it changes).
        At boot, a latched malfunction/internal that bad_config raised is
        cleared when the configuration is valid now (the flash that fixed it),
        logged as alarm_cleared with detail bad_config; any other cause, or a
        log that cannot tell, keeps it latched."""
        self._fixed_config(err)
        crc = config_crc(cfg)
        changed = 1 if crc != self._cfg_crc else 0
        self.write(L.CONFIG, L.NO_COND, A.D_CONFIG if err else 0, crc, changed,
                   cfg.daily_ul, cfg.sched_rate[0])
        if changed:
            if not err:           # each setting's old and new value
                from pumpmon import configlog
                configlog.log_changes(self, cfg, self.pre)
            self._cfg_crc = crc
            self.save_state()

    def _fixed_config(self, err):
        r = self.r
        m = r.monitor
        mg = m.manager
        bit = 1 << A.INTERNAL
        if err or not mg.shown & bit or m.internal or r.up_s > 0 or \
                not bad_config_latch(self.log):
            return
        mg.shown &= ~bit
        mg.acked &= ~bit
        # (not "pumpmon: ...": the flash tool reads that prefix as a failure)
        print("the configuration is valid now: malfunction/internal (bad_config) cleared")
        r.on_event(EV_CLEARED, A.INTERNAL, A.D_CONFIG)
        self.save_state()

    # ---- once a second, and after the outputs -----------------------------------
    def count_fault(self, detail):
        """A fault of the loop (alarms.D_*: an exception, an output):
        counted, logged at most once a minute by tick()."""
        self._fault_detail = detail
        self._faults += 1

    def tick(self, refill):
        """Once a second: the chatter summaries, refill edges, the hourly
        status, the minute's alive time, the faults counted, retries."""
        self.chatter.tick()
        up_s = self.r.up_s
        if refill != self._refill:
            self._refill = refill
            self.write(L.REFILL_START if refill else L.REFILL_END, L.NO_COND, 0,
                       _level(self.r.monitor.engine))
        if up_s >= self._snap_s:
            self._snap_s += SNAPSHOT_S
            if self._snap_s <= up_s:         # fell behind: no burst of snapshots
                self._snap_s = up_s + SNAPSHOT_S
            level, flow, prog, days = values(self.r.monitor)
            self.write(L.SNAPSHOT, L.NO_COND, 0, level, flow, prog, days)
        if up_s >= self._alive_s:
            self._alive_s = up_s + ALIVE_S
            # the last alive time; also a write every minute, so a flash that
            # fails is found even when nothing else is written
            self.state.saved = None   # write even when nothing else changed
            self.save_state(self.r.wall_now())
        if self._faults and up_s - self._fault_log_s >= FAULT_LOG_S:
            self._fault_log_s = up_s
            n = self._faults
            self._faults = 0
            self.write(L.FAULT, L.NO_COND, self._fault_detail, n)
        if self._failing and up_s >= self._retry_s:
            self._retry_s = up_s + RETRY_S
            if self.state.failed:
                self.save_state()
            r = self.r
            self._check(self.log.retry(r.up_s, r.up_ms, r.monitor.manager.shown))

    def record(self, level, flow, flags, button, refill):
        """After the step, the sinks, the sound and the light: one sample to
        the recorder (a failure loses it; never stops monitoring, but a write
        error is malfunction/internal (log_failure) at once, cleared by the
        recorder's next good write, a minute later)."""
        rec = self.rec
        if rec is None:
            return
        try:
            ok = rec.sample(self.r.up_s, level, flow, flags, button, refill)
        except Exception:
            ok = False
        if not ok and rec.lost:
            self._check(False)
        elif ok and self._failing:
            self._check(True)
