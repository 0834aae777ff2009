# The alarm demonstration (docs/alarm-demo.md): each alarm's sound and light
# for DEMO_MS, with its name on the display, in priority order, so patients
# and carers can learn them before they matter. Started by a button sequence
# that cannot happen by accident (three short presses, then a long press,
# within 10 s, while no alarm is shown) or by `pumpmon demo` on the console
# channel (service.py); refused while any alarm is shown; logged (start,
# end, refusal). Monitoring goes on underneath: the engine and the alarm
# manager are stepped as always, only the outputs are the demo's, and a
# real alarm ends the demo in the loop pass that raises it (the runner asks
# tick() before it drives the outputs). Nothing is allocated per pass.
from pumpmon import alarms as A
from pumpmon import eventlog as L
from pumpmon.annunciator import Annunciator
from pumpmon.clock import ticks_diff

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

DEMO_MS = const(6000)         # each alarm plays this long (one whole high burst: 2.3 s)
WINDOW_MS = const(10000)      # the button sequence must be done within this
SHORT_PRESSES = const(3)      # short presses before the long one
_MIN_PRESS_MS = const(30)     # as manager.py: shorter is a bounce

# log record DEMO: detail START / END / REFUSED; v0 the source (start,
# refused) or the reason it ended
START = const(1)
END = const(0)
REFUSED = const(2)
SRC_BUTTON = const(1)
SRC_CONSOLE = const(2)
END_DONE = const(0)           # every alarm played
END_ALARM = const(1)          # a real alarm: it sounds instead, in the same pass
END_PRESS = const(2)          # a press of the button


def _order():
    """Every alarm kind with a sound, highest priority first (then the kind
    order), and a condition of each whose words the display shows: the one
    whose title most of the kind's conditions share (the kind's usual name,
    e.g. FAULT), the first of them on a tie."""
    from pumpmon.screenwords import WORDS
    prio = {}
    titles = {}
    for c in range(A.N_CONDITIONS):
        k, p, cause = A.TABLE[c]
        if k not in prio or p < prio[k]:
            prio[k] = p
        w = WORDS.get((A.KIND_NAMES[k], cause))
        titles.setdefault(k, []).append((w[0] if w else cause, c))
    kinds = sorted(prio, key=lambda k: (prio[k], k))
    conds = []
    for k in kinds:
        ts = titles[k]
        best = max(ts, key=lambda tc: (sum(1 for t, _c in ts if t == tc[0]), -tc[1]))
        conds.append(best[1])
    return tuple(kinds), tuple(conds)


KINDS, CONDS = _order()


class Demo:
    def __init__(self, runner):
        self.r = runner
        self.ann = Annunciator(runner.now)
        self.active = 0
        self.cond = -1              # the condition whose words the display shows
        self._i = -1
        self._t0 = 0
        self._btn = 0
        self._down = 0              # when the button went down
        self._presses = 0           # short presses of the sequence so far
        self._first = 0             # when the first of them ended

    def start(self, now, src):
        """Start the demonstration; False (logged) while an alarm is shown."""
        if self.r.monitor.manager.shown:
            self.r.write(L.DEMO, L.NO_COND, REFUSED, src)
            return False
        self.active = 1
        self._i = -1
        self._t0 = now
        self.r.write(L.DEMO, L.NO_COND, START, src)
        self._play(now)
        return True

    def stop(self, why):
        if not self.active:
            return
        self.active = 0
        self.cond = -1
        r = self.r
        r.driven(-1, -1)            # the monitor's own outputs, driven again now
        r.write(L.DEMO, L.NO_COND, END, why)

    def _play(self, now):
        i = ticks_diff(now, self._t0) // DEMO_MS
        if i >= len(KINDS):
            self.stop(END_DONE)
            return
        if i != self._i:
            self._i = i
            self.cond = CONDS[i]
        k = KINDS[i]
        self.ann.update(now, k, k)

    def tick(self, now, button):
        """Once a loop pass, after the monitor's step, before the outputs."""
        pressed = button and not self._btn
        released = self._btn and not button
        self._btn = button
        if self.active:
            if self.r.monitor.manager.shown:
                self.stop(END_ALARM)
            elif pressed:
                self.stop(END_PRESS)
            else:
                self._play(now)
            return
        if pressed:
            self._down = now
        elif released:
            self._sequence(now, ticks_diff(now, self._down))

    def _sequence(self, now, held):
        """Three short presses, then a long one, within WINDOW_MS."""
        if self._presses and ticks_diff(now, self._first) > WINDOW_MS:
            self._presses = 0
        if held >= self.r.cfg.long_press_ms:
            if self._presses >= SHORT_PRESSES:
                self.start(now, SRC_BUTTON)
            self._presses = 0
        elif held >= _MIN_PRESS_MS:
            if not self._presses:
                self._first = now
            self._presses += 1
