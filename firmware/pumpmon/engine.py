# The alarm engine: turns sensor readings and a wrapping ms clock into a mask
# of active alarm conditions (see alarms.py). Pure logic: integers only on the
# per-tick path, preallocated arrays, no allocation in steady state.
#
# How it decides (docs/engine.md has the reasoning and the numbers):
# - flow readings pass a median-of-3 filter (removes single-reading spikes but
#   keeps a pump stroke, which lasts >= 10 readings) and are summed into 10 s
#   buckets; the mean over flow_window_s (10 min) is compared with what was
#   programmed over the same buckets, so schedule steps and pump strokes
#   (every <= 5 min, so >= 2 per window) average out;
# - a sensor is faulty when it gave no valid reading for flow_fault_s /
#   level_fault_s: one bad reading is ignored, a persistent one is not;
# - level readings more than level_jump_ml from the tracked level are invalid
#   (a glitch is ignored; a jump that stays makes the level sensor faulty);
# - the level drop over mismatch_window_min is compared with the volume the
#   flow sensor measured over the same time (leak or drift);
# - all times kept as seconds since start, so counters stay small ints even
#   on a 32-bit board over months.
# Second generation (issue 11): what cannot be judged is an alarm, and what
# can be judged is judged as fast as the noise allows:
# - too few valid readings in the last minute (flow) or more bad than good in
#   the last two (level): the sensor's malfunction, detail "sparse";
# - a one-sided CUSUM on every reading finds a stop in seconds; its threshold
#   learns the longest normal gap (pulsatile pumps) so a gap between strokes
#   is not a stop; a missed-stroke test finds a stroke that does not come;
# - 60-minute means judge partial under-delivery and moderate over-delivery;
# - the zero offset is learnt where the truth is zero (between strokes, at
#   rate 0) and subtracted;
# - a level that does not fall while the flow says it should is "stuck";
#   refill mode left on too long is an alarm.
from array import array

from pumpmon import alarms as A
from pumpmon import reservoir
from pumpmon.clock import ticks_diff

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

BUCKET_S = const(10)         # flow window granularity
MINUTE_S = const(60)         # mismatch ring granularity
_ENDS = const(5)             # minutes averaged at each end of the mismatch window
_AIR = const(1)              # flow flags bit 0: air in line (Sensirion SF06)
_HIGH = const(2)             # flow flags bit 1: flow above the sensor's range
_UNSET = const(-1000000)

# condition bits, as ints for the hot path
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

# the sequential stop test (docs/engine.md, "The stop test")
_Q = const(256)              # CUSUM unit: 1 s of full expected deficit = _Q
_Q2 = const(512)             # 2 * _Q
_SIG0 = const(10)            # flow noise at zero flow, 0.1 uL/h (1.0 uL/h)
_SIG_PCT = const(3)          # plus 3 % of the flow
_H_C = const(150)            # noise term: _H_C sigma^2 / rate^2 seconds
_H_MIN = const(5)            # ... at least 5 s
_H_SQ = const(6)             # gap noise: 6 sigma of the deficit over a gap
_NE = const(6)               # envelope slots
_SLOT_MIN = const(5)         # minutes per envelope slot (6 x 5 = 30 min)
_NSI = const(4)              # stroke intervals remembered
_STROKE_TAIL = const(5)      # s after a stroke before readings count as zero truth
_SPARSE_B = const(6)         # flow: buckets (1 min) judged for sparse readings
_SPARSE_MIN = const(45)      # valid readings needed in them (75 %)
_LSPARSE_B = const(12)       # level: buckets (2 min)
_JUDGE_MIN_S = const(30)     # start-up: least time before flow counts as seen
_CAP = const(100000000)      # cap on accumulated sums (small ints)
_NEVER = const(1 << 29)
_ENV_CAP = const(921600)     # a learnt gap is at most an hour (3600 s x _Q)
_STRETCH = const(1024)       # ... and stretched at most 16x (x 64)
_W_CUS = const(1)            # why stopped: the CUSUM
_W_MISSED = const(2)         # a missed stroke
_W_MEAN = const(4)           # the 10-min mean
_NST = const(5)              # stuck level: 4 quarter-windows, 5 ends
# a dump (issue 22; docs/engine.md, "A dump is an overdose")
_DUMP_S = const(60)          # evidence sustained this long decides
_HI_GAP = const(5)           # s without a full-scale reading end a run of them
_LF_N = const(8)             # level means of 10-s buckets kept (70 s)
_LF_NOISE = const(200)       # uL: the level noise over 60 s (5 sigma of two means)
_STEADY_UL = const(250)      # uL a full-scale flow must have moved before a
#                              steady level proves the flow sensor wrong
# a brief air flag (issue 22): air on at most this many readings in 10 min is
# a bubble passing, not a sensor fault
_AIR_BRIEF_S = const(25)
_AIR_MIN = const(10)         # minutes of air counts kept


def _zeros(n):
    return array("i", [0] * n)


