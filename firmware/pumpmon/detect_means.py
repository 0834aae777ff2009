# The flow judged by its means (docs/engine.md): the 10-minute mean (the
# backstop for a stop, and over-delivery), the 60-minute mean (partial
# under-delivery, escalating; moderate over-delivery) and start-up (has
# delivery been seen yet?).
#
# Not here: the sums of the readings of the 10-s bucket and of the minute
# (one addition a reading, in FlowReadings.reading, detect_flow.py, and its
# copy in Engine.tick); the
# engine hands them over when a bucket or a minute closes (close()), and
# judge() runs then, never per reading. Startup.step runs per reading only
# until delivery was seen. Integers only, rings preallocated: nothing
# allocated after __init__.
from array import array

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

UNSET = const(-1000000)      # a minute with too few readings
                             # (engine.py's _UNSET: tests/host/test_engine_constants.py)
_CAP = const(100000000)      # cap on accumulated sums (small ints)
_JUDGE_MIN_S = const(30)     # start-up: least time before flow counts as seen


def stroke_ahead(rates, n, prog, window_s, sm):
    """A stroke pump may deliver one stroke more than a window's share, and
    across a schedule step that stroke is at the window's highest rate (a
    bolus's first or last stroke): the programmed mean (0.1 uL/h) it may add
    beyond the mean prog. sm: the longest interval between strokes, 0 for a
    continuous pump or a constant rate (the over-delivery factor covers a
    stroke at it)."""
    if not sm:
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


class FlowMean:
    """The mean over the flow window (flow_window_s, nb buckets of 10 s)
    against what was programmed over the same buckets."""

    def __init__(self, cfg, nb):
        self.nb = nb              # the window: nb buckets of 10 s (Engine._advance too)
        self._sum = array("i", [0] * nb)   # sum of filtered readings per bucket
        self._cnt = array("i", [0] * nb)   # readings per bucket
        self.prog_r = array("i", [0] * nb)  # programmed rate per bucket
        self._i = 0               # ring position of the oldest bucket
        self._sum_t = 0
        self._cnt_t = 0
        self._prog_t = 0
        self.fill = 0             # buckets completed since start
        self._no_flow_pct = cfg.no_flow_pct
        self._over_pct = cfg.over_pct
        self._over_margin = cfg.over_margin
        self.low = 0              # below no_flow_pct of programmed: a stop
        self.over = 0             # above the over-delivery limit
        self.meas = 0             # measured mean, 0.1 uL/h (after judge())
        self.prog = 0             # programmed mean over the same buckets

    def close(self, bsum, bcnt, rate):
        """A bucket closed: its sum, count and the rate at its start."""
        i = self._i
        self._sum_t += bsum - self._sum[i]
        self._cnt_t += bcnt - self._cnt[i]
        self._sum[i] = bsum
        self._cnt[i] = bcnt
        self._prog_t += rate - self.prog_r[i]
        self.prog_r[i] = rate
        i += 1
        if i == self.nb:
            i = 0
        self._i = i
        self.fill += 1

    def judge(self, rate, sm):
        """0: nothing to say; 1: filling (meas, prog: what there is so far);
        2: judged (low, over, meas, prog). sm: stroke_ahead's."""
        nb = self.nb
        if self.fill < nb or self._cnt_t * 4 < nb * 30:   # (3/4 of a reading a second)
            # window not full yet, or too few readings: hold (too few is an
            # alarm of its own: sparse). Log what there is so far.
            if self.fill < nb and self._cnt_t:
                self.meas = self._sum_t // self._cnt_t
                self.prog = rate
                return 1
            return 0
        meas = self._sum_t // self._cnt_t
        prog = self._prog_t // nb
        m100 = meas * 100
        # a stroke pump may also be a stroke behind across a step up (the
        # bolus's first stroke still to come): the same allowance, downwards
        ext = stroke_ahead(self.prog_r, nb, prog, nb * 10, sm) if sm else 0
        pu = prog - ext
        if prog > 0 and m100 < pu * self._no_flow_pct:
            self.low = 1
        elif prog <= 0 or m100 >= pu * (self._no_flow_pct + 10):
            self.low = 0
        po = prog + ext
        if m100 > po * self._over_pct + self._over_margin * 100:
            self.over = 1
        elif m100 <= po * (self._over_pct - 20) + self._over_margin * 50:
            self.over = 0
        self.meas = meas
        self.prog = prog
        return 2


