# The level (docs/engine.md): the tracked level (LevelTrack: an EMA x16; a
# reading level_jump_ml or more away from it is invalid: a glitch is ignored,
# a jump that stays makes the level sensor faulty), the mismatch (the level's
# drop over mismatch_window_min not explained by the volume the flow sensor
# measured: a leak, or a drifting sensor) and the stuck level (a level that
# does not fall while the flow sensor measures level_stuck_ml delivered).
#
# LevelTrack.reading: a few lines of integer arithmetic a reading; it keeps
# the counts and sums of the bucket and the minute that the engine hands to
# the others as they close. Engine.tick runs a reading in range, tracked and
# with no dump (nearly every one) through an inline copy of it (a call would
# take a heap frame on MicroPython: docs/engine.md), held to it by
# test_engine_inline_level_is_level_reading in tests/firmware/test_detect.py. The condition
# bits stay with the engine (which reads `ok`, `why` here). Integers only,
# rings preallocated: nothing allocated after __init__.
from array import array

from pumpmon import alarms as A

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

ENDS = const(5)              # minutes averaged at each end of the mismatch window
UNSET = const(-1000000)      # a minute's volume unknown (detect_means.UNSET)
_NST = const(5)              # stuck level: 4 quarter-windows, 5 ends
_V0 = const(ENDS // 2 + 1)   # mismatch: the volume's span begins (ring position)


class LevelTrack:
    def __init__(self, cfg):
        self._min = cfg.level_min_ul
        self._max = cfg.level_max_ul
        self._jump = cfg.level_jump_ul
        self.acc = 0              # level EMA x16
        self.ref = 0              # 1 once acc holds a reference level
        self.ul = 0               # tracked level, uL (valid when ref)
        self.ok = 0               # sec of the last valid reading
        self.why = A.D_SILENT     # the fault of the last invalid one
        self.good = 0             # the bucket: valid / invalid readings
        self.bad = 0
        self.raw_sum = 0          # ... raw readings in range, not in refill mode
        self.raw_n = 0
        self.min_sum = 0          # the minute: valid readings
        self.min_n = 0

    def reading(self, v, sec, refill, follow):
        """A level reading (uL). follow: take it as it is (refill mode, or a
        level that falls as fast as it is read: a dump, an over-delivery the
        level confirms), never a jump. 1 when in range (and not in refill
        mode): the dump's steady-level test may look at it."""
        if v < self._min or v > self._max:
            self.why = A.D_OUT_OF_RANGE
            self.bad += 1
            return 0
        if not refill:
            self.raw_sum += v
            self.raw_n += 1
        if follow or not self.ref:
            acc = v << 4
        else:
            acc = self.acc
            d = v - (acc >> 4)
            if d >= self._jump or d <= -self._jump:
                self.why = A.D_JUMP
                self.bad += 1
                return not refill
            acc += d
        self.acc = acc
        self.ref = 1
        self.ul = acc >> 4
        self.ok = sec
        self.why = A.D_SILENT
        self.min_sum += v
        self.min_n += 1
        self.good += 1
        return not refill

    def restart(self):
        """Refill mode ended: a new baseline, from the next reading."""
        self.ref = 0
        self.min_sum = 0
        self.min_n = 0


class Mismatch:
    def __init__(self, cfg):
        nm = cfg.mismatch_window_min + ENDS
        self._nm = nm
        self._lsum = array("i", [0] * nm)  # level sum per minute (valid readings)
        self._lcnt = array("i", [0] * nm)
        self._vol = array("i", [0] * nm)   # measured volume per minute, 0.01 uL (UNSET: unknown)
        self._i = 0
        self.fill = 0             # minutes in line since the last restart (0: start again)
        # the volume between the centres of the two end averages (ring
        # positions _V0 .. nm - ENDS // 2 - 1 from the oldest), kept as each
        # minute closes
        # (the judgement without a loop over the ring; the same integers)
        self._vsum = 0            # sum of the known volumes there
        self._vunset = 0          # ... and how many are unknown
        self._thr = cfg.mismatch_ul
        self.excess = 0           # level drop not explained by flow, uL

    def close(self, lsum, lcnt, vol):
        """A minute closed: the sum and count of its valid level readings,
        the volume measured (0.01 uL, UNSET)."""
        i = self._i
        nm = self._nm
        vols = self._vol
        # the ring moves on by one: the minute at position _V0 leaves the
        # volume's span, the one at _V1 + 1 (written two minutes ago) enters
        v = vols[(i + _V0) % nm]
        if v == UNSET:
            self._vunset -= 1
        else:
            self._vsum -= v
        v = vols[(i + nm - ENDS // 2) % nm]
        if v == UNSET:
            self._vunset += 1
        else:
            self._vsum += v
        self._lsum[i] = lsum
        self._lcnt[i] = lcnt
        vols[i] = vol
        i += 1
        if i == nm:
            i = 0
        self._i = i
        self.fill += 1

    def judge(self, on):
        """on: the condition now (0: off). -1 when the window cannot be
        judged; else (excess set) 0: off, or its detail: falling, rising (on
        and within the hysteresis band: on, as it is)."""
        nm = self._nm
        if self.fill < nm or self._vunset:
            return -1             # (a minute's volume unknown in the span)
        lsum = self._lsum
        lcnt = self._lcnt
        i = self._i               # oldest minute: the first end average
        j = (i + nm - ENDS) % nm  # the last one's first minute
        old_s = old_c = new_s = new_c = 0
        k = 0
        while k < ENDS:
            old_s += lsum[i]
            old_c += lcnt[i]
            new_s += lsum[j]
            new_c += lcnt[j]
            i += 1
            if i == nm:
                i = 0
            j += 1
            if j == nm:
                j = 0
            k += 1
        if old_c == 0 or new_c == 0:
            return -1
        # volume between the centres of the two end averages
        excess = old_s // old_c - new_s // new_c - self._vsum // 100
        self.excess = excess
        thr = self._thr
        if excess > thr or excess < -thr:
            return A.D_FALLING if excess > 0 else A.D_RISING
        if -thr // 2 < excess < thr // 2:
            return 0
        return on


class LevelStuck:
    """Judged over the last four quarter-windows (each level_stuck_ml / 4 of
    measured delivery), so it is found within level_stuck_ml of delivery
    after the reading froze: stuck when the level fell by less than a quarter
    of the volume measured."""

    def __init__(self, cfg):
        self._lv = array("i", [0] * _NST)      # level at the last quarter-window ends
        self._qv = array("i", [0] * (_NST - 1))  # measured volume per quarter, 0.01 uL
        self.n = 0                # ends known (0: start again)
        self._vol = 0
        self._quarter = cfg.level_stuck_ul * 100   # x 4: 0.01 uL
        self.on = 0

    def judge(self, vol, level_ul, tracking):
        """A minute closed: its measured volume (0.01 uL, UNSET), the tracked
        level; tracking: 0 in refill mode or with no level tracked."""
        if not tracking:
            self.n = 0
            self._vol = 0
            self.on = 0
            return
        if self.n == 0:
            self._lv[0] = level_ul
            self.n = 1
            self._vol = 0
            return
        if vol != UNSET and vol > 0:
            self._vol += vol
        if self._vol * 4 < self._quarter:
            return
        # a quarter window ends: append to the rings (5 levels, 4 volumes),
        # shifting out the oldest once full
        n = self.n
        if n == _NST:
            k = 0
            while k < _NST - 1:
                self._lv[k] = self._lv[k + 1]
                if k < _NST - 2:
                    self._qv[k] = self._qv[k + 1]
                k += 1
            n = _NST - 1
        self._lv[n] = level_ul
        self._qv[n - 1] = self._vol
        self.n = n + 1
        self._vol = 0
        if self.n < _NST:
            return
        total = 0
        k = 0
        while k < _NST - 1:
            total += self._qv[k]
            k += 1
        drop = self._lv[0] - self._lv[_NST - 1]
        self.on = 1 if drop * 400 < total else 0
