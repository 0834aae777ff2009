# The thin shell around the pure core: the board's main loop. It reads the
# board's sensors once a second, steps the Monitor, passes every event to the
# event sinks (the log first: a high-priority event is on flash before its
# alarm sounds), drives the buzzer and the light, and feeds the watchdog.
# Board interface: boards/README.md. Nothing here imports `machine`.
#
# With a flash directory (Runner(..., flash="/")) it also keeps the board's
# persistent memory: the event log (eventlog.py, in flash/log/) gets a boot
# record, every alarm event (high priority synced to flash before the sound
# changes), refill start/end, configuration, internal faults and an hourly
# status snapshot; the alarm state (statefile.py, flash/state.bin) is saved
# after every change and restored at boot, so a reset never silences an
# alarm; an unexpected reset (watchdog, brown-out) raises malfunction/internal.
# It also records every sensor sample (recorder.py, in flash/rec/) after the
# step, the sinks, the sound and the light: docs/recording.md.

from pumpmon import alarms as A
from pumpmon import configfile
from pumpmon import eventlog as L
from pumpmon import identity
from pumpmon import patterns as P
from pumpmon import recorder as R
from pumpmon import service as S
from pumpmon.chatter import Chatters
from pumpmon.servicehold import hold
from pumpmon.clock import ticks_add, ticks_diff
from pumpmon.config import Config
from pumpmon.manager import EV_CLEARED, EV_RAISED
from pumpmon.monitor import Monitor
from pumpmon.statefile import StateFile

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

SAMPLE_MS = const(1000)
LOOP_MS = const(10)
SNAPSHOT_S = const(3600)     # status record every hour
RETRY_S = const(60)          # after a write error, try the flash again this often
FAULT_LOG_S = const(60)      # at most one internal_fault record a minute
ALIVE_S = const(60)          # the state file's last alive time, this often: it
#                              also proves the flash writable (docs/safety.md)
# resets that are part of normal use (power on, a soft reset, the reset button
# or `mpremote reset`); any other cause (watchdog, brown-out, panic, unknown)
# is malfunction/internal
EXPECTED_RESETS = ("power_on", "soft", "hard")

# when the configuration cannot be read the monitor still watches the
# sensors; malfunction/internal (bad_config) sounds until it is fixed (a rate
# of 0 that only the fallback may have without "pump_stopped")
FALLBACK_CONFIG = {"rate_ul_h": 0.0}


def load_config(path="config.json"):
    """(Config, None) or (fallback Config, error text); never raises,
    whatever the file holds (configfile.py)."""
    cfg, err = configfile.load(path)
    if cfg is None:
        cfg = Config(FALLBACK_CONFIG, fallback=True)
    return cfg, err


def time_of_day(board, cfg):
    """(seconds since local midnight, or None for the configured `start`,
    and an error text or None). A board's clock (wall_time(), local time)
    gives the schedule's phase; without one, a schedule that changes rate
    through the day cannot be judged and that is a fault, not a guess."""
    wall = getattr(board, "wall_time", None)
    w = 0
    if wall is not None:
        try:
            w = wall() or 0
        except Exception:
            w = 0
    if w > 0:
        return w % 86400, None
    rates = cfg.sched_rate
    for r in rates:
        if r != rates[0]:
            return None, "the schedule changes rate but the board's clock is not set"
    return None, None


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


def _last_shown(log):
    """The alarms shown at the last valid record of the log's newest segment
    (every record carries manager.shown), 0 when none can be read."""
    import struct
    shown = 0
    try:
        buf = log.buf
        with log.fs.open(log._file(log.seg), "rb") as f:
            while f.readinto(buf) == L.REC:
                if L.check(buf):
                    shown = struct.unpack_from("<H", buf, 14)[0]
    except Exception:
        pass
    return shown


