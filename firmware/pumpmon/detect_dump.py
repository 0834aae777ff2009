# A dump is an overdose (issue 22; docs/engine.md, "A dump is an overdose"):
# a run of flow readings at or beyond full scale is judged by the level. When
# the level falls fast by the time the run lasted DUMP_S (60 readings), it is
# over-delivery (detail out_of_range); when it lasted that long without (or
# the level showed it steady before: steady()), the flow sensor is faulty.
# A level falling fast for DUMP_S while the flow sensor is silent, saturated
# or faulty is over-delivery too (detail falling).
#
# Not here: the test whether a run is on (`since`, a tick a second, inline
# in Engine.tick) and the sums of the raw level readings of the 10-s bucket
# (LevelTrack: one addition a reading); the engine hands them over as a
# bucket closes (level_fall). high() runs per full-scale reading
# (FlowReadings), steady() per level reading during a run being judged. Integers only, the ring preallocated:
# nothing allocated after __init__.
from array import array

from pumpmon import alarms as A

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

UNSET = const(-1000000)      # no run (engine.py's _UNSET: tests/host/test_engine_constants.py)
DUMP_S = const(60)           # evidence sustained this long decides
_HI_GAP = const(5)           # s without a full-scale reading end a run of them
_LF_N = const(8)             # level means of 10-s buckets kept (70 s)
_LF_NOISE = const(200)       # uL: the level noise over 60 s (5 sigma of two means)
_STEADY_UL = const(250)      # uL a full-scale flow must have moved before a
#                              steady level proves the flow sensor wrong


class Dump:
    def __init__(self, cfg):
        top = 0
        for v in cfg.sched_rate:
            top = v if v > top else top
        self._lf_thr = top // 200 + _LF_NOISE  # uL in 60 s: 3 x the top rate + noise
        self._flow_max = cfg.flow_max
        self.since = UNSET        # first full-scale reading of the run now
        self._last = UNSET
        self._lv = 0              # tracked level when the run began, uL
        self._ref = 0             # 1 when _lv holds a level
        self.verdict = 0          # 0 judging, 1 over-delivery, 2 flow sensor fault
        self.n = 0                # full-scale readings in the run
        self.counted = 0          # readings of a short run that ended, to count
        self._lf = array("i", [0] * _LF_N)  # mean raw level per 10-s bucket, uL
        self._lf_i = 0
        self._lf_fill = 0
        self.lfall = 0            # the level fell fast over the last 60 s
        self._lfall_since = 0
        self.dump = 0             # over-delivery detail of a dump, 0: none

    def high(self, sec, level_ul, lref):
        """A reading at or beyond full scale (not in refill mode): the
        readings of the run so far."""
        self._last = sec
        if self.since == UNSET:
            self.since = sec
            self._lv = level_ul
            self._ref = lref
            self.verdict = 0
            self.n = 0
        self.n += 1
        return self.n

    def run(self, sec, refill):
        """Each tick of a run: over when none came for _HI_GAP s (UNSET
        returned; `counted`: the readings a short run leaves to the means);
        the verdict once it lasted DUMP_S. The run's start, or UNSET."""
        if sec - self._last > _HI_GAP or refill:
            # a short run (a stroke beyond full scale: under 60 readings, so
            # the sums stay small) ended in readings: the means count it at
            # full scale, the least it delivered (a judged run was judged: a
            # dump, or the sensor's fault)
            self.counted = self.n if self.verdict == 0 and not refill and self.n >= 3 else 0
            self.since = UNSET
            self.verdict = 0
            return UNSET
        if self.verdict == 0 and sec - self.since >= DUMP_S - 1:
            self.verdict = 1 if self.lfall else 2
        return self.since

    def steady(self, level_ul, sec):
        """A level reading during a run being judged: once the flow at full
        scale must have moved _STEADY_UL, a level that fell less than half of
        that says the flow sensor is wrong."""
        if not self._ref:
            return
        moved = self._flow_max * (sec - self.since) // 36000
        if moved >= _STEADY_UL and (self._lv - level_ul) * 2 < moved:
            self.verdict = 2

    def level_fall(self, lsum, ln, refill, sec):
        """Each 10 s: the bucket's raw level readings (sum, count). The level
        falls fast when it fell more than _lf_thr over the last 60 s, and at
        least half of that over the 60 s a bucket before (one glitch is not a
        fall)."""
        if refill:
            self._lf_fill = 0
            self.lfall = 0
            return
        i = self._lf_i
        lf = self._lf
        if ln:
            lf[i] = lsum // ln
        elif self._lf_fill:
            lf[i] = lf[(i + _LF_N - 1) % _LF_N]   # no reading: hold the last
        else:
            return
        i = (i + 1) % _LF_N
        self._lf_i = i            # the oldest now
        if self._lf_fill < _LF_N:
            self._lf_fill += 1
            return
        thr = self._lf_thr
        fall = lf[(i + 1) % _LF_N] - lf[(i + _LF_N - 1) % _LF_N]
        before = lf[i] - lf[(i + _LF_N - 2) % _LF_N]
        f = 1 if fall >= thr and before * 2 >= thr else 0
        if f and not self.lfall:
            self._lfall_since = sec
        self.lfall = f

    def decide(self, run, sec, refill, flow_bad):
        """The dump's over-delivery detail now: run: a full-scale run is on;
        flow_bad: the flow sensor faulty or silent."""
        if self.verdict == 1 and run:
            return A.D_OUT_OF_RANGE
        if self.lfall and not refill and sec - self._lfall_since >= DUMP_S and (
                run or flow_bad):
            return A.D_FALLING
        return 0
