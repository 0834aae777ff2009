# The thin shell around the pure core: the board's main loop. It reads the
# board's sensors once a second, steps the Monitor, passes every event to the
# event sinks (the log first: a high-priority event is on flash before its
# alarm sounds), drives the buzzer and the light, and feeds the watchdog.
# Board interface: boards/README.md. Nothing here imports `machine`.
import json

from pumpmon import alarms as A
from pumpmon.clock import ticks_add, ticks_diff
from pumpmon.config import Config, ConfigError
from pumpmon.monitor import Monitor

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

SAMPLE_MS = const(1000)
LOOP_MS = const(10)

# when the configuration cannot be read the monitor still watches the
# sensors; malfunction/internal (bad_config) sounds until it is fixed
FALLBACK_CONFIG = {"rate_ul_h": 0.0}


def load_config(path="config.json"):
    """(Config, None) or (fallback Config, error text)."""
    try:
        with open(path) as f:
            values = json.load(f)
        return Config(values), None
    except OSError as e:
        return Config(FALLBACK_CONFIG), "%s: cannot read: %s" % (path, e)
    except (ValueError, ConfigError) as e:   # bad JSON or a bad setting
        return Config(FALLBACK_CONFIG), "%s: %s" % (path, e)


class Runner:
    def __init__(self, board, cfg, sinks=(), tod_s=None):
        """sinks: callables sink(code, cond, detail, runner), called in order."""
        self.board = board
        self.sinks = list(sinks)
        now = board.ticks_ms()
        self.monitor = Monitor(cfg, now, self._on_event, tod_s)
        self._next = now
        self._tone = -1
        self._led = -1
        self.now = now

    def _on_event(self, code, cond, detail):
        for sink in self.sinks:
            try:
                sink(code, cond, detail, self)
            except Exception:  # a failing sink (e.g. the log) must not stop monitoring
                self.monitor.fault(A.D_LOG)

    def step(self):
        """One pass of the main loop; never blocks."""
        b = self.board
        m = self.monitor
        now = b.ticks_ms()
        self.now = now
        button = b.button()
        if ticks_diff(now, self._next) >= 0:
            self._next = ticks_add(self._next, SAMPLE_MS)
            if ticks_diff(now, self._next) >= 0:  # fell behind: resynchronise
                self._next = ticks_add(now, SAMPLE_MS)
            flow = b.read_flow()
            m.step(now, b.read_level(), flow, b.flow_flags, button, b.refill())
        else:
            m.poll(now, button)
        a = m.ann
        if a.tone_hz != self._tone:
            self._tone = a.tone_hz
            b.set_tone(a.tone_hz)
        if a.led != self._led:
            self._led = a.led
            b.set_led(a.led)
        b.feed_watchdog()

    def run(self, steps=-1):
        """The main loop (steps < 0: forever)."""
        b = self.board
        while steps != 0:
            try:
                self.step()
            except Exception:  # never silence: a fault in the loop is an alarm
                self.monitor.fault(A.D_EXCEPTION)
                try:
                    self.monitor.poll(b.ticks_ms(), 0)
                    b.set_tone(self.monitor.ann.tone_hz)
                    b.set_led(self.monitor.ann.led)
                    b.feed_watchdog()
                except Exception:
                    pass  # the watchdog will reset the board; the alarm comes back
            b.sleep_ms(LOOP_MS)
            if steps > 0:
                steps -= 1