def _bad_config_latch(log):
    """1 when the latched malfunction/internal was raised by bad_config and
    nothing else joined it since: no unexpected reset, no lost or corrupt
    state file, no internal_fault record, no damaged or lost log records.
    Reads the log a record at a time (one preallocated buffer); anything it
    cannot read answers 0: the alarm then stays latched."""
    import struct
    ok = 0
    buf = log.buf
    try:
        for n in log._segments():
            with log.fs.open(log._file(n), "rb") as f:
                while f.readinto(buf) == L.REC:
                    if not L.check(buf):
                        ok = 0
                        continue
                    code = buf[1]
                    if buf[2] == A.INTERNAL:
                        if code == EV_RAISED:
                            ok = 1 if buf[3] == A.D_CONFIG else 0
                        elif code == EV_CLEARED:
                            ok = 0
                    elif code == L.BOOT:
                        cause = L.RESET_CAUSES[buf[3]] if buf[3] < len(L.RESET_CAUSES) else ""
                        if cause not in EXPECTED_RESETS or \
                                struct.unpack_from("<i", buf, 28)[0] != L.STATE_OK:
                            ok = 0
                    elif code == L.FAULT and buf[3] != A.D_CONFIG:
                        ok = 0
                    elif code == L.LOG_DAMAGED or code == L.LOG_RESUMED:
                        ok = 0
    except Exception:
        return 0
    return ok


