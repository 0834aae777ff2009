# What cannot be judged is an alarm (issue 11; docs/engine.md): too few valid
# flow readings in the last minute, or more bad level readings than good in
# the last two, is the sensor's malfunction (detail "sparse"); and a brief air
# flag (issue 22): air on at most _AIR_BRIEF_S readings in 10 minutes is a
# bubble passing, not a sensor fault.
#
# Not here: the counts of the 10-s bucket (valid, full-scale, air-flagged
# readings in FlowReadings, good and bad level readings in LevelTrack: one
# addition a reading); the engine hands them over as a bucket closes.
# BriefAir.seen runs per air-flagged reading only. Integers only, rings
# preallocated: nothing allocated after __init__.
from array import array

from pumpmon import alarms as A

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

SPARSE_B = const(6)          # flow: buckets (1 min) judged for sparse readings
_SPARSE_MIN = const(45)      # valid readings needed in them (75 %)
_LSPARSE_B = const(12)       # level: buckets (2 min)
_CAP = const(100000000)      # cap on accumulated counts (small ints)
AIR_BRIEF_S = const(25)      # air readings in _AIR_MIN minutes that are a bubble
_AIR_MIN = const(10)         # minutes of air counts kept


class SparseFlow:
    def __init__(self):
        self._v = array("i", [0] * SPARSE_B)   # judged readings per bucket
        self._t = 0
        self._i = 0
        self.on = 0               # 1: fewer than 75 % judged in the last minute

    def close(self, n, fill):
        """A bucket closed with n judged readings; fill: buckets closed since
        start (this one included)."""
        k = self._i
        self._t += n - self._v[k]
        self._v[k] = n
        self._i = (k + 1) % SPARSE_B
        if fill >= SPARSE_B:
            self.on = 1 if self._t < _SPARSE_MIN else 0


class SparseLevel:
    def __init__(self):
        self._good = array("i", [0] * _LSPARSE_B)
        self._bad = array("i", [0] * _LSPARSE_B)
        self._i = 0
        self._g_t = 0
        self._b_t = 0
        self.why = 0              # 0, or the detail: "sparse", or the readings' fault

    def close(self, good, bad, why):
        """A bucket closed with good and bad level readings; why: the last bad
        reading's fault. More bad than good over two minutes (at least 3
        bad): the level cannot be judged. Detail: the readings' fault when
        none was good, else 'sparse'."""
        k = self._i
        self._g_t += good - self._good[k]
        self._b_t += bad - self._bad[k]
        self._good[k] = good
        self._bad[k] = bad
        self._i = (k + 1) % _LSPARSE_B
        b = self._b_t
        if b >= 3 and b >= self._g_t:
            self.why = A.D_SPARSE if self._g_t else why
        else:
            self.why = 0


class BriefAir:
    def __init__(self):
        self._m = array("i", [0] * _AIR_MIN)  # air-flagged readings per minute
        self._i = 0
        self.t = 0                # ... over the last _AIR_MIN minutes
        self._last = -1000000     # sec of the last air-flagged reading

    def seen(self, sec):
        """An air-flagged reading."""
        self._last = sec
        if self.t < _CAP:
            self.t += 1
            self._m[self._i] += 1

    def passing(self, sec):
        """1 while the air looks like a bubble passing: flagged in the last
        2 s, and brief over the last 10 minutes."""
        return sec - self._last <= 2 and self.t <= AIR_BRIEF_S

    def minute(self):
        """A minute closes: the counts move on (last _AIR_MIN minutes)."""
        i = (self._i + 1) % _AIR_MIN
        self.t -= self._m[i]
        self._m[i] = 0
        self._i = i
