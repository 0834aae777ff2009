# The engine's bucket and minute turns (Engine._advance calls close_bucket
# once a 10-s bucket): the bucket's and the minute's sums handed to the
# detectors judged per bucket or per minute, and their verdicts into the
# engine's condition mask (the slow conditions: empty, low reservoir, over,
# partial). Not per tick; a module of their own so that
# Engine.tick can keep its per-reading lines inline within the size rule
# (engine.py's header). They read and write the engine's fields: the engine
# is their one caller.
from pumpmon import alarms as A
from pumpmon import reservoir
from pumpmon.detect_sparse import AIR_BRIEF_S
from pumpmon.detect_stop import SLOT_MIN

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

BUCKET_S = const(10)         # engine.BUCKET_S
MINUTE_S = const(60)         # engine.MINUTE_S
_UNSET = const(-1000000)     # detect_means/detect_level/detect_dump.UNSET
# condition bits (tests/host/test_engine_constants.py pins them to alarms.py)
_B_NO_FLOW = const(1 << 0)
_B_EMPTY = const(1 << 1)
_B_OVER = const(1 << 2)
_B_FLOW = const(1 << 3)
_B_LEVEL = const(1 << 4)
_B_MISMATCH = const(1 << 5)
_B_PARTIAL = const(1 << 10)       # alarms.PARTIAL
_B_PARTIAL_LONG = const(1 << 11)  # alarms.PARTIAL_LONG


def close_bucket(e):
    """A 10-s bucket closes (Engine._advance): its sums to the detectors
    judged per bucket, the bucket and minute judgements, the slow conditions.
    The level's judgement (empty, low reservoir) and the slow conditions run
    inline here, not as functions of their own: each call costs a heap frame
    a bucket on MicroPython (docs/engine.md, "Tick time")."""
    sec = e.sec
    rate = e.rate             # the rate in force at the bucket's start
    fr = e.flow
    fm = e.mean10
    fm.close(fr.bsum, fr.bcnt, rate)
    hm = e.mean60
    hm.prog_sum += rate       # (HourMean.bucket, inline)
    n = fr.bcnt + fr.bhi      # a full-scale reading is judged (a dump)
    if fr.air.t <= AIR_BRIEF_S:
        n += fr.bair          # so is a bubble passing
    e.sparse_flow.close(n, fm.fill)
    lt = e.level
    e.sparse_level.close(lt.good, lt.bad, lt.why)
    dp = e.dump
    dp.level_fall(lt.raw_sum, lt.raw_n, e._refill, sec)
    lt.good = lt.bad = lt.raw_sum = lt.raw_n = 0
    fr.bucket_closed(sec)
    e._bucket += 1
    cfg = e.cfg
    if sec >= cfg.flow_fault_s and sec >= cfg.flow_stuck_s:
        e.judged |= _B_FLOW
    if sec >= cfg.level_fault_s:
        e.judged |= _B_LEVEL
    sched = e._sched
    if sched:                 # (one rate all day: it never changes)
        e.rate = cfg.rate_at((e.tod_s - (sec - e._bucket * BUCKET_S)) % 86400)
    # (the longest interval between strokes: a stroke ahead across a step)
    k = fm.judge(e.rate, fr.strokes.stroke_max if sched else 0)
    if k:
        if k == 2:
            e.judged |= _B_NO_FLOW | _B_OVER
            fr.starting = 0
        e.flow_mean = fm.meas     # (the programmed mean: fm.prog itself)
    # the empty and low-reservoir conditions, from the tracked level
    cond = e.conditions
    if lt.ref and not cond & _B_LEVEL:   # (else no level yet, or not trusted: hold)
        e.judged |= _B_EMPTY | reservoir.MASK
        lvl = lt.ul
        if lvl <= cfg.empty_ul and not e._refill:
            cond |= _B_EMPTY
        elif lvl > cfg.empty_ul + 200:
            cond &= ~_B_EMPTY
        # volume, days to empty (schedule-aware), refill today: reservoir.py
        cond = e.reservoir.judge(lvl, e.tod_s, e._refill, cond)
    if e._bucket % (MINUTE_S // BUCKET_S) == 0:
        e.conditions = cond
        close_minute(e)
        cond = e.conditions
    # the slow conditions: those of the bucket and minute judgements
    over10 = fm.over
    dump = dp.dump
    if over10 or hm.over or dump:
        if not cond & _B_OVER:
            cond |= _B_OVER
            e.detail[A.OVER_DELIVERY] = (0 if over10 else
                                         A.D_HOUR if hm.over else dump)
    else:
        cond &= ~_B_OVER
    cond &= ~(_B_PARTIAL | _B_PARTIAL_LONG)
    if hm.under:
        cond |= _B_PARTIAL
        e.detail[A.PARTIAL] = A.D_HOUR
    if hm.long:
        cond |= _B_PARTIAL_LONG
        e.detail[A.PARTIAL_LONG] = A.D_HOUR
    e.conditions = cond
    # the verdicts the tick reads, copied (one attribute each, not two)
    e.low = fm.low
    e.fsparse = A.D_SPARSE if e.sparse_flow.on else 0
    e.lslow = e.sparse_level.why or (A.D_STUCK if e.stuck.on else 0)


def close_minute(e):
    """A minute closes: the mismatch, the 60-min means, the stuck level, the
    stop test's envelope slot."""
    fr = e.flow
    v = fr.minute_closed()    # volume, 0.01 uL (_UNSET: too few readings)
    mm = e.mismatch
    lt = e.level
    mm.close(lt.min_sum, lt.min_n, v)
    lt.min_sum = lt.min_n = 0
    cond = e.conditions
    if e.dump.dump or e.dump.since != _UNSET:
        mm.fill = 0           # a dump: level and flow start again after it
    elif not e._refill and not cond & (_B_LEVEL | _B_FLOW):
        w = mm.judge(cond & _B_MISMATCH)    # -1: cannot judge
        if w >= 0:
            e.judged |= _B_MISMATCH
            if not w:
                cond &= ~_B_MISMATCH
            elif not cond & _B_MISMATCH:
                cond |= _B_MISMATCH
                e.detail[A.MISMATCH] = w
            e.conditions = cond
    hm = e.mean60
    hm.close(fr.minute_mean)
    if hm.judge(e.sec, fr.zero.when, fr.strokes.stroke_max if e._sched else 0):
        e.judged |= _B_PARTIAL | _B_PARTIAL_LONG
    e.stuck.judge(v, lt.ul, not e._refill and lt.ref)
    hm.minutes += 1
    if hm.minutes % SLOT_MIN == 0:  # a new envelope slot of the stop test
        fr.stop.new_slot(e.sec)