class Runner:
    def __init__(self, board, cfg, sinks=(), tod_s=None, flash=None,
                 log_segments=8, log_seg_bytes=16384, fs=None, rec_segments=None,
                 rec_seg_bytes=None):
        """sinks: callables sink(code, cond, detail, runner), called in order.
        flash: directory for the event log, the alarm state and the sensor
        recording (None: none of them); fs: the file operations
        (eventlog.Flash; tests pass a failing one); rec_segments,
        rec_seg_bytes: the recording ring (None: flash/recorder.json or the
        defaults; 0 segments: no recording)."""
        self.board = board
        self.sinks = list(sinks)
        now = board.ticks_ms()
        self.cfg = cfg
        self.monitor = Monitor(cfg, now, self._on_event, tod_s)
        self._next = now
        self._tone = -1
        self._led = -1
        self.now = now
        self._last = now          # uptime, kept as small ints: s + ms
        self.up_s = 0
        self.up_ms = 0
        self._refill = 0
        self._faults = 0          # exceptions caught by run() not yet logged
        self._fault_detail = A.D_EXCEPTION   # ... or output failures (output_failure)
        self._fault_log_s = -FAULT_LOG_S
        self._store_fault = 0     # 1 while the log or the state file fails
        self._retry_s = 0
        self._dirty = 0           # alarm state changed: save it
        self._snap_s = SNAPSHOT_S
        self._alive_s = ALIVE_S
        self._wall = getattr(board, "wall_time", None)
        # optional: a GPIO the loop toggles once a second, watched by an
        # independent sounder (boards/*/README.md) that sounds when it stops
        self._heartbeat = getattr(board, "heartbeat", None)
        # optional: a second, louder sounder for escalated alarms (boards/README.md)
        self._set_siren = getattr(board, "set_siren", None)
        self._siren = 0
        self.log = None
        self.state = None
        self.boot = None          # (reset cause, state status) once booted
        self.firmware = None      # (version code, manifest id): identity.py, at boot
        self.rec = None           # the sensor recorder (recorder.py)
        self._btn = 0             # the button was down at some pass since the last sample
        self.service = None       # the console channel (service.py), polled every pass
        self.carer = None         # the carers' link (firmware/carerlink/), polled every pass
        self.stop = 0             # != 0: run() ends (service.STOP_*: monitoring_stopped logged)
        self.stop_why = 0         # service.SERVICE_WHY index of the request that stopped it
        self.screen = None        # the bedside display (screen.py), when the board has one
        self._disp_s = 0          # after a display failure: not tried again before this
        self._disp_failed = 0
        disp = getattr(board, "display", None)
        if disp is not None:
            from pumpmon.screen import Screen
            self.screen = Screen(disp)
        from pumpmon.demo import Demo
        self.demo = Demo(self)    # the alarm demonstration (demo.py): outputs only
        self._pre = ""
        self.chatter = None       # the log's chatter limiters (chatter.py)
        if flash is not None:
            pre = flash if (flash == "" or flash.endswith("/")) else flash + "/"
            self._pre = pre
            self.log = L.EventLog(pre + "log", log_segments, log_seg_bytes, fs)
            self.chatter = Chatters(self)
            self.state = StateFile(flash, fs)
            self.sinks.insert(0, self._log_sink)   # the log first
            self._boot()
            self._start_recorder(pre, fs, rec_segments, rec_seg_bytes,
                                 log_segments * log_seg_bytes)

    def _on_event(self, code, cond, detail):
        for sink in self.sinks:
            try:
                sink(code, cond, detail, self)
            except Exception:  # a failing sink (e.g. the log) must not stop monitoring
                self.monitor.fault(A.D_LOG)

    # ---- persistent memory ----------------------------------------------------
    def _boot(self):
        """Restore the alarm state, log the boot, annunciate at once."""
        m = self.monitor
        try:
            cause = self.board.reset_cause()
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
            shown = _last_shown(self.log) & ((1 << A.N_CONDITIONS) - 1)
            acked = 0
            lost = 1
        if status == L.STATE_OK or lost:
            # a pause is not restored: after a reset a shown alarm sounds at
            # once (how long the board was off is unknown)
            m.restore(shown, acked)
        self.boot = (cause, status)
        self.write(L.BOOT, L.NO_COND, L.reset_code(cause), shown, acked, status, paused,
                   sync=True)
        identity.log_boot(self, self._pre)   # which firmware runs (and a flash's old one)
        lg = self.log
        if lg.damaged:            # kept on flash; the count is evidence too
            self.write(L.LOG_DAMAGED, L.NO_COND, 0, lg.damaged, lg.damaged_seg, lg.torn)
        wall = self._wall_now()
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
        now = self.board.ticks_ms()
        m.poll(now, 0)            # restored alarms and the fault: raised now
        if fault and m.internal_detail == fault:
            # a reset is an event, not a lasting condition: it stays latched
            # (sounding) until acknowledged
            m.clear_fault()
        self._save_state(wall if wall > 0 else -1)

    def _start_recorder(self, pre, fs, segments, seg_bytes, log_bytes):
        try:
            seg, size, stream, batch = R.settings(pre, fs)
            if segments is not None:
                seg = segments
            if seg_bytes is not None:
                size = seg_bytes
            # room kept free: the event log at its full size, and 64 KiB
            self.rec = R.Recorder(pre + "rec", seg, size, fs, log_bytes + 65536,
                                  L.reset_code(self.boot[0]), stream, batch)
        except Exception:         # no recording; monitoring goes on
            self.rec = None

    def _record(self, level, flow, flags, refill):
        """After the step, the sinks, the sound and the light: one sample to
        the recorder (a failure loses it; never stops monitoring, but a write
        error is malfunction/internal (log_failure) at once, cleared by the
        recorder's next good write, a minute later)."""
        btn = self._btn
        self._btn = 0
        rec = self.rec
        try:
            ok = rec.sample(self.up_s, level, flow, flags, btn, refill)
        except Exception:
            ok = False
        if not ok and rec.lost:
            self._check_store(False)
        elif ok and self._store_fault:
            self._check_store(True)

    def _values(self):
        """level, flow mean, programmed mean, days to empty x10 (UNKNOWN if not known)."""
        e = self.monitor.engine
        level = e.level_ul if e._lref else L.UNKNOWN
        m = e.reservoir.minutes   # schedule-aware, reservoir.py
        days = m // 144 if m >= 0 and level != L.UNKNOWN else L.UNKNOWN
        return level, e.flow_mean, e.prog_mean, days

    def write(self, code, cond=L.NO_COND, detail=0, v0=0, v1=0, v2=0, v3=0, sync=False):
        """Append a record to the event log (no-op without one); the carers'
        link's records go through their limiter (chatter.py)."""
        if code == L.CARER_LINK and self.chatter is not None:
            return self.chatter.link.write(cond, detail, v0, v1, v2, v3, sync)
        return self.append(code, cond, detail, v0, v1, v2, v3, sync)

    def append(self, code, cond=L.NO_COND, detail=0, v0=0, v1=0, v2=0, v3=0, sync=False):
        """Append a record to the event log now; a write error raises
        malfunction/internal (log_failure), a later success clears that
        condition (the alarm stays latched until acknowledged)."""
        log = self.log
        if log is None:
            return True
        wall = 0
        if self._wall is not None:
            try:
                wall = self._wall() or 0
            except Exception:
                wall = 0
        ok = log.append(code, cond, detail, self.up_s, self.up_ms,
                        self.monitor.manager.shown, wall, v0, v1, v2, v3, sync)
        self._check_store(ok)
        return ok

    def _check_store(self, ok):
        m = self.monitor
        rec = self.rec
        if not ok or (self.state is not None and self.state.failed) or \
                (rec is not None and rec.lost):
            if not self._store_fault:
                self._store_fault = 1
                self._retry_s = self.up_s + RETRY_S
            m.fault(A.D_LOG)
        elif self._store_fault and (self.log is None or not self.log.lost):
            self._store_fault = 0
            if m.internal and m.internal_detail == A.D_LOG:
                m.clear_fault()

    def _log_sink(self, code, cond, detail, runner):
        level, flow, prog, days = self._values()
        high = cond >= 0 and A.priority_of(cond) == A.HIGH
        self._dirty = 1
        if self.chatter.alarm(code, cond, detail, level, flow, prog, days):
            return                # a condition clearing again under a flapping sensor
        self.write(code, L.NO_COND if cond < 0 else cond, detail, level, flow, prog, days,
                   sync=high and code == EV_RAISED)

    def _save_state(self, alive=-1):
        self._dirty = 0
        st = self.state
        if st is None:
            return
        mg = self.monitor.manager
        st.save(mg.shown, mg.acked, mg.paused, self._cfg_crc, alive)
        self._check_store(not st.failed)

    def _wall_now(self):
        if self._wall is None:
            return 0
        try:
            return self._wall() or 0
        except Exception:
            return 0

    def note_config(self, cfg, err=None):
        """Log the configuration in use (at boot, and whenever it changes).
        At boot, a latched malfunction/internal that bad_config raised is
        cleared when the configuration is valid now (the flash that fixed it),
        logged as alarm_cleared with detail bad_config; any other cause, or a
        log that cannot tell, keeps it latched."""
        self._fixed_config(err)
        crc = config_crc(cfg)
        changed = 1 if crc != getattr(self, "_cfg_crc", 0) else 0
        self.write(L.CONFIG, L.NO_COND, A.D_CONFIG if err else 0, crc, changed,
                   cfg.daily_ul, cfg.sched_rate[0])
        if self.state is not None and changed:
            if not err:           # each setting's old and new value
                from pumpmon import configlog
                configlog.log_changes(self, cfg, self._pre)
            self._cfg_crc = crc
            self._save_state()

    def _fixed_config(self, err):
        mg = self.monitor.manager
        bit = 1 << A.INTERNAL
        if err or self.log is None or not mg.shown & bit or self.monitor.internal or \
                self.up_s > 0 or not _bad_config_latch(self.log):
            return
        mg.shown &= ~bit
        mg.acked &= ~bit
        # (not "pumpmon: ...": the flash tool reads that prefix as a failure)
        print("the configuration is valid now: malfunction/internal (bad_config) cleared")
        self._on_event(EV_CLEARED, A.INTERNAL, A.D_CONFIG)
        self._save_state()

    def _housekeeping(self, refill):
        """Once a second, with a log: refill edges, the hourly status, retries,
        the summary of chatter held back."""
        self.chatter.tick()
        if refill != self._refill:
            self._refill = refill
            e = self.monitor.engine
            self.write(L.REFILL_START if refill else L.REFILL_END, L.NO_COND, 0,
                       e.level_ul if e._lref else L.UNKNOWN)
        if self.up_s >= self._snap_s:
            self._snap_s += SNAPSHOT_S
            if self._snap_s <= self.up_s:        # fell behind: no burst of snapshots
                self._snap_s = self.up_s + SNAPSHOT_S
            level, flow, prog, days = self._values()
            self.write(L.SNAPSHOT, L.NO_COND, 0, level, flow, prog, days)
        if self.up_s >= self._alive_s:
            self._alive_s = self.up_s + ALIVE_S
            # the last alive time; also a write every minute, so a flash that
            # fails is found even when nothing else is written
            st = self.state
            if st is not None:
                st.saved = None   # write even when nothing else changed
                self._save_state(self._wall_now())
        if self._faults and self.up_s - self._fault_log_s >= FAULT_LOG_S:
            self._fault_log_s = self.up_s
            n = self._faults
            self._faults = 0
            self.write(L.FAULT, L.NO_COND, self._fault_detail, n)
        if self._store_fault and self.up_s >= self._retry_s:
            self._retry_s = self.up_s + RETRY_S
            if self.state is not None and self.state.failed:
                self._save_state()
            ok = self.log.retry(self.up_s, self.up_ms, self.monitor.manager.shown)
            self._check_store(ok)

    def uptime(self, now):
        """Bring the uptime (up_s, up_ms: the log's clock) to now (ticks ms)."""
        self.now = now
        d = ticks_diff(now, self._last)
        self._last = now
        if d > 0:
            ms = self.up_ms + d
            if ms >= 1000:
                s = ms // 1000
                self.up_s += s
                ms -= s * 1000
            self.up_ms = ms

    def step(self):
        """One pass of the main loop; never blocks."""
        b = self.board
        m = self.monitor
        now = b.ticks_ms()
        self.uptime(now)
        button = b.button()
        if button:
            self._btn = 1
        sampled = 0
        if ticks_diff(now, self._next) >= 0:
            self._next = ticks_add(self._next, SAMPLE_MS)
            if ticks_diff(now, self._next) >= 0:  # fell behind: resynchronise
                self._next = ticks_add(now, SAMPLE_MS)
            flow = b.read_flow()
            refill = b.refill()
            level = b.read_level()
            flags = b.flow_flags
            m.step(now, level, flow, flags, button, refill)
            sampled = 1
            if self._heartbeat is not None:
                try:
                    self._heartbeat()
                except Exception:
                    self._output_fault()
            if self.log is not None:
                self._housekeeping(refill)
        else:
            m.poll(now, button)
        try:
            self.demo.tick(now, button)   # a real alarm ends it here, before the outputs
        except Exception:
            self.demo.active = 0
        if self._dirty:
            self._save_state()    # before the sound changes, like the log
        self._outputs()
        if self.screen is not None:
            self._show()
        if sampled and self.rec is not None:
            self._record(level, flow, flags, refill)
        b.feed_watchdog()
        if self.service is not None:
            self.service.poll()   # a host's read, between ticks (service.py)
        if self.carer is not None:
            self.carer.poll()     # one non-blocking network step (carerlink/link.py)

    def _outputs(self):
        """Light first, then sound, each in its own try: a buzzer that raises
        never freezes the light nor stops the watchdog feed (the caller feeds
        after this), and the other output shows malfunction/internal
        (output_failure). A failed call is tried again at the next pass."""
        b = self.board
        a = self.demo.ann if self.demo.active else self.monitor.ann
        if a.led != self._led:
            try:
                b.set_led(a.led)
                self._led = a.led
            except Exception:
                self._led = -1
                self._output_fault()
        if a.tone_hz != self._tone:
            try:
                b.set_tone(a.tone_hz)
                self._tone = a.tone_hz
            except Exception:
                self._tone = -1
                self._output_fault()
        if a.siren != self._siren and self._set_siren is not None:
            try:
                self._set_siren(a.siren)
                self._siren = a.siren
            except Exception:
                self._siren = -1
                self._output_fault()

    def _show(self):
        """The display, after the sound and the light, in its own try: a
        dead display is logged (display, v0 1; v0 0 once it works again),
        tried again a minute later, and never touches the alarm path."""
        if self._disp_failed and self.up_s < self._disp_s:
            return
        try:
            self.screen.update(self.now, self.monitor, self.demo.cond)
            if self._disp_failed:
                self._disp_failed = 0
                self.write(L.DISPLAY, L.NO_COND, 0, 0)
        except Exception:
            self._disp_s = self.up_s + RETRY_S
            if not self._disp_failed:
                self._disp_failed = 1
                self.write(L.DISPLAY, L.NO_COND, 0, 1)

    def _output_fault(self):
        m = self.monitor
        if not m.internal:
            m.fault(A.D_OUTPUT)
        self._fault_detail = A.D_OUTPUT
        self._faults += 1     # logged (at most once a minute) by _housekeeping

    def power_on_test(self, colours=(P.GREEN, P.YELLOW, P.RED), ms=250, hz=P.C5):
        """At power-on (not a soft reset), as bedside monitors do: each light
        colour in turn (green, yellow, red) and a short tone with the red,
        so the patient sees and hears that the outputs work; logged
        (POWER_ON_TEST: v0 1 if every output call worked, v1 the failed
        calls as a bit mask). A failed call is malfunction/internal
        (output_failure). Takes len(colours) x ms; the watchdog is fed."""
        b = self.board
        failed = 0
        bit = 1
        for c in colours:
            try:
                b.set_led(c)
            except Exception:
                failed |= bit
            bit <<= 1
            if c == colours[-1]:
                try:
                    b.set_tone(hz)
                except Exception:
                    failed |= bit
                bit <<= 1
            try:
                b.feed_watchdog()
            except Exception:
                pass
            b.sleep_ms(ms)
        try:
            b.set_tone(0)
        except Exception:
            failed |= bit
        self._tone = self._led = -1   # the loop drives both again at its first pass
        self.write(L.POWER_ON_TEST, L.NO_COND, 0, 0 if failed else 1, failed)
        if failed:
            self._output_fault()
        return not failed

    def run(self, steps=-1):
        """The main loop (steps < 0: forever). Ends when a service request
        stops the monitor; Ctrl-C is logged (monitoring_stopped), leaves the
        service indication on, and goes on to the REPL."""
        try:
            self._loop(steps)
        except KeyboardInterrupt:
            if not self.stop:     # after a service request it is the host taking over
                S.stop_interrupted(self)
            raise

    def _loop(self, steps):
        b = self.board
        while steps != 0:
            try:
                self.step()
            except Exception:  # never silence: a fault in the loop is an alarm
                self.monitor.fault(A.D_EXCEPTION)
                self._fault_detail = A.D_EXCEPTION
                self._faults += 1  # logged (at most once a minute) by _housekeeping
                try:
                    self.monitor.poll(b.ticks_ms(), 0)
                except Exception:
                    pass
                self._tone = self._led = -1   # drive both again, each on its own
                self._outputs()
                try:
                    b.feed_watchdog()
                except Exception:
                    pass  # the watchdog will reset the board; the alarm comes back
            if self.stop:
                # a service request: wait for the host's Ctrl-C; nobody came
                # within service.HOLD_S: monitoring goes on (docs/console-protocol.md)
                if self.stop != S.STOP_SERVICE or not hold(self, LOOP_MS):
                    break
            b.sleep_ms(LOOP_MS)
            if steps > 0:
                steps -= 1