def _isqrt(n):
    """Integer square root (no float, no allocation for small n)."""
    x = n
    y = (x + 1) >> 1
    while y < x:
        x = y
        y = (x + n // x) >> 1
    return x


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

        nb = cfg.flow_window_s // BUCKET_S
        self._nb = nb
        self._fsum = _zeros(nb)   # sum of filtered flow readings per bucket
        self._fcnt = _zeros(nb)   # readings per bucket
        self._fprog = _zeros(nb)  # programmed rate per bucket
        self._fi = 0              # ring position of the oldest bucket
        self._fsum_t = 0
        self._fcnt_t = 0
        self._fprog_t = 0
        self._ffill = 0           # buckets completed since start
        self._bsum = 0            # current bucket
        self._bcnt = 0
        self._bucket = 0          # index of the current bucket

        nm = cfg.mismatch_window_min + _ENDS
        self._nm = nm
        self._mlsum = _zeros(nm)  # level sum per minute (valid readings)
        self._mlcnt = _zeros(nm)
        self._mvol = _zeros(nm)   # measured volume per minute, 0.01 uL (_UNSET: unknown)
        self._mi = 0
        self._mfill = 0
        self._cl_sum = 0          # current minute
        self._cl_cnt = 0
        self._cf_sum = 0
        self._cf_cnt = 0
        self._cp_sum = 0          # programmed rate summed over the minute's buckets
        self._minute = 0

        self._p1 = _UNSET         # median filter history
        self._p2 = _UNSET
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
        self.reservoir = reservoir.Reservoir(cfg)  # low_reservoir conditions
        self._refill_since = 0
        # last judgements, for the log and the display
        self.flow_mean = 0        # measured mean over the flow window, 0.1 uL/h
        self.prog_mean = self.rate  # programmed mean over the same window
        self.excess_ul = 0        # level drop not explained by flow, uL
        self._over10 = 0          # 10-min mean above the over-delivery limit

        # -- cannot judge = alarm: valid readings per bucket, last minute(s)
        self._sv = _zeros(_SPARSE_B)
        self._sv_t = 0
        self._si = 0
        self._fsparse = 0
        self._lgood = _zeros(_LSPARSE_B)
        self._lbad = _zeros(_LSPARSE_B)
        self._li = 0
        self._lg_t = 0
        self._lb_t = 0
        self._lbg = 0             # current bucket: valid / invalid level readings
        self._lbb = 0
        self._lsparse = 0

        # -- the sequential stop test (CUSUM) and its learnt envelope
        self.rnow = -1            # programmed now (per second), 0.1 uL/h
        self._sched = len(cfg.sched_start) > 1
        self._r0_since = 0        # sec the rate became 0
        self.cusum = 0            # deficit statistic, _Q per second of deficit
        self._peak = 0            # its peak since it last returned to 0
        self._env = _zeros(_NE)   # largest completed peak per 5-min slot, as learnt
        self._env_r = _zeros(_NE)  # ... and the programmed rate it was learnt at
        self._ei = 0
        self._emax = 0            # the largest slot, at the programmed rate now
        self._emk = 0             # ... which slot
        self._prior_until = 2 * cfg.stroke_max_s  # until then: a gap may be stroke_max_s
        self._prior_on = 1
        self.h = 0                # alarm threshold
        self._hn = 0
        self._sq = 0
        self._why = 0             # why stopped: _W_CUS | _W_MISSED | _W_MEAN
        self._run_n = 0           # readings since the statistic left 0
        # -- the missed-stroke test
        self._thr = 0             # a reading above this is a stroke
        self._thr_clear = 0
        self._sk_on = 0
        self._sk_start = 0
        self._sk_end = 0
        self._sk_sum = 0
        self._sk_peak = 0
        self._sk_regular = 0
        self._sk_good = 0         # start of the last stroke that delivered
        self._sk_n = 0            # good strokes seen (capped)
        self._ski = _zeros(_NSI)  # intervals between good strokes, s
        self._sk_i = 0
        self.stroke_max = 0       # longest of them
        self._sk_due = _NEVER     # sec after which a missing stroke is a stop
        # -- zero offset, learnt where the truth is zero
        self._z_sum = 0
        self._z_cnt = 0
        self._off16 = 0
        self._z_when = -_NEVER    # sec the offset was last learnt
        self.offset = 0           # 0.1 uL/h, subtracted from every reading
        # -- start-up: has delivery been seen?
        self._seen = 0
        self._expect = 0
        # -- 60-minute judgement (partial under-, moderate over-delivery)
        self._hm = _zeros(60)     # mean corrected flow per minute, 0.01 uL/h (_UNSET: too few)
        self._hp = _zeros(60)     # programmed mean per minute
        self._hi = 0
        self._hfill = 0
        self._under = 0
        self._over60 = 0
        self._partial_since = _UNSET
        self._plong = 0
        self.hour_mean = 0
        # -- level stuck
        self._st_lv = _zeros(_NST)  # level at the last quarter-window ends
        self._st_qv = _zeros(_NST - 1)  # measured volume per quarter, 0.01 uL
        self._st_n = 0
        self._st_vol = 0
        self._lstuck = 0
        # -- a dump: flow at full scale, a level falling fast (issue 22)
        top = 0
        for v in cfg.sched_rate:
            top = v if v > top else top
        self._lf_thr = top // 200 + _LF_NOISE  # uL in 60 s: 3 x the top rate + noise
        self._hi_since = _UNSET   # first full-scale reading of the run now
        self._hi_last = _UNSET
        self._hi_lv = 0           # tracked level when the run began, uL
        self._hi_ref = 0          # 1 when _hi_lv holds a level
        self._hi_verdict = 0      # 0 judging, 1 over-delivery, 2 flow sensor fault
        self._hi_n = 0            # full-scale readings in the run
        self._bhi = 0             # full-scale readings in the bucket
        self._lf = _zeros(_LF_N)  # mean raw level per 10-s bucket, uL
        self._lf_sum = 0
        self._lf_n = 0
        self._lf_i = 0
        self._lf_fill = 0
        self._lfall = 0           # the level fell fast over the last 60 s
        self._lfall_since = 0
        self._dump = 0            # over-delivery detail of a dump, 0: none
        # -- brief air flags
        self._air_m = _zeros(_AIR_MIN)  # air-flagged readings per minute
        self._air_i = 0
        self._air_t = 0           # ... over the last _AIR_MIN minutes
        self._air_last = _UNSET
        self._bair = 0            # in the bucket
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
            # not ticked for longer than a sensor may be silent (a hang, or rows
            # missing from a trace): that silence was a fault even if this
            # tick brings readings again
            self._flow_ok = sec - cfg.flow_fault_s
            self._flow_why = A.D_SILENT
            if not cond & _B_FLOW:
                cond |= _B_FLOW
                self.detail[A.FLOW_SENSOR] = A.D_SILENT
            if dt >= 1000 * cfg.level_fault_s and not cond & _B_LEVEL:
                cond |= _B_LEVEL
                self.detail[A.LEVEL_SENSOR] = A.D_SILENT
            self.conditions = cond
            return

        if refill != self._refill:
            self._refill = refill
            if refill:
                self._refill_since = sec
            else:                 # refill over: new baseline for level checks
                self._lref = 0
                self._mfill = 0
                self._cl_sum = 0
                self._cl_cnt = 0
                self._st_n = 0

        # -- flow sensor
        r = self.rnow
        if flow is not None:
            if flags & _AIR:
                self._flow_why = A.D_AIR
                self._air_last = sec
                self._bair += 1
                if self._air_t < _CAP:
                    self._air_t += 1
                    self._air_m[self._air_i] += 1
            elif (flags & _HIGH or flow >= cfg.flow_max) and not refill:
                # at or beyond full scale: a dump, or a broken sensor
                self._flow_why = A.D_OUT_OF_RANGE
                self._hi_last = sec
                self._bhi += 1
                if self._hi_since == _UNSET:
                    self._hi_since = sec
                    self._hi_lv = self.level_ul
                    self._hi_ref = self._lref
                    self._hi_verdict = 0
                    self._hi_n = 0
                self._hi_n += 1
                if r > 0 and self._hi_n >= 3:
                    # not a stop: as much as the sensor can say flowed (from
                    # the 3rd reading: one or two are a spike, as the median
                    # of 3 drops them from the valid readings)
                    if self._peak:
                        self._gap_done()
                    if self._sk_on or cfg.flow_max > self._thr:
                        self._strokes(cfg.flow_max, r, sec)
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
                    d = (-r if y < -r else y) * _Q2 // r
                    c = self.cusum + _Q - d
                    if c <= 0:
                        if self._peak:
                            self._gap_done()
                    else:
                        self._run_n += 1  # readings since the statistic left 0
                        if c > self._peak:
                            self._peak = c
                            if c >= self.h:
                                c = self._stopped(c, r)
                        self.cusum = c
                    # the missed-stroke test and zero truth between strokes
                    if y > self._thr or self._sk_on:
                        self._strokes(y, r, sec)
                    elif self._sk_n >= 3 and sec - self._sk_end >= _STROKE_TAIL:
                        self._z_sum += m
                        self._z_cnt += 1
                elif sec - self._r0_since >= MINUTE_S:
                    self._z_sum += m      # rate 0 for a minute: the truth is 0
                    self._z_cnt += 1
                if not self.judged & _B_NO_FLOW:
                    self._starting(y, r, sec)
        hs = self._hi_since
        if hs != _UNSET:
            hs = self._high_run(sec)
        elif sec > self._sk_due and not self._sk_on and r > 0:
            self._why |= _W_MISSED  # a stroke did not come (or did not deliver)
        if self._why:
            if not cond & _B_NO_FLOW:
                cond |= _B_NO_FLOW
                self.detail[A.NO_FLOW] = 0 if self._why & _W_MEAN else A.D_SEQUENTIAL
                self.judged |= _B_NO_FLOW
        else:
            cond &= ~_B_NO_FLOW
        if hs != _UNSET:
            if self._hi_verdict == 2 and not cond & _B_FLOW:
                cond |= _B_FLOW   # full scale, and the level says no dump
                self.detail[A.FLOW_SENSOR] = A.D_OUT_OF_RANGE
            # (else a run of full-scale readings is being judged)
        elif sec - self._flow_ok >= cfg.flow_fault_s and not (
                self._flow_why == A.D_AIR and sec - self._air_last <= 2
                and self._air_t <= _AIR_BRIEF_S):   # (a bubble passing)
            if not cond & _B_FLOW:
                cond |= _B_FLOW
                self.detail[A.FLOW_SENSOR] = self._flow_why
        elif self.rate > 0 and sec - self._stuck_since >= cfg.flow_stuck_s:
            if not cond & _B_FLOW:
                cond |= _B_FLOW
                self.detail[A.FLOW_SENSOR] = A.D_STUCK
        elif self._fsparse:
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
                    if hs != _UNSET and self._hi_verdict == 0:
                        self._steady(level_ul, sec)
                if refill or not self._lref or self._dump or (
                        self._lfall and cond & _B_OVER):
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
        elif self._lsparse or self._lstuck:
            if not cond & _B_LEVEL:
                cond |= _B_LEVEL
                self.detail[A.LEVEL_SENSOR] = self._lsparse or A.D_STUCK
        else:
            cond &= ~_B_LEVEL
        # -- a dump: over-delivery when the two sensors agree, or the level
        # falls fast while the flow sensor cannot say otherwise
        if hs != _UNSET or self._lfall or self._dump:
            cond = self._dump_cond(cond, hs, sec, refill)
        if refill:
            cond &= ~_B_MISMATCH
            if sec - self._refill_since >= cfg.refill_timeout_s:
                cond |= _B_REFILL
        elif cond & _B_REFILL:
            cond &= ~_B_REFILL
        self.conditions = cond

    def _dump_cond(self, cond, hs, sec, refill):
        """Over-delivery from a dump: the two sensors agree, or the level
        falls fast while the flow sensor cannot say otherwise."""
        dump = 0
        if self._hi_verdict == 1 and hs != _UNSET:
            dump = A.D_OUT_OF_RANGE
        elif self._lfall and not refill and sec - self._lfall_since >= _DUMP_S and (
                hs != _UNSET or cond & _B_FLOW
                or sec - self._flow_ok >= self.cfg.flow_fault_s):
            dump = A.D_FALLING
        if dump != self._dump:
            self._dump = dump
            if dump and not cond & _B_OVER:
                cond |= _B_OVER
                self.detail[A.OVER_DELIVERY] = dump
            elif not dump and not (self._over10 or self._over60):
                cond &= ~_B_OVER
        return cond

    def _high_run(self, sec):
        """A run of full-scale flow readings: over when none came for
        _HI_GAP s; over-delivery when the level fell fast by the time it
        lasted _DUMP_S (60 readings), a flow sensor fault when it lasted that
        long without (or the level showed it steady before: _steady)."""
        if sec - self._hi_last > _HI_GAP or self._refill:
            if self._hi_verdict == 0 and not self._refill and self._hi_n >= 3:
                # a short run (a stroke beyond full scale: under 60 readings,
                # so the sums stay small) ended in readings: the means count
                # it at full scale, the least it delivered (a judged run was
                # judged: a dump, or the sensor's fault)
                n = self._hi_n
                v = n * self.cfg.flow_max
                self._bsum += v
                self._bcnt += n
                self._cf_sum += v
                self._cf_cnt += n
            self._hi_since = _UNSET
            self._hi_verdict = 0
            self._sk_good = sec   # the missed-stroke test starts again
            self._stroke_due()
            return _UNSET
        if self._hi_verdict == 0 and sec - self._hi_since >= _DUMP_S - 1:
            self._hi_verdict = 1 if self._lfall else 2
        return self._hi_since

    def _steady(self, level_ul, sec):
        """A level reading during a run of full-scale flow readings: once
        the flow at full scale must have moved _STEADY_UL, a level that fell
        less than half of that says the flow sensor is wrong."""
        if not self._hi_ref:
            return
        moved = self.cfg.flow_max * (sec - self._hi_since) // 36000
        if moved >= _STEADY_UL and (self._hi_lv - level_ul) * 2 < moved:
            self._hi_verdict = 2

    def _level_fall(self):
        """Each 10 s: the mean raw level of the bucket; the level falls fast
        when it fell more than _lf_thr over the last 60 s, and at least half
        of that over the 60 s a bucket before (one glitch is not a fall)."""
        if self._refill:
            self._lf_fill = 0
            self._lfall = 0
            self._lf_sum = 0
            self._lf_n = 0
            return
        i = self._lf_i
        lf = self._lf
        if self._lf_n:
            lf[i] = self._lf_sum // self._lf_n
        elif self._lf_fill:
            lf[i] = lf[(i + _LF_N - 1) % _LF_N]   # no reading: hold the last
        else:
            return
        self._lf_sum = 0
        self._lf_n = 0
        i = (i + 1) % _LF_N
        self._lf_i = i            # the oldest now
        if self._lf_fill < _LF_N:
            self._lf_fill += 1
            return
        thr = self._lf_thr
        fall = lf[(i + 1) % _LF_N] - lf[(i + _LF_N - 1) % _LF_N]
        before = lf[i] - lf[(i + _LF_N - 2) % _LF_N]
        f = 1 if fall >= thr and before * 2 >= thr else 0
        if f and not self._lfall:
            self._lfall_since = self.sec
        self._lfall = f

    def _air_minute(self):
        """A minute closes: the air counts move on (last _AIR_MIN minutes)."""
        i = (self._air_i + 1) % _AIR_MIN
        self._air_t -= self._air_m[i]
        self._air_m[i] = 0
        self._air_i = i

    def _slow_conditions(self):
        """Conditions of the bucket and minute judgements (not per tick)."""
        cond = self.conditions
        if self._over10 or self._over60 or self._dump:
            if not cond & _B_OVER:
                cond |= _B_OVER
                self.detail[A.OVER_DELIVERY] = (0 if self._over10 else
                                                A.D_HOUR if self._over60 else self._dump)
        else:
            cond &= ~_B_OVER
        if self._under:
            cond |= _B_PARTIAL
            self.detail[A.PARTIAL] = A.D_HOUR
        else:
            cond &= ~_B_PARTIAL
        if self._plong:
            cond |= _B_PARTIAL_LONG
            self.detail[A.PARTIAL_LONG] = A.D_HOUR
        else:
            cond &= ~_B_PARTIAL_LONG
        self.conditions = cond

    # The stop test is a one-sided CUSUM of the deficit against half the
    # programmed rate, in units of _Q per second of full deficit: + _Q a
    # second while stopped, - _Q while delivering as programmed (docs/engine.md).
    def _gap_done(self):
        """The statistic returned to 0: flow came. Learn the gap's size."""
        p = self._peak
        if p < self.h:
            if p > _ENV_CAP:
                p = _ENV_CAP
            k = self._ei
            if p > self._env_at(k):
                self._env[k] = p
                self._env_r[k] = self.rnow
                if p > self._emax:
                    self._emax = p
                    self._emk = k
                    self._set_h()
        self._peak = 0
        self.cusum = 0
        self._why &= ~_W_CUS
        self._run_n = 0

    def _stopped(self, c, r):
        if not self._why & _W_CUS:
            # log what was measured since the deficit began, not the 10-min
            # mean: c = n Q - 2 Q sum(y) / r over the n readings of the run
            n = self._run_n
            self.flow_mean = ((n * _Q - c) // n) * r // _Q2
        self._why |= _W_CUS
        h = self.h
        return c if c <= h + h else h + h

    def _strokes(self, y, r, sec):
        """Pulsatile delivery: a stroke is a reading above _thr; when it ends,
        its volume is judged."""
        if y > self._thr:
            if not self._sk_on:
                self._sk_on = 1
                self._sk_start = sec
                self._sk_sum = 0
                self._sk_peak = 0
                self._z_sum = 0   # this bucket's zero readings may hold the edge
                self._z_cnt = 0
            if self._sk_sum < _CAP:
                self._sk_sum += y
            if y > self._sk_peak:
                self._sk_peak = y
        else:
            self._sk_on = 0
            self._sk_end = sec
            self._stroke_done(r)

    def _stroke_done(self, r):
        if self._sk_peak < self._thr_clear:
            # barely above the threshold: noise could make, split or hide such
            # strokes, so the test is disarmed (the CUSUM still judges them)
            self._sk_n = 0
            self._sk_due = _NEVER
            return
        start = self._sk_start
        n = self._sk_n
        good = 1
        if n:
            dt = start - self._sk_good
            lim = self.stroke_max + (self.stroke_max >> 2)
            if n >= 3 and dt > lim:
                dt = lim      # after a stop: one stroke's volume is enough
            if dt > 3600:
                dt = 3600
            good = self._sk_sum * 10 >= 3 * r * dt   # >= 30 % of its volume
        if not good:
            return
        if n:
            iv = start - self._sk_good
            if iv > 4000:
                iv = 4000
            self._ski[self._sk_i] = iv
            self._sk_i = (self._sk_i + 1) % _NSI
            self._stroke_max()
        self._sk_good = start
        if n < 1000:
            self._sk_n = n + 1
        self._why &= ~_W_MISSED
        self._stroke_due()

    def _stroke_due(self):
        # armed once 4 intervals are known and regular (within 1.5x)
        if self._sk_n > _NSI and self._sk_regular:
            mx = self.stroke_max
            self._sk_due = self._sk_good + mx + (mx >> 2) + 30
        else:
            self._sk_due = _NEVER

    def _stroke_max(self):
        mx = 0
        mn = _NEVER
        k = 0
        while k < _NSI:
            v = self._ski[k]
            if v > mx:
                mx = v
            if v < mn:
                mn = v
            k += 1
        self.stroke_max = mx
        self._sk_regular = mn > 0 and mx * 2 <= mn * 3

    def _starting(self, y, r, sec):
        """Until delivery has been seen (or a stop found), flow is not judged:
        the light shows 'starting'. Seen: at least half the programmed volume
        measured since start, over at least _JUDGE_MIN_S."""
        if self._expect < _CAP:
            self._seen += y
            self._expect += r
        if sec >= _JUDGE_MIN_S and (r <= 0 or self._seen * 2 >= self._expect):
            self.judged |= _B_NO_FLOW

    # ---- rate-dependent parameters (on a rate change, not per tick) -----------
    def _set_rate(self, r):
        old = self.rnow
        self.rnow = r
        if r <= 0:
            if old != 0:
                self._r0_since = self.sec
            self.cusum = 0
            self._peak = 0
            self._why &= ~_W_CUS
            self._run_n = 0
            self._why &= ~_W_MISSED
            return
        if old == 0:
            # delivery resumes: the first stroke may be up to stroke_max_s away
            self._prior_until = self.sec + 2 * self.cfg.stroke_max_s
            self._prior_on = 1
            self._sk_good = self.sec
            self._stroke_due()
        sig = _SIG0 + r * _SIG_PCT // 100
        hn = (_H_C * _Q * sig // r) * sig // r
        self._hn = hn if hn > _H_MIN * _Q else _H_MIN * _Q
        self._sq = _H_SQ * 2 * _Q * sig // r
        self._thr = 2 * r + 6 * _SIG0 + self.cfg.zero_offset
        # a clear stroke peaks 4 sigma (of a reading at _thr) above _thr
        self._thr_clear = self._thr + 4 * (_SIG0 + self._thr * _SIG_PCT // 100)
        if 0 < r < old:
            # slower: intervals between fixed-volume strokes may grow by
            # old / r, but never past the longest a pump may leave (nor what
            # was seen): bounded, and the same after any number of steps
            f = old * 64 // r
            if f > _STRETCH:
                f = _STRETCH
            cap = self.cfg.stroke_max_s
            k = 0
            while k < _NSI:
                v = self._ski[k]
                w = v * f >> 6
                top = v if v > cap else cap
                self._ski[k] = w if w < top else top
                k += 1
            self._stroke_max()
            self._stroke_due()
        if r != old:
            self._emax_scan()     # the envelope at the new rate
        self._set_h()

    def _env_at(self, k):
        """Envelope slot k at the programmed rate now: the gap as learnt, and
        where it was learnt at a higher rate, stretched by the ratio (fixed-
        volume strokes come less often at a lower rate), at most 16x and never
        past stroke_max_s (the longest gap a pump may leave) unless it was
        learnt longer. Computed from the learnt value every time, never
        compounded: after any number of schedule steps it means the same."""
        v = self._env[k]
        r0 = self._env_r[k]
        r = self.rnow
        if v and r0 > r > 0:
            f = r0 * 64 // r
            if f > _STRETCH:
                f = _STRETCH
            top = self.cfg.stroke_max_s * _Q
            if top < v:
                top = v
            v = v * f >> 6        # <= _ENV_CAP x 16: a small int
            if v > top:
                v = top
        return v

    def _emax_scan(self):
        mx = 0
        mk = 0
        k = 0
        while k < _NE:
            v = self._env_at(k)
            if v > mx:
                mx = v
                mk = k
            k += 1
        self._emax = mx
        self._emk = mk

    def _set_h(self):
        """Threshold: the largest normal gap learnt (or, after start, the
        longest gap a pump may leave), a quarter more, plus noise terms."""
        e = self._emax
        if self.sec < self._prior_until:
            p = self.cfg.stroke_max_s * _Q
            if p > e:
                e = p
        self.h = e + (e >> 2) + self._hn + self._sq * _isqrt(e // _Q)

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
            self._mfill = 0
        while n > 0:
            self._close_bucket()
            n -= 1

    def _close_bucket(self):
        i = self._fi
        self._fsum_t += self._bsum - self._fsum[i]
        self._fcnt_t += self._bcnt - self._fcnt[i]
        self._fsum[i] = self._bsum
        self._fcnt[i] = self._bcnt
        # programmed rate over this bucket: the rate in force at its start
        rate = self.rate
        self._fprog_t += rate - self._fprog[i]
        self._fprog[i] = rate
        self._cp_sum += rate
        i += 1
        if i == self._nb:
            i = 0
        self._fi = i
        self._sparse_flow()
        self._sparse_level()
        self._level_fall()
        if self._z_cnt:
            self._fold_zero()
        if self._prior_on and self.sec >= self._prior_until:
            self._prior_on = 0
            self._set_h()         # the start-up prior ends
        self._bsum = 0
        self._bcnt = 0
        self._bucket += 1
        self._ffill += 1
        cfg = self.cfg
        if self.sec >= cfg.flow_fault_s and self.sec >= cfg.flow_stuck_s:
            self.judged |= _B_FLOW
        if self.sec >= cfg.level_fault_s:
            self.judged |= _B_LEVEL
        self.rate = self.cfg.rate_at(
            (self.tod_s - (self.sec - self._bucket * BUCKET_S)) % 86400)
        self._judge_flow()
        self._judge_level()
        if self._bucket % (MINUTE_S // BUCKET_S) == 0:
            self._close_minute()
            self._air_minute()
        self._slow_conditions()

    def _sparse_flow(self):
        """Fewer than 75 % valid flow readings over the last minute: the flow
        cannot be judged (the 10-min mean would hold): that is an alarm."""
        k = self._si
        n = self._bcnt + self._bhi   # a full-scale reading is judged (a dump)
        if self._air_t <= _AIR_BRIEF_S:
            n += self._bair          # so is a bubble passing
        self._bhi = 0
        self._bair = 0
        self._sv_t += n - self._sv[k]
        self._sv[k] = n
        self._si = (k + 1) % _SPARSE_B
        if self._ffill + 1 >= _SPARSE_B:
            self._fsparse = 1 if self._sv_t < _SPARSE_MIN else 0

    def _sparse_level(self):
        """More bad level readings than good over the last two minutes (at
        least 3 bad): the level cannot be judged. Detail: the readings' fault
        when none was good, else 'sparse'."""
        k = self._li
        self._lg_t += self._lbg - self._lgood[k]
        self._lb_t += self._lbb - self._lbad[k]
        self._lgood[k] = self._lbg
        self._lbad[k] = self._lbb
        self._li = (k + 1) % _LSPARSE_B
        self._lbg = 0
        self._lbb = 0
        b = self._lb_t
        if b >= 3 and b >= self._lg_t:
            self._lsparse = A.D_SPARSE if self._lg_t else self._level_why
        else:
            self._lsparse = 0

    def _fold_zero(self):
        """Fold this bucket's zero-truth readings into the offset estimate."""
        if self._z_cnt >= 5:
            self._z_when = self.sec
            mean = self._z_sum // self._z_cnt
            self._off16 += (mean * 16 - self._off16) // 8
            o = self._off16 // 16
            lim = self.cfg.zero_offset
            if o > lim:
                o = lim
            elif o < -lim:
                o = -lim
            self.offset = o
        self._z_sum = 0
        self._z_cnt = 0

    def _close_minute(self):
        i = self._mi
        self._mlsum[i] = self._cl_sum
        self._mlcnt[i] = self._cl_cnt
        if self._cf_cnt >= MINUTE_S // 2:
            v = self._cf_sum // (self._cf_cnt * 6)
            mean = self._cf_sum * 10 // self._cf_cnt     # 0.01 uL/h
        else:
            v = _UNSET
            mean = _UNSET
        self._mvol[i] = v
        i += 1
        if i == self._nm:
            i = 0
        self._mi = i
        self._cl_sum = 0
        self._cl_cnt = 0
        self._cf_sum = 0
        self._cf_cnt = 0
        self._mfill += 1
        self._judge_mismatch()
        # 60-minute judgement
        k = self._hi
        self._hm[k] = mean
        self._hp[k] = self._cp_sum // (MINUTE_S // BUCKET_S)
        self._cp_sum = 0
        self._hi = (k + 1) % 60
        self._hfill += 1
        self._judge_hour()
        self._level_stuck(v)
        self._minute += 1
        if self._minute % _SLOT_MIN == 0:   # envelope: a new 5-min slot
            # no gap completed in the slot (flow never returned: a stop, or
            # nothing since start): keep what was learnt, never forget it then
            k = self._emk
            if self._env[self._ei] == 0 and self._emax:
                cv = self._env[k]
                cr = self._env_r[k]
            else:
                cv = 0
                cr = 0
            self._ei = (self._ei + 1) % _NE
            self._env[self._ei] = cv  # the slot as learnt, with its rate
            self._env_r[self._ei] = cr
            self._emax_scan()
            self._set_h()

    # ---- judgements (every bucket / minute, not every tick) ----------------
    def _judge_flow(self):
        cfg = self.cfg
        nb = self._nb
        if self._ffill < nb or self._fcnt_t * 4 < nb * BUCKET_S * 3:
            # window not full yet, or too few readings: hold (too few is an
            # alarm of its own: sparse). Log what there is so far.
            if self._ffill < nb and self._fcnt_t:
                self.flow_mean = self._fsum_t // self._fcnt_t
                self.prog_mean = self.rate
            return
        self.judged |= _B_NO_FLOW | _B_OVER
        meas = self._fsum_t // self._fcnt_t
        prog = self._fprog_t // nb
        m100 = meas * 100
        # a stroke pump may also be a stroke behind across a step up (the
        # bolus's first stroke still to come): the same allowance, downwards
        ext = self._stroke_ahead(self._fprog, nb, prog, nb * BUCKET_S)
        pu = prog - ext
        if prog > 0 and m100 < pu * cfg.no_flow_pct:
            self._why |= _W_MEAN
        elif prog <= 0 or m100 >= pu * (cfg.no_flow_pct + 10):
            self._why &= ~_W_MEAN
        po = prog + ext
        if m100 > po * cfg.over_pct + cfg.over_margin * 100:
            self._over10 = 1
        elif m100 <= po * (cfg.over_pct - 20) + cfg.over_margin * 50:
            self._over10 = 0
        self.flow_mean = meas
        self.prog_mean = prog

    def _stroke_ahead(self, rates, n, prog, window_s):
        """A stroke pump may deliver one stroke more than a window's share,
        and across a schedule step that stroke is at the window's highest
        rate (a bolus's first or last stroke): the programmed mean (0.1 uL/h)
        it may add beyond the mean prog. 0 for a continuous pump, or at a
        constant rate (the over-delivery factor covers a stroke at it)."""
        sm = self.stroke_max
        if not self._sched or not sm:
            return 0
        top = 0
        k = 0
        while k < n:
            if rates[k] > top:
                top = rates[k]
            k += 1
        if top <= prog:
            return 0
        if sm > window_s:
            sm = window_s
        return (top - prog) * sm // window_s

    def _judge_hour(self):
        """Partial under-delivery (< partial_fraction, medium, escalating
        after partial_escalate_min) and moderate over-delivery (>
        over_hour_factor x + margin, high) over the last 60 minutes."""
        if self._hfill < 60:
            return
        hm = self._hm
        hp = self._hp
        n = 0
        ms = 0
        ps = 0
        k = 0
        while k < 60:
            v = hm[k]
            if v != _UNSET:
                ms += v
                ps += hp[k]
                n += 1
            k += 1
        if n < 45:
            return                # too few minutes: the sparse alarm is on
        cfg = self.cfg
        self.judged |= _B_PARTIAL | _B_PARTIAL_LONG
        meas = ms // n            # 0.01 uL/h
        prog = ps // n            # 0.1 uL/h
        self.hour_mean = meas // 10
        m100 = meas * 10          # measured / programmed x 100, both x prog
        if prog > 0 and m100 < prog * cfg.partial_pct:
            self._under = 1
        elif prog <= 0 or m100 >= prog * (cfg.partial_pct + 10):
            self._under = 0
        # the margin covers the zero offset; where it was learnt in the last
        # hour (pulsatile delivery, rate 0) only half of it
        mg = cfg.over_hour_margin
        if self.sec - self._z_when < 3600:
            mg >>= 1
        po = prog + self._stroke_ahead(hp, 60, prog, 3600)
        if m100 > po * cfg.over_hour_pct + mg * 10:       # mg: 0.01 uL/h
            self._over60 = 1
        elif m100 <= po * (cfg.over_hour_pct - 10) + mg * 5:
            self._over60 = 0
        if self._under:
            if self._partial_since == _UNSET:
                self._partial_since = self.sec
            elif self.sec - self._partial_since >= cfg.partial_escalate_s:
                self._plong = 1
        else:
            self._partial_since = _UNSET
            self._plong = 0

    def _level_stuck(self, vol):
        """A level that does not fall while the flow sensor measures
        level_stuck_ml delivered: the level sensor is stuck (a fall of less
        than a quarter of the measured volume). Judged over the last four
        quarter-windows, so it is found within level_stuck_ml of delivery
        after the reading froze."""
        if self._refill or not self._lref:
            self._st_n = 0
            self._st_vol = 0
            self._lstuck = 0
            return
        if self._st_n == 0:
            self._st_lv[0] = self.level_ul
            self._st_n = 1
            self._st_vol = 0
            return
        if vol != _UNSET and vol > 0:
            self._st_vol += vol
        if self._st_vol * 4 < self.cfg.level_stuck_ul * 100:
            return
        # a quarter window ends: append to the rings (5 levels, 4 volumes),
        # shifting out the oldest once full
        n = self._st_n
        if n == _NST:
            k = 0
            while k < _NST - 1:
                self._st_lv[k] = self._st_lv[k + 1]
                if k < _NST - 2:
                    self._st_qv[k] = self._st_qv[k + 1]
                k += 1
            n = _NST - 1
        self._st_lv[n] = self.level_ul
        self._st_qv[n - 1] = self._st_vol
        self._st_n = n + 1
        self._st_vol = 0
        if self._st_n < _NST:
            return
        total = 0
        k = 0
        while k < _NST - 1:
            total += self._st_qv[k]
            k += 1
        drop = self._st_lv[0] - self._st_lv[_NST - 1]
        self._lstuck = 1 if drop * 400 < total else 0

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

    def _judge_mismatch(self):
        nm = self._nm
        if self._dump or self._hi_since != _UNSET:
            self._mfill = 0       # a dump: level and flow start again after it
            return
        if self._mfill < nm or self._refill:
            return
        if self.conditions & (_B_LEVEL | _B_FLOW):
            return
        mlsum = self._mlsum
        mlcnt = self._mlcnt
        mvol = self._mvol
        i = self._mi              # oldest minute
        old_s = old_c = new_s = new_c = vol = 0
        k = 0
        while k < nm:
            if k < _ENDS:
                old_s += mlsum[i]
                old_c += mlcnt[i]
            elif k >= nm - _ENDS:
                new_s += mlsum[i]
                new_c += mlcnt[i]
            # volume between the centres of the two end averages
            if _ENDS // 2 < k <= nm - _ENDS // 2 - 1:
                v = mvol[i]
                if v == _UNSET:
                    return
                vol += v
            i += 1
            if i == nm:
                i = 0
            k += 1
        if old_c == 0 or new_c == 0:
            return
        self.judged |= _B_MISMATCH
        excess = old_s // old_c - new_s // new_c - vol // 100
        thr = self.cfg.mismatch_ul
        cond = self.conditions
        if excess > thr or excess < -thr:
            if not cond & _B_MISMATCH:
                cond |= _B_MISMATCH
                self.detail[A.MISMATCH] = A.D_FALLING if excess > 0 else A.D_RISING
        elif -thr // 2 < excess < thr // 2:
            cond &= ~_B_MISMATCH
        self.conditions = cond
        self.excess_ul = excess
