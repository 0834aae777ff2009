# Non-blocking player for the alarm patterns in patterns.py. The main loop
# calls tick(now) as often as it likes; the output (tone_hz, led) is a pure
# function of the time since the pattern started, so a late tick never drifts
# the rhythm and nothing is allocated.
from pumpmon import patterns as P
from pumpmon.alarms import KIND_NONE, KIND_STARTING
from pumpmon.clock import ticks_diff


def _cycle(pattern):
    total = 0
    i = 1
    while i < len(pattern):
        total += pattern[i] + pattern[i + 1]
        i += 3
    return total


SOUND_CYCLE = tuple(_cycle(p) for p in P.SOUND)
ESC_CYCLE = tuple(_cycle(p) for p in P.SOUND_ESCALATED)
LIGHT_CYCLE = tuple(_cycle(p) for p in P.LIGHT)


def _at(pattern, cycle, elapsed):
    """Value of a (value, on, off) pattern at elapsed ms from its start (0 when off)."""
    if cycle <= 0:
        return pattern[0]
    t = elapsed % cycle
    i = 0
    n = len(pattern)
    while i < n:
        on = pattern[i + 1]
        if t < on:
            return pattern[i]
        t -= on + pattern[i + 2]
        if t < 0:
            return 0
        i += 3
    return 0


class Annunciator:
    def __init__(self, now):
        self.sound = KIND_NONE
        self.light = KIND_NONE
        self._s_start = now
        self._l_start = now
        self.escalated = 0      # 1: the escalated sound (patterns.SOUND_ESCALATED)
        self.tone_hz = 0        # what the buzzer must play now (0: silent)
        self.led = P.GREEN      # what the light must show now (patterns colour)
        self.siren = 0          # 1: the second sounder, with the escalated pulses
        self.still = 0          # 1: the outputs do not depend on the time (silent, steady light)

    def update(self, now, sound, light, escalated=0):
        if self.still and sound == self.sound and light == self.light \
                and escalated == self.escalated:
            return      # silent and a steady light: tick() would change nothing
        if sound != self.sound or escalated != self.escalated:
            self.sound = sound
            self.escalated = escalated
            self._s_start = now
        if light != self.light:
            self.light = light
            self._l_start = now
        self.tick(now)

    def tick(self, now):
        s = self.sound
        if s == KIND_NONE:
            self.tone_hz = 0
        elif self.escalated:
            self.tone_hz = _at(P.SOUND_ESCALATED[s], ESC_CYCLE[s], ticks_diff(now, self._s_start))
        else:
            self.tone_hz = _at(P.SOUND[s], SOUND_CYCLE[s], ticks_diff(now, self._s_start))
        # the second sounder (board.set_siren, optional) sounds with the
        # escalated pulses only
        self.siren = 1 if self.escalated and self.tone_hz else 0
        k = self.light
        if k == KIND_NONE:
            self.led = P.IDLE_LIGHT[0]
        elif k == KIND_STARTING:
            self.led = P.STARTING_LIGHT[0]
        else:
            self.led = _at(P.LIGHT[k], LIGHT_CYCLE[k], ticks_diff(now, self._l_start))
            self.still = 0
            return
        self.still = 1 if s == KIND_NONE else 0