class HourMean:
    """Partial under-delivery (< partial_fraction, medium, escalating after
    partial_escalate_min) and moderate over-delivery (> over_hour_factor x +
    margin, high) over the last 60 minutes, a mean a minute."""

    def __init__(self, cfg):
        self._hm = array("i", [0] * 60)  # mean corrected flow per minute, 0.01 uL/h (UNSET: too few)
        self._hp = array("i", [0] * 60)  # programmed mean per minute
        self.prog_sum = 0         # the minute: programmed rate over its buckets
                                  # (added by bucket(), or inline: closing.py)
        self.minutes = 0          # minutes closed (closing.close_minute: the stop test's slots)
        self._i = 0
        self.fill = 0
        # the valid minutes' sums over the ring, kept as each minute closes
        # (the judgement a minute without a 60-step loop; the same integers)
        self._ms = 0              # sum of the valid means
        self._ps = 0              # ... of their programmed means
        self._n = 60              # valid minutes (the ring's zeros count until overwritten)
        self._partial_pct = cfg.partial_pct
        self._over_pct = cfg.over_hour_pct
        self._margin = cfg.over_hour_margin
        self._escalate_s = cfg.partial_escalate_s
        self.under = 0
        self.over = 0
        self._since = UNSET
        self.long = 0             # under for partial_escalate_s
        self.hour_mean = 0        # 0.1 uL/h

    def bucket(self, rate):
        """A bucket of the minute closed, at the programmed rate."""
        self.prog_sum += rate

    def close(self, mean):
        """A minute closed: its mean (0.01 uL/h, UNSET)."""
        k = self._i
        hm = self._hm
        hp = self._hp
        v = hm[k]
        if v != UNSET:            # the minute leaving the ring
            self._ms -= v
            self._ps -= hp[k]
            self._n -= 1
        p = self.prog_sum // 6    # its buckets' mean (6 a minute)
        hm[k] = mean
        hp[k] = p
        if mean != UNSET:
            self._ms += mean
            self._ps += p
            self._n += 1
        self.prog_sum = 0
        self._i = (k + 1) % 60
        self.fill += 1

    def judge(self, sec, zero_when, sm):
        """1 when judged (under, over, long). zero_when: sec the zero offset
        was last learnt; sm: stroke_ahead's."""
        if self.fill < 60:
            return 0
        n = self._n
        if n < 45:
            return 0              # too few minutes: the sparse alarm is on
        meas = self._ms // n      # 0.01 uL/h
        prog = self._ps // n      # 0.1 uL/h
        self.hour_mean = meas // 10
        m100 = meas * 10          # measured / programmed x 100, both x prog
        if prog > 0 and m100 < prog * self._partial_pct:
            self.under = 1
        elif prog <= 0 or m100 >= prog * (self._partial_pct + 10):
            self.under = 0
        # the margin covers the zero offset; where it was learnt in the last
        # hour (pulsatile delivery, rate 0) only half of it
        mg = self._margin
        if sec - zero_when < 3600:
            mg >>= 1
        po = prog + stroke_ahead(self._hp, 60, prog, 3600, sm) if sm else prog
        if m100 > po * self._over_pct + mg * 10:       # mg: 0.01 uL/h
            self.over = 1
        elif m100 <= po * (self._over_pct - 10) + mg * 5:
            self.over = 0
        if self.under:
            if self._since == UNSET:
                self._since = sec
            elif sec - self._since >= self._escalate_s:
                self.long = 1
        else:
            self._since = UNSET
            self.long = 0
        return 1


class Startup:
    """Until delivery has been seen (or a stop found), flow is not judged:
    the light shows 'starting'. Seen: at least half the programmed volume
    measured since start, over at least _JUDGE_MIN_S."""

    def __init__(self):
        self._seen = 0
        self._expect = 0

    def step(self, y, r, sec):
        """A reading y at the programmed rate r: 1 once delivery was seen."""
        if self._expect < _CAP:
            self._seen += y
            self._expect += r
        return 1 if sec >= _JUDGE_MIN_S and (r <= 0 or self._seen * 2 >= self._expect) else 0
