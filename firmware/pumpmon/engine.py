# The alarm engine: turns sensor readings and a wrapping ms clock into a mask
# of active alarm conditions (see alarms.py). Pure logic: integers only on the
# per-tick path, preallocated arrays, no allocation in steady state.
#
# The Engine keeps the clock (seconds since start, so counters stay small ints
# even on a 32-bit board over months), the 10-s buckets and minutes, the
# per-reading lines, and assembles the condition mask from its detectors,
# one small class each (docs/engine.md has the reasoning and the numbers):
# - detect_stop.py      StopTest: the CUSUM stop test and its learnt gap envelope
# - detect_strokes.py   Strokes: the missed-stroke test; ZeroOffset
# - detect_means.py     FlowMean (10 min), HourMean (60 min: partial, over), Startup
# - detect_sparse.py    SparseFlow, SparseLevel (cannot judge = alarm), BriefAir
# - detect_level.py     Mismatch (level against flow), LevelStuck
# - detect_dump.py      Dump: full-scale flow, a level falling fast
# - reservoir.py        Reservoir: the low_reservoir conditions
# Inline here, per reading, because tick time needs it (a method call a
# reading would cost as much as what it does, on MicroPython): the median of
# 3 on the flow readings; the sums of the bucket and the minute (handed to
# the detectors as they close); the CUSUM's update (its turns are methods);
# which readings go to the stroke test and the zero-truth sums; the tracked
# level (an EMA x16; a reading level_jump_ml away from it is invalid: a glitch
# is ignored, a jump that stays makes the level sensor faulty) which several
# detectors, the runner and the display read; a sensor silent for
# flow_fault_s / level_fault_s, a flow value stuck for flow_stuck_s, and the
# refill timeout.
from array import array

from pumpmon import alarms as A
from pumpmon import reservoir
from pumpmon.clock import ticks_diff
from pumpmon.detect_dump import Dump
from pumpmon.detect_level import LevelStuck, Mismatch
from pumpmon.detect_means import FlowMean, HourMean, Startup
from pumpmon.detect_sparse import AIR_BRIEF_S, BriefAir, SparseFlow, SparseLevel
from pumpmon.detect_stop import SLOT_MIN, StopTest
from pumpmon.detect_strokes import Strokes, ZeroOffset

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

BUCKET_S = const(10)         # flow window granularity
MINUTE_S = const(60)         # mismatch ring granularity
_AIR = const(1)              # flow flags bit 0: air in line (Sensirion SF06)
_HIGH = const(2)             # flow flags bit 1: flow above the sensor's range
# copies, folded on the hot path (tests/host/test_engine_constants.py pins them)
_UNSET = const(-1000000)     # detect_means/detect_level/detect_dump.UNSET
_Q = const(256)              # detect_stop.Q: the CUSUM unit
_Q2 = const(512)             # 2 * _Q
_STROKE_TAIL = const(5)      # detect_strokes.STROKE_TAIL

# condition bits, as ints for the hot path: 1 << alarms.X
# (tests/host/test_engine_constants.py pins them to alarms.py)
_B_NO_FLOW = const(1 << 0)
_B_EMPTY = const(1 << 1)
_B_OVER = const(1 << 2)
_B_FLOW = const(1 << 3)
_B_LEVEL = const(1 << 4)
_B_MISMATCH = const(1 << 5)
# (7-9 are the low_reservoir conditions: reservoir.py)
_B_PARTIAL = const(1 << 10)       # alarms.PARTIAL
_B_PARTIAL_LONG = const(1 << 11)  # alarms.PARTIAL_LONG
_B_REFILL = const(1 << 12)        # alarms.REFILL_TIMEOUT


