# The REFERENCE detector of the benchmark (not firmware): the alarm engine as
# it was before issue 11 (commit ba582b9, firmware/pumpmon/engine.py), a
# 10-minute mean with a 75 %-valid hold rule, kept verbatim so that `make
# bench` measures today's engine and the previous one side by side in the
# same run (host_tools/bench/detection.py). Runs on CPython and MicroPython.
#
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
from array import array

from pumpmon import alarms as A
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
_UNSET = const(-1000000)

# condition bits, as ints for the hot path
_B_NO_FLOW = const(1 << 0)
_B_EMPTY = const(1 << 1)
_B_OVER = const(1 << 2)
_B_FLOW = const(1 << 3)
_B_LEVEL = const(1 << 4)
_B_MISMATCH = const(1 << 5)
_B_LOW_VOL = const(1 << 7)
_B_LOW_DAYS = const(1 << 8)


def _zeros(n):
    return array("i", [0] * n)


class Engine:
    def __init__(self, cfg, now_ms, tod_s=None):
        self.cfg = cfg
        self.conditions = 0       # bit mask of active conditions
        self.judged = 0           # conditions the engine has judged since start
        self.detail = bytearray(A.N_CONDITIONS)  # why each became active
        self.internal = 0         # set by the shell: 1 raises INTERNAL
        self._last = now_ms
        self._ms = 0
        self.sec = 0              # seconds since start (small int for years)
        self.tod_s = cfg.start_s if tod_s is None else tod_s
        self.rate = cfg.rate_at(self.tod_s)   # programmed now, 0.1 uL/h

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
        # last judgements, for the log and the display
        self.flow_mean = 0        # measured mean over the flow window, 0.1 uL/h
        self.prog_mean = 0        # programmed mean over the same window
        self.excess_ul = 0        # level drop not explained by flow, uL

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
                self._advance(s)
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
            if not refill:        # refill over: new baseline for level checks
                self._lref = 0
                self._mfill = 0
                self._cl_sum = 0
                self._cl_cnt = 0

        # -- flow sensor
        if flow is not None:
            if flags & _AIR:
                self._flow_why = A.D_AIR
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
                self._bsum += m
                self._bcnt += 1
                self._cf_sum += m
                self._cf_cnt += 1
        if sec - self._flow_ok >= cfg.flow_fault_s:
            if not cond & _B_FLOW:
                cond |= _B_FLOW
                self.detail[A.FLOW_SENSOR] = self._flow_why
        elif self.rate > 0 and sec - self._stuck_since >= cfg.flow_stuck_s:
            if not cond & _B_FLOW:
                cond |= _B_FLOW
                self.detail[A.FLOW_SENSOR] = A.D_STUCK
        else:
            cond &= ~_B_FLOW

        # -- level sensor
        if level_ul is not None:
            if level_ul < cfg.level_min_ul or level_ul > cfg.level_max_ul:
                self._level_why = A.D_OUT_OF_RANGE
            else:
                acc = self._lacc
                ok = 1
                if refill or not self._lref:
                    acc = level_ul << 4
                else:
                    d = level_ul - (acc >> 4)
                    if d >= cfg.level_jump_ul or d <= -cfg.level_jump_ul:
                        ok = 0
                        self._level_why = A.D_JUMP
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
        if sec - self._level_ok >= cfg.level_fault_s:
            if not cond & _B_LEVEL:
                cond |= _B_LEVEL
                self.detail[A.LEVEL_SENSOR] = self._level_why
        else:
            cond &= ~_B_LEVEL
        if refill:
            cond &= ~_B_MISMATCH
        self.conditions = cond

    # ---- time keeping -----------------------------------------------------
    def _advance(self, s):
        """Move the clock on by s seconds, closing the buckets it passes."""
        sec = self.sec + s
        self.sec = sec
        tod = self.tod_s + s
        if tod >= 86400:
            tod %= 86400
        self.tod_s = tod
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
        i += 1
        if i == self._nb:
            i = 0
        self._fi = i
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

    def _close_minute(self):
        i = self._mi
        self._mlsum[i] = self._cl_sum
        self._mlcnt[i] = self._cl_cnt
        if self._cf_cnt >= MINUTE_S // 2:
            self._mvol[i] = self._cf_sum // (self._cf_cnt * 6)
        else:
            self._mvol[i] = _UNSET
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

    # ---- judgements (every bucket / minute, not every tick) ----------------
    def _judge_flow(self):
        cfg = self.cfg
        nb = self._nb
        if self._ffill < nb or self._fcnt_t * 4 < nb * BUCKET_S * 3:
            return  # window not full yet, or too few readings: hold
        self.judged |= _B_NO_FLOW | _B_OVER
        cond = self.conditions
        meas = self._fsum_t // self._fcnt_t
        prog = self._fprog_t // nb
        m100 = meas * 100
        if prog > 0 and m100 < prog * cfg.no_flow_pct:
            cond |= _B_NO_FLOW
        elif prog <= 0 or m100 >= prog * (cfg.no_flow_pct + 10):
            cond &= ~_B_NO_FLOW
        if m100 > prog * cfg.over_pct + cfg.over_margin * 100:
            cond |= _B_OVER
        elif m100 <= prog * (cfg.over_pct - 20) + cfg.over_margin * 50:
            cond &= ~_B_OVER
        self.conditions = cond
        self.flow_mean = meas
        self.prog_mean = prog

    def _judge_level(self):
        cfg = self.cfg
        if not self._lref:
            return
        lvl = self.level_ul
        if self.conditions & _B_LEVEL:
            return  # hold: the level reading is not trusted
        self.judged |= _B_EMPTY | _B_LOW_VOL | _B_LOW_DAYS
        cond = self.conditions
        if lvl <= cfg.empty_ul and not self._refill:
            cond |= _B_EMPTY
        elif lvl > cfg.empty_ul + 200:
            cond &= ~_B_EMPTY
        if lvl <= cfg.low_ul:
            cond |= _B_LOW_VOL
        elif lvl > cfg.low_ul + 300:
            cond &= ~_B_LOW_VOL
        daily = cfg.daily_ul
        if daily > 0 and lvl * 10 < cfg.low_days_x10 * daily:
            cond |= _B_LOW_DAYS
        elif daily <= 0 or lvl * 100 >= cfg.low_days_x10 * daily * 11:
            cond &= ~_B_LOW_DAYS
        self.conditions = cond

    def _judge_mismatch(self):
        nm = self._nm
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
