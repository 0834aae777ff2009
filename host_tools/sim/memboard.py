# An in-memory Board for the firmware's main loop without hardware: the tests
# of the Runner (tests/firmware/fakeboard.py is their name for it) and the
# benchmarks (host_tools/bench/log.py). MicroPython-compatible:
# it runs on the unix port with the tests.
from pumpmon.clock import ticks_add


class MemBoard:
    """The Board interface (boards/README.md) in memory: sensor values as set
    by the caller, outputs recorded (tone, led and their histories), the
    clock moved by sleep_ms and by the caller."""

    def __init__(self, t0=0):
        self.t = t0
        self.flow = 300
        self.flow_flags = 0
        self.level = 18000
        self.btn = 0
        self.refill_mode = 0
        self.tone = 0
        self.led = -1
        self.tones = []
        self.leds = []
        self.siren = 0            # the second sounder (escalated alarms) and its history
        self.sirens = []
        self.fed = 0
        self.cause = "power_on"   # what reset_cause() reports (tests of resets set it)
        self.wall = 0             # wall_time(): Unix seconds, 0 = clock not set

    def ticks_ms(self):
        return self.t

    def sleep_ms(self, ms):
        self.t = ticks_add(self.t, ms)

    def read_flow(self):
        # a real sensor is never perfectly still (a constant reading is a
        # stuck sensor to the engine): +-0.1 uL/h of jitter
        if self.flow is None:
            return None
        self._n = (getattr(self, "_n", 0) + 1) % 3
        return self.flow + self._n - 1

    def read_level(self):
        return self.level

    def button(self):
        return self.btn

    def refill(self):
        return self.refill_mode

    def set_tone(self, hz):
        self.tone = hz
        self.tones.append((self.t, hz))

    def set_led(self, colour):
        self.led = colour
        self.leds.append((self.t, colour))

    def set_siren(self, on):
        self.siren = on
        self.sirens.append((self.t, on))

    def feed_watchdog(self):
        self.fed += 1

    def reset_cause(self):
        return self.cause

    def wall_time(self):
        return self.wall