class Engine:
    def __init__(self, cfg, now_ms, tod_s=None):
        self.cfg = cfg
        self.conditions = 0       # bit mask of active conditions
        self.judged = _B_REFILL   # conditions the engine has judged since start
        self.detail = bytearray(A.N_CONDITIONS)  # why each became active
        self.internal = 0         # set by the shell: 1 raises INTERNAL
        self._last = now_ms
        self._ms = 0
        self.sec = 0              # seconds since start (small int for years)
        self.tod_s = cfg.start_s if tod_s is None else tod_s
        self.rate = cfg.rate_at(self.tod_s)   # programmed at the bucket's start, 0.1 uL/h
        self.rnow = -1            # programmed now (per second), 0.1 uL/h
        self._sched = len(cfg.sched_start) > 1
        self._r0_since = 0        # sec the rate became 0
        self._nb = cfg.flow_window_s // BUCKET_S
        # the bucket (10 s) and the minute, summed per reading
        self._bucket = 0          # index of the current bucket
        self._minute = 0
        self._bsum = 0            # filtered, corrected flow readings
        self._bcnt = 0
        self._bhi = 0             # full-scale readings
        self._bair = 0            # air-flagged readings
        self._lbg = 0             # valid / invalid level readings
        self._lbb = 0
        self._lf_sum = 0          # raw level readings (not in refill mode)
        self._lf_n = 0
        self._cl_sum = 0          # the minute: valid level readings
        self._cl_cnt = 0
        self._cf_sum = 0          # ... flow readings
        self._cf_cnt = 0
        self._cp_sum = 0          # ... programmed rate over its buckets
        # per reading
        self._p1 = _UNSET         # median filter history
        self._p2 = _UNSET
        self.offset = 0           # zero offset (zero.offset, copied as it is learnt)
        self._flow_ok = 0         # sec of the last valid flow reading
        self._flow_why = A.D_SILENT
        self._stuck_v = _UNSET
        self._stuck_since = 0
        self._level_ok = 0
        self._level_why = A.D_SILENT
        self._lacc = 0            # level EMA x16
        self._lref = 0            # 1 once _lacc holds a reference level
        self.level_ul = 0         # tracked level, uL (valid when _lref)
        self._refill = 0
        self._refill_since = 0
        # last judgements, for the log and the display
        self.flow_mean = 0        # measured mean over the flow window, 0.1 uL/h
        self.prog_mean = self.rate  # programmed mean over the same window
        self.excess_ul = 0        # level drop not explained by flow, uL
        # the detectors
        self.stop = StopTest(cfg)
        self.strokes = Strokes(cfg)
        self.zero = ZeroOffset(cfg)
        self.start = Startup()
        self.mean10 = FlowMean(cfg, self._nb, self._nb * BUCKET_S)
        self.mean60 = HourMean(cfg)
        self.sparse_flow = SparseFlow()
        self.sparse_level = SparseLevel()
        self.air = BriefAir()
        self.mismatch = Mismatch(cfg)
        self.stuck = LevelStuck(cfg)
        self.dump = Dump(cfg)
        self.reservoir = reservoir.Reservoir(cfg)  # low_reservoir conditions
        self._set_rate(cfg.rate_at(self.tod_s))

    # ---- per tick ---------------------------------------------------------
    def tick(self, now_ms, level_ul, flow, flags, refill):
        """One reading of each sensor (None where there was none)."""
        dt = ticks_diff(now_ms, self._last)
        self._last = now_ms
        if dt > 0:
            ms = self._ms + dt
            if ms >= 1000:
                s = ms // 1000
                self._ms = ms - s * 1000
                sec = self.sec + s
                tod = self.tod_s + s
                if self._sched or tod >= 86400 or sec // BUCKET_S != self._bucket:
                    self._advance(s)
                else:             # the common second: no bucket closes
                    self.sec = sec
                    self.tod_s = tod
            else:
                self._ms = ms
        sec = self.sec
        cfg = self.cfg
        cond = self.conditions
        if dt >= 1000 * cfg.flow_fault_s:
            self._silence(dt, sec)
            return
        if refill != self._refill:
            self._refill_changed(refill, sec)

        # -- flow sensor
        r = self.rnow
        if flow is not None:
            if flags & _AIR:
                self._flow_why = A.D_AIR
                self._bair += 1
                self.air.seen(sec)
            elif (flags & _HIGH or flow >= cfg.flow_max) and not refill:
                self._full_scale(r, sec)   # a dump, or a broken sensor
            elif flow < cfg.flow_min or flow > cfg.flow_max:
                self._flow_why = A.D_OUT_OF_RANGE
            else:
                self._flow_ok = sec
                self._flow_why = A.D_SILENT
                if flow != self._stuck_v:
                    self._stuck_v = flow
                    self._stuck_since = sec
                p1 = self._p1
                p2 = self._p2
                m = flow
                if p2 != _UNSET:  # median of the last three valid readings
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
                self._p2 = p1
                self._p1 = flow
                y = m - self.offset
                self._bsum += y
                self._bcnt += 1
                self._cf_sum += y
                self._cf_cnt += 1
                if r > 0:
                    # the stop test (CUSUM), inline: its rare turns in methods
                    st = self.stop
                    d = (-r if y < -r else y) * _Q2 // r
                    c = st.cusum + _Q - d
                    if c <= 0:
                        if st.peak:
                            st.gap_done(sec)
                    else:
                        st.run_n += 1  # readings since the statistic left 0
                        if c > st.peak:
                            st.peak = c
                            if c >= st.h:
                                if not st.on:
                                    # log what was measured since the deficit
                                    # began, not the 10-min mean
                                    self.flow_mean = st.run_mean(c, r)
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
                elif sec - self._r0_since >= MINUTE_S:
                    z = self.zero
                    z.sum += m      # rate 0 for a minute: the truth is 0
                    z.cnt += 1
                if not self.judged & _B_NO_FLOW:
                    if self.start.step(y, r, sec):
                        self.judged |= _B_NO_FLOW
        dp = self.dump
        hs = dp.since
        sk = self.strokes
        if hs != _UNSET:
            hs = dp.run(sec, refill)
            if hs == _UNSET:
                self._run_over(sec)
        elif sec > sk.due and not sk.on and r > 0:
            sk.missed = 1         # a stroke did not come (or did not deliver)
        if self.stop.on or sk.missed or self.mean10.low:
            if not cond & _B_NO_FLOW:
                cond |= _B_NO_FLOW
                self.detail[A.NO_FLOW] = 0 if self.mean10.low else A.D_SEQUENTIAL
                self.judged |= _B_NO_FLOW
        else:
            cond &= ~_B_NO_FLOW
        if hs != _UNSET:
            if dp.verdict == 2 and not cond & _B_FLOW:
                cond |= _B_FLOW   # full scale, and the level says no dump
                self.detail[A.FLOW_SENSOR] = A.D_OUT_OF_RANGE
            # (else a run of full-scale readings is being judged)
        elif sec - self._flow_ok >= cfg.flow_fault_s and not (
                self._flow_why == A.D_AIR and self.air.passing(sec)):  # (a bubble)
            if not cond & _B_FLOW:
                cond |= _B_FLOW
                self.detail[A.FLOW_SENSOR] = self._flow_why
        elif self.rate > 0 and sec - self._stuck_since >= cfg.flow_stuck_s:
            if not cond & _B_FLOW:
                cond |= _B_FLOW
                self.detail[A.FLOW_SENSOR] = A.D_STUCK
        elif self.sparse_flow.on:
            if not cond & _B_FLOW:
                cond |= _B_FLOW
                self.detail[A.FLOW_SENSOR] = A.D_SPARSE
        else:
            cond &= ~_B_FLOW

        # -- level sensor
        if level_ul is not None:
            if level_ul < cfg.level_min_ul or level_ul > cfg.level_max_ul:
                self._level_why = A.D_OUT_OF_RANGE
                self._lbb += 1
            else:
                acc = self._lacc
                ok = 1
                if not refill:
                    self._lf_sum += level_ul
                    self._lf_n += 1
                    if hs != _UNSET and dp.verdict == 0:
                        dp.steady(level_ul, sec)
                if refill or not self._lref or dp.dump or (
                        dp.lfall and cond & _B_OVER):
                    # (in a dump, or an over-delivery the level confirms, the
                    # level falls as fast as it is read: not a jump)
                    acc = level_ul << 4
                else:
                    d = level_ul - (acc >> 4)
                    if d >= cfg.level_jump_ul or d <= -cfg.level_jump_ul:
                        ok = 0
                        self._level_why = A.D_JUMP
                        self._lbb += 1
                    else:
                        acc += d
                if ok:
                    self._lacc = acc
                    self._lref = 1
                    self.level_ul = acc >> 4
                    self._level_ok = sec
                    self._level_why = A.D_SILENT
                    self._cl_sum += level_ul
                    self._cl_cnt += 1
                    self._lbg += 1
        if sec - self._level_ok >= cfg.level_fault_s:
            if not cond & _B_LEVEL:
                cond |= _B_LEVEL
                self.detail[A.LEVEL_SENSOR] = self._level_why
        elif self.sparse_level.why or self.stuck.on:
            if not cond & _B_LEVEL:
                cond |= _B_LEVEL
                self.detail[A.LEVEL_SENSOR] = self.sparse_level.why or A.D_STUCK
        else:
            cond &= ~_B_LEVEL
        # -- a dump: over-delivery when the two sensors agree, or the level
        # falls fast while the flow sensor cannot say otherwise
        if hs != _UNSET or dp.lfall or dp.dump:
            cond = self._dump_cond(cond, hs, sec, refill)
        if refill:
            cond &= ~_B_MISMATCH
            if sec - self._refill_since >= cfg.refill_timeout_s:
                cond |= _B_REFILL
        elif cond & _B_REFILL:
            cond &= ~_B_REFILL
        self.conditions = cond

    # ---- the rare turns of a tick -------------------------------------------
    def _silence(self, dt, sec):
        """Not ticked for longer than a sensor may be silent (a hang, or rows
        missing from a trace): that silence was a fault even if this tick
        brings readings again."""
        cfg = self.cfg
        cond = self.conditions
        self._flow_ok = sec - cfg.flow_fault_s
        self._flow_why = A.D_SILENT
        if not cond & _B_FLOW:
            cond |= _B_FLOW
            self.detail[A.FLOW_SENSOR] = A.D_SILENT
        if dt >= 1000 * cfg.level_fault_s and not cond & _B_LEVEL:
            cond |= _B_LEVEL
            self.detail[A.LEVEL_SENSOR] = A.D_SILENT
        self.conditions = cond

    def _refill_changed(self, refill, sec):
        self._refill = refill
        if refill:
            self._refill_since = sec
        else:                     # refill over: new baseline for level checks
            self._lref = 0
            self.mismatch.fill = 0
            self._cl_sum = 0
            self._cl_cnt = 0
            self.stuck.n = 0

    def _full_scale(self, r, sec):
        """A flow reading at or beyond full scale: a dump, or a broken sensor."""
        self._flow_why = A.D_OUT_OF_RANGE
        self._bhi += 1
        n = self.dump.high(sec, self.level_ul, self._lref)
        if r > 0 and n >= 3:
            # not a stop: as much as the sensor can say flowed (from the 3rd
            # reading: one or two are a spike, as the median of 3 drops them
            # from the valid readings)
            if self.stop.peak:
                self.stop.gap_done(sec)
            sk = self.strokes
            if sk.on or self.cfg.flow_max > sk.thr:
                if sk.step(self.cfg.flow_max, r, sec):
                    self.zero.drop()

    def _run_over(self, sec):
        """A run of full-scale readings ended: a short one counts in the
        means at full scale; the missed-stroke test starts again."""
        n = self.dump.counted
        if n:
            v = n * self.cfg.flow_max
            self._bsum += v
            self._bcnt += n
            self._cf_sum += v
            self._cf_cnt += n
        self.strokes.restart(sec)

    def _dump_cond(self, cond, hs, sec, refill):
        """Over-delivery from a dump: the two sensors agree, or the level
        falls fast while the flow sensor cannot say otherwise."""
        dp = self.dump
        dump = dp.decide(hs != _UNSET, sec, refill, cond & _B_FLOW
                         or sec - self._flow_ok >= self.cfg.flow_fault_s)
        if dump != dp.dump:
            dp.dump = dump
            if dump and not cond & _B_OVER:
                cond |= _B_OVER
                self.detail[A.OVER_DELIVERY] = dump
            elif not dump and not (self.mean10.over or self.mean60.over):
                cond &= ~_B_OVER
        return cond

    # ---- the rate (on a change, not per tick) ---------------------------------
    def _set_rate(self, r):
        old = self.rnow
        self.rnow = r
        if r <= 0 and old != 0:
            self._r0_since = self.sec
        self.stop.set_rate(r, old, self.sec)
        self.strokes.set_rate(r, old, self.sec)

    def _stroke_max(self):
        """The longest interval between strokes, for the means' allowance of
        a stroke ahead across a schedule step (0: none to allow)."""
        return self.strokes.stroke_max if self._sched else 0

    # ---- time keeping -----------------------------------------------------
    def _advance(self, s):
        """Move the clock on by s seconds, closing the buckets it passes."""
        sec = self.sec + s
        self.sec = sec
        tod = self.tod_s + s
        if tod >= 86400:
            tod %= 86400
        self.tod_s = tod
        if self._sched:
            r = self.cfg.rate_at(tod)
            if r != self.rnow:
                self._set_rate(r)
        target = sec // BUCKET_S
        n = target - self._bucket
        if n > self._nb:
            # a long gap: the whole flow window goes stale, and the level
            # history can no longer be lined up with the flow: start again
            self._bucket += n - self._nb
            n = self._nb
            self.mismatch.fill = 0
        while n > 0:
            self._close_bucket()
            n -= 1

    def _close_bucket(self):
        sec = self.sec
        rate = self.rate          # the rate in force at the bucket's start
        self.mean10.close(self._bsum, self._bcnt, rate)
        self._cp_sum += rate
        n = self._bcnt + self._bhi   # a full-scale reading is judged (a dump)
        if self.air.t <= AIR_BRIEF_S:
            n += self._bair          # so is a bubble passing
        self.sparse_flow.close(n, self.mean10.fill)
        self.sparse_level.close(self._lbg, self._lbb, self._level_why)
        self.dump.level_fall(self._lf_sum, self._lf_n, self._refill, sec)
        z = self.zero
        if z.cnt:
            z.fold(sec)
            self.offset = z.offset
        self.stop.bucket(sec)
        self._bsum = 0
        self._bcnt = 0
        self._bhi = 0
        self._bair = 0
        self._lbg = 0
        self._lbb = 0
        self._lf_sum = 0
        self._lf_n = 0
        self._bucket += 1
        cfg = self.cfg
        if sec >= cfg.flow_fault_s and sec >= cfg.flow_stuck_s:
            self.judged |= _B_FLOW
        if sec >= cfg.level_fault_s:
            self.judged |= _B_LEVEL
        self.rate = cfg.rate_at((self.tod_s - (sec - self._bucket * BUCKET_S)) % 86400)
        fm = self.mean10
        k = fm.judge(self.rate, self._stroke_max())
        if k:
            if k == 2:
                self.judged |= _B_NO_FLOW | _B_OVER
            self.flow_mean = fm.meas
            self.prog_mean = fm.prog
        self._judge_level()
        if self._bucket % (MINUTE_S // BUCKET_S) == 0:
            self._close_minute()
            self.air.minute()
        self._slow_conditions()

    def _close_minute(self):
        if self._cf_cnt >= MINUTE_S // 2:
            v = self._cf_sum // (self._cf_cnt * 6)       # volume, 0.01 uL
            mean = self._cf_sum * 10 // self._cf_cnt     # 0.01 uL/h
        else:
            v = _UNSET
            mean = _UNSET
        mm = self.mismatch
        mm.close(self._cl_sum, self._cl_cnt, v)
        self._cl_sum = 0
        self._cl_cnt = 0
        self._cf_sum = 0
        self._cf_cnt = 0
        cond = self.conditions
        if self.dump.dump or self.dump.since != _UNSET:
            mm.fill = 0           # a dump: level and flow start again after it
        elif not self._refill and not cond & (_B_LEVEL | _B_FLOW):
            on = mm.judge(1 if cond & _B_MISMATCH else 0)
            if on >= 0:
                self.judged |= _B_MISMATCH
                if on:
                    if not cond & _B_MISMATCH:
                        cond |= _B_MISMATCH
                        self.detail[A.MISMATCH] = (A.D_FALLING if mm.excess > 0
                                                   else A.D_RISING)
                else:
                    cond &= ~_B_MISMATCH
                self.conditions = cond
                self.excess_ul = mm.excess
        hm = self.mean60
        hm.close(mean, self._cp_sum // (MINUTE_S // BUCKET_S))
        self._cp_sum = 0
        if hm.judge(self.sec, self.zero.when, self._stroke_max()):
            self.judged |= _B_PARTIAL | _B_PARTIAL_LONG
        self.stuck.judge(v, self.level_ul, not self._refill and self._lref)
        self._minute += 1
        if self._minute % SLOT_MIN == 0:   # a new envelope slot
            self.stop.new_slot(self.sec)

    # ---- the condition mask (every bucket, not every tick) -----------------
    def _judge_level(self):
        cfg = self.cfg
        if not self._lref:
            return
        lvl = self.level_ul
        if self.conditions & _B_LEVEL:
            return  # hold: the level reading is not trusted
        self.judged |= _B_EMPTY | reservoir.MASK
        cond = self.conditions
        if lvl <= cfg.empty_ul and not self._refill:
            cond |= _B_EMPTY
        elif lvl > cfg.empty_ul + 200:
            cond &= ~_B_EMPTY
        # volume, days to empty (schedule-aware), refill today: reservoir.py
        cond = self.reservoir.judge(lvl, self.tod_s, self._refill, cond)
        self.conditions = cond

    def _slow_conditions(self):
        """Conditions of the bucket and minute judgements (not per tick)."""
        cond = self.conditions
        over10 = self.mean10.over
        hm = self.mean60
        dump = self.dump.dump
        if over10 or hm.over or dump:
            if not cond & _B_OVER:
                cond |= _B_OVER
                self.detail[A.OVER_DELIVERY] = (0 if over10 else
                                                A.D_HOUR if hm.over else dump)
        else:
            cond &= ~_B_OVER
        if hm.under:
            cond |= _B_PARTIAL
            self.detail[A.PARTIAL] = A.D_HOUR
        else:
            cond &= ~_B_PARTIAL
        if hm.long:
            cond |= _B_PARTIAL_LONG
            self.detail[A.PARTIAL_LONG] = A.D_HOUR
        else:
            cond &= ~_B_PARTIAL_LONG
        self.conditions = cond
