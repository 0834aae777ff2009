# The stop test (docs/engine.md, "The stop test"): a one-sided CUSUM of the
# flow's deficit against half the programmed rate, in units of Q per second of
# full deficit (+ Q a second while stopped, - Q while delivering as
# programmed), and its threshold h, which learns the longest normal gap
# between strokes (pulsatile pumps) so that a gap is not a stop.
#
# Inline in FlowReadings.reading (detect_flow.py; for a plain valid reading
# its copy in Engine.tick), not here: the per-reading
# update of the statistic (five lines of integer arithmetic on `cusum`,
# `peak`, `run_n`, once a second: a method call would cost as much as the
# update itself on MicroPython).
# Its rare turns are the methods below: gap_done (the statistic returned to
# 0: learn the gap), stopped (it reached h). The rest runs per bucket, per
# 5-minute slot or on a change of the programmed rate. Integers only, the
# envelope preallocated: nothing is allocated after __init__.
from array import array

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

Q = const(256)               # CUSUM unit: 1 s of full expected deficit = Q
                             # (engine.py's _Q: tests/host/test_engine_constants.py)
SIG0 = const(10)             # flow noise at zero flow, 0.1 uL/h (1.0 uL/h)
SIG_PCT = const(3)           # plus 3 % of the flow
_H_C = const(150)            # noise term: _H_C sigma^2 / rate^2 seconds
_H_MIN = const(5)            # ... at least 5 s
_H_SQ = const(6)             # gap noise: 6 sigma of the deficit over a gap
NE = const(6)                # envelope slots
SLOT_MIN = const(5)          # minutes per envelope slot (6 x 5 = 30 min)
_ENV_CAP = const(921600)     # a learnt gap is at most an hour (3600 s x Q)
STRETCH = const(1024)        # ... and stretched at most 16x (x 64)


def isqrt(n):
    """Integer square root (no float, no allocation for small n)."""
    x = n
    y = (x + 1) >> 1
    while y < x:
        x = y
        y = (x + n // x) >> 1
    return x


class StopTest:
    def __init__(self, cfg):
        self._max_s = cfg.stroke_max_s  # the longest gap a pump may leave
        self.cusum = 0            # deficit statistic, Q per second of deficit
        self.peak = 0             # its peak since it last returned to 0
        self.run_n = 0            # readings since the statistic left 0
        self.on = 0               # 1: stopped (the statistic reached h)
        self.h = 0                # alarm threshold
        self._hn = 0              # its noise terms, at the programmed rate
        self._sq = 0
        self._r = -1              # programmed rate now, 0.1 uL/h
        self.env = array("i", [0] * NE)    # largest completed peak per slot, as learnt
        self.env_r = array("i", [0] * NE)  # ... and the programmed rate it was learnt at
        self._ei = 0
        self.emax = 0             # the largest slot, at the programmed rate now
        self._emk = 0             # ... which slot
        self.prior_until = 2 * cfg.stroke_max_s  # until then: a gap may be stroke_max_s
        self.prior_on = 1

    def run_mean(self, c, r):
        """What was measured since the deficit began (0.1 uL/h): c = n Q - 2 Q
        sum(y) / r over the n readings of the run."""
        n = self.run_n
        return ((n * Q - c) // n) * r // (2 * Q)

    def stopped(self, c):
        """The statistic reached h: stopped. The statistic, capped at 2 h."""
        self.on = 1
        h = self.h
        return c if c <= h + h else h + h

    def gap_done(self, sec):
        """The statistic returned to 0: flow came. Learn the gap's size."""
        p = self.peak
        if p < self.h:
            if p > _ENV_CAP:
                p = _ENV_CAP
            k = self._ei
            if p > self.env_at(k):
                self.env[k] = p
                self.env_r[k] = self._r
                if p > self.emax:
                    self.emax = p
                    self._emk = k
                    self.set_h(sec)
        self.peak = 0
        self.cusum = 0
        self.on = 0
        self.run_n = 0

    def env_at(self, k):
        """Envelope slot k at the programmed rate now: the gap as learnt, and
        where it was learnt at a higher rate, stretched by the ratio (fixed-
        volume strokes come less often at a lower rate), at most 16x and never
        past stroke_max_s (the longest gap a pump may leave) unless it was
        learnt longer. Computed from the learnt value every time, never
        compounded: after any number of schedule steps it means the same."""
        v = self.env[k]
        r0 = self.env_r[k]
        r = self._r
        if v and r0 > r > 0:
            f = r0 * 64 // r
            if f > STRETCH:
                f = STRETCH
            top = self._max_s * Q
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
        while k < NE:
            v = self.env_at(k)
            if v > mx:
                mx = v
                mk = k
            k += 1
        self.emax = mx
        self._emk = mk

    def set_h(self, sec):
        """Threshold: the largest normal gap learnt (or, after start, the
        longest gap a pump may leave), a quarter more, plus noise terms."""
        e = self.emax
        if sec < self.prior_until:
            p = self._max_s * Q
            if p > e:
                e = p
        self.h = e + (e >> 2) + self._hn + self._sq * isqrt(e // Q)

    def bucket(self, sec):
        """Each 10 s: the start-up prior ends on time."""
        if self.prior_on and sec >= self.prior_until:
            self.prior_on = 0
            self.set_h(sec)

    def new_slot(self, sec):
        """Each SLOT_MIN minutes: a new envelope slot. No gap completed in the
        one ending (flow never returned: a stop, or nothing since start): keep
        what was learnt, never forget it then."""
        k = self._emk
        ei = self._ei
        if self.env[ei] == 0 and self.emax:
            cv = self.env[k]
            cr = self.env_r[k]
        else:
            cv = 0
            cr = 0
        ei = (ei + 1) % NE
        self._ei = ei
        self.env[ei] = cv         # the slot as learnt, with its rate
        self.env_r[ei] = cr
        self._emax_scan()
        self.set_h(sec)

    def set_rate(self, r, old, sec):
        """The programmed rate changed from old to r (0.1 uL/h)."""
        self._r = r
        if r <= 0:
            self.cusum = 0
            self.peak = 0
            self.on = 0
            self.run_n = 0
            return
        if old == 0:
            # delivery resumes: the first stroke may be up to stroke_max_s away
            self.prior_until = sec + 2 * self._max_s
            self.prior_on = 1
        sig = SIG0 + r * SIG_PCT // 100
        hn = (_H_C * Q * sig // r) * sig // r
        self._hn = hn if hn > _H_MIN * Q else _H_MIN * Q
        self._sq = _H_SQ * 2 * Q * sig // r
        if r != old:
            self._emax_scan()     # the envelope at the new rate
        self.set_h(sec)
