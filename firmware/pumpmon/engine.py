# The alarm engine: turns sensor readings and a wrapping ms clock into a mask
# of active alarm conditions (see alarms.py). Pure logic: integers only on the
# per-tick path, preallocated arrays, no allocation in steady state.
#
# The Engine keeps the clock (seconds since start, so counters stay small ints
# even on a 32-bit board over months), the 10-s buckets and the minutes, and
# assembles the condition mask from its detectors, one small class each
# (docs/engine.md has the reasoning and the numbers):
# - detect_flow.py      FlowReadings: each flow reading sorted, filtered, summed
#                       and fed to the per-reading detectors:
# - detect_stop.py      StopTest: the CUSUM stop test and its learnt gap envelope
# - detect_strokes.py   Strokes: the missed-stroke test; ZeroOffset
# - detect_means.py     FlowMean (10 min), HourMean (60 min: partial, over), Startup
# - detect_sparse.py    SparseFlow, SparseLevel (cannot judge = alarm), BriefAir
# - detect_level.py     LevelTrack (EMA, jump), Mismatch (level against flow), LevelStuck
# - detect_dump.py      Dump: full-scale flow, a level falling fast
# - reservoir.py        Reservoir: the low_reservoir conditions
# - closing.py          close_bucket, close_minute: the bucket and minute turns
# Inline in tick (the per-tick lines, where a call would cost as much as they
# do): a sensor silent for flow_fault_s / level_fault_s, a flow value stuck
# for flow_stuck_s, the refill timeout and the per-tick conditions, and a
# plain valid flow reading (flags 0, in range: nearly every tick), a copy of
# FlowReadings.reading's valid path: on MicroPython a call with a frame this
# size takes its frame from the heap, which cost the split ~2k instructions
# a tick (docs/engine.md); every other flow reading, and the level's,
# go through FlowReadings.reading / LevelTrack.reading.
from pumpmon import alarms as A
from pumpmon import reservoir
from pumpmon.clock import ticks_diff
from pumpmon.closing import close_bucket
from pumpmon.detect_dump import Dump
from pumpmon.detect_flow import SEEN, STOPPED, FlowReadings
from pumpmon.detect_level import LevelStuck, LevelTrack, Mismatch
from pumpmon.detect_means import FlowMean, HourMean
from pumpmon.detect_sparse import SparseFlow, SparseLevel

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

