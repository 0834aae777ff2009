# The low reservoir (issue 17): how long the drug left lasts, and the three
# low_reservoir conditions judged from it. Pure integer logic, called by the
# engine at each level judgement (every 10 s); docs/engine.md gives the
# reasons and the numbers.
#
# - Time to empty integrates the programmed schedule forward from the time
#   of day now (a day program with a high daytime rate empties the reservoir
#   sooner during the day than level / mean rate says). Minute steps: the
#   schedule changes on whole minutes, so the sum is exact.
# - volume and days_to_empty (medium) at low_reservoir_ml / _days; refill_today
#   (high) only when the time to empty is at most refill_today_days (at most
#   1 day): "1 mL left" at a low rate is weeks of drug, the medium volume alarm
#   with its hourly reminder (docs/alarm-policy.md). refill_today_ml no longer
#   raises anything (kept so configuration files that set it still load).
# - A low_reservoir condition ends only when the level really rose: at least
#   RISE_UL above its lowest point outside refill mode, seen on RISE_CONFIRM
#   judgements in a row (in refill mode the level follows the raw reading),
#   and clear of its threshold by the hysteresis. Toggling refill mode, a
#   change of rate or a noisy reading ends nothing.
from pumpmon import alarms as A

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

DAY_MIN = const(1440)
CAP_DAYS = const(999)         # "999 days or more": keeps minutes a small int
UNKNOWN = const(-1)           # not judged yet, or nothing programmed (never empties)
RISE_UL = const(1000)         # a refill raises the level by far more than 1 mL
RISE_CONFIRM = const(3)       # judgements (10 s apart) the rise must hold
HYST_UL = const(300)          # volume thresholds clear 0.3 mL above

_VOL = 1 << A.LOW_VOLUME
_DAYS = 1 << A.LOW_DAYS
_TODAY = 1 << A.REFILL_TODAY
MASK = _VOL | _DAYS | _TODAY


def minutes_to_empty(level_ul, tod_min, starts, rates, daily):
    """Whole minutes (rounded down) until the programmed schedule, run forward
    from minute tod_min of the day, has delivered level_ul; UNKNOWN when
    nothing is programmed. starts: entry starts, minutes of the day, sorted;
    rates: 0.1 uL/h; daily: sum of rate x minutes over a day. Volumes are
    counted in rate x minutes = 1/600 uL (level_ul x 600 < 2**30 up to 1.7 L)."""
    if level_ul <= 0:
        return 0
    if daily <= 0:
        return UNKNOWN
    need = level_ul * 600
    # whole days first, leaving 0 < need <= daily for the walk (it must find
    # the first moment the sum reaches the level: a zero-rate period at the
    # end of the day does not postpone it)
    days = (need - 1) // daily
    if days >= CAP_DAYS:
        return CAP_DAYS * DAY_MIN
    need -= days * daily
    mins = days * DAY_MIN
    n = len(starts)
    i = n - 1                 # the entry in force at tod_min
    while i > 0 and starts[i] > tod_min:
        i -= 1
    if starts[i] > tod_min:   # before the first entry: the last one runs on
        i = n - 1
    t = tod_min
    while True:               # at most a day of entries: need <= daily
        j = i + 1
        if j == n:
            j = 0
        seg = (starts[j] - t) % DAY_MIN
        if seg == 0:          # a single entry: a whole day
            seg = DAY_MIN
        r = rates[i]
        v = r * seg
        if v >= need:
            return mins + need // r
        need -= v
        mins += seg
        t = starts[j]
        i = j


class Reservoir:
    def __init__(self, cfg):
        starts = tuple(s // 60 for s in cfg.sched_start)
        rates = tuple(cfg.sched_rate)
        daily = 0
        n = len(starts)
        for i in range(n):
            seg = (starts[(i + 1) % n] - starts[i]) % DAY_MIN
            daily += rates[i] * (seg or DAY_MIN)
        self._starts = starts
        self._rates = rates
        self._daily = daily           # 1/600 uL per day
        self._low_ul = cfg.low_ul
        self._low_min = cfg.low_days_x10 * 144          # days x10 -> minutes
        self._today_min = cfg.refill_today_days_x10 * 144
        self.minutes = UNKNOWN        # time to empty at the last judgement
        self.low_mark = 0             # lowest level while a condition is on
        self._rose = 0                # judgements in a row with a real rise

    def judge(self, level_ul, tod_s, refill, cond):
        """The condition mask with the low_reservoir bits judged at level_ul."""
        m = minutes_to_empty(level_ul, tod_s // 60, self._starts, self._rates, self._daily)
        self.minutes = m
        on = cond & MASK
        if on and not refill and level_ul < self.low_mark:
            self.low_mark = level_ul
        want = 0
        gone = 0                      # clear of the threshold by the hysteresis
        if level_ul <= self._low_ul:
            want |= _VOL
        elif level_ul > self._low_ul + HYST_UL:
            gone |= _VOL
        if m != UNKNOWN and m <= self._low_min:
            want |= _DAYS
        elif m == UNKNOWN or m * 10 >= self._low_min * 11:
            gone |= _DAYS
        if m != UNKNOWN and m <= self._today_min:
            want |= _TODAY
        elif m == UNKNOWN or m * 10 >= self._today_min * 11:
            gone |= _TODAY
        if on & gone:
            if level_ul - self.low_mark >= RISE_UL:
                self._rose += 1
                if self._rose >= RISE_CONFIRM:
                    cond &= ~(on & gone)
            else:
                self._rose = 0
        if want and not on:
            self.low_mark = level_ul  # the first condition: the mark starts here
        cond |= want
        if not cond & MASK:
            self._rose = 0
        return cond
