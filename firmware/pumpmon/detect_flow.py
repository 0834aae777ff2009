# The flow readings (docs/engine.md): each one sorted (air, at or beyond full
# scale, out of range, valid), a valid one through the median of 3 (removes
# single-reading spikes but keeps a pump stroke, which lasts >= 10 readings)
# and the zero offset, summed for the 10-s bucket and the minute, and fed to
# the detectors judged per reading: the stop test (detect_stop.py), the
# missed-stroke test and the zero-truth sums (detect_strokes.py), start-up
# (detect_means.py), brief air (detect_sparse.py) and a run of full-scale
# readings (detect_dump.py, shared with the engine).
#
# Inline in reading(), not in the detectors' methods: the median, the sums,
# the CUSUM's update (its turns are StopTest's methods) and which readings go
# to the stroke test (a reading a second: a call each would cost as much as
# what it does, on MicroPython). Engine.tick runs a plain valid reading
# (flags 0, in range) through a copy of the valid path below, inline: a call
# to reading() takes its frame from the heap on MicroPython, 20 % of a tick
# (docs/engine.md); keep the two the same (test_engine_inline_reading_is_flow_reading
# in tests/firmware/test_detect.py fails when they differ). The
# condition bits stay with the engine, which reads `ok`, `why`, `stuck_since`
# and the detectors' verdicts here.
# Integers only: nothing allocated after __init__.
from pumpmon import alarms as A
from pumpmon.detect_means import Startup
from pumpmon.detect_sparse import BriefAir
from pumpmon.detect_stop import StopTest
from pumpmon.detect_strokes import Strokes, ZeroOffset

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_AIR = const(1)              # flow flags bit 0: air in line (Sensirion SF06)
_HIGH = const(2)             # flow flags bit 1: flow above the sensor's range
_UNSET = const(-1000000)     # (detect_dump.UNSET: tests/host/test_engine_constants.py)
_Q = const(256)              # detect_stop.Q: the CUSUM unit
_Q2 = const(512)             # 2 * _Q
_STROKE_TAIL = const(5)      # detect_strokes.STROKE_TAIL
_MINUTE_S = const(60)
SEEN = const(1)              # reading(): delivery seen (start-up over)
STOPPED = const(2)           # reading(): the stop test fired (stop_mean)