BUCKET_S = const(10)         # flow window granularity
MINUTE_S = const(60)         # mismatch ring granularity
# a copy, folded on the hot path (tests/host/test_engine_constants.py pins it)
_UNSET = const(-1000000)     # detect_means/detect_level/detect_dump.UNSET
_Q = const(256)              # detect_stop.Q: the CUSUM unit
_Q2 = const(512)             # 2 * _Q
_STROKE_TAIL = const(5)      # detect_strokes.STROKE_TAIL
_D_SILENT = const(1)         # alarms.D_SILENT
# ticks_diff(a, b) is a - b when 0 <= a - b < half the ticks period (2**29 ms
# on a board, more on the unix ports): the common tick skips the call
_DT_PLAIN = const(1 << 28)

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
        self._last = now_ms
        self._ms = 0
        self.sec = 0              # seconds since start (small int for years)
        self.tod_s = cfg.start_s if tod_s is None else tod_s
        self.rate = cfg.rate_at(self.tod_s)   # programmed at the bucket's start, 0.1 uL/h
        self._sched = len(cfg.sched_start) > 1
        self._bucket = 0          # index of the current bucket
        self._refill = 0
        self._refill_since = 0
        self.flow_mean = 0        # (for the log, the display) measured mean, 0.1 uL/h
        # copies of the verdicts judged per bucket, for the tick (closing.py):
        self.low = 0              # mean10.low
        self.fsparse = 0          # D_SPARSE if sparse_flow.on
        self.lslow = 0            # sparse_level.why, or D_STUCK if stuck.on
        # the detectors
        self.level = LevelTrack(cfg)
        self.dump = Dump(cfg)
        self.flow = FlowReadings(cfg, self.dump, self.level)
        self.mean10 = FlowMean(cfg, cfg.flow_window_s // BUCKET_S)
        self.mean10.prog = self.rate  # (the programmed mean, for the log: mean10.prog)
        self.mean60 = HourMean(cfg)
        self.sparse_flow = SparseFlow()
        self.sparse_level = SparseLevel()
        self.mismatch = Mismatch(cfg)
        self.stuck = LevelStuck(cfg)
        self.reservoir = reservoir.Reservoir(cfg)  # low_reservoir conditions
        self._set_rate(self.rate)
        # the next second tick must call _advance at: a bucket's start,
        # midnight (tod_s wraps), or every second with a schedule (_advance
        # moves it on)
        self._due = 1 if self._sched else min(BUCKET_S, 86400 - self.tod_s)

    def tick(self, now_ms, level_ul, flow, flags, refill):
        """One reading of each sensor (None where there was none)."""
        dt = now_ms - self._last
        if dt < 0 or dt >= _DT_PLAIN:   # (a wrap, or a long gap: the port's own)
            dt = ticks_diff(now_ms, self._last)
        self._last = now_ms
        sec = self.sec
        if dt > 0:
            ms = self._ms + dt
            if ms >= 1000:
                s = ms // 1000
                self._ms = ms - s * 1000
                sec += s
                if sec >= self._due:
                    self._advance(s)    # a bucket closes, midnight, a schedule
                else:             # the common second
                    self.sec = sec
                    self.tod_s += s
            else:
                self._ms = ms
        cfg = self.cfg
        if dt >= 1000 * cfg.flow_fault_s:
            self._silence(dt, sec)
            return
        cond = self.conditions
        if refill != self._refill:
            self._refill_changed(refill, sec)
        # -- flow sensor
        fr = self.flow
        r = fr.rnow
        st = fr.stop
        sk = fr.strokes
        if flow is None:
            pass
        elif flags or flow < cfg.flow_min or flow >= cfg.flow_max:
            # air, full scale, out of range (or a valid one in refill mode)
            k = fr.reading(flow, flags, refill, r, sec)
            if k:                 # (rare: start-up over, the stop test fired)
                if k & SEEN:
                    self.judged |= _B_NO_FLOW
                if k & STOPPED:
                    self.flow_mean = fr.stop_mean
        else:
            # a valid reading: FlowReadings.reading's valid path, inline (a
            # heap frame a reading less: detect_flow.py's header; the two
            # agree: test_engine_inline_reading_is_flow_reading)
            fr.ok = sec
            fr.why = _D_SILENT
            if flow != fr.last_v:
                fr.last_v = flow
                fr.stuck_since = sec
            p1 = fr.p1
            p2 = fr.p2
            m = flow
            if p2 != _UNSET:      # median of the last three valid readings
                if p1 > p2:
                    if m > p1:
                        m = p1
                    elif m < p2:
                        m = p2
                elif m > p2:
                    m = p2
                elif m < p1:
                    m = p1
            fr.p2 = p1
            fr.p1 = flow
            y = m - fr.offset
            fr.bsum += y
            fr.bcnt += 1
            if r > 0:
                # the stop test (CUSUM): its turns in methods
                d = (-r if y < -r else y) * _Q2 // r
                c = st.cusum + _Q - d
                if c <= 0:
                    if st.peak:
                        st.gap_done(sec)
                else:
                    st.run_n += 1
                    if c > st.peak:
                        st.peak = c
                        if c >= st.h:
                            if not st.on:
                                fr.stop_mean = st.run_mean(c, r)
                                self.flow_mean = fr.stop_mean
                            c = st.stopped(c)
                    st.cusum = c
                # the missed-stroke test, zero truth between strokes
                if y > sk.thr or sk.on:
                    if sk.step(y, r, sec):
                        fr.zero.drop()
                elif sk.n >= 3 and sec - sk.end >= _STROKE_TAIL:
                    z = fr.zero
                    z.sum += m
                    z.cnt += 1
            elif sec - fr.r0_since >= MINUTE_S:
                z = fr.zero       # rate 0 for a minute: the truth is 0
                z.sum += m
                z.cnt += 1
            if fr.starting and fr.start.step(y, r, sec):
                fr.starting = 0
                self.judged |= _B_NO_FLOW
        dp = self.dump
        hs = dp.since
        if hs != _UNSET:
            hs = dp.run(sec, refill)
            if hs == _UNSET:      # the run ended
                fr.run_over(sec, dp.counted)
        elif sec > sk.due and not sk.on and r > 0:
            sk.missed = 1         # a stroke did not come (or did not deliver)
        if st.on or sk.missed or self.low:
            if not cond & _B_NO_FLOW:
                cond |= _B_NO_FLOW
                self.detail[A.NO_FLOW] = 0 if self.low else A.D_SEQUENTIAL
                self.judged |= _B_NO_FLOW
                fr.starting = 0
        else:
            cond &= ~_B_NO_FLOW
        # the flow sensor's fault (a detail), none (0) or not judged now (-1)
        if hs != _UNSET:          # full scale, and the level says no dump (2),
            w = A.D_OUT_OF_RANGE if dp.verdict == 2 else -1   # or being judged
        elif sec - fr.ok >= cfg.flow_fault_s and not (
                fr.why == A.D_AIR and fr.air.passing(sec)):  # (a bubble passing)
            w = fr.why
        elif self.rate > 0 and sec - fr.stuck_since >= cfg.flow_stuck_s:
            w = A.D_STUCK
        else:
            w = self.fsparse      # (the verdicts judged per bucket: closing.py)
        if not w:
            cond &= ~_B_FLOW
        elif w > 0 and not cond & _B_FLOW:
            cond |= _B_FLOW
            self.detail[A.FLOW_SENSOR] = w

        # -- level sensor
        lt = self.level
        if level_ul is None:
            pass
        elif (refill or not lt.ref or dp.dump or dp.lfall
              or level_ul < cfg.level_min_ul or level_ul > cfg.level_max_ul):
            if lt.reading(level_ul, sec, refill, refill or dp.dump or (
                    dp.lfall and cond & _B_OVER)) and hs != _UNSET and dp.verdict == 0:
                dp.steady(level_ul, sec)
        else:
            # in range, tracked, no dump: LevelTrack.reading inline (a heap
            # frame less; test_engine_inline_level_is_level_reading)
            lt.raw_sum += level_ul
            lt.raw_n += 1
            acc = lt.acc
            d = level_ul - (acc >> 4)
            if d >= cfg.level_jump_ul or d <= -cfg.level_jump_ul:
                lt.why = A.D_JUMP
                lt.bad += 1
            else:
                acc += d
                lt.acc = acc
                lt.ul = acc >> 4
                lt.ok = sec
                lt.why = _D_SILENT
                lt.min_sum += level_ul
                lt.min_n += 1
                lt.good += 1
            if hs != _UNSET and dp.verdict == 0:
                dp.steady(level_ul, sec)
        if sec - lt.ok >= cfg.level_fault_s:
            w = lt.why
        else:
            w = self.lslow
        if not w:
            cond &= ~_B_LEVEL
        elif not cond & _B_LEVEL:
            cond |= _B_LEVEL
            self.detail[A.LEVEL_SENSOR] = w
        # -- a dump: over-delivery when the two sensors agree, or the level
        # falls fast while the flow sensor cannot say otherwise
        if hs != _UNSET or dp.lfall or dp.dump:
            w = dp.decide(hs != _UNSET, sec, refill,
                          cond & _B_FLOW or sec - fr.ok >= cfg.flow_fault_s)
            if w != dp.dump:
                dp.dump = w
                if w and not cond & _B_OVER:
                    cond |= _B_OVER
                    self.detail[A.OVER_DELIVERY] = w
                elif not w and not (self.mean10.over or self.mean60.over):
                    cond &= ~_B_OVER
        if refill:
            cond &= ~_B_MISMATCH
            if sec - self._refill_since >= cfg.refill_timeout_s:
                cond |= _B_REFILL
        elif cond & _B_REFILL:
            cond &= ~_B_REFILL
        self.conditions = cond

    # ---- the rare turns of a tick -------------------------------------------
    def _silence(self, dt, sec):
        """Not ticked for longer than a sensor may be silent (a hang, rows
        missing from a trace): a fault even if this tick brings readings."""
        cfg = self.cfg
        cond = self.conditions
        self.flow.silent(sec - cfg.flow_fault_s)
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
            self.level.restart()
            self.mismatch.fill = 0
            self.stuck.n = 0

    def _set_rate(self, r):       # on a change of the programmed rate
        fr = self.flow
        fr.set_rate(r, fr.rnow, self.sec)

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
            if r != self.flow.rnow:
                self._set_rate(r)
        n = sec // BUCKET_S - self._bucket
        nb = self.mean10.nb       # the flow window, in buckets
        if n > nb:
            # a long gap: the whole flow window goes stale, and the level
            # history can no longer be lined up with the flow: start again
            self._bucket += n - nb
            n = nb
            self.mismatch.fill = 0
        while n > 0:
            close_bucket(self)
            n -= 1
        # the next due second (inline: a call would be a heap frame a bucket)
        due = sec + (1 if self._sched else 86400 - tod)
        n = (self._bucket + 1) * BUCKET_S
        self._due = n if n < due else due
