# Pulsatile delivery (docs/engine.md): the missed-stroke test, and the zero
# offset learnt where the truth is zero (between strokes, or at rate 0).
#
# Strokes: a stroke is a reading above thr; when it ends, its volume is
# judged (at least 30 % of what the programmed rate owes since the last good
# stroke); once four intervals between good strokes are known and regular
# (within 1.5x), a stroke that does not come by `due` is a stop (`missed`).
# ZeroOffset: the mean of the zero-truth readings of each 10-s bucket (at least
# 5) folded into a slow average, capped at +-zero_offset, subtracted from
# every reading.
#
# Inline in FlowReadings.reading (detect_flow.py; for a plain valid reading
# its copy in Engine.tick), not here: which readings
# go to step() (y > thr or a stroke on) and the sums of zero-truth readings;
# in Engine.tick: the test `sec > due` (a reading a second; a call each would
# cost more than the lines). Integers only, nothing allocated after __init__.
from array import array

from pumpmon.detect_stop import SIG0, SIG_PCT, STRETCH

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

NSI = const(4)               # stroke intervals remembered
STROKE_TAIL = const(5)       # s after a stroke before readings count as zero truth
_CAP = const(100000000)      # cap on accumulated sums (small ints)
NEVER = const(1 << 29)


class Strokes:
    def __init__(self, cfg):
        self._cfg = cfg           # (stroke_max_s, zero_offset: read on a rate change)
        self.thr = 0              # a reading above this is a stroke
        self._thr_clear = 0       # ... and one peaking above this a clear one
        self.on = 0               # 1 during a stroke
        self._start = 0
        self.end = 0              # sec the last stroke ended
        self._sum = 0
        self._peak = 0
        self._regular = 0
        self.good = 0             # start of the last stroke that delivered
        self.n = 0                # good strokes seen (capped)
        self.ski = array("i", [0] * NSI)  # intervals between good strokes, s
        self._i = 0
        self.stroke_max = 0       # longest of them
        self.due = NEVER          # sec after which a missing stroke is a stop
        self.missed = 0           # 1: a stroke did not come (or did not deliver)

    def step(self, y, r, sec):
        """A reading above thr, or the first below it after a stroke. 1 when
        a stroke begins (the bucket's zero-truth readings may hold its edge)."""
        if y > self.thr:
            began = 0
            if not self.on:
                self.on = 1
                self._start = sec
                self._sum = 0
                self._peak = 0
                began = 1
            if self._sum < _CAP:
                self._sum += y
            if y > self._peak:
                self._peak = y
            return began
        self.on = 0
        self.end = sec
        self._done(r)
        return 0

    def _done(self, r):
        if self._peak < self._thr_clear:
            # barely above the threshold: noise could make, split or hide such
            # strokes, so the test is disarmed (the CUSUM still judges them)
            self.n = 0
            self.due = NEVER
            return
        start = self._start
        n = self.n
        good = 1
        if n:
            dt = start - self.good
            lim = self.stroke_max + (self.stroke_max >> 2)
            if n >= 3 and dt > lim:
                dt = lim      # after a stop: one stroke's volume is enough
            if dt > 3600:
                dt = 3600
            good = self._sum * 10 >= 3 * r * dt   # >= 30 % of its volume
        if not good:
            return
        if n:
            iv = start - self.good
            if iv > 4000:
                iv = 4000
            self.ski[self._i] = iv
            self._i = (self._i + 1) % NSI
            self._max()
        self.good = start
        if n < 1000:
            self.n = n + 1
        self.missed = 0
        self._due()

    def restart(self, sec):
        """The test starts again from sec (delivery resumed, a run of
        full-scale readings ended)."""
        self.good = sec
        self._due()

    def _due(self):
        # armed once 4 intervals are known and regular (within 1.5x)
        if self.n > NSI and self._regular:
            mx = self.stroke_max
            self.due = self.good + mx + (mx >> 2) + 30
        else:
            self.due = NEVER

    def _max(self):
        mx = 0
        mn = NEVER
        k = 0
        while k < NSI:
            v = self.ski[k]
            if v > mx:
                mx = v
            if v < mn:
                mn = v
            k += 1
        self.stroke_max = mx
        self._regular = mn > 0 and mx * 2 <= mn * 3

    def set_rate(self, r, old, sec):
        """The programmed rate changed from old to r (0.1 uL/h)."""
        if r <= 0:
            self.missed = 0
            return
        if old == 0:
            self.restart(sec)     # the first stroke may be up to stroke_max_s away
        self.thr = 2 * r + 6 * SIG0 + self._cfg.zero_offset
        # a clear stroke peaks 4 sigma (of a reading at thr) above thr
        self._thr_clear = self.thr + 4 * (SIG0 + self.thr * SIG_PCT // 100)
        if 0 < r < old:
            # slower: intervals between fixed-volume strokes may grow by
            # old / r, but never past the longest a pump may leave (nor what
            # was seen): bounded, and the same after any number of steps
            f = old * 64 // r
            if f > STRETCH:
                f = STRETCH
            cap = self._cfg.stroke_max_s
            k = 0
            while k < NSI:
                v = self.ski[k]
                w = v * f >> 6
                top = v if v > cap else cap
                self.ski[k] = w if w < top else top
                k += 1
            self._max()
            self._due()


class ZeroOffset:
    def __init__(self, cfg):
        self._lim = cfg.zero_offset
        self.sum = 0              # this bucket's zero-truth readings (FlowReadings adds)
        self.cnt = 0
        self._off16 = 0
        self.when = -NEVER        # sec the offset was last learnt
        self.offset = 0           # 0.1 uL/h, subtracted from every reading

    def drop(self):
        """A stroke began: this bucket's readings may hold its edge."""
        self.sum = 0
        self.cnt = 0

    def fold(self, sec):
        """A bucket closes: fold its zero-truth readings into the offset."""
        if self.cnt >= 5:
            self.when = sec
            mean = self.sum // self.cnt
            self._off16 += (mean * 16 - self._off16) // 8
            o = self._off16 // 16
            lim = self._lim
            if o > lim:
                o = lim
            elif o < -lim:
                o = -lim
            self.offset = o
        self.sum = 0
        self.cnt = 0