class FlowReadings:
    def __init__(self, cfg, dump, level):
        self._min = cfg.flow_min
        self._max = cfg.flow_max
        self._dump = dump         # detect_dump.Dump (the engine's)
        self._level = level       # detect_level.LevelTrack (the engine's)
        self.p1 = _UNSET          # median filter history
        self.p2 = _UNSET
        self.ok = 0               # sec of the last valid reading
        self.why = A.D_SILENT     # the fault of the last invalid one
        self.last_v = _UNSET      # the last valid value, and since when
        self.stuck_since = 0
        self.offset = 0           # zero.offset, copied as it is learnt
        self.rnow = -1            # the programmed rate now (per second), 0.1 uL/h
        self.r0_since = 0         # sec the programmed rate became 0
        self.bsum = 0             # the bucket: filtered, corrected readings
        self.bcnt = 0
        self.bhi = 0              # ... full-scale readings
        self.bair = 0             # ... air-flagged readings
        self.msum = 0             # the minute: its buckets' sums, added as each
        self.mcnt = 0             # closes (one addition a bucket, not a reading)
        self.minute_mean = 0      # the last minute's mean, 0.01 uL/h (_UNSET: too few)
        self.starting = 1         # start-up fed until the engine judges the flow
        self.stop_mean = 0        # measured since the deficit began (STOPPED)
        self.stop = StopTest(cfg)
        self.strokes = Strokes(cfg)
        self.zero = ZeroOffset(cfg)
        self.start = Startup()
        self.air = BriefAir()

    def reading(self, flow, flags, refill, r, sec):
        """A flow reading (0.1 uL/h, flags) at the programmed rate r: 0, or
        SEEN | STOPPED."""
        if flags & _AIR:
            self.why = A.D_AIR
            self.bair += 1
            self.air.seen(sec)
            return 0
        if (flags & _HIGH or flow >= self._max) and not refill:
            self._full_scale(r, sec)   # a dump, or a broken sensor
            return 0
        if flow < self._min or flow > self._max:
            self.why = A.D_OUT_OF_RANGE
            return 0
        self.ok = sec
        self.why = A.D_SILENT
        if flow != self.last_v:
            self.last_v = flow
            self.stuck_since = sec
        p1 = self.p1
        p2 = self.p2
        m = flow
        if p2 != _UNSET:          # median of the last three valid readings
            if p1 > p2:
                lo = p2
                hi = p1
            else:
                lo = p1
                hi = p2
            if m > hi:
                m = hi
            elif m < lo:
                m = lo
        self.p2 = p1
        self.p1 = flow
        y = m - self.offset
        self.bsum += y
        self.bcnt += 1
        ret = 0
        if r > 0:
            # the stop test (CUSUM), inline: its rare turns in methods
            st = self.stop
            d = (-r if y < -r else y) * _Q2 // r
            c = st.cusum + _Q - d
            if c <= 0:
                if st.peak:
                    st.gap_done(sec)
            else:
                st.run_n += 1     # readings since the statistic left 0
                if c > st.peak:
                    st.peak = c
                    if c >= st.h:
                        if not st.on:
                            # log what was measured since the deficit began,
                            # not the 10-min mean
                            self.stop_mean = st.run_mean(c, r)
                            ret = STOPPED
                        c = st.stopped(c)
                st.cusum = c
            # the missed-stroke test and zero truth between strokes
            sk = self.strokes
            if y > sk.thr or sk.on:
                if sk.step(y, r, sec):
                    self.zero.drop()
            elif sk.n >= 3 and sec - sk.end >= _STROKE_TAIL:
                z = self.zero
                z.sum += m
                z.cnt += 1
        elif sec - self.r0_since >= _MINUTE_S:
            z = self.zero
            z.sum += m            # rate 0 for a minute: the truth is 0
            z.cnt += 1
        if self.starting and self.start.step(y, r, sec):
            self.starting = 0
            ret |= SEEN
        return ret

    def _full_scale(self, r, sec):
        """A reading at or beyond full scale: a dump, or a broken sensor."""
        self.why = A.D_OUT_OF_RANGE
        self.bhi += 1
        n = self._dump.high(sec, self._level.ul, self._level.ref)
        if r > 0 and n >= 3:
            # not a stop: as much as the sensor can say flowed (from the 3rd
            # reading: one or two are a spike, as the median of 3 drops them
            # from the valid readings)
            if self.stop.peak:
                self.stop.gap_done(sec)
            sk = self.strokes
            if sk.on or self._max > sk.thr:
                if sk.step(self._max, r, sec):
                    self.zero.drop()

    def silent(self, since):
        """The engine was not ticked for longer than the sensor may be
        silent: silent since then."""
        self.ok = since
        self.why = A.D_SILENT

    def run_over(self, sec, n):
        """A run of full-scale readings ended: a short one (n readings, 0 for
        a judged one) counts in the means at full scale, the least it
        delivered; the missed-stroke test starts again."""
        if n:
            self.bsum += n * self._max
            self.bcnt += n
        self.strokes.restart(sec)

    def set_rate(self, r, old, sec):
        """The programmed rate changed from old to r (0.1 uL/h)."""
        self.rnow = r
        if r <= 0 and old != 0:
            self.r0_since = sec
        self.stop.set_rate(r, old, sec)
        self.strokes.set_rate(r, old, sec)

    def minute_closed(self):
        """A minute closes: its measured volume (0.01 uL) and mean
        (minute_mean), _UNSET when fewer than half its readings were valid;
        the air counts move on."""
        n = self.mcnt
        if n >= _MINUTE_S // 2:
            v = self.msum // (n * 6)
            self.minute_mean = self.msum * 10 // n
        else:
            v = _UNSET
            self.minute_mean = _UNSET
        self.msum = 0
        self.mcnt = 0
        self.air.minute()
        return v

    def bucket_closed(self, sec):
        """After the engine read the bucket's sums: they go to the minute's,
        the zero offset learnt, the stop test's start-up prior ended on time,
        the sums cleared."""
        self.msum += self.bsum
        self.mcnt += self.bcnt
        z = self.zero
        if z.cnt:
            z.fold(sec)
            self.offset = z.offset
        st = self.stop
        if st.prior_on:           # (a call a bucket less once it ended)
            st.bucket(sec)
        self.bsum = 0
        self.bcnt = 0
        self.bhi = 0
        self.bair = 0
