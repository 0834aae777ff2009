# The thin shell around the pure core: the board's main loop. It reads the
# board's sensors once a second, steps the Monitor, passes every event to the
# event sinks (the log first: a high-priority event is on flash before its
# alarm sounds), drives the buzzer and the light, and feeds the watchdog.
# Board interface: boards/README.md. Nothing here imports `machine`.
#
# With a flash directory (Runner(..., flash="/")) a Store (store.py) keeps
# the board's persistent memory: the event log, the alarm state (restored
# at boot), the sensor recording and the store-fault latch; the loop calls
# it at fixed points (its sink first, save_state() before the outputs,
# tick() once a second, record() after the outputs).
#
# What else runs in the loop is wired in by main.py through public methods:
# add_sink() (an event sink), attach_service() (the console channel,
# service.py) and attach_carer() (the carers' link, carerlink/link.py), each
# polled once a pass after the watchdog feed.

from pumpmon import alarms as A
from pumpmon import configfile
from pumpmon import eventlog as L
from pumpmon import patterns as P
from pumpmon import service as S
from pumpmon.servicehold import hold, stop_interrupted
from pumpmon.clock import ticks_add, ticks_diff
from pumpmon.config import Config
from pumpmon.monitor import Monitor
from pumpmon.store import Store

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

SAMPLE_MS = const(1000)
LOOP_MS = const(10)
DISPLAY_RETRY_S = const(60)  # after a display failure, try it again this often

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


class Runner:
    def __init__(self, board, cfg, sinks=(), tod_s=None, flash=None,
                 log_segments=8, log_seg_bytes=16384, fs=None, rec_segments=None,
                 rec_seg_bytes=None):
        """sinks: callables sink(code, cond, detail, runner), called in order.
        flash: directory for the event log, the alarm state and the sensor
        recording (the Store; None: none of them); fs: the file operations
        (segring.Flash; tests pass a failing one); rec_segments,
        rec_seg_bytes: the recording ring (None: flash/recorder.json or the
        defaults; 0 segments: no recording)."""
        self.board = board
        self.sinks = list(sinks)
        now = board.ticks_ms()
        self.cfg = cfg
        self.monitor = Monitor(cfg, now, self.on_event, tod_s)
        self._next = now
        self._tone = self._led = -1   # what the outputs were set to (-1: drive them again)
        self.now = now
        self._last = now          # uptime, kept as small ints: s + ms
        self.up_s = 0
        self.up_ms = 0
        self._wall = getattr(board, "wall_time", None)
        # optional: a GPIO the loop toggles once a second, watched by an
        # independent sounder (boards/*/README.md) that sounds when it stops
        self._heartbeat = getattr(board, "heartbeat", None)
        # optional: a second, louder sounder for escalated alarms (boards/README.md)
        self._set_siren = getattr(board, "set_siren", None)
        self._siren = 0
        self._btn = 0             # the button was down at some pass since the last sample
        self.service = None       # the console channel (attach_service), polled every pass
        self.carer = None         # the carers' link (attach_carer), polled every pass
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
        self.store = None         # the persistent memory (store.py), with a flash directory
        self.log = self.rec = None   # the store's event log and recorder, for their readers
        if flash is not None:
            st = Store(self, flash, log_segments, log_seg_bytes, fs)
            self.store = st
            self.log = st.log
            self.sinks.insert(0, st.sink)   # the log first
            st.start(rec_segments, rec_seg_bytes)   # restores, logs the boot, annunciates
            self.rec = st.rec

    # ---- what main.py wires in -------------------------------------------------
    def add_sink(self, sink):
        """An event sink, sink(code, cond, detail, runner), called after
        those before it; one that raises is malfunction/internal (log_failure)."""
        self.sinks.append(sink)

    def attach_service(self, service):
        """The console channel (service.Service): polled once a pass, after
        the watchdog feed."""
        self.service = service

    def attach_carer(self, link):
        """The carers' link (carerlink.link.CarerLink): its sink after the
        others, its poll once a pass after the console channel's."""
        self.add_sink(link.on_event)
        self.carer = link

    def on_event(self, code, cond, detail):
        """An alarm event, passed to every sink in order (the monitor calls it)."""
        for sink in self.sinks:
            try:
                sink(code, cond, detail, self)
            except Exception:  # a failing sink (e.g. the log) must not stop monitoring
                self.monitor.fault(A.D_LOG)

    # ---- what the others read or ask for -----------------------------------------
    def wall_now(self):
        """The board's clock (Unix seconds), 0 when it has none or it is not set."""
        if self._wall is None:
            return 0
        try:
            return self._wall() or 0
        except Exception:
            return 0

    def write(self, code, cond=L.NO_COND, detail=0, v0=0, v1=0, v2=0, v3=0, sync=False):
        """Log a record (store.Store.write; no-op without a flash directory)."""
        st = self.store
        if st is None:
            return True
        return st.write(code, cond, detail, v0, v1, v2, v3, sync)

    def note_config(self, cfg, err=None):
        """Log the configuration in use (store.Store.note_config; no-op
        without a flash directory)."""
        if self.store is not None:
            self.store.note_config(cfg, err)

    def driven(self, tone=-1, led=-1):
        """The sound and the light were set outside the loop (tone, led), or
        are to be driven again at the next pass (-1)."""
        self._tone = tone
        self._led = led

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
        st = self.store
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
            if st is not None:
                st.tick(refill)   # refill edges, the hourly status, retries (store.py)
        else:
            m.poll(now, button)
        try:
            self.demo.tick(now, button)   # a real alarm ends it here, before the outputs
        except Exception:
            self.demo.active = 0
        if st is not None and st.dirty:
            st.save_state()       # before the sound changes, like the log
        self._outputs()
        if self.screen is not None:
            self._show()
        if sampled and st is not None:
            st.record(level, flow, flags, self._btn, refill)   # after the outputs
            self._btn = 0
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
            self._disp_s = self.up_s + DISPLAY_RETRY_S
            if not self._disp_failed:
                self._disp_failed = 1
                self.write(L.DISPLAY, L.NO_COND, 0, 1)

    def _output_fault(self):
        m = self.monitor
        if not m.internal:
            m.fault(A.D_OUTPUT)
        if self.store is not None:
            self.store.count_fault(A.D_OUTPUT)   # logged, at most once a minute

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
                stop_interrupted(self)
            raise

    def _loop(self, steps):
        b = self.board
        while steps != 0:
            try:
                self.step()
            except Exception:  # never silence: a fault in the loop is an alarm
                self.monitor.fault(A.D_EXCEPTION)
                if self.store is not None:   # logged, at most once a minute
                    self.store.count_fault(A.D_EXCEPTION)
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
                # within servicehold.HOLD_S: monitoring goes on (docs/console-protocol.md)
                if self.stop != S.STOP_SERVICE or not hold(self, LOOP_MS):
                    break
            b.sleep_ms(LOOP_MS)
            if steps > 0:
                steps -= 1
